// import_raster (tessera/io.h): any RasterSource into one frame of an image, in batches that
// each commit with the import's progress, so that an interrupted import resumes.
//
// Over the public API only (Container, WriteTxn, Snapshot), like the tools.
#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "io/blocks.h"
#include "io/side_thread.h"
#include "tessera/io.h"

namespace tessera {
namespace {

using io_detail::BlockBuffer;
using io_detail::for_each_block;
using io_detail::mul_saturated;
using io_detail::SideThread;

// Why an existing image cannot take this import, or OK.
Status check_existing_image(const ImageInfo& info, const RasterSource& source,
                            const ImportOptions& options) {
  const std::string image = "image '" + info.name + "'";
  const RasterShape shape = source.shape();
  if (info.spec.type != shape.type || info.spec.bands != shape.bands)
    return Status(Code::kInvalidArgument,
                  source.name() + ": " + image + " holds " + std::to_string(info.spec.bands) +
                      " bands of " + std::string(data_type_name(info.spec.type)) +
                      " but the source has " + std::to_string(shape.bands) + " bands of " +
                      std::string(data_type_name(shape.type)));
  if (options.codec && *options.codec != info.spec.codec)
    return Status(Code::kInvalidArgument,
                  source.name() + ": " + image + " stores chunks with codec " +
                      codec_spec_name(info.spec.codec) + "; an import cannot change it to " +
                      codec_spec_name(*options.codec));
  if (options.storage && *options.storage != info.spec.storage)
    return Status(Code::kInvalidArgument,
                  source.name() + ": " + image + " stores its tiles " +
                      std::string(storage_layout_name(info.spec.storage)) + "; an import cannot change it to " +
                      std::string(storage_layout_name(*options.storage)));
  if (options.filter && *options.filter != info.spec.filter)
    return Status(Code::kInvalidArgument,
                  source.name() + ": " + image + " stores chunks with filter " +
                      std::string(filter_name(info.spec.filter)) + "; an import cannot change it to " +
                      std::string(filter_name(*options.filter)));
  return Status::ok();
}

ImageSpec new_image_spec(const RasterShape& shape, const ImportOptions& options) {
  ImageSpec spec;
  spec.type = shape.type;
  spec.bands = shape.bands;
  spec.tile_size = options.tile_size;
  spec.fill = {0.0};
  if (options.codec) spec.codec = *options.codec;
  if (options.filter) spec.filter = *options.filter;
  if (options.storage) spec.storage = *options.storage;
  return spec;
}

// Streams one import: blocks are collected into batches of about batch_bytes raw bytes and
// each batch is one Container::write (reading its blocks from the source again if it is
// retried).
class Importer {
 public:
  Importer(Container& container, RasterSource& source, const ImportOptions& options,
           std::string image, Region area, uint32_t tile_size)
      : container_(container), source_(source), options_(options), image_(std::move(image)),
        area_(area), tile_size_(tile_size), shape_(source.shape()),
        sample_bytes_(sample_size(shape_.type)),
        pixel_bytes_(uint64_t(shape_.bands) * sample_bytes_),
        interleave_(source.preferred_interleave()) {}

  // The fixed order of blocks the import writes: how many there are.
  uint64_t block_count() const {
    uint64_t n = 0;
    (void)for_each_block(area_, tile_size_, pixel_bytes_, [&](const Region&) {
      ++n;
      return Status::ok();
    });
    return n;
  }

  // Imports every block after the first `skip` (committed by an interrupted run) in batches,
  // recording the progress with each.
  Result<ImportResult> run(ImportProgress progress, uint64_t skip) {
    progress_ = std::move(progress);
    progress_.blocks_done = progress_.bytes_done = 0;
    uint64_t index = 0;
    std::vector<Batch> batches(1);
    TESSERA_RETURN_IF_ERROR(for_each_block(area_, tile_size_, pixel_bytes_, [&](const Region& b) {
      const uint64_t bytes = b.pixel_count() * pixel_bytes_;
      if (index++ < skip) {
        ++progress_.blocks_done, progress_.bytes_done += bytes;
        return Status::ok();
      }
      if (batches.back().bytes >= std::max<uint64_t>(options_.batch_bytes, 1)) batches.emplace_back();
      batches.back().blocks.push_back(b);
      batches.back().bytes += bytes;
      return Status::ok();
    }));
    // Nothing left: a resumed import that had committed every block writes nothing; one of an
    // empty raster still records itself.
    if (batches.back().blocks.empty() && skip != 0) return ImportResult{progress_, skip, false};
    for (size_t k = 0; k < batches.size(); ++k) {
      const Status flushed = flush(batches, k);
      if (!flushed.is_ok()) {
        (void)preparer_.wait();  // it reads `batches`
        return flushed;
      }
    }
    return ImportResult{progress_, skip, false};
  }

 private:
  struct Batch {
    std::vector<Region> blocks;
    uint64_t bytes = 0;
  };

  // Commits batch k. Its first blocks were encoded while batch k - 1 committed (prepared_[k %
  // 2]); the rest are read and encoded in its transaction, and once they are there the next
  // batch's first blocks are encoded on the side thread until this commit returns.
  Status flush(const std::vector<Batch>& batches, size_t k) {
    const Batch& batch = batches[k];
    ImportProgress next = progress_;
    next.blocks_done += batch.blocks.size();
    next.bytes_done += batch.bytes;
    const bool first = progress_.blocks_done == 0;
    const Status written = container_.write([&](WriteTxn& txn) {
      // The source is read by one thread at a time: a retried transaction waits for the
      // encoding started by the attempt before (which then runs to the batch's end).
      TESSERA_RETURN_IF_ERROR(preparer_.wait());
      PreparedWrite& prepared = prepared_[k % 2];
      const size_t done = std::exchange(prepared_blocks_[k % 2], 0);
      if (done > 0)
        TESSERA_RETURN_IF_ERROR(
            txn.write(image_, Selection{options_.frame, 0, {}}, prepared).with_context(source_.name()));
      TESSERA_RETURN_IF_ERROR(write_batch(txn, std::span(batch.blocks).subspan(done)));
      if (first) TESSERA_RETURN_IF_ERROR(set_attributes(txn));
      TESSERA_RETURN_IF_ERROR(txn.record_import(image_, next));
      if (k + 1 < batches.size()) {
        auto info = txn.image(image_);
        if (!info) return info.status();
        committed_ = false;
        preparer_.start([this, &batches, k, info = *info] { return prepare(info, batches[k + 1].blocks, (k + 1) % 2); });
      }
      return Status::ok();
    });
    committed_ = true;
    TESSERA_RETURN_IF_ERROR(written);
    progress_ = next;
    if (options_.progress) options_.progress(progress_.bytes_done, progress_.bytes_total);
    return Status::ok();
  }

  // Reads blocks of `blocks` from the source and encodes their tiles into prepared_[slot],
  // outside any transaction, until the commit under way returns (the rest are written in the
  // next transaction as usual): the commit's disk time is spent encoding, and no more memory
  // is held than that time fills.
  Status prepare(const ImageInfo& info, const std::vector<Region>& blocks, size_t slot) {
    PreparedWrite& out = prepared_[slot];
    out.clear();
    prepared_blocks_[slot] = 0;
    for (const Region& block : blocks) {
      if (committed_) break;
      TESSERA_RETURN_IF_ERROR(read_block(block, prepare_buffer_));
      TESSERA_RETURN_IF_ERROR(container_
                                  .prepare_write(info, block, prepare_buffer_.data(),
                                                 block.pixel_count() * pixel_bytes_, strides_of(block), out)
                                  .with_context(source_.name()));
      ++prepared_blocks_[slot];
    }
    return Status::ok();
  }

  // Reads `block` (in the image's coordinates) from the source into `buffer`.
  Status read_block(const Region& block, BlockBuffer& buffer) {
    // The block in the source's own coordinates.
    const Region raw{block.x - area_.x, block.y - area_.y, block.width, block.height};
    const uint64_t size = block.pixel_count() * pixel_bytes_;
    TESSERA_RETURN_IF_ERROR(buffer.reserve(size, source_.name()));
    return source_.read(raw, buffer.data(), size, strides_of(block));
  }

  // The blocks of a batch written in the transaction: block i + 1 is read from the source on a
  // side thread while block i is written (compressed), in two buffers.
  Status write_batch(WriteTxn& txn, std::span<const Region> blocks) {
    TESSERA_RETURN_IF_ERROR(ensure_image(txn));
    SideThread reader;  // declared after what its reads use: it finishes before they go
    if (!blocks.empty()) TESSERA_RETURN_IF_ERROR(read_block(blocks[0], buffers_[0]));
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i + 1 < blocks.size())
        reader.start([this, &blocks, i] { return read_block(blocks[i + 1], buffers_[(i + 1) % 2]); });
      const Region& block = blocks[i];
      const uint64_t size = block.pixel_count() * pixel_bytes_;
      TESSERA_RETURN_IF_ERROR(txn.write(image_, block, Selection{options_.frame, 0, {}},
                                        buffers_[i % 2].data(), size, strides_of(block))
                                  .with_context(source_.name()));
      TESSERA_RETURN_IF_ERROR(reader.wait());
    }
    return Status::ok();
  }

  Strides strides_of(const Region& block) const {
    return Strides::packed(interleave_, block.width, block.height, shape_.bands, sample_bytes_);
  }

  // What the source says about its pixels, kept with the image (or the frame); and the region
  // the raster covers, declared as the frame's extent (with what the frame covered already).
  Status set_attributes(WriteTxn& txn) {
    std::optional<uint32_t> frame;
    if (options_.frame_attributes) frame = options_.frame;
    for (const Attribute& a : source_.attributes())
      TESSERA_RETURN_IF_ERROR(
          txn.set_attribute(image_, a.name, a.value, frame).with_context(source_.name()));
    auto declared = txn.extent(image_, options_.frame);
    if (!declared) return declared.status();
    const Region extent = *declared ? (*declared)->unite(area_) : area_;
    return txn.set_attribute(image_, kExtentAttribute, extent_value(extent), options_.frame);
  }

  // The image exists in this transaction with the right type (created on the first batch).
  Status ensure_image(WriteTxn& txn) {
    auto info = txn.image(image_);
    if (info) {
      TESSERA_RETURN_IF_ERROR(check_existing_image(*info, source_, options_));
      // The frame, as every write checks it (it exists, or is the next one).
      Selection frame;
      frame.frame = options_.frame;
      auto request = txn.check(image_, area_, frame, Access::kWrite);
      return request ? Status::ok() : request.status().with_context(source_.name());
    }
    if (info.status().code() != Code::kNotFound) return info.status();
    if (options_.frame != 0)
      return Status(Code::kNotFound, source_.name() + ": image '" + image_ +
                                         "' does not exist yet: only frame 0 can be imported");
    return txn.create_image(image_, new_image_spec(shape_, options_)).with_context(source_.name());
  }

  Container& container_;
  RasterSource& source_;
  const ImportOptions& options_;
  const std::string image_;
  const Region area_;
  const uint32_t tile_size_;
  const RasterShape shape_;
  const size_t sample_bytes_;
  const uint64_t pixel_bytes_;
  const Interleave interleave_;
  ImportProgress progress_;
  BlockBuffer buffers_[2], prepare_buffer_;
  PreparedWrite prepared_[2];
  size_t prepared_blocks_[2] = {0, 0};  // the first blocks of a batch prepared_ holds
  std::atomic<bool> committed_{true};  // the commit the side thread encodes beside returned
  // Encodes the next batch (declared after what it uses: it finishes before they go).
  SideThread preparer_;
};

}  // namespace

Result<ImportResult> import_raster(Container& container, RasterSource& source,
                                   const ImportOptions& options) {
  const std::string& src = source.name();
  const RasterShape shape = source.shape();
  const std::string image = options.image.empty() ? source.image_name() : options.image;

  const Region area{options.origin_x, options.origin_y, shape.width, shape.height};
  if (!area.is_valid())
    return Status(Code::kInvalidArgument,
                  src + ": origin " + std::to_string(options.origin_x) + "," +
                      std::to_string(options.origin_y) + " puts the raster (" +
                      std::to_string(area.width) + "x" + std::to_string(area.height) +
                      ") beyond the coordinate space");

  // What this import is: resuming requires the very same source, placed the same way.
  const SourceIdentity identity = source.identity();
  ImportProgress progress;
  progress.source = identity.path;
  progress.source_size = identity.size;
  progress.source_mtime_ns = identity.mtime_ns;
  progress.description = source.description();
  progress.frame = options.frame;
  progress.origin_x = options.origin_x;
  progress.origin_y = options.origin_y;
  progress.bytes_total =
      mul_saturated(area.pixel_count(), uint64_t(shape.bands) * sample_size(shape.type));

  // Check an existing image (and an earlier run of this import) before writing anything; a
  // new image is created by the first batch.
  uint32_t tile_size = options.tile_size;
  std::optional<ImportProgress> earlier;
  {
    auto snapshot = container.snapshot();
    if (!snapshot) return snapshot.status();
    auto info = snapshot->image(image);
    if (info) {
      TESSERA_RETURN_IF_ERROR(check_existing_image(*info, source, options));
      tile_size = info->spec.tile_size;
      auto imports = snapshot->imports(image);
      if (!imports) return imports.status();
      if (options.new_image_only && !options.resume)
        return Status(Code::kAlreadyExists,
                      src + ": " + container.path() + " has an image '" + image + "' already" +
                          (imports->empty() ? std::string() : " (imported from " + imports->front().source + ")") +
                          ": name it with --image to import into it, or choose another name");
      for (const ImportProgress& p : *imports)
        if (p.frame == options.frame) earlier = p;
    } else if (info.status().code() != Code::kNotFound) {
      return info.status();
    }
  }
  if (tile_size == 0)
    return Status(Code::kInvalidArgument, src + ": tile size 0 is not a power of two");
  Importer importer(container, source, options, image, area, tile_size);
  progress.blocks_total = importer.block_count();
  uint64_t skip = 0;
  if (options.resume && earlier) {
    const std::string where = container.path() + ": image '" + image + "' frame " + std::to_string(options.frame);
    ImportProgress same = progress;
    same.blocks_done = earlier->blocks_done, same.bytes_done = earlier->bytes_done;
    if (same != *earlier)
      return Status(Code::kInvalidArgument,
                    where + ": the import recorded there was of " + earlier->source + " (" + earlier->description +
                        ", " + std::to_string(earlier->source_size) + " bytes, at " +
                        std::to_string(earlier->origin_x) + "," + std::to_string(earlier->origin_y) +
                        "), not of " + progress.source + " (" + progress.description + ", " +
                        std::to_string(progress.source_size) + " bytes, at " + std::to_string(progress.origin_x) +
                        "," + std::to_string(progress.origin_y) +
                        ") as it is now: resume it with that source, or import without resuming");
    if (earlier->finished()) return ImportResult{*earlier, earlier->blocks_done, true};
    skip = earlier->blocks_done;
  }
  return importer.run(progress, skip);
}

}  // namespace tessera
