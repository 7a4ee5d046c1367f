// Fuzz target: arbitrary bytes as a raw tile. The first three bytes choose how it is encoded
// (sample size, blocks, codec, filter, delta distance, zstd level); the rest is the tile.
// encode_chunk followed by decode_chunk must give back exactly the tile, every block must
// decode alone to its slice, and the chunk must satisfy the invariants spec/FORMAT.md states
// for it: a header that parses, never stored larger than raw (plus the block table), a filter
// only with a codec and the sample sizes it applies to, no value a multiple of 4096 bytes.
//
// Input: [sample size | (blocks - 1) << 2][codec | (distance - 1) << 2 | filter << 6][level]
// [tile bytes (at least one)...], filter bits 01 delta, 1x shuffle.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "format/chunk_codec.h"
#include "fuzz_helpers.h"

namespace tessera::fuzz {
namespace {

struct EncodeParams {
  size_t sample_size = 1;
  CodecSpec codec;
  Filter filter = Filter::kNone;
  uint32_t delta_distance = 1;
  uint32_t blocks = 1;  // asked for; 1 unless it divides the tile
};

// Mostly the sample sizes of real images; with the high bit set, any size 0..127 (which the
// filter must skip rather than mangle).
EncodeParams read_params(FuzzInput& in) {
  EncodeParams p;
  const uint8_t size_byte = in.u8();
  static constexpr size_t kSampleSizes[] = {1, 2, 4, 8};
  p.sample_size = size_byte & 0x80 ? size_byte & 0x7F : kSampleSizes[size_byte & 3];
  if (!(size_byte & 0x80)) p.blocks = ((size_byte >> 2) & 0x1F) + 1;  // version 2 chunks
  const uint8_t codec_byte = in.u8();
  p.codec.codec = static_cast<Codec>((codec_byte & 3) % 3);
  p.delta_distance = ((codec_byte >> 2) & 0xF) + 1;
  p.filter = codec_byte & 0x80 ? Filter::kShuffle : codec_byte & 0x40 ? Filter::kDelta : Filter::kNone;
  p.codec.level = int(int8_t(in.u8())) % 23;  // zstd levels -22..22 (negative: fast modes)
  return p;
}

void check_filter_round_trip(const uint8_t* raw, size_t size, const EncodeParams& p) {
  if (p.sample_size == 0) return;  // the functions divide by the sample size: not a valid call
  auto filtered = exact_buffer(size);
  auto back = exact_buffer(size);
  detail::filter_bytes(raw, filtered.get(), size, p.sample_size, p.filter, p.delta_distance);
  detail::unfilter_bytes(filtered.get(), back.get(), size, p.sample_size, p.filter, p.delta_distance);
  FUZZ_CHECK(size == 0 || std::memcmp(raw, back.get(), size) == 0,
             "unfilter(filter(x)) != x for " + std::string(filter_name(p.filter)) + ", sample size " +
                 std::to_string(p.sample_size) + ", distance " + std::to_string(p.delta_distance));
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  using namespace tessera::fuzz;
  if (size < 3) return 0;
  FuzzInput in(data, size);
  const EncodeParams p = read_params(in);
  const uint8_t* raw = in.rest();
  const size_t raw_size = in.rest_size();
  if (raw_size == 0) return 0;  // no tile is empty: readers refuse raw_size 0 as corrupt

  const uint32_t blocks = raw_size % p.blocks == 0 ? p.blocks : 1;
  detail::AlignedBuffer encoded;
  detail::encode_chunk(raw, raw_size, {p.codec, p.filter, p.sample_size, blocks, p.delta_distance}, encoded);
  // An exact copy: the encoder's buffer may be larger than the value, which would hide a read
  // past its end from ASan.
  const size_t value_size = encoded.size();
  const auto value = exact_copy(encoded.data(), value_size);

  auto info = detail::parse_chunk_header(value.get(), value_size);
  FUZZ_CHECK(info.is_ok(), "an encoded chunk does not parse: " + info.status().to_string());
  FUZZ_CHECK(info->raw_size == raw_size, "raw_size " + std::to_string(info->raw_size));
  FUZZ_CHECK(info->blocks == blocks, "blocks " + std::to_string(info->blocks));
  const size_t table = blocks > 1 ? detail::kBlockEntrySize * blocks : 0;
  FUZZ_CHECK(info->stored_size <= raw_size + table,
             "stored " + std::to_string(info->stored_size) + " bytes for a tile of " +
                 std::to_string(raw_size));
  FUZZ_CHECK(info->codec == Codec::kNone || info->codec == p.codec.codec);
  FUZZ_CHECK(info->filter == Filter::kNone ||
             (info->filter == p.filter && info->codec != Codec::kNone && detail::filter_applies(p.filter, p.sample_size)));
  FUZZ_CHECK(info->filter != Filter::kDelta || blocks > 1 ||
                 info->delta_distance == std::clamp<size_t>(p.delta_distance, 1, raw_size / p.sample_size),
             "delta distance " + std::to_string(info->delta_distance));
  FUZZ_CHECK(info->sample_size == uint8_t(p.sample_size));
  FUZZ_CHECK(value_size % 4096 != 0, "a chunk value of " + std::to_string(value_size) +
                                         " bytes, a multiple of the page size");

  auto decoded = exact_buffer(raw_size);
  const Status status = detail::decode_chunk(value.get(), value_size, decoded.get(), raw_size);
  FUZZ_CHECK(status.is_ok(), "an encoded chunk does not decode: " + status.to_string());
  FUZZ_CHECK(raw_size == 0 || std::memcmp(raw, decoded.get(), raw_size) == 0,
             "decode(encode(x)) != x; codec " + codec_spec_name(p.codec) + " sample size " +
                 std::to_string(p.sample_size) + " filter " + std::string(filter_name(p.filter)));

  // Each block decodes alone to its slice of the tile.
  const size_t block_size = raw_size / blocks;
  auto block = exact_buffer(block_size);
  auto located = detail::ChunkBlocks::read(value.get(), *info);
  FUZZ_CHECK(located.is_ok(), "the blocks of an encoded chunk: " + located.status().to_string());
  for (uint32_t i = 0; i < blocks; ++i) {
    const Status one = located->decode(i, block.get(), block_size);
    FUZZ_CHECK(one.is_ok(), "block " + std::to_string(i) + " does not decode: " + one.to_string());
    FUZZ_CHECK(std::memcmp(raw + i * block_size, block.get(), block_size) == 0,
               "block " + std::to_string(i) + " decodes to other bytes");
  }

  check_filter_round_trip(raw, raw_size, p);
  return 0;
}
