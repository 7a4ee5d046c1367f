#include "format/chunk_codec.h"

#include <lz4.h>
#include <xxhash.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "tessera_generated.h"

namespace tessera::detail {
namespace {

static_assert(sizeof(fb::ChunkHeader) == kChunkHeaderSize, "ChunkHeader must be 24 bytes");

struct ZstdContexts {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> c{ZSTD_createCCtx(), ZSTD_freeCCtx};
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d{ZSTD_createDCtx(), ZSTD_freeDCtx};
};
ZstdContexts& zstd_contexts() {
  thread_local ZstdContexts contexts;
  return contexts;
}

AlignedBuffer& scratch() {
  thread_local AlignedBuffer buffer;
  return buffer;
}

template <size_t S>
void shuffle_fixed(const uint8_t* src, uint8_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i)
    for (size_t b = 0; b < S; ++b) dst[b * n + i] = src[i * S + b];
}
template <size_t S>
void unshuffle_fixed(const uint8_t* src, uint8_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i)
    for (size_t b = 0; b < S; ++b) dst[i * S + b] = src[b * n + i];
}

bool filter_applies(size_t sample_size) {
  return sample_size == 2 || sample_size == 4 || sample_size == 8;
}

Status corrupt(std::string what) { return Status(Code::kCorrupt, std::move(what)); }

// The checksum covers the header's first 16 bytes and the payload, so no single damaged
// byte of a chunk value (a flipped filter or codec included) can go unnoticed.
constexpr size_t kChecksummedHeaderBytes = 16;
uint64_t chunk_checksum(const uint8_t* header, const uint8_t* payload, size_t payload_size) {
  return XXH3_64bits_withSeed(payload, payload_size, XXH3_64bits(header, kChecksummedHeaderBytes));
}

}  // namespace

ContentHash content_hash(const uint8_t* raw, size_t size) {
  const XXH128_hash_t h = XXH3_128bits(raw, size);
  return ContentHash{h.high64, h.low64};
}

void shuffle_bytes(const uint8_t* src, uint8_t* dst, size_t size, size_t s) {
  const size_t n = size / s;
  switch (s) {
    case 2: shuffle_fixed<2>(src, dst, n); break;
    case 4: shuffle_fixed<4>(src, dst, n); break;
    case 8: shuffle_fixed<8>(src, dst, n); break;
    default: std::memcpy(dst, src, size); return;
  }
  std::memcpy(dst + n * s, src + n * s, size - n * s);
}

void unshuffle_bytes(const uint8_t* src, uint8_t* dst, size_t size, size_t s) {
  const size_t n = size / s;
  switch (s) {
    case 2: unshuffle_fixed<2>(src, dst, n); break;
    case 4: unshuffle_fixed<4>(src, dst, n); break;
    case 8: unshuffle_fixed<8>(src, dst, n); break;
    default: std::memcpy(dst, src, size); return;
  }
  std::memcpy(dst + n * s, src + n * s, size - n * s);
}

void encode_chunk(const uint8_t* raw, size_t raw_size, size_t sample_size, const CodecSpec& codec,
                  bool shuffle, AlignedBuffer& out) {
  const uint8_t* input = raw;
  const bool shuffled = shuffle && codec.codec != Codec::kNone && filter_applies(sample_size);
  if (shuffled) {
    scratch().resize(raw_size);
    shuffle_bytes(raw, scratch().data(), raw_size, sample_size);
    input = scratch().data();
  }
  size_t bound = raw_size;
  if (codec.codec == Codec::kLz4) bound = size_t(LZ4_compressBound(int(raw_size)));
  if (codec.codec == Codec::kZstd) bound = ZSTD_compressBound(raw_size);
  out.resize(kChunkHeaderSize + bound + 1);
  uint8_t* payload = out.data() + kChunkHeaderSize;

  Codec used = codec.codec;
  size_t stored = 0;
  if (used == Codec::kLz4) {
    int n = LZ4_compress_default(reinterpret_cast<const char*>(input),
                                 reinterpret_cast<char*>(payload), int(raw_size), int(bound));
    stored = n > 0 ? size_t(n) : 0;
  } else if (used == Codec::kZstd) {
    size_t n = ZSTD_compressCCtx(zstd_contexts().c.get(), payload, bound, input, raw_size,
                                 codec.level ? codec.level : ZSTD_CLEVEL_DEFAULT);
    stored = ZSTD_isError(n) ? 0 : n;
  }
  bool keep_filter = shuffled;
  if (used == Codec::kNone || stored == 0 || stored >= raw_size) {
    // Incompressible: store the raw bytes, which also decode fastest.
    used = Codec::kNone;
    keep_filter = false;
    stored = raw_size;
    std::memcpy(payload, raw, raw_size);
  }
  auto header = [&](uint64_t checksum) {
    return fb::ChunkHeader(kChunkVersion, static_cast<fb::Codec>(used),
                           keep_filter ? fb::Filter::shuffle : fb::Filter::none,
                           uint8_t(sample_size), uint32_t(raw_size), uint32_t(stored), 0, checksum);
  };
  const fb::ChunkHeader unsummed = header(0);
  std::memcpy(out.data(), &unsummed, kChunkHeaderSize);
  const fb::ChunkHeader summed = header(chunk_checksum(out.data(), payload, stored));
  std::memcpy(out.data(), &summed, kChunkHeaderSize);
  size_t total = kChunkHeaderSize + stored;
  // A value of exactly a multiple of the page size reuses free space badly in LMDB
  // (DESIGN.md section 3): one pad byte avoids it.
  if (total % 4096 == 0) {
    payload[stored] = 0;
    ++total;
  }
  out.resize(total);
}

Result<ChunkInfo> parse_chunk_header(const uint8_t* value, size_t value_size) {
  if (value_size < kChunkHeaderSize)
    return corrupt("chunk value of " + std::to_string(value_size) +
                   " bytes is shorter than its 24-byte header");
  fb::ChunkHeader header;
  std::memcpy(&header, value, kChunkHeaderSize);
  ChunkInfo info;
  if (header.version() != kChunkVersion)
    return corrupt("chunk header version " + std::to_string(header.version()) + " is not 1");
  const auto codec = static_cast<uint8_t>(header.codec());
  if (codec > static_cast<uint8_t>(fb::Codec::MAX))
    return corrupt("chunk codec " + std::to_string(codec) + " is unknown");
  const auto filter = static_cast<uint8_t>(header.filter());
  if (filter > static_cast<uint8_t>(fb::Filter::MAX))
    return corrupt("chunk filter " + std::to_string(filter) + " is unknown");
  info.codec = static_cast<Codec>(codec);
  info.shuffled = header.filter() == fb::Filter::shuffle;
  info.sample_size = header.sample_size();
  if (info.shuffled && !filter_applies(info.sample_size))
    return corrupt("chunk shuffle filter with sample size " + std::to_string(info.sample_size));
  info.raw_size = header.raw_size();
  if (info.raw_size == 0) return corrupt("chunk raw size is 0");
  info.stored_size = header.stored_size();
  info.checksum = header.checksum();
  info.reserved = header.reserved();
  // Values of an exact multiple of 4096 bytes carry one zero pad byte, and only those.
  const uint64_t unpadded = kChunkHeaderSize + uint64_t(info.stored_size);
  const bool padded = unpadded % 4096 == 0;
  const uint64_t expected = unpadded + (padded ? 1 : 0);
  if (padded && value_size == expected && value[unpadded] != 0)
    return corrupt("chunk pad byte is not zero");
  if (value_size != expected)
    return corrupt("chunk value is " + std::to_string(value_size) + " bytes but its header says " +
                   std::to_string(expected));
  if (info.codec == Codec::kNone && info.stored_size != info.raw_size)
    return corrupt("uncompressed chunk stores " + std::to_string(info.stored_size) +
                   " bytes for a raw size of " + std::to_string(info.raw_size));
  return info;
}

bool chunk_checksum_matches(const uint8_t* value, const ChunkInfo& info) {
  return chunk_checksum(value, value + kChunkHeaderSize, info.stored_size) == info.checksum;
}

Status decode_chunk(const uint8_t* value, size_t value_size, uint8_t* dst, size_t dst_size) {
  auto info = parse_chunk_header(value, value_size);
  if (!info) return info.status();
  if (info->raw_size != dst_size)
    return corrupt("chunk raw size " + std::to_string(info->raw_size) + " is not the tile size " +
                   std::to_string(dst_size));
  const uint8_t* payload = value + kChunkHeaderSize;
  if (!chunk_checksum_matches(value, *info)) return corrupt("chunk checksum mismatch");

  uint8_t* out = dst;
  if (info->shuffled) {
    scratch().resize(dst_size);
    out = scratch().data();
  }
  size_t produced = 0;
  switch (info->codec) {
    case Codec::kNone:
      std::memcpy(out, payload, info->stored_size);
      produced = info->stored_size;
      break;
    case Codec::kLz4: {
      int n = LZ4_decompress_safe(reinterpret_cast<const char*>(payload),
                                  reinterpret_cast<char*>(out), int(info->stored_size),
                                  int(dst_size));
      produced = n < 0 ? SIZE_MAX : size_t(n);
      break;
    }
    case Codec::kZstd: {
      size_t n = ZSTD_decompressDCtx(zstd_contexts().d.get(), out, dst_size, payload,
                                     info->stored_size);
      produced = ZSTD_isError(n) ? SIZE_MAX : n;
      break;
    }
  }
  if (produced != dst_size)
    return corrupt("chunk payload does not decode to its raw size of " + std::to_string(dst_size) +
                   " bytes");
  if (info->shuffled) unshuffle_bytes(out, dst, dst_size, info->sample_size);
  return Status::ok();
}

}  // namespace tessera::detail
