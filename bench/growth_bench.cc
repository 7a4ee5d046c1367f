// tessera-bench-growth — what an edit costs as a file grows and ages: commits that each rewrite
// random tiles with new content, on a file of N tiles and on one of 10 N (1.4 and 14 GB by
// default), through the public API.
//
// Tiles are 256 x 256 RGB u8, LZ4, each a random fraction (1/4 to all) of random bytes and the
// rest zero, so chunks are of every size between about 50 and 193 KB (LMDB keeps each in a run
// of whole overflow pages, and a rewrite frees one run and needs another of another length).
// Commits are not synced: the figures are the engine's own work, not the disk's.
//
//   1. the small file: `--rounds` (200) commits of 5 % of its tiles at random positions, then 50
//      commits of 10 tiles; per rewritten tile, the median over the first and the last 20
//      commits of 5 %, and over the commits of 10; the file's size against its live chunk bytes;
//   2. the large file (`--scale` x the tiles; 0 skips it): 5 commits of 5 % of its tiles.
//
// Usage: tessera-bench-growth [--tiles N] [--rounds R] [--scale S] [DIR]   (N = 11000; DIR = /tmp)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include <unistd.h>

#include "child_run.h"
#include "synthetic_scan.h"
#include "tessera/tessera.h"

namespace {

using namespace tessera;
using Clock = std::chrono::steady_clock;

constexpr int64_t kTile = 256;
constexpr size_t kTileBytes = size_t(kTile * kTile * 3);

using synth::Rng;  // tile content and positions, the same for every run

[[noreturn]] void die(const std::string& what) { bench::die("tessera-bench-growth", what); }
void check(const Status& s, const std::string& what) {
  if (!s.is_ok()) die(what + ": " + s.to_string());
}

// A fresh tile: the first 1/4..4/4 of its bytes random, the rest zero; lines `line` bytes apart.
void fill_tile(Rng& rng, uint8_t* dst, size_t line) {
  const size_t random_bytes = kTileBytes / 4 + size_t(rng.below(int64_t(kTileBytes * 3 / 4)));
  size_t at = 0;
  for (int64_t y = 0; y < kTile; ++y) {
    uint8_t* row = dst + size_t(y) * line;
    for (size_t x = 0; x < size_t(kTile) * 3; x += 8, at += 8) {
      const uint64_t v = at < random_bytes ? rng.next() : 0;
      std::memcpy(row + x, &v, 8);
    }
  }
}

struct Grid {
  int64_t tiles, across;
  int64_t down() const { return (tiles + across - 1) / across; }
};

// Progress on a terminal only: "\r" lines that a log would keep as noise.
template <typename... Args>
void progress(const char* format, Args... args) {
  static const bool terminal = ::isatty(2);
  if (terminal) std::fprintf(stderr, format, args...);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A new file of `grid.tiles` tiles, written a row of tiles at a time, a commit per 64 MB.
Container make_file(const std::string& path, const Grid& grid, Rng& rng) {
  std::filesystem::remove(path);
  OpenOptions options;
  options.sync = false;
  auto c = Container::create(path, options);
  check(c.status(), path);
  ImageSpec spec;
  spec.type = DataType::kU8;
  spec.bands = 3;
  spec.tile_size = kTile;
  spec.codec = CodecSpec{Codec::kLz4, 0};
  check(c->write([&](WriteTxn& t) { return t.create_image("img", spec); }), "create image");
  const size_t line = size_t(grid.across * kTile) * 3;
  std::vector<uint8_t> strip(line * kTile);
  int64_t written = 0;
  for (int64_t ty = 0; ty < grid.down(); ++ty) {
    const int64_t n = std::min(grid.across, grid.tiles - written);
    for (int64_t tx = 0; tx < n; ++tx) fill_tile(rng, strip.data() + size_t(tx * kTile) * 3, line);
    check(c->write([&](WriteTxn& t) {
            return t.write("img", Region{0, ty * kTile, n * kTile, kTile}, Selection{}, strip.data(),
                           line * kTile, Strides{3, int64_t(line), 1});
          }),
          "ingest");
    written += n;
    progress("\r%s: %lld of %lld tiles", path.c_str(), (long long)written, (long long)grid.tiles);
  }
  progress("\n");
  ::sync();  // the new file's write-back must not run during the timed commits
  return std::move(c).value();
}

// One commit rewriting `count` distinct random tiles: seconds per rewritten tile.
double rewrite_round(Container& c, const Grid& grid, int64_t count, Rng& rng, std::vector<uint8_t>& tile) {
  std::vector<int64_t> picks;
  while (int64_t(picks.size()) < count) {
    const int64_t t = rng.below(grid.tiles);
    if (std::find(picks.begin(), picks.end(), t) == picks.end()) picks.push_back(t);
  }
  const auto t0 = Clock::now();
  auto txn = c.begin_write();
  check(txn.status(), "begin");
  for (int64_t t : picks) {
    fill_tile(rng, tile.data(), size_t(kTile) * 3);
    const Region r{(t % grid.across) * kTile, (t / grid.across) * kTile, kTile, kTile};
    check(txn->write("img", r, Selection{}, tile.data(), tile.size()), "rewrite");
  }
  check(txn->commit(), "commit");
  return seconds_since(t0) / double(count);
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Figures {
  double live_mb = 0, file_mb = 0;
};
Figures sizes(const Container& c, const std::string& path) {
  auto snap = c.snapshot();
  check(snap.status(), "snapshot");
  auto pool = snap->pool_stats();
  check(pool.status(), "pool stats");
  return {double(pool->bytes_stored) / 1e6, double(std::filesystem::file_size(path)) / 1e6};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t tiles = 11000, rounds = 200, scale = 10;
  std::string dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tiles" && i + 1 < argc) tiles = std::atoll(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoll(argv[++i]);
    else if (a == "--scale" && i + 1 < argc) scale = std::atoll(argv[++i]);
    else if (!a.empty() && a[0] != '-') dir = a;
    else die("usage: tessera-bench-growth [--tiles N] [--rounds R] [--scale S] [DIR]");
  }
  if (tiles < 200 || rounds < 40 || scale < 0) die("--tiles at least 200, --rounds at least 40");
  std::vector<uint8_t> tile(kTileBytes);
  Rng rng{2026};

  // 1. The small file, aged.
  const std::string small_path = dir + "/tessera-bench-growth-small.tsr";
  const Grid small{tiles, int64_t(std::ceil(std::sqrt(double(tiles))))};
  const int64_t five_percent = std::max<int64_t>(1, tiles / 20);
  Figures fresh, aged;
  double first = 0, last = 0, few = 0;
  {
    Container small_file = make_file(small_path, small, rng);
    fresh = sizes(small_file, small_path);
    std::vector<double> per_tile;
    for (int64_t r = 0; r < rounds; ++r) {
      per_tile.push_back(rewrite_round(small_file, small, five_percent, rng, tile));
      progress("\rsmall file: commit %lld of %lld, %.0f us per tile", (long long)r + 1,
                   (long long)rounds, per_tile.back() * 1e6);
    }
    progress("\n");
    std::vector<double> ten;
    for (int r = 0; r < 50; ++r) ten.push_back(rewrite_round(small_file, small, 10, rng, tile));
    aged = sizes(small_file, small_path);
    first = median_of({per_tile.begin(), per_tile.begin() + 20});
    last = median_of({per_tile.end() - 20, per_tile.end()});
    few = median_of(ten);
  }
  std::filesystem::remove(small_path);

  // 2. The large file, fresh.
  double large = 0, large_same = 0;  // per tile: commits of 5 % of its tiles, of the small file's 5 %
  Figures large_sizes;
  const Grid big{tiles * scale, int64_t(std::ceil(std::sqrt(double(tiles * scale))))};
  if (scale > 0) {
    const std::string large_path = dir + "/tessera-bench-growth-large.tsr";
    {
      Container large_file = make_file(large_path, big, rng);
      large_sizes = sizes(large_file, large_path);
      std::vector<double> large_rounds, same_rounds;
      for (int r = 0; r < 5; ++r) {
        large_rounds.push_back(rewrite_round(large_file, big, std::max<int64_t>(1, big.tiles / 20), rng, tile));
        same_rounds.push_back(rewrite_round(large_file, big, five_percent, rng, tile));
        progress("\rlarge file: round %d of 5, %.0f and %.0f us per tile", r + 1, large_rounds.back() * 1e6,
                 same_rounds.back() * 1e6);
      }
      progress("\n");
      large = median_of(large_rounds);
      large_same = median_of(same_rounds);
    }
    std::filesystem::remove(large_path);
  }

  std::printf("tessera-bench-growth: 256 x 256 RGB u8 LZ4 tiles of 50 to 193 KB, commits not synced\n");
  std::printf("small file: %lld tiles, %.0f MB (%.0f MB of chunks); after %lld commits of %lld tiles and 50 of 10: "
              "%.0f MB (%.0f MB of chunks)\n",
              (long long)tiles, fresh.file_mb, fresh.live_mb, (long long)rounds, (long long)five_percent,
              aged.file_mb, aged.live_mb);
  std::printf("  us per rewritten tile: the first 20 commits of 5 %%: %.0f; the last 20: %.0f; commits of 10: %.0f\n",
              first * 1e6, last * 1e6, few * 1e6);
  if (scale > 0)
    std::printf("large file: %lld tiles, %.0f MB (%.0f MB of chunks): us per rewritten tile, commits of 5 %% "
                "(%lld tiles): %.0f; commits of %lld tiles: %.0f\n",
                (long long)big.tiles, large_sizes.file_mb, large_sizes.live_mb, (long long)(big.tiles / 20),
                large * 1e6, (long long)five_percent, large_same * 1e6);
  struct Target {
    const char* what;
    double measured, bound;
    bool at_most;
  };
  std::vector<Target> targets = {
      {"per tile, commits of 10 / commits of 5 % (aged file)", few / last, 2.0, true},
      {"per tile, the last 20 commits / the first 20 (aging)", last / first, 2.0, true},
      {"file size after the commits / live chunk bytes", aged.file_mb / aged.live_mb, 1.2, true},
  };
  if (scale > 0) {
    targets.insert(targets.begin(), {"per tile, large file / small file (commits of 5 % each)", large / first, 2.0, true});
    targets.insert(targets.begin() + 1,
                   {"per tile, large file / small file (commits of the same size)", large_same / first, 2.0, true});
  }
  std::printf("\ntargets (ratios from this run)\n");
  for (const Target& t : targets)
    std::printf("  %-60s <= %4.2f  measured %5.2f  %s\n", t.what, t.bound, t.measured,
                t.measured <= t.bound ? "met" : "MISSED");
  return 0;
}
