#include "raster/tile_scan.h"

#include <array>
#include <cstring>
#include <map>
#include <set>

#include "util/bytes.h"

namespace tessera::detail {
namespace {

// A record as it lies in the map: valid until the transaction writes.
struct RawRecord {
  TileKeyBytes key;
  std::span<const uint8_t> value;
};

// The scanner: walks the records under one level byte of an image, a key group at a time.
// With `writes`, `visit` may change the database, so the scan seeks past the group afterwards
// instead of stepping on from where the cursor stood.
Status scan_groups(const Txn& txn, const ImageInfo& image, uint8_t level_byte, bool writes,
                   const std::function<Status(std::span<const RawRecord>)>& visit) {
  Cursor cursor(txn, txn.env().tiles);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  std::array<uint8_t, kTileKeyPrefixSize> seek{};
  put_be32(seek.data(), image.id);
  seek[4] = level_byte;
  std::vector<RawRecord> group;
  MDB_val k{seek.size(), seek.data()}, v;
  auto found = cursor.get(&k, &v, MDB_SET_RANGE);
  for (;;) {
    group.clear();
    while (found && *found && k.mv_size >= kLevelPrefixSize &&
           std::memcmp(k.mv_data, seek.data(), kLevelPrefixSize) == 0 &&
           (group.empty() || std::memcmp(k.mv_data, group[0].key.data(), kTileKeyPrefixSize) == 0)) {
      if (k.mv_size != kTileKeySize)
        return txn.env().error(Code::kCorrupt, "image '" + image.name + "': tile key of " +
                                                   std::to_string(k.mv_size) + " bytes");
      RawRecord& record = group.emplace_back();
      std::memcpy(record.key.data(), k.mv_data, kTileKeySize);
      record.value = {bytes_of(v), v.mv_size};
      found = cursor.get(&k, &v, MDB_NEXT);
    }
    if (!found) return found.status();
    if (group.empty()) return Status::ok();
    TESSERA_RETURN_IF_ERROR(visit(group));
    if (!writes) continue;
    // The next group starts after every key with this prefix: add one to the prefix.
    std::memcpy(seek.data(), group[0].key.data(), kTileKeyPrefixSize);
    size_t i = seek.size();
    while (i > kLevelPrefixSize && ++seek[i - 1] == 0) --i;
    if (i == kLevelPrefixSize) return Status::ok();  // that was the last possible group
    k = MDB_val{seek.size(), seek.data()};
    found = cursor.get(&k, &v, MDB_SET_RANGE);
  }
}

Result<TileValue> parse(const Txn& txn, const ImageInfo& image, const RawRecord& record, const TileKey& key) {
  auto value = parse_tile_record(record.key, record.value.data(), record.value.size(), image.pixel_bytes());
  if (!value)
    return value.status().with_context(txn.env().path() + ": " + tile_context(image, key.tile, key.frame));
  return value;
}

}  // namespace

Result<std::vector<uint8_t>> stored_level_bytes(const Txn& txn, const ImageInfo& image) {
  Cursor cursor(txn, txn.env().tiles);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  std::set<uint32_t> levels;
  uint8_t seek[kLevelPrefixSize];
  put_be32(seek, image.id);
  for (unsigned byte = 0; byte <= 0xFF;) {
    seek[4] = uint8_t(byte);
    MDB_val k{sizeof seek, seek}, v;
    auto found = cursor.get(&k, &v, MDB_SET_RANGE);
    if (!found) return found.status();
    if (!*found || k.mv_size < kLevelPrefixSize || std::memcmp(k.mv_data, seek, 4) != 0) break;
    const uint8_t at = bytes_of(k)[4];
    levels.insert(level_of_byte(at));
    byte = unsigned(at) + 1;
  }
  std::vector<uint8_t> bytes;
  for (uint32_t level : levels) {
    bytes.push_back(tile_level_byte(level));
    bytes.push_back(macro_level_byte(level));
  }
  return bytes;
}

Status for_each_key_group(Txn& txn, const ImageInfo& image, uint8_t level_byte,
                          const std::function<Status(std::vector<TileRecord>&)>& visit) {
  std::vector<TileRecord> parsed;
  return scan_groups(txn, image, level_byte, /*writes=*/true, [&](std::span<const RawRecord> group) {
    parsed.clear();
    for (const RawRecord& raw : group) {
      TileRecord& record = parsed.emplace_back();
      record.bytes = raw.key;
      record.key = decode_tile_key(raw.key.data());
      TESSERA_ASSIGN_OR_RETURN(record.value, parse(txn, image, raw, record.key));
      record.size = kTileKeySize + raw.value.size();
    }
    return visit(parsed);
  });
}

Status for_each_group_version(
    const Txn& txn, const ImageInfo& image, uint8_t level_byte, uint32_t frame,
    const std::function<Status(TileCoord, TileVersion, size_t record_bytes)>& visit) {
  const bool macro = is_macro_byte(level_byte);
  return scan_groups(txn, image, level_byte, /*writes=*/false, [&](std::span<const RawRecord> group) {
    for (const RawRecord& raw : group) {
      const TileKey key = decode_tile_key(raw.key.data());
      if (key.frame > frame) continue;  // versions of later frames sort first
      auto value = parse(txn, image, raw, key);
      if (!value) return value.status();
      if (macro && value->kind != TileKind::kUniform)
        return txn.env().error(Code::kCorrupt, tile_context(image, key.tile, key.frame) +
                                                   ": a macro-block record that is not uniform");
      return visit(key.tile, TileVersion{key.frame, std::move(value.value()), macro},
                   kTileKeySize + raw.value.size());
    }
    return Status::ok();
  });
}

Status for_each_visible_tile(
    const Txn& txn, const ImageInfo& image, uint32_t level, uint32_t frame,
    const std::function<Status(TileCoord, const TileVersion&, size_t record_bytes)>& visit, bool tombstones) {
  // The macro blocks the frame shows, with the tiles whose own version hides the block's.
  struct Block {
    TileVersion version;
    size_t record_bytes;
    std::set<std::pair<int64_t, int64_t>> hidden;
  };
  std::map<std::pair<int64_t, int64_t>, Block> blocks;
  TESSERA_RETURN_IF_ERROR(for_each_group_version(
      txn, image, macro_level_byte(level), frame, [&](TileCoord m, TileVersion version, size_t bytes) {
        blocks.emplace(std::pair(m.x, m.y), Block{std::move(version), bytes, {}});
        return Status::ok();
      }));
  const TileLayout t(image);
  TESSERA_RETURN_IF_ERROR(for_each_group_version(
      txn, image, tile_level_byte(level), frame, [&](TileCoord tile, TileVersion version, size_t bytes) -> Status {
        if (!blocks.empty()) {
          const TileCoord m = t.macro_of(tile);
          auto block = blocks.find({m.x, m.y});
          if (block != blocks.end()) {
            if (block->second.version.frame > version.frame) return Status::ok();  // the block shows
            block->second.hidden.emplace(tile.x, tile.y);
          }
        }
        if (version.value.kind == TileKind::kTombstone && !tombstones) return Status::ok();
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

}  // namespace tessera::detail
