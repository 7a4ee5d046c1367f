// Container::build_pyramid (tessera/container.h): a frame's levels built batch by batch, each
// batch its own transaction. The levels themselves are raster/pyramid.h's.
#include <algorithm>

#include "raster/pyramid.h"
#include "raster/request.h"
#include "tessera/container.h"

namespace tessera {

namespace {
constexpr uint64_t kPyramidBatchBytes = uint64_t(256) << 20;
}  // namespace

Status Container::build_pyramid(std::string_view image, const PyramidOptions& options) {
  if (options.levels > kMaxPyramidLevels)
    return Status(Code::kInvalidArgument, path() + ": image '" + std::string(image) + "': " +
                                              std::to_string(options.levels) + " pyramid levels (at most " +
                                              std::to_string(kMaxPyramidLevels) + ")");
  // The frames from a snapshot closed before the build: a long-lived one would make the file grow.
  std::vector<uint32_t> frames;
  {
    auto snapshot = this->snapshot();
    if (!snapshot) return snapshot.status();
    auto info = snapshot->image(image);
    if (!info) return info.status();
    if (options.frame) {
      TESSERA_RETURN_IF_ERROR(detail::check_frame(path(), *info, *options.frame));
      frames.push_back(*options.frame);
    } else {
      for (uint32_t f = 0; f < info->frames; ++f) frames.push_back(f);
    }
  }
  detail::BuildCounts counts;
  for (uint32_t frame : frames) {
    uint32_t levels = options.levels;
    for (bool done = false; !done;) {
      detail::BuildCounts before = counts;
      Status s = write([&](WriteTxn& txn) -> Status {
        counts = before;  // the body runs again when the map had to grow
        auto current = txn.txn_->find_image(image);
        if (!current) return current.status();
        TESSERA_RETURN_IF_ERROR(detail::check_frame(path(), **current, frame));
        if (levels == 0) {
          auto chosen = detail::auto_pyramid_levels(*txn.txn_, *runtime_, **current, frame);
          if (!chosen) return chosen.status();
          levels = *chosen;
        }
        auto finished = detail::build_pyramid_batch(*txn.txn_, *runtime_, **current, frame, levels,
                                                    options.resampling, kPyramidBatchBytes, counts);
        if (!finished) return finished.status();
        done = *finished;
        return Status::ok();
      });
      if (!s.is_ok()) return s;
      if (options.progress) options.progress(counts.done, done ? counts.done : std::max(counts.total, counts.done));
    }
    counts.level = 0;  // the next frame's estimate starts again
  }
  return Status::ok();
}

}  // namespace tessera
