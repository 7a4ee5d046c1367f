// tessera-bench-cli — `tessera import` and `tessera export` as a user runs them, beside the codec
// bounds of the same tiles measured in the same run:
//   1. the demo's synthetic scan (N x N RGB u8) is written as raw BIP with an ENVI header into
//      DIR, so the import's source is in the page cache;
//   2. the bounds (bench/bounds.h): raw LZ4 and zstd:1 compression of exactly the tiles Tessera
//      stores, one core; and the in-memory full read, every LZ4 tile decoded and copied into
//      full-width strips, one core, halved for the two cores the export decodes on;
//   3. `tessera import DIR/scan.raw` with LZ4 and zstd:1 (default options: 2 threads, 64 MiB
//      commits, synced), and `tessera export` of the LZ4 container's whole image to raw BIP in
//      /dev/shm (tmpfs, so no disk is timed), each the median of --reps runs (3).
//
// Usage: tessera-bench-cli [--size N] [--reps N] [DIR]   (N = 8192: 201 MB raw; DIR = /tmp)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "bounds.h"
#include "child_run.h"
#include "synthetic_scan.h"

namespace tessera::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(const std::vector<std::string>& command) {
  const auto t0 = Clock::now();
  if (run_command(command) != 0) {
    std::string line;
    for (const std::string& a : command) line += a + " ";
    die("tessera-bench-cli", "failed: " + line);
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median_seconds(int reps, const std::vector<std::string>& command, const std::string& before = {}) {
  std::vector<Run> runs;
  for (int i = 0; i < reps; ++i) {
    if (!before.empty()) std::remove(before.c_str());
    runs.push_back(Run{seconds_of(command), 0});
  }
  return median(runs).seconds;
}

struct Config {
  int64_t size = 8192;
  int reps = 3;
  std::string dir = "/tmp";
};

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--size" && i + 1 < argc) c.size = std::atoll(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) c.reps = std::atoi(argv[++i]);
    else if (!a.empty() && a[0] != '-') c.dir = a;
    else die("tessera-bench-cli", "usage: tessera-bench-cli [--size N] [--reps N] [DIR]");
  }
  if (c.size < 256 || c.size % 256 != 0 || c.reps < 1) die("tessera-bench-cli", "--size: a multiple of 256");
  return c;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  using namespace tessera::bench;
  const Config cfg = parse(argc, argv);
  const std::string tessera_cli = TESSERA_CLI_PATH;
  const Shape shape{cfg.size, cfg.size, 3, 1, 256};
  const double raw_mb = double(shape.raw_bytes()) / 1e6;
  const std::string source = cfg.dir + "/tessera-bench-cli-scan.raw";
  const std::string container = cfg.dir + "/tessera-bench-cli.tsr";
  const std::string exported = "/dev/shm/tessera-bench-cli-export.raw";

  // The source, and the compression bounds of its tiles.
  std::fprintf(stderr, "tessera-bench-cli: %lld x %lld RGB u8 scan, %.0f MB raw\n", (long long)cfg.size,
               (long long)cfg.size, raw_mb);
  RawTiles lz4(RawCodec::kLz4, shape), zstd(RawCodec::kZstd1, shape);
  {
    const tessera::synth::SyntheticScan scan(cfg.size, cfg.size, shape.tile);
    std::ofstream out(source, std::ios::binary | std::ios::trunc);
    const size_t line = size_t(cfg.size) * shape.pixel_bytes();
    std::vector<uint8_t> strip(line * shape.tile);
    for (int64_t y = 0; y < cfg.size; y += shape.tile) {
      scan.render(tessera::Region{0, y, cfg.size, shape.tile}, strip.data(), line);
      out.write(reinterpret_cast<const char*>(strip.data()), std::streamsize(strip.size()));
      lz4.add_strip(y, shape.tile, strip.data());
      zstd.add_strip(y, shape.tile, strip.data());
    }
    std::ofstream header(source + ".hdr", std::ios::trunc);
    header << "ENVI\nsamples = " << cfg.size << "\nlines = " << cfg.size
           << "\nbands = 3\nheader offset = 0\ndata type = 1\ninterleave = bip\nbyte order = 0\n";
    if (!out || !header) die("tessera-bench-cli", "cannot write " + source);
  }
  ::sync();  // the source's write-back must not compete with the imports' own syncs
  std::vector<tessera::Region> strips;
  for (int64_t y = 0; y < cfg.size; y += shape.tile) strips.push_back(tessera::Region{0, y, cfg.size, shape.tile});
  std::vector<uint8_t> strip_buffer(size_t(cfg.size) * shape.tile * shape.pixel_bytes());
  std::vector<Run> reads;
  for (int i = 0; i < 3; ++i) {
    // read_regions copies each region into the start of the buffer: one strip at a time.
    reads.push_back(Run{lz4.read_regions(strips, strip_buffer.data()), 0});
  }
  const double read_bound_1core = raw_mb / median(reads).seconds;

  // The commands.
  std::fprintf(stderr, "tessera-bench-cli: tessera import, lz4\n");
  const double import_lz4 =
      median_seconds(cfg.reps, {tessera_cli, "import", container, source, "--codec", "lz4", "--quiet"}, container);
  std::fprintf(stderr, "tessera-bench-cli: tessera export\n");
  const double export_raw = median_seconds(
      cfg.reps, {tessera_cli, "export", container, exported, "--quiet", "--force"}, exported);
  std::remove(exported.c_str());
  std::remove((exported + ".hdr").c_str());
  std::fprintf(stderr, "tessera-bench-cli: tessera import, zstd:1\n");
  const double import_zstd = median_seconds(
      cfg.reps, {tessera_cli, "import", container, source, "--codec", "zstd:1", "--quiet"}, container);
  std::remove(container.c_str());
  std::remove(source.c_str());
  std::remove((source + ".hdr").c_str());

  struct Line {
    const char* what;
    double mbps, bound, target;
  };
  const Line lines[] = {
      {"tessera import --codec lz4 / raw lz4 compression (1 core)", raw_mb / import_lz4,
       raw_mb / lz4.compress_seconds(), 1.0},
      {"tessera import --codec zstd:1 / raw zstd:1 compression (1 core)", raw_mb / import_zstd,
       raw_mb / zstd.compress_seconds(), 1.6},
      {"tessera export (raw, tmpfs) / raw lz4 decode + copy (2 cores)", raw_mb / export_raw,
       2 * read_bound_1core, 0.5},
  };
  std::printf("tessera-bench-cli: %lld x %lld RGB u8 scan (%.0f MB), medians of %d runs, MB/s of raw pixels\n",
              (long long)cfg.size, (long long)cfg.size, raw_mb, cfg.reps);
  std::printf("%-66s %9s %9s %7s %7s\n", "", "MB/s", "bound", "ratio", "target");
  for (const Line& l : lines)
    std::printf("%-66s %9.0f %9.0f %7.2f %7.2f  %s\n", l.what, l.mbps, l.bound, l.mbps / l.bound, l.target,
                l.mbps / l.bound >= l.target ? "met" : "MISSED");
  return 0;
}
