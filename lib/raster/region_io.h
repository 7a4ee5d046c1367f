// Reading and writing regions: the read path (seek each touched tile, decode on the pool,
// copy the covered part into the caller's buffer) and the write path (read-modify-write of
// partly covered tiles, uniform and fill detection, hashing and compression on the pool, one
// thread applying the results to the LMDB write transaction).
#pragma once

#include <cstdint>

#include "store/env.h"
#include "tessera/types.h"

namespace tessera::detail {

// The caller's side of a transfer: a buffer, its size, its strides.
struct CallerBuffer {
  uint8_t* data;
  size_t size;
  Strides strides;
};

Status read_region(Txn& txn, const ImageInfo& image, const Region& region, const Selection& sel,
                   const CallerBuffer& dst);

// `image` is updated (frames) when the write appends a frame.
Status write_region(Txn& txn, ImageInfo& image, const Region& region, const Selection& sel,
                    const CallerBuffer& src);

// Checks region, level and bands of a selection of `image` (in container `path`); returns
// the band list (sel.bands, or every band in order).
Result<std::vector<uint32_t>> selected_bands(const std::string& path, const ImageInfo& image,
                                             const Region& region, const Selection& sel);
// kNotFound unless frame `frame` of `image` exists.
Status frame_exists(const std::string& path, const ImageInfo& image, uint32_t frame);

}  // namespace tessera::detail
