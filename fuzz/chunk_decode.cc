// Fuzz target: arbitrary bytes as a chunk value (chunks[key] in the file). parse_chunk_header
// and decode_chunk must refuse anything malformed with kCorrupt, and must never read past the
// value or write past the caller's buffer: both are heap allocations of exactly the sizes
// passed, so AddressSanitizer catches a single byte too many.
//
// A mutated value almost never matches its checksums, which decode_chunk verifies first; left
// alone, the fuzzer would never get past them. So every input whose header parses is decoded
// twice: as given, and with the checksums recomputed the way spec/FORMAT.md section 4.4.2
// defines them (version 2: the table's, and every block's the table locates), which lets the
// block table checks, the codecs and the unshuffle behind them see the mutated bytes. A
// decoded version 2 chunk must also decode block by block to the same bytes.
#include <sanitizer/asan_interface.h>
#include <xxhash.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "format/chunk_codec.h"
#include "fuzz_helpers.h"

namespace tessera::fuzz {
namespace {

using detail::ChunkInfo;
using detail::kChunkHeaderSize;

// Decoded tiles bigger than this are refused by the buffer size check instead of decoded.
constexpr size_t kMaxRawSize = size_t(1) << 20;
// ChunkHeader.checksum (format/tessera.fbs): XXH3-64 of the payload, seeded with XXH3-64 of
// header bytes 0..15; it is stored at bytes 16..23, little-endian.
constexpr size_t kChecksumOffset = 16;

constexpr size_t kEntrySize = 12;  // version 2 block table entry: u32 stored, u64 sum

uint64_t header_seed(const uint8_t* value) { return XXH3_64bits(value, kChecksumOffset); }

// Rewrites the checksums of a value whose header parses (`info`) so that they match.
void fix_checksums(uint8_t* value, const ChunkInfo& info) {
  uint8_t* payload = value + kChunkHeaderSize;
  const size_t covered = info.version == 1 ? info.stored_size : kEntrySize * info.blocks;
  const uint64_t checksum = XXH3_64bits_withSeed(payload, covered, header_seed(value));
  std::memcpy(value + kChecksumOffset, &checksum, sizeof checksum);  // little-endian
  if (info.version == 1) return;
  uint64_t offset = covered;
  for (uint32_t i = 0; i < info.blocks; ++i) {
    uint32_t stored;
    std::memcpy(&stored, payload + i * kEntrySize, sizeof stored);
    if (offset + stored > info.stored_size) return;
    const uint64_t sum = XXH3_64bits_withSeed(payload + offset, stored, header_seed(value) + i);
    std::memcpy(payload + i * kEntrySize + 4, &sum, sizeof sum);
    offset += stored;
  }
}

// Destination buffers whose bounds ASan knows exactly. Small ones are fresh allocations of the
// exact size; large ones (a fuzzed raw_size is mostly large) would make every run an mmap, so
// they are the tail of one buffer of kMaxRawSize bytes with the part before them poisoned. The
// end is exact either way; before a large buffer, ASan's 8-byte granules may leave up to 7
// bytes unguarded.
class Destination {
 public:
  uint8_t* get(size_t size) {
    if (size <= kSmall) {
      small_ = exact_buffer(size);
      return small_.get();
    }
    ASAN_UNPOISON_MEMORY_REGION(pool_.get(), kMaxRawSize);
    ASAN_POISON_MEMORY_REGION(pool_.get(), kMaxRawSize - size);
    return pool_.get() + (kMaxRawSize - size);
  }

 private:
  static constexpr size_t kSmall = size_t(64) << 10;
  std::unique_ptr<uint8_t[]> pool_ = exact_buffer(kMaxRawSize);
  std::unique_ptr<uint8_t[]> small_;
};

Destination& destination() {
  static Destination d;
  return d;
}

void check_decode(const uint8_t* value, size_t size, const ChunkInfo& info) {
  const size_t dst_size = std::min<size_t>(info.raw_size, kMaxRawSize);
  uint8_t* dst = destination().get(dst_size);
  const Status status = detail::decode_chunk(value, size, dst, dst_size);
  if (!status.is_ok()) {
    FUZZ_CHECK(status.code() == Code::kCorrupt, status.to_string());
    return;
  }
  FUZZ_CHECK(dst_size == info.raw_size, "decoded into a buffer of the wrong size");
  // An uncompressed chunk decodes to its payload (after the block table in version 2).
  const size_t table = info.version == 1 ? 0 : kEntrySize * info.blocks;
  if (info.codec == Codec::kNone && (info.filter == Filter::kNone || info.version == 2))
    FUZZ_CHECK(dst_size == 0 || std::memcmp(dst, value + kChunkHeaderSize + table, dst_size) == 0,
               "an uncompressed chunk does not decode to its payload");
  // Block by block: the same bytes (the whole is copied first: block buffers may reuse it).
  const std::vector<uint8_t> whole(dst, dst + dst_size);
  const size_t block_size = info.block_raw_size();
  auto blocks = detail::ChunkBlocks::read(value, info);
  FUZZ_CHECK(blocks.is_ok(), "the blocks of a decodable chunk: " + blocks.status().to_string());
  for (uint32_t i = 0; i < info.blocks; ++i) {
    uint8_t* block = destination().get(block_size);
    const Status one = blocks->decode(i, block, block_size);
    FUZZ_CHECK(one.is_ok(), "block " + std::to_string(i) + " of a decodable chunk: " + one.to_string());
    FUZZ_CHECK(std::memcmp(block, whole.data() + i * block_size, block_size) == 0,
               "block " + std::to_string(i) + " decodes to other bytes than the whole chunk");
  }
  // The buffer size must match the header exactly: one byte short is refused, not truncated.
  if (dst_size > 0) {
    uint8_t* short_dst = destination().get(dst_size - 1);
    FUZZ_CHECK(!detail::decode_chunk(value, size, short_dst, dst_size - 1).is_ok(),
               "decoded into a buffer one byte short of the raw size");
  }
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  using namespace tessera::fuzz;

  auto info = detail::parse_chunk_header(data, size);
  if (!info.is_ok()) {
    FUZZ_CHECK(info.status().code() == Code::kCorrupt, info.status().to_string());
    // decode_chunk runs the same checks: it must refuse the value too.
    FUZZ_CHECK(!detail::decode_chunk(data, size, destination().get(64), 64).is_ok(),
               "decode_chunk accepted a value parse_chunk_header refuses");
    return 0;
  }
  // Exactly header + payload, plus one (zero) pad byte when that is a multiple of 4096.
  const uint64_t unpadded = kChunkHeaderSize + uint64_t(info->stored_size);
  FUZZ_CHECK(size == unpadded + (unpadded % 4096 == 0 ? 1 : 0),
             "parse_chunk_header accepted a value of " + std::to_string(size) +
                 " bytes for a payload of " + std::to_string(info->stored_size));
  check_decode(data, size, *info);

  // The same value with checksums that match.
  auto fixed = exact_copy(data, size);
  fix_checksums(fixed.get(), *info);
  auto fixed_info = detail::parse_chunk_header(fixed.get(), size);
  FUZZ_CHECK(fixed_info.is_ok(), "the checksum field changed whether the header parses");
  check_decode(fixed.get(), size, *fixed_info);
  return 0;
}
