// The spatial key: Morton codes round-trip, order the quadtree, and frames sort newest first.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "format/keys.h"

namespace tessera::detail {
namespace {

TEST(MortonTest, RoundTripsSignedCoordinatesIncludingExtremes) {
  std::mt19937_64 rng(7);
  std::vector<TileCoord> coords = {{0, 0}, {-1, 0}, {0, -1}, {INT64_MIN, INT64_MAX},
                                   {INT64_MAX, INT64_MIN}, {(1LL << 54), -(1LL << 54)}};
  for (int i = 0; i < 10000; ++i) coords.push_back({int64_t(rng()), int64_t(rng())});
  for (TileCoord c : coords) EXPECT_EQ(morton_decode(morton_encode(c)), c);
}

TEST(MortonTest, MacroBlocksAreContiguousKeyRanges) {
  // All tiles of an aligned 4x4 block (negative coordinates too) share the Morton prefix
  // above their low 4 bits, and no tile outside the block falls between them.
  for (int64_t bx : {-8, -4, 0, 4}) {
    for (int64_t by : {-4, 0, 8}) {
      std::vector<TileKeyBytes> inside, outside;
      for (int64_t y = by - 4; y < by + 8; ++y)
        for (int64_t x = bx - 4; x < bx + 8; ++x) {
          const bool in = x >= bx && x < bx + 4 && y >= by && y < by + 4;
          (in ? inside : outside).push_back(encode_tile_key({1, 0, {x, y}, 0}));
        }
      const auto [lo, hi] = std::minmax_element(inside.begin(), inside.end());
      for (const auto& k : outside) EXPECT_FALSE(k > *lo && k < *hi);
    }
  }
}

TEST(TileKeyTest, LargerFrameSortsFirstWithinATile) {
  const auto f0 = encode_tile_key({3, 0, {5, -9}, 0});
  const auto f1 = encode_tile_key({3, 0, {5, -9}, 1});
  const auto f9 = encode_tile_key({3, 0, {5, -9}, 9});
  EXPECT_LT(f9, f1);
  EXPECT_LT(f1, f0);
  EXPECT_TRUE(std::equal(f0.begin(), f0.begin() + kTileKeyPrefixSize, f9.begin()));
}

TEST(TileKeyTest, RoundTripsEveryField) {
  TileKey key{0xA1B2C3D4, 7, {-123456789, 987654321}, 0xFFFFFFFE};
  const TileKey back = decode_tile_key(encode_tile_key(key).data());
  EXPECT_EQ(back.image, key.image);
  EXPECT_EQ(back.level, key.level);
  EXPECT_EQ(back.tile, key.tile);
  EXPECT_EQ(back.frame, key.frame);
}

TEST(TileKeyTest, ImagesAndLevelsAreSeparateRanges) {
  EXPECT_LT(encode_tile_key({1, 0, {INT64_MAX, INT64_MAX}, 0}), encode_tile_key({1, 1, {INT64_MIN, INT64_MIN}, 0}));
  EXPECT_LT(encode_tile_key({1, 9, {INT64_MAX, INT64_MAX}, 0}), encode_tile_key({2, 0, {INT64_MIN, INT64_MIN}, 0}));
}

TEST(ChunkKeyTest, HexNamesEveryByte) {
  const ChunkKey key = make_chunk_key(0x0123456789abcdefULL, 0xfedcba9876543210ULL, 2);
  EXPECT_EQ(chunk_key_hex(key), "0123456789abcdeffedcba987654321002");
}

}  // namespace
}  // namespace tessera::detail
