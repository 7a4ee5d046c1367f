// Frames of an image (spec/FORMAT.md section 5.2): appending one (free: it shows what the
// previous frame shows until written), listing what each frame's own records cost, and
// dropping one (later frames move down by one number and show exactly what they showed).
#pragma once

#include <vector>

#include "raster/tile_index.h"

namespace tessera::detail {

// Adds frame `image.frames` as a copy of the last frame: O(1), no tile record is written.
Status append_frame(Txn& txn, ImageInfo& image);

// Each frame's own records and stored bytes, from one scan of the image's tile index.
Result<std::vector<FrameInfo>> list_frames(const Txn& txn, const ImageInfo& image);

// Removes frame `frame`: its records go (their chunk references released) unless the next
// frame inherited them, and every later frame's records are renumbered down by one.
// Cost: one pass over the image's tile index, rewriting the records of later frames.
Status drop_frame(Txn& txn, ImageInfo& image, uint32_t frame);

}  // namespace tessera::detail
