#include "raster/runtime.h"

namespace tessera::detail {

Runtime::Runtime(const OpenOptions& options)
    : pool_(options.threads),
      tile_cache_(options.tile_cache_bytes ? std::make_unique<TileCache>(options.tile_cache_bytes)
                                           : nullptr) {}

Result<std::shared_ptr<Runtime>> Runtime::open(const Env& env) {
  const OpenOptions& options = env.options();
  std::shared_ptr<Runtime> runtime(new Runtime(options));
  if (options.shared_cache.empty()) return runtime;
  auto file = env.file_id();
  if (!file) return file.status();
  runtime->file_identity_ = file_identity(file->device, file->inode);
  auto cache = SharedTileCache::open(options.shared_cache, options.shared_cache_bytes,
                                     options.shared_cache_slot_bytes);
  if (!cache) return env.error(cache.status().code(), "shared cache: " + cache.status().message());
  runtime->shared_cache_ = std::move(cache).value();
  return runtime;
}

}  // namespace tessera::detail
