// Reads of pyramid levels a frame has not built (View::read_reduced): the level made on the fly
// from the finest level below it that the frame has, by the reduction a build uses
// (raster/downsample.h), so the pixels are those a build of the level would store.
#pragma once

#include "raster/request.h"
#include "raster/runtime.h"

namespace tessera::detail {

// Where `region` of level sel.level of frame sel.frame is read from: the finest level built at
// or below it, the reductions (0 when it is built itself), the rule they use and the region of
// the source level. kInvalidArgument when that region leaves the 64-bit space. Takes the
// transaction's LMDB mutex itself.
struct LevelSource {
  uint32_t level = 0;
  uint32_t reductions = 0;
  Resampling rule = Resampling::kMean;
  Region region;
};
Result<LevelSource> level_source(Txn& txn, const ImageInfo& image, const Region& region, const Selection& sel);

// Reads `region` of level sel.level of frame sel.frame into `dst`: from the level itself when
// it is built, else from the finest built level B below it (0 at worst), reducing 2 x 2 by the
// frame's rule (kMean when it has no pyramid) sel.level - B times, strip by strip: about
// 32 MiB of level B at a time. kInvalidArgument when that takes more than `max_reduction`
// reductions. Takes the transaction's LMDB mutex itself.
Status read_reduced(Txn& txn, Runtime& runtime, const ImageInfo& image, const Region& region,
                    const Selection& sel, uint32_t max_reduction, const CallerBuffer& dst);

}  // namespace tessera::detail
