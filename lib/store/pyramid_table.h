// Pyramid records of frames in `meta` (spec/FORMAT.md 4.1, format 2.2): read, written, copied
// to an appended frame and renumbered when a frame is dropped. Nothing of pixels.
#pragma once

#include "format/pyramid_record.h"
#include "store/env.h"

namespace tessera::detail {

// The record of frame `frame`; a PyramidValue without levels or build when there is none.
Result<PyramidValue> read_pyramid(const Txn& txn, const ImageInfo& image, uint32_t frame);
// Writes the record (deletes it when it holds neither levels nor a build).
Status put_pyramid(Txn& txn, const ImageInfo& image, uint32_t frame, const PyramidValue& value);
// An appended frame `to` shows what frame `from` shows, levels included.
Status copy_pyramid(Txn& txn, const ImageInfo& image, uint32_t from, uint32_t to);
// Frame `frame` is dropped: its record goes, those of later frames move down by one.
Status drop_frame_pyramid(Txn& txn, const ImageInfo& image, uint32_t frame);

}  // namespace tessera::detail
