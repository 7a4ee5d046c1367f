// The chunk pool: compressed tile payloads keyed by the content hash of their raw bytes,
// shared by every image and frame, with reference counts kept apart in "refs" so that
// counting never rewrites a payload. Dedup never merges different bytes: a hash hit is
// confirmed by decoding the stored chunk and comparing; a true collision takes the next
// collision index of the same hash.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "format/chunk_codec.h"
#include "format/keys.h"
#include "store/env.h"

namespace tessera::detail {

class ChunkPool {
 public:
  explicit ChunkPool(Txn& txn) : txn_(txn) {}

  // Stores a reference to a chunk holding exactly `raw`, whose hash is `hash` and whose
  // encoded value (header + payload) is `encoded`; adds a reference when it already exists.
  Result<ChunkKey> put_deduplicated(std::span<const uint8_t> raw, ContentHash hash,
                                    std::span<const uint8_t> encoded);
  Status add_ref(const ChunkKey& key);
  // Drops a reference; the chunk and its count are deleted when none is left.
  Status release(const ChunkKey& key);
  // The stored value (header + payload), pointing into the map. kCorrupt when missing.
  Result<MDB_val> get(const ChunkKey& key) const;
  Result<uint64_t> ref_count(const ChunkKey& key) const;
  // Counts over the whole pool: one pass over chunks and refs together, in key order.
  Result<PoolStats> stats() const;

 private:
  Status set_ref_count(const ChunkKey& key, uint64_t count);
  Txn& txn_;
};

}  // namespace tessera::detail
