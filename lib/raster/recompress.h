// Compression tiers (tessera/container.h: Container::recompress): the chunks that selected
// tiles show, encoded again with another codec or filter. A chunk is keyed by its content, so
// its new encoding serves every tile that shares it, selected or not (spec/FORMAT.md 5.4).
#pragma once

#include <vector>

#include "format/keys.h"
#include "raster/runtime.h"
#include "store/env.h"

namespace tessera::detail {

// The chunks the tiles of frames first..last (clamped to the image's), levels first..last
// (level 0 and the levels each frame has built) of `image` show, in the level's cover of
// `region` (level-0 coordinates; nullopt: everywhere): sorted, each once.
Result<std::vector<ChunkKey>> selected_chunks(const Txn& txn, const ImageInfo& image, uint32_t first_frame,
                                              uint32_t last_frame, uint32_t first_level, uint32_t last_level,
                                              const std::optional<Region>& region);

struct RecompressCounts {
  uint64_t done = 0;       // chunks looked at
  uint64_t rewritten = 0;  // chunks whose encoding changed
  uint64_t bytes_before = 0, bytes_after = 0;  // of every chunk looked at
};
// Encodes chunks[begin..] again with `codec` and `filter` (a version 1 chunk's delta to the
// sample `delta_distance` before: the image's bands), about `batch_bytes` raw bytes of
// them, on the worker pool; a chunk whose new encoding is the one it has is left alone (so a
// run again after an interruption skips what is done), and one no longer stored is skipped.
// Returns the index it stopped at.
Result<size_t> recompress_batch(Txn& txn, Runtime& runtime, const std::vector<ChunkKey>& chunks, size_t begin,
                                const CodecSpec& codec, Filter filter, uint32_t delta_distance,
                                uint64_t batch_bytes,
                                RecompressCounts& counts);

}  // namespace tessera::detail
