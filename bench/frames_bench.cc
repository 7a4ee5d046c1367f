// tessera-bench-frames — the figures of frame sequences, geometry caches and sparse canvases:
//
//  1. sequence: a 16384 x 16384 RGB u8 image, then 99 more frames, each changing 5% of the tiles
//     of the previous one (one commit per frame, as an editor saves). Reported: file size over
//     (stored bytes of frame 0 + stored bytes of every changed tile), and the time to create and
//     fill a frame near the start and near the end of the sequence.
//  2. geometry: a sparse 32768 x 32768 (1-gigapixel) canvas. Reported: an exact-box query on a
//     fresh cache, on a stale one (after erasing a tile on the edge: recomputed from the tile
//     index and the edge tiles), and a full recomputation that decodes every stored tile.
//  3. strokes: 1000 brush strokes scattered over a 2^40 x 2^40 pixel area of an unbounded
//     canvas. Reported: stored bytes over the raw bytes of the tiles the strokes touched.
//
// Usage: tessera-bench-frames [--quick] [--no-sync] [DIR]   (DIR: where the files go, /tmp)
// --quick shrinks the sequence to 4096 x 4096 and 20 frames (a smoke run); --no-sync commits
// the sequence without fsync (to tell the cost of syncing from the rest).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <lmdb.h>

#include "raster/geometry.h"
#include "store/env.h"
#include "tessera/tessera.h"

namespace {

using namespace tessera;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "tessera-bench-frames: %s\n", what.c_str());
  std::exit(1);
}
void check(const Status& s, const char* what) {
  if (!s.is_ok()) die(std::string(what) + ": " + s.to_string());
}
template <typename T>
T take(Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.status().to_string());
  return std::move(r).value();
}

// Pages on LMDB's free list (main database 0: each value is a list of page numbers, its first
// word the count), read with liblmdb directly from a closed container file.
uint64_t free_pages(const std::string& path) {
  MDB_env* env = nullptr;
  uint64_t pages = 0;
  if (mdb_env_create(&env) != 0) return 0;
  MDB_txn* txn = nullptr;
  MDB_cursor* cursor = nullptr;
  if (mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_RDONLY, 0644) == 0 &&
      mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0 && mdb_cursor_open(txn, 0, &cursor) == 0) {
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      size_t count = 0;
      std::memcpy(&count, v.mv_data, sizeof count);
      pages += count;
    }
    mdb_cursor_close(cursor);
  }
  if (txn) mdb_txn_abort(txn);
  mdb_env_close(env);
  return pages;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}
uint64_t file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}
void remove_container(const std::string& path) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-lock");
}

// A tile's content: a gradient in steps of 4 pixels with sparse one-level noise (LZ4 keeps
// about a third of it, like a scan's smooth areas), different for every (tile, version).
void render_tile(int64_t tx, int64_t ty, uint32_t version, int64_t tile, uint8_t* out) {
  uint64_t state = uint64_t(tx * 73856093) ^ uint64_t(ty * 19349663) ^ (uint64_t(version) << 40) ^ 0x9E3779B97F4A7C15ull;
  for (int64_t y = 0; y < tile; ++y)
    for (int64_t x = 0; x < tile; ++x) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      const uint8_t base = uint8_t((x + 2 * y + int64_t(version) * 29) >> 2);
      for (int b = 0; b < 3; ++b) *out++ = uint8_t(base + b * 40 + (((state >> (8 * b)) & 0x1F) == 0));
    }
}

// ---- 1. frame sequence ------------------------------------------------------------------------

void sequence(const std::string& dir, bool quick, bool sync) {
  const int64_t size = quick ? 4096 : 16384, tile = 256, tiles = size / tile;
  const uint32_t frames = quick ? 20 : 100;
  const size_t per_frame = size_t(tiles * tiles / 20);  // 5% of the tiles
  const std::string path = dir + "/bench-sequence.tsr";
  remove_container(path);
  OpenOptions options;
  options.sync = sync;
  Container c = take(Container::create(path, options), "create");
  ImageSpec spec;
  spec.bands = 3;
  spec.tile_size = uint32_t(tile);
  check(c.write([&](WriteTxn& t) { return t.create_image("seq", spec); }), "create image");

  // Frame 0, committed in strips of 8 tile rows.
  const int64_t strip = 8 * tile;
  std::vector<uint8_t> buffer(size_t(size * strip) * 3), one(size_t(tile * tile) * 3);
  double frame0_seconds = 0;  // writes and commits only, not the rendering
  for (int64_t y0 = 0; y0 < size; y0 += strip) {
    for (int64_t ty = y0 / tile; ty < (y0 + strip) / tile; ++ty)
      for (int64_t tx = 0; tx < tiles; ++tx) {
        render_tile(tx, ty, 0, tile, one.data());
        for (int64_t y = 0; y < tile; ++y)
          std::memcpy(&buffer[size_t(((ty * tile - y0 + y) * size + tx * tile) * 3)], &one[size_t(y * tile * 3)], size_t(tile * 3));
      }
    const auto t0 = Clock::now();
    check(c.write([&](WriteTxn& t) {
      return t.write("seq", Region{0, y0, size, strip}, Selection{}, buffer.data(), buffer.size());
    }), "write frame 0");
    frame0_seconds += seconds_since(t0);
  }

  // Frames 1..: each adds a frame and rewrites 5% of the tiles with new content.
  std::mt19937_64 rng(42);
  std::vector<double> frame_seconds, commit_seconds;
  std::vector<int64_t> order(size_t(tiles * tiles));
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  std::vector<uint8_t> changes(per_frame * one.size());
  for (uint32_t f = 1; f < frames; ++f) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i = 0; i < per_frame; ++i)
      render_tile(order[i] % tiles, order[i] / tiles, f, tile, &changes[i * one.size()]);
    const auto t = Clock::now();  // add the frame, write its changed tiles, commit
    WriteTxn txn = take(c.begin_write(), "begin");
    check(txn.add_frame("seq"), "add frame");
    for (size_t i = 0; i < per_frame; ++i) {
      const int64_t tx = order[i] % tiles, ty = order[i] / tiles;
      check(txn.write("seq", Region{tx * tile, ty * tile, tile, tile}, Selection{f, 0, {}},
                      &changes[i * one.size()], one.size()), "write");
    }
    const auto before_commit = Clock::now();
    check(txn.commit(), "commit");
    frame_seconds.push_back(seconds_since(t));
    commit_seconds.push_back(seconds_since(before_commit));
  }

  Snapshot snap = take(c.snapshot(), "snapshot");
  const std::vector<FrameInfo> list = take(snap.frames("seq"), "frames");
  uint64_t stored = 0, changed_tiles = 0;
  for (const FrameInfo& fi : list) {
    stored += fi.bytes_stored;
    if (fi.frame > 0) changed_tiles += fi.tiles;
  }
  // Spot check: a tile changed in the last frame reads back as rendered.
  std::vector<uint8_t> got(one.size());
  const int64_t tx = order[0] % tiles, ty = order[0] / tiles;
  check(snap.read("seq", Region{tx * tile, ty * tile, tile, tile}, Selection{frames - 1, 0, {}}, got.data(), got.size()), "read");
  render_tile(tx, ty, frames - 1, tile, one.data());
  if (got != one) die("sequence: a tile of the last frame reads back wrong");
  const PoolStats pool = take(snap.pool_stats(), "pool");
  const uint64_t file = file_size(path);
  { Snapshot closing = std::move(snap); }
  { Container closing = std::move(c); }
  const uint64_t free = free_pages(path);

  const size_t k = std::min<size_t>(10, frame_seconds.size() / 2);
  auto first = [&](const std::vector<double>& v) { return median({v.begin(), v.begin() + long(k)}); };
  auto last = [&](const std::vector<double>& v) { return median({v.end() - long(k), v.end()}); };
  std::printf("\n== frame sequence: %lld x %lld RGB u8, tile %lld, %u frames, %zu tiles (5%%) changed per frame\n",
              (long long)size, (long long)size, (long long)tile, frames, per_frame);
  std::printf("  frame 0 writes and commits         %8.2f s  (%.0f MB/s of raw pixels)\n", frame0_seconds,
              double(size * size * 3) / frame0_seconds / 1e6);
  std::printf("  create + fill + commit a frame     frames 1-%zu: %.1f ms, frames %u-%u: %.1f ms (medians), last/first %.2f\n",
              k, 1e3 * first(frame_seconds), frames - uint32_t(k), frames - 1, 1e3 * last(frame_seconds),
              last(frame_seconds) / first(frame_seconds));
  std::printf("    of which the commit              frames 1-%zu: %.1f ms, frames %u-%u: %.1f ms\n", k,
              1e3 * first(commit_seconds), frames - uint32_t(k), frames - 1, 1e3 * last(commit_seconds));
  std::printf("  changed tiles stored               %8llu  (%llu frames x %zu)\n", (unsigned long long)changed_tiles,
              (unsigned long long)(frames - 1), per_frame);
  std::printf("  stored bytes (frame 0 + changes)   %12llu\n", (unsigned long long)stored);
  std::printf("  chunk pool                         %12llu bytes in %llu chunks\n",
              (unsigned long long)pool.bytes_stored, (unsigned long long)pool.chunks);
  std::printf("  file size                          %12llu\n", (unsigned long long)file);
  std::printf("  file size / stored                 %8.3f   (target <= 1.15)\n", double(file) / double(stored));
  std::printf("  LMDB free pages at the end         %8llu  (%.1f MB)\n", (unsigned long long)free, double(free) * 4096 / 1e6);
  remove_container(path);
}

// ---- 2. geometry ------------------------------------------------------------------------------

void geometry(const std::string& dir) {
  const int64_t size = 32768, tile = 256;
  const std::string path = dir + "/bench-geometry.tsr";
  remove_container(path);
  ImageSpec spec;
  spec.tile_size = uint32_t(tile);
  std::mt19937_64 rng(7);
  std::vector<uint8_t> blob(64 * 64);
  {
    Container c = take(Container::create(path), "create");
    check(c.write([&](WriteTxn& t) -> Status {
      TESSERA_RETURN_IF_ERROR(t.create_image("canvas", spec));
      for (int i = 0; i < 3000; ++i) {
        for (auto& v : blob) v = uint8_t(1 + rng() % 200);
        const int64_t x = int64_t(rng() % uint64_t(size - 64)), y = int64_t(rng() % uint64_t(size - 64));
        TESSERA_RETURN_IF_ERROR(t.write("canvas", Region{x, y, 64, 64}, Selection{}, blob.data(), blob.size()));
      }
      // Store the exact box in the cache.
      return t.bounds("canvas").status();
    }), "paint");
    Snapshot snap = take(c.snapshot(), "snapshot");
    const ImageStats stats = take(snap.stats("canvas"), "stats");
    const std::optional<Region> exact = take(snap.bounds("canvas"), "bounds");
    std::vector<double> fresh;
    for (int i = 0; i < 2000; ++i) {
      const auto t = Clock::now();
      auto box = snap.bounds("canvas");
      fresh.push_back(seconds_since(t));
      if (!box || *box != exact) die("geometry: a fresh query gave another box");
    }
    // Erase the leftmost column of data: the exact box goes stale (its left side moves).
    std::vector<uint8_t> zeros(size_t(exact->height));
    check(c.write([&](WriteTxn& t) {
      return t.write("canvas", Region{exact->x, exact->y, 1, exact->height}, Selection{}, zeros.data(), zeros.size());
    }), "erase");
    Snapshot stale_snap = take(c.snapshot(), "snapshot");
    std::vector<double> stale;
    std::optional<Region> after;
    for (int i = 0; i < 20; ++i) {
      const auto t = Clock::now();
      after = take(stale_snap.bounds("canvas"), "stale bounds");
      stale.push_back(seconds_since(t));
    }
    std::printf("\n== geometry: %lld x %lld canvas (1 gigapixel), 3000 random 64 x 64 blobs, %llu tiles stored\n",
                (long long)size, (long long)size, (unsigned long long)(stats.tiles_chunk + stats.tiles_uniform));
    std::printf("  exact box %s, after erasing column x=%lld: %s\n", to_string(*exact).c_str(), (long long)exact->x,
                after ? to_string(*after).c_str() : "empty");
    std::printf("  exact query, fresh cache           %10.2f us  (median of 2000)\n", 1e6 * median(fresh));
    std::printf("  exact query, stale cache           %10.2f us  (median of 20: leaf from the index, exact from edge tiles)\n",
                1e6 * median(stale));
  }  // the container closes: the internal API below opens the file on its own
  // The full recomputation: every stored tile decoded.
  OpenOptions options;
  options.read_only = true;
  auto env = take(detail::Env::open(path, options, false), "open");
  auto runtime = take(detail::Runtime::open(*env), "runtime");
  auto txn = take(detail::Txn::begin(env, false), "txn");
  const ImageInfo info = *take(txn->find_image("canvas"), "image");
  std::vector<double> full;
  std::optional<Region> by_scan;
  for (int i = 0; i < 5; ++i) {
    const auto t = Clock::now();
    by_scan = take(detail::exact_geometry_by_full_scan(*txn, *runtime, info, 0), "full scan");
    full.push_back(seconds_since(t));
  }
  const std::optional<Region> cached = take(detail::frame_geometry(*txn, *runtime, info, 0, Precision::kExact), "geometry");
  if (by_scan != cached) die("geometry: the full scan disagrees with the cache");
  std::printf("  exact, full recomputation          %10.2f us  (median of 5: every stored tile decoded)\n", 1e6 * median(full));
  txn.reset();
  env.reset();
  remove_container(path);
}

// ---- 3. strokes over an unbounded canvas ----------------------------------------------------------

void strokes(const std::string& dir) {
  const std::string path = dir + "/bench-strokes.tsr";
  remove_container(path);
  Container c = take(Container::create(path), "create");
  ImageSpec spec;
  spec.bands = 4;  // RGBA
  spec.tile_size = 256;
  check(c.write([&](WriteTxn& t) { return t.create_image("paint", spec); }), "create image");
  std::mt19937_64 rng(99);
  const int64_t half = int64_t(1) << 39;  // the area spans -2^39 .. 2^39 on both axes
  const int64_t radius = 6, dabs = 40, step = 5;
  std::vector<uint8_t> buffer;
  const auto t0 = Clock::now();
  for (int batch = 0; batch < 10; ++batch)
    check(c.write([&](WriteTxn& t) -> Status {
      for (int s = 0; s < 100; ++s) {
        // A random walk of dabs: the stroke's path, then its bounding box, read-modify-write.
        std::vector<std::pair<int64_t, int64_t>> path;
        int64_t x = int64_t(rng() % uint64_t(2 * half)) - half, y = int64_t(rng() % uint64_t(2 * half)) - half;
        double angle = double(rng() % 628) / 100.0;
        for (int64_t d = 0; d < dabs; ++d) {
          path.emplace_back(x, y);
          angle += double(int64_t(rng() % 61) - 30) / 100.0;
          x += int64_t(step * std::cos(angle)), y += int64_t(step * std::sin(angle));
        }
        int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = INT64_MIN, y1 = INT64_MIN;
        for (auto [px, py] : path)
          x0 = std::min(x0, px - radius), y0 = std::min(y0, py - radius), x1 = std::max(x1, px + radius),
          y1 = std::max(y1, py + radius);
        const Region box{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
        buffer.assign(size_t(box.pixel_count()) * 4, 0);
        TESSERA_RETURN_IF_ERROR(t.read("paint", box, Selection{}, buffer.data(), buffer.size()));
        const uint8_t color[4] = {uint8_t(rng()), uint8_t(rng()), uint8_t(rng()), 255};
        for (auto [px, py] : path)
          for (int64_t dy = -radius; dy <= radius; ++dy)
            for (int64_t dx = -radius; dx <= radius; ++dx)
              if (dx * dx + dy * dy <= radius * radius)
                std::memcpy(&buffer[size_t(((py + dy - y0) * box.width + (px + dx - x0)) * 4)], color, 4);
        TESSERA_RETURN_IF_ERROR(t.write("paint", box, Selection{}, buffer.data(), buffer.size()));
      }
      return Status::ok();
    }), "stroke");
  const double seconds = seconds_since(t0);
  Snapshot snap = take(c.snapshot(), "snapshot");
  const ImageStats stats = take(snap.stats("paint"), "stats");
  const std::optional<Region> box = take(snap.bounds("paint", 0, Precision::kLeaf), "bounds");
  std::printf("\n== strokes: 1000 strokes (40 dabs of radius 6) over a 2^40 x 2^40 area, RGBA u8, tile 256\n");
  std::printf("  painted in                         %8.2f s (read, paint, write each stroke; 10 commits)\n", seconds);
  std::printf("  tiles touched                      %8llu  over a leaf box of %s\n",
              (unsigned long long)(stats.tiles_chunk + stats.tiles_uniform), box ? to_string(*box).c_str() : "-");
  std::printf("  raw bytes of those tiles           %12llu\n", (unsigned long long)stats.bytes_raw);
  std::printf("  stored bytes (records + chunks)    %12llu\n", (unsigned long long)stats.bytes_stored);
  std::printf("  stored / raw                       %8.4f\n", double(stats.bytes_stored) / double(stats.bytes_raw));
  std::printf("  file size                          %12llu  (%.4f of raw)\n", (unsigned long long)file_size(path),
              double(file_size(path)) / double(stats.bytes_raw));
  remove_container(path);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, sync = true;
  std::string dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") quick = true;
    else if (arg == "--no-sync") sync = false;
    else if (arg.starts_with("-")) die("usage: tessera-bench-frames [--quick] [--no-sync] [DIR]");
    else dir = arg;
  }
  sequence(dir, quick, sync);
  geometry(dir);
  strokes(dir);
  return 0;
}
