#include "raster/inspect.h"

#include <string>
#include <unordered_set>

#include "raster/request.h"
#include "raster/tile_scan.h"
#include "store/chunk_pool.h"

namespace tessera::detail {

Result<ImageStats> image_stats(const Txn& txn, const ImageInfo& image, uint32_t level, uint32_t frame) {
  TESSERA_RETURN_IF_ERROR(check_frame(txn.env().path(), image, frame));
  ImageStats stats;
  std::unordered_set<std::string> seen;
  ChunkPool pool(const_cast<Txn&>(txn));
  const uint64_t tile_bytes = image.tile_bytes();
  Status s = for_each_visible_tile(txn, image, level, frame, [&](TileCoord tile, const TileVersion& version,
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
