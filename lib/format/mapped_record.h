// Mapped image records (spec/FORMAT.md 4.1 and 5.7, format 2.4 and 3.2): meta keys "mapped/" |
// name holding a mapped image's sources, transforms, blending, interpolation and fill.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/mapped.h"

namespace tessera::detail {

// "mapped/" | the name's bytes.
std::vector<uint8_t> mapped_record_key(std::string_view name);
// The name of a mapped record's key; nullopt when `key` is not one (another meta key).
std::optional<std::string> mapped_name_of_key(std::span<const uint8_t> key);

// A mapped image as stored: the fill as one pixel's bytes of the sources' sample type.
struct MappedValue {
  std::vector<MappedSource> sources;
  Blend blend = Blend::kFirst;
  Interpolation interpolation = Interpolation::kNearest;
  std::vector<uint8_t> fill;
  bool operator==(const MappedValue&) const = default;
};

// |a*e - b*d| below this (or a coefficient not finite) is not an invertible transform.
constexpr double kMinAffineDeterminant = 1e-12;
// kInvalidArgument naming the fault when `affine` has a coefficient that is not finite or
// cannot be inverted.
Status check_affine(const Affine& affine);

// The record, with its checksum over `key` and the canonical bytes.
std::vector<uint8_t> build_mapped_record(std::span<const uint8_t> key, const MappedValue& value);
// The fields of a record that passes the Verifier and has 1..kMaxMappedSources sources of 6
// coefficients and at most kMaxBands bands each (else kCorrupt), and its `check`, checked no
// further (parse_mapped_record checks the rest).
Result<MappedValue> read_mapped_fields(const uint8_t* data, size_t size, uint64_t* check = nullptr);
// kCorrupt when the bytes fail the Verifier, the checksum does not match, or a field is out of
// range: no source or more than kMaxMappedSources, a transform not of 6 finite coefficients or
// not invertible, more than kMaxBands bands, an unknown blend or interpolation, no fill.
// Whether the sources exist and agree is checked when the image is read (and by verify).
Result<MappedValue> parse_mapped_record(std::span<const uint8_t> key, const uint8_t* data, size_t size);

}  // namespace tessera::detail
