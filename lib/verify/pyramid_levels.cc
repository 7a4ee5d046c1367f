#include "verify/pyramid_levels.h"

#include <cstring>
#include <mutex>

#include "raster/pyramid.h"
#include "raster/region_read.h"
#include "store/pyramid_table.h"

namespace tessera::detail {
namespace {

// Compares one block's level tiles with their reduction `expected`; a fault for each tile
// that differs.
Status compare_block(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame, uint32_t level,
                     std::span<const TileCoord> tiles, const LevelBox& expected, FaultSink& sink) {
  const TileLayout t(image);
  thread_local AlignedBuffer stored;
  stored.resize(expected.pixels.size());
  const Strides strides{int64_t(t.pixel_bytes()), int64_t(expected.line), int64_t(t.sample)};
  TESSERA_RETURN_IF_ERROR(read_region(txn, runtime, image, expected.region, Selection{frame, level, {}},
                                      CallerBuffer{stored.data(), stored.size(), strides}));
  const int64_t T = t.tile_size;
  for (TileCoord c : tiles) {
    const size_t x = size_t(c.x * T - expected.region.x) * t.pixel_bytes();
    const size_t y = size_t(c.y * T - expected.region.y);
    bool same = true;
    for (int64_t row = 0; row < T && same; ++row) {
      const size_t at = (y + size_t(row)) * expected.line + x;
      same = std::memcmp(stored.data() + at, expected.pixels.data() + at, size_t(T) * t.pixel_bytes()) == 0;
    }
    if (same) continue;
    Fault f;
    f.invariant = "LEVEL_TILE_DOWNSAMPLE";
    f.image = image.name;
    f.frame = frame;
    f.tile = std::make_pair(c.x, c.y);
    f.message = "image '" + image.name + "' level " + std::to_string(level) + " tile (" + std::to_string(c.x) +
                "," + std::to_string(c.y) + ") frame " + std::to_string(frame) +
                ": differs from the reduction of level " + std::to_string(level - 1);
    sink.add(std::move(f));
  }
  return Status::ok();
}

}  // namespace

Status check_pyramid_levels(const std::string& path, FaultSink& sink, VerifyReport& report) {
  OpenOptions options;
  options.read_only = true;
  auto env = Env::open(path, options, /*create=*/false);
  if (!env) return env.status();
  auto runtime = Runtime::open(**env);
  if (!runtime) return runtime.status();
  auto txn = Txn::begin(*env, /*write=*/false);
  if (!txn) return txn.status();
  for (const ImageInfo& image : (*txn)->images())
    for (uint32_t frame = 0; frame < image.frames; ++frame) {
      auto record = read_pyramid(**txn, image, frame);
      if (!record) return record.status();
      for (uint32_t level = 1; level <= record->info.levels; ++level) {
        auto tiles = level_tiles(**txn, image, frame, level);
        if (!tiles) return tiles.status();
        TESSERA_RETURN_IF_ERROR(for_each_block(image, *tiles, [&](std::span<const TileCoord> block) {
          auto expected = compute_level_box(**txn, **runtime, image, frame, level, record->info.resampling, block);
          if (!expected) return expected.status();
          report.level_tiles_checked += block.size();
          return compare_block(**txn, **runtime, image, frame, level, block, *expected, sink);
        }));
      }
    }
  return Status::ok();
}

}  // namespace tessera::detail
