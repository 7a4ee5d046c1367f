// Merging: the tiles another container (a shard a worker wrote) holds, adopted into an image
// of this one as they are encoded, so the work of compressing them stays where it was done.
#pragma once

#include <vector>

#include "raster/runtime.h"
#include "store/env.h"

namespace tessera::detail {

// Writes every tile that frame `source_frame` of `source_image` (read through `source`, a
// snapshot of another container) shows at level 0 into frame `frame` of `image`, at the same
// tile coordinates: uniform tiles as they are, chunks with their stored encoding (each decoded
// once, every checksum and its content hash checked, and deduplicated like any write). Tiles
// the source does not show are left as they are. The images must have the same sample type,
// bands, tile size, storage layout and fill (kInvalidArgument naming the first difference).
// `changed` gets the tiles whose content changed.
Status merge_tiles(Txn& txn, Runtime& runtime, ImageInfo& image, uint32_t frame, const Txn& source,
                   const ImageInfo& source_image, uint32_t source_frame, std::vector<TileCoord>* changed);

}  // namespace tessera::detail
