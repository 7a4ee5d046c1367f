// Pyramid records (spec/FORMAT.md 4.1 and 5.6, format 2.2): meta keys "pyramid/" | image id |
// frame holding how many levels of one frame are built, by which rule, and where an
// unfinished build stands.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "format/keys.h"
#include "tessera/types.h"

namespace tessera::detail {

// "pyramid/" | image id u32 BE | frame u32 BE (16 bytes).
std::vector<uint8_t> pyramid_record_key(uint32_t image, uint32_t frame);
constexpr size_t kPyramidKeySize = 16;

struct PyramidValue {
  PyramidInfo info;
  // An unfinished build of level info.levels + 1: the blocks (in Morton order of their
  // coordinates) below this code are committed.
  Morton next;
  bool operator==(const PyramidValue& o) const {
    return info == o.info && next.hi == o.next.hi && next.lo == o.next.lo;
  }
};

// The record, with its checksum over `key` and the fields.
std::vector<uint8_t> build_pyramid_record(std::span<const uint8_t> key, const PyramidValue& value);
// kCorrupt when the bytes fail the Verifier, a field is out of range (levels or target over
// kMaxPyramidLevels, target not above levels, an unknown resampling) or the checksum does
// not match.
Result<PyramidValue> parse_pyramid_record(std::span<const uint8_t> key, const uint8_t* data, size_t size);

}  // namespace tessera::detail
