// Frame sequences, macro-block collapse and geometry caches against a reference model: a list
// of dense in-memory canvases, one per frame, through random frame creations, edits, erasures,
// drops and aborted transactions (fixed seeds). After every commit each frame must read back
// exactly, its boxes at all four precisions must match brute force, and at the end the chunk
// references recounted from the raw databases must match the stored counts. Then fixed cases:
// what frames cost, macro blocks collapsing, geometry caches. (Compaction: compact_test.cc;
// format versions and upgrades: format_version_test.cc.)
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "tessera_generated.h"
#include "tessera/container.h"
#include "test_util.h"

namespace tessera::test {
namespace {

using seq_file::canvas_spec;
using seq_file::kBands;
using seq_file::kFill;
using seq_file::kMacro;
using seq_file::kTile;
constexpr int64_t kX0 = -64, kY0 = -48, kW = 128, kH = 128;
const Region kCanvas{kX0, kY0, kW, kH};

// One frame: a dense BIP canvas (every pixel outside it is fill and is never written).
struct Canvas {
  std::vector<uint8_t> px = std::vector<uint8_t>(size_t(kW * kH) * kBands);
  Canvas() {
    for (size_t i = 0; i < px.size(); ++i) px[i] = kFill[i % kBands];
  }
  uint8_t& at(int64_t x, int64_t y, uint32_t b) {
    return px[size_t((y - kY0) * kW + (x - kX0)) * kBands + b];
  }
  bool non_fill(int64_t x, int64_t y) {
    for (uint32_t b = 0; b < kBands; ++b)
      if (at(x, y, b) != kFill[b]) return true;
    return false;
  }
  // Brute force boxes: exact, or of the cells (tiles, macro blocks) holding a non-fill pixel.
  std::optional<Region> box(int64_t cell) {
    int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = INT64_MIN, y1 = INT64_MIN;
    for (int64_t y = kY0; y < kY0 + kH; ++y)
      for (int64_t x = kX0; x < kX0 + kW; ++x)
        if (non_fill(x, y)) {
          const int64_t lx = x - (((x % cell) + cell) % cell), ly = y - (((y % cell) + cell) % cell);
          x0 = std::min(x0, lx), y0 = std::min(y0, ly);
          x1 = std::max(x1, lx + cell - 1), y1 = std::max(y1, ly + cell - 1);
        }
    if (x1 < x0) return std::nullopt;
    return Region{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
  }
};

bool covers(const Region& outer, const Region& inner) {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x_end() <= outer.x_end() &&
         inner.y_end() <= outer.y_end();
}

// A random write: a region of the canvas, bands, and content that is noise, one value per
// band (uniform tiles, collapsible macro blocks) or the fill (erasure).
struct Edit {
  uint32_t frame;
  Region region;
  std::vector<uint32_t> bands;
  std::vector<uint8_t> data;  // BIP, bands.size() samples per pixel
};

Edit random_edit(Rng& rng, uint32_t frames) {
  Edit e;
  e.frame = uint32_t(rng.uniform(0, frames));  // == frames appends
  const bool big = rng.chance(0.3);
  const int64_t w = big ? rng.uniform(32, kW) : rng.uniform(1, 40);
  const int64_t h = big ? rng.uniform(32, kH) : rng.uniform(1, 40);
  e.region = Region{kX0 + rng.uniform(0, kW - w), kY0 + rng.uniform(0, kH - h), w, h};
  e.bands = rng.chance(0.7) ? std::vector<uint32_t>{0, 1} : rng.band_subset(kBands);
  const int mode = int(rng.uniform(0, 2));  // 0 noise, 1 uniform, 2 fill
  const std::vector<uint8_t> value = {uint8_t(rng.chance(0.5) ? 200 : rng.uniform(0, 3)),
                                      uint8_t(rng.chance(0.5) ? 9 : rng.uniform(0, 255))};
  e.data.resize(size_t(w * h) * e.bands.size());
  for (size_t i = 0; i < e.data.size(); ++i) {
    const uint32_t band = e.bands[i % e.bands.size()];
    e.data[i] = mode == 0 ? uint8_t(rng.bits() & (rng.chance(0.5) ? 0x3 : 0xff))
                : mode == 1 ? value[band]
                            : kFill[band];
  }
  return e;
}

void apply_edit(const Edit& e, std::vector<Canvas>& frames) {
  if (e.frame == frames.size()) frames.push_back(frames.back());
  Canvas& c = frames[e.frame];
  size_t i = 0;
  for (int64_t y = e.region.y; y < e.region.y_end(); ++y)
    for (int64_t x = e.region.x; x < e.region.x_end(); ++x)
      for (uint32_t b : e.bands) c.at(x, y, b) = e.data[i++];
}

// Every frame reads back as the model and its boxes match brute force.
void expect_matches(const View& view, const std::vector<Canvas>& model, const std::string& where) {
  ASSERT_OK_AND_ASSIGN(auto info, view.image("seq"));
  ASSERT_EQ(info.frames, model.size()) << where;
  for (uint32_t f = 0; f < model.size(); ++f) {
    Canvas expected = model[f];
    std::vector<uint8_t> got(expected.px.size());
    ASSERT_OK(view.read("seq", kCanvas, Selection{f, 0, {}}, got.data(), got.size()));
    ASSERT_TRUE(got == expected.px) << where << ": frame " << f << " differs from the model";
    const std::optional<Region> exact = expected.box(1), leaf = expected.box(kTile),
                                root = expected.box(kTile * kMacro);
    ASSERT_OK_AND_ASSIGN(auto e, view.bounds("seq", f, Precision::kExact));
    ASSERT_OK_AND_ASSIGN(auto l, view.bounds("seq", f, Precision::kLeaf));
    ASSERT_OK_AND_ASSIGN(auto r, view.bounds("seq", f, Precision::kRoot));
    ASSERT_OK_AND_ASSIGN(auto o, view.bounds("seq", f, Precision::kOperative));
    ASSERT_EQ(e, exact) << where << ": exact box of frame " << f;
    ASSERT_EQ(l, leaf) << where << ": leaf box of frame " << f;
    ASSERT_EQ(r, root) << where << ": root box of frame " << f;
    if (exact) {
      ASSERT_TRUE(o.has_value()) << where << ": no operative box for frame " << f;
      ASSERT_TRUE(covers(*o, *exact)) << where << ": operative box of frame " << f << " "
                                      << to_string(*o) << " misses " << to_string(*exact);
    }
  }
}

class FramesModelTest : public TempDirTestWithParam<std::tuple<StorageLayout, int>> {};

TEST_P(FramesModelTest, RandomFrameSequencesMatchModel) {
  const auto [storage, seed] = GetParam();
  Rng rng(uint64_t(seed) * 7919 + (storage == StorageLayout::kPlanar));
  const std::string file = path("frames.tsr");
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ASSERT_OK(c.write([&](WriteTxn& t) { return t.create_image("seq", canvas_spec(storage)); }));
    std::vector<Canvas> model(1);
    for (int round = 0; round < 60; ++round) {
      const std::string where = "seed " + std::to_string(seed) + " round " + std::to_string(round);
      SCOPED_TRACE(where);
      ASSERT_OK_AND_ASSIGN(auto txn, c.begin_write());
      std::vector<Canvas> next = model;
      const int ops = int(rng.uniform(1, 3));
      for (int op = 0; op < ops; ++op) {
        const int64_t kind = rng.uniform(0, 9);
        if (kind == 0 && next.size() < 8) {
          ASSERT_OK(txn.add_frame("seq"));
          next.push_back(next.back());
        } else if (kind == 1 && next.size() > 1) {
          const uint32_t f = uint32_t(rng.index(next.size()));
          ASSERT_OK(txn.drop_frame("seq", f));
          next.erase(next.begin() + f);
        } else {
          Edit e = random_edit(rng, uint32_t(std::min<size_t>(next.size(), 7)));
          SCOPED_TRACE("write " + to_string(e.region) + " frame " + std::to_string(e.frame));
          ASSERT_OK(txn.write("seq", e.region, Selection{e.frame, 0, e.bands}, e.data.data(), e.data.size()));
          apply_edit(e, next);
        }
      }
      // The transaction sees its own changes (and stores the caches it recomputes).
      if (round % 5 == 0) {
        ASSERT_NO_FATAL_FAILURE(expect_matches(txn, next, where + " (in txn)"));
      }
      if (rng.chance(0.15)) {
        txn.abort();
      } else {
        ASSERT_OK(txn.commit());
        model = std::move(next);
      }
      ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
      ASSERT_NO_FATAL_FAILURE(expect_matches(snap, model, where));
      // Own records per frame add up to what the tile index holds.
      ASSERT_OK_AND_ASSIGN(auto frames, snap.frames("seq"));
      ASSERT_EQ(frames.size(), model.size());
    }
  }
  expect_verifies(file);
}

INSTANTIATE_TEST_SUITE_P(Seeds, FramesModelTest,
                         ::testing::Combine(::testing::Values(StorageLayout::kChunky, StorageLayout::kPlanar),
                                            ::testing::Range(0, 4)));

// ---- Frame costs ---------------------------------------------------------------------------

class FramesTest : public SeqFileTest {
 protected:
  // Own records of every frame, as the library lists them.
  int64_t records() {
    auto snap = container_->snapshot();
    auto frames = snap->frames("seq");
    int64_t n = 0;
    for (const FrameInfo& f : *frames) n += int64_t(f.tiles + f.macro_blocks + f.tombstones);
    return n;
  }
};

TEST_F(FramesTest, NewFrameCostsNothingAndKChangedTilesCostKRecords) {
  Rng rng(5);
  ASSERT_OK(write_tiles(0, 0, 6, rng));
  ASSERT_EQ(records(), 6);
  ASSERT_OK(container_->write([](WriteTxn& t) { return t.add_frame("seq"); }));
  EXPECT_EQ(records(), 6) << "a new frame must not copy records";
  ASSERT_OK(write_tiles(1, 2, 3, rng));  // the last frame: no pinning needed
  EXPECT_EQ(records(), 9);
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto frames, snap.frames("seq"));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].tiles, 6u);
  EXPECT_EQ(frames[1].tiles, 3u);
  EXPECT_GT(frames[1].bytes_stored, 3u * 512);  // three incompressible 512-byte tiles
  // Dropping frame 1 releases its three chunks in the same transaction.
  ASSERT_OK_AND_ASSIGN(auto before, snap.pool_stats());
  ASSERT_OK(container_->write([](WriteTxn& t) { return t.drop_frame("seq", 1); }));
  ASSERT_OK_AND_ASSIGN(auto after_snap, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto after, after_snap.pool_stats());
  EXPECT_EQ(after.chunks, before.chunks - 3);
  EXPECT_EQ(records(), 6);
  EXPECT_CODE(container_->write([](WriteTxn& t) { return t.drop_frame("seq", 0); }), Code::kInvalidArgument);
}

TEST_F(FramesTest, EditingAFrameKeepsLaterFramesAndDedupSharesChunks) {
  Rng rng(6);
  ASSERT_OK(write_tiles(0, 0, 4, rng));
  ASSERT_OK(container_->write([](WriteTxn& t) {
    TESSERA_RETURN_IF_ERROR(t.add_frame("seq"));
    return t.add_frame("seq");
  }));
  std::vector<uint8_t> before(size_t(4 * kTile * kTile) * kBands), after = before;
  const Region row{0, 0, 4 * kTile, kTile};
  ASSERT_OK_AND_ASSIGN(auto s0, container_->snapshot());
  ASSERT_OK(s0.read("seq", row, Selection{2, 0, {}}, before.data(), before.size()));
  ASSERT_OK(write_tiles(0, 1, 2, rng));  // frame 0 edited: frames 1 and 2 keep the old tiles
  ASSERT_OK_AND_ASSIGN(auto s1, container_->snapshot());
  for (uint32_t f : {1u, 2u}) {
    ASSERT_OK(s1.read("seq", row, Selection{f, 0, {}}, after.data(), after.size()));
    EXPECT_TRUE(after == before) << "frame " << f << " changed";
  }
  // Frame 1 pins the two old chunks; frame 0 holds two new ones: 6 chunks, 6 references.
  ASSERT_OK_AND_ASSIGN(auto pool, s1.pool_stats());
  EXPECT_EQ(pool.chunks, 6u);
  EXPECT_EQ(pool.references, 6u);
  EXPECT_EQ(pool.bytes_saved, 0u);
  // The content of tile (0,0) written again in frame 2 at tile (5,0), and in another image:
  // both share its chunk.
  std::vector<uint8_t> tile(size_t(kTile * kTile) * kBands);
  ASSERT_OK(s1.read("seq", Region{0, 0, kTile, kTile}, Selection{}, tile.data(), tile.size()));
  ASSERT_OK(container_->write([&](WriteTxn& t) {
    TESSERA_RETURN_IF_ERROR(t.write("seq", Region{5 * kTile, 0, kTile, kTile}, Selection{2, 0, {}}, tile.data(), tile.size()));
    TESSERA_RETURN_IF_ERROR(t.create_image("other", canvas_spec(StorageLayout::kChunky)));
    return t.write("other", Region{-kTile, -kTile, kTile, kTile}, Selection{}, tile.data(), tile.size());
  }));
  ASSERT_OK_AND_ASSIGN(auto s2, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto shared, s2.pool_stats());
  EXPECT_EQ(shared.chunks, 6u);
  EXPECT_EQ(shared.references, 8u);
  EXPECT_GT(shared.bytes_saved, 2u * 512);
}

// ---- Macro blocks ------------------------------------------------------------------------------

TEST_F(FramesTest, UniformMacroBlockCollapsesAndUncollapses) {
  const Region block{0, 0, kTile * kMacro, kTile * kMacro};  // one macro block, 4 tiles
  std::vector<uint8_t> uniform(size_t(block.pixel_count()) * kBands);
  for (size_t i = 0; i < uniform.size(); ++i) uniform[i] = i % 2 ? 77 : 200;
  ASSERT_OK(container_->write([&](WriteTxn& t) {
    return t.write("seq", block, Selection{}, uniform.data(), uniform.size());
  }));
  ASSERT_OK_AND_ASSIGN(auto s, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto frames, s.frames("seq"));
  EXPECT_EQ(frames[0].macro_blocks, 1u);
  EXPECT_EQ(frames[0].tiles, 0u) << "the four uniform tiles collapse into one record";
  std::vector<uint8_t> got(uniform.size());
  ASSERT_OK(s.read("seq", block, Selection{}, got.data(), got.size()));
  EXPECT_TRUE(got == uniform);
  ASSERT_OK_AND_ASSIGN(auto stats, s.stats("seq"));
  EXPECT_EQ(stats.tiles_uniform, 4u);

  // One pixel changes: that tile gets its own record, the others still read the block's value.
  const uint8_t pixel[2] = {1, 2};
  ASSERT_OK(container_->write([&](WriteTxn& t) {
    return t.write("seq", Region{20, 5, 1, 1}, Selection{}, pixel, 2);
  }));
  ASSERT_OK_AND_ASSIGN(auto s2, container_->snapshot());
  ASSERT_OK(s2.read("seq", block, Selection{}, got.data(), got.size()));
  std::vector<uint8_t> expected = uniform;
  expected[size_t(5 * block.width + 20) * 2] = 1, expected[size_t(5 * block.width + 20) * 2 + 1] = 2;
  EXPECT_TRUE(got == expected);
  ASSERT_OK_AND_ASSIGN(auto frames2, s2.frames("seq"));
  EXPECT_EQ(frames2[0].macro_blocks, 1u);
  EXPECT_EQ(frames2[0].tiles, 1u);
  // Erasing the whole tile (to fill) needs a tombstone: the block's record would show through.
  std::vector<uint8_t> fill_tile(size_t(kTile * kTile) * kBands);
  for (size_t i = 0; i < fill_tile.size(); ++i) fill_tile[i] = kFill[i % 2];
  ASSERT_OK(container_->write([&](WriteTxn& t) {
    return t.write("seq", Region{kTile, 0, kTile, kTile}, Selection{}, fill_tile.data(), fill_tile.size());
  }));
  ASSERT_OK_AND_ASSIGN(auto s3, container_->snapshot());
  ASSERT_OK(s3.read("seq", block, Selection{}, got.data(), got.size()));
  for (int64_t y = 0; y < kTile; ++y)
    for (int64_t x = kTile; x < 2 * kTile; ++x)
      for (int b = 0; b < 2; ++b) expected[size_t(y * block.width + x) * 2 + b] = kFill[b];
  EXPECT_TRUE(got == expected);
  ASSERT_OK_AND_ASSIGN(auto exact, s3.bounds("seq"));
  EXPECT_EQ(exact, block);
  // Writing the value back collapses the block again: one record, no tile records.
  ASSERT_OK(container_->write([&](WriteTxn& t) {
    return t.write("seq", Region{0, 0, 2 * kTile, kTile}, Selection{}, uniform.data(), size_t(2 * kTile * kTile) * kBands);
  }));
  ASSERT_OK_AND_ASSIGN(auto s4, container_->snapshot());
  ASSERT_OK(s4.read("seq", block, Selection{}, got.data(), got.size()));
  EXPECT_TRUE(got == uniform);
  ASSERT_OK_AND_ASSIGN(auto frames4, s4.frames("seq"));
  EXPECT_EQ(frames4[0].macro_blocks, 1u);
  EXPECT_EQ(frames4[0].tiles + frames4[0].tombstones, 0u);
}

TEST_F(FramesTest, CollapseInALaterFrameLeavesEarlierFrames) {
  Rng rng(8);
  ASSERT_OK(write_tiles(0, 0, 2, rng));  // noise in tiles (0,0) and (1,0) of frame 0
  std::vector<uint8_t> frame0(size_t(2 * kTile * kTile) * kBands), got = frame0;
  ASSERT_OK_AND_ASSIGN(auto s0, container_->snapshot());
  ASSERT_OK(s0.read("seq", Region{0, 0, 2 * kTile, kTile}, Selection{}, frame0.data(), frame0.size()));
  const Region block{0, 0, kTile * kMacro, kTile * kMacro};
  std::vector<uint8_t> uniform(size_t(block.pixel_count()) * kBands, 33);
  ASSERT_OK(container_->write([&](WriteTxn& t) {
    return t.write("seq", block, Selection{1, 0, {}}, uniform.data(), uniform.size());  // appends frame 1
  }));
  ASSERT_OK_AND_ASSIGN(auto s1, container_->snapshot());
  ASSERT_OK(s1.read("seq", Region{0, 0, 2 * kTile, kTile}, Selection{}, got.data(), got.size()));
  EXPECT_TRUE(got == frame0);
  std::vector<uint8_t> got1(uniform.size());
  ASSERT_OK(s1.read("seq", block, Selection{1, 0, {}}, got1.data(), got1.size()));
  EXPECT_TRUE(got1 == uniform);
  ASSERT_OK_AND_ASSIGN(auto frames, s1.frames("seq"));
  EXPECT_EQ(frames[1].macro_blocks, 1u);
  EXPECT_EQ(frames[1].tiles, 0u);
}

// ---- Geometry caches ------------------------------------------------------------------------------

TEST_F(FramesTest, GeometryIsCachedPerGenerationAndSurvivesInteriorEdits) {
  Rng rng(9);
  std::vector<uint8_t> noise(size_t(kW * kH) * kBands);
  rng.fill(noise.data(), noise.size());
  ASSERT_OK(container_->write([&](WriteTxn& t) {
    return t.write("seq", kCanvas, Selection{}, noise.data(), noise.size());
  }));
  // A query in a write transaction stores what it recomputes.
  ASSERT_OK(container_->write([&](WriteTxn& t) { return t.bounds("seq").status(); }));
  // Interior edits keep every cache fresh without a recomputation; the stored records say so.
  ASSERT_OK(container_->write([&](WriteTxn& t) {
    return t.write("seq", Region{kX0 + 40, kY0 + 40, 20, 20}, Selection{}, noise.data(), 20 * 20 * kBands);
  }));
  ASSERT_OK_AND_ASSIGN(auto s, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto exact, s.bounds("seq", 0, Precision::kExact));
  EXPECT_EQ(exact, kCanvas);
  container_.reset();
  std::vector<std::pair<std::string, std::string>> geometry;
  ASSERT_TRUE(lmdb_entries(path("f.tsr"), "geometry", &geometry));
  ASSERT_EQ(geometry.size(), 4u);  // frame 0: operative, root, leaf, exact
  // Each record's generation (first field of the table) is the same: all fresh.
  std::vector<uint64_t> generations;
  for (const auto& [key, value] : geometry) {
    std::vector<uint64_t> aligned(value.size() / 8 + 1);
    std::memcpy(aligned.data(), value.data(), value.size());
    generations.push_back(flatbuffers::GetRoot<fb::GeometryRecord>(aligned.data())->generation());
  }
  EXPECT_EQ(std::count(generations.begin(), generations.end(), generations[0]), 4);
}

}  // namespace
}  // namespace tessera::test
