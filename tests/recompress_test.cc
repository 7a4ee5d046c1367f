// Compression tiers (Container::recompress, spec/FORMAT.md 5.4): the selected tiles' chunks
// encoded again; pixels of every image, frame and level unchanged; a chunk shared with
// unselected tiles re-encoded for them too; a second run rewrites nothing; verify --deep clean.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "test_util.h"
#include "tessera/tessera.h"

namespace tessera::test {
namespace {

class RecompressTest : public TempDirTest {
 protected:
  // Two u16 images of 2 bands, LZ4, smooth data with a little noise; image "b" holds a copy of
  // one tile of "a" (one shared chunk). "a" has 2 frames and a pyramid of 2 levels.
  void SetUp() override {
    auto c = Container::create(path("r.tsr"));
    ASSERT_TRUE(c.is_ok());
    Rng rng(3);
    ImageSpec spec;
    spec.type = DataType::kU16;
    spec.bands = 2;
    spec.tile_size = 32;
    std::vector<uint16_t> pixels(size_t(kData.pixel_count()) * 2);
    for (int64_t y = 0; y < kData.height; ++y)
      for (int64_t x = 0; x < kData.width; ++x)
        for (int b = 0; b < 2; ++b)
          pixels[size_t((y * kData.width + x) * 2 + b)] = uint16_t(1000 + 3 * x + 5 * y + 700 * b + rng.uniform(0, 3));
    ASSERT_OK(c->write([&](WriteTxn& txn) {
      TESSERA_RETURN_IF_ERROR(txn.create_image("a", spec));
      TESSERA_RETURN_IF_ERROR(txn.create_image("b", spec));
      TESSERA_RETURN_IF_ERROR(txn.write("a", kData, {}, pixels.data(), pixels.size() * 2));
      std::vector<uint16_t> tile(32 * 32 * 2);
      for (int64_t y = 0; y < 32; ++y)
        std::memcpy(&tile[size_t(y) * 64], &pixels[size_t(y * kData.width) * 2], 64 * 2);
      TESSERA_RETURN_IF_ERROR(txn.write("b", Region{320, 320, 32, 32}, {}, tile.data(), tile.size() * 2));
      std::vector<uint16_t> edit(40 * 40 * 2, 9);
      return txn.write("a", Region{100, 100, 40, 40}, Selection{1, 0, {}}, edit.data(), edit.size() * 2);
    }));
    ASSERT_OK(c->build_pyramid("a", PyramidOptions{std::nullopt, 2, Resampling::kMean, {}}));
  }

  static constexpr Region kData{0, 0, 256, 192};

  // Everything a reader can see: both images, every frame, every level of "a".
  std::map<std::string, std::vector<uint8_t>> everything(const View& view) {
    std::map<std::string, std::vector<uint8_t>> out;
    for (const char* image : {"a", "b"}) {
      const uint32_t frames = view.image(image)->frames;
      for (uint32_t f = 0; f < frames; ++f)
        for (uint32_t level = 0; level <= (std::string(image) == "a" ? 2u : 0u); ++level) {
          const Region r = level_region(Region{0, 0, 400, 400}, level);
          std::vector<uint8_t> pixels(r.pixel_count() * 4);
          EXPECT_OK(view.read(image, r, Selection{f, level, {}}, pixels.data(), pixels.size()));
          out[std::string(image) + "/" + std::to_string(f) + "/" + std::to_string(level)] = std::move(pixels);
        }
    }
    return out;
  }

  // The codec of each chunk tile image `image` shows at frame 0, level 0, by tile.
  std::map<std::pair<int64_t, int64_t>, Codec> codecs(const View& view, const std::string& image) {
    std::map<std::pair<int64_t, int64_t>, Codec> out;
    EXPECT_OK(view.list_tiles(image, {}, [&](const TileEntry& e) {
      if (e.chunk) out[{e.x, e.y}] = e.chunk->codec;
      return Status::ok();
    }));
    return out;
  }
};

TEST_F(RecompressTest, ARegionGetsZstdPixelsStayAndSharedChunksFollow) {
  ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("r.tsr")));
  std::map<std::string, std::vector<uint8_t>> before;
  {
    ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
    before = everything(snap);
    for (const auto& [tile, codec] : codecs(snap, "a")) EXPECT_EQ(codec, Codec::kLz4);
  }
  // The left half of "a", frame 0, every level.
  RecompressOptions options;
  options.region = Region{0, 0, 128, 192};
  options.last_frame = 0;
  options.codec = CodecSpec{Codec::kZstd, 9};
  std::vector<uint64_t> progress;
  options.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_LE(done, total);
    progress.push_back(done);
  };
  ASSERT_OK_AND_ASSIGN(RecompressReport report, c.recompress("a", options));
  // 4 x 6 tiles at level 0, 2 x 3 at level 1, 1 x 2 at level 2.
  EXPECT_EQ(report.chunks, 24u + 6u + 2u);
  EXPECT_EQ(report.rewritten, report.chunks);
  EXPECT_LT(report.bytes_after, report.bytes_before);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), report.chunks);
  {
    ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
    EXPECT_EQ(everything(snap), before);
    for (const auto& [tile, codec] : codecs(snap, "a"))
      EXPECT_EQ(codec, tile.first < 4 ? Codec::kZstd : Codec::kLz4) << tile.first << "," << tile.second;
    // Image "b" shares tile (0,0)'s chunk: it reads the new encoding too.
    EXPECT_EQ(codecs(snap, "b").at({10, 10}), Codec::kZstd);
  }
  // A run again finds everything encoded so already.
  ASSERT_OK_AND_ASSIGN(RecompressReport again, c.recompress("a", options));
  EXPECT_EQ(again.chunks, report.chunks);
  EXPECT_EQ(again.rewritten, 0u);
  EXPECT_EQ(again.bytes_before, report.bytes_after);
  // Back to LZ4 without shuffle, all of it.
  RecompressOptions all;
  all.codec = CodecSpec{Codec::kLz4, 0};
  all.filter = Filter::kNone;
  ASSERT_OK_AND_ASSIGN(RecompressReport back, c.recompress("a", all));
  EXPECT_EQ(back.rewritten, back.chunks);
  {
    ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
    EXPECT_EQ(everything(snap), before);
  }
  ASSERT_OK_AND_ASSIGN(VerifyReport verified, verify(path("r.tsr"), VerifyOptions{.deep = true}));
  EXPECT_TRUE(verified.clean()) << (verified.faults.empty() ? "" : verified.faults[0].message);
}

TEST_F(RecompressTest, RefusesWhatCannotBeSelected) {
  ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("r.tsr")));
  RecompressOptions options;
  options.codec = CodecSpec{Codec::kZstd, 30};
  EXPECT_CODE(c.recompress("a", options), Code::kInvalidArgument);
  options.codec = CodecSpec{Codec::kZstd, 3};
  options.first_frame = 2;
  options.last_frame = 1;
  EXPECT_CODE(c.recompress("a", options), Code::kInvalidArgument);
  options.last_frame = 5;
  EXPECT_CODE(c.recompress("a", options), Code::kNotFound);
  options.first_frame = 0;
  options.region = Region{0, 0, 0, 5};
  EXPECT_CODE(c.recompress("a", options), Code::kInvalidArgument);
  options.region.reset();
  EXPECT_CODE(c.recompress("nope", options), Code::kNotFound);
}

}  // namespace
}  // namespace tessera::test
