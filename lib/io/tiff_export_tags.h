// The tags a TIFF export writes from the attributes of the exported frame (tessera/tiff.h):
// which tags, with which values, shifted to the output's place. No libtiff here: the sink
// sets what this returns (write_tiff_tag), so the choice can be checked before any file exists.
#pragma once

#include <cstdint>
#include <vector>

#include "io/tiff_tags.h"
#include "tessera/attributes.h"
#include "tessera/io.h"
#include "tessera/status.h"

namespace tessera::io_detail {

struct ExportTag {
  const KeptTag* tag;
  AttributeValue value;
};

// Every tiff.* attribute of `metadata` as its kept tag, and from other formats what a TIFF
// has a tag for (tessera/tiff.h lists both), in tag order. Coordinates move with the output's
// place (metadata.x, metadata.y): ModelTiepoint's raster points (I, J) become (I - x, J - y);
// ModelTransformation's translation column becomes M * (x, y, 0, 1), so the output's pixel
// (0,0) maps where the grid's pixel (x, y) did. XPosition and YPosition are in resolution
// units, not pixels of the grid: they stay.
// kInvalidArgument naming the attribute: a tiff.* name of no kept tag, or a value that cannot
// be shifted (tiepoints not in sixes, a transformation of other than 16 reals). Whether a
// value has the tag's type is write_tiff_tag's to say.
Result<std::vector<ExportTag>> tiff_export_tags(const RasterMetadata& metadata);

}  // namespace tessera::io_detail
