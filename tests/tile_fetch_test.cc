// The one tile-fetch path: partial-tile rewrites, exact geometry and dedup confirmation read
// tiles through the caches like region reads do, and see the same pixels and the same errors.
#include "test_util.h"
#include "tessera/tessera.h"

namespace tessera::test {
namespace {

class TileFetchTest : public TempDirTest {};

OpenOptions with_caches(const std::string& shared) {
  OpenOptions options;
  options.tile_cache_bytes = uint64_t(16) << 20;
  options.shared_cache = shared;
  options.shared_cache_bytes = uint64_t(8) << 20;
  options.shared_cache_slot_bytes = 64 * 64 * 4 * 2;
  return options;
}

// Random edits of random regions, with every cache on and off, against a plain reference.
TEST_F(TileFetchTest, PartialRewritesAndGeometryReadThroughTheCaches) {
  const std::string shared = "/tessera-test-fetch-" + std::to_string(::getpid());
  (void)Container::remove_shared_cache(shared);
  for (StorageLayout storage : {StorageLayout::kChunky, StorageLayout::kPlanar}) {
    for (bool cached : {false, true}) {
      SCOPED_TRACE(std::string(storage_layout_name(storage)) + (cached ? " cached" : " uncached"));
      const std::string file = path(std::string("f") + (cached ? "c" : "u") +
                                    std::string(storage_layout_name(storage)) + ".tsr");
      ASSERT_OK_AND_ASSIGN(auto c, Container::create(file, cached ? with_caches(shared) : OpenOptions{}));
      ImageSpec spec;
      spec.type = DataType::kU16;
      spec.bands = 4;
      spec.tile_size = 64;
      spec.storage = storage;
      ASSERT_OK(c.write([&](WriteTxn& t) { return t.create_image("img", spec); }));
      const Region canvas{-150, -90, 300, 200};
      std::vector<uint16_t> reference(size_t(canvas.width * canvas.height) * 4, 0);
      Rng rng(11);
      for (int edit = 0; edit < 12; ++edit) {
        const int64_t w = rng.uniform(1, 120), h = rng.uniform(1, 120);
        const Region r{canvas.x + rng.uniform(0, canvas.width - w), canvas.y + rng.uniform(0, canvas.height - h), w, h};
        Selection sel;
        if (rng.chance(0.4)) sel.bands = {uint32_t(rng.uniform(0, 3))};
        const size_t bands = sel.bands.empty() ? 4 : 1;
        std::vector<uint16_t> data(size_t(w * h) * bands);
        // Some edits repeat a value, so that dedup meets stored chunks of the same content.
        for (size_t i = 0; i < data.size(); ++i) data[i] = uint16_t(edit % 3 == 0 ? 1000 + i % 61 : rng.bits());
        ASSERT_OK(c.write([&](WriteTxn& t) {
          return t.write("img", r, sel, data.data(), data.size() * 2);
        }));
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x)
            for (size_t b = 0; b < bands; ++b) {
              const size_t band = sel.bands.empty() ? b : sel.bands[0];
              reference[(size_t((r.y - canvas.y + y) * canvas.width + (r.x - canvas.x + x))) * 4 + band] =
                  data[size_t(y * w + x) * bands + b];
            }
        ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
        std::vector<uint16_t> got(reference.size());
        ASSERT_OK(s.read("img", canvas, Selection{}, got.data(), got.size() * 2));
        ASSERT_TRUE(got == reference) << "after edit " << edit;
      }
      // The exact box, recomputed from edge tiles read through the fetch path, is the reference's.
      int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = INT64_MIN, y1 = INT64_MIN;
      for (int64_t y = 0; y < canvas.height; ++y)
        for (int64_t x = 0; x < canvas.width; ++x)
          for (size_t b = 0; b < 4; ++b) {
            if (reference[size_t(y * canvas.width + x) * 4 + b] == 0) continue;
            x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
          }
      ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
      ASSERT_OK_AND_ASSIGN(auto exact, s.bounds("img", 0, Precision::kExact));
      ASSERT_TRUE(exact.has_value());
      EXPECT_EQ(*exact, (Region{canvas.x + x0, canvas.y + y0, x1 - x0 + 1, y1 - y0 + 1}));
      if (cached) {
        EXPECT_GT(c.tile_cache_stats().hits, 0u);
      }
    }
  }
  (void)Container::remove_shared_cache(shared);
}

// Identical tiles written apart share one chunk whether the stored one is confirmed from a
// cache or decoded.
TEST_F(TileFetchTest, DedupIsConfirmedThroughTheCaches) {
  for (bool cached : {false, true}) {
    SCOPED_TRACE(cached ? "cached" : "uncached");
    OpenOptions options;
    if (cached) options.tile_cache_bytes = uint64_t(8) << 20;
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(path(cached ? "dc.tsr" : "du.tsr"), options));
    ImageSpec spec;
    spec.tile_size = 32;
    std::vector<uint8_t> tile(32 * 32);
    for (size_t i = 0; i < tile.size(); ++i) tile[i] = uint8_t(i * 13 + 1);
    ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
      TESSERA_RETURN_IF_ERROR(t.create_image("img", spec));
      return t.write("img", {0, 0, 32, 32}, Selection{}, tile.data(), tile.size());
    }));
    {
      ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());  // a cached container now holds the tile
      std::vector<uint8_t> got(tile.size());
      ASSERT_OK(s.read("img", {0, 0, 32, 32}, Selection{}, got.data(), got.size()));
    }
    ASSERT_OK(c.write([&](WriteTxn& t) { return t.write("img", {320, -64, 32, 32}, Selection{}, tile.data(), tile.size()); }));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    ASSERT_OK_AND_ASSIGN(PoolStats pool, s.pool_stats());
    EXPECT_EQ(pool.chunks, 1u);
    EXPECT_EQ(pool.references, 2u);
  }
}

// A damaged chunk under a partly rewritten tile fails the write, naming file, image, tile,
// frame and chunk, and changes nothing.
TEST_F(TileFetchTest, ADamagedChunkUnderAPartialRewriteIsNamed) {
  const std::string file = path("damaged.tsr");
  ImageSpec spec;
  spec.tile_size = 32;
  std::vector<uint8_t> tile(32 * 32);
  for (size_t i = 0; i < tile.size(); ++i) tile[i] = uint8_t(i * 7 + 3);
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
      TESSERA_RETURN_IF_ERROR(t.create_image("img", spec));
      return t.write("img", {32, 0, 32, 32}, Selection{}, tile.data(), tile.size());
    }));
  }
  std::string error;
  ASSERT_TRUE(lmdb_edit_value(file, "chunks",
                              [](const std::string&, std::string& v) {
                                v.back() = char(v.back() ^ 0x10);
                                return true;
                              },
                              &error))
      << error;
  ASSERT_OK_AND_ASSIGN(auto c, Container::open(file));
  ASSERT_OK_AND_ASSIGN(auto txn, c.begin_write());
  const std::vector<uint8_t> patch(4 * 4, 9);
  const Status s = txn.write("img", {40, 4, 4, 4}, Selection{}, patch.data(), patch.size());
  EXPECT_EQ(s.code(), Code::kCorrupt) << s.to_string();
  for (const std::string& part : {file, std::string("image 'img'"), std::string("tile (1,0) frame 0"), std::string("chunk ")})
    EXPECT_NE(s.message().find(part), std::string::npos) << part << " in " << s.message();
}

}  // namespace
}  // namespace tessera::test
