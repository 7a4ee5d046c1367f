#include "raster/downsample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "util/bytes.h"

namespace tessera::detail {
namespace {


// Each band's mean of the n pixels: integers rounded to nearest with halves away from zero
// (exact: the sum of four 64-bit samples fits 128 bits), floats summed in order in double.
template <typename T>
void mean(const uint8_t* const* px, int n, uint32_t bands, uint8_t* out) {
  for (uint32_t b = 0; b < bands; ++b) {
    const size_t at = b * sizeof(T);
    if constexpr (std::is_floating_point_v<T>) {
      double sum = 0;
      for (int i = 0; i < n; ++i) sum += double(load_sample<T>(px[i] + at));
      store_sample(out + at, T(sum / n));
    } else {
      __int128 sum = 0;
      for (int i = 0; i < n; ++i) sum += load_sample<T>(px[i] + at);
      const __int128 twice = 2 * sum;
      const __int128 q = twice >= 0 ? (twice + n) / (2 * n) : -((-twice + n) / (2 * n));
      store_sample(out + at, T(q));
    }
  }
}

// Each band's least (or greatest) value of the n pixels; a NaN only when every one is NaN.
template <typename T, bool kMax>
void extreme(const uint8_t* const* px, int n, uint32_t bands, uint8_t* out) {
  for (uint32_t b = 0; b < bands; ++b) {
    const size_t at = b * sizeof(T);
    T best = load_sample<T>(px[0] + at);
    for (int i = 1; i < n; ++i) {
      const T v = load_sample<T>(px[i] + at);
      bool better = kMax ? v > best : v < best;
      if constexpr (std::is_floating_point_v<T>) better = better || (std::isnan(best) && !std::isnan(v));
      if (better) best = v;
    }
    store_sample(out + at, best);
  }
}

// The most frequent of the n pixels, bytewise; of equally frequent ones the first.
const uint8_t* mode(const uint8_t* const* px, int n, size_t pixel) {
  int best = 0, best_count = 0;
  for (int i = 0; i < n; ++i) {
    int count = 0;
    for (int j = 0; j < n; ++j) count += std::memcmp(px[i], px[j], pixel) == 0;
    if (count > best_count) best = i, best_count = count;
  }
  return px[best];
}

template <typename T>
void reduce_rows(uint32_t bands, const uint8_t* fill, Resampling rule, const uint8_t* in, size_t in_line,
                 uint8_t* out, size_t out_line, int64_t width, int64_t row_begin, int64_t row_end) {
  const size_t pixel = sizeof(T) * bands;
  for (int64_t y = row_begin; y < row_end; ++y) {
    const uint8_t* top = in + size_t(2 * y) * in_line;
    const uint8_t* bottom = top + in_line;
    uint8_t* o = out + size_t(y) * out_line;
    for (int64_t x = 0; x < width; ++x, o += pixel) {
      // The order of the four: (2x, 2y), (2x+1, 2y), (2x, 2y+1), (2x+1, 2y+1).
      const uint8_t* const quad[4] = {top + size_t(2 * x) * pixel, top + size_t(2 * x + 1) * pixel,
                                      bottom + size_t(2 * x) * pixel, bottom + size_t(2 * x + 1) * pixel};
      const uint8_t* data[4];
      int n = 0;
      for (const uint8_t* p : quad)
        if (std::memcmp(p, fill, pixel) != 0) data[n++] = p;
      if (n == 0) {
        std::memcpy(o, fill, pixel);
        continue;
      }
      switch (rule) {
        case Resampling::kMean: mean<T>(data, n, bands, o); break;
        case Resampling::kNearest: std::memcpy(o, data[0], pixel); break;
        case Resampling::kMode: std::memcpy(o, mode(data, n, pixel), pixel); break;
        case Resampling::kMin: extreme<T, false>(data, n, bands, o); break;
        case Resampling::kMax: extreme<T, true>(data, n, bands, o); break;
      }
    }
  }
}

}  // namespace

void downsample_rows(DataType type, uint32_t bands, const uint8_t* fill, Resampling rule,
                     const uint8_t* in, size_t in_line, uint8_t* out, size_t out_line, int64_t width,
                     int64_t row_begin, int64_t row_end) {
  const auto run = [&](auto sample) {
    reduce_rows<decltype(sample)>(bands, fill, rule, in, in_line, out, out_line, width, row_begin, row_end);
  };
  switch (type) {
    case DataType::kU8: return run(uint8_t{});
    case DataType::kU16: return run(uint16_t{});
    case DataType::kU32: return run(uint32_t{});
    case DataType::kU64: return run(uint64_t{});
    case DataType::kI8: return run(int8_t{});
    case DataType::kI16: return run(int16_t{});
    case DataType::kI32: return run(int32_t{});
    case DataType::kI64: return run(int64_t{});
    case DataType::kF32: return run(float{});
    case DataType::kF64: return run(double{});
  }
}

void downsample_image_rows(WorkerPool& pool, const ImageInfo& image, Resampling rule, const uint8_t* in, size_t in_line,
                           uint8_t* out, size_t out_line, int64_t width, int64_t height) {
  constexpr int64_t kRows = 32;  // rows per parallel task
  pool.parallel_for(size_t((height + kRows - 1) / kRows), [&](size_t i) {
    const int64_t begin = int64_t(i) * kRows;
    downsample_rows(image.spec.type, image.spec.bands, image.fill_pixel.data(), rule, in, in_line, out, out_line, width,
                    begin, std::min(height, begin + kRows));
  });
}

}  // namespace tessera::detail
