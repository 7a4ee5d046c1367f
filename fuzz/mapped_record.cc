// Fuzz target: arbitrary bytes through the mapped image record parser (format 2.4 and 3.2,
// spec/FORMAT.md 4.1). It must refuse what its Verifier, checksum or range checks reject with
// kCorrupt and never read outside the bytes it was given; what it accepts must survive a round
// trip (build(parsed) parses back to the same value, and builds the same bytes again). A record
// is bound to its key: the same bytes under another name are refused.
//
// A mutated record almost never matches its `check`, which is verified before the ranges; so the
// fields of a record that passes the Verifier are also rebuilt with the check computed for
// them, and that record must pass or fail the range checks alone.
//
// Input: [name length n: 1 byte][n name bytes][record bytes...].
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "format/mapped_record.h"
#include "fuzz_helpers.h"

namespace tessera::fuzz {
namespace {

void round_trip(const std::vector<uint8_t>& key, const detail::MappedValue& value) {
  const std::vector<uint8_t> built = detail::build_mapped_record(key, value);
  auto again = detail::parse_mapped_record(key, built.data(), built.size());
  FUZZ_CHECK(again.is_ok(), again.status().to_string());
  // Coefficients compare bitwise (a NaN never passes check_affine, so == is exact here).
  FUZZ_CHECK(*again == value, "mapped record changed in a round trip");
  FUZZ_CHECK(detail::build_mapped_record(key, *again) == built, "mapped record builder not canonical");
  std::vector<uint8_t> other = key;
  other.push_back('x');
  FUZZ_CHECK(!detail::parse_mapped_record(other, built.data(), built.size()).is_ok(),
             "a mapped record parsed under another name");
}

void check(const std::vector<uint8_t>& key, const uint8_t* data, size_t size) {
  auto parsed = detail::parse_mapped_record(key, data, size);
  if (parsed.is_ok()) {
    round_trip(key, *parsed);
  } else {
    FUZZ_CHECK(parsed.status().code() == Code::kCorrupt, parsed.status().to_string());
  }
  // The fields as they are, the check made to match: only the range checks can refuse now.
  auto fields = detail::read_mapped_fields(data, size);
  if (!fields.is_ok()) return;
  const detail::MappedValue& value = *fields;
  const std::vector<uint8_t> rebuilt = detail::build_mapped_record(key, value);
  auto ranged = detail::parse_mapped_record(key, rebuilt.data(), rebuilt.size());
  if (ranged.is_ok()) round_trip(key, *ranged);
  else FUZZ_CHECK(ranged.status().code() == Code::kCorrupt, ranged.status().to_string());
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size < size_t(1) + data[0]) return 0;
  const std::string name(reinterpret_cast<const char*>(data + 1), data[0]);
  const std::vector<uint8_t> key = tessera::detail::mapped_record_key(name);
  const size_t at = size_t(1) + data[0];
  tessera::fuzz::check(key, data + at, size - at);
  return 0;
}
