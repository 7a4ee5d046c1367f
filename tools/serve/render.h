// render.h — samples to the 8-bit pictures a browser shows: a band selection mapped linearly
// from a display range to 0..255, resized by area averaging, encoded as JPEG (libjpeg-turbo)
// or PNG (libpng).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "routes.h"
#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera::serve {

// 1 channel (grey) or 3 (red, green, blue), rows top to bottom, densely packed.
struct Picture {
  int64_t width = 0, height = 0;
  int channels = 1;
  std::vector<uint8_t> pixels;
};

// `samples`: width x height pixels of `channels` (1 or 3) samples of `type`, pixel-interleaved,
// little-endian. Each channel c maps ranges[c] (lo to 0, hi to 255, clamped; NaN to 0) to 8
// bits; a u8 channel with range 0:255 is copied.
// The samples' buffer becomes the picture's when nothing maps (u8 at 0:255).
Picture to_picture(std::vector<uint8_t>&& samples, DataType type, int channels, int64_t width, int64_t height,
                   const std::vector<std::pair<double, double>>& ranges);

// Luma of a colour picture (ITU-R BT.601 weights); a grey one unchanged.
Picture to_gray(Picture picture);

// `picture` at width x height: each pixel the mean of the source pixels its area covers
// (nearest when enlarging).
Picture resize(Picture picture, int64_t width, int64_t height);

// JPEG at `quality` (4:2:0 for colour), or PNG. kInternal when the encoder fails.
Result<std::string> encode(const Picture& picture, Format format, int quality);

// "image/jpeg" or "image/png".
const char* content_type(Format format);

}  // namespace tessera::serve
