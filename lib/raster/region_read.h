// Reading a region: look up each touched tile on the calling thread, fetch the chunk tiles on
// the worker pool (raster/tile_fetch.h), copy the covered part into the caller's buffer.
#pragma once

#include "raster/request.h"
#include "raster/runtime.h"
#include "store/env.h"

namespace tessera::detail {

Status read_region(Txn& txn, Runtime& runtime, const ImageInfo& image, const Region& region,
                   const Selection& sel, const CallerBuffer& dst);

}  // namespace tessera::detail
