#include "raster/mapped_read.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <type_traits>

#include "format/mapped_record.h"
#include "raster/content_tag.h"
#include "raster/copy.h"
#include "raster/geometry.h"
#include "raster/reduced_read.h"
#include "raster/region_read.h"
#include "store/attribute_table.h"
#include "tessera/attributes.h"
#include "util/bytes.h"
#include "util/xxhash.h"

namespace tessera::detail {
namespace {

// Coordinates a box may take: far inside the 64-bit space, so that a box's end and size stay
// representable whatever a transform did.
constexpr double kCoordinateLimit = 4611686018427387904.0;  // 2^62

double clamp_coordinate(double v) { return std::clamp(v, -kCoordinateLimit, kCoordinateLimit); }

struct Point {
  double x, y;
};
Point apply(const Affine& t, double x, double y) { return {t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f}; }

// The smallest box of whole pixels holding the corners of `box` (pixel edges) after `t`.
Region transformed_box(const Affine& t, const Region& box) {
  const double x0 = double(box.x), y0 = double(box.y), x1 = double(box.x_end()), y1 = double(box.y_end());
  const Point corners[4] = {apply(t, x0, y0), apply(t, x1, y0), apply(t, x0, y1), apply(t, x1, y1)};
  double lo_x = corners[0].x, hi_x = lo_x, lo_y = corners[0].y, hi_y = lo_y;
  for (const Point& p : corners) {
    lo_x = std::min(lo_x, p.x), hi_x = std::max(hi_x, p.x);
    lo_y = std::min(lo_y, p.y), hi_y = std::max(hi_y, p.y);
  }
  const int64_t x = int64_t(clamp_coordinate(std::floor(lo_x))), y = int64_t(clamp_coordinate(std::floor(lo_y)));
  const int64_t xe = int64_t(clamp_coordinate(std::ceil(hi_x))), ye = int64_t(clamp_coordinate(std::ceil(hi_y)));
  return Region{x, y, std::max<int64_t>(xe - x, 1), std::max<int64_t>(ye - y, 1)};
}

// The source pixels that sampling the pixel centres of `block` may use: the inverse-transformed
// block, one pixel wider on every side (bilinear takes the pixels around a centre).
Region source_window(const Affine& inverse, const Region& block) {
  Region w = transformed_box(inverse, block);
  return Region{w.x - 1, w.y - 1, w.width + 2, w.height + 2};
}

std::optional<Region> unite(std::optional<Region> a, const std::optional<Region>& b) {
  if (!b) return a;
  if (!a) return b;
  return a->unite(*b);
}

// A double as a sample: integers rounded to nearest (halves away from zero) and clamped to the
// type's range, NaN as 0; floats as they are.
template <typename T>
T to_sample(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return T(v);
  } else {
    if (std::isnan(v)) return 0;
    constexpr double kEnd = double(uint64_t(1) << (std::numeric_limits<T>::digits - 1)) * 2;  // 2^digits
    if (v <= double(std::numeric_limits<T>::min()) - 0.5) return std::numeric_limits<T>::min();
    if (v >= kEnd - 0.5) return std::numeric_limits<T>::max();
    if (std::fabs(v) >= 4503599627370496.0) return T(v);  // 2^52 and more: whole already
    // Rounded to nearest, halves away from zero (std::round, without the call).
    double whole = double(int64_t(v));
    const double rest = v - whole;
    if (rest >= 0.5) whole += 1;
    else if (rest <= -0.5) whole -= 1;
    return T(whole);
  }
}

// floor() for |v| < 2^62, without the call.
inline int64_t floor_int(double v) {
  const int64_t i = int64_t(v);
  return i - (double(i) > v);
}

// Bytewise equality of two pixels, inlined for the common sizes.
inline bool same_pixel(const uint8_t* a, const uint8_t* b, size_t n) {
  switch (n) {
    case 1: return a[0] == b[0];
    case 2: return std::memcmp(a, b, 2) == 0;
    case 3: return std::memcmp(a, b, 3) == 0;
    case 4: return std::memcmp(a, b, 4) == 0;
    case 6: return std::memcmp(a, b, 6) == 0;
    case 8: return std::memcmp(a, b, 8) == 0;
    default: return std::memcmp(a, b, n) == 0;
  }
}

// One block of the mapped image, all its bands, pixel-interleaved, as the sources fill it.
struct Block {
  Region box;                 // level-L coordinates
  uint32_t bands = 0;
  size_t pixel_bytes = 0;
  Blend blend = Blend::kFirst;
  std::vector<uint8_t> out;    // starts as the fill
  std::vector<uint8_t> have;   // per pixel: some source gave data
  std::vector<double> sum;     // kMean: per sample
  std::vector<uint32_t> count; // kMean: per pixel

  void reset(const Region& b, const std::vector<uint8_t>& fill) {
    box = b;
    const size_t pixels = size_t(b.width) * size_t(b.height);
    out.resize(pixels * pixel_bytes);
    for (size_t i = 0; i < pixels; ++i) std::memcpy(out.data() + i * pixel_bytes, fill.data(), pixel_bytes);
    have.assign(pixels, 0);
    if (blend == Blend::kMean) {
      sum.assign(pixels * bands, 0.0);
      count.assign(pixels, 0);
    }
  }
};

// A source's pixels around the block, pixel-interleaved (the mapped bands), and what no-data is.
struct Window {
  Region box;
  const uint8_t* data = nullptr;
  const uint8_t* nodata = nullptr;
  const uint8_t* pixel(int64_t x, int64_t y, size_t pixel_bytes) const {
    if (x < box.x || y < box.y || x >= box.x_end() || y >= box.y_end()) return nullptr;
    const uint8_t* p = data + (size_t(y - box.y) * size_t(box.width) + size_t(x - box.x)) * pixel_bytes;
    return same_pixel(p, nodata, pixel_bytes) ? nullptr : p;
  }
};

// Pixel i of the block gets a source pixel as stored (nearest, or one bilinear neighbour alone).
template <typename T>
void contribute_pixel(Block& b, size_t i, const uint8_t* px) {
  uint8_t* o = b.out.data() + i * b.pixel_bytes;
  switch (b.blend) {
    case Blend::kFirst:
      if (!b.have[i]) std::memcpy(o, px, b.pixel_bytes);
      break;
    case Blend::kLast:
      std::memcpy(o, px, b.pixel_bytes);
      break;
    case Blend::kMean:
      for (uint32_t k = 0; k < b.bands; ++k) b.sum[i * b.bands + k] += double(load_sample<T>(px + k * sizeof(T)));
      ++b.count[i];
      break;
    case Blend::kMax:
      if (!b.have[i]) {
        std::memcpy(o, px, b.pixel_bytes);
        break;
      }
      for (uint32_t k = 0; k < b.bands; ++k) {
        const T v = load_sample<T>(px + k * sizeof(T)), cur = load_sample<T>(o + k * sizeof(T));
        bool greater = v > cur;
        if constexpr (std::is_floating_point_v<T>) greater = greater || (std::isnan(cur) && !std::isnan(v));
        if (greater) std::memcpy(o + k * sizeof(T), &v, sizeof v);
      }
      break;
  }
  b.have[i] = 1;
}

// Pixel i of the block gets interpolated values, one double per band.
template <typename T>
void contribute_values(Block& b, size_t i, const double* v) {
  if (b.blend == Blend::kMean) {  // each source's sample as it would show alone, then the mean
    for (uint32_t k = 0; k < b.bands; ++k) b.sum[i * b.bands + k] += double(to_sample<T>(v[k]));
    ++b.count[i];
    b.have[i] = 1;
    return;
  }
  uint8_t px[8 * kMaxBands];
  for (uint32_t k = 0; k < b.bands; ++k) {
    const T s = to_sample<T>(v[k]);
    std::memcpy(px + k * sizeof(T), &s, sizeof s);
  }
  contribute_pixel<T>(b, i, px);
}

// True when `inverse` moves by whole pixels alone: then mapped pixel (X, Y) samples source pixel
// (X + c, Y + f) exactly, by either interpolation (bilinear finds that one pixel at weight 1).
bool whole_pixel_shift(const Affine& t) {
  return t.a == 1 && t.b == 0 && t.d == 0 && t.e == 1 && t.c == std::floor(t.c) && t.f == std::floor(t.f) &&
         std::fabs(t.c) < kCoordinateLimit && std::fabs(t.f) < kCoordinateLimit;
}

// Rows [row_begin, row_end) of the block from `w` shifted by whole pixels (whole_pixel_shift).
template <typename T>
void shift_rows(Block& b, const Window& w, const Affine& inverse, int64_t row_begin, int64_t row_end) {
  const int64_t dx = int64_t(inverse.c), dy = int64_t(inverse.f);
  // The block's columns whose source column lies in the window.
  const int64_t first = std::max(b.box.x, w.box.x - dx), last = std::min(b.box.x_end(), w.box.x_end() - dx);
  const size_t pb = b.pixel_bytes;
  for (int64_t j = row_begin; j < row_end; ++j) {
    const int64_t sy = b.box.y + j + dy;
    if (sy < w.box.y || sy >= w.box.y_end() || first >= last) continue;
    const uint8_t* px = w.data + (size_t(sy - w.box.y) * size_t(w.box.width) + size_t(first + dx - w.box.x)) * pb;
    const size_t row = size_t(j) * size_t(b.box.width) + size_t(first - b.box.x);
    for (size_t i = row, end = row + size_t(last - first); i < end; ++i, px += pb) {
      if (b.blend == Blend::kFirst && b.have[i]) continue;  // the usual case, kept tight
      if (!same_pixel(px, w.nodata, pb)) contribute_pixel<T>(b, i, px);
    }
  }
}

// Rows [row_begin, row_end) of the block: `w` sampled at the centre of every pixel, through
// `inverse` (level L).
template <typename T>
void sample_rows(Block& b, const Window& w, const Affine& inverse, Interpolation interpolation, int64_t row_begin,
                 int64_t row_end) {
  if (whole_pixel_shift(inverse)) return shift_rows<T>(b, w, inverse, row_begin, row_end);
  const size_t pb = b.pixel_bytes;
  std::vector<double> values(b.bands);
  // Points outside the window (one pixel around it) have no data; checked before any
  // conversion to an integer, which the window's coordinates (within 2^62) then bound.
  const double lo_x = double(w.box.x) - 1, hi_x = double(w.box.x_end()) + 1;
  const double lo_y = double(w.box.y) - 1, hi_y = double(w.box.y_end()) + 1;
  for (int64_t j = row_begin; j < row_end; ++j) {
    const double cy = double(b.box.y + j) + 0.5;
    for (int64_t i = 0; i < b.box.width; ++i) {
      const double cx = double(b.box.x + i) + 0.5;
      const Point p = apply(inverse, cx, cy);
      const size_t at = size_t(j) * size_t(b.box.width) + size_t(i);
      if (!(p.x >= lo_x && p.x < hi_x && p.y >= lo_y && p.y < hi_y)) continue;
      if (b.blend == Blend::kFirst && b.have[at]) continue;
      if (interpolation == Interpolation::kNearest) {
        if (const uint8_t* px = w.pixel(floor_int(p.x), floor_int(p.y), pb)) contribute_pixel<T>(b, at, px);
        continue;
      }
      // Bilinear: the pixel centres around p, weighted by distance; no-data ones left out.
      const double u = p.x - 0.5, v = p.y - 0.5;
      const int64_t x0 = floor_int(u), y0 = floor_int(v);
      const double dx = u - double(x0), dy = v - double(y0);
      const double weight[4] = {(1 - dx) * (1 - dy), dx * (1 - dy), (1 - dx) * dy, dx * dy};
      const uint8_t* px[4] = {weight[0] > 0 ? w.pixel(x0, y0, pb) : nullptr,
                              weight[1] > 0 ? w.pixel(x0 + 1, y0, pb) : nullptr,
                              weight[2] > 0 ? w.pixel(x0, y0 + 1, pb) : nullptr,
                              weight[3] > 0 ? w.pixel(x0 + 1, y0 + 1, pb) : nullptr};
      int used = 0, last = 0;
      double total = 0;
      for (int n = 0; n < 4; ++n)
        if (px[n]) ++used, last = n, total += weight[n];
      if (used == 0) continue;
      if (used == 1) {  // one pixel alone (a whole-pixel translation): its samples exactly
        contribute_pixel<T>(b, at, px[last]);
        continue;
      }
      // The sums on the stack for up to 16 bands (kept in registers), else in `values`.
      double local[16];
      double* acc = b.bands <= 16 ? local : values.data();
      for (uint32_t k = 0; k < b.bands; ++k) acc[k] = 0;
      for (int n = 0; n < 4; ++n)
        if (px[n]) {
          const double share = weight[n] / total;
          for (uint32_t k = 0; k < b.bands; ++k) acc[k] += share * double(load_sample<T>(px[n] + k * sizeof(T)));
        }
      contribute_values<T>(b, at, acc);
    }
  }
}

template <typename T>
void finish_mean(Block& b) {
  for (size_t i = 0; i < b.have.size(); ++i) {
    if (!b.count[i]) continue;
    for (uint32_t k = 0; k < b.bands; ++k) {
      const T s = to_sample<T>(b.sum[i * b.bands + k] / b.count[i]);
      std::memcpy(b.out.data() + i * b.pixel_bytes + k * sizeof(T), &s, sizeof s);
    }
  }
}

template <template <typename> class F, typename... Args>
void dispatch(DataType type, Args&&... args) {
  switch (type) {
    case DataType::kU8: return F<uint8_t>::run(args...);
    case DataType::kU16: return F<uint16_t>::run(args...);
    case DataType::kU32: return F<uint32_t>::run(args...);
    case DataType::kU64: return F<uint64_t>::run(args...);
    case DataType::kI8: return F<int8_t>::run(args...);
    case DataType::kI16: return F<int16_t>::run(args...);
    case DataType::kI32: return F<int32_t>::run(args...);
    case DataType::kI64: return F<int64_t>::run(args...);
    case DataType::kF32: return F<float>::run(args...);
    case DataType::kF64: return F<double>::run(args...);
  }
}
template <typename T>
struct Sample {
  static void run(Block& b, const Window& w, const Affine& inverse, Interpolation interpolation, int64_t row_begin,
                  int64_t row_end) {
    sample_rows<T>(b, w, inverse, interpolation, row_begin, row_end);
  }
};
template <typename T>
struct FinishMean {
  static void run(Block& b) { finish_mean<T>(b); }
};

// What one read knows of a source: its transform at the level, and where its data may be.
struct SourcePlan {
  const MappedImage::Source* source;
  Affine inverse;                // mapped level L to source level L
  std::optional<Region> clip;    // the source's data box at level L; nullopt: none
};

std::string who(const Txn& txn, const MappedImage& image) {
  return txn.env().path() + ": mapped image '" + image.info.name + "'";
}

// The source's box at `precision`, level 0 (the caller holds the LMDB mutex).
Result<std::optional<Region>> source_bounds(Txn& txn, Runtime& runtime, const MappedImage::Source& s,
                                            Precision precision) {
  if (s.mapped) return mapped_bounds(txn, runtime, *s.mapped, precision);
  return frame_geometry(txn, runtime, s.image, s.frame, precision);
}

Result<std::vector<SourcePlan>> plan_sources(Txn& txn, Runtime& runtime, const MappedImage& image, uint32_t level) {
  std::lock_guard lock(txn.lmdb_mutex());
  std::vector<SourcePlan> plans;
  for (const MappedImage::Source& s : image.sources) {
    auto box = source_bounds(txn, runtime, s, Precision::kOperative);
    if (!box) return box.status();
    SourcePlan plan{&s, inverse(transform_at_level(s.transform, level)), std::nullopt};
    if (*box) plan.clip = level_region(**box, level);
    plans.push_back(plan);
  }
  return plans;
}

// Reads `window` of the source's bands `bands` at `level` into `dst`.
Status read_source(Txn& txn, Runtime& runtime, const MappedImage::Source& s, const Region& window, uint32_t level,
                   std::optional<uint32_t> max_reduction, const std::vector<uint32_t>& bands, const CallerBuffer& dst) {
  if (s.mapped) return read_mapped(txn, runtime, *s.mapped, window, Selection{0, level, bands}, max_reduction, dst);
  const Selection sel{s.frame, level, bands};
  if (max_reduction) return read_reduced(txn, runtime, s.image, window, sel, *max_reduction, dst);
  return read_region(txn, runtime, s.image, window, sel, dst);
}

// Reads `window` of every mapped band of the source into `buf`, pixel-interleaved.
Status read_source_window(Txn& txn, Runtime& runtime, const MappedImage::Source& s, const Region& window,
                          uint32_t level, std::optional<uint32_t> max_reduction, std::vector<uint8_t>& buf) {
  const size_t ss = sample_size(s.image.spec.type);
  buf.resize(size_t(window.width) * size_t(window.height) * s.bands.size() * ss);
  return read_source(txn, runtime, s, window, level, max_reduction, s.bands,
                     CallerBuffer{buf.data(), buf.size(),
                                  Strides::packed(Interleave::kBIP, window.width, window.height, s.bands.size(), ss)});
}

// The block edge: up to 1024 pixels, so that a small region is one block and each source is
// read once for it; less when the block's pixels and sums would pass 32 MiB (many bands).
int64_t block_edge(const Block& b) {
  const uint64_t per_pixel = b.pixel_bytes + 1 + (b.blend == Blend::kMean ? b.bands * sizeof(double) + 4 : 0);
  int64_t edge = 1024;
  while (edge > 16 && uint64_t(edge * edge) * per_pixel > (uint64_t(32) << 20)) edge /= 2;
  return edge;
}

// Pixels of the block no source has given data yet.
size_t missing(const Block& b) { return size_t(std::count(b.have.begin(), b.have.end(), 0)); }

}  // namespace

Status check_mapped_level(const Txn& txn, const MappedImage& image, const Selection& sel) {
  if (sel.level <= image.levels) return Status::ok();
  for (const MappedImage::Source& s : image.sources)
    if (s.levels < sel.level)
      return Status(Code::kNotFound, who(txn, image) + ": pyramid level " + std::to_string(sel.level) +
                                         " needs that level of every source, and source '" + s.image.name +
                                         "' frame " + std::to_string(s.frame) + " has " +
                                         (s.levels ? "levels 1.." + std::to_string(s.levels) : std::string("no level")) +
                                         " built (tessera pyramid builds them)");
  return Status::ok();
}

Status read_mapped(Txn& txn, Runtime& runtime, const MappedImage& image, const Region& region,
                   const Selection& sel, std::optional<uint32_t> max_reduction, const CallerBuffer& dst) {
  auto bands = check_request(txn.env().path(), image.info, region, sel, Access::kRead, dst);
  if (!bands) return bands.status();
  if (!max_reduction) TESSERA_RETURN_IF_ERROR(check_mapped_level(txn, image, sel));
  auto plans = plan_sources(txn, runtime, image, sel.level);
  if (!plans) return plans.status();

  const DataType type = image.info.spec.type;
  const size_t ss = sample_size(type);
  Block block;
  block.bands = image.info.spec.bands;
  block.pixel_bytes = image.info.pixel_bytes();
  // The last source with data is the first of the sources in reverse: either way a block whose
  // every pixel has data needs no more sources.
  const Blend blend = image.value.blend == Blend::kLast ? Blend::kFirst : image.value.blend;
  if (image.value.blend == Blend::kLast) std::reverse(plans->begin(), plans->end());
  block.blend = blend;
  const int64_t edge = block_edge(block);
  constexpr int64_t kRowsPerTask = 16;
  std::vector<uint8_t> scratch;
  std::vector<const uint8_t*> from(bands->size());
  std::vector<uint8_t*> to(bands->size());
  std::vector<std::pair<const SourcePlan*, Region>> touching;
  for (int64_t by = region.y; by < region.y_end(); by += std::min(edge, region.y_end() - by)) {
    for (int64_t bx = region.x; bx < region.x_end(); bx += std::min(edge, region.x_end() - bx)) {
      const Region box{bx, by, std::min(edge, region.x_end() - bx), std::min(edge, region.y_end() - by)};
      const int64_t offset = (bx - region.x) * dst.strides.pixel + (by - region.y) * dst.strides.line;
      const CallerBuffer here{dst.data + offset, dst.size - size_t(offset), dst.strides};
      touching.clear();
      for (const SourcePlan& plan : *plans) {
        const Region window = plan.clip ? source_window(plan.inverse, box).intersect(*plan.clip) : Region{};
        if (!window.empty()) touching.emplace_back(&plan, window);
      }
      if (touching.empty()) {  // the fill, broadcast
        for (size_t k = 0; k < bands->size(); ++k) {
          from[k] = image.info.fill_pixel.data() + (*bands)[k] * ss;
          to[k] = here.data + int64_t(k) * dst.strides.band;
        }
        copy_block(BandPlanes{from, 0, 0}, MutableBandPlanes{to, dst.strides.pixel, dst.strides.line}, box.width,
                   box.height, ss);
        continue;
      }
      // One source moved by whole pixels, whose no-data is the fill: the block is its pixels
      // exactly (data as it is, no-data the fill), read straight into the caller's buffer.
      const SourcePlan& only = *touching.front().first;
      if (touching.size() == 1 && whole_pixel_shift(only.inverse) && only.source->nodata == image.info.fill_pixel) {
        std::vector<uint32_t> source_bands;
        for (uint32_t b : *bands) source_bands.push_back(only.source->bands[b]);
        const Region shifted{box.x + int64_t(only.inverse.c), box.y + int64_t(only.inverse.f), box.width, box.height};
        TESSERA_RETURN_IF_ERROR(
            read_source(txn, runtime, *only.source, shifted, sel.level, max_reduction, source_bands, here));
        continue;
      }
      // One source alone: every rule gives its pixel where it has data, as first does (cheapest).
      block.blend = touching.size() == 1 ? Blend::kFirst : blend;
      block.reset(box, image.info.fill_pixel);
      for (const auto& [plan_of, window] : touching) {
        const SourcePlan& plan = *plan_of;
        if (block.blend == Blend::kFirst && missing(block) == 0) break;
        if (window.pixel_count() > kMaxMappedWindowBytes / block.pixel_bytes)
          return Status(Code::kInvalidArgument,
                        who(txn, image) + ": source '" + plan.source->image.name + "' needs a " +
                            std::to_string(window.width) + " x " + std::to_string(window.height) +
                            " window at level " + std::to_string(sel.level) + " for a block of " +
                            std::to_string(box.width) + " x " + std::to_string(box.height) + " (more than " +
                            std::to_string(kMaxMappedWindowBytes >> 20) +
                            " MiB): its transform shrinks it that much; read a coarser level");
        TESSERA_RETURN_IF_ERROR(read_source_window(txn, runtime, *plan.source, window, sel.level, max_reduction, scratch));
        const Window w{window, scratch.data(), plan.source->nodata.data()};
        // Rows in tasks on the pool: each writes its own pixels of the block.
        const size_t tasks = size_t((box.height + kRowsPerTask - 1) / kRowsPerTask);
        runtime.pool().parallel_for(tasks, [&](size_t t) {
          const int64_t begin = int64_t(t) * kRowsPerTask;
          dispatch<Sample>(type, block, w, plan.inverse, image.value.interpolation, begin,
                           std::min(box.height, begin + kRowsPerTask));
        });
      }
      if (block.blend == Blend::kMean) dispatch<FinishMean>(type, block);
      // The block's selected bands into the caller's buffer.
      for (size_t k = 0; k < bands->size(); ++k) {
        from[k] = block.out.data() + (*bands)[k] * ss;
        to[k] = here.data + int64_t(k) * dst.strides.band;
      }
      copy_block(BandPlanes{from, int64_t(block.pixel_bytes), int64_t(block.pixel_bytes) * box.width},
                 MutableBandPlanes{to, dst.strides.pixel, dst.strides.line}, box.width, box.height, ss);
    }
  }
  return Status::ok();
}

Result<std::optional<Region>> mapped_bounds(Txn& txn, Runtime& runtime, const MappedImage& image,
                                            Precision precision) {
  std::optional<Region> all;
  for (const MappedImage::Source& s : image.sources) {
    auto box = source_bounds(txn, runtime, s, precision);
    if (!box) return box.status();
    if (*box) all = unite(all, transformed_box(s.transform, **box));
  }
  return all;
}

Result<std::optional<Region>> mapped_extent(Txn& txn, Runtime& runtime, const MappedImage& image) {
  std::optional<Region> all;
  for (const MappedImage::Source& s : image.sources) {
    std::optional<Region> covered;
    if (s.mapped) {
      auto extent = mapped_extent(txn, runtime, *s.mapped);
      if (!extent) return extent.status();
      covered = *extent;
    } else {
      // The frame's extent, else the image's (View::extent), else the tiles' box.
      for (uint32_t scope : {s.frame, kImageScope}) {
        auto attributes = read_attributes(txn, s.image, scope);
        if (!attributes) return attributes.status();
        if (const AttributeValue* value = find_attribute(*attributes, kExtentAttribute)) {
          auto extent = parse_extent(*value);
          if (!extent) return extent.status().with_context(who(txn, image) + ": source '" + s.image.name + "'");
          covered = *extent;
          break;
        }
      }
      if (!covered) {
        auto box = frame_geometry(txn, runtime, s.image, s.frame, Precision::kLeaf);
        if (!box) return box.status();
        covered = *box;
      }
    }
    if (covered) all = unite(all, transformed_box(s.transform, *covered));
  }
  return all;
}

Result<std::string> mapped_content_tag(Txn& txn, Runtime& runtime, const MappedImage& image, const Region& region,
                                       const Selection& sel) {
  auto bands = check_request(txn.env().path(), image.info, region, sel, Access::kRead);
  if (!bands) return bands.status();
  auto plans = plan_sources(txn, runtime, image, sel.level);
  if (!plans) return plans.status();
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  const std::vector<uint8_t> definition = build_mapped_record(mapped_record_key(image.info.name), image.value);
  XXH3_128bits_update(state, definition.data(), definition.size());
  const int64_t where[5] = {region.x, region.y, region.width, region.height, int64_t(sel.level)};
  XXH3_128bits_update(state, where, sizeof where);
  XXH3_128bits_update(state, bands->data(), bands->size() * sizeof(uint32_t));
  Status status = Status::ok();
  for (const SourcePlan& plan : *plans) {
    const Region window = plan.clip ? source_window(plan.inverse, region).intersect(*plan.clip) : Region{};
    if (window.empty()) {
      XXH3_128bits_update(state, "-", 1);
      continue;
    }
    const MappedImage::Source& s = *plan.source;
    auto tag = s.mapped ? mapped_content_tag(txn, runtime, *s.mapped, window, Selection{0, sel.level, s.bands})
                        : content_tag(txn, s.image, window, Selection{s.frame, sel.level, s.bands});
    if (!tag) {
      status = tag.status();
      break;
    }
    XXH3_128bits_update(state, tag->data(), tag->size());
  }
  const XXH128_hash_t digest = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  if (!status.is_ok()) return status;
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)digest.high64, (unsigned long long)digest.low64);
  return std::string(hex);
}

}  // namespace tessera::detail
