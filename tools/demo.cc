// tessera-demo — the main job of the README's quick start, and a measuring stick: `ingest`
// streams a synthetic slide scan into a new container, `check` reads random regions of it back
// and compares every sample with the generator, each beside a raw LZ4 baseline. kProgram, at the
// end, describes both and their options (`tessera-demo SUB --help`); the command line is parsed
// as tessera's is (command_line.h).
//
// Both print short lines for people and end with one "RESULT key=value ..." line for scripts.
// Throughputs are MB (10^6 bytes) of raw pixels per second of wall-clock time.
// Exit codes: 0 success, 1 a check or library call failed, 2 the command line is wrong.
//
// The scan is a pure function pixel(x, y, band) of the image size and tile size, cheap enough
// (integer hashing only) to recompute every pixel the check reads:
//  - a margin two tiles wide of pure white (255,255,255): whole tiles that are exactly uniform;
//  - a near-white background (234..245) with illumination shading and sparse sensor noise;
//  - a few dozen stained "tissue" blobs (unions of discs), pink with a smooth stain-density
//    texture and dark purple nuclei;
//  - a calibration target stamped at tile-aligned positions: tiles that are exact duplicates.
// Only the public API (tessera/tessera.h) is used, plus liblz4 for the baselines.

#include <lz4.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "command_line.h"
#include "synthetic_scan.h"
#include "tessera/tessera.h"

namespace {

namespace cli = tessera::cli;
using tessera::Region;

constexpr const char* kImageName = "scan";
constexpr int kBands = 3;

// ---------------------------------------------------------------------------------------------
// Small helpers

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double mb(uint64_t bytes) { return double(bytes) / 1e6; }

using tessera::synth::mix64;
using tessera::synth::Rng;
using tessera::synth::SyntheticScan;

// A failure (exit code 1); a command-line mistake is a cli::UsageError (exit code 2) instead.
[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "tessera-demo: %s\n", message.c_str());
  std::exit(1);
}
void check_ok(const tessera::Status& status, const std::string& what) {
  if (!status.is_ok()) die(what + ": " + status.to_string());
}

// ---------------------------------------------------------------------------------------------
// Options

// The whole number given to option `name` ("--width"), or `fallback`.
int64_t option(const cli::Args& args, std::string_view name, int64_t fallback) {
  const std::optional<std::string> value = args.value(name);
  return value ? cli::parse_number<int64_t>(*value, name) : fallback;
}
bool has_option(const cli::Args& args, std::string_view name) { return args.value(name).has_value(); }

// ---------------------------------------------------------------------------------------------
// ingest

// A fixed set of strip buffers passed between the generator thread and the writer.
class StripQueue {
 public:
  struct Strip {
    int64_t index = -1;
    std::vector<uint8_t> data;
  };

  StripQueue(size_t buffers, size_t bytes) {
    for (size_t i = 0; i < buffers; ++i) {
      auto s = std::make_unique<Strip>();
      s->data.resize(bytes);
      free_.push_back(std::move(s));
    }
  }
  std::unique_ptr<Strip> take_free() { return take(free_); }
  void put_full(std::unique_ptr<Strip> s) { put(full_, std::move(s)); }
  std::unique_ptr<Strip> take_full() { return take(full_); }
  void put_free(std::unique_ptr<Strip> s) { put(free_, std::move(s)); }

 private:
  std::unique_ptr<Strip> take(std::vector<std::unique_ptr<Strip>>& from) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !from.empty(); });
    auto s = std::move(from.front());
    from.erase(from.begin());
    return s;
  }
  void put(std::vector<std::unique_ptr<Strip>>& to, std::unique_ptr<Strip> s) {
    {
      std::lock_guard lock(mutex_);
      to.push_back(std::move(s));
    }
    cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Strip>> free_, full_;
};

// Samples this process's resident memory (Linux /proc/self/status) every 50 ms and keeps the
// peaks: anonymous memory (heap, buffers) apart from mapped file pages (LMDB's read-only map of
// the container, which the kernel can drop at any time), which /usr/bin/time adds together.
class MemorySampler {
 public:
  MemorySampler() : thread_([this] { run(); }) {}
  ~MemorySampler() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  uint64_t peak_anon_kb() const { return peak_anon_kb_; }
  uint64_t peak_file_kb() const { return peak_file_kb_; }

 private:
  void sample() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return;
    char line[256];
    unsigned long long kb = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::sscanf(line, "RssAnon: %llu", &kb) == 1) peak_anon_kb_ = std::max<uint64_t>(peak_anon_kb_, kb);
      if (std::sscanf(line, "RssFile: %llu", &kb) == 1) peak_file_kb_ = std::max<uint64_t>(peak_file_kb_, kb);
    }
    std::fclose(f);
  }
  void run() {
    std::unique_lock lock(mutex_);
    do sample();
    while (!cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return done_; }));
    sample();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  uint64_t peak_anon_kb_ = 0, peak_file_kb_ = 0;
  std::thread thread_;
};

struct Lz4Baseline {
  uint64_t tiles = 0, raw_bytes = 0, compressed_bytes = 0;
  double seconds = 0;
};

// LZ4_compress_default on one core over one tile in `step` (picked by a hash of the tile's
// position, so the sample does not line up with the scan's columns), each tile rendered exactly
// as Tessera stores it: chunky RGB, tile x tile, fill beyond the scan.
Lz4Baseline lz4_compress_baseline(const SyntheticScan& scan, uint64_t step) {
  Lz4Baseline out;
  const int64_t t = scan.tile();
  const size_t tile_bytes = size_t(t * t * kBands);
  std::vector<uint8_t> raw(tile_bytes);
  std::vector<char> packed(size_t(LZ4_compressBound(int(tile_bytes))), 0);
  const int64_t count = scan.tiles_x() * scan.tiles_y();
  for (int64_t i = 0; i < count; ++i) {
    if (mix64(uint64_t(i) ^ 0xBA5E11E5ull) % step != 0) continue;
    scan.render(Region{(i % scan.tiles_x()) * t, (i / scan.tiles_x()) * t, t, t}, raw.data(),
                size_t(t * kBands));
    auto start = Clock::now();
    int n = LZ4_compress_default(reinterpret_cast<const char*>(raw.data()), packed.data(),
                                 int(tile_bytes), int(packed.size()));
    out.seconds += seconds_since(start);
    if (n <= 0) die("LZ4_compress_default failed");
    out.tiles += 1;
    out.raw_bytes += tile_bytes;
    out.compressed_bytes += uint64_t(n);
  }
  return out;
}

int run_ingest(const cli::Args& args) {
  const std::string& file = args.positional(0);
  const int64_t width = option(args, "--width", 40000);
  const int64_t height = option(args, "--height", 30000);
  const int64_t tile = option(args, "--tile", 256);
  if (width < 1 || height < 1 || width > (int64_t(1) << 24) || height > (int64_t(1) << 24)) {
    throw cli::UsageError{"--width and --height must be 1 .. 16777216"};
  }
  if (tile < 16 || tile > 4096 || (tile & (tile - 1)) != 0) throw cli::UsageError{"--tile must be a power of two 16 .. 4096"};
  if (has_option(args, "--map-mib") && option(args, "--map-mib", 0) < 1) throw cli::UsageError{"--map-mib must be at least 1"};

  auto total_start = Clock::now();
  MemorySampler memory;
  const SyntheticScan scan(width, height, tile);

  tessera::OpenOptions open_options;
  if (has_option(args, "--map-mib")) open_options.map_size = uint64_t(option(args, "--map-mib", 0)) << 20;
  auto container = tessera::Container::create(file, open_options);
  if (!container) die("create " + file + ": " + container.status().to_string());
  tessera::ImageSpec spec;
  spec.type = tessera::DataType::kU8;
  spec.bands = kBands;
  spec.tile_size = uint32_t(tile);
  spec.fill = {0.0};
  spec.storage = tessera::StorageLayout::kChunky;
  spec.codec = tessera::CodecSpec{tessera::Codec::kLz4, 0};
  // The image declares the scan's extent, as an import does.
  check_ok(container->write([&](tessera::WriteTxn& txn) {
             TESSERA_RETURN_IF_ERROR(txn.create_image(kImageName, spec));
             return txn.set_attribute(kImageName, tessera::kExtentAttribute,
                                      tessera::extent_value(tessera::Region{0, 0, width, height}));
           }),
           "create image '" + std::string(kImageName) + "'");

  const size_t line_bytes = size_t(width) * kBands;
  const size_t strip_bytes = line_bytes * size_t(tile);
  const int64_t strips = (height + tile - 1) / tile;
  // About 96 MB of raw pixels per commit: hundreds of tiles, so that the cost of each commit (its
  // sync, the tree pages it rewrites) is spread over many of them.
  const int64_t strips_per_commit = std::max<int64_t>(1, int64_t(96'000'000 / strip_bytes));
  const uint64_t raw_bytes = uint64_t(width) * uint64_t(height) * kBands;

  std::printf("ingest: %s: image '%s' %lld x %lld RGB u8, tile %lld, lz4; %.1f MB raw in %lld strips, "
              "%lld per commit\n",
              file.c_str(), kImageName, (long long)width, (long long)height, (long long)tile,
              mb(raw_bytes), (long long)strips, (long long)strips_per_commit);
  std::fflush(stdout);

  auto strip_region = [&](int64_t s) {
    return Region{0, s * tile, width, std::min(tile, height - s * tile)};
  };

  // The generator thread renders strips ahead of the writer into a fixed set of buffers.
  StripQueue queue(3, strip_bytes);
  std::atomic<double> generator_seconds{0};
  std::thread generator([&] {
    double busy = 0;
    for (int64_t s = 0; s < strips; ++s) {
      auto strip = queue.take_free();
      auto start = Clock::now();
      strip->index = s;
      scan.render(strip_region(s), strip->data.data(), line_bytes);
      busy += seconds_since(start);
      queue.put_full(std::move(strip));
    }
    generator_seconds = busy;
  });

  auto ingest_start = Clock::now();
  double tessera_seconds = 0, wait_seconds = 0;
  int64_t commits = 0, next_report = 1;
  std::vector<uint8_t> retry_buffer;
  int64_t retries = 0;           // batches run again after the map grew
  int64_t next_from_queue = 0;  // strips before this one have been taken from the generator
  for (int64_t first = 0; first < strips; first += strips_per_commit) {
    const int64_t last = std::min(strips, first + strips_per_commit);
    auto start = Clock::now();
    double waited = 0;
    // Container::write runs the body again after growing a full map: strips this batch already
    // took from the generator are then rendered again here (the generator is pure).
    int attempts = 0;
    tessera::Status status = container->write([&](tessera::WriteTxn& txn) -> tessera::Status {
      if (++attempts > 1) ++retries;
      for (int64_t s = first; s < last; ++s) {
        const Region r = strip_region(s);
        const size_t bytes = size_t(r.height) * line_bytes;
        tessera::Status st;
        if (s == next_from_queue) {
          ++next_from_queue;
          auto wait_start = Clock::now();
          auto strip = queue.take_full();
          waited += seconds_since(wait_start);
          if (strip->index != s) return tessera::Status(tessera::Code::kInternal, "strip out of order");
          st = txn.write(kImageName, r, tessera::Selection{}, strip->data.data(), bytes);
          queue.put_free(std::move(strip));
        } else {
          retry_buffer.resize(strip_bytes);
          scan.render(r, retry_buffer.data(), line_bytes);
          st = txn.write(kImageName, r, tessera::Selection{}, retry_buffer.data(), bytes);
        }
        if (!st.is_ok()) return st.with_context("strip " + std::to_string(s) + " " + tessera::to_string(r));
      }
      return tessera::Status::ok();
    });
    if (!status.is_ok()) {
      generator.detach();
      die("ingest " + file + ": " + status.to_string());
    }
    ++commits;
    tessera_seconds += seconds_since(start) - waited;
    wait_seconds += waited;
    if (last * 4 >= strips * next_report && next_report < 4) {
      std::printf("ingest: %3lld%% (%lld of %lld strips, %.1f s)\n", (long long)(last * 100 / strips),
                  (long long)last, (long long)strips, seconds_since(ingest_start));
      std::fflush(stdout);
      while (next_report < 4 && last * 4 >= strips * next_report) ++next_report;
    }
  }
  generator.join();
  const double ingest_seconds = seconds_since(ingest_start);
  retry_buffer = {};

  // What the container holds now.
  tessera::ImageStats stats;
  {
    auto snapshot = container->snapshot();
    if (!snapshot) die("snapshot: " + snapshot.status().to_string());
    auto image_stats = snapshot->stats(kImageName);
    if (!image_stats) die("stats: " + image_stats.status().to_string());
    stats = *image_stats;
  }
  std::error_code ec;
  const uint64_t file_bytes = std::filesystem::file_size(file, ec);
  memory.stop();

  const double ingest_mbs = mb(raw_bytes) / ingest_seconds;
  const double write_mbs = mb(raw_bytes) / tessera_seconds;
  std::printf("ingest: %.1f MB in %.2f s = %.1f MB/s end to end (%lld commits, %lld retried after "
              "the map grew)\n",
              mb(raw_bytes), ingest_seconds, ingest_mbs, (long long)commits, (long long)retries);
  std::printf("ingest: %.2f s inside tessera write+commit = %.1f MB/s; generator %.2f s on its own "
              "thread, writer waited %.2f s for it\n",
              tessera_seconds, write_mbs, generator_seconds.load(), wait_seconds);
  std::printf("stored: %.1f MB of %.1f MB raw (%.2fx); file %.1f MB; tiles: %llu uniform, %llu chunk, "
              "%llu unique chunks (generator made %llu margin, %llu calibration tiles, %zu blobs)\n",
              mb(stats.bytes_stored), mb(stats.bytes_raw),
              stats.bytes_stored ? double(stats.bytes_raw) / double(stats.bytes_stored) : 0.0,
              mb(file_bytes), (unsigned long long)stats.tiles_uniform, (unsigned long long)stats.tiles_chunk,
              (unsigned long long)stats.chunks_unique, (unsigned long long)scan.margin_tiles(),
              (unsigned long long)scan.calibration_tiles(), scan.blob_count());
  std::printf("memory: peak %.0f MiB anonymous (buffers, heap), %.0f MiB of mapped file pages "
              "(sampled every 50 ms)\n",
              double(memory.peak_anon_kb()) / 1024, double(memory.peak_file_kb()) / 1024);
  std::fflush(stdout);

  // Baseline: plain LZ4 over a sample of the same tiles, one core, nothing else running.
  const Lz4Baseline lz4 = lz4_compress_baseline(scan, 16);
  const double lz4_mbs = mb(lz4.raw_bytes) / lz4.seconds;
  std::printf("baseline: LZ4_compress_default, 1 core, 1 tile in 16 (%llu tiles, %.1f MB): %.3f s = "
              "%.1f MB/s, ratio %.2fx\n",
              (unsigned long long)lz4.tiles, mb(lz4.raw_bytes), lz4.seconds, lz4_mbs,
              double(lz4.raw_bytes) / double(lz4.compressed_bytes));
  std::printf("ingest vs LZ4 compress: %.2fx (end to end, 2 cores shared with the generator, "
              "vs 1 core doing LZ4 alone)\n",
              ingest_mbs / lz4_mbs);
  std::printf("RESULT ingest_mb_s=%.1f ingest_s=%.2f write_mb_s=%.1f write_s=%.2f generator_s=%.2f "
              "lz4_compress_mb_s=%.1f lz4_ratio=%.3f ingest_vs_lz4=%.3f bytes_raw=%llu bytes_stored=%llu "
              "file_bytes=%llu tiles_uniform=%llu tiles_chunk=%llu chunks_unique=%llu peak_anon_mib=%.0f "
              "total_s=%.2f\n",
              ingest_mbs, ingest_seconds, write_mbs, tessera_seconds, generator_seconds.load(), lz4_mbs,
              double(lz4.raw_bytes) / double(lz4.compressed_bytes), ingest_mbs / lz4_mbs,
              (unsigned long long)stats.bytes_raw, (unsigned long long)stats.bytes_stored,
              (unsigned long long)file_bytes, (unsigned long long)stats.tiles_uniform,
              (unsigned long long)stats.tiles_chunk, (unsigned long long)stats.chunks_unique,
              double(memory.peak_anon_kb()) / 1024, seconds_since(total_start));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// check

struct CheckRegion {
  Region region;
  tessera::Interleave interleave;
};

// Finds the first sample of `got` (laid out as `interleave`) that differs from `expected`
// (BIP), or returns false.
bool first_mismatch(const std::vector<uint8_t>& expected, const std::vector<uint8_t>& got,
                    const Region& r, tessera::Interleave interleave, int64_t* mx, int64_t* my,
                    int* mband) {
  const int64_t w = r.width, h = r.height;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int b = 0; b < kBands; ++b) {
        size_t at = 0;
        switch (interleave) {
          case tessera::Interleave::kBIP: at = size_t((y * w + x) * kBands + b); break;
          case tessera::Interleave::kBIL: at = size_t((y * kBands + b) * w + x); break;
          case tessera::Interleave::kBSQ: at = size_t((b * h + y) * w + x); break;
        }
        if (got[at] != expected[size_t((y * w + x) * kBands + b)]) {
          *mx = r.x + x;
          *my = r.y + y;
          *mband = b;
          return true;
        }
      }
    }
  }
  return false;
}

bool same_samples(const std::vector<uint8_t>& expected, const std::vector<uint8_t>& got,
                  const Region& r, tessera::Interleave interleave) {
  if (interleave == tessera::Interleave::kBIP) {
    return std::memcmp(expected.data(), got.data(), expected.size()) == 0;
  }
  // BSQ: compare plane by plane against the BIP reference.
  const size_t n = size_t(r.width * r.height);
  const uint8_t* e = expected.data();
  const uint8_t* p0 = got.data();
  const uint8_t* p1 = p0 + n;
  const uint8_t* p2 = p1 + n;
  unsigned diff = 0;
  for (size_t i = 0; i < n; ++i) {
    diff |= unsigned(e[3 * i] ^ p0[i]) | unsigned(e[3 * i + 1] ^ p1[i]) | unsigned(e[3 * i + 2] ^ p2[i]);
  }
  return diff == 0;
}

int run_check(const cli::Args& args) {
  const std::string& file = args.positional(0);
  const int64_t count = option(args, "--regions", 1000);
  const int64_t size = option(args, "--size", 512);
  const uint64_t seed = uint64_t(option(args, "--seed", 1));
  if (count < 1) throw cli::UsageError{"--regions must be at least 1"};
  if (size < 1 || size > 16384) throw cli::UsageError{"--size must be 1 .. 16384"};

  auto total_start = Clock::now();
  tessera::OpenOptions open_options;
  open_options.read_only = true;
  auto container = tessera::Container::open(file, open_options);
  if (!container) die("open " + file + ": " + container.status().to_string());
  auto snapshot = container->snapshot();
  if (!snapshot) die("snapshot " + file + ": " + snapshot.status().to_string());
  auto info = snapshot->image(kImageName);
  if (!info) die(file + ": " + info.status().to_string());
  if (info->spec.type != tessera::DataType::kU8 || info->spec.bands != kBands) {
    die(file + ": image '" + std::string(kImageName) + "' is not u8 with 3 bands: not made by tessera-demo ingest");
  }
  const int64_t tile = info->spec.tile_size;

  // The scan's size: given, or the exact bounds of its data (the white margin reaches every edge).
  int64_t width = option(args, "--width", 0), height = option(args, "--height", 0);
  if (!has_option(args, "--width") || !has_option(args, "--height")) {
    auto start = Clock::now();
    auto bounds = snapshot->bounds(kImageName, 0, tessera::Precision::kExact);
    if (!bounds) die("bounds: " + bounds.status().to_string());
    if (!bounds->has_value()) die(file + ": image '" + std::string(kImageName) + "' holds no data");
    const Region b = **bounds;
    if (b.x != 0 || b.y != 0) die("bounds " + tessera::to_string(b) + " do not start at 0,0: not a tessera-demo scan");
    width = b.width;
    height = b.height;
    std::printf("check: exact bounds %s in %.3f s\n", tessera::to_string(b).c_str(), seconds_since(start));
  }
  if (width < size || height < size) throw cli::UsageError{"the scan is smaller than --size"};
  const SyntheticScan scan(width, height, tile);

  // The generator's fast path (render) must agree with its definition (pixel): spot-check a
  // few regions that cross tiles, the margin and the scan's edges.
  {
    Rng probe{42};
    std::vector<uint8_t> block(size_t(300 * 300 * kBands));
    for (int i = 0; i < 8; ++i) {
      Region r{probe.below(width + 200) - 100, probe.below(height + 200) - 100, 300, 300};
      scan.render(r, block.data(), 300 * kBands);
      for (int64_t y = 0; y < r.height; ++y)
        for (int64_t x = 0; x < r.width; ++x)
          for (int b = 0; b < kBands; ++b)
            if (block[size_t((y * 300 + x) * kBands + b)] != scan.pixel(r.x + x, r.y + y, b))
              die("generator self-check failed at pixel (" + std::to_string(r.x + x) + "," +
                  std::to_string(r.y + y) + ") band " + std::to_string(b) + ": a bug in tessera-demo");
    }
  }

  Rng rng{seed * 0x2545F4914F6CDD1Dull + 1};
  std::vector<CheckRegion> regions;
  for (int64_t i = 0; i < count; ++i) {
    Region r{rng.below(width - size + 1), rng.below(height - size + 1), size, size};
    regions.push_back({r, i % 2 == 0 ? tessera::Interleave::kBIP : tessera::Interleave::kBSQ});
  }
  std::printf("check: %s: image '%s' %lld x %lld RGB u8, tile %lld; %lld regions of %lldx%lld (seed %llu), "
              "half BIP, half BSQ\n",
              file.c_str(), kImageName, (long long)width, (long long)height, (long long)tile,
              (long long)count, (long long)size, (long long)size, (unsigned long long)seed);
  std::fflush(stdout);

  const size_t region_bytes = size_t(size * size * kBands);
  std::vector<uint8_t> got(region_bytes), expected(region_bytes);
  double read_seconds = 0, verify_seconds = 0;
  const tessera::Selection all_bands{};
  for (size_t i = 0; i < regions.size(); ++i) {
    const auto& [r, interleave] = regions[i];
    std::memset(got.data(), 0xA5, got.size());  // so a sample the read skipped cannot pass
    auto start = Clock::now();
    check_ok(snapshot->read(kImageName, r, all_bands, got.data(), got.size(), interleave),
             "region " + std::to_string(i) + " " + tessera::to_string(r));
    read_seconds += seconds_since(start);

    start = Clock::now();
    scan.render(r, expected.data(), size_t(size) * kBands);
    if (!same_samples(expected, got, r, interleave)) {
      int64_t x = 0, y = 0;
      int band = 0;
      first_mismatch(expected, got, r, interleave, &x, &y, &band);
      int64_t w = r.width, h = r.height, lx = x - r.x, ly = y - r.y;
      size_t at = interleave == tessera::Interleave::kBIP ? size_t((ly * w + lx) * kBands + band)
                                                          : size_t((band * h + ly) * w + lx);
      std::fprintf(stderr,
                   "tessera-demo: MISMATCH in region %zu %s (%s): pixel (%lld,%lld) band %d: "
                   "expected %u, got %u\n",
                   i, tessera::to_string(r).c_str(), std::string(tessera::interleave_name(interleave)).c_str(),
                   (long long)x, (long long)y, band, unsigned(scan.pixel(x, y, band)), unsigned(got[at]));
      return 1;
    }
    verify_seconds += seconds_since(start);
  }
  const uint64_t samples = uint64_t(count) * uint64_t(region_bytes);
  const double regions_per_s = double(count) / read_seconds;
  const double read_mbs = mb(samples) / read_seconds;
  std::printf("check: all %llu samples of %lld regions match the generator\n", (unsigned long long)samples,
              (long long)count);
  std::printf("read: %lld regions in %.2f s = %.1f regions/s, %.1f MB/s (read calls only; "
              "generator and compare %.2f s)\n",
              (long long)count, read_seconds, regions_per_s, read_mbs, verify_seconds);
  std::fflush(stdout);

  // Baseline: raw LZ4_decompress_safe of every tile each region touches (each touched tile once
  // per region). The tiles of a batch of regions are rendered and compressed beforehand on two
  // threads; only the decompression is timed, on one core.
  const size_t tile_bytes = size_t(tile * tile * kBands);
  uint64_t tile_decodes = 0;
  double lz4_seconds = 0;
  std::vector<uint8_t> decoded(tile_bytes);
  constexpr size_t kBatch = 32;
  std::vector<std::vector<char>> packed;  // reused from batch to batch, capacity and all
  for (size_t first = 0; first < regions.size(); first += kBatch) {
    std::vector<Region> tiles;  // touched tiles of the batch, once per region
    for (size_t i = first; i < std::min(regions.size(), first + kBatch); ++i) {
      const Region& r = regions[i].region;
      for (int64_t ty = r.y / tile; ty <= (r.y_end() - 1) / tile; ++ty)
        for (int64_t tx = r.x / tile; tx <= (r.x_end() - 1) / tile; ++tx)
          tiles.push_back(Region{tx * tile, ty * tile, tile, tile});
    }
    packed.resize(tiles.size());
    auto prepare = [&](size_t part, size_t parts) {
      std::vector<uint8_t> raw(tile_bytes);
      std::vector<char> scratch(size_t(LZ4_compressBound(int(tile_bytes))), 0);
      for (size_t t = part; t < tiles.size(); t += parts) {
        scan.render(tiles[t], raw.data(), size_t(tile) * kBands);
        int n = LZ4_compress_default(reinterpret_cast<const char*>(raw.data()), scratch.data(),
                                     int(tile_bytes), int(scratch.size()));
        if (n <= 0) die("LZ4_compress_default failed");
        packed[t].assign(scratch.begin(), scratch.begin() + n);
      }
    };
    std::thread helper(prepare, 1, 2);
    prepare(0, 2);
    helper.join();

    auto start = Clock::now();
    for (const auto& p : packed) {
      int n = LZ4_decompress_safe(p.data(), reinterpret_cast<char*>(decoded.data()), int(p.size()),
                                  int(tile_bytes));
      if (n != int(tile_bytes)) die("LZ4_decompress_safe failed");
    }
    lz4_seconds += seconds_since(start);
    tile_decodes += packed.size();
  }
  const double lz4_tiles_per_s = double(tile_decodes) / lz4_seconds;
  const double lz4_regions_per_s = double(count) / lz4_seconds;
  std::printf("baseline: LZ4_decompress_safe, 1 core, %llu tile decodes (%.1f per region): %.3f s = "
              "%.0f tiles/s = %.1f regions/s, %.1f MB/s decoded\n",
              (unsigned long long)tile_decodes, double(tile_decodes) / double(count), lz4_seconds,
              lz4_tiles_per_s, lz4_regions_per_s, mb(tile_decodes * tile_bytes) / lz4_seconds);
  std::printf("read vs LZ4 decompress: %.2fx\n", regions_per_s / lz4_regions_per_s);
  std::printf("RESULT regions=%lld region_size=%lld regions_per_s=%.1f read_mb_s=%.1f read_s=%.2f "
              "lz4_tile_decodes=%llu lz4_tiles_per_s=%.0f lz4_regions_per_s=%.1f read_vs_lz4=%.3f "
              "mismatches=0 total_s=%.2f\n",
              (long long)count, (long long)size, regions_per_s, read_mbs, read_seconds,
              (unsigned long long)tile_decodes, lz4_tiles_per_s, lz4_regions_per_s,
              regions_per_s / lz4_regions_per_s, seconds_since(total_start));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The command line

const cli::Program kProgram{
    "tessera-demo",
    {
        {"ingest", {"FILE"}, 0,
         {{"--width", "W", "the scan's width in pixels, 1 .. 16777216 (default 40000)"},
          {"--height", "H", "its height, 1 .. 16777216 (default 30000)"},
          {"--tile", "N", "the tile size, a power of two 16 .. 4096 (default 256)"},
          {"--map-mib", "N", "the initial map size in MiB (default: the library's), to watch the map grow"}},
         "Create FILE with one image \"scan\" (u8, 3 bands, chunky tiles, LZ4) and stream a "
         "synthetic slide scan into it strip by strip.",
         "Strips are tile-size rows across the full width, committed a few at a time, so memory "
         "stays bounded whatever the size; a generator thread renders the next strips while the "
         "library writes. Then times raw LZ4_compress_default on one core over 1 tile in 16 of "
         "the same scan, laid out as Tessera stores it, as a baseline.",
         run_ingest},
        {"check", {"FILE"}, 0,
         {{"--regions", "N", "how many regions to read (default 1000)"},
          {"--size", "N", "their width and height, 1 .. 16384 (default 512)"},
          {"--seed", "N", "the seed of their positions (default 1)"},
          {"--width", "W", "the scan's width (default: from the image's exact bounds)"},
          {"--height", "H", "the scan's height (default: from the image's exact bounds)"}},
         "Read random unaligned regions of FILE, alternately BIP and BSQ, and compare every "
         "sample with the generator.",
         "Opens FILE read-only. The scan's size comes from the image's exact bounds (the white "
         "margin reaches every edge) unless both --width and --height are given. Then times raw "
         "LZ4_decompress_safe of the tiles those regions touch, as a baseline.",
         run_check},
    },
    "exit status: 0 success, 1 a check or library call failed, 2 the command line is wrong.",
};

}  // namespace

int main(int argc, char** argv) { return tessera::cli::run(kProgram, argc, argv); }
