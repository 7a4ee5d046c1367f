// tile_pattern.h — tiles whose bytes follow from their key, for the shared cache tests
// (shared_cache_test.cc and the child process cache/child.cc): a hit with a byte of another
// tile, of a half-written tile or of nothing is always detected.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "format/keys.h"

namespace tessera::test::tile_pattern {

inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Tile `id`'s key: a hash-like first half, the id itself, and a collision byte from the id.
inline detail::ChunkKey key_for(uint64_t id) {
  detail::ChunkKey key{};
  const uint64_t h = mix(id);
  std::memcpy(key.data(), &h, 8);
  std::memcpy(key.data() + 8, &id, 8);
  key[16] = uint8_t(id % 3);
  return key;
}

// Tile `id`'s size: between max/2 and max, a multiple of 8.
inline size_t size_for(uint64_t id, size_t max) {
  return (max / 2 + mix(id ^ 0x5a5a) % (max / 2 + 1)) / 8 * 8;
}

inline void fill(uint64_t id, uint8_t* out, size_t size) {
  const uint64_t seed = mix(id ^ 0xabcdef);
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t word = (seed + i) * 0x9e3779b97f4a7c15ull;
    std::memcpy(out + i, &word, 8);
  }
}

inline std::vector<uint8_t> tile(uint64_t id, size_t max) {
  std::vector<uint8_t> bytes(size_for(id, max));
  fill(id, bytes.data(), bytes.size());
  return bytes;
}

// True if `bytes` are tile `id`'s.
inline bool matches(uint64_t id, const uint8_t* bytes, size_t size) {
  const uint64_t seed = mix(id ^ 0xabcdef);
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    if (word != (seed + i) * 0x9e3779b97f4a7c15ull) return false;
  }
  return true;
}

}  // namespace tessera::test::tile_pattern
