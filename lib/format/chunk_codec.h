// Chunk values: the 24-byte ChunkHeader (format/tessera.fbs) followed by the payload, the
// tile's raw bytes after an optional filter and a codec. Version 1 encodes the tile as one
// block; version 2 (planar tiles of several bands) encodes each band plane as its own block
// behind a table of block sizes and checksums, so one band is read without touching the
// others (spec/FORMAT.md section 4.4). Decoding checks every length and checksum before it
// trusts a byte, and never writes past the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/status.h"
#include "tessera/types.h"
#include "util/bytes.h"

namespace tessera::detail {

constexpr size_t kChunkHeaderSize = 24;
constexpr uint8_t kChunkVersionWhole = 1;   // one block: the whole tile
constexpr uint8_t kChunkVersionBlocked = 2; // `blocks` equal blocks, each encoded on its own
constexpr size_t kBlockEntrySize = 12;      // u32 stored size, u64 checksum

struct ChunkInfo {
  uint8_t version = kChunkVersionWhole;
  Codec codec = Codec::kNone;
  Filter filter = Filter::kNone;
  uint8_t sample_size = 1;
  uint32_t raw_size = 0;
  uint32_t stored_size = 0;
  // Version 1: XXH3-64 of the payload; version 2: of the block table; seeded with the
  // XXH3-64 of header bytes 0..15.
  uint64_t checksum = 0;
  uint32_t reserved = 0;  // version 1's bytes 12..15 without delta: must be 0; only verify insists
  uint32_t blocks = 1;    // version 2's bytes 12..15; 1 for version 1
  // The delta filter's distance in samples: version 1's bytes 12..15; 1 in version 2 (each
  // block is one band's plane).
  uint32_t delta_distance = 1;
  uint32_t block_raw_size() const { return raw_size / blocks; }
};

// 128-bit content hash of raw tile bytes (XXH3-128, seed 0).
struct ContentHash {
  uint64_t hi = 0, lo = 0;
};
ContentHash content_hash(const uint8_t* raw, size_t size);

// How a tile is encoded.
struct ChunkEncoding {
  CodecSpec codec;
  Filter filter = Filter::kNone;  // applied only with a codec, shuffle only to samples of 2, 4, 8 bytes
  size_t sample_size = 1;
  uint32_t blocks = 1;            // version 2 with this many equal blocks when at least 2
  uint32_t delta_distance = 1;    // version 1: samples per pixel of a chunky tile (its bands)
};

// Encodes `raw` (at least one byte: tiles are never empty) into a complete chunk value in
// `out` (replacing its contents): version 1 when `blocks` is 1 or does not divide raw_size,
// else version 2. A block (or the tile) that compression does not shrink is stored raw.
void encode_chunk(const uint8_t* raw, size_t raw_size, const ChunkEncoding& encoding, AlignedBuffer& out);

// Parses and checks the header of a chunk value (version, codec, filter, sizes against the
// value size). Does not touch the payload.
Result<ChunkInfo> parse_chunk_header(const uint8_t* value, size_t value_size);

// The blocks of a chunk value, located once: a version 1 chunk is one block (the payload,
// whose checksum is the header's); a version 2 chunk's block table is checked here in one
// pass (its checksum, and entries that are sane and add up to the payload). Each block's own
// checksum is verified when the block is used. Holds pointers into the value.
class ChunkBlocks {
 public:
  // `info` comes from parse_chunk_header of the same value.
  static Result<ChunkBlocks> read(const uint8_t* value, const ChunkInfo& info);
  // parse_chunk_header, a check that the value holds exactly `raw_size` raw bytes (a tile of
  // the image reading it), then read().
  static Result<ChunkBlocks> open(const uint8_t* value, size_t value_size, size_t raw_size);

  const ChunkInfo& info() const { return info_; }
  uint32_t count() const { return info_.blocks; }
  // Verifies block i's checksum.
  Status check(uint32_t i) const;
  // Decodes block i (after checking it) into dst, exactly info().block_raw_size() bytes.
  Status decode(uint32_t i, uint8_t* dst, size_t dst_size) const;
  // Decodes every block (after checking each) into dst, exactly info().raw_size bytes.
  Status decode_all(uint8_t* dst, size_t dst_size) const;
  // Block i as it lies in the value when it is stored raw and unfiltered (codec none, or an
  // incompressible block): its decoded bytes, after checking it. nullptr when it must be
  // decoded. The caller checks that raw_size is what it expects before reading that far.
  Result<const uint8_t*> raw(uint32_t i) const;
  // The raw tile where it lies in the value, for a chunk of codec none (every block stored raw,
  // back to back), after checking blocks [first, last) alone: only their bytes may be read.
  // nullptr for any other codec.
  Result<const uint8_t*> raw_blocks(uint32_t first, uint32_t last) const;

 private:
  ChunkBlocks(const uint8_t* value, const ChunkInfo& info) : value_(value), info_(info) {}
  bool stored_raw(uint32_t i) const;
  const uint8_t* value_;
  ChunkInfo info_;
  std::vector<uint32_t> offsets_;  // count() + 1 offsets from the start of the value
};

// Every checksum of the value (the header's, and each block's). kCorrupt says which failed.
Status check_chunk_checksums(const uint8_t* value, const ChunkInfo& info);

// Decodes a chunk value into dst, which must be exactly the header's raw_size. Verifies
// every checksum it relies on before decoding. Errors are kCorrupt with a message saying what
// failed; the caller adds the file, image and tile.
Status decode_chunk(const uint8_t* value, size_t value_size, uint8_t* dst, size_t dst_size);

// True when `filter` changes samples of `sample_size` bytes (shuffle: 2, 4 or 8; delta: 1,
// 2, 4 or 8); writers record only such filters, and readers refuse any other.
bool filter_applies(Filter filter, size_t sample_size);
// The filter of spec/FORMAT.md 4.4.3 over `size` bytes of samples of `sample_size` bytes, and
// its inverse (src and dst do not overlap). Shuffle: all first bytes of every sample, then all
// second bytes, ...; delta: each sample minus the one `distance` samples before it, then the
// shuffle. Trailing bytes that make no whole sample are copied.
void filter_bytes(const uint8_t* src, uint8_t* dst, size_t size, size_t sample_size, Filter filter,
                  uint32_t distance);
void unfilter_bytes(const uint8_t* src, uint8_t* dst, size_t size, size_t sample_size, Filter filter,
                    uint32_t distance);

}  // namespace tessera::detail
