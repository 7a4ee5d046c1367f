#include "cache/cache_keys.h"

#include "util/xxhash.h"

namespace tessera::detail {

ChunkKey block_cache_key(const ChunkKey& chunk, uint32_t block, uint32_t blocks) {
  const uint64_t seed = (uint64_t(blocks) << 32) | block;  // blocks >= 2: never seed 0
  const XXH128_hash_t h = XXH3_128bits_withSeed(chunk.data(), chunk.size(), seed);
  return make_chunk_key(h.high64, h.low64, 0);
}

uint64_t file_identity(uint64_t device, uint64_t inode) {
  const uint64_t identity[2] = {device, inode};
  return XXH3_64bits(identity, sizeof identity);
}

ChunkKey shared_cache_key(uint64_t identity, const ChunkKey& key) {
  const XXH128_hash_t h = XXH3_128bits_withSeed(key.data(), key.size(), identity);
  return make_chunk_key(h.high64, h.low64, 0);
}

}  // namespace tessera::detail
