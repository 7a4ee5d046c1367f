#include "format/pyramid_record.h"

#include <flatbuffers/flatbuffers.h>

#include <cstring>

#include "format/flatbuffer_read.h"
#include "format/names.h"
#include "tessera_generated.h"
#include "util/bytes.h"
#include "util/xxhash.h"

namespace tessera::detail {
namespace {

Status corrupt(std::string what) { return Status(Code::kCorrupt, "pyramid record: " + std::move(what)); }

// XXH3-64 of the key, then levels, resampling, target (1 byte each), next_hi, next_lo (8 LE each).
uint64_t pyramid_check(std::span<const uint8_t> key, uint8_t levels, uint8_t resampling, uint8_t target,
                       uint64_t next_hi, uint64_t next_lo) {
  std::vector<uint8_t> bytes(key.begin(), key.end());
  bytes.insert(bytes.end(), {levels, resampling, target});
  uint8_t b[16];
  put_le64(b, next_hi);
  put_le64(b + 8, next_lo);
  bytes.insert(bytes.end(), b, b + 16);
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace

std::vector<uint8_t> pyramid_record_key(uint32_t image, uint32_t frame) {
  std::vector<uint8_t> key(kPyramidKeyPrefix.begin(), kPyramidKeyPrefix.end());
  key.resize(kPyramidKeySize);
  put_be32(key.data() + kPyramidKeyPrefix.size(), image);
  put_be32(key.data() + kPyramidKeyPrefix.size() + 4, frame);
  return key;
}

std::vector<uint8_t> build_pyramid_record(std::span<const uint8_t> key, const PyramidValue& value) {
  const uint8_t levels = uint8_t(value.info.levels), target = uint8_t(value.info.target);
  const uint8_t resampling = uint8_t(value.info.resampling);
  flatbuffers::FlatBufferBuilder fbb(64);
  fbb.Finish(fb::CreatePyramidRecord(fbb, levels, fb::Resampling(resampling), target, value.next.hi,
                                     value.next.lo,
                                     pyramid_check(key, levels, resampling, target, value.next.hi,
                                                   value.next.lo)));
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Result<PyramidValue> parse_pyramid_record(std::span<const uint8_t> key, const uint8_t* data, size_t size) {
  const fb::PyramidRecord* r = verified_root<fb::PyramidRecord>(data, size);
  if (!r) return corrupt("fails verification");
  const uint8_t resampling = uint8_t(r->resampling());
  if (pyramid_check(key, r->levels(), resampling, r->target(), r->next_hi(), r->next_lo()) != r->check())
    return corrupt("checksum mismatch");
  if (resampling > uint8_t(Resampling::kMax))
    return corrupt("unknown resampling " + std::to_string(resampling));
  if (r->levels() > kMaxPyramidLevels || r->target() > kMaxPyramidLevels)
    return corrupt("levels " + std::to_string(r->levels()) + ", target " + std::to_string(r->target()) +
                   ": at most " + std::to_string(kMaxPyramidLevels));
  if (r->target() != 0 && r->target() <= r->levels())
    return corrupt("target " + std::to_string(r->target()) + " is not above levels " +
                   std::to_string(r->levels()));
  PyramidValue value;
  value.info = PyramidInfo{r->levels(), Resampling(resampling), r->target()};
  value.next = Morton{r->next_hi(), r->next_lo()};
  return value;
}

}  // namespace tessera::detail
