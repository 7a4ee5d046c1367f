// Keys of the LMDB databases (spec/FORMAT.md, "Keys"). All big-endian so that LMDB's
// bytewise order is the order we want:
//  - tiles:  image id (u32) | level (u8) | Morton code of the tile (16 bytes) | ~frame (u32)
//            Interleaving the tile coordinate bits makes every macro block and every quadtree
//            node above it one contiguous key range. The frame is stored complemented so a
//            larger frame sorts first: a seek to (tile, ~f) lands on the newest version <= f.
//  - chunks/refs: XXH3-128 of the raw tile bytes (16 bytes, high half first) | collision index (u8)
//  - images: image id (u32)
//  - geometry: image id (u32) | frame (u32) | precision (u8)
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace tessera::detail {

constexpr size_t kTileKeySize = 25;
constexpr size_t kChunkKeySize = 17;
constexpr size_t kImageKeySize = 4;
constexpr size_t kGeometryKeySize = 9;

using TileKeyBytes = std::array<uint8_t, kTileKeySize>;
using ChunkKey = std::array<uint8_t, kChunkKeySize>;

struct TileCoord {
  int64_t x = 0, y = 0;  // tile column and row (pixel coordinate >> tile_size_log2)
  bool operator==(const TileCoord&) const = default;
};

// 128-bit Morton code of a signed tile coordinate: bit i of x (sign flipped) goes to bit 2i,
// bit i of y to bit 2i+1.
struct Morton {
  uint64_t hi = 0, lo = 0;
};
Morton morton_encode(TileCoord c);
TileCoord morton_decode(Morton m);

struct TileKey {
  uint32_t image = 0;
  uint8_t level = 0;
  TileCoord tile;
  uint32_t frame = 0;
};
TileKeyBytes encode_tile_key(const TileKey& key);
TileKey decode_tile_key(const uint8_t* bytes);  // caller checks the size is kTileKeySize
// The first 21 bytes (image, level, Morton): all versions of one tile share them.
constexpr size_t kTileKeyPrefixSize = 21;
// The first 5 bytes (image, level): every tile of one level of one image shares them.
constexpr size_t kLevelPrefixSize = 5;
// A level byte with this bit set marks a macro-block record: the Morton code is that of the
// macro block (tile coordinate >> macro_tiles_log2), the record holds one uniform pixel that
// every tile of the block shows, unless the tile has a record of the same or a newer frame.
constexpr uint8_t kMacroLevelFlag = 0x80;

std::array<uint8_t, kImageKeySize> encode_image_key(uint32_t image);

// geometry: image id (u32) | frame (u32) | precision (u8: 0 operative, 1 root, 2 leaf, 3 exact)
using GeometryKey = std::array<uint8_t, kGeometryKeySize>;
GeometryKey encode_geometry_key(uint32_t image, uint32_t frame, uint8_t precision);

// Chunk key from a 128-bit content hash and a collision index (0 unless two different tiles
// ever share a hash).
ChunkKey make_chunk_key(uint64_t hash_hi, uint64_t hash_lo, uint8_t collision);
std::string chunk_key_hex(const ChunkKey& key);
std::string hex_of(const uint8_t* data, size_t size);  // lower-case hex digits, for messages  // 34 hex digits, for messages and tools

}  // namespace tessera::detail
