// What a region shows, as a digest of its tile records (View::content_tag): chunks are keyed by
// their content, so the tile records a region touches name its pixels without reading them.
#pragma once

#include <string>

#include "raster/runtime.h"

namespace tessera::detail {

// 32 hex digits: XXH3-128 over the image's sample type, bands, tile size and fill, where the
// pixels come from (raster/reduced_read.h: the source level, the reductions and their rule),
// and for every tile of the source region (row by row) what frame sel.frame shows there
// (absent, one uniform pixel, or a chunk key). kInvalidArgument when the source region touches
// more than kMaxTaggedTiles tiles. The caller has checked the request; takes the transaction's
// LMDB mutex itself.
inline constexpr uint64_t kMaxTaggedTiles = uint64_t(1) << 20;
Result<std::string> content_tag(Txn& txn, const ImageInfo& image, const Region& region, const Selection& sel);

}  // namespace tessera::detail
