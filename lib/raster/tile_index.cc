#include "raster/tile_index.h"

#include <cstring>

namespace tessera::detail {

TileLayout::TileLayout(const ImageInfo& info)
    : tile_size(info.spec.tile_size),
      shift(std::countr_zero(info.spec.tile_size)),
      macro_shift(std::countr_zero(info.spec.macro_tiles)),
      bands(info.spec.bands),
      sample(sample_size(info.spec.type)),
      storage(info.spec.storage),
      codec(info.spec.codec.codec) {}

int64_t TileLayout::pixel_stride() const {
  return storage == StorageLayout::kChunky ? int64_t(pixel_bytes()) : int64_t(sample);
}
int64_t TileLayout::line_stride() const { return pixel_stride() * tile_size; }
size_t TileLayout::band_offset(uint32_t band) const {
  return storage == StorageLayout::kChunky ? band * sample
                                           : size_t(band) * tile_size * tile_size * sample;
}

// Expands one pixel over a whole tile buffer in storage layout.
void fill_tile_with(const TileLayout& t, const uint8_t* pixel, uint8_t* tile) {
  const size_t px = t.pixel_bytes(), n = size_t(t.tile_size) * t.tile_size;
  if (t.storage == StorageLayout::kChunky) {
    for (size_t i = 0; i < n; ++i) std::memcpy(tile + i * px, pixel, px);
    return;
  }
  for (uint32_t b = 0; b < t.bands; ++b) {
    uint8_t* plane = tile + t.band_offset(b);
    for (size_t i = 0; i < n; ++i) std::memcpy(plane + i * t.sample, pixel + b * t.sample, t.sample);
  }
}

TileRange tiles_of(const TileLayout& layout, const Region& region) {
  const TileCoord a = layout.tile_of(region.x, region.y);
  const TileCoord b = layout.tile_of(region.x_end() - 1, region.y_end() - 1);
  return TileRange{a.x, a.y, b.x, b.y};
}

TileRange TileLayout::tiles_of_macro(TileCoord macro) const {
  const int64_t n = int64_t(1) << macro_shift;
  return TileRange{macro.x * n, macro.y * n, macro.x * n + n - 1, macro.y * n + n - 1};
}

bool uniform_pixel(const TileLayout& t, const uint8_t* tile, std::vector<uint8_t>& pixel) {
  const size_t n = size_t(t.tile_size) * t.tile_size;
  pixel.resize(t.pixel_bytes());
  if (t.storage == StorageLayout::kChunky) {
    // A buffer repeats with period p exactly when it equals itself shifted by p.
    const size_t p = t.pixel_bytes();
    if (std::memcmp(tile, tile + p, (n - 1) * p) != 0) return false;
    std::memcpy(pixel.data(), tile, p);
    return true;
  }
  for (uint32_t b = 0; b < t.bands; ++b) {
    const uint8_t* plane = tile + t.band_offset(b);
    if (std::memcmp(plane, plane + t.sample, (n - 1) * t.sample) != 0) return false;
    std::memcpy(pixel.data() + b * t.sample, plane, t.sample);
  }
  return true;
}

std::string tile_context(const ImageInfo& image, TileCoord tile, uint32_t frame) {
  return "image '" + image.name + "' tile (" + std::to_string(tile.x) + "," +
         std::to_string(tile.y) + ") frame " + std::to_string(frame);
}

Result<std::optional<TileVersion>> find_version(const Txn& txn, Cursor& cursor,
                                                const ImageInfo& image, uint8_t level,
                                                TileCoord tile, uint32_t frame) {
  const TileKeyBytes key = encode_tile_key(TileKey{image.id, level, tile, frame});
  MDB_val k = to_val(key), v;
  auto found = cursor.get(&k, &v, MDB_SET_RANGE);
  if (!found) return found.status();
  if (!*found || k.mv_size < kTileKeyPrefixSize ||
      std::memcmp(k.mv_data, key.data(), kTileKeyPrefixSize) != 0)
    return std::optional<TileVersion>();
  if (k.mv_size != kTileKeySize)
    return txn.env().error(Code::kCorrupt, tile_context(image, tile, frame) + ": tile key of " +
                                               std::to_string(k.mv_size) + " bytes, not 25");
  TileKeyBytes found_key;
  std::memcpy(found_key.data(), k.mv_data, kTileKeySize);
  TileVersion version;
  version.frame = decode_tile_key(bytes_of(k)).frame;
  auto value = parse_tile_record(found_key, bytes_of(v), v.mv_size, image.pixel_bytes());
  if (!value)
    return value.status().with_context(txn.env().path() + ": " +
                                       tile_context(image, tile, version.frame));
  version.value = std::move(value.value());
  return std::optional<TileVersion>(std::move(version));
}


std::optional<TileVersion> shown_version(std::optional<TileVersion> own,
                                         std::optional<TileVersion> macro) {
  if (macro && (!own || macro->frame > own->frame)) return macro;
  return own;
}

TileLookup::TileLookup(const Txn& txn, const ImageInfo& image, uint32_t level, uint32_t frame)
    : txn_(txn),
      image_(image),
      level_(level),
      frame_(frame),
      macro_shift_(std::countr_zero(image.spec.macro_tiles)),
      cursor_(txn, txn.env().tiles) {}

Result<std::optional<TileVersion>> TileLookup::own(TileCoord tile, uint32_t frame) {
  return find_version(txn_, cursor_, image_, tile_level_byte(level_), tile, frame);
}

Result<std::optional<TileVersion>> TileLookup::macro(TileCoord block) {
  if (cached_ && cached_->block == block) return cached_->version;
  auto version = find_version(txn_, cursor_, image_, macro_level_byte(level_), block, frame_);
  if (!version) return version;
  if (*version) {
    (*version)->macro = true;
    if ((*version)->value.kind != TileKind::kUniform)
      return txn_.env().error(Code::kCorrupt, "image '" + image_.name + "' macro block (" +
                                                  std::to_string(block.x) + "," + std::to_string(block.y) +
                                                  ") frame " + std::to_string((*version)->frame) +
                                                  ": a macro-block record that is not uniform");
  }
  cached_ = CachedMacro{block, *version};
  return version;
}

Result<std::optional<TileVersion>> TileLookup::find(TileCoord tile) {
  auto own_version = own(tile);
  if (!own_version) return own_version;
  auto macro_version = macro({tile.x >> macro_shift_, tile.y >> macro_shift_});
  if (!macro_version) return macro_version;
  return shown_version(std::move(*own_version), std::move(*macro_version));
}

}  // namespace tessera::detail
