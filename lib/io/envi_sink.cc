// The ENVI RasterSink (tessera/envi.h): raw little-endian samples in OUT and their header in
// OUT.hdr, both written beside their names (".part") and renamed into place at the end, the
// header last. export_envi is export_raster into it.
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "io/blocks.h"
#include "io/envi_format.h"
#include "io/staged_file.h"
#include "tessera/envi.h"

namespace tessera {
namespace {

using io_detail::StagedFile;

class EnviSink final : public RasterSink {
 public:
  explicit EnviSink(std::string out) : out_(std::move(out)) {}

  Status begin(const RasterShape& shape, Interleave interleave,
               const RasterMetadata& /*metadata*/) override {
    shape_ = shape;
    interleave_ = interleave;
    sample_bytes_ = sample_size(shape.type);
    auto data = StagedFile::create(out_);
    if (!data) return data.status();
    data_.emplace(std::move(data).value());
    // Sized up front: a disk too small fails here, before any block is read.
    return data_->file().resize(uint64_t(shape.width) * uint64_t(shape.height) * shape.bands *
                                sample_bytes_);
  }

  Status write(const Region& block, const void* data, size_t size) override {
    const uint64_t expected = block.pixel_count() * shape_.bands * sample_bytes_;
    if (!data_ || size < expected)
      return Status(Code::kInternal, out_ + ": block " + to_string(block) + " of " +
                                         std::to_string(size) + " bytes does not fit the export");
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (const io_detail::Segment& run : io_detail::block_segments(
             interleave_, shape_.width, shape_.height, shape_.bands, sample_bytes_, block))
      TESSERA_RETURN_IF_ERROR(
          data_->file().write_at(bytes + run.buffer_offset, run.size, run.file_offset));
    return Status::ok();
  }

  Status finish() override {
    if (!data_) return Status(Code::kInternal, out_ + ": finish of an export that did not begin");
    TESSERA_RETURN_IF_ERROR(data_->seal());
    EnviHeader header;
    header.samples = shape_.width;
    header.lines = shape_.height;
    header.bands = shape_.bands;
    header.type = shape_.type;
    header.interleave = interleave_;
    auto text = StagedFile::create(out_ + ".hdr");
    if (!text) return text.status();
    header_.emplace(std::move(text).value());
    TESSERA_RETURN_IF_ERROR(io_detail::write_staged_header(*header_, header));
    TESSERA_RETURN_IF_ERROR(data_->commit());
    return header_->commit();
  }

  // Dropping the staged files removes whichever ".part" is still there.
  void abort() override {
    data_.reset();
    header_.reset();
  }

 private:
  const std::string out_;
  RasterShape shape_;
  Interleave interleave_ = Interleave::kBIP;
  size_t sample_bytes_ = 0;
  std::optional<StagedFile> data_, header_;
};

}  // namespace

std::unique_ptr<RasterSink> make_envi_sink(const std::string& out) {
  return std::make_unique<EnviSink>(out);
}

Status export_envi(const Container& container, const std::string& out,
                   const ExportOptions& options) {
  EnviSink sink(out);
  return export_raster(container, sink, options);
}

}  // namespace tessera
