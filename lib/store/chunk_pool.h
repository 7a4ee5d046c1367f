// The chunk pool: compressed tile payloads keyed by the content hash of their raw bytes,
// shared by every image and frame, with reference counts kept apart in "refs" so that
// counting never rewrites a payload. Dedup never merges different bytes: a hash hit is
// confirmed by the caller (raster/ decodes the stored chunk and compares: the pool knows nothing
// of pixels); a true collision takes the next collision index of the same hash.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "format/chunk_codec.h"
#include "format/keys.h"
#include "store/env.h"

namespace tessera::detail {

class ChunkPool {
 public:
  explicit ChunkPool(Txn& txn) : txn_(txn) {}

  // Whether the stored chunk `key` (its value, header + payload) holds exactly the raw bytes
  // being stored; an error when it cannot be decoded.
  using SameBytes = std::function<Result<bool>(const ChunkKey& key, std::span<const uint8_t> stored)>;
  // Stores a reference to a chunk of `raw_size` raw bytes whose hash is `hash` and whose
  // encoded value (header + payload) is `encoded`: adds a reference to a stored chunk of the
  // same hash and size that `same_bytes` confirms, else stores it.
  Result<ChunkKey> put_deduplicated(size_t raw_size, ContentHash hash, std::span<const uint8_t> encoded,
                                    const SameBytes& same_bytes);
  Status add_ref(const ChunkKey& key);
  // Drops a reference; the chunk and its count are deleted when none is left.
  Status release(const ChunkKey& key);
  // Replaces the stored value of chunk `key` with `encoded`, another encoding of the same raw
  // bytes (the caller decoded the old one and encoded it again): the key, which is the content
  // hash, and the reference count stay. kCorrupt when the chunk is missing.
  Status replace_encoding(const ChunkKey& key, std::span<const uint8_t> encoded);
  // The stored value (header + payload), pointing into the map. kCorrupt when missing.
  Result<MDB_val> get(const ChunkKey& key) const;
  // The count, checked against 'ref_checks' (2.3, 3.1); 0 when the chunk has none.
  Result<uint64_t> ref_count(const ChunkKey& key) const;
  // Writes the check of every count (upgrading a file to 2.3 or 3.1).
  Status add_checks();
  // Counts over the whole pool: one pass over chunks and refs together, in key order.
  Result<PoolStats> stats() const;

 private:
  Status set_ref_count(const ChunkKey& key, uint64_t count);  // and its check
  Status check_count(const ChunkKey& key, uint64_t count) const;
  // Stores a chunk value, making the file the format its filter needs.
  Status put_value(const ChunkKey& key, std::span<const uint8_t> encoded);
  Txn& txn_;
};

}  // namespace tessera::detail
