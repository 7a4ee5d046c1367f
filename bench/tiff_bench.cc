// tessera-bench-tiff: the TIFF import (tessera/tiff.h) on large pages, in two tables.
//
//  1. Throughput: an N x N RGB u8 tiled (256) BigTIFF, zstd and then JPEG (YCbCr, quality 90),
//     with slide-like content (near-white background with sensor noise, textured "tissue"
//     tiles, every tile different). Each file is imported into a new container
//     (import_raster, default options), and copied by `tiffcp -m 0 -8 -t -w 256 -l 256 SRC
//     OUT` (BigTIFF, tiled like the source; tiffcp 4.5 reads the whole image into memory here,
//     hence -m 0, no memory limit: its peak RSS shows it) and by
//     `gdal_translate -of GTiff -co TILED=YES SRC OUT` in the same run: median wall time of
//     --reps runs and MB/s of raw samples (N x N x 3 bytes).
//     Then the imported container is exported back to a tiled TIFF (export_file, zstd and then
//     no compression), beside `tiffcp -c zstd|none` of the same source, tiled alike: the same
//     decode of every tile and encode of the output, by libtiff alone.
//  2. Memory: a 50000 x 50000 RGB u8 BigTIFF, tiled (256, zstd) and as one strip
//     (RowsPerStrip = height, zstd: read row by row), mostly uniform so that it is quick to
//     write. Each import runs in a child process: its peak RSS (wait4) and wall time.
//
// Every run happens in a child process, so peak RSS is the run's own. Files go to DIR (/tmp)
// and are removed at the end (the generated TIFFs with --keep stay for another run).
//
//   tessera-bench-tiff [--size N] [--reps N] [--rss-size N] [--skip-throughput] [--skip-rss]
//                      [--keep] [DIR]
#include <tiffio.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "child_run.h"
#include "tessera/convert.h"
#include "tessera/io.h"
#include "tessera/tessera.h"
#include "tessera/tiff.h"

namespace {

namespace fs = std::filesystem;
constexpr uint32_t kTile = 256;

using tessera::bench::in_child;
using tessera::bench::median;
using tessera::bench::Run;
using tessera::bench::run_command;

[[noreturn]] void die(const std::string& what) { tessera::bench::die("tessera-bench-tiff", what); }

// xorshift64: noise that is the same on every run.
struct Noise {
  uint64_t x;
  explicit Noise(uint64_t seed) : x(seed * 0x9E3779B97F4A7C15ull | 1) {}
  uint64_t next() {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  }
};

TIFF* create_tiff(const std::string& path) {
  TIFF* tif = TIFFOpen(path.c_str(), "w8");
  if (!tif) die("cannot create " + path);
  return tif;
}

void set_rgb(TIFF* tif, uint32_t width, uint32_t height, uint16_t compression) {
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(3));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(8));
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, compression);
  if (compression == COMPRESSION_JPEG) {
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_YCBCR);
    TIFFSetField(tif, TIFFTAG_YCBCRSUBSAMPLING, 2, 2);
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    TIFFSetField(tif, TIFFTAG_JPEGQUALITY, 90);
  } else {
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  }
  if (compression == COMPRESSION_ZSTD) TIFFSetField(tif, TIFFTAG_ZSTD_LEVEL, 3);
}

// A slide-like tile: background (near white) or tissue (a smooth colour field with texture),
// with noise, different for every tile.
void slide_tile(uint8_t* tile, uint32_t tx, uint32_t ty) {
  Noise noise(uint64_t(ty) << 32 | tx);
  const bool tissue = (noise.next() % 10) < 4;
  const int base[3] = {int(150 + noise.next() % 60), int(80 + noise.next() % 60), int(140 + noise.next() % 60)};
  for (uint32_t y = 0; y < kTile; ++y)
    for (uint32_t x = 0; x < kTile; x += 8) {
      uint64_t bits = noise.next();
      for (uint32_t i = 0; i < 8; ++i, bits >>= 8)
        for (int c = 0; c < 3; ++c) {
          const int n = int(bits & 7) - 3;
          const int v = tissue ? base[c] + int((x + i) * 40 / kTile) - int(y * 30 / kTile) + 3 * n
                               : 236 + n;
          tile[(size_t(y) * kTile + x + i) * 3 + c] = uint8_t(std::clamp(v, 0, 255));
        }
    }
}

void write_slide(const std::string& path, uint32_t size, uint16_t compression) {
  TIFF* tif = create_tiff(path);
  set_rgb(tif, size, size, compression);
  TIFFSetField(tif, TIFFTAG_TILEWIDTH, kTile);
  TIFFSetField(tif, TIFFTAG_TILELENGTH, kTile);
  std::vector<uint8_t> tile(size_t(kTile) * kTile * 3);
  for (uint32_t y = 0; y < size; y += kTile)
    for (uint32_t x = 0; x < size; x += kTile) {
      slide_tile(tile.data(), x / kTile, y / kTile);
      if (TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, 0), tile.data(),
                               tmsize_t(tile.size())) < 0)
        die("cannot write " + path);
    }
  TIFFClose(tif);
}

// Mostly uniform: a grey field with a band of texture every 4096 rows and columns.
void sparse_row(uint8_t* row, uint32_t width, uint32_t y) {
  const bool textured_row = (y / 256) % 16 == 0;
  for (uint32_t x = 0; x < width; ++x)
    for (int c = 0; c < 3; ++c)
      row[size_t(x) * 3 + c] = textured_row && (x / 256) % 16 == 0 ? uint8_t(x * 7 + y * 3 + c * 50)
                                                                   : uint8_t(200 + c);
}

void write_sparse(const std::string& path, uint32_t size, bool tiled) {
  TIFF* tif = create_tiff(path);
  set_rgb(tif, size, size, COMPRESSION_ZSTD);
  if (tiled) {
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, kTile);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, kTile);
    std::vector<uint8_t> rows(size_t(size) * kTile * 3), tile(size_t(kTile) * kTile * 3);
    for (uint32_t y = 0; y < size; y += kTile) {
      for (uint32_t r = 0; r < kTile; ++r) sparse_row(rows.data() + size_t(r) * size * 3, size, y + r);
      for (uint32_t x = 0; x < size; x += kTile) {
        for (uint32_t r = 0; r < kTile; ++r)
          for (uint32_t i = 0; i < kTile * 3; ++i)
            tile[size_t(r) * kTile * 3 + i] =
                x + i / 3 < size ? rows[(size_t(r) * size + x) * 3 + i] : 0;
        if (TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, 0), tile.data(),
                                 tmsize_t(tile.size())) < 0)
          die("cannot write " + path);
      }
    }
  } else {
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, size);
    std::vector<uint8_t> row(size_t(size) * 3);
    for (uint32_t y = 0; y < size; ++y) {
      sparse_row(row.data(), size, y);
      if (TIFFWriteScanline(tif, row.data(), y, 0) < 0) die("cannot write " + path);
    }
  }
  TIFFClose(tif);
}

// Imports page 0 of `tiff` into a new container `out` with default options.
int import_tiff(const std::string& tiff, const std::string& out) {
  auto source = tessera::open_tiff_source(tiff);
  if (!source.is_ok()) return std::fprintf(stderr, "%s\n", source.status().to_string().c_str()), 1;
  auto container = tessera::Container::create(out);
  if (!container.is_ok()) return std::fprintf(stderr, "%s\n", container.status().to_string().c_str()), 1;
  auto result = tessera::import_raster(*container, **source, tessera::ImportOptions{});
  if (!result.is_ok()) return std::fprintf(stderr, "%s\n", result.status().to_string().c_str()), 1;
  return 0;
}

// Exports the only image of `container` to the tiled TIFF `out` with `compression`.
int export_tiff(const std::string& container, const std::string& out, const char* compression) {
  auto opened = tessera::Container::open(container);
  if (!opened.is_ok()) return std::fprintf(stderr, "%s\n", opened.status().to_string().c_str()), 1;
  tessera::FileExportOptions options;
  if (const tessera::Status parsed = tessera::parse_tiff_compression(compression, &options.tiff); !parsed.is_ok())
    return std::fprintf(stderr, "%s\n", parsed.to_string().c_str()), 1;
  const tessera::Status exported = tessera::export_file(*opened, out, options);
  if (!exported.is_ok()) return std::fprintf(stderr, "%s\n", exported.to_string().c_str()), 1;
  return 0;
}

void remove_outputs(const std::string& out) {
  std::error_code ec;
  fs::remove(out, ec);
  fs::remove(out + "-lock", ec);
}

void print_row(const char* what, const Run& run, double raw_mb) {
  std::printf("  %-52s %8.1f s %8.0f MB/s %8.0f MiB peak RSS\n", what, run.seconds, raw_mb / run.seconds,
              double(run.peak_rss_kib) / 1024);
}

void throughput(const std::string& dir, uint32_t size, int reps, bool keep) {
  const double raw_mb = double(size) * size * 3 / 1e6;
  std::printf("Throughput: %ux%u RGB u8 tiled %u BigTIFF (%.0f MB raw), median of %d\n", size, size,
              kTile, raw_mb, reps);
  for (uint16_t compression : {uint16_t(COMPRESSION_ZSTD), uint16_t(COMPRESSION_JPEG)}) {
    const char* name = compression == COMPRESSION_ZSTD ? "zstd" : "jpeg";
    const std::string src = dir + "/tessera-bench-tiff-" + std::to_string(size) + "-" + name + ".tif";
    if (!fs::exists(src)) {
      const Run made = in_child("writing " + src, [&] { return write_slide(src, size, compression), 0; });
      std::printf(" %s: written by libtiff in %.1f s, %.0f MB\n", name, made.seconds, double(fs::file_size(src)) / 1e6);
    } else {
      std::printf(" %s: %s, %.0f MB\n", name, src.c_str(), double(fs::file_size(src)) / 1e6);
    }
    const std::string out = dir + "/tessera-bench-tiff-out";
    struct Peer {
      const char* label;
      std::function<int()> work;
      bool work_keeps_tsr = false;  // an export: the container it reads stays
    };
    const std::vector<Peer> imports = {
        {"tessera import (import_raster, lz4, tile 256)", [&] { return import_tiff(src, out + ".tsr"); }},
        {"tiffcp -m 0 -8 -t -w 256 -l 256 SRC OUT",
         [&] { return run_command({"tiffcp", "-m", "0", "-8", "-t", "-w", "256", "-l", "256", src, out + ".tif"}); }},
        {"gdal_translate -of GTiff -co TILED=YES SRC OUT",
         [&] { return run_command({"gdal_translate", "-q", "-of", "GTiff", "-co", "TILED=YES", src, out + ".tif"}); }},
    };
    const auto measure = [&](const Peer& peer) {
      std::vector<Run> runs;
      for (int r = 0; r < reps; ++r) {
        runs.push_back(in_child(peer.label, peer.work));
        remove_outputs(out + ".tif");
        std::error_code ec;
        fs::remove(out + ".tif.aux.xml", ec);
        if (!peer.work_keeps_tsr) remove_outputs(out + ".tsr");
      }
      print_row(peer.label, median(runs), raw_mb);
    };
    for (const Peer& peer : imports) measure(peer);
    // The exports read one container imported from this source.
    in_child("import", [&] { return import_tiff(src, out + ".tsr"); });
    for (const char* compression : {"zstd", "none"}) {
      const std::string export_label = std::string("tessera export OUT.tif --compression ") + compression;
      const std::string tiffcp_label = std::string("tiffcp -m 0 -c ") + compression + " -8 -t -w 256 -l 256 SRC OUT";
      measure({export_label.c_str(), [&] { return export_tiff(out + ".tsr", out + ".tif", compression); }, true});
      measure({tiffcp_label.c_str(), [&] {
                 return run_command(
                     {"tiffcp", "-m", "0", "-c", compression, "-8", "-t", "-w", "256", "-l", "256", src, out + ".tif"});
               }, true});
    }
    remove_outputs(out + ".tsr");
    if (!keep) fs::remove(src);
  }
}

void memory(const std::string& dir, uint32_t size, bool keep) {
  const double raw_mb = double(size) * size * 3 / 1e6;
  std::printf("Memory: %ux%u RGB u8 BigTIFF, zstd (%.0f MB raw), one import each\n", size, size, raw_mb);
  for (bool tiled : {true, false}) {
    const std::string src = dir + "/tessera-bench-tiff-" + std::to_string(size) +
                            (tiled ? "-tiled.tif" : "-strip.tif");
    if (!fs::exists(src)) {
      const Run made = in_child("writing " + src, [&] { return write_sparse(src, size, tiled), 0; });
      std::printf(" written by libtiff in %.1f s, %.0f MB\n", made.seconds, double(fs::file_size(src)) / 1e6);
    }
    const std::string out = dir + "/tessera-bench-tiff-out.tsr";
    const Run run = in_child("import", [&] { return import_tiff(src, out); });
    remove_outputs(out);
    print_row(tiled ? "tessera import, tiled 256" : "tessera import, one strip (row by row)", run, raw_mb);
    if (!keep) fs::remove(src);
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t size = 32768, rss_size = 50000;
  int reps = 3;
  bool do_throughput = true, do_rss = true, keep = false;
  std::string dir = fs::temp_directory_path().string();
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--size") && i + 1 < argc) {
      size = uint32_t(std::atol(argv[++i]));
    } else if (!std::strcmp(argv[i], "--rss-size") && i + 1 < argc) {
      rss_size = uint32_t(std::atol(argv[++i]));
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--skip-throughput")) {
      do_throughput = false;
    } else if (!std::strcmp(argv[i], "--skip-rss")) {
      do_rss = false;
    } else if (!std::strcmp(argv[i], "--keep")) {
      keep = true;
    } else if (argv[i][0] != '-') {
      dir = argv[i];
    } else {
      std::fprintf(stderr,
                   "usage: tessera-bench-tiff [--size N] [--reps N] [--rss-size N] "
                   "[--skip-throughput] [--skip-rss] [--keep] [DIR]\n");
      return 2;
    }
  }
  if (size < kTile || rss_size < kTile || reps < 1) die("sizes must be at least 256, --reps at least 1");
  TIFFSetWarningHandler(nullptr);  // the peers' and the generator's warnings are not the figures
  if (do_throughput) throughput(dir, size, reps, keep);
  if (do_rss) memory(dir, rss_size, keep);
  return 0;
}
