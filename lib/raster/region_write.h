// Writing a region: read-modify-write of partly covered tiles (fetched through
// raster/tile_fetch.h), uniform and fill detection, hashing and compression on the worker
// pool, one thread applying the results to the LMDB write transaction: dedup through the chunk
// pool, the versions later frames inherit, macro blocks collapsed, geometry kept up to date.
#pragma once

#include "raster/request.h"
#include "raster/runtime.h"
#include "store/env.h"

namespace tessera::detail {

// `image` is updated (frames) when the write appends a frame. `changed`, when given, gets the
// tiles whose content changed. A write of a pyramid level (sel.level > 0: the pyramid's own,
// raster/pyramid.h) leaves the geometry caches, which describe level 0, alone and never
// appends a frame; the level is not checked (request.h: check_level).
Status write_region(Txn& txn, Runtime& runtime, ImageInfo& image, const Region& region,
                    const Selection& sel, const CallerBuffer& src,
                    std::vector<TileCoord>* changed = nullptr);

}  // namespace tessera::detail
