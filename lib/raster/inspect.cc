#include "raster/inspect.h"

#include <cstring>
#include <string>
#include <unordered_set>

#include "format/chunk_codec.h"
#include "raster/region_io.h"
#include "store/chunk_pool.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {


// Whether pixel (x, y) of a tile buffer differs from the same pixel of a fill tile.
bool pixel_differs(const TileLayout& t, const uint8_t* tile, const uint8_t* fill_tile, int64_t x,
                   int64_t y) {
  for (uint32_t b = 0; b < t.bands; ++b) {
    const size_t at = t.sample_offset(x, y, b);
    if (std::memcmp(tile + at, fill_tile + at, t.sample) != 0) return true;
  }
  return false;
}

// The box of the pixels of a tile buffer that differ from the fill tile, in tile coordinates:
// rows by whole-line comparisons, then columns scanned inwards from each side.
std::optional<Region> non_fill_extent(const TileLayout& t, const uint8_t* tile,
                                      const uint8_t* fill_tile) {
  const int64_t T = t.tile_size;
  const size_t line = size_t(t.line_stride());
  auto row_differs = [&](int64_t y) {
    for (uint32_t b = 0; b < (t.storage == StorageLayout::kChunky ? 1u : t.bands); ++b) {
      const size_t at = t.band_offset(b) + size_t(y) * line;
      if (std::memcmp(tile + at, fill_tile + at, line) != 0) return true;
    }
    return false;
  };
  int64_t y0 = 0, y1 = T - 1;
  while (y0 < T && !row_differs(y0)) ++y0;
  if (y0 == T) return std::nullopt;
  while (!row_differs(y1)) --y1;
  auto column_differs = [&](int64_t x) {
    for (int64_t y = y0; y <= y1; ++y)
      if (pixel_differs(t, tile, fill_tile, x, y)) return true;
    return false;
  };
  int64_t x0 = 0, x1 = T - 1;
  while (!column_differs(x0)) ++x0;
  while (!column_differs(x1)) --x1;
  return Region{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

}  // namespace

Status for_each_visible_tile(
    const Txn& txn, const ImageInfo& image, uint32_t frame,
    const std::function<Status(TileCoord, const TileVersion&, size_t record_bytes)>& visit) {
  Cursor cursor(txn, txn.env().tiles);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  uint8_t start[kLevelPrefixSize] = {};
  put_be32(start, image.id);
  start[4] = 0;
  MDB_val k{sizeof start, start}, v;
  uint8_t group[kTileKeyPrefixSize];
  bool group_done = false;
  std::memset(group, 0, sizeof group);
  for (auto r = cursor.get(&k, &v, MDB_SET_RANGE);; r = cursor.get(&k, &v, MDB_NEXT)) {
    if (!r) return r.status();
    if (!*r || k.mv_size < kLevelPrefixSize || std::memcmp(k.mv_data, start, kLevelPrefixSize) != 0)
      break;
    if (k.mv_size != kTileKeySize)
      return txn.env().error(Code::kCorrupt, "image '" + image.name + "': tile key of " +
                                                 std::to_string(k.mv_size) + " bytes");
    const bool same_group = std::memcmp(group, k.mv_data, kTileKeyPrefixSize) == 0;
    if (!same_group) {
      std::memcpy(group, k.mv_data, kTileKeyPrefixSize);
      group_done = false;
    }
    if (group_done) continue;
    const TileKey key = decode_tile_key(bytes_of(k));
    if (key.frame > frame) continue;  // versions of later frames sort first
    group_done = true;
    TileKeyBytes key_bytes;
    std::memcpy(key_bytes.data(), k.mv_data, kTileKeySize);
    auto value = parse_tile_record(key_bytes, bytes_of(v), v.mv_size, image.pixel_bytes());
    if (!value)
      return value.status().with_context(txn.env().path() + ": " +
                                         tile_context(image, key.tile, key.frame));
    if (value->kind == TileKind::kTombstone) continue;
    TESSERA_RETURN_IF_ERROR(
        visit(key.tile, TileVersion{key.frame, std::move(value.value())}, k.mv_size + v.mv_size));
  }
  return Status::ok();
}

Result<ImageStats> image_stats(const Txn& txn, const ImageInfo& image, uint32_t frame) {
  TESSERA_RETURN_IF_ERROR(frame_exists(txn.env().path(), image, frame));
  ImageStats stats;
  std::unordered_set<std::string> seen;
  ChunkPool pool(const_cast<Txn&>(txn));
  const uint64_t tile_bytes = image.tile_bytes();
  Status s = for_each_visible_tile(txn, image, frame, [&](TileCoord tile, const TileVersion& version,
                                                          size_t record_bytes) -> Status {
    stats.bytes_raw += tile_bytes;
    stats.bytes_stored += record_bytes;
    if (version.value.kind == TileKind::kUniform) {
      ++stats.tiles_uniform;
      return Status::ok();
    }
    ++stats.tiles_chunk;
    auto chunk = pool.get(version.value.chunk);
    if (!chunk) return chunk.status().with_context(tile_context(image, tile, version.frame));
    stats.bytes_chunk_refs += chunk->mv_size;
    if (seen.emplace(reinterpret_cast<const char*>(version.value.chunk.data()), kChunkKeySize).second) {
      ++stats.chunks_unique;
      stats.bytes_stored += chunk->mv_size;
    }
    return Status::ok();
  });
  if (!s.is_ok()) return s;
  return stats;
}

Result<std::optional<Region>> image_bounds(const Txn& txn, const ImageInfo& image, uint32_t frame,
                                           Precision precision) {
  TESSERA_RETURN_IF_ERROR(frame_exists(txn.env().path(), image, frame));
  const TileLayout t(image);
  // Pass 1: the box of the stored tiles (rough leaf geometry).
  TileRange leaf{INT64_MAX, INT64_MAX, INT64_MIN, INT64_MIN};
  TESSERA_RETURN_IF_ERROR(
      for_each_visible_tile(txn, image, frame, [&](TileCoord c, const TileVersion&, size_t) {
        leaf.x0 = std::min(leaf.x0, c.x), leaf.x1 = std::max(leaf.x1, c.x);
        leaf.y0 = std::min(leaf.y0, c.y), leaf.y1 = std::max(leaf.y1, c.y);
        return Status::ok();
      }));
  if (leaf.x1 < leaf.x0) return std::optional<Region>();
  const int64_t T = t.tile_size;
  Region leaf_box{leaf.x0 * T, leaf.y0 * T, (leaf.x1 - leaf.x0 + 1) * T, (leaf.y1 - leaf.y0 + 1) * T};
  if (precision == Precision::kLeaf) return std::optional<Region>(leaf_box);

  // Pass 2: only tiles on the edge of the leaf box decide the exact box. Every stored tile
  // holds at least one non-fill pixel, so the extreme column and row tiles bound it; a tile
  // is decoded only if it could still move a side of the box.
  const std::vector<uint8_t>& fill = image.fill_pixel;
  int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = INT64_MIN, y1 = INT64_MIN;  // inclusive pixels
  AlignedBuffer buffer(t.tile_bytes()), fill_tile(t.tile_bytes());
  fill_tile_with(t, fill.data(), fill_tile.data());
  ChunkPool pool(const_cast<Txn&>(txn));
  Status s = for_each_visible_tile(txn, image, frame, [&](TileCoord c, const TileVersion& version,
                                                          size_t) -> Status {
    const int64_t ox = c.x * T, oy = c.y * T;
    const bool can_move = (c.x == leaf.x0 && x0 > ox) || (c.x == leaf.x1 && x1 < ox + T - 1) ||
                          (c.y == leaf.y0 && y0 > oy) || (c.y == leaf.y1 && y1 < oy + T - 1);
    if (!can_move) return Status::ok();
    std::optional<Region> local = Region{0, 0, T, T};
    if (version.value.kind == TileKind::kChunk) {
      auto chunk = pool.get(version.value.chunk);
      if (!chunk) return chunk.status().with_context(tile_context(image, c, version.frame));
      Status d = decode_chunk(bytes_of(*chunk), chunk->mv_size, buffer.data(), t.tile_bytes());
      if (!d.is_ok())
        return d.with_context(txn.env().path() + ": " + tile_context(image, c, version.frame));
      local = non_fill_extent(t, buffer.data(), fill_tile.data());
    } else if (version.value.uniform == fill) {
      local.reset();
    }
    if (!local) return Status::ok();
    if (c.x == leaf.x0) x0 = std::min(x0, ox + local->x);
    if (c.x == leaf.x1) x1 = std::max(x1, ox + local->x_end() - 1);
    if (c.y == leaf.y0) y0 = std::min(y0, oy + local->y);
    if (c.y == leaf.y1) y1 = std::max(y1, oy + local->y_end() - 1);
    return Status::ok();
  });
  if (!s.is_ok()) return s;
  if (x1 < x0 || y1 < y0) return std::optional<Region>();
  return std::optional<Region>(Region{x0, y0, x1 - x0 + 1, y1 - y0 + 1});
}

}  // namespace tessera::detail
