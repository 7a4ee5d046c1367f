// tessera-bench-shared-cache — the hit path of the shared tile cache (lib/cache/) against a
// plain memcpy of the same tile from private memory, for one thread, two threads of one
// process and two processes (fork before any thread exists) sharing one segment.
//
// Usage: tessera-bench-shared-cache [--quick]
// Each figure is the median of 5 runs of ~0.2 s (--quick: 3 runs of 0.05 s), in ns per tile;
// the working set (64 tiles) fits the cache, so every get is a hit.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cache/shared_tile_cache.h"

namespace {

using tessera::detail::ChunkKey;
using tessera::detail::SharedTileCache;
using Clock = std::chrono::steady_clock;

constexpr int kTiles = 64;

ChunkKey key_for(int id) {
  ChunkKey key{};
  const uint64_t h = uint64_t(id) * 0x9e3779b97f4a7c15ull + 1;
  std::memcpy(key.data(), &h, 8);
  std::memcpy(key.data() + 8, &id, sizeof id);
  return key;
}

// ns per op of `op(i)` run for `seconds` (checked every 64 ops).
template <typename Op>
double time_ops(double seconds, Op&& op) {
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  uint64_t ops = 0;
  while (Clock::now() < end)
    for (int i = 0; i < 64; ++i) op(ops++);
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(ops);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Config {
  int runs;
  double seconds;
};

double memcpy_ns(size_t size, const Config& c) {
  std::vector<std::vector<uint8_t>> tiles(kTiles, std::vector<uint8_t>(size, 7));
  std::vector<uint8_t> out(size);
  std::vector<double> r;
  for (int run = 0; run < c.runs; ++run)
    r.push_back(time_ops(c.seconds, [&](uint64_t i) {
      std::memcpy(out.data(), tiles[i % kTiles].data(), size);
      asm volatile("" : : "r"(out.data()) : "memory");
    }));
  return median(r);
}

double hit_ns(SharedTileCache& cache, size_t size, const Config& c, int offset) {
  std::vector<uint8_t> out(size);
  std::vector<double> r;
  for (int run = 0; run < c.runs; ++run)
    r.push_back(time_ops(c.seconds, [&](uint64_t i) {
      if (!cache.get(key_for(int((i + offset) % kTiles)), out.data(), size)) std::abort();
    }));
  return median(r);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const Config config = quick ? Config{3, 0.05} : Config{5, 0.2};
  std::printf("%-10s %12s %12s %12s %12s %12s\n", "tile", "memcpy ns", "1 thread", "2 threads",
              "2 procs", "hit/memcpy");
  for (size_t size : {size_t(4096), size_t(65536), size_t(196608)}) {
    const std::string name = "/tessera-bench-" + std::to_string(::getpid());
    (void)SharedTileCache::remove(name);
    // 4 x the working set, so that no set overflows.
    auto opened = SharedTileCache::open(name, 4096 + 4 * kTiles * (64 + size), uint32_t(size));
    if (!opened) {
      std::fprintf(stderr, "%s\n", opened.status().to_string().c_str());
      return 1;
    }
    SharedTileCache& cache = **opened;
    std::vector<uint8_t> tile(size, 3);
    for (int id = 0; id < kTiles; ++id) cache.put(key_for(id), tile.data(), size);
    for (int id = 0; id < kTiles; ++id)
      if (!cache.get(key_for(id), tile.data(), size)) {
        std::fprintf(stderr, "tile %d was not cached (its set overflowed)\n", id);
        (void)SharedTileCache::remove(name);
        return 1;
      }

    const double base = memcpy_ns(size, config);
    const double one = hit_ns(cache, size, config, 0);

    double two_threads[2];
    {
      std::thread other([&] { two_threads[1] = hit_ns(cache, size, config, 17); });
      two_threads[0] = hit_ns(cache, size, config, 0);
      other.join();
    }

    // Two processes: a forked child (no thread alive at fork) opens the segment by name.
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) return 1;
    const pid_t child = ::fork();
    if (child == 0) {
      auto mine = SharedTileCache::open(name, 0, 1);
      const double ns = mine ? hit_ns(**mine, size, config, 17) : -1;
      (void)!::write(pipe_fds[1], &ns, sizeof ns);
      ::_exit(0);
    }
    const double parent_ns = hit_ns(cache, size, config, 0);
    double child_ns = -1;
    (void)!::read(pipe_fds[0], &child_ns, sizeof child_ns);
    ::waitpid(child, nullptr, 0);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);

    const double threads = (two_threads[0] + two_threads[1]) / 2;
    const double procs = (parent_ns + child_ns) / 2;
    std::printf("%-10zu %12.0f %12.0f %12.0f %12.0f %12.2f\n", size, base, one, threads, procs,
                one / base);
    (void)SharedTileCache::remove(name);
  }
  return 0;
}
