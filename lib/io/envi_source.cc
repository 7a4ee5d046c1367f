// The ENVI RasterSource (tessera/envi.h): a raw file of samples in the interleave and byte
// order its header names, read block by block with pread; the header's other fields are its
// attributes. import_envi is import_raster of it.
#include <sys/stat.h>

#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/blocks.h"
#include "io/samples.h"
#include "io/source_identity.h"
#include "tessera/envi.h"
#include "util/posix_file.h"

namespace tessera {
namespace {

using io_detail::mul_saturated;

// For import records and messages: "ENVI 300x200x3 u8 bip, header offset 0, little-endian".
// Resuming compares it with the record of the earlier run, so it never changes.
std::string describe(const EnviHeader& h) {
  return "ENVI " + std::to_string(h.samples) + "x" + std::to_string(h.lines) + "x" +
         std::to_string(h.bands) + " " + std::string(data_type_name(h.type)) + " " +
         std::string(interleave_name(h.interleave)) + ", header offset " +
         std::to_string(h.header_offset) + (h.big_endian ? ", big-endian" : ", little-endian");
}

class EnviSource final : public RasterSource {
 public:
  EnviSource(std::string path, const EnviHeader& header, detail::File file, SourceIdentity identity)
      : path_(std::move(path)), header_(header), file_(std::move(file)),
        identity_(std::move(identity)), sample_bytes_(sample_size(header.type)) {}

  RasterShape shape() const override {
    return RasterShape{header_.samples, header_.lines, header_.bands, header_.type};
  }
  const std::string& name() const override { return path_; }
  std::string description() const override { return describe(header_); }
  SourceIdentity identity() const override { return identity_; }
  Interleave preferred_interleave() const override { return header_.interleave; }
  Attributes attributes() const override { return header_.attributes; }

  Status read(const Region& block, void* dst, size_t dst_size, const Strides& strides) override {
    TESSERA_RETURN_IF_ERROR(io_detail::check_read(path_, shape(), block, dst_size, strides));
    const Strides packed = Strides::packed(header_.interleave, block.width, block.height,
                                           header_.bands, sample_bytes_);
    const uint64_t size = block.pixel_count() * header_.bands * sample_bytes_;
    // In the file's own layout the runs of the file land straight in the caller's buffer;
    // any other layout goes through a packed copy.
    uint8_t* target = static_cast<uint8_t*>(dst);
    if (!(strides == packed)) {
      if (scratch_.size() < size) scratch_.resize(size);
      target = scratch_.data();
    }
    for (const io_detail::Segment& run :
         io_detail::block_segments(header_.interleave, header_.samples, header_.lines,
                                   header_.bands, sample_bytes_, block))
      TESSERA_RETURN_IF_ERROR(file_.read_at(target + run.buffer_offset, run.size,
                                            header_.header_offset + run.file_offset));
    if (header_.big_endian) io_detail::swap_byte_order(target, size, sample_bytes_);
    if (target != dst)
      io_detail::copy_samples(target, packed, static_cast<uint8_t*>(dst), strides, block.width,
                              block.height, header_.bands, sample_bytes_);
    return Status::ok();
  }

 private:
  const std::string path_;
  const EnviHeader header_;
  const detail::File file_;
  const SourceIdentity identity_;
  const size_t sample_bytes_;
  std::vector<uint8_t> scratch_;
};

}  // namespace

Result<std::unique_ptr<RasterSource>> open_envi_source(const std::string& raw_path) {
  auto header_path = find_envi_header(raw_path);
  if (!header_path) return header_path.status();
  auto header = read_envi_header(*header_path);
  if (!header) return header.status();
  auto file = detail::File::open_for_reading(raw_path);
  if (!file) return file.status();
  auto stat = file->stat();
  if (!stat) return stat.status();
  const struct stat& st = *stat;

  const size_t sample_bytes = sample_size(header->type);
  uint64_t expected = mul_saturated(
      mul_saturated(mul_saturated(uint64_t(header->samples), uint64_t(header->lines)),
                    header->bands),
      sample_bytes);
  if (expected > std::numeric_limits<uint64_t>::max() - header->header_offset)
    expected = std::numeric_limits<uint64_t>::max();
  else
    expected += header->header_offset;
  if (uint64_t(st.st_size) < expected)
    return Status(Code::kInvalidArgument,
                  raw_path + ": file too short for its header '" + *header_path + "': expected " +
                      std::to_string(expected) + " bytes (" + std::to_string(header->samples) +
                      " samples x " + std::to_string(header->lines) + " lines x " +
                      std::to_string(header->bands) + " bands x " + std::to_string(sample_bytes) +
                      " bytes + header offset " + std::to_string(header->header_offset) +
                      "), found " + std::to_string(st.st_size));

  return std::unique_ptr<RasterSource>(std::make_unique<EnviSource>(
      raw_path, *header, std::move(file).value(), io_detail::file_identity(raw_path, st)));
}

Result<ImportResult> import_envi(Container& container, const std::string& src,
                                 const ImportOptions& options) {
  auto source = open_envi_source(src);
  if (!source) return source.status();
  return import_raster(container, **source, options);
}

}  // namespace tessera
