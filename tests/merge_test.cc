// Merging (WriteTxn::merge): the tiles a shard container holds, adopted into another
// container's image with their encoding; against the same pixels written directly, with the
// tiles the shard does not show left alone, pyramid levels in step, and verify --deep clean.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <cstring>
#include <map>

#include "test_util.h"
#include "tessera/tessera.h"

namespace tessera::test {
namespace {

class MergeTest : public TempDirTest {
 protected:
  static ImageSpec spec(Codec codec) {
    ImageSpec s;
    s.type = DataType::kU16;
    s.bands = 2;
    s.tile_size = 16;
    s.macro_tiles = 2;
    s.fill = {5};
    s.codec = CodecSpec{codec, 0};
    return s;
  }
  // Smooth pixels with noise (chunks), a uniform block, and fill: every kind of tile.
  static std::vector<uint16_t> pixels(const Region& r, uint64_t seed) {
    Rng rng(seed);
    std::vector<uint16_t> out(size_t(r.pixel_count()) * 2);
    for (int64_t y = 0; y < r.height; ++y)
      for (int64_t x = 0; x < r.width; ++x)
        for (int b = 0; b < 2; ++b) {
          const int64_t gx = r.x + x, gy = r.y + y;
          uint16_t v = uint16_t(100 + gx + 2 * gy + 50 * b + rng.uniform(0, 2));
          if (gx >= 32 && gx < 64) v = 9;   // uniform tiles
          if (gy >= 32) v = 5;              // fill: absent tiles
          out[size_t((y * r.width + x) * 2 + b)] = v;
        }
    return out;
  }
  // A new container `file` holding image `image` with pixels(area, seed) written into it.
  Container with_image(const char* file, const char* image, Codec codec, const Region& area, uint64_t seed) {
    auto c = Container::create(path(file));
    EXPECT_OK(c);
    const auto p = pixels(area, seed);
    EXPECT_OK(c->write([&](WriteTxn& t) {
      TESSERA_RETURN_IF_ERROR(t.create_image(image, spec(codec)));
      return t.write(image, area, {}, p.data(), p.size() * 2);
    }));
    return std::move(c).value();
  }
  static std::vector<uint8_t> read(const View& v, const char* image, const Region& r, uint32_t frame = 0,
                                   uint32_t level = 0) {
    std::vector<uint8_t> out(r.pixel_count() * 4);
    EXPECT_OK(v.read(image, r, Selection{frame, level, {}}, out.data(), out.size()));
    return out;
  }
};

TEST_F(MergeTest, AdoptsTheShardsTilesWithTheirEncoding) {
  const Region shard_area{-32, -16, 96, 64};  // tile-aligned: 6 x 4 tiles
  const Region before_area{-64, -64, 64, 48};
  Container shard = with_image("shard.tsr", "s", Codec::kZstd, shard_area, 1);
  // The target: data of its own in part of the shard's area, a pyramid, LZ4; and the
  // reference, the same writes made directly, in the same order.
  Container target = with_image("target.tsr", "img", Codec::kLz4, before_area, 2);
  Container reference = with_image("direct.tsr", "img", Codec::kLz4, before_area, 2);
  ASSERT_OK(target.build_pyramid("img", PyramidOptions{0, 3, Resampling::kMean, {}}));
  ASSERT_OK(reference.build_pyramid("img", PyramidOptions{0, 3, Resampling::kMean, {}}));
  // The shard replaces whole tiles: what it shows as fill (absent) leaves the target's tiles.
  ASSERT_OK(reference.write([&](WriteTxn& t) {
    const Region shown{-32, -16, 96, 48};  // rows of fill at y >= 32 are absent in the shard
    const auto p = pixels(shown, 1);
    return t.write("img", shown, {}, p.data(), p.size() * 2);
  }));

  ASSERT_OK_AND_ASSIGN(auto source, shard.snapshot());
  for (int round = 0; round < 2; ++round) {  // a second merge changes nothing
    ASSERT_OK(target.write([&](WriteTxn& t) { return t.merge(source, "s", "img"); }));
    ASSERT_OK_AND_ASSIGN(auto got, target.snapshot());
    ASSERT_OK_AND_ASSIGN(auto want, reference.snapshot());
    const Region all{-80, -80, 176, 176};
    for (uint32_t level = 0; level <= 3; ++level)
      EXPECT_EQ(read(got, "img", level_region(all, level), 0, level), read(want, "img", level_region(all, level), 0, level))
          << "round " << round << " level " << level;
    EXPECT_EQ(got.bounds("img").value(), want.bounds("img").value());
  }
  // The shard's chunks kept their codec (zstd) in the LZ4 image.
  ASSERT_OK_AND_ASSIGN(auto got, target.snapshot());
  int zstd = 0;
  ASSERT_OK(got.list_tiles("img", TileListOptions{}, [&](const TileEntry& e) {
    if (e.chunk && e.chunk->codec == Codec::kZstd) ++zstd;
    return Status::ok();
  }));
  EXPECT_GT(zstd, 0);
  ASSERT_OK_AND_ASSIGN(VerifyReport report, verify(path("target.tsr"), VerifyOptions{.deep = true}));
  EXPECT_TRUE(report.clean()) << report.faults[0].invariant << ": " << report.faults[0].message;

  // Another frame: frame == frames appends one; frame > frames is refused.
  ASSERT_OK(target.write([&](WriteTxn& t) { return t.merge(source, "s", "img", 1); }));
  ASSERT_OK_AND_ASSIGN(auto two, target.snapshot());
  EXPECT_EQ(two.image("img")->frames, 2u);
  EXPECT_CODE(target.write([&](WriteTxn& t) { return t.merge(source, "s", "img", 5); }), Code::kNotFound);
}

TEST_F(MergeTest, RefusesImagesThatDiffer) {
  auto a = Container::create(path("a.tsr"));
  auto b = Container::create(path("b.tsr"));
  ASSERT_OK(a);
  ASSERT_OK(b);
  ImageSpec other = spec(Codec::kLz4);
  other.tile_size = 32;
  ASSERT_OK(a->write([&](WriteTxn& t) { return t.create_image("x", spec(Codec::kLz4)); }));
  ASSERT_OK(b->write([&](WriteTxn& t) { return t.create_image("y", other); }));
  ASSERT_OK_AND_ASSIGN(auto source, b->snapshot());
  Status s = a->write([&](WriteTxn& t) { return t.merge(source, "y", "x"); });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("tile size 32 against 16"), std::string::npos) << s.message();
  EXPECT_CODE(a->write([&](WriteTxn& t) { return t.merge(source, "nope", "x"); }), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto self, a->snapshot());
  EXPECT_CODE(a->write([&](WriteTxn& t) { return t.merge(self, "x", "x"); }), Code::kInvalidArgument);
}

// A damaged chunk in the shard: the merge fails with kCorrupt naming the shard, and the target
// is as it was.
TEST_F(MergeTest, DamagedShardChangesNothing) {
  {
    Container shard = with_image("shard.tsr", "s", Codec::kLz4, Region{0, 0, 32, 32}, 3);
  }  // closed: its file is damaged below
  auto target = Container::create(path("target.tsr"));
  ASSERT_OK(target);
  ASSERT_OK(target->write([&](WriteTxn& t) { return t.create_image("img", spec(Codec::kLz4)); }));
  std::vector<std::pair<std::string, std::string>> chunks;
  ASSERT_TRUE(lmdb_entries(path("shard.tsr"), "chunks", &chunks));
  ASSERT_FALSE(chunks.empty());
  std::string damaged = chunks[0].second;
  damaged[damaged.size() / 2] ^= 0x10;
  {
    LmdbFile lmdb(path("shard.tsr"), true);
    ASSERT_EQ(lmdb.error(), "");
    MDB_txn* txn = nullptr;
    MDB_dbi dbi = 0;
    ASSERT_EQ(mdb_txn_begin(lmdb.env(), nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "chunks", 0, &dbi), 0);
    MDB_val k{chunks[0].first.size(), chunks[0].first.data()}, v{damaged.size(), damaged.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  OpenOptions ro;
  ro.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto reopened, Container::open(path("shard.tsr"), ro));
  ASSERT_OK_AND_ASSIGN(auto source, reopened.snapshot());
  Status s = target->write([&](WriteTxn& t) { return t.merge(source, "s", "img"); });
  EXPECT_EQ(s.code(), Code::kCorrupt) << s.to_string();
  EXPECT_NE(s.message().find("shard.tsr"), std::string::npos) << s.message();
  ASSERT_OK_AND_ASSIGN(auto after, target->snapshot());
  EXPECT_FALSE(after.bounds("img").value().has_value());
}

}  // namespace
}  // namespace tessera::test
