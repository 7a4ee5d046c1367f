#include "cache/tile_cache.h"

#include <cstring>

namespace tessera::detail {

size_t TileCache::KeyHash::operator()(const ChunkKey& k) const {
  uint64_t h;
  std::memcpy(&h, k.data() + 8, sizeof h);  // bytes 8..15: the low half of the XXH3-128
  return size_t(h ^ k[16]);
}

TileCache::TileCache(uint64_t capacity_bytes) : shard_capacity_(capacity_bytes / kShards) {}

TileCache::Tile TileCache::find(const ChunkKey& key) {
  Shard& shard = shard_of(key);
  std::shared_lock lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  it->second->referenced.store(true, std::memory_order_relaxed);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second->tile;
}

void TileCache::insert(const ChunkKey& key, Tile tile) {
  if (!tile || tile->size() > shard_capacity_) return;
  Shard& shard = shard_of(key);
  std::unique_lock lock(shard.mutex);
  if (shard.entries.count(key)) return;  // another thread decoded it too
  // CLOCK: sweep from the hand, giving referenced entries a second chance.
  while (shard.bytes + tile->size() > shard_capacity_ && !shard.clock.empty()) {
    if (shard.hand >= shard.clock.size()) shard.hand = 0;
    auto victim = shard.entries.find(shard.clock[shard.hand]);
    if (victim->second->referenced.exchange(false, std::memory_order_relaxed)) {
      ++shard.hand;
      continue;
    }
    shard.bytes -= victim->second->tile->size();
    shard.entries.erase(victim);
    shard.clock[shard.hand] = shard.clock.back();
    shard.clock.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  shard.bytes += tile->size();
  shard.clock.push_back(key);
  auto entry = std::make_unique<Entry>();
  entry->tile = std::move(tile);
  shard.entries.emplace(key, std::move(entry));
  inserts_.fetch_add(1, std::memory_order_relaxed);
}

TileCache::Stats TileCache::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.inserts = inserts_.load(std::memory_order_relaxed);
  s.evictions = evictions_.load(std::memory_order_relaxed);
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    s.bytes += shard.bytes;
    s.entries += shard.entries.size();
  }
  return s;
}

}  // namespace tessera::detail
