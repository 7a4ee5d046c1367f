#include "raster/frames.h"

#include <cmath>
#include <cstring>

#include "raster/geometry.h"
#include "raster/region_io.h"
#include "store/chunk_pool.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

// One stored record of a key group (all versions of one tile or macro block).
struct Record {
  TileKey key;
  TileKeyBytes bytes;
  TileValue value;
  size_t size;  // key and value bytes
};

// Calls `visit` with every key group of one level byte of `image`, all its versions at once,
// newest first. `visit` may change the group's records: the scan goes on after the group.
Status for_each_group(Txn& txn, const ImageInfo& image, uint8_t level,
                      const std::function<Status(std::vector<Record>&)>& visit) {
  Cursor cursor(txn, txn.env().tiles);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  uint8_t level_prefix[kLevelPrefixSize];
  put_be32(level_prefix, image.id);
  level_prefix[4] = level;
  std::array<uint8_t, kTileKeyPrefixSize> seek{};
  std::memcpy(seek.data(), level_prefix, kLevelPrefixSize);
  std::vector<Record> group;
  for (;;) {
    MDB_val k{seek.size(), seek.data()}, v;
    auto found = cursor.get(&k, &v, MDB_SET_RANGE);
    group.clear();
    while (found && *found && k.mv_size >= kLevelPrefixSize &&
           std::memcmp(k.mv_data, level_prefix, kLevelPrefixSize) == 0 &&
           (group.empty() || std::memcmp(k.mv_data, group[0].bytes.data(), kTileKeyPrefixSize) == 0)) {
      if (k.mv_size != kTileKeySize)
        return txn.env().error(Code::kCorrupt, "image '" + image.name + "': tile key of " +
                                                   std::to_string(k.mv_size) + " bytes");
      Record record;
      std::memcpy(record.bytes.data(), k.mv_data, kTileKeySize);
      record.key = decode_tile_key(record.bytes.data());
      auto value = parse_tile_record(record.bytes, bytes_of(v), v.mv_size, image.pixel_bytes());
      if (!value)
        return value.status().with_context(txn.env().path() + ": " +
                                           tile_context(image, record.key.tile, record.key.frame));
      record.value = std::move(*value);
      record.size = k.mv_size + v.mv_size;
      group.push_back(std::move(record));
      found = cursor.get(&k, &v, MDB_NEXT);
    }
    if (!found) return found.status();
    if (group.empty()) return Status::ok();
    std::memcpy(seek.data(), group[0].bytes.data(), kTileKeyPrefixSize);
    TESSERA_RETURN_IF_ERROR(visit(group));
    // The next group starts after every key with this prefix: add one to the prefix.
    size_t i = seek.size();
    while (i > kLevelPrefixSize && ++seek[i - 1] == 0) --i;
    if (i == kLevelPrefixSize) return Status::ok();  // that was the last possible group
  }
}

}  // namespace

Status append_frame(Txn& txn, ImageInfo& image) {
  if (image.frames == UINT32_MAX)
    return txn.env().error(Code::kInvalidArgument, "image '" + image.name + "' has the most frames there can be");
  ++image.frames;
  TESSERA_RETURN_IF_ERROR(txn.put_image(image));
  return copy_geometry(txn, image, image.frames - 2, image.frames - 1);
}

Result<std::vector<FrameInfo>> list_frames(const Txn& txn, const ImageInfo& image) {
  std::vector<FrameInfo> frames(image.frames);
  std::vector<double> shares(image.frames, 0.0);
  for (uint32_t f = 0; f < image.frames; ++f) frames[f].frame = f;
  ChunkPool pool(const_cast<Txn&>(txn));
  for (uint8_t level : {uint8_t(0), kMacroLevelFlag}) {
    Status s = for_each_group(const_cast<Txn&>(txn), image, level, [&](std::vector<Record>& group) -> Status {
      for (const Record& r : group) {
        if (r.key.frame >= image.frames)
          return txn.env().error(Code::kCorrupt, tile_context(image, r.key.tile, r.key.frame) +
                                                     ": a record of a frame the image does not have");
        FrameInfo& info = frames[r.key.frame];
        shares[r.key.frame] += double(r.size);
        switch (r.value.kind) {
          case TileKind::kTombstone: ++info.tombstones; break;
          case TileKind::kUniform: ++(level ? info.macro_blocks : info.tiles); break;
          case TileKind::kChunk: {
            ++info.tiles;
            auto chunk = pool.get(r.value.chunk);
            if (!chunk) return chunk.status().with_context(tile_context(image, r.key.tile, r.key.frame));
            auto refs = pool.ref_count(r.value.chunk);
            if (!refs) return refs.status();
            shares[r.key.frame] += double(chunk->mv_size) / double(std::max<uint64_t>(*refs, 1));
            break;
          }
        }
      }
      return Status::ok();
    });
    if (!s.is_ok()) return s;
  }
  for (uint32_t f = 0; f < image.frames; ++f) frames[f].bytes_stored = uint64_t(std::llround(shares[f]));
  return frames;
}

Status drop_frame(Txn& txn, ImageInfo& image, uint32_t frame) {
  TESSERA_RETURN_IF_ERROR(frame_exists(txn.env().path(), image, frame));
  if (image.frames == 1)
    return txn.env().error(Code::kInvalidArgument,
                           "image '" + image.name + "' has only frame 0; an image keeps at least one frame");
  const bool has_next = frame + 1 < image.frames;
  const TileLayout t(image);
  ChunkPool chunks(txn);
  // Tiles first, then macro blocks (their keys sort after): a tile's group looks up its macro
  // block's record in frame + 1 before the macro groups are renumbered.
  for (uint8_t level : {uint8_t(0), kMacroLevelFlag}) {
    Status s = for_each_group(txn, image, level, [&](std::vector<Record>& group) -> Status {
      if (group.front().key.frame < frame) return Status::ok();  // newest first: nothing to do
      bool next_has_own = false;
      for (const Record& r : group) next_has_own |= r.key.frame == frame + 1;
      if (has_next && !next_has_own && level == 0) {
        // A tile's record of `frame` is what frame + 1 shows unless its macro block has a
        // record of frame + 1 (that one wins over older tile records).
        const TileKeyBytes block =
            encode_tile_key(TileKey{image.id, kMacroLevelFlag, t.macro_of(group[0].key.tile), frame + 1});
        auto found = txn.get(txn.env().tiles, block);
        if (!found) return found.status();
        next_has_own = found->has_value();
      }
      std::vector<Record> moved;
      for (Record& r : group) {
        if (r.key.frame < frame) continue;
        if (r.key.frame == frame && has_next && !next_has_own) continue;  // frame + 1 shows it: keep
        TESSERA_RETURN_IF_ERROR(txn.del(txn.env().tiles, r.bytes));
        if (r.key.frame > frame) {
          moved.push_back(std::move(r));
        } else if (r.value.kind == TileKind::kChunk) {
          TESSERA_RETURN_IF_ERROR(chunks.release(r.value.chunk));
        }
      }
      for (Record& r : moved) {
        --r.key.frame;
        const TileKeyBytes key = encode_tile_key(r.key);
        TESSERA_RETURN_IF_ERROR(txn.put(txn.env().tiles, key, build_tile_record(key, r.value)));
      }
      return Status::ok();
    });
    if (!s.is_ok()) return s;
  }
  TESSERA_RETURN_IF_ERROR(drop_geometry(txn, image, frame));
  // Imports into this frame or later ones cannot be resumed across the renumbering.
  for (uint32_t g = frame; g < image.frames; ++g)
    TESSERA_RETURN_IF_ERROR(txn.del(txn.env().meta, import_record_key(image.id, g)));
  --image.frames;
  return txn.put_image(image);
}

}  // namespace tessera::detail
