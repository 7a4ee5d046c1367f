// The decoded-tile cache: bounded bytes, CLOCK eviction, many threads, and reads through it
// that see every committed change (a changed tile is a new chunk key, never a stale entry).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "cache/tile_cache.h"
#include "tessera/container.h"
#include "test_util.h"

namespace tessera::test {
namespace {

using detail::ChunkKey;
using detail::TileCache;

ChunkKey key_of(uint64_t n) { return detail::make_chunk_key(n * 0x9E3779B97F4A7C15ull, n, 0); }

TileCache::Tile tile_of(uint64_t n, size_t size) {
  auto tile = std::make_shared<detail::AlignedBuffer>(size);
  for (size_t i = 0; i < size; ++i) tile->data()[i] = uint8_t(n * 31 + i);
  return tile;
}

TEST(TileCacheTest, FindsWhatItHoldsWithinItsCapacity) {
  TileCache cache(64 * 4096);  // 64 shards of 4096 bytes
  EXPECT_EQ(cache.find(key_of(1)), nullptr);
  cache.insert(key_of(1), tile_of(1, 1000));
  auto hit = cache.find(key_of(1));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->data()[5], uint8_t(31 + 5));
  cache.insert(key_of(2), tile_of(2, 5000));  // larger than a shard: not cached
  EXPECT_EQ(cache.find(key_of(2)), nullptr);
  for (uint64_t n = 0; n < 2000; ++n) cache.insert(key_of(n), tile_of(n, 1000));
  const auto stats = cache.stats();
  EXPECT_LE(stats.bytes, 64u * 4096);
  EXPECT_GT(stats.evictions, 0u);
  EXPECT_EQ(stats.bytes, stats.entries * 1000);
  // Whatever is found holds the bytes inserted under its key.
  for (uint64_t n = 0; n < 2000; ++n) {
    auto t = cache.find(key_of(n));
    if (t) {
      EXPECT_EQ(t->data()[7], uint8_t(n * 31 + 7));
    }
  }
}

TEST(TileCacheTest, RecentlyUsedEntriesSurviveASweep) {
  TileCache cache(64 * 4096);
  // Fill one shard's worth of keys, touch key 0 often, insert many more: key 0 stays.
  cache.insert(key_of(0), tile_of(0, 512));
  for (uint64_t n = 1; n < 3000; ++n) {
    ASSERT_NE(cache.find(key_of(0)), nullptr) << "evicted after " << n << " inserts";
    cache.insert(key_of(n), tile_of(n, 512));
  }
}

TEST(TileCacheTest, ThreadsShareItSafely) {
  TileCache cache(uint64_t(1) << 20);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Rng rng(uint64_t(t) + 100);
      for (int i = 0; i < 20000; ++i) {
        const uint64_t n = uint64_t(rng.uniform(0, 500));
        if (auto hit = cache.find(key_of(n))) {
          if (hit->size() != 2048 || hit->data()[100] != uint8_t(n * 31 + 100)) ++wrong;
        } else {
          cache.insert(key_of(n), tile_of(n, 2048));
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(cache.stats().hits, 0u);
}

class TileCacheReadTest : public TempDirTest {};

// A planar LZ4 image of 32 x 32 tiles: its chunks are version 2, a block per band.
ImageSpec planar_lz4(DataType type, uint32_t bands) {
  ImageSpec spec;
  spec.type = type;
  spec.bands = bands;
  spec.tile_size = 32;
  spec.storage = StorageLayout::kPlanar;
  spec.codec = {Codec::kLz4, 0};
  return spec;
}

// Reads through the cache see each commit: rewriting a tile stores a new chunk key.
TEST_F(TileCacheReadTest, CachedReadsFollowEdits) {
  OpenOptions options;
  options.tile_cache_bytes = uint64_t(8) << 20;
  ASSERT_OK_AND_ASSIGN(auto c, Container::create(path("c.tsr"), options));
  ImageSpec spec;
  spec.tile_size = 64;
  Rng rng(3);
  std::vector<uint8_t> data(256 * 256), got(data.size());
  const Region r{-100, -100, 256, 256};
  for (int round = 0; round < 5; ++round) {
    rng.fill(data.data(), data.size());
    ASSERT_OK(c.write([&](WriteTxn& t) {
      if (round == 0) TESSERA_RETURN_IF_ERROR(t.create_image("img", spec));
      return t.write("img", r, Selection{}, data.data(), data.size());
    }));
    for (int pass = 0; pass < 2; ++pass) {  // the second pass is served by the cache
      ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
      ASSERT_OK(s.read("img", r, Selection{}, got.data(), got.size()));
      ASSERT_TRUE(got == data) << "round " << round << " pass " << pass;
    }
  }
  const TileCacheStats stats = c.tile_cache_stats();
  EXPECT_GT(stats.hits, 0u);
  EXPECT_GT(stats.misses, 0u);
  EXPECT_LE(stats.bytes, uint64_t(8) << 20);
}

// A planar image of several bands stores each band plane as its own block of the chunk: a
// read of some bands decodes only theirs (a damaged block spoils only its band), and the
// cache keeps blocks apart (a cached band is never served for another).
TEST_F(TileCacheReadTest, PlanarBandsDecodeAndCacheOnTheirOwn) {
  const ImageSpec spec = planar_lz4(DataType::kU16, 4);
  std::vector<uint8_t> data(32 * 32 * 4 * 2);  // BIP, one tile
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t((i / 8) % 7 + (i % 8) * 16);
  const Region r{0, 0, 32, 32};
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(path("p.tsr")));
    ASSERT_OK(c.write([&](WriteTxn& t) {
      TESSERA_RETURN_IF_ERROR(t.create_image("img", spec));
      return t.write("img", r, Selection{}, data.data(), data.size());
    }));
  }
  // Band b of the BIP source, as one plane.
  auto band_of = [&](uint32_t b) {
    std::vector<uint8_t> plane(32 * 32 * 2);
    for (size_t p = 0; p < 32 * 32; ++p) std::memcpy(&plane[p * 2], &data[(p * 4 + b) * 2], 2);
    return plane;
  };
  // The last byte of the chunk value lies in the last band's block.
  std::string error;
  ASSERT_TRUE(lmdb_edit_value(path("p.tsr"), "chunks",
                              [](const std::string&, std::string& v) {
                                v.back() = char(v.back() ^ 0x04);
                                return true;
                              },
                              &error))
      << error;
  for (uint64_t cache_bytes : {uint64_t(0), uint64_t(8) << 20}) {
    SCOPED_TRACE("cache bytes " + std::to_string(cache_bytes));
    OpenOptions options;
    options.tile_cache_bytes = cache_bytes;
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("p.tsr"), options));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    for (int pass = 0; pass < 2; ++pass)
      for (uint32_t b : {2u, 0u, 1u}) {
        std::vector<uint8_t> got(32 * 32 * 2);
        Selection sel;
        sel.bands = {b};
        ASSERT_OK(s.read("img", r, sel, got.data(), got.size()));
        EXPECT_TRUE(got == band_of(b)) << "band " << b << " pass " << pass;
      }
    std::vector<uint8_t> got(data.size());
    Selection last;
    last.bands = {3};
    Status damaged = s.read("img", r, last, got.data(), got.size());
    EXPECT_EQ(damaged.code(), Code::kCorrupt);
    EXPECT_NE(damaged.message().find("block 3 checksum"), std::string::npos) << damaged.message();
    EXPECT_EQ(s.read("img", r, Selection{}, got.data(), got.size()).code(), Code::kCorrupt);
  }
}

// The same raw bytes as a planar tile of 2 bands (u16) and of 4 bands (u8), 4096 bytes each:
// block b of 2 and block b of 4 are other bytes, so the cache must keep them apart even when
// the chunk is deleted and stored again under the same key, cut the other way.
TEST_F(TileCacheReadTest, BlocksOfOneChunkCutTwoWaysStayApart) {
  const ImageSpec two = planar_lz4(DataType::kU16, 2), four = planar_lz4(DataType::kU8, 4);
  std::vector<uint8_t> raw(32 * 32 * 4);  // BSQ = the planar tile's raw order
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = uint8_t((i / 64) * 7 + i % 5);
  const Region r{0, 0, 32, 32};
  OpenOptions options;
  options.tile_cache_bytes = uint64_t(8) << 20;
  ASSERT_OK_AND_ASSIGN(auto c, Container::create(path("s.tsr"), options));
  auto read_bands = [&](const char* image, uint32_t bands) {
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    const size_t plane = raw.size() / bands;
    for (int pass = 0; pass < 2; ++pass)
      for (uint32_t b = 0; b < bands; ++b) {
        std::vector<uint8_t> got(plane);
        Selection sel;
        sel.bands = {b};
        ASSERT_OK(s.read(image, r, sel, got.data(), got.size()));
        EXPECT_TRUE(std::equal(got.begin(), got.end(), raw.begin() + b * plane)) << image << " band " << b;
      }
  };
  ASSERT_OK(c.write([&](WriteTxn& t) {
    TESSERA_RETURN_IF_ERROR(t.create_image("two", two));
    TESSERA_RETURN_IF_ERROR(t.create_image("four", four));
    return t.write("two", r, Selection{}, raw.data(), raw.size(), Interleave::kBSQ);
  }));
  read_bands("two", 2);
  // The chunk goes with its only tile, then comes back cut in 4.
  const std::vector<uint8_t> fill(raw.size(), 0);
  ASSERT_OK(c.write([&](WriteTxn& t) { return t.write("two", r, Selection{}, fill.data(), fill.size()); }));
  ASSERT_OK(c.write([&](WriteTxn& t) {
    return t.write("four", r, Selection{}, raw.data(), raw.size(), Interleave::kBSQ);
  }));
  read_bands("four", 4);
}

// The shared-memory cache through the public API: a second process reads what the first
// decoded; another file holding the same pixels has keys of its own; edits are never stale.
TEST_F(TileCacheReadTest, SharedCacheServesOtherProcessesOfTheSameFile) {
  const std::string name = "/tessera-test-" + std::to_string(::getpid());
  (void)Container::remove_shared_cache(name);
  OpenOptions options;
  options.shared_cache = name;
  options.shared_cache_bytes = uint64_t(8) << 20;
  options.shared_cache_slot_bytes = 64 * 64 * 3;
  ImageSpec spec;
  spec.tile_size = 64;
  spec.bands = 3;
  Rng rng(5);
  std::vector<uint8_t> data(200 * 200 * 3), got(data.size());
  const Region r{-30, 17, 200, 200};
  for (const char* file : {"a.tsr", "b.tsr"}) {
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(path(file), options));
    ASSERT_OK(c.write([&](WriteTxn& t) {
      TESSERA_RETURN_IF_ERROR(t.create_image("img", spec));
      return t.write("img", r, Selection{}, data.data(), data.size());
    }));
    if (std::string(file) == "a.tsr") rng.fill(data.data(), data.size());  // b: random pixels
  }
  ASSERT_OK_AND_ASSIGN(auto a, Container::open(path("a.tsr"), options));
  ASSERT_OK(a.write([&](WriteTxn& t) {  // a now holds b's pixels too

    return t.write("img", r, Selection{}, data.data(), data.size());
  }));
  ASSERT_OK_AND_ASSIGN(auto s, a.snapshot());
  ASSERT_OK(s.read("img", r, Selection{}, got.data(), got.size()));
  ASSERT_TRUE(got == data);
  const SharedCacheStats first = a.shared_cache_stats();
  EXPECT_EQ(first.hits, 0u);
  EXPECT_GT(first.puts, 0u);

  const pid_t child = ::fork();
  if (child == 0) {  // another process of the same file: every tile is a hit
    auto c = Container::open(path("a.tsr"), options);
    if (!c) _exit(2);
    std::vector<uint8_t> mine(data.size());
    auto snap = c->snapshot();
    if (!snap || !snap->read("img", r, Selection{}, mine.data(), mine.size()).is_ok()) _exit(3);
    if (mine != data) _exit(4);
    const SharedCacheStats st = c->shared_cache_stats();
    _exit(st.hits == first.puts && st.misses == 0 ? 0 : 5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;

  // File b holds the same pixels under keys of its own: nothing of a's is served for it.
  ASSERT_OK_AND_ASSIGN(auto b, Container::open(path("b.tsr"), options));
  ASSERT_OK_AND_ASSIGN(auto sb, b.snapshot());
  ASSERT_OK(sb.read("img", r, Selection{}, got.data(), got.size()));
  EXPECT_EQ(b.shared_cache_stats().hits, 0u);
  // An edit of a is read back at once (new content, new chunk keys).
  std::fill(data.begin() + 1000, data.begin() + 9000, uint8_t(42));
  ASSERT_OK(a.write([&](WriteTxn& t) { return t.write("img", r, Selection{}, data.data(), data.size()); }));
  ASSERT_OK_AND_ASSIGN(auto s2, a.snapshot());
  ASSERT_OK(s2.read("img", r, Selection{}, got.data(), got.size()));
  EXPECT_TRUE(got == data);
  ASSERT_OK(Container::remove_shared_cache(name));
}

}  // namespace
}  // namespace tessera::test
