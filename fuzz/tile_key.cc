// Fuzz target: the tile key (format/keys.h). Every 25-byte string is some key, so decoding
// any 25 bytes and encoding the result must give back the same bytes. Keys built from fuzzed
// coordinates must round-trip too, and LMDB's bytewise order of keys must be the order the
// read paths rely on:
//  - image, then level, then the tile's Morton code, then the frame, newest first: for the
//    same tile and frames f < g, key(g) < key(f), and they share the 21-byte tile prefix;
//  - the Morton code grows with x at fixed y and with y at fixed x (signed coordinates);
//  - every aligned 2^k x 2^k block of tiles is one contiguous range of Morton codes.
//
// Input: [25 key bytes][key A: image u32, level u8, x i64, y i64, frame u32][frame g u32]
//        [key B: image u32, level u8, x i64, y i64, frame u32][block level k u8]
// (short inputs are padded with zeros).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "format/keys.h"
#include "fuzz_helpers.h"

namespace tessera::fuzz {
namespace {

using detail::kTileKeyPrefixSize;
using detail::kTileKeySize;
using detail::TileCoord;
using detail::TileKey;
using detail::TileKeyBytes;
using u128 = unsigned __int128;

u128 morton(TileCoord c) {
  const detail::Morton m = detail::morton_encode(c);
  return (u128(m.hi) << 64) | m.lo;
}

// memcmp order, LMDB's default key order: <0, 0, >0.
int compare(const TileKeyBytes& a, const TileKeyBytes& b) {
  const int c = std::memcmp(a.data(), b.data(), kTileKeySize);
  return (c > 0) - (c < 0);
}
template <typename T>
int compare_values(T a, T b) {
  return (a > b) - (a < b);
}

std::string describe(const TileKey& k) {
  return "{image " + std::to_string(k.image) + ", level " + std::to_string(k.level) + ", tile (" +
         std::to_string(k.tile.x) + "," + std::to_string(k.tile.y) + "), frame " +
         std::to_string(k.frame) + "}";
}

TileKey read_key(FuzzInput& in) {
  TileKey k;
  k.image = in.u32();
  k.level = in.u8();
  k.tile.x = in.i64();
  k.tile.y = in.i64();
  k.frame = in.u32();
  return k;
}

void check_bytes_round_trip(const uint8_t* bytes) {
  const TileKeyBytes again = detail::encode_tile_key(detail::decode_tile_key(bytes));
  FUZZ_CHECK(std::memcmp(again.data(), bytes, kTileKeySize) == 0,
             hex(bytes, kTileKeySize) + " re-encodes as " + hex(again.data(), kTileKeySize));
}

void check_key_round_trip(const TileKey& k) {
  const TileKey back = detail::decode_tile_key(detail::encode_tile_key(k).data());
  FUZZ_CHECK(back.image == k.image && back.level == k.level && back.tile == k.tile &&
                 back.frame == k.frame,
             describe(k) + " decodes as " + describe(back));
}

// Frames of one tile: newest first, one shared prefix.
void check_frame_order(TileKey k, uint32_t g) {
  const TileKeyBytes a = detail::encode_tile_key(k);
  TileKey newer = k;
  newer.frame = g;
  const TileKeyBytes b = detail::encode_tile_key(newer);
  FUZZ_CHECK(std::equal(a.begin(), a.begin() + kTileKeyPrefixSize, b.begin()),
             "two frames of one tile do not share the tile prefix: " + describe(k));
  FUZZ_CHECK(compare(b, a) == -compare_values(g, k.frame),
             "frames " + std::to_string(k.frame) + " and " + std::to_string(g) +
                 " of one tile are out of order: " + describe(k));
}

// Any two keys: ordered by image, level, Morton code, then frame descending.
void check_key_order(const TileKey& a, const TileKey& b) {
  int expected = compare_values(a.image, b.image);
  if (!expected) expected = compare_values(a.level, b.level);
  if (!expected) expected = compare_values(morton(a.tile), morton(b.tile));
  if (!expected) expected = compare_values(b.frame, a.frame);
  const int actual = compare(detail::encode_tile_key(a), detail::encode_tile_key(b));
  FUZZ_CHECK(actual == expected, describe(a) + " vs " + describe(b) + ": memcmp gives " +
                                     std::to_string(actual) + ", expected " +
                                     std::to_string(expected));
}

// Morton order is monotone in each coordinate when the other is held.
void check_monotone(TileCoord a, TileCoord b) {
  const TileCoord same_y{b.x, a.y}, same_x{a.x, b.y};
  FUZZ_CHECK(compare_values(morton(a), morton(same_y)) == compare_values(a.x, b.x),
             "Morton order along x breaks between x " + std::to_string(a.x) + " and " +
                 std::to_string(b.x) + " at y " + std::to_string(a.y));
  FUZZ_CHECK(compare_values(morton(a), morton(same_x)) == compare_values(a.y, b.y),
             "Morton order along y breaks between y " + std::to_string(a.y) + " and " +
                 std::to_string(b.y) + " at x " + std::to_string(a.x));
}

// The aligned 2^k x 2^k block of tiles around a is the Morton range
// [morton(block origin), morton(block origin) + 4^k), and b is in it exactly when it is in
// the block.
void check_block_range(TileCoord a, TileCoord b, unsigned k) {
  const TileCoord origin{(a.x >> k) * (int64_t(1) << k), (a.y >> k) * (int64_t(1) << k)};
  const u128 base = morton(origin), size = u128(1) << (2 * k);
  const u128 ma = morton(a), mb = morton(b);
  FUZZ_CHECK(ma - base < size, "tile (" + std::to_string(a.x) + "," + std::to_string(a.y) +
                                   ") is outside the Morton range of its 2^" + std::to_string(k) +
                                   " block");
  const bool b_in_block = (a.x >> k) == (b.x >> k) && (a.y >> k) == (b.y >> k);
  const bool b_in_range = mb >= base && mb - base < size;
  FUZZ_CHECK(b_in_block == b_in_range,
             "tile (" + std::to_string(b.x) + "," + std::to_string(b.y) + ") is " +
                 (b_in_block ? "in" : "not in") + " the 2^" + std::to_string(k) +
                 " block of (" + std::to_string(a.x) + "," + std::to_string(a.y) +
                 ") but its Morton code says otherwise");
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera::fuzz;
  if (size < tessera::detail::kTileKeySize) return 0;
  check_bytes_round_trip(data);

  FuzzInput in(data + tessera::detail::kTileKeySize, size - tessera::detail::kTileKeySize);
  const TileKey a = read_key(in);
  const uint32_t g = in.u32();
  const TileKey b = read_key(in);
  const unsigned k = in.u8() % 63;  // blocks up to 2^62 tiles across: origin stays representable

  check_key_round_trip(a);
  check_key_round_trip(b);
  check_frame_order(a, g);
  check_key_order(a, b);
  check_monotone(a.tile, b.tile);
  check_block_range(a.tile, b.tile, k);
  return 0;
}
