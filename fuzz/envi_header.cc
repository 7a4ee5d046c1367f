// Fuzz target: arbitrary bytes as an ENVI header file (tessera/envi.h, read_envi_header). The
// parser must refuse malformed text with kInvalidArgument and a one-line message that names
// the file, and never crash, hang or read outside the text. A header it accepts must describe
// a raster (positive sizes, a known sample type), keep its other fields as sorted envi.*
// attributes, and survive a round trip: write_envi_header of the parsed header, read back,
// gives the same header, attributes included (byte order aside: Tessera writes little-endian
// headers only; reals compared as the attribute syntax writes them, NaN payloads aside).
//
// read_envi_header takes a path, so each input is written to a file in a private temporary
// directory (on /dev/shm when there is one, so the writes and write_envi_header's fdatasync
// stay in memory). The directory is removed at exit.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_helpers.h"
#include "tessera/envi.h"

namespace tessera::fuzz {
namespace {

class ScratchDir {
 public:
  ScratchDir() {
    std::string base = "/dev/shm";
    if (::access(base.c_str(), W_OK) != 0) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp && *tmp ? tmp : "/tmp";
    }
    std::string pattern = base + "/tessera-fuzz-envi-XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a directory in " + base);
    dir_ = pattern;
    input_ = dir_ + "/input.hdr";
    output_ = dir_ + "/output.hdr";
  }
  ~ScratchDir() {
    ::unlink(input_.c_str());
    ::unlink(output_.c_str());
    ::unlink((output_ + ".part").c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& input() const { return input_; }
  const std::string& output() const { return output_; }

 private:
  std::string dir_, input_, output_;
};

ScratchDir& scratch() {
  static ScratchDir dir;  // destroyed at exit, which libFuzzer reaches through exit()
  return dir;
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, "cannot create " + path);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    FUZZ_CHECK(n > 0, "cannot write " + path);
    done += size_t(n);
  }
  ::close(fd);
}

// The attributes in the attribute syntax: equal text for equal values, every NaN as "nan".
std::string describe(const Attributes& attributes) {
  std::string out;
  for (const Attribute& a : attributes) out += a.name + " = " + format_attribute_value(a.value) + "\n";
  return out;
}

std::string describe(const EnviHeader& h) {
  return std::to_string(h.samples) + "x" + std::to_string(h.lines) + "x" +
         std::to_string(h.bands) + " " + std::string(data_type_name(h.type)) + " " +
         std::string(interleave_name(h.interleave)) + " offset " +
         std::to_string(h.header_offset) + (h.big_endian ? " big-endian" : "");
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  using namespace tessera::fuzz;
  const std::string& path = scratch().input();
  write_file(path, data, size);

  auto header = read_envi_header(path);
  if (!header.is_ok()) {
    FUZZ_CHECK(header.status().code() == Code::kInvalidArgument, header.status().to_string());
    FUZZ_CHECK(header.status().message().starts_with(path + ": "),
               "the message does not name the header: " + header.status().message());
    FUZZ_CHECK(header.status().message().find('\n') == std::string::npos,
               "the message is not one line: " + header.status().message());
    return 0;
  }
  for (size_t i = 0; i < header->attributes.size(); ++i) {
    const std::string& name = header->attributes[i].name;
    FUZZ_CHECK(name.starts_with("envi."), "an attribute outside envi.*: " + name);
    FUZZ_CHECK(i == 0 || header->attributes[i - 1].name < name, "attributes not sorted: " + name);
    FUZZ_CHECK(check_attribute_name(name).is_ok(), "an invalid attribute name: " + name);
  }
  FUZZ_CHECK(header->samples >= 1 && header->lines >= 1 && header->bands >= 1,
             "accepted a header without pixels: " + describe(*header));
  FUZZ_CHECK(sample_size(header->type) != 0, describe(*header));
  const int code = envi_type_to_code(header->type);
  FUZZ_CHECK(envi_code_to_type(code).is_ok(), describe(*header));

  const std::string& out = scratch().output();
  const Status written = write_envi_header(out, *header);
  FUZZ_CHECK(written.is_ok(), written.to_string());
  auto again = read_envi_header(out);
  FUZZ_CHECK(again.is_ok(), "Tessera cannot read the header it wrote for " + describe(*header) +
                                ": " + again.status().to_string());
  EnviHeader expected = *header;
  expected.big_endian = false;
  FUZZ_CHECK(again->samples == expected.samples && again->lines == expected.lines &&
                 again->bands == expected.bands && again->type == expected.type &&
                 again->interleave == expected.interleave &&
                 again->header_offset == expected.header_offset && !again->big_endian,
             describe(*header) + " reads back as " + describe(*again));
  FUZZ_CHECK(describe(again->attributes) == describe(header->attributes),
             "attributes\n" + describe(header->attributes) + "read back as\n" +
                 describe(again->attributes));
  return 0;
}
