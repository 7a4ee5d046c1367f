#include "raster/frames.h"

#include <cmath>

#include "raster/geometry.h"
#include "store/attribute_table.h"
#include "raster/request.h"
#include "raster/tile_scan.h"
#include "store/chunk_pool.h"
#include "store/pyramid_table.h"

namespace tessera::detail {

Status append_frame(Txn& txn, ImageInfo& image) {
  if (image.frames == UINT32_MAX)
    return txn.env().error(Code::kInvalidArgument, "image '" + image.name + "' has the most frames there can be");
  ++image.frames;
  TESSERA_RETURN_IF_ERROR(txn.put_image(image));
  TESSERA_RETURN_IF_ERROR(copy_pyramid(txn, image, image.frames - 2, image.frames - 1));
  return copy_geometry(txn, image, image.frames - 2, image.frames - 1);
}

Result<std::vector<FrameInfo>> list_frames(const Txn& txn, const ImageInfo& image) {
  std::vector<FrameInfo> frames(image.frames);
  std::vector<double> shares(image.frames, 0.0);
  for (uint32_t f = 0; f < image.frames; ++f) frames[f].frame = f;
  ChunkPool pool(const_cast<Txn&>(txn));
  auto level_bytes = stored_level_bytes(txn, image);
  if (!level_bytes) return level_bytes.status();
  for (uint8_t level_byte : *level_bytes) {
    const bool macro = is_macro_byte(level_byte);
    Status s = for_each_key_group(const_cast<Txn&>(txn), image, level_byte, [&](std::vector<TileRecord>& group) -> Status {
      for (const TileRecord& r : group) {
        if (r.key.frame >= image.frames)
          return txn.env().error(Code::kCorrupt, tile_context(image, r.key.tile, r.key.frame) +
                                                     ": a record of a frame the image does not have");
        FrameInfo& info = frames[r.key.frame];
        shares[r.key.frame] += double(r.size);
        switch (r.value.kind) {
          case TileKind::kTombstone: ++info.tombstones; break;
          case TileKind::kUniform: ++(macro ? info.macro_blocks : info.tiles); break;
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
  TESSERA_RETURN_IF_ERROR(check_frame(txn.env().path(), image, frame));
  if (image.frames == 1)
    return txn.env().error(Code::kInvalidArgument,
                           "image '" + image.name + "' has only frame 0; an image keeps at least one frame");
  const bool has_next = frame + 1 < image.frames;
  const TileLayout t(image);
  ChunkPool chunks(txn);
  // Each level's tiles first, then its macro blocks: a tile's group looks up its macro block's
  // record in frame + 1 before the macro groups are renumbered.
  auto level_bytes = stored_level_bytes(txn, image);
  if (!level_bytes) return level_bytes.status();
  for (uint8_t level_byte : *level_bytes) {
    const bool tiles = !is_macro_byte(level_byte);
    Status s = for_each_key_group(txn, image, level_byte, [&](std::vector<TileRecord>& group) -> Status {
      if (group.front().key.frame < frame) return Status::ok();  // newest first: nothing to do
      bool next_has_own = false;
      for (const TileRecord& r : group) next_has_own |= r.key.frame == frame + 1;
      if (has_next && !next_has_own && tiles) {
        // A tile's record of `frame` is what frame + 1 shows unless its macro block has a
        // record of frame + 1 (that one wins over older tile records).
        const TileKeyBytes block =
            encode_tile_key(TileKey{image.id, macro_level_byte(level_of_byte(level_byte)),
                                    t.macro_of(group[0].key.tile), frame + 1});
        auto found = txn.get(txn.env().tiles, block);
        if (!found) return found.status();
        next_has_own = found->has_value();
      }
      std::vector<TileRecord> moved;
      for (TileRecord& r : group) {
        if (r.key.frame < frame) continue;
        if (r.key.frame == frame && has_next && !next_has_own) continue;  // frame + 1 shows it: keep
        TESSERA_RETURN_IF_ERROR(txn.del(txn.env().tiles, r.bytes));
        if (r.key.frame > frame) {
          moved.push_back(std::move(r));
        } else if (r.value.kind == TileKind::kChunk) {
          TESSERA_RETURN_IF_ERROR(chunks.release(r.value.chunk));
        }
      }
      for (TileRecord& r : moved) {
        --r.key.frame;
        const TileKeyBytes key = encode_tile_key(r.key);
        TESSERA_RETURN_IF_ERROR(txn.put(txn.env().tiles, key, build_tile_record(key, r.value)));
      }
      return Status::ok();
    });
    if (!s.is_ok()) return s;
  }
  TESSERA_RETURN_IF_ERROR(drop_geometry(txn, image, frame));
  TESSERA_RETURN_IF_ERROR(drop_frame_attributes(txn, image, frame));
  TESSERA_RETURN_IF_ERROR(drop_frame_pyramid(txn, image, frame));
  // Imports into this frame or later ones cannot be resumed across the renumbering.
  for (uint32_t g = frame; g < image.frames; ++g)
    TESSERA_RETURN_IF_ERROR(txn.del(txn.env().meta, import_record_key(image.id, g)));
  --image.frames;
  return txn.put_image(image);
}

}  // namespace tessera::detail
