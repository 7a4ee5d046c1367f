// tessera-bench-read — Tessera beside its bounds and its peers, in one run, one table (issue 6).
//
// Usage: tessera-bench-read [--quick] [--regions N] [--only NAME,...] [--ms-only] [DIR]   (DIR: files, /tmp)
//   --only: measure only the peers whose names start with one of NAME (bounds always run)
//   --ms-only: only the multispectral image (e.g. the delta filter beside libtiff's predictor)
//
// Two images, generated deterministically strip by strip (memory stays bounded):
//  - scan: the demo's synthetic slide scan (tools/synthetic_scan.h), 16384 x 16384 RGB u8;
//  - ms:   a multispectral scene (bench/multispectral.h), 8192 x 8192 x 8 bands u16, 12-bit.
// Each strip is rendered once and handed to every system in turn; only each system's own
// calls are timed. Then each system reads its file back (page cache warm, medians of 3 passes):
//  - seq:      the whole scan, strip by strip (256 rows x full width), BIP;
//  - regions:  N (2000) random unaligned 512 x 512 regions of the scan into a BIP buffer,
//              decoded-tile cache off / on, 1 and 2 threads, 2 processes at once (aggregate), and
//              the 2 processes sharing one shared-memory cache (Tessera, created empty);
//  - band:     one band of 8 random 2048 x 2048 regions of ms (stored chunky or planar);
//  - band on:  the same with the decoded-tile cache on (systems that have one);
//  - bsq:      every band of 2 random 2048 x 2048 regions of ms as BSQ.
// --quick: a 4096 x 4096 scan, a 2048 x 2048 ms, 200 regions (a smoke run, ~30 s).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bounds.h"
#include "multispectral.h"
#include "peer.h"
#include "synthetic_scan.h"
#include "tessera/tessera.h"

namespace {

using namespace tessera;
using namespace tessera::bench;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
// Median of 3 passes; a system whose first pass takes longer than kSlowPass seconds is timed
// on that pass alone (so slow peers keep the run in minutes).
constexpr double kSlowPass = 6.0;
double median3(const std::function<double()>& pass) {
  const double first = pass();
  if (first > kSlowPass) return first;
  std::vector<double> t = {first, pass(), pass()};
  std::sort(t.begin(), t.end());
  return t[1];
}
[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "tessera-bench-read: %s\n", what.c_str());
  std::exit(1);
}
void check(const Status& s, const std::string& what) {
  if (!s.is_ok()) die(what + ": " + s.to_string());
}

// ---------------------------------------------------------------------------------------------
// The table: rows are systems, columns workloads; a cell holds a number or stays empty ("-").

enum Col {
  kScanIngest, kScanIngest2, kScanSize, kScanSeq, kRgnOff, kRgnOn, kRgn2Thr, kRgn2Proc, kRgn2ProcShm,
  kMsIngest, kMsSize, kMsBand, kMsBandOn, kMsBsq, kCols
};
constexpr const char* kHeads[kCols] = {"ingest", "ingest 2t", "size", "seq", "rgn off", "rgn on",
                                       "rgn 2t", "rgn 2proc", "2proc shm", "ingest", "size", "band", "band on", "bsq"};
constexpr double kNA = -1;  // measured as impossible here: prints "n/a"

struct Table {
  std::vector<std::string> order;
  std::map<std::string, std::map<int, double>> cells;
  void set(const std::string& row, Col c, double v) {
    if (std::find(order.begin(), order.end(), row) == order.end()) order.push_back(row);
    cells[row][c] = v;
  }
  double get(const std::string& row, Col c) const {
    auto r = cells.find(row);
    if (r == cells.end()) return 0;
    auto v = r->second.find(c);
    return v == r->second.end() ? 0 : v->second;
  }
  void print() const {
    std::printf("%-22s%-90s |%s\n", "", "  scan (RGB u8)", "  ms (8 bands u16)");
    std::printf("%-22s", "system");
    for (int c = 0; c < kCols; ++c) std::printf("%s%10s", c == kMsIngest ? " |" : "", kHeads[c]);
    std::printf("\n");
    for (const auto& row : order) {
      std::printf("%-22s", row.c_str());
      for (int c = 0; c < kCols; ++c) {
        if (c == kMsIngest) std::printf(" |");
        const double v = get(row, Col(c));
        char buf[32];
        if (v == 0) std::snprintf(buf, sizeof buf, "-");
        else if (v == kNA) std::snprintf(buf, sizeof buf, "n/a");
        else if (v >= 100) std::snprintf(buf, sizeof buf, "%.0f", v);
        else std::snprintf(buf, sizeof buf, "%.1f", v);
        std::printf("%10s", buf);
      }
      std::printf("\n");
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Systems

struct System {
  std::unique_ptr<Peer> peer;
  std::string path;
  std::unique_ptr<PeerWriter> writer;
  double write_seconds = 0;
};

struct Config {
  bool quick = false;
  int regions = 2000;
  std::string dir = "/tmp";
  std::vector<std::string> only;  // --only: peers whose names start with one of these
  bool scan = true;               // false: --ms-only
  bool wanted(const std::string& name) const {
    if (only.empty()) return true;
    for (const std::string& o : only)
      if (name.rfind(o, 0) == 0) return true;
    return false;
  }
};

std::vector<std::unique_ptr<Peer>> peers_for(const Config& cfg, bool multispectral) {
  std::vector<std::unique_ptr<Peer>> p;
  auto add = [&](std::unique_ptr<Peer> peer) {
    if (peer && cfg.wanted(peer->name())) p.push_back(std::move(peer));
  };
  std::vector<Layout> layouts = {Layout::kChunky};
  if (multispectral) layouts.push_back(Layout::kPlanar);
#ifdef TESSERA_BENCH_HAVE_TIFF
  for (Layout l : layouts)
    for (TiffCodec c : {TiffCodec::kNone, TiffCodec::kDeflate, TiffCodec::kZstd})
      if (!(multispectral && c == TiffCodec::kDeflate)) add(make_tiff_peer(c, l));  // deflate: scan only (time)
  // Smooth 16-bit data: libtiff's horizontal predictor beside Tessera's delta filter.
  if (multispectral)
    for (Layout l : layouts) add(make_tiff_peer(TiffCodec::kZstd, l, /*predictor=*/true));
#endif
#ifdef TESSERA_BENCH_HAVE_HDF5
  for (Layout l : layouts) add(make_hdf5_peer(true, l));
#endif
  for (bool lz4 : {false, true}) add(make_lmdb_peer(lz4));
  for (Layout l : layouts)
    for (CodecSpec c : {CodecSpec{Codec::kNone, 0}, CodecSpec{Codec::kLz4, 0}, CodecSpec{Codec::kZstd, 1}})
      add(make_tessera_peer(c, l));
  if (multispectral)
    for (Layout l : layouts)
      for (CodecSpec c : {CodecSpec{Codec::kLz4, 0}, CodecSpec{Codec::kZstd, 1}})
        add(make_tessera_peer(c, l, Filter::kDelta));
  return p;
}

const char* const kMissingPeers[] = {
#ifndef TESSERA_BENCH_HAVE_TIFF
    "tiff (libtiff not found)",
#endif
#ifndef TESSERA_BENCH_HAVE_HDF5
    "hdf5 (libhdf5 not found)",
#endif
    nullptr};

std::string file_name(const std::string& dir, const std::string& image, const Peer& peer) {
  std::string n = image + "-" + peer.name();
  for (char& c : n)
    if (c == ' ' || c == ':') c = '_';
  return dir + "/tessera-bench-" + n + peer.suffix();
}
void remove_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  std::filesystem::remove(path + "-lock", ec);
}

// Feeds every strip of an image (rendered by `render`) to every system and to the bounds.
// Returns the seconds memcpy of the same strips took.
double ingest(const Shape& sh, const std::function<void(int64_t y, int64_t rows, uint8_t*)>& render,
              std::vector<System>& systems, std::vector<RawTiles*> bounds) {
  const size_t line = size_t(sh.width) * sh.pixel_bytes();
  std::vector<uint8_t> strip(line * sh.tile), copy(line * sh.tile);
  double memcpy_s = 0;
  for (int64_t y = 0; y < sh.height; y += sh.tile) {
    const int64_t rows = std::min<int64_t>(sh.tile, sh.height - y);
    render(y, rows, strip.data());
    auto t0 = Clock::now();
    std::memcpy(copy.data(), strip.data(), size_t(rows) * line);
    memcpy_s += since(t0);
    for (RawTiles* b : bounds) b->add_strip(y, rows, strip.data());
    for (System& s : systems) {
      t0 = Clock::now();
      check(s.writer->write_strip(y, rows, strip.data()), s.peer->name() + ": write");
      s.write_seconds += since(t0);
    }
  }
  for (System& s : systems) {
    auto t0 = Clock::now();
    check(s.writer->finish(), s.peer->name() + ": finish");
    s.write_seconds += since(t0);
    s.writer.reset();
  }
  return memcpy_s;
}

std::vector<Region> random_regions(const Shape& sh, int count, int64_t size, uint64_t seed) {
  synth::Rng rng{seed};
  std::vector<Region> r;
  for (int i = 0; i < count; ++i)
    r.push_back(Region{rng.below(sh.width - size + 1), rng.below(sh.height - size + 1), size, size});
  return r;
}

double region_pass(PeerReader& reader, const std::vector<Region>& regions, std::vector<uint8_t>& buf,
                   const std::string& name) {
  const auto t0 = Clock::now();
  for (const Region& r : regions) check(reader.read_region(r, buf.data()), name + ": read_region");
  return since(t0);
}

// Two processes, each opening the file anew and reading every region once, started together.
// Returns the wall-clock seconds until both finished.
double two_processes(Peer& peer, const std::string& path, const Shape& sh, const std::vector<Region>& regions,
                     const ReadOptions& options = {}) {
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0) die("pipe failed");
  std::fflush(nullptr);
  std::vector<pid_t> kids;
  for (int k = 0; k < 2; ++k) {
    const pid_t pid = fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
      auto reader = peer.open(path, sh, options);
      if (!reader) _exit(3);
      std::vector<uint8_t> buf(size_t(512 * 512) * sh.pixel_bytes());
      // Warm this process's maps; with a shared cache, read every region once first so the
      // timed pass reads hot regions (the cache holds them all).
      const size_t warm = options.shared_cache.empty() ? std::min<size_t>(regions.size(), 50) : regions.size();
      region_pass(**reader, {regions.begin(), regions.begin() + warm}, buf, peer.name());
      char c = 'r';
      if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(4);
      region_pass(**reader, regions, buf, peer.name());
      _exit(0);
    }
    kids.push_back(pid);
  }
  char c;
  for (int k = 0; k < 2; ++k)
    if (read(ready[0], &c, 1) != 1) die("a reader process failed to start");
  const auto t0 = Clock::now();
  c = 'g';
  if (write(go[1], &c, 1) != 1 || write(go[1], &c, 1) != 1) die("pipe write failed");
  for (pid_t pid : kids) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die(peer.name() + ": a reader process failed");
  }
  const double s = since(t0);
  for (int fd : {ready[0], ready[1], go[0], go[1]}) close(fd);
  return s;
}


void progress(const char* fmt, const std::string& what, double value) {
  std::fprintf(stderr, fmt, what.c_str(), value);
  std::fflush(stderr);
}

// ---------------------------------------------------------------------------------------------
// The scan: ingest, seq, regions

void run_scan(const Config& cfg, Table& table) {
  const int64_t side = cfg.quick ? 4096 : 16384;
  const Shape sh{side, side, 3, 1, 256};
  const synth::SyntheticScan scan(side, side, 256);
  std::fprintf(stderr, "scan: %lld x %lld RGB u8, %.0f MB raw\n", (long long)side, (long long)side,
               double(sh.raw_bytes()) / 1e6);

  std::vector<System> systems;
  for (auto& p : peers_for(cfg, false)) {
    System s{std::move(p), "", nullptr, 0};
    s.path = file_name(cfg.dir, "scan", *s.peer);
    remove_file(s.path);
    auto w = s.peer->create(s.path, sh, 1);
    if (!w) {
      std::fprintf(stderr, "%s: n/a: %s\n", s.peer->name().c_str(), w.status().to_string().c_str());
      table.set(s.peer->name(), kScanIngest, kNA);
      continue;
    }
    s.writer = std::move(w).value();
    systems.push_back(std::move(s));
  }
  // Tessera LZ4 on 2 threads: written beside the others, only for its ingest figure.
  System two{make_tessera_peer(CodecSpec{Codec::kLz4, 0}, Layout::kChunky), cfg.dir + "/tessera-bench-scan-lz4-2t.tsr",
             nullptr, 0};
  remove_file(two.path);
  auto two_writer = two.peer->create(two.path, sh, 2);
  check(two_writer.status(), "tessera lz4 (2 threads): create");
  two.writer = std::move(two_writer).value();
  systems.push_back(std::move(two));

  RawTiles lz4(RawCodec::kLz4, sh), zstd(RawCodec::kZstd1, sh);
  const double memcpy_s = ingest(
      sh, [&](int64_t y, int64_t rows, uint8_t* dst) { scan.render(Region{0, y, side, rows}, dst, size_t(side) * 3); },
      systems, {&lz4, &zstd});
  const double raw_mb = double(sh.raw_bytes()) / 1e6;
  table.set("memcpy", kScanIngest, raw_mb / memcpy_s);
  table.set("memcpy", kScanSeq, raw_mb / memcpy_s);
  table.set("memcpy", kScanSize, raw_mb);
  for (RawTiles* b : {&lz4, &zstd}) {
    table.set(b->name(), kScanIngest, raw_mb / b->compress_seconds());
    table.set(b->name(), kScanSize, double(b->compressed_bytes()) / 1e6);
  }
  const double two_seconds = systems.back().write_seconds;
  remove_file(systems.back().path);
  systems.pop_back();
  for (System& s : systems) {
    table.set(s.peer->name(), kScanIngest, raw_mb / s.write_seconds);
    table.set(s.peer->name(), kScanSize, double(s.peer->file_bytes(s.path)) / 1e6);
    progress("scan ingest: %-20s %8.1f MB/s\n", s.peer->name(), raw_mb / s.write_seconds);
  }
  table.set("tessera lz4", kScanIngest2, raw_mb / two_seconds);

  // Bounds: the sequential read (every tile decoded and copied into its full-width strip,
  // as the systems read below) and regions.
  const auto regions = random_regions(sh, cfg.regions, 512, 2024);
  std::vector<uint8_t> buf(size_t(512 * 512) * sh.pixel_bytes());
  std::vector<Region> strips;
  for (int64_t y = 0; y < side; y += sh.tile) strips.push_back(Region{0, y, side, std::min<int64_t>(sh.tile, side - y)});
  const size_t line = size_t(side) * sh.pixel_bytes();
  std::vector<uint8_t> strip(line * sh.tile);
  for (RawTiles* b : {&lz4, &zstd}) {
    table.set(b->name(), kScanSeq, raw_mb / median3([&] { return b->read_regions(strips, strip.data()); }));
    table.set(b->name(), kRgnOff, double(regions.size()) / median3([&] { return b->read_regions(regions, buf.data()); }));
    progress("scan bounds: %-20s %8.1f regions/s\n", b->name(), table.get(b->name(), kRgnOff));
  }

  // Reads of every system.
  for (System& s : systems) {
    const std::string name = s.peer->name();
    {
      auto r = s.peer->open(s.path, sh);
      check(r.status(), name + ": open");
      PeerReader& reader = **r;
      const double seq = median3([&] {
        const auto t0 = Clock::now();
        for (int64_t y = 0; y < side; y += sh.tile)
          check(reader.read_region(Region{0, y, side, std::min<int64_t>(sh.tile, side - y)}, strip.data()),
                name + ": seq");
        return since(t0);
      });
      table.set(name, kScanSeq, raw_mb / seq);
      table.set(name, kRgnOff, double(regions.size()) / median3([&] { return region_pass(reader, regions, buf, name); }));
    }
    {
      ReadOptions cached;
      cached.tile_cache = true;
      auto rc = s.peer->open(s.path, sh, cached);
      table.set(name, kRgnOn, rc ? double(regions.size()) / median3([&] { return region_pass(**rc, regions, buf, name); }) : kNA);
    }
    if (name.rfind("tessera", 0) == 0) {
      ReadOptions two_threads;
      two_threads.threads = 2;
      auto r2 = s.peer->open(s.path, sh, two_threads);
      check(r2.status(), name + ": open");
      table.set(name, kRgn2Thr, double(regions.size()) / median3([&] { return region_pass(**r2, regions, buf, name); }));
    } else {
      table.set(name, kRgn2Thr, kNA);
    }
    // Two processes: skipped for systems whose one pass is slow (they gain nothing to show).
    if (double(regions.size()) / table.get(name, kRgnOff) <= kSlowPass)
      table.set(name, kRgn2Proc, 2.0 * double(regions.size()) / two_processes(*s.peer, s.path, sh, regions));
    // The same two processes sharing one decoded-tile cache in shared memory, created empty
    // and filled by their untimed first pass: the timed pass reads hot regions.
    if (name.rfind("tessera", 0) == 0 && table.get(name, kRgn2Proc) > 0) {
      ReadOptions shared;
      shared.shared_cache = "/tessera-bench-" + std::to_string(getpid());
      (void)Container::remove_shared_cache(shared.shared_cache);
      table.set(name, kRgn2ProcShm, 2.0 * double(regions.size()) / two_processes(*s.peer, s.path, sh, regions, shared));
      check(Container::remove_shared_cache(shared.shared_cache), name + ": remove the shared cache");
    }
    progress("scan reads:  %-20s %8.1f regions/s\n", name, table.get(name, kRgnOff));
    remove_file(s.path);
  }
}

// ---------------------------------------------------------------------------------------------
// The multispectral image: ingest, one band, BSQ

void run_ms(const Config& cfg, Table& table) {
  const int64_t side = cfg.quick ? 2048 : 8192, region = cfg.quick ? 1024 : 2048;
  const Shape sh{side, side, 8, 2, 256};
  const Multispectral ms(side, side);
  std::fprintf(stderr, "ms: %lld x %lld x 8 u16, %.0f MB raw\n", (long long)side, (long long)side,
               double(sh.raw_bytes()) / 1e6);
  std::vector<System> systems;
  for (auto& p : peers_for(cfg, true)) {
    System s{std::move(p), "", nullptr, 0};
    s.path = file_name(cfg.dir, "ms", *s.peer);
    remove_file(s.path);
    auto w = s.peer->create(s.path, sh, 1);
    if (!w) {
      table.set(s.peer->name(), kMsIngest, kNA);
      continue;
    }
    s.writer = std::move(w).value();
    systems.push_back(std::move(s));
  }
  RawTiles lz4(RawCodec::kLz4, sh), zstd(RawCodec::kZstd1, sh);
  const double memcpy_s = ingest(
      sh,
      [&](int64_t y, int64_t rows, uint8_t* dst) {
        ms.render(Region{0, y, side, rows}, reinterpret_cast<uint16_t*>(dst), size_t(side) * 8);
      },
      systems, {&lz4, &zstd});
  const double raw_mb = double(sh.raw_bytes()) / 1e6;
  table.set("memcpy", kMsIngest, raw_mb / memcpy_s);
  table.set("memcpy", kMsSize, raw_mb);
  for (RawTiles* b : {&lz4, &zstd}) {
    table.set(b->name(), kMsIngest, raw_mb / b->compress_seconds());
    table.set(b->name(), kMsSize, double(b->compressed_bytes()) / 1e6);
  }
  for (System& s : systems) {
    table.set(s.peer->name(), kMsIngest, raw_mb / s.write_seconds);
    table.set(s.peer->name(), kMsSize, double(s.peer->file_bytes(s.path)) / 1e6);
    progress("ms ingest:   %-20s %8.1f MB/s\n", s.peer->name(), raw_mb / s.write_seconds);
  }

  const uint32_t band = 5;
  const auto band_regions = random_regions(sh, 8, region, 77);
  const auto bsq_regions = random_regions(sh, 2, region, 78);
  const double band_mb = double(band_regions.size()) * double(region * region) * 2 / 1e6;
  const double bsq_mb = double(bsq_regions.size()) * double(region * region) * 16 / 1e6;
  std::vector<uint8_t> buf(size_t(region * region) * sh.pixel_bytes());
  // memcpy of the same bytes, each region's from its own place in a buffer as large as all of
  // them (so the source is not in the CPU cache); median of 3 passes.
  auto copy_bound = [&](size_t count, size_t bytes) {
    std::vector<uint8_t> from(count * bytes, 7), to(bytes);
    return median3([&] {
      const auto t0 = Clock::now();
      for (size_t i = 0; i < count; ++i) std::memcpy(to.data(), from.data() + i * bytes, bytes);
      const double t = since(t0);
      from[0] = to[bytes - 1];
      return t;
    });
  };
  table.set("memcpy", kMsBand, band_mb / copy_bound(band_regions.size(), size_t(region * region) * 2));
  table.set("memcpy", kMsBsq, bsq_mb / copy_bound(bsq_regions.size(), size_t(region * region) * 16));
  for (RawTiles* b : {&lz4, &zstd}) {
    table.set(b->name(), kMsBand, band_mb / median3([&] {
                double t = 0;
                for (const Region& r : band_regions) t += b->read_bands({r}, band, buf.data());
                return t;
              }));
    table.set(b->name(), kMsBsq, bsq_mb / median3([&] {
                double t = 0;
                for (const Region& r : bsq_regions) t += b->read_bsq({r}, buf.data());
                return t;
              }));
  }
  for (System& s : systems) {
    const std::string name = s.peer->name();
    auto r = s.peer->open(s.path, sh);
    check(r.status(), name + ": open");
    auto band_pass = [&](PeerReader& reader) {
      const auto t0 = Clock::now();
      for (const Region& g : band_regions) check(reader.read_band(g, band, buf.data()), name + ": band");
      return since(t0);
    };
    table.set(name, kMsBand, band_mb / median3([&] { return band_pass(**r); }));
    {
      ReadOptions cached;
      cached.tile_cache = true;
      auto rc = s.peer->open(s.path, sh, cached);
      table.set(name, kMsBandOn, rc ? band_mb / median3([&] { return band_pass(**rc); }) : kNA);
    }
    if (s.peer->layout() == Layout::kChunky) {
      table.set(name, kMsBsq, bsq_mb / median3([&] {
                  const auto t0 = Clock::now();
                  for (const Region& g : bsq_regions) check((*r)->read_bsq(g, buf.data()), name + ": bsq");
                  return since(t0);
                }));
    }
    progress("ms reads:    %-20s %8.1f MB/s band\n", name, table.get(name, kMsBand));
    r = Status(Code::kNotFound, "closed");  // closes the reader before the file goes
    remove_file(s.path);
  }
}

// ---------------------------------------------------------------------------------------------
// Targets

void print_targets(const Table& t) {
  struct Target {
    std::string what;
    double value, goal;
    bool at_most = false;
  };
  auto ratio = [&](const std::string& a, Col ca, const std::string& b, Col cb) {
    const double x = t.get(a, ca), y = t.get(b, cb);
    return x > 0 && y > 0 ? x / y : 0.0;
  };
  const std::vector<Target> targets = {
      {"regions, cache off: tessera lz4 / raw lz4 (decode touched tiles + copy)",
       ratio("tessera lz4", kRgnOff, "raw lz4", kRgnOff), 0.9},
      {"regions, cache off, 2 threads: tessera lz4 / raw lz4 (1 core)", ratio("tessera lz4", kRgn2Thr, "raw lz4", kRgnOff), 1.7},
      {"regions, cache off: tessera lz4 / lmdb lz4 (plain LMDB, raw LZ4 values)",
       ratio("tessera lz4", kRgnOff, "lmdb lz4", kRgnOff), 1.0},
      {"regions, cache off: tessera none / lmdb none (plain LMDB, read zero-copy)",
       ratio("tessera none", kRgnOff, "lmdb none", kRgnOff), 0.8},
      {"regions, cache off: tessera lz4 / tiff zstd:1", ratio("tessera lz4", kRgnOff, "tiff zstd:1", kRgnOff), 2.0},
      {"regions, cache off: tessera zstd:1 / tiff zstd:1 (same codec; for reference)",
       ratio("tessera zstd:1", kRgnOff, "tiff zstd:1", kRgnOff), 2.0},
      {"full sequential read: tessera lz4 / raw lz4 decode + copy", ratio("tessera lz4", kScanSeq, "raw lz4", kScanSeq), 0.9},
      {"ingest, 1 thread: tessera lz4 / raw lz4 compression (1 core)",
       ratio("tessera lz4", kScanIngest, "raw lz4", kScanIngest), 0.8},
      {"ingest, 2 threads: tessera lz4 / raw lz4 compression (1 core)",
       ratio("tessera lz4", kScanIngest2, "raw lz4", kScanIngest), 1.6},
      {"one band, planar: tessera none planar / memcpy of the band", ratio("tessera none planar", kMsBand, "memcpy", kMsBand), 0.8},
      {"one band, planar: tessera lz4 planar / memcpy of the band", ratio("tessera lz4 planar", kMsBand, "memcpy", kMsBand), 0.5},
      {"one band, planar, cache on: tessera none planar / memcpy", ratio("tessera none planar", kMsBandOn, "memcpy", kMsBand), 0.8},
      {"one band, planar, cache on: tessera lz4 planar / memcpy", ratio("tessera lz4 planar", kMsBandOn, "memcpy", kMsBand), 0.8},
      {"2 reader processes / 1 process: tessera lz4", ratio("tessera lz4", kRgn2Proc, "tessera lz4", kRgnOff), 1.8},
      {"file size, scan: tessera zstd:1 / tiff zstd:1 (at most)", ratio("tessera zstd:1", kScanSize, "tiff zstd:1", kScanSize),
       1.0, true},
      {"file size, ms chunky: tessera zstd:1 / tiff zstd:1 (at most)", ratio("tessera zstd:1", kMsSize, "tiff zstd:1", kMsSize),
       1.0, true},
  };
  std::printf("\ntargets (ratios from this run)\n");
  for (const Target& g : targets) {
    const char* verdict = g.value == 0 ? "n/a" : (g.at_most ? g.value <= g.goal : g.value >= g.goal) ? "met" : "MISSED";
    std::printf("  %-80s %s %4.2f  measured %5.2f  %s\n", g.what.c_str(), g.at_most ? "<=" : ">=", g.goal, g.value, verdict);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      cfg.quick = true;
      cfg.regions = 200;
    } else if (a == "--regions" && i + 1 < argc) {
      cfg.regions = std::atoi(argv[++i]);
    } else if (a == "--only" && i + 1 < argc) {
      for (std::string rest = argv[++i]; !rest.empty();) {
        const size_t comma = rest.find(',');
        cfg.only.push_back(rest.substr(0, comma));
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      }
    } else if (a == "--ms-only") {
      cfg.scan = false;
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: tessera-bench-read [--quick] [--regions N] [--only NAME,...] [--ms-only] [DIR]\n");
      return 2;
    } else {
      cfg.dir = a;
    }
  }
  const auto t0 = Clock::now();
  Table table;
  for (const char* m : {"memcpy", "raw lz4", "raw zstd:1"}) table.order.push_back(m);
  if (cfg.scan) run_scan(cfg, table);
  run_ms(cfg, table);

  std::printf("tessera-bench-read%s: %d regions of 512 x 512; MB = 10^6 bytes of raw pixels\n",
              cfg.quick ? " --quick" : "", cfg.regions);
  std::printf("scan: ingest MB/s (1 thread; ingest 2t: 2 threads), size MB, seq MB/s, rgn regions/s "
              "(cache off/on, 2 threads, 2 processes aggregate; 2proc shm: the 2 processes sharing the shared-memory cache)\n");
  std::printf("ms:   ingest MB/s, size MB, band: one band of 2048^2 regions MB/s (band on: decoded-tile cache on), bsq: all bands as BSQ MB/s\n\n");
  table.print();
  for (const char* const* m = kMissingPeers; *m; ++m) std::printf("not built here: %s\n", *m);
  print_targets(table);
  std::printf("\nwall time %.0f s\n", since(t0));
  return 0;
}
