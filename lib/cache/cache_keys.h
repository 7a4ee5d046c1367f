// The keys decoded samples are cached under: the one place that says what a cache entry is
// the decoded form of, for the process cache (TileCache) and the shared-memory one.
//
//  - A whole decoded tile is cached under its chunk key: content never changes under a key,
//    so an entry is never stale and duplicate tiles anywhere share it.
//  - Block b of a chunk decoded alone (a band plane of a version 2 chunk) is cached under
//    block_cache_key(chunk, b, blocks): a 128-bit hash of the chunk key, the block count (the
//    same raw bytes cut another way are other blocks) and the index; it never meets a chunk key.
//  - The shared-memory cache serves every file of the host, so its keys also hash the file's
//    identity (device and inode): readers of one file share entries, other files never see them.
#pragma once

#include <cstdint>

#include "format/keys.h"

namespace tessera::detail {

ChunkKey block_cache_key(const ChunkKey& chunk, uint32_t block, uint32_t blocks);

// A hash of a file's device and inode, the seed of its shared-cache keys.
uint64_t file_identity(uint64_t device, uint64_t inode);
// The shared-cache key of `key` (a chunk key or a block_cache_key) in the file `identity`.
ChunkKey shared_cache_key(uint64_t identity, const ChunkKey& key);

}  // namespace tessera::detail
