// The decoded-tile cache of one open container: decoded (raw) tile bytes under the keys of
// cache/cache_keys.h, so every tile with the same content, in any frame or image, shares one entry.
//
// Bounded in bytes (the entries' sizes; the map's own overhead is small beside them). Hits
// take only the reader side of one shard's lock (64 shards by key hash), so threads reading
// different tiles never wait for each other and readers of one shard only wait for an insert
// into it; eviction is CLOCK per shard (a hit sets a flag, nothing moves). An entry is an
// immutable buffer held by shared_ptr: a reader keeps using a tile that is evicted meanwhile.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "format/keys.h"
#include "util/bytes.h"

namespace tessera::detail {

class TileCache {
 public:
  using Tile = std::shared_ptr<const AlignedBuffer>;

  explicit TileCache(uint64_t capacity_bytes);

  // The cached tile, or nullptr.
  Tile find(const ChunkKey& key);
  // Caches `tile` (decoded bytes of chunk `key`), evicting others of its shard as needed.
  // Tiles larger than a shard's share of the capacity are not cached.
  void insert(const ChunkKey& key, Tile tile);

  struct Stats {
    uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, bytes = 0, entries = 0;
  };
  Stats stats() const;

 private:
  static constexpr size_t kShards = 64;
  struct KeyHash {
    size_t operator()(const ChunkKey& k) const;  // the key is a content hash already
  };
  struct Entry {
    Tile tile;
    // Set by a hit; a new entry starts unset, so a sweep evicts tiles read once before tiles
    // read again (a long scan does not flush the tiles in use).
    mutable std::atomic<bool> referenced{false};
  };
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<ChunkKey, std::unique_ptr<Entry>, KeyHash> entries;
    std::vector<ChunkKey> clock;  // the keys in insertion order, swept by `hand`
    size_t hand = 0;
    uint64_t bytes = 0;
  };
  Shard& shard_of(const ChunkKey& key) { return shards_[KeyHash{}(key) % kShards]; }

  const uint64_t shard_capacity_;
  Shard shards_[kShards];
  std::atomic<uint64_t> hits_{0}, misses_{0}, inserts_{0}, evictions_{0};
};

}  // namespace tessera::detail
