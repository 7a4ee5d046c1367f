// Arithmetic and names of the API's small value types.
#include "tessera/types.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "tessera/mapped.h"

#include "util/text.h"

namespace tessera {
namespace {

struct TypeName {
  DataType type;
  std::string_view name;
  size_t size;
};
constexpr std::array<TypeName, 10> kTypes = {{
    {DataType::kU8, "u8", 1},   {DataType::kU16, "u16", 2}, {DataType::kU32, "u32", 4},
    {DataType::kU64, "u64", 8}, {DataType::kI8, "i8", 1},   {DataType::kI16, "i16", 2},
    {DataType::kI32, "i32", 4}, {DataType::kI64, "i64", 8}, {DataType::kF32, "f32", 4},
    {DataType::kF64, "f64", 8},
}};

constexpr std::array<std::string_view, 3> kInterleaves = {"bip", "bil", "bsq"};
constexpr std::array<std::string_view, 2> kLayouts = {"chunky", "planar"};

bool add_overflows(int64_t a, int64_t b) {
  int64_t sum;
  return __builtin_add_overflow(a, b, &sum);
}

}  // namespace

size_t sample_size(DataType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.size;
  return 0;
}

std::string_view data_type_name(DataType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return "?";
}

// Every parse_* below ignores ASCII case: "BSQ" is bsq, as in an ENVI header.
using detail::ascii_lower;

Result<DataType> parse_data_type(std::string_view name) {
  for (const auto& t : kTypes)
    if (t.name == ascii_lower(name)) return t.type;
  return Status(Code::kInvalidArgument, "unknown sample type '" + std::string(name) +
                                            "' (expected u8, u16, u32, u64, i8, i16, i32, i64, f32 or f64)");
}

std::string_view interleave_name(Interleave interleave) {
  return kInterleaves[static_cast<size_t>(interleave)];
}

Result<Interleave> parse_interleave(std::string_view name) {
  for (size_t i = 0; i < kInterleaves.size(); ++i)
    if (kInterleaves[i] == ascii_lower(name)) return static_cast<Interleave>(i);
  return Status(Code::kInvalidArgument,
                "unknown interleave '" + std::string(name) + "' (expected bip, bil or bsq)");
}

std::string_view storage_layout_name(StorageLayout layout) {
  return kLayouts[static_cast<size_t>(layout)];
}

Result<StorageLayout> parse_storage_layout(std::string_view name) {
  for (size_t i = 0; i < kLayouts.size(); ++i)
    if (kLayouts[i] == ascii_lower(name)) return static_cast<StorageLayout>(i);
  return Status(Code::kInvalidArgument,
                "unknown storage layout '" + std::string(name) + "' (expected chunky or planar)");
}

std::string codec_spec_name(const CodecSpec& spec) {
  switch (spec.codec) {
    case Codec::kNone: return "none";
    case Codec::kLz4: return "lz4";
    case Codec::kZstd: return spec.level ? "zstd:" + std::to_string(spec.level) : "zstd";
  }
  return "?";
}

Result<CodecSpec> parse_codec_spec(std::string_view typed) {
  const std::string lower = ascii_lower(typed);
  const std::string_view text = lower;
  if (text == "none") return CodecSpec{Codec::kNone, 0};
  if (text == "lz4") return CodecSpec{Codec::kLz4, 0};
  if (text == "zstd") return CodecSpec{Codec::kZstd, 0};
  if (text.starts_with("zstd:")) {
    std::string_view digits = text.substr(5);
    int level = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), level);
    if (ec == std::errc() && end == digits.data() + digits.size() && level >= 1 && level <= 22)
      return CodecSpec{Codec::kZstd, level};
    return Status(Code::kInvalidArgument,
                  "zstd level '" + std::string(digits) + "' is not a whole number from 1 to 22");
  }
  return Status(Code::kInvalidArgument,
                "unknown codec '" + std::string(typed) + "' (expected none, lz4 or zstd[:LEVEL])");
}

std::string_view filter_name(Filter filter) {
  switch (filter) {
    case Filter::kNone: return "none";
    case Filter::kShuffle: return "shuffle";
    case Filter::kDelta: return "delta";
  }
  return "?";
}

Result<Filter> parse_filter(std::string_view text) {
  for (Filter f : {Filter::kNone, Filter::kShuffle, Filter::kDelta})
    if (filter_name(f) == ascii_lower(text)) return f;
  return Status(Code::kInvalidArgument,
                "unknown filter '" + std::string(text) + "' (expected none, shuffle or delta)");
}

Region level_region(const Region& region, uint32_t level) {
  if (level == 0 || region.empty()) return region;
  const int shift = int(std::min<uint32_t>(level, 63));
  // Origin rounded down (arithmetic shift), end rounded up: ceil(e / 2^L) = ((e - 1) >> L) + 1.
  const int64_t x0 = region.x >> shift, y0 = region.y >> shift;
  const int64_t x1 = ((region.x_end() - 1) >> shift) + 1, y1 = ((region.y_end() - 1) >> shift) + 1;
  return Region{x0, y0, x1 - x0, y1 - y0};
}

std::string_view resampling_name(Resampling resampling) {
  switch (resampling) {
    case Resampling::kMean: return "mean";
    case Resampling::kNearest: return "nearest";
    case Resampling::kMode: return "mode";
    case Resampling::kMin: return "min";
    case Resampling::kMax: return "max";
  }
  return "?";
}

Result<Resampling> parse_resampling(std::string_view text) {
  for (Resampling r : {Resampling::kMean, Resampling::kNearest, Resampling::kMode, Resampling::kMin,
                       Resampling::kMax})
    if (resampling_name(r) == ascii_lower(text)) return r;
  return Status(Code::kInvalidArgument,
                "unknown resampling '" + std::string(text) + "' (mean, nearest, mode, min or max)");
}

std::string_view precision_name(Precision precision) {
  switch (precision) {
    case Precision::kOperative: return "operative";
    case Precision::kRoot: return "root";
    case Precision::kLeaf: return "leaf";
    case Precision::kExact: return "exact";
  }
  return "unknown";
}

Result<Precision> parse_precision(std::string_view text) {
  for (Precision p : {Precision::kOperative, Precision::kRoot, Precision::kLeaf, Precision::kExact})
    if (precision_name(p) == ascii_lower(text)) return p;
  return Status(Code::kInvalidArgument, "unknown precision '" + std::string(text) +
                                            "' (expected operative, root, leaf or exact)");
}

bool Region::is_valid() const {
  return width > 0 && height > 0 && !add_overflows(x, width) && !add_overflows(y, height);
}

Region Region::intersect(const Region& o) const {
  // Ends in 128 bits: a tile at the very edge of the coordinate space ends at 2^63.
  using Wide = __int128;
  const int64_t x0 = std::max(x, o.x), y0 = std::max(y, o.y);
  const Wide x1 = std::min(Wide(x) + width, Wide(o.x) + o.width);
  const Wide y1 = std::min(Wide(y) + height, Wide(o.y) + o.height);
  if (x1 <= x0 || y1 <= y0) return Region{};
  return Region{x0, y0, int64_t(x1 - x0), int64_t(y1 - y0)};
}

Region Region::unite(const Region& o) const {
  using Wide = __int128;
  const int64_t x0 = std::min(x, o.x), y0 = std::min(y, o.y);
  const Wide x1 = std::min<Wide>({std::max(Wide(x) + width, Wide(o.x) + o.width), INT64_MAX, Wide(x0) + INT64_MAX});
  const Wide y1 = std::min<Wide>({std::max(Wide(y) + height, Wide(o.y) + o.height), INT64_MAX, Wide(y0) + INT64_MAX});
  return Region{x0, y0, int64_t(x1 - x0), int64_t(y1 - y0)};
}

std::string to_string(const Region& r) {
  return std::to_string(r.x) + "," + std::to_string(r.y) + "," + std::to_string(r.width) + "x" +
         std::to_string(r.height);
}

std::string to_string(const FormatVersion& v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor);
}

Strides Strides::packed(Interleave interleave, int64_t width, int64_t height, size_t bands,
                        size_t sample_bytes) {
  // Saturating: the strides of a region too large for memory stay huge instead of wrapping,
  // so the buffer size check that follows refuses them.
  auto mul = [](int64_t a, int64_t b) {
    int64_t product;
    return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<int64_t>::max() : product;
  };
  const int64_t s = int64_t(sample_bytes), b = int64_t(bands);
  switch (interleave) {
    case Interleave::kBIP: return Strides{mul(s, b), mul(mul(s, b), width), s};
    case Interleave::kBIL: return Strides{s, mul(mul(s, width), b), mul(s, width)};
    case Interleave::kBSQ: return Strides{s, mul(s, width), mul(mul(s, width), height)};
  }
  return {};
}

uint64_t required_bytes(const Strides& st, int64_t width, int64_t height, size_t bands,
                        size_t sample_bytes) {
  if (width <= 0 || height <= 0 || bands == 0) return 0;
  // Offset of the last sample plus its size; saturates instead of wrapping.
  unsigned __int128 last = (unsigned __int128)uint64_t(st.pixel) * uint64_t(width - 1) +
                           (unsigned __int128)uint64_t(st.line) * uint64_t(height - 1) +
                           (unsigned __int128)uint64_t(st.band) * uint64_t(bands - 1) + sample_bytes;
  if (last > std::numeric_limits<uint64_t>::max()) return std::numeric_limits<uint64_t>::max();
  return uint64_t(last);
}

// ---- mapped images (tessera/mapped.h)

std::string to_string(const Affine& t) {
  std::string out;
  for (double c : {t.a, t.b, t.c, t.d, t.e, t.f}) {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%.17g", c);
    // The shortest of %.15g .. %.17g that reads back as the same double.
    for (int precision = 15; precision <= 17; ++precision) {
      std::snprintf(digits, sizeof digits, "%.*g", precision, c);
      if (std::strtod(digits, nullptr) == c) break;
    }
    out += (out.empty() ? "" : ",") + std::string(digits);
  }
  return out;
}

std::string_view blend_name(Blend blend) {
  switch (blend) {
    case Blend::kFirst: return "first";
    case Blend::kLast: return "last";
    case Blend::kMean: return "mean";
    case Blend::kMax: return "max";
  }
  return "?";
}

Result<Blend> parse_blend(std::string_view text) {
  for (Blend b : {Blend::kFirst, Blend::kLast, Blend::kMean, Blend::kMax})
    if (blend_name(b) == text) return b;
  return Status(Code::kInvalidArgument, "unknown blend '" + std::string(text) + "' (first, last, mean or max)");
}

std::string_view interpolation_name(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::kNearest: return "nearest";
    case Interpolation::kBilinear: return "bilinear";
  }
  return "?";
}

Result<Interpolation> parse_interpolation(std::string_view text) {
  for (Interpolation i : {Interpolation::kNearest, Interpolation::kBilinear})
    if (interpolation_name(i) == text) return i;
  return Status(Code::kInvalidArgument, "unknown resampling '" + std::string(text) + "' (nearest or bilinear)");
}

}  // namespace tessera
