// Fuzz target: arbitrary bytes through the FlatBuffers record parsers of the file's core
// (format header, image record, tile record, pyramid record). Each must refuse what its Verifier or its own checks reject with
// kCorrupt, and must never read outside the bytes it was given. What one accepts must survive
// a round trip: build(parsed) parses back to the same value, and building that again gives
// the same bytes (the builders are canonical). A tile record is bound to its key: the same
// bytes under any other key are refused.
//
// A mutated tile record almost never matches its `check` field, which parse_tile_record
// verifies before anything else; so a record that verifies as a TileRecord with a check field
// is parsed twice: as given, and with the check recomputed for its key and content.
//
// Input: [pixel bytes for parse_tile_record][25-byte tile key][record bytes...]. The record
// starts at an even, not 8-aligned, offset on purpose: the parsers must copy into aligned
// memory rather than trust the caller's (LMDB values are only 2-byte aligned).
#include <flatbuffers/flatbuffers.h>
#include <xxhash.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "format/keys.h"
#include "format/pyramid_record.h"
#include "format/records.h"
#include "fuzz_helpers.h"
#include "tessera_generated.h"

namespace tessera::fuzz {
namespace {

using detail::kTileKeySize;
using detail::TileKeyBytes;
using detail::TileValue;

void check_format_header(const uint8_t* data, size_t size) {
  auto parsed = detail::parse_format_header(data, size);
  if (!parsed.is_ok()) {
    FUZZ_CHECK(parsed.status().code() == Code::kCorrupt, parsed.status().to_string());
    return;
  }
  const std::vector<uint8_t> built = detail::build_format_header(*parsed);
  auto again = detail::parse_format_header(built.data(), built.size());
  FUZZ_CHECK(again.is_ok(), again.status().to_string());
  FUZZ_CHECK(again->major == parsed->major && again->minor == parsed->minor &&
                 again->creator == parsed->creator && again->created_unix == parsed->created_unix,
             "format header changed in a round trip");
  FUZZ_CHECK(detail::build_format_header(*again) == built, "format header builder not canonical");
}

// Same sample value: bit for bit, except that any NaN equals any NaN (the stored fill bytes are
// compared exactly; the doubles only describe them).
bool same_sample(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool same_image(const ImageInfo& a, const ImageInfo& b) {
  const ImageSpec &s = a.spec, &t = b.spec;
  if (a.name != b.name || a.id != b.id || a.frames != b.frames || a.fill_pixel != b.fill_pixel ||
      s.type != t.type || s.bands != t.bands || s.tile_size != t.tile_size ||
      s.macro_tiles != t.macro_tiles || s.storage != t.storage || !(s.codec == t.codec) ||
      s.filter != t.filter || s.fill.size() != t.fill.size())
    return false;
  for (size_t i = 0; i < s.fill.size(); ++i)
    if (!same_sample(s.fill[i], t.fill[i])) return false;
  return true;
}

double load_sample(DataType type, const uint8_t* p) {
  auto load = [p]<typename T>(T) {
    T t;
    std::memcpy(&t, p, sizeof t);
    return double(t);
  };
  switch (type) {
    case DataType::kU8: return load(uint8_t{});
    case DataType::kU16: return load(uint16_t{});
    case DataType::kU32: return load(uint32_t{});
    case DataType::kU64: return load(uint64_t{});
    case DataType::kI8: return load(int8_t{});
    case DataType::kI16: return load(int16_t{});
    case DataType::kI32: return load(int32_t{});
    case DataType::kI64: return load(int64_t{});
    case DataType::kF32: return load(float{});
    case DataType::kF64: return load(double{});
  }
  return 0;
}

// The fill doubles describe the stored fill pixel. When validate_image_spec accepts them (a
// 64-bit integer near its type's maximum may round out of range), fill_pixel turns them back
// into samples that read as the same doubles.
void check_fill_description(const ImageInfo& info) {
  const ImageSpec& spec = info.spec;
  if (!detail::validate_image_spec(spec).is_ok()) return;
  auto pixel = detail::fill_pixel(spec);
  FUZZ_CHECK(pixel.is_ok(), "validate_image_spec accepts a fill fill_pixel refuses: " +
                                pixel.status().to_string());
  FUZZ_CHECK(pixel->size() == info.pixel_bytes());
  const size_t sample = sample_size(spec.type);
  for (uint32_t b = 0; b < spec.bands; ++b)
    FUZZ_CHECK(same_sample(load_sample(spec.type, pixel->data() + b * sample), spec.fill[b]),
               "fill value " + std::to_string(spec.fill[b]) + " of band " + std::to_string(b) +
                   " does not survive fill_pixel as " + std::string(data_type_name(spec.type)));
}

void check_image_record(const uint8_t* data, size_t size) {
  auto parsed = detail::parse_image_record(data, size, /*check_required=*/false);
  if (!parsed.is_ok()) {
    FUZZ_CHECK(parsed.status().code() == Code::kCorrupt, parsed.status().to_string());
    return;
  }
  FUZZ_CHECK(parsed->fill_pixel.size() == parsed->pixel_bytes(),
             "fill pixel of " + std::to_string(parsed->fill_pixel.size()) + " bytes for " +
                 std::to_string(parsed->pixel_bytes()) + "-byte pixels");
  FUZZ_CHECK(parsed->spec.fill.size() == parsed->spec.bands);
  check_fill_description(*parsed);

  const std::vector<uint8_t> built = detail::build_image_record(*parsed);
  // What a 2.3 writer builds carries its checksum.
  auto again = detail::parse_image_record(built.data(), built.size(), /*check_required=*/true);
  FUZZ_CHECK(again.is_ok(), "rebuilt image record does not parse: " + again.status().to_string());
  FUZZ_CHECK(same_image(*parsed, *again), "image record changed in a round trip");
  FUZZ_CHECK(detail::build_image_record(*again) == built, "image record builder not canonical");
}

// TileRecord.check as spec/FORMAT.md defines it: XXH3-64 of the key and the kind byte, then
// chained as the seed over the uniform bytes, then over the chunk bytes.
uint64_t tile_record_check(const TileKeyBytes& key, const fb::TileRecord& r) {
  uint8_t head[kTileKeySize + 1];
  std::memcpy(head, key.data(), kTileKeySize);
  head[kTileKeySize] = static_cast<uint8_t>(r.kind());
  uint64_t h = XXH3_64bits(head, sizeof head);
  h = XXH3_64bits_withSeed(r.uniform() ? r.uniform()->data() : nullptr,
                           r.uniform() ? r.uniform()->size() : 0, h);
  return XXH3_64bits_withSeed(r.chunk() ? r.chunk()->data() : nullptr,
                              r.chunk() ? r.chunk()->size() : 0, h);
}

// A copy of the record with its check recomputed for `key`, or an empty vector when the bytes
// are not a TileRecord or have no check field to patch.
std::vector<uint8_t> with_matching_check(const TileKeyBytes& key, const uint8_t* data,
                                         size_t size) {
  // The vector's storage is suitably aligned for the Verifier (operator new: 16 bytes).
  std::vector<uint8_t> copy(data, data + size);
  flatbuffers::Verifier verifier(copy.data(), copy.size());
  if (size == 0 || !verifier.VerifyBuffer<fb::TileRecord>(nullptr)) return {};
  auto* record = flatbuffers::GetMutableRoot<fb::TileRecord>(copy.data());
  // GetRoot's own cast: a generated table is a flatbuffers::Table (privately).
  auto* table = reinterpret_cast<flatbuffers::Table*>(record);
  if (!table->SetField<uint64_t>(fb::TileRecord::VT_CHECK, tile_record_check(key, *record)))
    return {};
  return copy;
}

void check_tile_record(const TileKeyBytes& key, const uint8_t* data, size_t size,
                       size_t pixel_bytes) {
  auto parsed = detail::parse_tile_record(key, data, size, pixel_bytes);
  if (!parsed.is_ok()) {
    FUZZ_CHECK(parsed.status().code() == Code::kCorrupt, parsed.status().to_string());
    return;
  }
  if (parsed->kind == detail::TileKind::kUniform)
    FUZZ_CHECK(parsed->uniform.size() == pixel_bytes);
  TileKeyBytes other_key = key;
  other_key[size % kTileKeySize] ^= uint8_t(1) << (size % 8);
  FUZZ_CHECK(!detail::parse_tile_record(other_key, data, size, pixel_bytes).is_ok(),
             "a tile record parses under a key it was not written for");

  const std::vector<uint8_t> built = detail::build_tile_record(key, *parsed);
  auto again = detail::parse_tile_record(key, built.data(), built.size(), pixel_bytes);
  FUZZ_CHECK(again.is_ok(), "rebuilt tile record does not parse: " + again.status().to_string());
  FUZZ_CHECK(*again == *parsed, "tile record changed in a round trip");
  FUZZ_CHECK(detail::build_tile_record(key, *again) == built, "tile record builder not canonical");
}

// A pyramid record under the key's first 16 bytes: refused (kCorrupt) or a value that round
// trips and is bound to its key. Then the fields the bytes choose, built with a matching check:
// the range checks (levels, target, resampling) accept exactly what the spec allows.
void check_pyramid_record(const uint8_t* key_bytes, const uint8_t* data, size_t size) {
  const std::span<const uint8_t> key(key_bytes, detail::kPyramidKeySize);
  auto parsed = detail::parse_pyramid_record(key, data, size);
  if (!parsed.is_ok()) {
    FUZZ_CHECK(parsed.status().code() == Code::kCorrupt, parsed.status().to_string());
  } else {
    const std::vector<uint8_t> built = detail::build_pyramid_record(key, *parsed);
    auto again = detail::parse_pyramid_record(key, built.data(), built.size());
    FUZZ_CHECK(again.is_ok() && *again == *parsed, "pyramid record changed in a round trip");
    std::vector<uint8_t> other(key.begin(), key.end());
    other[size % other.size()] ^= 1;
    FUZZ_CHECK(!detail::parse_pyramid_record(other, data, size).is_ok(),
               "a pyramid record parses under a key it was not written for");
  }
  if (size < 3) return;
  detail::PyramidValue chosen;
  chosen.info.levels = data[0];
  chosen.info.resampling = Resampling(data[1] % 8);
  chosen.info.target = data[2];
  const std::vector<uint8_t> built = detail::build_pyramid_record(key, chosen);
  auto back = detail::parse_pyramid_record(key, built.data(), built.size());
  const bool valid = data[0] <= kMaxPyramidLevels && data[2] <= kMaxPyramidLevels && data[1] % 8 <= 4 &&
                     (data[2] == 0 || data[2] > data[0]);
  FUZZ_CHECK(back.is_ok() == valid, "pyramid record range checks disagree with the spec");
  if (valid) FUZZ_CHECK(*back == chosen, "pyramid record fields changed in a round trip");
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera::fuzz;
  constexpr size_t kPrefix = 1 + tessera::detail::kTileKeySize;
  if (size < kPrefix) return 0;
  const size_t pixel_bytes = data[0];
  TileKeyBytes key;
  std::memcpy(key.data(), data + 1, key.size());
  const uint8_t* record = data + kPrefix;
  const size_t record_size = size - kPrefix;

  check_format_header(record, record_size);
  check_image_record(record, record_size);
  check_tile_record(key, record, record_size, pixel_bytes);
  check_pyramid_record(key.data(), record, record_size);
  const std::vector<uint8_t> fixed = with_matching_check(key, record, record_size);
  if (!fixed.empty()) {
    const auto exact = exact_copy(fixed.data(), fixed.size());
    check_tile_record(key, exact.get(), fixed.size(), pixel_bytes);
  }
  return 0;
}
