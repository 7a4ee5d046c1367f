// Scans of an image's tile index, level by level: the one scanner behind frames (listing and
// dropping), stats, geometry and inspection. Records are grouped by key prefix (image, level
// byte, Morton code: every version of one tile or macro block), versions newest first.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "raster/tile_index.h"

namespace tessera::detail {

// The level bytes to scan for every pyramid level of `image` that holds any record: each
// level's tiles, then its macro blocks, levels ascending.
Result<std::vector<uint8_t>> stored_level_bytes(const Txn& txn, const ImageInfo& image);
inline uint32_t level_of_byte(uint8_t level_byte) { return level_byte & ~kMacroLevelFlag; }
inline bool is_macro_byte(uint8_t level_byte) { return (level_byte & kMacroLevelFlag) != 0; }

// One record of the tile index, parsed.
struct TileRecord {
  TileKey key;
  TileKeyBytes bytes;
  TileValue value;
  size_t size;  // key and value bytes
};

// Calls `visit` with every key group under level byte `level_byte` of `image` (a level's
// tiles: tile_level_byte; its macro blocks: macro_level_byte), all versions parsed, newest
// first. `visit` may change the group's records: the scan goes on after the group.
Status for_each_key_group(Txn& txn, const ImageInfo& image, uint8_t level_byte,
                          const std::function<Status(std::vector<TileRecord>&)>& visit);

// Calls `visit` with the newest record at or before `frame` of every key group under
// `level_byte`, tombstones included, in key order. Parses only those records.
Status for_each_group_version(
    const Txn& txn, const ImageInfo& image, uint8_t level_byte, uint32_t frame,
    const std::function<Status(TileCoord, TileVersion, size_t record_bytes)>& visit);

// Calls `visit` for every tile that frame `frame` of level `level` shows (tombstones only with
// `tombstones`), with the size of its record: tiles with their own record in key order, then
// the tiles collapsed macro blocks show (a block's record size counted with its first tile).
// Memory: one entry per macro block the frame shows, plus the tiles inside them that have
// records of their own.
Status for_each_visible_tile(
    const Txn& txn, const ImageInfo& image, uint32_t level, uint32_t frame,
    const std::function<Status(TileCoord, const TileVersion&, size_t record_bytes)>& visit,
    bool tombstones = false);

}  // namespace tessera::detail
