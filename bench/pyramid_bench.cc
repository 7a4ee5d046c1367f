// tessera-bench-pyramid: building pyramid levels (Container::build_pyramid) of the demo's
// synthetic slide scan (tools/synthetic_scan.h, N x N RGB u8, tiles of 256, LZ4), in three tables.
//
//  1. Build: every level down to one tile (auto), mean, in a copy of the level-0 container,
//     with 1 and 2 worker threads; MB/s of level-0 raw bytes. Beside it in the same run, on the
//     same scan as an uncompressed tiled TIFF: `gdaladdo -ro -r average` to the same number of
//     levels (external .ovr, uncompressed; GDAL_NUM_THREADS=ALL_CPUS) and `vips dzsave`
//     (Deep Zoom, 256-pixel JPEG tiles at libvips' default quality, overlap 0): each the peer's
//     usual way to make overviews, with its own output format.
//  2. In step with edits: one write of 1 tile, and of 100 random tiles, into the built
//     container (the levels follow in the write's transaction) and into a copy without levels:
//     the difference is what the levels cost, beside the full build.
//  3. Size: stored bytes of each level (View::stats), as a fraction of level 0's.
//
// Every timed run happens in a child process; medians of --reps. Files go to DIR (/tmp).
//
//   tessera-bench-pyramid [--size N] [--reps N] [DIR]
#include <tiffio.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "child_run.h"
#include "synthetic_scan.h"
#include "tessera/tessera.h"

namespace {

namespace fs = std::filesystem;
using tessera::bench::in_child;
using tessera::bench::median;
using tessera::bench::Run;
using tessera::bench::run_command;
constexpr int64_t kTile = 256;
constexpr const char* kImage = "scan";

[[noreturn]] void die(const std::string& what) { tessera::bench::die("tessera-bench-pyramid", what); }

void check(const tessera::Status& s, const std::string& what) {
  if (!s.is_ok()) die(what + ": " + s.to_string());
}

// The scan, strip by strip, into a new container and an uncompressed tiled TIFF.
void write_scan(int64_t size, const std::string& tsr, const std::string& tif) {
  const tessera::synth::SyntheticScan scan(size, size, kTile);
  auto c = tessera::Container::create(tsr);
  check(c.status(), "create " + tsr);
  check(c->write([](tessera::WriteTxn& txn) {
    tessera::ImageSpec spec;
    spec.bands = 3;
    return txn.create_image(kImage, spec);
  }), "create image");
  TIFF* out = TIFFOpen(tif.c_str(), "w8");
  if (!out) die("cannot create " + tif);
  TIFFSetField(out, TIFFTAG_IMAGEWIDTH, uint32_t(size));
  TIFFSetField(out, TIFFTAG_IMAGELENGTH, uint32_t(size));
  TIFFSetField(out, TIFFTAG_SAMPLESPERPIXEL, uint16_t(3));
  TIFFSetField(out, TIFFTAG_BITSPERSAMPLE, uint16_t(8));
  TIFFSetField(out, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(out, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  TIFFSetField(out, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  TIFFSetField(out, TIFFTAG_TILEWIDTH, uint32_t(kTile));
  TIFFSetField(out, TIFFTAG_TILELENGTH, uint32_t(kTile));
  const size_t line = size_t(size) * 3;
  std::vector<uint8_t> strip(line * kTile), tile(size_t(kTile * kTile) * 3);
  for (int64_t y = 0; y < size; y += kTile) {
    const int64_t rows = std::min(kTile, size - y);
    const tessera::Region r{0, y, size, rows};
    scan.render(r, strip.data(), line);
    check(c->write([&](tessera::WriteTxn& txn) { return txn.write(kImage, r, {}, strip.data(), line * rows); }),
          "write strip");
    for (int64_t x = 0; x < size; x += kTile) {
      std::fill(tile.begin(), tile.end(), 0);
      for (int64_t row = 0; row < rows; ++row)
        std::memcpy(tile.data() + size_t(row * kTile) * 3, strip.data() + size_t(row) * line + size_t(x) * 3,
                    size_t(std::min(kTile, size - x)) * 3);
      if (TIFFWriteEncodedTile(out, TIFFComputeTile(out, uint32_t(x), uint32_t(y), 0, 0), tile.data(),
                               tmsize_t(tile.size())) < 0)
        die("cannot write " + tif);
    }
  }
  TIFFClose(out);
}

tessera::Container open(const std::string& path, unsigned threads) {
  tessera::OpenOptions options;
  options.threads = threads;
  auto c = tessera::Container::open(path, options);
  check(c.status(), "open " + path);
  return std::move(c).value();
}

// `count` distinct tile positions inside the scan, the same on every run.
std::vector<tessera::Region> tiles_to_edit(int64_t size, int count) {
  std::vector<tessera::Region> tiles;
  uint64_t state = 42;
  const int64_t across = size / kTile;
  while (int(tiles.size()) < count) {
    state = tessera::synth::mix64(state);
    const int64_t index = int64_t(state % uint64_t(across * across));
    const tessera::Region r{index % across * kTile, index / across * kTile, kTile, kTile};
    if (std::find(tiles.begin(), tiles.end(), r) == tiles.end()) tiles.push_back(r);
  }
  return tiles;
}

// Writes new content (a gradient) over `tiles` in one transaction.
int edit(const std::string& path, const std::vector<tessera::Region>& tiles) {
  tessera::Container c = open(path, 2);
  std::vector<uint8_t> pixels(size_t(kTile * kTile) * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 7 / 3);
  return c.write([&](tessera::WriteTxn& txn) -> tessera::Status {
           for (const tessera::Region& r : tiles)
             TESSERA_RETURN_IF_ERROR(txn.write(kImage, r, {}, pixels.data(), pixels.size()));
           return tessera::Status::ok();
         }).is_ok()
             ? 0
             : 1;
}

void copy(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::remove(to, ec);
  fs::remove(to + "-lock", ec);
  fs::copy_file(from, to, ec);
  if (ec) die("cannot copy " + from + " to " + to + ": " + ec.message());
}

int build(const std::string& path, unsigned threads) {
  return open(path, threads).build_pyramid(kImage).is_ok() ? 0 : 1;
}

void print_row(const char* what, const Run& run, double raw_mb) {
  std::printf("  %-58s %8.2f s %8.0f MB/s %7.0f MiB peak RSS\n", what, run.seconds, raw_mb / run.seconds,
              double(run.peak_rss_kib) / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t size = 16384;
  int reps = 3;
  std::string dir = fs::temp_directory_path().string();
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--size") && i + 1 < argc) size = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (argv[i][0] != '-') dir = argv[i];
    else return std::fprintf(stderr, "usage: tessera-bench-pyramid [--size N] [--reps N] [DIR]\n"), 2;
  }
  if (size < 4 * kTile || reps < 1) die("--size at least 1024, --reps at least 1");
  TIFFSetWarningHandler(nullptr);
  const std::string base = dir + "/tessera-bench-pyramid-base.tsr", tif = dir + "/tessera-bench-pyramid.tif";
  const std::string work = dir + "/tessera-bench-pyramid-work.tsr", plain = dir + "/tessera-bench-pyramid-plain.tsr";
  const double raw_mb = double(size) * double(size) * 3 / 1e6;
  const Run made = in_child("writing the scan", [&] { return write_scan(size, base, tif), 0; });
  std::printf("Scan: %lldx%lld RGB u8, tiles of %lld (%.0f MB raw), written in %.1f s; median of %d\n",
              (long long)size, (long long)size, (long long)kTile, raw_mb, made.seconds, reps);

  std::printf("Build (every level to one tile, mean)\n");
  uint32_t levels = 0;
  for (unsigned threads : {1u, 2u}) {
    std::vector<Run> runs;
    for (int r = 0; r < reps; ++r) {
      copy(base, work);
      runs.push_back(in_child("build", [&] { return build(work, threads); }));
    }
    const std::string label = "tessera pyramid, " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
    print_row(label.c_str(), median(runs), raw_mb);
  }
  {
    tessera::Container c = open(work, 2);
    auto snap = c.snapshot();
    check(snap.status(), "snapshot");
    levels = snap->pyramid(kImage)->levels;
  }
  std::vector<std::string> factors;
  for (uint32_t l = 1; l <= levels; ++l) factors.push_back(std::to_string(1u << l));
  {
    std::vector<Run> runs;
    for (int r = 0; r < reps; ++r) {
      std::vector<std::string> args = {"gdaladdo", "-q", "-ro", "-r", "average", "--config", "GDAL_NUM_THREADS",
                                       "ALL_CPUS", tif};
      args.insert(args.end(), factors.begin(), factors.end());
      runs.push_back(in_child("gdaladdo", [&] { return run_command(args); }));
      fs::remove(tif + ".ovr");
    }
    const std::string label = "gdaladdo -ro -r average (" + std::to_string(levels) + " levels)";
    print_row(label.c_str(), median(runs), raw_mb);
  }
  {
    std::vector<Run> runs;
    const std::string out = dir + "/tessera-bench-pyramid-dz";
    for (int r = 0; r < reps; ++r) {
      runs.push_back(in_child("vips dzsave", [&] {
        return run_command({"vips", "dzsave", tif, out, "--tile-size", "256", "--overlap", "0"});
      }));
      std::error_code ec;
      fs::remove_all(out + "_files", ec);
      fs::remove(out + ".dzi", ec);
    }
    print_row("vips dzsave (Deep Zoom, JPEG tiles)", median(runs), raw_mb);
  }

  std::printf("In step with edits (one transaction, 2 threads; %u levels)\n", levels);
  for (int count : {1, 100}) {
    const std::vector<tessera::Region> tiles = tiles_to_edit(size, count);
    std::vector<Run> with, without;
    for (int r = 0; r < reps; ++r) {
      copy(work, work + ".edit");
      with.push_back(in_child("edit", [&] { return edit(work + ".edit", tiles); }));
      copy(base, plain);
      without.push_back(in_child("edit", [&] { return edit(plain, tiles); }));
    }
    const double a = median(with).seconds, b = median(without).seconds;
    std::printf("  %3d tiles: %8.3f s with levels, %8.3f s without: the levels cost %.3f s\n", count, a, b, a - b);
  }
  {
    tessera::Container c = open(work, 2);
    auto snap = c.snapshot();
    check(snap.status(), "snapshot");
    std::printf("Size (stored bytes; tiles)\n");
    uint64_t level0 = 0, above = 0;
    for (uint32_t l = 0; l <= levels; ++l) {
      auto stats = snap->stats(kImage, 0, l);
      check(stats.status(), "stats");
      const uint64_t bytes = stats->bytes_stored;
      if (l == 0) level0 = bytes;
      else above += bytes;
      std::printf("  level %2u: %12llu bytes, %6llu tiles (%llu uniform)\n", l, (unsigned long long)bytes,
                  (unsigned long long)(stats->tiles_chunk + stats->tiles_uniform),
                  (unsigned long long)stats->tiles_uniform);
    }
    std::printf("  levels 1..%u: %.3f of level 0's bytes\n", levels, double(above) / double(level0));
  }
  for (const std::string& f : {base, work, work + ".edit", plain}) {
    std::error_code ec;
    fs::remove(f, ec);
    fs::remove(f + "-lock", ec);
  }
  fs::remove(tif);
  return 0;
}
