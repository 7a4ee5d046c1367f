#include "raster/inspect.h"

#include <cstring>
#include <string>
#include <map>
#include <set>
#include <unordered_set>

#include "format/chunk_codec.h"
#include "raster/region_io.h"
#include "store/chunk_pool.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

// Calls `visit` with the newest record at or before `frame` of every key group (a tile, or a
// macro block) of one level byte of `image`, tombstones included, in key order.
Status for_each_group_version(
    const Txn& txn, const ImageInfo& image, uint8_t level, uint32_t frame,
    const std::function<Status(TileCoord, TileVersion, size_t record_bytes)>& visit) {
  Cursor cursor(txn, txn.env().tiles);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  uint8_t start[kLevelPrefixSize] = {};
  put_be32(start, image.id);
  start[4] = level;
  MDB_val k{sizeof start, start}, v;
  uint8_t group[kTileKeyPrefixSize] = {};
  bool group_done = false;
  for (auto r = cursor.get(&k, &v, MDB_SET_RANGE);; r = cursor.get(&k, &v, MDB_NEXT)) {
    if (!r) return r.status();
    if (!*r || k.mv_size < kLevelPrefixSize || std::memcmp(k.mv_data, start, kLevelPrefixSize) != 0)
      break;
    if (k.mv_size != kTileKeySize)
      return txn.env().error(Code::kCorrupt, "image '" + image.name + "': tile key of " +
                                                 std::to_string(k.mv_size) + " bytes");
    if (std::memcmp(group, k.mv_data, kTileKeyPrefixSize) != 0) {
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
    const bool macro = (level & kMacroLevelFlag) != 0;
    if (macro && value->kind != TileKind::kUniform)
      return txn.env().error(Code::kCorrupt, tile_context(image, key.tile, key.frame) +
                                                 ": a macro-block record that is not uniform");
    TESSERA_RETURN_IF_ERROR(visit(key.tile, TileVersion{key.frame, std::move(value.value()), macro},
                                  k.mv_size + v.mv_size));
  }
  return Status::ok();
}

}  // namespace

Status for_each_visible_tile(
    const Txn& txn, const ImageInfo& image, uint32_t frame,
    const std::function<Status(TileCoord, const TileVersion&, size_t record_bytes)>& visit) {
  // The macro blocks the frame shows, with the tiles whose own version hides the block's.
  struct Block {
    TileVersion version;
    size_t record_bytes;
    std::set<std::pair<int64_t, int64_t>> hidden;
  };
  std::map<std::pair<int64_t, int64_t>, Block> blocks;
  TESSERA_RETURN_IF_ERROR(for_each_group_version(
      txn, image, kMacroLevelFlag, frame, [&](TileCoord m, TileVersion version, size_t bytes) {
        blocks.emplace(std::pair(m.x, m.y), Block{std::move(version), bytes, {}});
        return Status::ok();
      }));
  const TileLayout t(image);
  TESSERA_RETURN_IF_ERROR(for_each_group_version(
      txn, image, 0, frame, [&](TileCoord tile, TileVersion version, size_t bytes) -> Status {
        if (!blocks.empty()) {
          const TileCoord m = t.macro_of(tile);
          auto block = blocks.find({m.x, m.y});
          if (block != blocks.end()) {
            if (block->second.version.frame > version.frame) return Status::ok();  // the block shows
            block->second.hidden.emplace(tile.x, tile.y);
          }
        }
        if (version.value.kind == TileKind::kTombstone) return Status::ok();
        return visit(tile, version, bytes);
      }));
  for (const auto& [m, block] : blocks) {
    const TileRange tiles = t.tiles_of_macro({m.first, m.second});
    size_t bytes = block.record_bytes;  // the record is counted with the first tile it shows
    for (int64_t y = tiles.y0; y <= tiles.y1; ++y)
      for (int64_t x = tiles.x0; x <= tiles.x1; ++x) {
        if (block.hidden.count({x, y})) continue;
        TESSERA_RETURN_IF_ERROR(visit({x, y}, block.version, bytes));
        bytes = 0;
      }
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

}  // namespace tessera::detail
