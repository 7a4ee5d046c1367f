// Chunk values: the 24-byte ChunkHeader (format/tessera.fbs) followed by the payload, the
// tile's raw bytes after an optional filter and a codec. Decoding checks every length and
// the payload checksum before it trusts a byte, and never writes past the caller's buffer.
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
constexpr uint8_t kChunkVersion = 1;

struct ChunkInfo {
  Codec codec = Codec::kNone;
  bool shuffled = false;
  uint8_t sample_size = 1;
  uint32_t raw_size = 0;
  uint32_t stored_size = 0;
  uint64_t checksum = 0;  // XXH3-64 of the payload, seeded with XXH3-64 of header bytes 0..15
  uint32_t reserved = 0;  // must be 0; only verify insists (spec/FORMAT.md, CHUNK_HEADER_VALID)
};

// 128-bit content hash of raw tile bytes (XXH3-128, seed 0).
struct ContentHash {
  uint64_t hi = 0, lo = 0;
};
ContentHash content_hash(const uint8_t* raw, size_t size);

// Encodes `raw` (at least one byte: tiles are never empty) into a complete chunk value in
// `out` (replacing its contents). Falls back to
// codec none when compression does not shrink the tile. Shuffle applies only to samples of
// 2, 4 or 8 bytes.
void encode_chunk(const uint8_t* raw, size_t raw_size, size_t sample_size, const CodecSpec& codec,
                  bool shuffle, AlignedBuffer& out);

// Parses and checks the header of a chunk value (version, codec, filter, sizes against the
// value size). Does not touch the payload.
Result<ChunkInfo> parse_chunk_header(const uint8_t* value, size_t value_size);

// True when the header's checksum matches header bytes 0..15 and the payload; `info` comes
// from parse_chunk_header of the same value (so the payload lies within it).
bool chunk_checksum_matches(const uint8_t* value, const ChunkInfo& info);

// Decodes a chunk value into dst, which must be exactly the header's raw_size. Verifies the
// payload checksum first. Errors are kCorrupt with a message saying what failed; the caller
// adds the file, image and tile.
// (Verifies the checksum over header and payload before decoding anything.)
Status decode_chunk(const uint8_t* value, size_t value_size, uint8_t* dst, size_t dst_size);

// Byte shuffle (all first bytes of every sample, then all second bytes, ...) and its inverse.
void shuffle_bytes(const uint8_t* src, uint8_t* dst, size_t size, size_t sample_size);
void unshuffle_bytes(const uint8_t* src, uint8_t* dst, size_t size, size_t sample_size);

}  // namespace tessera::detail
