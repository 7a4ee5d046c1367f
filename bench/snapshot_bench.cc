// tessera-bench-snapshot: what a request of a tile server pays before and for one tile: a
// snapshot begun and one tile read, on a file with many images (the image table is what a
// snapshot has to know). Prints the median and quartiles of a few thousand repetitions.
//
//   tessera-bench-snapshot [--images N] [--reps N] [DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "tessera/tessera.h"

namespace {

int fail(const tessera::Status& status) {
  std::fprintf(stderr, "tessera-bench-snapshot: %s\n", status.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int images = 1000, reps = 4000;
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--images") && i + 1 < argc) {
      images = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (argv[i][0] != '-') {
      dir = argv[i];
    } else {
      std::fprintf(stderr, "usage: tessera-bench-snapshot [--images N] [--reps N] [DIR]\n");
      return 2;
    }
  }
  if (images < 1 || reps < 1) {
    std::fprintf(stderr, "tessera-bench-snapshot: --images and --reps must be at least 1\n");
    return 2;
  }
  const std::string path = dir + "/tessera-bench-snapshot-" + std::to_string(::getpid()) + ".tsr";
  constexpr int kTile = 256;
  std::vector<uint8_t> tile(kTile * kTile);
  {
    auto container = tessera::Container::create(path);
    if (!container.is_ok()) return fail(container.status());
    tessera::Status st = container->write([&](tessera::WriteTxn& txn) -> tessera::Status {
      for (int i = 0; i < images; ++i) {
        const std::string name = "image-" + std::to_string(i);
        tessera::ImageSpec spec;
        spec.tile_size = kTile;
        if (auto s = txn.create_image(name, spec); !s.is_ok()) return s;
        for (size_t p = 0; p < tile.size(); ++p) tile[p] = uint8_t(p * 7 + i);
        if (auto s = txn.write(name, {0, 0, kTile, kTile}, {}, tile.data(), tile.size()); !s.is_ok()) return s;
      }
      return tessera::Status();
    });
    if (!st.is_ok()) return fail(st);
  }
  auto container = tessera::Container::open(path, [] {
    tessera::OpenOptions options;
    options.read_only = true;
    options.threads = 1;
    return options;
  }());
  if (!container.is_ok()) return fail(container.status());
  const std::string name = "image-" + std::to_string(images / 2);
  std::vector<double> us;
  us.reserve(reps);
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto snapshot = container->snapshot();
    if (!snapshot.is_ok()) return fail(snapshot.status());
    tessera::Status st = snapshot->read(name, {0, 0, kTile, kTile}, {}, tile.data(), tile.size());
    if (!st.is_ok()) return fail(st);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    if (tile[1] != uint8_t(7 + images / 2)) {
      std::fprintf(stderr, "tessera-bench-snapshot: wrong pixels read back\n");
      return 1;
    }
  }
  std::sort(us.begin(), us.end());
  std::printf("snapshot + one 256x256 u8 tile read, %d images, %d reps: median %.1f us "
              "(p25 %.1f, p75 %.1f)\n",
              images, reps, us[us.size() / 2], us[us.size() / 4], us[us.size() * 3 / 4]);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  std::filesystem::remove(path + "-lock", ec);
  return 0;
}
