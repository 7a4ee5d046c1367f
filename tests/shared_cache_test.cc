// SharedTileCache (lib/cache/shared_tile_cache.h): hits and misses, eviction within the
// user's size, tiles larger than a slot, opening rules, threads hammering one segment, and
// real processes killed with SIGKILL in the middle of put() while others go on reading.
// Every tile's bytes follow from its key (cache/tile_pattern.h), so a wrong hit is caught.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "cache/shared_tile_cache.h"
#include "cache/tile_pattern.h"
#include "proc/child_process.h"

namespace tessera {
namespace {

using detail::SharedTileCache;
namespace pattern = test::tile_pattern;

// A segment name of this process and test, removed at the end of the test.
class SegmentName {
 public:
  explicit SegmentName(const std::string& what)
      : name_("/tessera-test-" + std::to_string(::getpid()) + "-" + what) {
    (void)SharedTileCache::remove(name_);
  }
  ~SegmentName() { (void)SharedTileCache::remove(name_); }
  const std::string& str() const { return name_; }

 private:
  std::string name_;
};

std::unique_ptr<SharedTileCache> open_or_fail(const std::string& name, uint64_t bytes,
                                              uint32_t slot) {
  auto opened = SharedTileCache::open(name, bytes, slot);
  EXPECT_TRUE(opened) << opened.status().to_string();
  return opened ? std::move(opened).value() : nullptr;
}

// Bytes for `slots` slots of `slot` bytes (header, descriptors and data).
uint64_t bytes_for(uint64_t slots, uint32_t slot) { return 4096 + slots * (64 + slot); }

TEST(SharedCache, RoundTripAndMisses) {
  SegmentName name("roundtrip");
  constexpr uint32_t kSlot = 4096;
  auto cache = open_or_fail(name.str(), bytes_for(64, kSlot), kSlot);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->stats().slots, 64u);
  EXPECT_LE(cache->segment_bytes(), bytes_for(64, kSlot));

  for (uint64_t id = 0; id < 5; ++id) {
    const auto tile = pattern::tile(id, kSlot);
    cache->put(pattern::key_for(id), tile.data(), tile.size());
  }
  std::vector<uint8_t> out(kSlot);
  for (uint64_t id = 0; id < 5; ++id) {
    const size_t size = pattern::size_for(id, kSlot);
    ASSERT_TRUE(cache->get(pattern::key_for(id), out.data(), size)) << id;
    EXPECT_TRUE(pattern::matches(id, out.data(), size)) << id;
  }
  EXPECT_FALSE(cache->get(pattern::key_for(99), out.data(), pattern::size_for(99, kSlot)));
  // Same key, another size: a miss, not a short copy.
  EXPECT_FALSE(cache->get(pattern::key_for(0), out.data(), pattern::size_for(0, kSlot) - 8));
  // Keys that differ only in the collision byte are different tiles.
  auto other = pattern::key_for(1);
  other[16] ^= 1;
  EXPECT_FALSE(cache->get(other, out.data(), pattern::size_for(1, kSlot)));
  // A second put of a cached key stores nothing.
  const auto again = pattern::tile(2, kSlot);
  cache->put(pattern::key_for(2), again.data(), again.size());

  const auto stats = cache->stats();
  EXPECT_EQ(stats.hits, 5u);
  EXPECT_EQ(stats.misses, 3u);
  EXPECT_EQ(stats.puts, 5u);
  EXPECT_EQ(stats.skipped, 1u);
  EXPECT_EQ(stats.stale_recovered, 0u);

  EXPECT_TRUE(SharedTileCache::remove(name.str()).is_ok());
  EXPECT_EQ(SharedTileCache::remove(name.str()).code(), Code::kNotFound);
  // The mapping outlives the name.
  ASSERT_TRUE(cache->get(pattern::key_for(3), out.data(), pattern::size_for(3, kSlot)));
}

TEST(SharedCache, HandlesShareOneSegmentAndItsGeometry) {
  SegmentName name("share");
  constexpr uint32_t kSlot = 1024;
  auto first = open_or_fail(name.str(), bytes_for(32, kSlot), kSlot);
  // A later opener's sizes are ignored: the segment exists.
  auto second = open_or_fail(name.str(), bytes_for(800, 4 * kSlot), 4 * kSlot);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(second->stats().slots, 32u);
  EXPECT_EQ(second->slot_bytes(), kSlot);
  const auto tile = pattern::tile(7, kSlot);
  first->put(pattern::key_for(7), tile.data(), tile.size());
  std::vector<uint8_t> out(tile.size());
  ASSERT_TRUE(second->get(pattern::key_for(7), out.data(), out.size()));
  EXPECT_EQ(out, tile);
}

TEST(SharedCache, EvictsWithinTheRequestedSize) {
  SegmentName name("evict");
  constexpr uint32_t kSlot = 2048;
  const uint64_t bytes = bytes_for(64, kSlot) + 1000;  // not a whole number of slots
  auto cache = open_or_fail(name.str(), bytes, kSlot);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->stats().slots, 64u);
  EXPECT_LE(cache->segment_bytes(), bytes);

  constexpr uint64_t kTiles = 1000;
  for (uint64_t id = 0; id < kTiles; ++id) {
    const auto tile = pattern::tile(id, kSlot);
    cache->put(pattern::key_for(id), tile.data(), tile.size());
  }
  EXPECT_EQ(cache->stats().puts, kTiles);  // every put replaces something, never blocks
  uint64_t present = 0, recent = 0;
  std::vector<uint8_t> out(kSlot);
  for (uint64_t id = 0; id < kTiles; ++id) {
    const size_t size = pattern::size_for(id, kSlot);
    if (!cache->get(pattern::key_for(id), out.data(), size)) continue;
    ASSERT_TRUE(pattern::matches(id, out.data(), size)) << id;
    ++present;
    if (id >= kTiles - 16) ++recent;
  }
  EXPECT_EQ(present, 64u);  // every slot holds one tile
  EXPECT_EQ(recent, 16u);   // the newest tiles survive (oldest-first eviction)
  // The last tile put is always there.
  ASSERT_TRUE(cache->get(pattern::key_for(kTiles - 1), out.data(),
                         pattern::size_for(kTiles - 1, kSlot)));
}

TEST(SharedCache, TilesLargerThanASlotAreNotCached) {
  SegmentName name("large");
  constexpr uint32_t kSlot = 1000;  // not a multiple of 64: the stride is rounded, not the limit
  auto cache = open_or_fail(name.str(), bytes_for(16, 1024), kSlot);
  ASSERT_TRUE(cache);
  std::vector<uint8_t> big(kSlot + 1, 0x5a), out(kSlot + 1);
  cache->put(pattern::key_for(1), big.data(), big.size());
  EXPECT_FALSE(cache->get(pattern::key_for(1), out.data(), big.size()));
  cache->put(pattern::key_for(2), big.data(), kSlot);
  ASSERT_TRUE(cache->get(pattern::key_for(2), out.data(), kSlot));
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + kSlot, big.begin()));
  cache->put(pattern::key_for(3), big.data(), 0);  // nothing to cache
  const auto stats = cache->stats();
  EXPECT_EQ(stats.puts, 1u);
  EXPECT_EQ(stats.skipped, 2u);
}

TEST(SharedCache, RefusesBadArgumentsAndForeignSegments) {
  SegmentName name("args");
  EXPECT_EQ(SharedTileCache::open("no-slash", 1 << 20, 1024).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(SharedTileCache::open("/a/b", 1 << 20, 1024).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SharedTileCache::open(name.str(), 1 << 20, 0).status().code(), Code::kInvalidArgument);
  auto small = SharedTileCache::open(name.str(), bytes_for(7, 4096), 4096);  // less than a set
  EXPECT_EQ(small.status().code(), Code::kInvalidArgument) << small.status().to_string();
  EXPECT_EQ(SharedTileCache::remove(name.str()).code(), Code::kNotFound);  // nothing was left

  // A segment of the same name that is not ours (another magic): refused, left alone.
  const int fd = ::shm_open(name.str().c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 1 << 16), 0);
  const uint64_t foreign = 0x1122334455667788ull;
  ASSERT_EQ(::pwrite(fd, &foreign, 8, 0), 8);
  ::close(fd);
  auto refused = SharedTileCache::open(name.str(), 1 << 20, 1024);
  EXPECT_EQ(refused.status().code(), Code::kUnsupported) << refused.status().to_string();
  EXPECT_NE(refused.status().message().find(name.str()), std::string::npos);
  EXPECT_TRUE(SharedTileCache::remove(name.str()).is_ok());
}

TEST(SharedCache, AbandonedHalfCreatedSegmentIsRecreated) {
  SegmentName name("halfmade");
  // A creator that died after sizing the segment, before its header: all zeros.
  const int fd = ::shm_open(name.str().c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 1 << 16), 0);
  ::close(fd);
  const auto start = std::chrono::steady_clock::now();
  auto cache = open_or_fail(name.str(), bytes_for(16, 1024), 1024);
  ASSERT_TRUE(cache);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(cache->stats().slots, 16u);
  const auto tile = pattern::tile(5, 1024);
  cache->put(pattern::key_for(5), tile.data(), tile.size());
  std::vector<uint8_t> out(tile.size());
  EXPECT_TRUE(cache->get(pattern::key_for(5), out.data(), out.size()));
}

TEST(SharedCache, ThreadsHammeringRandomKeysNeverSeeWrongBytes) {
  SegmentName name("threads");
  constexpr uint32_t kSlot = 4096;
  constexpr uint64_t kKeys = 600;  // more than the 128 slots: constant eviction
  auto cache = open_or_fail(name.str(), bytes_for(128, kSlot), kSlot);
  ASSERT_TRUE(cache);
  std::atomic<uint64_t> wrong{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<uint8_t> buffer(kSlot);
      for (int i = 0; i < 30000; ++i) {
        // Skewed: a quarter of the keys get most of the traffic, so hits are frequent.
        const uint64_t id = rng() % 4 == 0 ? rng() % kKeys : rng() % (kKeys / 4);
        const size_t size = pattern::size_for(id, kSlot);
        if (cache->get(pattern::key_for(id), buffer.data(), size)) {
          hits.fetch_add(1, std::memory_order_relaxed);
          if (!pattern::matches(id, buffer.data(), size)) wrong.fetch_add(1);
        } else {
          pattern::fill(id, buffer.data(), size);
          cache->put(pattern::key_for(id), buffer.data(), size);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(hits.load(), 1000u);
  const auto stats = cache->stats();
  EXPECT_EQ(stats.hits, hits.load());
  EXPECT_EQ(stats.hits + stats.misses, 4u * 30000u);
  EXPECT_EQ(cache->abandoned_slots(), 0u);
}

// "hits H misses M puts P stale S wrong W" -> the value after `word`.
uint64_t field(const std::string& line, const std::string& word) {
  std::istringstream in(line);
  std::string w;
  uint64_t v = 0;
  while (in >> w >> v)
    if (w == word) return v;
  ADD_FAILURE() << "no '" << word << "' in '" << line << "'";
  return 0;
}

TEST(SharedCache, ProcessesKilledMidPutLeaveOthersCorrectAndSlotsRecovered) {
  SegmentName name("kill");
  constexpr uint32_t kSlot = 64 * 1024;  // puts take long enough to be hit by SIGKILL
  constexpr uint64_t kSlots = 128, kKeys = 400, kRounds = 30;
  const uint64_t bytes = bytes_for(kSlots, kSlot);
  auto cache = open_or_fail(name.str(), bytes, kSlot);
  ASSERT_TRUE(cache);
  const auto args = [&](const char* mode, int seed) {
    return std::vector<std::string>{mode,
                                    name.str(),
                                    std::to_string(bytes),
                                    std::to_string(kSlot),
                                    std::to_string(kKeys),
                                    std::to_string(seed)};
  };

  test::ChildProcess checker(TESSERA_TEST_CACHE_CHILD_PATH, args("check", 1));
  ASSERT_TRUE(checker.ok()) << checker.error();
  ASSERT_EQ(checker.read_line(), "ready");

  std::mt19937_64 rng(42);
  std::vector<uint8_t> buffer(kSlot);
  uint64_t wrong = 0, hits = 0, abandoned_seen = 0;
  // Reads and checks tiles (putting misses) for `duration`.
  const auto read_for = [&](std::chrono::microseconds duration) {
    const auto end = std::chrono::steady_clock::now() + duration;
    do {
      const uint64_t id = rng() % kKeys;
      const size_t size = pattern::size_for(id, kSlot);
      if (cache->get(pattern::key_for(id), buffer.data(), size)) {
        ++hits;
        if (!pattern::matches(id, buffer.data(), size)) ++wrong;
      } else {
        pattern::fill(id, buffer.data(), size);
        cache->put(pattern::key_for(id), buffer.data(), size);
      }
    } while (std::chrono::steady_clock::now() < end);
  };

  for (uint64_t round = 0; round < kRounds; ++round) {
    test::ChildProcess putter(TESSERA_TEST_CACHE_CHILD_PATH, args("put-loop", 100 + int(round)));
    ASSERT_TRUE(putter.ok()) << putter.error();
    ASSERT_EQ(putter.read_line(), "ready");
    read_for(std::chrono::microseconds(2000 + rng() % 8000));
    putter.kill(SIGKILL);
    EXPECT_EQ(putter.exit_code(), 128 + SIGKILL);  // reaped: its pid is gone now
    abandoned_seen += cache->abandoned_slots();
  }
  // Puts of fresh tiles reach every set and take over whatever the putters left half-written.
  for (uint64_t id = kKeys; id < kKeys + 8 * kSlots && cache->abandoned_slots() > 0; ++id) {
    const auto tile = pattern::tile(id, kSlot);
    cache->put(pattern::key_for(id), tile.data(), tile.size());
  }
  EXPECT_EQ(cache->abandoned_slots(), 0u);
  read_for(std::chrono::milliseconds(50));

  checker.close_stdin();
  const auto report = checker.read_line();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(checker.exit_code(), 0) << *report;
  const uint64_t stale = cache->stats().stale_recovered + field(*report, "stale");
  std::printf("kills %llu, abandoned slots seen after kills %llu, recovered %llu; parent hits "
              "%llu; checker: %s\n",
              (unsigned long long)kRounds, (unsigned long long)abandoned_seen,
              (unsigned long long)stale, (unsigned long long)hits, report->c_str());
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(field(*report, "wrong"), 0u);
  EXPECT_GT(hits, 0u);
  EXPECT_GT(field(*report, "hits"), 0u);
  // Most kills land inside put() (the putter does little else): some slots were abandoned,
  // and every abandoned slot was taken over again.
  EXPECT_GT(abandoned_seen, 0u);
  EXPECT_GT(stale, 0u);
}

}  // namespace
}  // namespace tessera
