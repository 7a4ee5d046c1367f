#include "raster/reduced_read.h"

#include <algorithm>
#include <mutex>

#include "raster/copy.h"
#include "raster/downsample.h"
#include "raster/region_read.h"
#include "store/pyramid_table.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

// About this many bytes of the source level are read and reduced at a time.
constexpr uint64_t kStripBytes = uint64_t(32) << 20;

std::string frame_name(const Txn& txn, const ImageInfo& image, const Selection& sel) {
  return txn.env().path() + ": image '" + image.name + "' frame " + std::to_string(sel.frame) +
         ": pyramid level " + std::to_string(sel.level);
}

// `v` * 2^k, or false when it leaves int64.
bool scaled(int64_t v, uint32_t k, int64_t& out) {
  const __int128 s = __int128(v) * (__int128(1) << k);
  if (s < INT64_MIN || s > INT64_MAX) return false;
  out = int64_t(s);
  return true;
}

}  // namespace

Result<LevelSource> level_source(Txn& txn, const ImageInfo& image, const Region& region, const Selection& sel) {
  PyramidInfo pyramid;
  {
    std::lock_guard lock(txn.lmdb_mutex());
    auto record = read_pyramid(txn, image, sel.frame);
    if (!record) return record.status();
    pyramid = record->info;
  }
  LevelSource source;
  source.level = std::min(sel.level, pyramid.levels);
  source.reductions = sel.level - source.level;
  source.rule = pyramid.levels ? pyramid.resampling : Resampling::kMean;
  const uint32_t k = source.reductions;
  Region& r = source.region;
  if (!scaled(region.x, k, r.x) || !scaled(region.y, k, r.y) || !scaled(region.width, k, r.width) ||
      !scaled(region.height, k, r.height) || !r.is_valid())
    return Status(Code::kInvalidArgument, frame_name(txn, image, sel) + ": region " + to_string(region) +
                                              " lies beyond level " + std::to_string(source.level) + "'s coordinates");
  return source;
}

Status read_reduced(Txn& txn, Runtime& runtime, const ImageInfo& image, const Region& region,
                    const Selection& sel, uint32_t max_reduction, const CallerBuffer& dst) {
  auto checked = check_request(txn.env().path(), image, region, sel, Access::kRead, dst);
  if (!checked) return checked.status();
  auto source = level_source(txn, image, region, sel);
  if (!source) return source.status();
  const uint32_t from = source->level, k = source->reductions;
  if (k == 0) return read_region(txn, runtime, image, region, sel, dst);
  if (k > max_reduction)
    return Status(Code::kInvalidArgument,
                  frame_name(txn, image, sel) + " would be made from level " + std::to_string(from) + ", " +
                      std::to_string(k) + " reductions, more than the " + std::to_string(max_reduction) +
                      " allowed; build it with: tessera pyramid " + txn.env().path() + " --image " + image.name +
                      " --frame " + std::to_string(sel.frame));
  const int64_t sx = source->region.x, sy = source->region.y, sw = source->region.width;
  const Resampling rule = source->rule;
  const std::vector<uint32_t>& bands = *checked;
  const size_t sample = sample_size(image.spec.type), pixel = image.pixel_bytes();
  const uint64_t src_line = uint64_t(sw) * pixel;
  const int64_t step = int64_t(1) << k;
  // Rows of the level per strip: at least one, whatever it costs.
  const int64_t rows = std::clamp<int64_t>(int64_t(kStripBytes / std::max<uint64_t>(1, src_line * step)), 1, region.height);
  AlignedBuffer a, b;
  a.resize(size_t(src_line * rows * step));
  b.resize(a.size() / 4 + pixel);
  const Strides src_strides{int64_t(pixel), int64_t(src_line), int64_t(sample)};
  for (int64_t row = 0; row < region.height; row += rows) {
    const int64_t n = std::min(rows, region.height - row);
    TESSERA_RETURN_IF_ERROR(read_region(txn, runtime, image, Region{sx, sy + row * step, sw, n * step},
                                        Selection{sel.frame, from, {}},
                                        CallerBuffer{a.data(), size_t(src_line * n * step), src_strides}));
    // Halve k times, each step from one buffer into the other, rows in parallel.
    AlignedBuffer* in = &a;
    AlignedBuffer* out = &b;
    int64_t width = sw, height = n * step;
    for (uint32_t i = 0; i < k; ++i) {
      downsample_image_rows(runtime.pool(), image, rule, in->data(), size_t(width) * pixel, out->data(),
                            size_t(width / 2) * pixel, width / 2, height / 2);
      width /= 2, height /= 2;
      std::swap(in, out);
    }
    // The strip's selected bands into the caller's buffer.
    std::vector<const uint8_t*> src(bands.size());
    std::vector<uint8_t*> to(bands.size());
    for (size_t i = 0; i < bands.size(); ++i) {
      src[i] = in->data() + bands[i] * sample;
      to[i] = dst.data + i * dst.strides.band + row * dst.strides.line;
    }
    copy_block(BandPlanes{src, int64_t(pixel), int64_t(width * pixel)},
               MutableBandPlanes{to, dst.strides.pixel, dst.strides.line}, width, height, sample);
  }
  return Status::ok();
}

}  // namespace tessera::detail
