// What reads and writes run on, apart from the file: the worker pool that decodes and encodes
// tiles and the caches of decoded tiles. One Runtime per open Container, shared by every
// snapshot and transaction of it; store/ (the file and its transactions) knows none of this.
#pragma once

#include <memory>

#include "cache/cache_keys.h"
#include "cache/shared_tile_cache.h"
#include "cache/tile_cache.h"
#include "store/env.h"
#include "util/worker_pool.h"

namespace tessera::detail {

class Runtime {
 public:
  // The pool and caches `env`'s options ask for (threads, tile_cache_bytes, shared_cache).
  static Result<std::shared_ptr<Runtime>> open(const Env& env);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  WorkerPool& pool() { return pool_; }
  // The process cache, or nullptr when OpenOptions::tile_cache_bytes is 0.
  TileCache* tile_cache() { return tile_cache_.get(); }
  // The shared-memory cache, or nullptr when OpenOptions::shared_cache is empty.
  SharedTileCache* shared_cache() { return shared_cache_.get(); }
  // `key`'s key in the shared cache: this file's own (cache/cache_keys.h).
  ChunkKey shared_key(const ChunkKey& key) const { return shared_cache_key(file_identity_, key); }

 private:
  explicit Runtime(const OpenOptions& options);

  WorkerPool pool_;
  std::unique_ptr<TileCache> tile_cache_;
  std::unique_ptr<SharedTileCache> shared_cache_;
  uint64_t file_identity_ = 0;
};

}  // namespace tessera::detail
