#include "format/mapped_record.h"

#include <flatbuffers/flatbuffers.h>

#include <cmath>
#include <cstring>

#include "format/flatbuffer_read.h"
#include "format/names.h"
#include "format/records.h"
#include "tessera_generated.h"
#include "util/bytes.h"
#include "util/xxhash.h"

namespace tessera::detail {
namespace {

Status corrupt(std::string what) { return Status(Code::kCorrupt, "mapped image record: " + std::move(what)); }

std::array<double, 6> coefficients(const Affine& t) { return {t.a, t.b, t.c, t.d, t.e, t.f}; }

void append_u32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4];
  put_le32(b, v);
  out.insert(out.end(), b, b + 4);
}

void append_f64(std::vector<uint8_t>& out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  uint8_t b[8];
  put_le64(b, bits);
  out.insert(out.end(), b, b + 8);
}

// XXH3-64 of the key, then: the source count u32; per source its name's length u32 and bytes,
// frame u32, band count u32 and each band u32, the 6 coefficients as f64 LE; then blend u8,
// interpolation u8, the fill's length u32 and its bytes (spec 4.1).
uint64_t mapped_check(std::span<const uint8_t> key, const MappedValue& v) {
  std::vector<uint8_t> bytes(key.begin(), key.end());
  append_u32(bytes, uint32_t(v.sources.size()));
  for (const MappedSource& s : v.sources) {
    append_u32(bytes, uint32_t(s.image.size()));
    bytes.insert(bytes.end(), s.image.begin(), s.image.end());
    append_u32(bytes, s.frame);
    append_u32(bytes, uint32_t(s.bands.size()));
    for (uint32_t b : s.bands) append_u32(bytes, b);
    for (double c : coefficients(s.transform)) append_f64(bytes, c);
  }
  bytes.push_back(uint8_t(v.blend));
  bytes.push_back(uint8_t(v.interpolation));
  append_u32(bytes, uint32_t(v.fill.size()));
  bytes.insert(bytes.end(), v.fill.begin(), v.fill.end());
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace

std::vector<uint8_t> mapped_record_key(std::string_view name) {
  const std::string key = std::string(kMappedKeyPrefix) + std::string(name);
  return std::vector<uint8_t>(key.begin(), key.end());
}

std::optional<std::string> mapped_name_of_key(std::span<const uint8_t> key) {
  if (key.size() <= kMappedKeyPrefix.size() ||
      std::memcmp(key.data(), kMappedKeyPrefix.data(), kMappedKeyPrefix.size()) != 0)
    return std::nullopt;
  return std::string(key.begin() + kMappedKeyPrefix.size(), key.end());
}

Status check_affine(const Affine& affine) {
  for (double c : coefficients(affine))
    if (!std::isfinite(c))
      return Status(Code::kInvalidArgument, "transform " + to_string(affine) + " has a coefficient that is not finite");
  if (!(std::fabs(affine.a * affine.e - affine.b * affine.d) >= kMinAffineDeterminant))
    return Status(Code::kInvalidArgument, "transform " + to_string(affine) + " cannot be inverted (a*e - b*d is 0)");
  return Status::ok();
}

std::vector<uint8_t> build_mapped_record(std::span<const uint8_t> key, const MappedValue& value) {
  flatbuffers::FlatBufferBuilder fbb(256);
  std::vector<flatbuffers::Offset<fb::MappedSource>> sources;
  for (const MappedSource& s : value.sources) {
    const std::array<double, 6> c = coefficients(s.transform);
    sources.push_back(fb::CreateMappedSource(fbb, fbb.CreateString(s.image), s.frame,
                                             s.bands.empty() ? 0 : fbb.CreateVector(s.bands),
                                             fbb.CreateVector(c.data(), c.size())));
  }
  fbb.Finish(fb::CreateMappedImage(fbb, fbb.CreateVector(sources), fb::Blend(value.blend),
                                   fb::Interpolation(value.interpolation), fbb.CreateVector(value.fill),
                                   mapped_check(key, value)));
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Result<MappedValue> read_mapped_fields(const uint8_t* data, size_t size, uint64_t* check) {
  const fb::MappedImage* r = verified_root<fb::MappedImage>(data, size);
  if (!r) return corrupt("fails verification");
  MappedValue value;
  const auto* sources = r->sources();
  if (sources->size() == 0 || sources->size() > kMaxMappedSources)
    return corrupt(std::to_string(sources->size()) + " sources: 1 to " + std::to_string(kMaxMappedSources));
  for (const fb::MappedSource* s : *sources) {
    MappedSource source;
    source.image = s->image()->str();
    source.frame = s->frame();
    if (s->bands()) {
      if (s->bands()->size() > kMaxBands)
        return corrupt("source '" + source.image + "' maps " + std::to_string(s->bands()->size()) +
                       " bands: at most " + std::to_string(kMaxBands));
      source.bands.assign(s->bands()->begin(), s->bands()->end());
    }
    if (!s->transform() || s->transform()->size() != 6)
      return corrupt("source '" + source.image + "' has a transform of " +
                     std::to_string(s->transform() ? s->transform()->size() : 0) + " coefficients, not 6");
    const std::vector<double> c = copy_vector(*s->transform());
    source.transform = Affine{c[0], c[1], c[2], c[3], c[4], c[5]};
    value.sources.push_back(std::move(source));
  }
  value.blend = Blend(uint8_t(r->blend()));
  value.interpolation = Interpolation(uint8_t(r->interpolation()));
  if (r->fill()) value.fill.assign(r->fill()->begin(), r->fill()->end());
  if (check) *check = r->check();
  return value;
}

Result<MappedValue> parse_mapped_record(std::span<const uint8_t> key, const uint8_t* data, size_t size) {
  uint64_t check = 0;
  auto fields = read_mapped_fields(data, size, &check);
  if (!fields) return fields.status();
  MappedValue& value = *fields;
  if (mapped_check(key, value) != check) return corrupt("checksum mismatch");
  if (uint8_t(value.blend) > uint8_t(Blend::kMax)) return corrupt("unknown blend " + std::to_string(uint8_t(value.blend)));
  if (uint8_t(value.interpolation) > uint8_t(Interpolation::kBilinear))
    return corrupt("unknown interpolation " + std::to_string(uint8_t(value.interpolation)));
  if (value.fill.empty()) return corrupt("no fill value");
  for (const MappedSource& s : value.sources) {
    Status affine = check_affine(s.transform);
    if (!affine.is_ok()) return corrupt("source '" + s.image + "': " + affine.message());
  }
  return fields;
}

}  // namespace tessera::detail
