#include "format/chunk_codec.h"

#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "tessera_generated.h"
#include "util/xxhash.h"

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

template <size_t S> struct Word;
template <> struct Word<1> { using type = uint8_t; };
template <> struct Word<2> { using type = uint16_t; };
template <> struct Word<4> { using type = uint32_t; };
template <> struct Word<8> { using type = uint64_t; };
// Samples are little-endian whatever the host.
template <size_t S>
typename Word<S>::type load_sample(const uint8_t* p) {
  typename Word<S>::type v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, S);
  } else {
    for (size_t b = 0; b < S; ++b) v |= typename Word<S>::type(p[b]) << (8 * b);
  }
  return v;
}
template <size_t S>
void store_sample(uint8_t* p, typename Word<S>::type v) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, S);
  } else {
    for (size_t b = 0; b < S; ++b) p[b] = uint8_t(v >> (8 * b));
  }
}

// Shuffle: byte b of sample i goes to dst[b*n + i].
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
// Delta then shuffle in one pass: the differences need the unfiltered samples before them,
// which src still holds.
template <size_t S>
void delta_shuffle_fixed(const uint8_t* src, uint8_t* dst, size_t n, size_t distance) {
  using T = typename Word<S>::type;
  for (size_t i = 0; i < n; ++i) {
    T v = load_sample<S>(src + i * S);
    if (i >= distance) v = T(v - load_sample<S>(src + (i - distance) * S));
    for (size_t b = 0; b < S; ++b) dst[b * n + i] = uint8_t(v >> (8 * b));
  }
}
template <size_t S>
void add_run(uint8_t* __restrict out, const uint8_t* __restrict before, size_t count) {
  using T = typename Word<S>::type;
  for (size_t j = 0; j < count; ++j)
    store_sample<S>(out + j * S, T(load_sample<S>(out + j * S) + load_sample<S>(before + j * S)));
}
// The inverse: unshuffle, then add each sample's predecessor, in order (in place). With
// distance 1 the running sum stays in a register: a loop through memory would wait on the
// store of the sample before at every step.
template <size_t S>
void unshuffle_undelta_fixed(const uint8_t* src, uint8_t* dst, size_t n, size_t distance) {
  using T = typename Word<S>::type;
  if constexpr (S == 1) std::memcpy(dst, src, n);
  else unshuffle_fixed<S>(src, dst, n);
  if (distance == 1) {
    T sum = n ? load_sample<S>(dst) : T(0);
    for (size_t i = 1; i < n; ++i) {
      sum = T(sum + load_sample<S>(dst + i * S));
      store_sample<S>(dst + i * S, sum);
    }
    return;
  }
  // Otherwise a run of `distance` samples at a time from the run before it, which it does not
  // overlap: the compiler vectorizes the run.
  for (size_t i = distance; i < n; i += distance)
    add_run<S>(dst + i * S, dst + (i - distance) * S, std::min(distance, n - i));
}

template <bool kInverse, size_t S>
void filter_fixed(const uint8_t* src, uint8_t* dst, size_t n, Filter filter, size_t distance) {
  if (filter == Filter::kDelta)
    (kInverse ? unshuffle_undelta_fixed<S> : delta_shuffle_fixed<S>)(src, dst, n, distance);
  else if constexpr (S > 1)
    (kInverse ? unshuffle_fixed<S> : shuffle_fixed<S>)(src, dst, n);
}

template <bool kInverse>
void filter_any(const uint8_t* src, uint8_t* dst, size_t size, size_t s, Filter filter, uint32_t distance) {
  if (size == 0) return;  // memcpy of nullptr buffers is undefined even for 0 bytes
  if (!filter_applies(filter, s)) {
    std::memcpy(dst, src, size);
    return;
  }
  const size_t n = size / s;
  switch (s) {
    case 1: filter_fixed<kInverse, 1>(src, dst, n, filter, distance); break;
    case 2: filter_fixed<kInverse, 2>(src, dst, n, filter, distance); break;
    case 4: filter_fixed<kInverse, 4>(src, dst, n, filter, distance); break;
    case 8: filter_fixed<kInverse, 8>(src, dst, n, filter, distance); break;
  }
  std::memcpy(dst + n * s, src + n * s, size - n * s);
}

Status corrupt(std::string what) { return Status(Code::kCorrupt, std::move(what)); }

// The header's checksum covers its first 16 bytes and the payload (version 2: the block
// table, each block having its own checksum), so no single damaged byte of a chunk value (a
// flipped filter or codec included) can go unnoticed.
constexpr size_t kChecksummedHeaderBytes = 16;
uint64_t header_seed(const uint8_t* header) { return XXH3_64bits(header, kChecksummedHeaderBytes); }
uint64_t chunk_checksum(const uint8_t* header, const uint8_t* payload, size_t payload_size) {
  return XXH3_64bits_withSeed(payload, payload_size, header_seed(header));
}
// A version 2 block's checksum: seeded with its index too, so blocks cannot trade places.
uint64_t block_checksum(const uint8_t* header, uint32_t index, const uint8_t* block, size_t size) {
  return XXH3_64bits_withSeed(block, size, header_seed(header) + index);
}

size_t compress_bound(Codec codec, size_t raw_size) {
  if (codec == Codec::kLz4) return size_t(LZ4_compressBound(int(raw_size)));
  if (codec == Codec::kZstd) return ZSTD_compressBound(raw_size);
  return raw_size;
}

// Compresses `n` bytes (filtered first) into dst, which has room for compress_bound.
// Returns the stored size, or 0 when compression failed or did not shrink the bytes (the
// caller then stores them raw).
size_t compress_block(const uint8_t* in, size_t n, const ChunkEncoding& e, Filter filter, uint32_t distance,
                      uint8_t* dst) {
  const CodecSpec& codec = e.codec;
  if (codec.codec == Codec::kNone) return 0;
  if (filter != Filter::kNone) {
    scratch().resize(n);
    filter_bytes(in, scratch().data(), n, e.sample_size, filter, distance);
    in = scratch().data();
  }
  const size_t bound = compress_bound(codec.codec, n);
  size_t stored = 0;
  if (codec.codec == Codec::kLz4) {
    const int r = LZ4_compress_default(reinterpret_cast<const char*>(in), reinterpret_cast<char*>(dst),
                                       int(n), int(bound));
    stored = r > 0 ? size_t(r) : 0;
  } else {
    const size_t r = ZSTD_compressCCtx(zstd_contexts().c.get(), dst, bound, in, n,
                                       codec.level ? codec.level : ZSTD_CLEVEL_DEFAULT);
    stored = ZSTD_isError(r) ? 0 : r;
  }
  return stored < n ? stored : 0;
}

// Decodes `stored` bytes of one block into exactly `n` bytes at dst.
Status decode_block(const uint8_t* src, size_t stored, Codec codec, Filter filter, size_t sample_size,
                    uint32_t distance, uint8_t* dst, size_t n) {
  if (stored > size_t(INT32_MAX) || n > size_t(INT32_MAX))  // LZ4 takes int sizes
    return corrupt("chunk block of " + std::to_string(stored) + " stored bytes is too large");
  const bool filtered = filter != Filter::kNone;
  uint8_t* out = filtered ? (scratch().resize(n), scratch().data()) : dst;
  size_t produced = SIZE_MAX;
  switch (codec) {
    case Codec::kNone:
      if (stored == n) std::memcpy(out, src, n), produced = n;
      break;
    case Codec::kLz4: {
      const int r = LZ4_decompress_safe(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(out),
                                        int(stored), int(n));
      produced = r < 0 ? SIZE_MAX : size_t(r);
      break;
    }
    case Codec::kZstd: {
      const size_t r = ZSTD_decompressDCtx(zstd_contexts().d.get(), out, n, src, stored);
      produced = ZSTD_isError(r) ? SIZE_MAX : r;
      break;
    }
  }
  if (produced != n)
    return corrupt("chunk payload does not decode to its raw size of " + std::to_string(n) + " bytes");
  if (filtered) unfilter_bytes(out, dst, n, sample_size, filter, distance);
  return Status::ok();
}

}  // namespace

ContentHash content_hash(const uint8_t* raw, size_t size) {
  const XXH128_hash_t h = XXH3_128bits(raw, size);
  return ContentHash{h.high64, h.low64};
}

bool filter_applies(Filter filter, size_t sample_size) {
  const bool wide = sample_size == 2 || sample_size == 4 || sample_size == 8;
  return filter == Filter::kShuffle ? wide : filter == Filter::kDelta && (wide || sample_size == 1);
}

void filter_bytes(const uint8_t* src, uint8_t* dst, size_t size, size_t sample_size, Filter filter,
                  uint32_t distance) {
  filter_any</*kInverse=*/false>(src, dst, size, sample_size, filter, distance);
}

void unfilter_bytes(const uint8_t* src, uint8_t* dst, size_t size, size_t sample_size, Filter filter,
                    uint32_t distance) {
  filter_any</*kInverse=*/true>(src, dst, size, sample_size, filter, distance);
}

void encode_chunk(const uint8_t* raw, size_t raw_size, const ChunkEncoding& e, AlignedBuffer& out) {
  const CodecSpec& codec = e.codec;
  const size_t sample_size = e.sample_size;
  // Equal blocks only: anything else would make a chunk that readers refuse.
  uint32_t blocks = e.blocks;
  if (blocks < 2 || raw_size % blocks != 0) blocks = 1;
  // A filter needs a codec, and one whole sample at least (readers refuse a delta distance
  // past the samples there are).
  const Filter filter = codec.codec != Codec::kNone && filter_applies(e.filter, sample_size) &&
                                raw_size / blocks >= sample_size
                            ? e.filter
                            : Filter::kNone;
  // Version 2 blocks are band planes: the delta is to the sample before. Version 1 records
  // its distance, which readers require to lie within the tile.
  const uint32_t distance =
      filter != Filter::kDelta || blocks > 1
          ? 1
          : uint32_t(std::clamp<size_t>(e.delta_distance, 1, raw_size / sample_size));
  const size_t block_raw = raw_size / blocks;
  const size_t table_bytes = blocks > 1 ? kBlockEntrySize * blocks : 0;
  out.resize(kChunkHeaderSize + table_bytes + blocks * compress_bound(codec.codec, block_raw) + 1);
  uint8_t* payload = out.data() + kChunkHeaderSize;

  Codec used = codec.codec;
  Filter recorded = filter;
  size_t stored = table_bytes;
  for (uint32_t i = 0; i < blocks; ++i) {
    const uint8_t* in = raw + i * block_raw;
    size_t n = compress_block(in, block_raw, e, filter, distance, payload + stored);
    if (n == 0) {
      // Incompressible: stored raw, which also decodes fastest. A whole tile says so in the
      // header; a block by being stored at its raw size.
      n = block_raw;
      std::memcpy(payload + stored, in, n);
      if (blocks == 1) used = Codec::kNone, recorded = Filter::kNone;
    }
    if (blocks > 1) put_le32(payload + i * kBlockEntrySize, uint32_t(n));
    stored += n;
  }
  auto header = [&](uint64_t checksum) {
    const uint32_t word = blocks > 1 ? blocks : recorded == Filter::kDelta ? distance : 0;
    return fb::ChunkHeader(blocks > 1 ? kChunkVersionBlocked : kChunkVersionWhole, static_cast<fb::Codec>(used),
                           static_cast<fb::Filter>(recorded), uint8_t(sample_size), uint32_t(raw_size),
                           uint32_t(stored), word, checksum);
  };
  const fb::ChunkHeader unsummed = header(0);
  std::memcpy(out.data(), &unsummed, kChunkHeaderSize);
  uint64_t checksum = 0;
  if (blocks == 1) {
    checksum = chunk_checksum(out.data(), payload, stored);
  } else {
    // The block checksums' seed covers the header, which needed the total size first.
    size_t offset = table_bytes;
    for (uint32_t i = 0; i < blocks; ++i) {
      const uint32_t size = get_le32(payload + i * kBlockEntrySize);
      put_le64(payload + i * kBlockEntrySize + 4, block_checksum(out.data(), i, payload + offset, size));
      offset += size;
    }
    checksum = chunk_checksum(out.data(), payload, table_bytes);
  }
  const fb::ChunkHeader summed = header(checksum);
  std::memcpy(out.data(), &summed, kChunkHeaderSize);
  size_t total = kChunkHeaderSize + stored;
  // A value of exactly a multiple of the page size reuses free space badly in LMDB
  // (spec/FORMAT.md section 4.4.2): one pad byte avoids it.
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
  info.version = header.version();
  if (info.version != kChunkVersionWhole && info.version != kChunkVersionBlocked)
    return corrupt("chunk header version " + std::to_string(info.version) + " is not 1 or 2");
  const auto codec = static_cast<uint8_t>(header.codec());
  if (codec > static_cast<uint8_t>(fb::Codec::MAX))
    return corrupt("chunk codec " + std::to_string(codec) + " is unknown");
  const auto filter = static_cast<uint8_t>(header.filter());
  if (filter > static_cast<uint8_t>(fb::Filter::MAX))
    return corrupt("chunk filter " + std::to_string(filter) + " is unknown");
  info.codec = static_cast<Codec>(codec);
  info.filter = static_cast<Filter>(filter);
  info.sample_size = header.sample_size();
  if (info.filter != Filter::kNone && !filter_applies(info.filter, info.sample_size))
    return corrupt("chunk " + std::string(filter_name(info.filter)) + " filter with sample size " +
                   std::to_string(info.sample_size));
  info.raw_size = header.raw_size();
  if (info.raw_size == 0) return corrupt("chunk raw size is 0");
  info.stored_size = header.stored_size();
  info.checksum = header.checksum();
  if (info.version == kChunkVersionWhole && info.filter == Filter::kDelta) {
    info.delta_distance = header.blocks();
    if (info.delta_distance == 0 || info.delta_distance > info.raw_size / info.sample_size)
      return corrupt("chunk delta distance " + std::to_string(info.delta_distance) + " for " +
                     std::to_string(info.raw_size / info.sample_size) + " samples");
  } else if (info.version == kChunkVersionWhole) {
    info.reserved = header.blocks();
  } else {
    info.blocks = header.blocks();
    if (info.blocks < 2 || info.raw_size % info.blocks != 0)
      return corrupt("chunk of " + std::to_string(info.blocks) + " blocks for a raw size of " +
                     std::to_string(info.raw_size) + " (must be at least 2 equal blocks)");
    if (info.stored_size < uint64_t(kBlockEntrySize) * info.blocks)
      return corrupt("chunk payload of " + std::to_string(info.stored_size) +
                     " bytes is shorter than its table of " + std::to_string(info.blocks) + " blocks");
  }
  // Values of an exact multiple of 4096 bytes carry one zero pad byte, and only those.
  const uint64_t unpadded = kChunkHeaderSize + uint64_t(info.stored_size);
  const bool padded = unpadded % 4096 == 0;
  const uint64_t expected = unpadded + (padded ? 1 : 0);
  if (padded && value_size == expected && value[unpadded] != 0)
    return corrupt("chunk pad byte is not zero");
  if (value_size != expected)
    return corrupt("chunk value is " + std::to_string(value_size) + " bytes but its header says " +
                   std::to_string(expected));
  if (info.version == kChunkVersionWhole && info.codec == Codec::kNone &&
      info.stored_size != info.raw_size)
    return corrupt("uncompressed chunk stores " + std::to_string(info.stored_size) +
                   " bytes for a raw size of " + std::to_string(info.raw_size));
  return info;
}

Result<ChunkBlocks> ChunkBlocks::read(const uint8_t* value, const ChunkInfo& info) {
  ChunkBlocks blocks(value, info);
  blocks.offsets_.reserve(size_t(info.blocks) + 1);
  if (info.version == kChunkVersionWhole) {
    blocks.offsets_ = {uint32_t(kChunkHeaderSize), uint32_t(kChunkHeaderSize + info.stored_size)};
    return blocks;
  }
  const uint8_t* table = value + kChunkHeaderSize;
  const size_t table_bytes = kBlockEntrySize * info.blocks;
  if (chunk_checksum(value, table, table_bytes) != info.checksum)
    return corrupt("chunk block table checksum mismatch");
  uint64_t offset = kChunkHeaderSize + table_bytes;
  for (uint32_t i = 0; i < info.blocks; ++i) {
    const uint32_t stored = get_le32(table + i * kBlockEntrySize);
    if (stored == 0 || stored > info.block_raw_size() ||
        (info.codec == Codec::kNone && stored != info.block_raw_size()))
      return corrupt("chunk block " + std::to_string(i) + " stores " + std::to_string(stored) +
                     " bytes for a raw size of " + std::to_string(info.block_raw_size()));
    blocks.offsets_.push_back(uint32_t(offset));
    offset += stored;
    if (offset > kChunkHeaderSize + uint64_t(info.stored_size)) break;  // reported below
  }
  if (offset != kChunkHeaderSize + uint64_t(info.stored_size))
    return corrupt("chunk blocks add up to more or less than the " + std::to_string(info.stored_size) +
                   " payload bytes the header says");
  blocks.offsets_.push_back(uint32_t(offset));
  return blocks;
}

bool ChunkBlocks::stored_raw(uint32_t i) const {
  if (info_.version == kChunkVersionWhole) return info_.codec == Codec::kNone && info_.filter == Filter::kNone;
  return offsets_[i + 1] - offsets_[i] == info_.block_raw_size();
}

Status ChunkBlocks::check(uint32_t i) const {
  if (i >= count())
    return corrupt("chunk block " + std::to_string(i) + " of " + std::to_string(count()));
  // Version 1's one block is checked by the header's checksum, whose seed is block 0's.
  const uint64_t expected = info_.version == kChunkVersionWhole
                                ? info_.checksum
                                : get_le64(value_ + kChunkHeaderSize + i * kBlockEntrySize + 4);
  const uint8_t* block = value_ + offsets_[i];
  if (block_checksum(value_, i, block, offsets_[i + 1] - offsets_[i]) == expected) return Status::ok();
  return corrupt(info_.version == kChunkVersionWhole ? std::string("chunk checksum mismatch")
                                                     : "chunk block " + std::to_string(i) + " checksum mismatch");
}

Status ChunkBlocks::decode(uint32_t i, uint8_t* dst, size_t dst_size) const {
  TESSERA_RETURN_IF_ERROR(check(i));
  if (dst_size != info_.block_raw_size())
    return corrupt("chunk block of " + std::to_string(info_.block_raw_size()) +
                   " raw bytes does not fit a buffer of " + std::to_string(dst_size));
  // A version 2 block stored at its raw size is its raw bytes, unfiltered.
  const bool raw = info_.version == kChunkVersionBlocked && stored_raw(i);
  return decode_block(value_ + offsets_[i], offsets_[i + 1] - offsets_[i], raw ? Codec::kNone : info_.codec,
                      raw ? Filter::kNone : info_.filter, info_.sample_size, info_.delta_distance, dst, dst_size);
}

Status ChunkBlocks::decode_all(uint8_t* dst, size_t dst_size) const {
  if (dst_size != info_.raw_size)
    return corrupt("chunk raw size " + std::to_string(info_.raw_size) + " does not fit a buffer of " +
                   std::to_string(dst_size));
  const size_t n = info_.block_raw_size();
  for (uint32_t i = 0; i < count(); ++i) TESSERA_RETURN_IF_ERROR(decode(i, dst + i * n, n));
  return Status::ok();
}

Result<const uint8_t*> ChunkBlocks::raw(uint32_t i) const {
  TESSERA_RETURN_IF_ERROR(check(i));
  return stored_raw(i) ? value_ + offsets_[i] : nullptr;
}

Result<const uint8_t*> ChunkBlocks::raw_blocks(uint32_t first, uint32_t last) const {
  if (info_.codec != Codec::kNone || info_.filter != Filter::kNone) return nullptr;
  for (uint32_t i = first; i < last; ++i) TESSERA_RETURN_IF_ERROR(check(i));
  // Codec none: every block is exactly block_raw_size() bytes (parse and read() insist), so
  // block 0 begins the tile's bytes.
  return value_ + offsets_[0];
}

Result<ChunkBlocks> ChunkBlocks::open(const uint8_t* value, size_t value_size, size_t raw_size) {
  auto info = parse_chunk_header(value, value_size);
  if (!info) return info.status();
  if (info->raw_size != raw_size)
    return corrupt("chunk raw size " + std::to_string(info->raw_size) + " is not the tile size " +
                   std::to_string(raw_size));
  return read(value, *info);
}

Status check_chunk_checksums(const uint8_t* value, const ChunkInfo& info) {
  auto blocks = ChunkBlocks::read(value, info);
  if (!blocks) return blocks.status();
  for (uint32_t i = 0; i < blocks->count(); ++i) TESSERA_RETURN_IF_ERROR(blocks->check(i));
  return Status::ok();
}

Status decode_chunk(const uint8_t* value, size_t value_size, uint8_t* dst, size_t dst_size) {
  auto blocks = ChunkBlocks::open(value, value_size, dst_size);
  if (!blocks) return blocks.status();
  return blocks->decode_all(dst, dst_size);
}

}  // namespace tessera::detail
