#include "raster/pyramid.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>

#include "raster/downsample.h"
#include "raster/geometry.h"
#include "raster/region_read.h"
#include "raster/region_write.h"
#include "raster/tile_scan.h"
#include "store/pyramid_table.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

// Children of one block of parent tiles are read at once: 4 s^2 tiles, at most about 64 MiB
// (and at least the four of one parent).
int block_shift(const TileLayout& t) {
  int shift = 2;
  while (shift > 0 && (uint64_t(4) << (2 * shift)) * t.tile_bytes() > (uint64_t(64) << 20)) --shift;
  return shift;
}

bool morton_less(const Morton& a, const Morton& b) { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo); }

// Morton order keeps every aligned block of tiles together, so a sorted list splits into
// blocks as runs.
void sort_unique(std::vector<TileCoord>& tiles) {
  std::vector<std::pair<Morton, TileCoord>> keyed;
  keyed.reserve(tiles.size());
  for (TileCoord c : tiles) keyed.emplace_back(morton_encode(c), c);
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return morton_less(a.first, b.first); });
  tiles.clear();
  for (const auto& [m, c] : keyed)
    if (tiles.empty() || !(tiles.back() == c)) tiles.push_back(c);
}

TileCoord block_of(TileCoord tile, int shift) { return {tile.x >> shift, tile.y >> shift}; }

Strides pixel_strides(const TileLayout& t, size_t line) {
  return Strides{int64_t(t.pixel_bytes()), int64_t(line), int64_t(t.sample)};
}

void fill_with_pixel(const std::vector<uint8_t>& pixel, uint8_t* data, size_t size) {
  for (size_t at = 0; at + pixel.size() <= size; at += pixel.size()) std::memcpy(data + at, pixel.data(), pixel.size());
}

}  // namespace

Result<LevelBox> compute_level_box(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame,
                                   uint32_t level, Resampling rule, std::span<const TileCoord> tiles) {
  const TileLayout t(image);
  int64_t x0 = tiles[0].x, x1 = x0, y0 = tiles[0].y, y1 = y0;
  for (TileCoord c : tiles) x0 = std::min(x0, c.x), x1 = std::max(x1, c.x), y0 = std::min(y0, c.y), y1 = std::max(y1, c.y);
  const int64_t T = t.tile_size;
  const int64_t width = (x1 - x0 + 1) * T, height = (y1 - y0 + 1) * T;
  const size_t pixel = t.pixel_bytes();
  // The level below: twice the box's pixels, from 2 * x0 * T on (a valid coordinate: tile
  // 2 * x0 of the level below exists). Its end may pass 2^63 - 1 at the very edge of the
  // space: what lies beyond reads as the fill value.
  const int64_t in_x = 2 * x0 * T, in_y = 2 * y0 * T;
  const int64_t in_w = int64_t(std::min<__int128>(2 * width, __int128(INT64_MAX) - in_x));
  const int64_t in_h = int64_t(std::min<__int128>(2 * height, __int128(INT64_MAX) - in_y));
  thread_local AlignedBuffer in;
  const size_t in_line = size_t(2 * width) * pixel, out_line = size_t(width) * pixel;
  in.resize(in_line * size_t(2 * height));
  if (in_w < 2 * width || in_h < 2 * height) fill_with_pixel(image.fill_pixel, in.data(), in.size());
  TESSERA_RETURN_IF_ERROR(read_region(txn, runtime, image, Region{in_x, in_y, in_w, in_h},
                                      Selection{frame, level - 1, {}},
                                      CallerBuffer{in.data(), in.size(), pixel_strides(t, in_line)}));
  LevelBox box;
  box.region = Region{x0 * T, y0 * T, width, height};
  box.line = out_line;
  box.pixels.resize(out_line * size_t(height));
  downsample_image_rows(runtime.pool(), image, rule, in.data(), in_line, box.pixels.data(), out_line, width, height);
  return box;
}

namespace {

// Recomputes the tiles of `level` in the bounding box of `tiles` (one block's worth) and
// writes them.
Status rebuild_box(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame, uint32_t level,
                   Resampling rule, std::span<const TileCoord> tiles, std::vector<TileCoord>* changed) {
  auto box = compute_level_box(txn, runtime, image, frame, level, rule, tiles);
  if (!box) return box.status();
  ImageInfo target = image;
  return write_region(txn, runtime, target, box->region, Selection{frame, level, {}},
                      CallerBuffer{box->pixels.data(), box->pixels.size(), pixel_strides(TileLayout(image), box->line)},
                      changed);
}

}  // namespace

namespace {
// The end of the block (of parent tiles, block_shift) whose first tile is tiles[begin].
size_t block_end(std::span<const TileCoord> tiles, size_t begin, int shift) {
  const TileCoord block = block_of(tiles[begin], shift);
  size_t end = begin + 1;
  while (end < tiles.size() && block_of(tiles[end], shift) == block) ++end;
  return end;
}
}  // namespace

Status for_each_block(const ImageInfo& image, std::span<const TileCoord> tiles,
                      const std::function<Status(std::span<const TileCoord>)>& visit) {
  const int shift = block_shift(TileLayout(image));
  for (size_t begin = 0, end; begin < tiles.size(); begin = end) {
    end = block_end(tiles, begin, shift);
    TESSERA_RETURN_IF_ERROR(visit(tiles.subspan(begin, end - begin)));
  }
  return Status::ok();
}

Result<std::vector<TileCoord>> level_tiles(const Txn& txn, const ImageInfo& image, uint32_t frame, uint32_t level) {
  std::vector<TileCoord> tiles;
  TESSERA_RETURN_IF_ERROR(
      for_each_visible_tile(txn, image, level - 1, frame, [&](TileCoord c, const TileVersion&, size_t) {
        tiles.push_back({c.x >> 1, c.y >> 1});
        return Status::ok();
      }));
  TESSERA_RETURN_IF_ERROR(for_each_visible_tile(txn, image, level, frame, [&](TileCoord c, const TileVersion&, size_t) {
    tiles.push_back(c);
    return Status::ok();
  }));
  sort_unique(tiles);
  return tiles;
}

Status rebuild_level_tiles(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame,
                           uint32_t level, Resampling rule, std::vector<TileCoord> parents,
                           std::vector<TileCoord>* changed) {
  sort_unique(parents);
  TESSERA_RETURN_IF_ERROR(for_each_block(image, parents, [&](std::span<const TileCoord> block) {
    return rebuild_box(txn, runtime, image, frame, level, rule, block, changed);
  }));
  if (changed) sort_unique(*changed);
  return Status::ok();
}

Status update_pyramid(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame,
                      std::vector<TileCoord> changed) {
  if (changed.empty()) return Status::ok();
  auto record = [&] {
    std::lock_guard lock(txn.lmdb_mutex());
    return read_pyramid(txn, image, frame);
  }();
  if (!record) return record.status();
  const PyramidInfo& p = record->info;
  // The level a build has under way is kept in step too: its committed blocks stay right.
  const uint32_t top = p.levels + (p.target > p.levels ? 1 : 0);
  for (uint32_t level = 1; level <= top && !changed.empty(); ++level) {
    for (TileCoord& c : changed) c = {c.x >> 1, c.y >> 1};
    std::vector<TileCoord> next;
    TESSERA_RETURN_IF_ERROR(rebuild_level_tiles(txn, runtime, image, frame, level, p.resampling,
                                                std::move(changed), &next));
    changed = std::move(next);
  }
  return Status::ok();
}

Result<uint32_t> auto_pyramid_levels(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame) {
  auto box = frame_geometry(txn, runtime, image, frame, Precision::kLeaf);
  if (!box) return box.status();
  if (!*box) return 1u;
  const uint64_t extent = uint64_t(std::max((*box)->width, (*box)->height));
  uint32_t levels = 1;
  while (levels < kMaxPyramidLevels && ((extent - 1) >> levels) + 1 > image.spec.tile_size) ++levels;
  return levels;
}

Result<bool> build_pyramid_batch(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame,
                                 uint32_t levels, Resampling rule, uint64_t batch_bytes, BuildCounts& counts) {
  // The pyramid record and the scan hold the transaction's LMDB mutex; the reads and writes of
  // tiles take it themselves.
  std::unique_lock lock(txn.lmdb_mutex());
  auto record = read_pyramid(txn, image, frame);
  if (!record) return record.status();
  PyramidValue state = *record;
  PyramidInfo& p = state.info;
  if (p.resampling != rule) {
    state = PyramidValue{PyramidInfo{0, rule, levels}, {}};  // every level made by another rule is redone
  } else if (p.levels >= levels) {
    // Built (or building past what is asked): levels above stay unreadable, their tiles until rebuilt.
    const bool changed = p.levels != levels || p.target != 0;
    state = PyramidValue{PyramidInfo{levels, rule, 0}, {}};
    if (changed) TESSERA_RETURN_IF_ERROR(put_pyramid(txn, image, frame, state));
    return true;
  } else {
    p.target = levels;  // an unfinished build of the same rule goes on where it stands
  }
  const uint32_t level = p.levels + 1;
  auto tiles = level_tiles(txn, image, frame, level);
  if (!tiles) return tiles.status();
  lock.unlock();
  const int shift = block_shift(TileLayout(image));
  size_t begin = 0;
  while (begin < tiles->size() && morton_less(morton_encode(block_of((*tiles)[begin], shift)), state.next)) ++begin;
  if (counts.level != level) {
    // The tiles still to make: this level's, a quarter as many on each level above.
    counts.level = level;
    uint64_t left = 0;
    for (uint64_t n = tiles->size() - begin, l = level; l <= levels; ++l, n = (n + 3) / 4) left += n;
    counts.total = counts.done + left;
  }
  const size_t tile_bytes = TileLayout(image).tile_bytes();
  size_t end = begin;
  // Whole blocks until the batch is full.
  for (uint64_t bytes = 0; end < tiles->size() && bytes < batch_bytes;) {
    const size_t block_begin = end;
    end = block_end(*tiles, block_begin, shift);
    TESSERA_RETURN_IF_ERROR(rebuild_box(txn, runtime, image, frame, level, rule,
                                        std::span(*tiles).subspan(block_begin, end - block_begin), nullptr));
    counts.done += end - block_begin;
    bytes += (end - block_begin) * tile_bytes;
  }
  if (end < tiles->size()) {
    state.next = morton_encode(block_of((*tiles)[end], shift));
  } else {
    p.levels = level;
    state.next = Morton{};
    if (level == levels) p.target = 0;
  }
  lock.lock();
  TESSERA_RETURN_IF_ERROR(put_pyramid(txn, image, frame, state));
  return p.target == 0;
}

}  // namespace tessera::detail
