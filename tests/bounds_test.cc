// Bounding boxes (leaf and exact) against brute force over a dense reference canvas, through
// random paints and erasures, for chunky and planar tiles.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "tessera/container.h"

namespace tessera {
namespace {

constexpr int64_t kOrigin = -96, kSize = 192, kTile = 16;

struct Canvas {
  uint32_t bands;
  std::vector<uint8_t> px = std::vector<uint8_t>(size_t(kSize * kSize) * 3, 7);  // fill 7
  uint8_t& at(int64_t x, int64_t y, uint32_t b) {
    return px[size_t(((y - kOrigin) * kSize + (x - kOrigin)) * 3 + b)];
  }
  bool non_fill(int64_t x, int64_t y) {
    for (uint32_t b = 0; b < bands; ++b)
      if (at(x, y, b) != 7) return true;
    return false;
  }
  // Brute force: exact box, and the box of tiles holding a non-fill pixel.
  std::optional<Region> box(bool leaf) {
    int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = INT64_MIN, y1 = INT64_MIN;
    for (int64_t y = kOrigin; y < kOrigin + kSize; ++y)
      for (int64_t x = kOrigin; x < kOrigin + kSize; ++x)
        if (non_fill(x, y)) {
          int64_t lx = leaf ? (x >> 4) << 4 : x, ly = leaf ? (y >> 4) << 4 : y;
          int64_t hx = leaf ? lx + kTile - 1 : x, hy = leaf ? ly + kTile - 1 : y;
          x0 = std::min(x0, lx), y0 = std::min(y0, ly), x1 = std::max(x1, hx), y1 = std::max(y1, hy);
        }
    if (x1 < x0) return std::nullopt;
    return Region{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
  }
};

class BoundsTest : public ::testing::TestWithParam<std::tuple<StorageLayout, uint32_t>> {};

TEST_P(BoundsTest, MatchBruteForceThroughPaintAndErase) {
  const auto [layout, bands] = GetParam();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tessera-bounds-" + std::to_string(::getpid()) + "-" + std::to_string(bands) +
                    (layout == StorageLayout::kChunky ? "c" : "p"));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto container = Container::create((dir / "b.tsr").string());
  ASSERT_TRUE(container.is_ok()) << container.status().to_string();
  ImageSpec spec;
  spec.bands = bands;
  spec.tile_size = kTile;
  spec.fill = {7};
  spec.storage = layout;
  ASSERT_TRUE(container->write([&](WriteTxn& t) { return t.create_image("c", spec); }).is_ok());

  Canvas ref{bands};
  std::mt19937_64 rng(1234 + bands);
  for (int step = 0; step < 40; ++step) {
    // Small strokes, some of them erasing (painting the fill value), a few single pixels.
    const int64_t w = 1 + int64_t(rng() % 40), h = 1 + int64_t(rng() % 40);
    const Region r{kOrigin + int64_t(rng() % uint64_t(kSize - w)),
                   kOrigin + int64_t(rng() % uint64_t(kSize - h)), w, h};
    const bool erase = rng() % 3 == 0;
    std::vector<uint8_t> buf(size_t(w * h) * bands);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (uint32_t b = 0; b < bands; ++b) {
          const uint8_t v = erase ? 7 : uint8_t(rng() % 4 == 0 ? 7 : rng());
          buf[size_t((y * w + x) * bands + b)] = v;
          ref.at(r.x + x, r.y + y, b) = v;
        }
    ASSERT_TRUE(container->write([&](WriteTxn& t) {
      return t.write("c", r, {}, buf.data(), buf.size());
    }).is_ok());
    auto snap = container->snapshot();
    ASSERT_TRUE(snap.is_ok());
    for (Precision p : {Precision::kLeaf, Precision::kExact}) {
      auto got = snap->bounds("c", 0, p);
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      const auto want = ref.box(p == Precision::kLeaf);
      ASSERT_EQ(got->has_value(), want.has_value()) << "step " << step;
      if (want) {
        EXPECT_EQ(to_string(**got), to_string(*want)) << "step " << step << " precision " << int(p);
      }
    }
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Layouts, BoundsTest,
                         ::testing::Combine(::testing::Values(StorageLayout::kChunky,
                                                              StorageLayout::kPlanar),
                                            ::testing::Values(1u, 3u)));

}  // namespace
}  // namespace tessera
