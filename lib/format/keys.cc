#include "format/keys.h"

#include <cstdio>

#include "util/bytes.h"

namespace tessera::detail {
namespace {

constexpr uint64_t kSignFlip = uint64_t(1) << 63;

// Spreads the 32 bits of v to the even bits of a 64-bit word.
uint64_t spread(uint32_t v) {
  uint64_t x = v;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFFull;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FFull;
  x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0Full;
  x = (x | (x << 2)) & 0x3333333333333333ull;
  x = (x | (x << 1)) & 0x5555555555555555ull;
  return x;
}

// Gathers the even bits of a 64-bit word into 32 bits.
uint32_t gather(uint64_t x) {
  x &= 0x5555555555555555ull;
  x = (x | (x >> 1)) & 0x3333333333333333ull;
  x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0Full;
  x = (x | (x >> 4)) & 0x00FF00FF00FF00FFull;
  x = (x | (x >> 8)) & 0x0000FFFF0000FFFFull;
  x = (x | (x >> 16)) & 0x00000000FFFFFFFFull;
  return uint32_t(x);
}

}  // namespace

Morton morton_encode(TileCoord c) {
  const uint64_t ux = uint64_t(c.x) ^ kSignFlip, uy = uint64_t(c.y) ^ kSignFlip;
  Morton m;
  m.hi = spread(uint32_t(ux >> 32)) | (spread(uint32_t(uy >> 32)) << 1);
  m.lo = spread(uint32_t(ux)) | (spread(uint32_t(uy)) << 1);
  return m;
}

TileCoord morton_decode(Morton m) {
  const uint64_t ux = (uint64_t(gather(m.hi)) << 32) | gather(m.lo);
  const uint64_t uy = (uint64_t(gather(m.hi >> 1)) << 32) | gather(m.lo >> 1);
  return TileCoord{int64_t(ux ^ kSignFlip), int64_t(uy ^ kSignFlip)};
}

TileKeyBytes encode_tile_key(const TileKey& key) {
  TileKeyBytes out;
  const Morton m = morton_encode(key.tile);
  put_be32(out.data(), key.image);
  out[4] = key.level;
  put_be64(out.data() + 5, m.hi);
  put_be64(out.data() + 13, m.lo);
  put_be32(out.data() + 21, ~key.frame);
  return out;
}

TileKey decode_tile_key(const uint8_t* p) {
  TileKey key;
  key.image = get_be32(p);
  key.level = p[4];
  key.tile = morton_decode(Morton{get_be64(p + 5), get_be64(p + 13)});
  key.frame = ~get_be32(p + 21);
  return key;
}

GeometryKey encode_geometry_key(uint32_t image, uint32_t frame, uint8_t precision) {
  GeometryKey key;
  put_be32(key.data(), image);
  put_be32(key.data() + 4, frame);
  key[8] = precision;
  return key;
}

std::array<uint8_t, kImageKeySize> encode_image_key(uint32_t image) {
  std::array<uint8_t, kImageKeySize> out;
  put_be32(out.data(), image);
  return out;
}

ChunkKey make_chunk_key(uint64_t hash_hi, uint64_t hash_lo, uint8_t collision) {
  ChunkKey key;
  put_be64(key.data(), hash_hi);
  put_be64(key.data() + 8, hash_lo);
  key[16] = collision;
  return key;
}

std::string hex_of(const uint8_t* data, size_t size) {
  std::string out(size * 2, '0');
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::string chunk_key_hex(const ChunkKey& key) { return hex_of(key.data(), key.size()); }

}  // namespace tessera::detail
