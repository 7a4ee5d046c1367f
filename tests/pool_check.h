// pool_check.h — recounts chunk references from the raw databases of a closed container file
// and compares them with the `refs` and `chunks` databases (spec invariants CHUNK_EXISTS,
// CHUNK_REFERENCED, REFCOUNT_HAS_CHUNK, REFCOUNT_MATCHES), independently of the library.
#pragma once

#include <map>
#include <string>

#include "tessera_generated.h"
#include "test_util.h"

namespace tessera::test {

// "" when every count matches, else a description of the first difference.
inline std::string check_chunk_references(const std::string& file) {
  std::vector<std::pair<std::string, std::string>> tiles, chunks, refs;
  std::string error;
  if (!lmdb_entries(file, "tiles", &tiles, &error) || !lmdb_entries(file, "chunks", &chunks, &error) ||
      !lmdb_entries(file, "refs", &refs, &error))
    return error;
  std::map<std::string, uint64_t> counted;
  for (const auto& [key, value] : tiles) {
    // Copy into aligned memory: LMDB values are only 2-byte aligned.
    std::vector<uint64_t> aligned(value.size() / 8 + 1);
    std::memcpy(aligned.data(), value.data(), value.size());
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(aligned.data()), value.size());
    if (!verifier.VerifyBuffer<fb::TileRecord>(nullptr)) return "a tile record fails the Verifier";
    const auto* record = flatbuffers::GetRoot<fb::TileRecord>(aligned.data());
    if (record->kind() == fb::TileKind::chunk && record->chunk())
      ++counted[std::string(reinterpret_cast<const char*>(record->chunk()->data()), record->chunk()->size())];
  }
  std::map<std::string, uint64_t> stored;
  for (const auto& [key, value] : refs) {
    if (value.size() != 8) return "a reference count is not 8 bytes";
    uint64_t count = 0;
    std::memcpy(&count, value.data(), 8);
    stored[key] = count;
  }
  if (stored != counted)
    return "refs holds " + std::to_string(stored.size()) + " counts, tile records reference " +
           std::to_string(counted.size()) + " chunks, and they differ";
  if (chunks.size() != counted.size())
    return std::to_string(chunks.size()) + " chunks stored but " + std::to_string(counted.size()) +
           " referenced";
  for (const auto& [key, value] : chunks)
    if (!counted.count(key)) return "a stored chunk is not referenced";
  return "";
}

}  // namespace tessera::test
