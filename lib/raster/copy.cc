#include "raster/copy.h"

#include <cstring>

namespace tessera::detail {
namespace {

// True when the bands sit side by side in the same order on both sides and pixels are
// packed: then a whole line of all bands is one memcpy.
bool lines_are_contiguous(const BandPlanes& src, const MutableBandPlanes& dst, size_t s) {
  const size_t n = src.band.size();
  if (src.pixel != int64_t(n * s) || dst.pixel != int64_t(n * s)) return false;
  for (size_t i = 0; i < n; ++i)
    if (src.band[i] != src.band[0] + i * s || dst.band[i] != dst.band[0] + i * s) return false;
  return true;
}

template <size_t S>
void copy_strided(const BandPlanes& src, const MutableBandPlanes& dst, int64_t w, int64_t h) {
  const size_t n = src.band.size();
  const bool dst_planar = dst.pixel == int64_t(S);
  for (int64_t y = 0; y < h; ++y) {
    if (dst_planar || n == 1) {
      // Band by band: writes run sequentially along the line.
      for (size_t i = 0; i < n; ++i) {
        const uint8_t* s = src.band[i] + y * src.line;
        uint8_t* d = dst.band[i] + y * dst.line;
        if (src.pixel == int64_t(S) && dst.pixel == int64_t(S)) {
          std::memcpy(d, s, size_t(w) * S);
          continue;
        }
        for (int64_t x = 0; x < w; ++x, s += src.pixel, d += dst.pixel) std::memcpy(d, s, S);
      }
    } else {
      // Pixel by pixel: the bands of one pixel are written together.
      for (int64_t x = 0; x < w; ++x)
        for (size_t i = 0; i < n; ++i)
          std::memcpy(dst.band[i] + y * dst.line + x * dst.pixel,
                      src.band[i] + y * src.line + x * src.pixel, S);
    }
  }
}

// A broadcast (source strides 0) into packed bands or band planes: the first line sample by
// sample, every other line a memcpy of it (one per line, or one per band and line).
template <size_t S>
bool broadcast_by_lines(const BandPlanes& src, const MutableBandPlanes& dst, int64_t w, int64_t h) {
  const size_t n = dst.band.size();
  bool packed = dst.pixel == int64_t(n * S);
  for (size_t i = 0; packed && i < n; ++i) packed = dst.band[i] == dst.band[0] + i * S;
  const bool planes = dst.pixel == int64_t(S);
  if (!packed && !planes) return false;
  copy_strided<S>(src, dst, w, 1);
  for (int64_t y = 1; y < h; ++y) {
    if (packed) {
      std::memcpy(dst.band[0] + y * dst.line, dst.band[0], size_t(w) * n * S);
      continue;
    }
    for (size_t i = 0; i < n; ++i) std::memcpy(dst.band[i] + y * dst.line, dst.band[i], size_t(w) * S);
  }
  return true;
}

template <size_t S>
void copy_sized(const BandPlanes& src, const MutableBandPlanes& dst, int64_t w, int64_t h) {
  if (src.pixel == 0 && src.line == 0 && broadcast_by_lines<S>(src, dst, w, h)) return;
  copy_strided<S>(src, dst, w, h);
}

}  // namespace

void copy_block(const BandPlanes& src, const MutableBandPlanes& dst, int64_t width, int64_t height,
                size_t sample_size) {
  if (width <= 0 || height <= 0 || src.band.empty()) return;
  if (lines_are_contiguous(src, dst, sample_size)) {
    const size_t line_bytes = size_t(width) * src.band.size() * sample_size;
    if (src.line == dst.line && src.line == int64_t(line_bytes)) {
      std::memcpy(dst.band[0], src.band[0], line_bytes * size_t(height));
      return;
    }
    for (int64_t y = 0; y < height; ++y)
      std::memcpy(dst.band[0] + y * dst.line, src.band[0] + y * src.line, line_bytes);
    return;
  }
  switch (sample_size) {
    case 1: return copy_sized<1>(src, dst, width, height);
    case 2: return copy_sized<2>(src, dst, width, height);
    case 4: return copy_sized<4>(src, dst, width, height);
    case 8: return copy_sized<8>(src, dst, width, height);
  }
}

}  // namespace tessera::detail
