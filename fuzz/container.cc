// Fuzz target: arbitrary bytes as a whole container, through the public API as a user reaches
// it (spec/FORMAT.md 7.9): written to a file on tmpfs, then opened read-only, every image
// described (frames, stats, bounds, extent, attributes, pyramid, the pool), a region of every
// frame read (at most 256 x 256 pixels of its extent or bounds, at most 8 frames), and the file
// verified, deeply.
//
// What must hold: no crash, hang, leak or read outside a buffer, whatever the bytes; every
// refusal is a Status; and the promise verify makes: when verify finds the file clean, no read
// of it fails with kCorrupt.
//
// Seeds are containers the library writes at build time (make_container_seeds.cc).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_helpers.h"
#include "tessera/tessera.h"

namespace tessera::fuzz {
namespace {

// A path on tmpfs (the input is written and removed once per run), with no lock file: the
// target opens with no_lock, as a copy on read-only storage would be.
std::string input_path() {
  const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/tessera-fuzz-container-" + std::to_string(::getpid()) + ".tsr";
}

// Every question `tessera info` and a read ask; true when one failed with kCorrupt.
bool read_everything(const Container& container) {
  bool corrupt = false;
  const auto note = [&](const Status& s) {
    if (s.is_ok()) return true;
    FUZZ_CHECK(!s.message().empty(), "an error without a message: " + s.to_string());
    corrupt = corrupt || s.code() == Code::kCorrupt;
    return false;
  };
  auto snapshot = container.snapshot();
  if (!note(snapshot.status())) return corrupt;
  auto pool = snapshot->pool_stats();
  note(pool.status());
  for (const ImageInfo& image : snapshot->images()) {
    note(snapshot->attributes(image.name).status());
    note(snapshot->frames(image.name).status());
    for (uint32_t frame = 0; frame < image.frames && frame < 8; ++frame) {
      note(snapshot->stats(image.name, frame).status());
      note(snapshot->pyramid(image.name, frame).status());
      auto bounds = snapshot->bounds(image.name, frame);
      auto extent = snapshot->extent(image.name, frame);
      if (!note(bounds.status()) || !note(extent.status())) continue;
      std::optional<Region> area = *extent ? *extent : *bounds;
      if (!area) continue;
      Region region = *area;
      region.width = std::min<int64_t>(region.width, 256);
      region.height = std::min<int64_t>(region.height, 256);
      std::vector<uint8_t> pixels(region.pixel_count() * image.pixel_bytes());
      note(snapshot->read(image.name, region, Selection{frame, 0, {}}, pixels.data(), pixels.size()));
    }
  }
  return corrupt;
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  static const std::string path = fuzz::input_path();
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    FUZZ_CHECK(f != nullptr, path);
    FUZZ_CHECK(std::fwrite(data, 1, size, f) == size);
    std::fclose(f);
  }
  OpenOptions options;
  options.read_only = true;
  options.no_lock = true;
  options.threads = 1;
  options.map_size = uint64_t(1) << 30;
  auto container = Container::open(path, options);
  bool read_corrupt = false;
  if (container) read_corrupt = fuzz::read_everything(*container);
  else FUZZ_CHECK(!container.status().message().empty());
  VerifyOptions deep;
  deep.deep = true;
  deep.max_faults = 16;
  auto report = verify(path, deep);
  if (report && report->clean() && container)
    FUZZ_CHECK(!read_corrupt, "verify found the file clean, but a read of it failed with kCorrupt");
  ::unlink(path.c_str());
  return 0;
}
