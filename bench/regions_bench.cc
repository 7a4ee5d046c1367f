// tessera-bench-regions — the C++ side of bench/python_bench.py: random unaligned square
// regions of one image read into a BIP buffer through the public API, the reads per second
// printed as one line. The regions come from the same generator as the Python side's
// (a 64-bit LCG, below), so both read exactly the same pixels.
//
// Usage: tessera-bench-regions FILE IMAGE COUNT SIZE SEED [THREADS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tessera/tessera.h"

namespace {

// x -> x * 6364136223846793005 + 1442695040888963407 (mod 2^64); the top 31 bits are the draw.
struct Lcg {
  uint64_t state;
  uint64_t next(uint64_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % bound;
  }
};

int fail(const tessera::Status& s) {
  std::fprintf(stderr, "tessera-bench-regions: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: tessera-bench-regions FILE IMAGE COUNT SIZE SEED [THREADS]\n");
    return 2;
  }
  const std::string file = argv[1], image = argv[2];
  const long count = std::atol(argv[3]), size = std::atol(argv[4]);
  Lcg lcg{std::strtoull(argv[5], nullptr, 10)};
  tessera::OpenOptions options;
  options.read_only = true;
  options.threads = argc > 6 ? unsigned(std::atoi(argv[6])) : 1;
  auto c = tessera::Container::open(file, options);
  if (!c) return fail(c.status());
  auto snap = c->snapshot();
  if (!snap) return fail(snap.status());
  auto info = snap->image(image);
  if (!info) return fail(info.status());
  auto bounds = snap->bounds(image);
  if (!bounds || !*bounds) return fail(bounds ? tessera::Status(tessera::Code::kNotFound, "no data") : bounds.status());
  const tessera::Region b = **bounds;
  std::vector<uint8_t> buffer(size_t(size * size) * info->pixel_bytes());
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    const int64_t x = b.x + int64_t(lcg.next(uint64_t(b.width - size)));
    const int64_t y = b.y + int64_t(lcg.next(uint64_t(b.height - size)));
    tessera::Status s = snap->read(image, tessera::Region{x, y, size, size}, {}, buffer.data(), buffer.size());
    if (!s.is_ok()) return fail(s);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f\n", double(count) / seconds);
  return 0;
}
