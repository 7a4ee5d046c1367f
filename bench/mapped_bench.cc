// tessera-bench-mapped [--size N] [--reads N] [DIR]: region reads of a mapped image (a 2 x 2
// mosaic of four N x N tiles of the bench scan, overlapping by 256 pixels) beside the same reads
// of its materialised copy, in one run: a translation-only mosaic (nearest, blend first) and a
// rotated one (each tile turned 3 degrees about its corner, bilinear, blend mean). Random
// 512 x 512 windows inside the mosaic, the same windows for both images, no tile cache, the
// container's default threads; medians of 3 passes. Also the time materialize took.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "synthetic_scan.h"
#include "tessera/tessera.h"

namespace {

using namespace tessera;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "tessera-bench-mapped: %s\n", what.c_str());
  std::exit(1);
}
void check(const Status& s, const std::string& what) {
  if (!s.is_ok()) die(what + ": " + s.to_string());
}

double median3(const std::function<double()>& pass) {
  std::vector<double> t = {pass(), pass(), pass()};
  std::sort(t.begin(), t.end());
  return t[1];
}

constexpr int64_t kWindow = 512;
constexpr int64_t kOverlap = 256;

// Reads the windows from `image`, `passes` times; windows per second (median).
double reads_per_second(const Container& c, const std::string& image, const std::vector<Region>& windows) {
  std::vector<uint8_t> buf(size_t(kWindow * kWindow * synth::kScanBands));
  const double seconds = median3([&] {
    auto snapshot = c.snapshot();
    check(snapshot.status(), "snapshot");
    const auto t0 = Clock::now();
    for (const Region& w : windows) check(snapshot->read(image, w, {}, buf.data(), buf.size()), "read " + image);
    return since(t0);
  });
  return double(windows.size()) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t size = 4096;
  int reads = 400;
  std::string dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--size" && i + 1 < argc) size = std::atoll(argv[++i]);
    else if (a == "--reads" && i + 1 < argc) reads = std::atoi(argv[++i]);
    else if (a.rfind("--", 0) == 0) die("usage: tessera-bench-mapped [--size N] [--reads N] [DIR]");
    else dir = a;
  }
  if (size < 2 * kWindow || reads < 1) die("--size at least 1024, --reads at least 1");
  const std::string path = dir + "/bench-mapped.tsr";
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-lock");
  auto container = Container::create(path, OpenOptions{.sync = false});
  check(container.status(), "create " + path);

  // Four tiles of the scan, each its own image, LZ4.
  const synth::SyntheticScan scan(2 * size, 2 * size, 256);
  std::vector<uint8_t> strip(size_t(size) * 256 * synth::kScanBands);
  const auto t_ingest = Clock::now();
  for (int t = 0; t < 4; ++t) {
    const std::string name = "tile" + std::to_string(t);
    const int64_t ox = (t % 2) * (size - kOverlap), oy = (t / 2) * (size - kOverlap);
    ImageSpec spec;
    spec.bands = synth::kScanBands;
    check(container->write([&](WriteTxn& txn) { return txn.create_image(name, spec); }), "create " + name);
    for (int64_t y = 0; y < size; y += 256) {
      scan.render(Region{ox, oy + y, size, 256}, strip.data(), size_t(size) * synth::kScanBands);
      check(container->write([&](WriteTxn& txn) {
        return txn.write(name, Region{0, y, size, 256}, {}, strip.data(), strip.size());
      }), "write " + name);
    }
  }
  std::printf("tessera-bench-mapped: 4 tiles of %lld x %lld RGB u8 (overlap %lld), written in %.1f s\n",
              (long long)size, (long long)size, (long long)kOverlap, since(t_ingest));

  struct Case {
    const char* name;
    Blend blend;
    Interpolation interpolation;
    double angle;  // radians, each tile about its own origin
  };
  const Case cases[] = {{"translated", Blend::kFirst, Interpolation::kNearest, 0.0},
                        {"rotated", Blend::kMean, Interpolation::kBilinear, 3.0 * M_PI / 180.0}};
  std::printf("\n%-12s %12s %14s %8s %16s\n", "mosaic", "mapped /s", "materialised /s", "ratio", "materialize s");
  for (const Case& k : cases) {
    MappedSpec spec;
    spec.blend = k.blend;
    spec.interpolation = k.interpolation;
    const double c = std::cos(k.angle), s = std::sin(k.angle);
    for (int t = 0; t < 4; ++t) {
      const double ox = double((t % 2) * (size - kOverlap)), oy = double((t / 2) * (size - kOverlap));
      spec.sources.push_back(MappedSource{"tile" + std::to_string(t), 0, {}, Affine{c, -s, ox, s, c, oy}});
    }
    const std::string mapped = std::string(k.name) + "-mapped", copy = std::string(k.name) + "-copy";
    check(container->write([&](WriteTxn& txn) { return txn.define_mapped(mapped, spec); }), "define " + mapped);
    const auto t_materialize = Clock::now();
    check(container->materialize(mapped, copy), "materialize " + mapped);
    const double materialize_seconds = since(t_materialize);
    // The same random windows inside the mosaic for both.
    synth::Rng rng{7};
    const int64_t span = 2 * size - kOverlap - kWindow;
    std::vector<Region> windows;
    for (int i = 0; i < reads; ++i) windows.push_back(Region{rng.below(span), rng.below(span), kWindow, kWindow});
    const double mapped_rate = reads_per_second(*container, mapped, windows);
    const double copy_rate = reads_per_second(*container, copy, windows);
    std::printf("%-12s %12.0f %14.0f %8.2f %16.1f\n", k.name, mapped_rate, copy_rate, mapped_rate / copy_rate,
                materialize_seconds);
  }
  container = Status(Code::kInternal, "closed");
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-lock");
  return 0;
}
