// Chunk values: every codec and filter round-trips; every damaged byte is caught.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "format/chunk_codec.h"

namespace tessera::detail {
namespace {

std::vector<uint8_t> smooth_samples(size_t bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(bytes);
  uint8_t v = 0;
  for (auto& b : out) b = (v += uint8_t(rng() % 3));
  return out;
}

struct CodecCase {
  CodecSpec codec;
  Filter filter;
  size_t sample;
};

class ChunkRoundTrip : public ::testing::TestWithParam<CodecCase> {};

TEST_P(ChunkRoundTrip, DecodesToTheSameBytes) {
  const CodecCase c = GetParam();
  for (uint32_t blocks : {1u, 3u})
    for (uint64_t seed : {1, 2, 3}) {
      auto raw = smooth_samples(64 * 64 * 3 * c.sample, seed);
      AlignedBuffer value;
      encode_chunk(raw.data(), raw.size(), {c.codec, c.filter, c.sample, blocks, 3}, value);
      auto info = parse_chunk_header(value.data(), value.size());
      ASSERT_TRUE(info.is_ok()) << info.status().to_string();
      EXPECT_EQ(info->raw_size, raw.size());
      EXPECT_EQ(info->blocks, blocks);
      EXPECT_EQ(info->version, blocks == 1 ? kChunkVersionWhole : kChunkVersionBlocked);
      EXPECT_NE(value.size() % 4096, 0u);
      EXPECT_TRUE(check_chunk_checksums(value.data(), *info).is_ok());
      std::vector<uint8_t> back(raw.size());
      ASSERT_TRUE(decode_chunk(value.data(), value.size(), back.data(), back.size()).is_ok());
      EXPECT_EQ(back, raw);
      // Every block alone gives its slice.
      const size_t n = raw.size() / blocks;
      std::vector<uint8_t> block(n);
      auto located = ChunkBlocks::read(value.data(), *info);
      ASSERT_TRUE(located.is_ok()) << located.status().to_string();
      ASSERT_EQ(located->count(), blocks);
      for (uint32_t b = 0; b < blocks; ++b) {
        ASSERT_TRUE(located->decode(b, block.data(), n).is_ok()) << b;
        EXPECT_TRUE(std::equal(block.begin(), block.end(), raw.begin() + b * n)) << b;
      }
    }
}

// Version 2: an incompressible plane among compressible ones is stored raw on its own; a
// damaged block spoils reads of that block and of the whole tile, not of the other blocks.
TEST(ChunkCodecTest, BlocksAreStoredAndCheckedEachOnItsOwn) {
  const size_t plane = 64 * 64 * 2;
  auto raw = smooth_samples(plane * 4, 21);
  std::mt19937_64 rng(22);
  for (size_t i = 2 * plane; i < 3 * plane; ++i) raw[i] = uint8_t(rng());  // block 2: noise
  AlignedBuffer value;
  encode_chunk(raw.data(), raw.size(), {{Codec::kLz4, 0}, Filter::kShuffle, 2, 4}, value);
  auto info = parse_chunk_header(value.data(), value.size());
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->codec, Codec::kLz4);
  EXPECT_EQ(info->filter, Filter::kShuffle);
  EXPECT_LT(value.size(), raw.size());
  std::vector<uint8_t> back(raw.size());
  ASSERT_TRUE(decode_chunk(value.data(), value.size(), back.data(), back.size()).is_ok());
  EXPECT_EQ(back, raw);

  // Damage the last byte of the value: it lies in block 3.
  std::vector<uint8_t> damaged(value.data(), value.data() + value.size());
  damaged.back() ^= 0x01;
  std::vector<uint8_t> block(plane);
  auto located = ChunkBlocks::read(damaged.data(), *info);
  ASSERT_TRUE(located.is_ok()) << located.status().to_string();
  for (uint32_t b = 0; b < 3; ++b) EXPECT_TRUE(located->decode(b, block.data(), plane).is_ok()) << b;
  EXPECT_TRUE(located->raw(2).is_ok());  // the incompressible block, read in place
  EXPECT_NE(*located->raw(2), nullptr);
  EXPECT_EQ(*located->raw(0), nullptr);  // compressed: must be decoded
  EXPECT_EQ(located->raw(3).status().code(), Code::kCorrupt);
  Status s = located->decode(3, block.data(), plane);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find("block 3 checksum"), std::string::npos) << s.message();
  EXPECT_EQ(decode_chunk(damaged.data(), damaged.size(), back.data(), back.size()).code(), Code::kCorrupt);
  EXPECT_EQ(check_chunk_checksums(damaged.data(), *info).code(), Code::kCorrupt);
  // A block index or buffer that does not fit is refused.
  EXPECT_EQ(located->decode(4, block.data(), plane).code(), Code::kCorrupt);
  EXPECT_EQ(located->decode(0, block.data(), plane - 1).code(), Code::kCorrupt);
}

INSTANTIATE_TEST_SUITE_P(
    AllCodecs, ChunkRoundTrip,
    ::testing::Values(CodecCase{{Codec::kNone, 0}, Filter::kNone, 1}, CodecCase{{Codec::kLz4, 0}, Filter::kNone, 1},
                      CodecCase{{Codec::kLz4, 0}, Filter::kShuffle, 2}, CodecCase{{Codec::kLz4, 0}, Filter::kShuffle, 4},
                      CodecCase{{Codec::kLz4, 0}, Filter::kShuffle, 8}, CodecCase{{Codec::kZstd, 1}, Filter::kNone, 2},
                      CodecCase{{Codec::kZstd, 1}, Filter::kShuffle, 2}, CodecCase{{Codec::kZstd, 19}, Filter::kShuffle, 4},
                      CodecCase{{Codec::kZstd, 0}, Filter::kShuffle, 8}, CodecCase{{Codec::kNone, 0}, Filter::kDelta, 2},
                      CodecCase{{Codec::kLz4, 0}, Filter::kDelta, 1}, CodecCase{{Codec::kLz4, 0}, Filter::kDelta, 2},
                      CodecCase{{Codec::kZstd, 1}, Filter::kDelta, 2}, CodecCase{{Codec::kZstd, 0}, Filter::kDelta, 4},
                      CodecCase{{Codec::kLz4, 0}, Filter::kDelta, 8}));

// spec/FORMAT.md section 8, "A version 2 chunk": the bytes the spec shows are the bytes written.
TEST(ChunkCodecTest, SpecWorkedVersion2Chunk) {
  std::vector<uint8_t> raw(512);
  for (int i = 0; i < 256; ++i) raw[i] = uint8_t(i), raw[256 + i] = 7;
  AlignedBuffer value;
  encode_chunk(raw.data(), raw.size(), {{Codec::kLz4, 0}, Filter::kNone, 1, 2}, value);
  const std::vector<uint8_t> head = {
      0x02, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x23, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
      0x1c, 0x21, 0xc2, 0x4c, 0x1f, 0xf6, 0x4b, 0x6b, 0x00, 0x01, 0x00, 0x00, 0x14, 0x08, 0x1e, 0xfe,
      0xaa, 0xac, 0x60, 0xb1, 0x0b, 0x00, 0x00, 0x00, 0xfc, 0xb2, 0x99, 0x3d, 0x39, 0xdf, 0xd7, 0x10};
  const std::vector<uint8_t> block1 = {0x1f, 0x07, 0x01, 0x00, 0xe7, 0x50, 0x07, 0x07, 0x07, 0x07, 0x07};
  ASSERT_EQ(value.size(), 315u);
  EXPECT_TRUE(std::equal(head.begin(), head.end(), value.data()));
  EXPECT_TRUE(std::equal(raw.begin(), raw.begin() + 256, value.data() + 48));
  EXPECT_TRUE(std::equal(block1.begin(), block1.end(), value.data() + 304));
}

TEST(ChunkCodecTest, IncompressibleTilesAreStoredRaw) {
  std::mt19937_64 rng(5);
  std::vector<uint8_t> raw(4096 * 3 + 5);
  for (auto& b : raw) b = uint8_t(rng());
  AlignedBuffer value;
  encode_chunk(raw.data(), raw.size(), {{Codec::kLz4, 0}, Filter::kShuffle, 1, 1}, value);
  auto info = parse_chunk_header(value.data(), value.size());
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->codec, Codec::kNone);
}

TEST(ChunkCodecTest, ExactPageMultipleGetsOnePadByte) {
  std::mt19937_64 rng(9);
  std::vector<uint8_t> raw(4096 * 2 - kChunkHeaderSize);
  for (auto& b : raw) b = uint8_t(rng());
  AlignedBuffer value;
  encode_chunk(raw.data(), raw.size(), {{Codec::kNone, 0}, Filter::kNone, 1, 1}, value);
  EXPECT_EQ(value.size(), 4096u * 2 + 1);
  std::vector<uint8_t> back(raw.size());
  ASSERT_TRUE(decode_chunk(value.data(), value.size(), back.data(), back.size()).is_ok());
  EXPECT_EQ(back, raw);
}

TEST(ChunkCodecTest, ValueOneByteOverAPageHasNoPadByte) {
  // 24 + 4073 = 4097 bytes: not a page multiple, so no pad byte, whatever the last byte is.
  std::mt19937_64 rng(13);
  std::vector<uint8_t> raw(4096 - kChunkHeaderSize + 1);
  for (auto& b : raw) b = uint8_t(rng() | 1);
  AlignedBuffer value;
  encode_chunk(raw.data(), raw.size(), {{Codec::kNone, 0}, Filter::kNone, 1, 1}, value);
  ASSERT_EQ(value.size(), 4097u);
  std::vector<uint8_t> back(raw.size());
  ASSERT_TRUE(decode_chunk(value.data(), value.size(), back.data(), back.size()).is_ok());
  EXPECT_EQ(back, raw);
}

TEST(ChunkCodecTest, EveryFlippedByteIsDetected) {
  auto raw = smooth_samples(32 * 32 * 2 * 3, 11);
  for (uint32_t blocks : {1u, 3u})
    for (Filter filter : {Filter::kShuffle, Filter::kDelta}) {
    AlignedBuffer value;
    encode_chunk(raw.data(), raw.size(), {{Codec::kLz4, 0}, filter, 2, blocks, 3}, value);
    std::vector<uint8_t> back(raw.size());
    for (size_t i = 0; i < value.size(); ++i) {
      std::vector<uint8_t> damaged(value.data(), value.data() + value.size());
      damaged[i] ^= 0x20;
      Status s = decode_chunk(damaged.data(), damaged.size(), back.data(), back.size());
      EXPECT_EQ(s.code(), Code::kCorrupt) << "blocks " << blocks << " byte " << i;
    }
  }
}

TEST(ChunkCodecTest, TruncatedAndOversizedValuesAreCorrupt) {
  auto raw = smooth_samples(1000, 3);
  AlignedBuffer value;
  encode_chunk(raw.data(), raw.size(), {{Codec::kZstd, 3}, Filter::kNone, 1, 1}, value);
  std::vector<uint8_t> back(raw.size());
  for (size_t n : {size_t(0), size_t(10), size_t(24), value.size() - 1})
    EXPECT_EQ(decode_chunk(value.data(), n, back.data(), back.size()).code(), Code::kCorrupt) << n;
  std::vector<uint8_t> longer(value.data(), value.data() + value.size());
  longer.resize(longer.size() + 2);
  EXPECT_EQ(decode_chunk(longer.data(), longer.size(), back.data(), back.size()).code(), Code::kCorrupt);
  std::vector<uint8_t> small(raw.size() - 1);
  EXPECT_EQ(decode_chunk(value.data(), value.size(), small.data(), small.size()).code(), Code::kCorrupt);
}

TEST(FilterTest, InverseRestoresInputWithTrailingBytes) {
  auto raw = smooth_samples(8 * 100 + 3, 4);
  for (Filter filter : {Filter::kShuffle, Filter::kDelta})
    for (size_t s : {1, 2, 4, 8})
      for (uint32_t distance : {1u, 3u, 100u}) {
        std::vector<uint8_t> mid(raw.size()), back(raw.size());
        filter_bytes(raw.data(), mid.data(), raw.size(), s, filter, distance);
        unfilter_bytes(mid.data(), back.data(), raw.size(), s, filter, distance);
        EXPECT_EQ(back, raw) << filter_name(filter) << " " << s << " " << distance;
        EXPECT_EQ(std::equal(mid.begin(), mid.end(), raw.begin()), !filter_applies(filter, s) ||
                                                                      (filter == Filter::kShuffle && s == 1));
      }
}

// The delta filter as spec/FORMAT.md 4.4.3 says, written out by hand: u16 samples of 2 bands,
// each minus the same band's sample of the pixel before (wrapping), then the byte shuffle.
TEST(FilterTest, DeltaIsTheSpecsDifferencesThenTheShuffle) {
  const std::vector<uint16_t> samples = {1000, 5, 1003, 3, 999, 0xFFFF, 1000, 2};
  std::vector<uint8_t> raw;
  for (uint16_t v : samples) raw.push_back(uint8_t(v)), raw.push_back(uint8_t(v >> 8));
  std::vector<uint16_t> differences = {1000, 5};
  for (size_t i = 2; i < samples.size(); ++i) differences.push_back(uint16_t(samples[i] - samples[i - 2]));
  std::vector<uint8_t> expected(raw.size());
  const size_t n = samples.size();
  for (size_t i = 0; i < n; ++i) expected[i] = uint8_t(differences[i]), expected[n + i] = uint8_t(differences[i] >> 8);
  std::vector<uint8_t> out(raw.size());
  filter_bytes(raw.data(), out.data(), raw.size(), 2, Filter::kDelta, 2);
  EXPECT_EQ(out, expected);
  EXPECT_EQ(differences[3], uint16_t(0xFFFE));  // 3 - 5 wraps
}

// A version 1 delta chunk records its distance in header bytes 12..15; a reader refuses 0 and
// a distance past the tile's samples; version 2 blocks (band planes) take distance 1.
TEST(ChunkCodecTest, DeltaDistanceIsRecordedAndChecked) {
  auto raw = smooth_samples(64 * 64 * 3 * 2, 8);
  AlignedBuffer value;
  encode_chunk(raw.data(), raw.size(), {{Codec::kLz4, 0}, Filter::kDelta, 2, 1, 3}, value);
  auto info = parse_chunk_header(value.data(), value.size());
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->filter, Filter::kDelta);
  EXPECT_EQ(info->delta_distance, 3u);
  EXPECT_EQ(info->reserved, 0u);
  for (uint32_t bad : {0u, uint32_t(raw.size() / 2 + 1)}) {
    std::vector<uint8_t> damaged(value.data(), value.data() + value.size());
    for (int b = 0; b < 4; ++b) damaged[12 + b] = uint8_t(bad >> (8 * b));
    auto refused = parse_chunk_header(damaged.data(), damaged.size());
    ASSERT_FALSE(refused.is_ok()) << bad;
    EXPECT_NE(refused.status().message().find("delta distance"), std::string::npos) << refused.status().message();
  }
  encode_chunk(raw.data(), raw.size(), {{Codec::kLz4, 0}, Filter::kDelta, 2, 3, 3}, value);
  info = parse_chunk_header(value.data(), value.size());
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->blocks, 3u);
  EXPECT_EQ(info->delta_distance, 1u);
  // A sample size the delta does not know is refused.
  std::vector<uint8_t> odd(value.data(), value.data() + value.size());
  odd[3] = 3;
  EXPECT_EQ(parse_chunk_header(odd.data(), odd.size()).status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace tessera::detail
