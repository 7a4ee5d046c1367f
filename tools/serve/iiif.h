// iiif.h — the IIIF Image API 3.0 request parameters (region, size, rotation, quality) checked
// against an image's size and the server's limits: which pixels of the full image, at which
// size out. Everything here is arithmetic; the service reads and renders.
#pragma once

#include <cstdint>
#include <string_view>

#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera::serve {

// The largest picture a request may ask for (IIIF maxWidth, maxHeight, maxArea).
struct PictureLimits {
  int64_t max_width = 8192, max_height = 8192;
  int64_t max_area = int64_t(4096) * 4096;
};

struct IiifPlan {
  Region region;          // in full-resolution pixels, from the image's top left corner
  int64_t width = 0, height = 0;  // of the picture out
  bool gray = false;      // quality "gray"
};

// kInvalidArgument naming the parameter and what it allows (a region outside the image, a size
// larger than the region without '^', a size over a limit naming it, a rotation other than 0,
// quality "bitonal" or another word).
Result<IiifPlan> plan_iiif(std::string_view region, std::string_view size, std::string_view rotation,
                           std::string_view quality, int64_t width, int64_t height, const PictureLimits& limits);

}  // namespace tessera::serve
