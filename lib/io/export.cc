// export_raster (tessera/io.h): a region and bands of one frame, read from one snapshot in
// planned blocks, into any RasterSink.
//
// Over the public API only (Container, Snapshot), like the tools.
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "io/blocks.h"
#include "io/side_thread.h"
#include "tessera/io.h"

namespace tessera {
namespace {

using io_detail::for_each_block;
using io_detail::mul_saturated;
using io_detail::SideThread;

// What an export reads, resolved and checked before the sink begins.
struct ExportPlan {
  std::string image;
  ImageInfo info;
  uint32_t level = 0;
  Region region;                // in the level's coordinates
  std::vector<uint32_t> bands;  // explicit, in output order
  size_t sample_bytes = 0;
  RasterMetadata metadata;
};

// The attributes of the frame, and where the region lies in the grid they describe.
Result<RasterMetadata> export_metadata(const View& view, const ExportPlan& plan, uint32_t frame) {
  RasterMetadata metadata;
  auto attributes = view.frame_attributes(plan.image, frame);
  if (!attributes) return attributes.status();
  metadata.attributes = std::move(attributes).value();
  metadata.bands = plan.bands;
  metadata.image_bands = plan.info.spec.bands;
  // The grid the attributes describe is level 0's: the region's origin there, in its pixels.
  metadata.scale = uint64_t(1) << plan.level;
  if (__builtin_mul_overflow(plan.region.x, int64_t(metadata.scale), &metadata.x) ||
      __builtin_mul_overflow(plan.region.y, int64_t(metadata.scale), &metadata.y))
    return Status(Code::kInvalidArgument, view.path() + ": image '" + plan.image + "': region " +
                                              to_string(plan.region) + " of level " +
                                              std::to_string(plan.level) + " lies outside level 0's coordinates");
  auto imports = view.imports(plan.image);
  if (!imports) return imports.status();
  for (const ImportProgress& p : *imports)
    if (p.frame == frame) metadata.x -= p.origin_x, metadata.y -= p.origin_y;
  return metadata;
}

Result<ExportPlan> plan_export(const View& view, const ExportOptions& options) {
  ExportPlan plan;
  auto info = view.image_or_only(options.image);
  if (!info) return info.status();
  plan.image = info->name;
  plan.info = *info;
  plan.sample_bytes = sample_size(plan.info.spec.type);
  const std::string image = view.path() + ": image '" + plan.image + "'";
  // Frame, bands (and the region, when given) as every read checks them, before any work.
  const Selection sel{options.frame, options.level, options.bands};
  plan.level = options.level;
  auto request = view.check(plan.image, options.region.value_or(Region{0, 0, 1, 1}), sel);
  if (!request) return request.status();
  plan.bands = std::move(request->bands);
  if (options.region) {
    plan.region = *options.region;
  } else {
    auto extent = options.data_bounds ? Result<std::optional<Region>>(std::nullopt)
                                      : view.extent(plan.image, options.frame);
    if (!extent) return extent.status();
    if (!*extent) extent = view.bounds(plan.image, options.frame, Precision::kExact);
    if (!extent) return extent.status();
    if (!*extent)
      return Status(Code::kNotFound, image + " frame " + std::to_string(options.frame) +
                                         " holds no data and declares no extent");
    plan.region = level_region(**extent, options.level);
  }
  // Sinks write files: an output no file offset can address is refused before anything starts.
  const uint64_t bytes = mul_saturated(mul_saturated(plan.region.pixel_count(), plan.bands.size()),
                                       plan.sample_bytes);
  if (bytes > uint64_t(std::numeric_limits<off_t>::max()))
    return Status(Code::kInvalidArgument,
                  image + ": region " + to_string(plan.region) + " is too large to export");
  auto metadata = export_metadata(view, plan, options.frame);
  if (!metadata) return metadata.status();
  plan.metadata = std::move(metadata).value();
  return plan;
}

// Reads the plan block by block from `view` and hands each block to the sink. The sink writes
// block k on a side thread while block k + 1 is read: its kernel copy (or TIFF encoding)
// overlaps the decode, in two buffers.
Status write_blocks(const View& view, const ExportPlan& plan, const ExportOptions& options,
                    RasterSink& sink) {
  const Region& r = plan.region;
  const uint64_t pixel_bytes = plan.bands.size() * plan.sample_bytes;
  const uint64_t total = r.pixel_count() * pixel_bytes;
  io_detail::BlockBuffer buffers[2];
  uint64_t done = 0, writing = 0;
  int current = 0;
  const Selection sel{options.frame, plan.level, plan.bands};
  SideThread writer;  // declared after the buffers: it finishes before they go
  auto written = [&]() -> Status {
    TESSERA_RETURN_IF_ERROR(writer.wait());
    done += writing;
    writing = 0;
    if (done && options.progress) options.progress(done, total);
    return Status::ok();
  };
  TESSERA_RETURN_IF_ERROR(for_each_block(r, plan.info.spec.tile_size, pixel_bytes, [&](const Region& block) {
    const uint64_t size = block.pixel_count() * pixel_bytes;
    TESSERA_RETURN_IF_ERROR(buffers[current].reserve(size, view.path()));
    uint8_t* buffer = buffers[current].data();
    TESSERA_RETURN_IF_ERROR(view.read(plan.image, block, sel, buffer, size, options.interleave));
    TESSERA_RETURN_IF_ERROR(written());
    const Region local{block.x - r.x, block.y - r.y, block.width, block.height};
    writer.start([&sink, local, buffer, size] { return sink.write(local, buffer, size); });
    writing = size;
    current ^= 1;
    return Status::ok();
  }));
  return written();
}

}  // namespace

Status export_raster(const Container& container, RasterSink& sink, const ExportOptions& options) {
  auto snapshot = container.snapshot();
  if (!snapshot) return snapshot.status();
  auto plan = plan_export(*snapshot, options);
  if (!plan) return plan.status();

  const RasterShape shape{plan->region.width, plan->region.height,
                          uint32_t(plan->bands.size()), plan->info.spec.type};
  Status status = sink.begin(shape, options.interleave, plan->metadata);
  if (status) status = write_blocks(*snapshot, *plan, options, sink);
  if (status) status = sink.finish();
  if (!status) sink.abort();
  return status;
}

}  // namespace tessera
