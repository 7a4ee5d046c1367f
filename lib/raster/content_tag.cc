#include "raster/content_tag.h"

#include <cstdio>
#include <memory>
#include <mutex>

#include "raster/reduced_read.h"
#include "raster/tile_index.h"
#include "util/xxhash.h"

namespace tessera::detail {

Result<std::string> content_tag(Txn& txn, const ImageInfo& image, const Region& region, const Selection& sel) {
  XXH3_state_t* state = XXH3_createState();
  if (!state) return Status(Code::kIoError, "content tag: out of memory");
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> owned(state, XXH3_freeState);
  XXH3_128bits_reset(state);
  const auto add = [&](const void* data, size_t size) { XXH3_128bits_update(state, data, size); };
  const uint8_t type = uint8_t(image.spec.type);
  add(&type, 1);
  add(&image.spec.bands, sizeof image.spec.bands);
  add(&image.spec.tile_size, sizeof image.spec.tile_size);
  add(image.fill_pixel.data(), image.fill_pixel.size());
  TESSERA_ASSIGN_OR_RETURN(LevelSource source, level_source(txn, image, region, sel));
  const uint8_t from[3] = {uint8_t(source.level), uint8_t(source.reductions), uint8_t(source.rule)};
  add(from, sizeof from);
  const TileLayout t(image);
  const TileRange range = tiles_of(t, source.region);
  if (range.count() > kMaxTaggedTiles)
    return Status(Code::kInvalidArgument, txn.env().path() + ": image '" + image.name + "': region " +
                                              to_string(region) + " touches " + std::to_string(range.count()) +
                                              " tiles of level " + std::to_string(source.level) + ", more than the " +
                                              std::to_string(kMaxTaggedTiles) + " a content tag covers");
  std::lock_guard lock(txn.lmdb_mutex());
  TileLookup lookup(txn, image, source.level, sel.frame);
  TESSERA_RETURN_IF_ERROR(lookup.status());
  for (int64_t ty = range.y0; ty <= range.y1; ++ty)
    for (int64_t tx = range.x0; tx <= range.x1; ++tx) {
      TESSERA_ASSIGN_OR_RETURN(std::optional<TileVersion> version, lookup.find(TileCoord{tx, ty}));
      const uint8_t kind = version ? uint8_t(version->value.kind) : uint8_t(TileKind::kTombstone);
      add(&kind, 1);
      if (!version) continue;
      if (version->value.kind == TileKind::kUniform) add(version->value.uniform.data(), version->value.uniform.size());
      if (version->value.kind == TileKind::kChunk) add(version->value.chunk.data(), version->value.chunk.size());
    }
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return std::string(hex, 32);
}

}  // namespace tessera::detail
