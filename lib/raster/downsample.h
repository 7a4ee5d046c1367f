// The reduction a pyramid level is made with (spec/FORMAT.md 5.6): each pixel of level L from
// the 2 x 2 pixels below it in level L - 1, by a Resampling rule, with pixels equal to the
// image's fill value taken as no-data.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tessera/types.h"
#include "util/worker_pool.h"

namespace tessera::detail {

// Rows [row_begin, row_end) of `out` (pixel-interleaved, `out_line` bytes per row, `width`
// pixels) from rows 2 * row_begin .. 2 * row_end - 1 of `in` (pixel-interleaved, `in_line`
// bytes per row, 2 * width pixels). `fill` is one pixel of `bands` samples of `type`.
void downsample_rows(DataType type, uint32_t bands, const uint8_t* fill, Resampling rule,
                     const uint8_t* in, size_t in_line, uint8_t* out, size_t out_line, int64_t width,
                     int64_t row_begin, int64_t row_end);

// All `height` rows of `out` as downsample_rows makes them, 32 rows per task on `pool`: image's
// sample type, bands and fill, its pixels interleaved.
void downsample_image_rows(WorkerPool& pool, const ImageInfo& image, Resampling rule, const uint8_t* in, size_t in_line,
                           uint8_t* out, size_t out_line, int64_t width, int64_t height);

}  // namespace tessera::detail
