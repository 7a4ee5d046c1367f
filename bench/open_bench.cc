// tessera-bench-open: what the structure check at open (OpenOptions::check_structure: the
// page walk of spec/FORMAT.md 7.9) costs on an existing container, read-only and for writing
// (which reads every overflow run's header too), beside an open without it and beside one read
// of a 512 x 512 region of its first image, in the same run. The page cache is warm (each
// figure is a median over repetitions).
//
//   tessera-bench-open [--reps N] FILE
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "tessera/tessera.h"

namespace {

using Clock = std::chrono::steady_clock;

int fail(const tessera::Status& status) {
  std::fprintf(stderr, "tessera-bench-open: %s\n", status.to_string().c_str());
  return 1;
}

// The median of `reps` runs of `body`, in milliseconds; the first error ends it.
double median_ms(int reps, const std::function<tessera::Status()>& body, tessera::Status* error) {
  std::vector<double> ms;
  for (int i = 0; i < reps && error->is_ok(); ++i) {
    const auto start = Clock::now();
    *error = body();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 21;
  std::string file;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (argv[i][0] != '-' && file.empty()) file = argv[i];
    else file.clear(), i = argc;
  }
  if (file.empty() || reps < 1) {
    std::fprintf(stderr, "usage: tessera-bench-open [--reps N] FILE\n");
    return 2;
  }
  tessera::OpenOptions checked;
  checked.read_only = true;
  tessera::OpenOptions trusted = checked;
  trusted.check_structure = false;
  tessera::OpenOptions writer;  // checks the overflow runs' headers too

  auto container = tessera::Container::open(file, trusted);
  if (!container) return fail(container.status());
  auto snapshot = container->snapshot();
  if (!snapshot) return fail(snapshot.status());
  if (snapshot->images().empty()) return fail(tessera::Status(tessera::Code::kNotFound, file + ": no image"));
  const tessera::ImageInfo image = snapshot->images()[0];
  auto bounds = snapshot->bounds(image.name);
  if (!bounds) return fail(bounds.status());
  if (!*bounds) return fail(tessera::Status(tessera::Code::kNotFound, file + ": image '" + image.name + "' holds no data"));
  const tessera::Region region{(*bounds)->x + (*bounds)->width / 3, (*bounds)->y + (*bounds)->height / 3,
                               std::min<int64_t>(512, (*bounds)->width), std::min<int64_t>(512, (*bounds)->height)};
  std::vector<uint8_t> buffer(region.pixel_count() * image.pixel_bytes());

  tessera::Status error;
  const auto open = [&](const tessera::OpenOptions& options) {
    return [&file, options]() -> tessera::Status { return tessera::Container::open(file, options).status(); };
  };
  const double with_check = median_ms(reps, open(checked), &error);
  const double without = median_ms(reps, open(trusted), &error);
  const double for_writing = median_ms(reps, open(writer), &error);
  const double read = median_ms(reps, [&]() -> tessera::Status {
    auto snap = container->snapshot();
    if (!snap) return snap.status();
    return snap->read(image.name, region, {}, buffer.data(), buffer.size());
  }, &error);
  if (!error) return fail(error);

  std::printf("file: %s, image '%s', region %s, %d repetitions (medians, page cache warm)\n", file.c_str(),
              image.name.c_str(), tessera::to_string(region).c_str(), reps);
  std::printf("%-34s %10s\n", "", "ms");
  std::printf("%-34s %10.3f\n", "open, structure checked", with_check);
  std::printf("%-34s %10.3f\n", "open, check_structure off", without);
  std::printf("%-34s %10.3f\n", "open for writing, checked", for_writing);
  std::printf("%-34s %10.3f\n", "the check (difference)", with_check - without);
  std::printf("%-34s %10.3f\n", "read of the region (a snapshot)", read);
  std::printf("RESULT open_checked_ms=%.3f open_trusted_ms=%.3f open_writer_ms=%.3f check_ms=%.3f "
              "region_read_ms=%.3f check_vs_read=%.2f\n",
              with_check, without, for_writing, with_check - without, read, (with_check - without) / read);
  return 0;
}
