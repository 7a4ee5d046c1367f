// A defect of OpenSlide 3.4.1 with libtiff 4.5 (as Debian 12 ships them) that would otherwise
// give wrong pixels without an error: which TIFF levels it misreads, so that the slide source
// refuses them.
#pragma once

#include <cstdint>
#include <string>

#include "tessera/status.h"

namespace tessera::io_detail {

// OpenSlide decodes the tiles of a TIFF level itself only when they are 8-bit, 3-sample,
// contiguous JPEG (RGB or YCbCr); any other tile goes through libtiff's TIFFRGBAImageGet for a
// whole tile, which for a level shorter than its tiles puts the level's rows at the bottom of
// the tile and leaves the rows above them unwritten (OpenSlide paints the tile as it is: pixels
// shifted down, uninitialised memory above them). Levels at least as tall as their tiles, and
// narrow ones, read right. kUnsupported, naming the file, level and layout, when level
// `level` of `path` (width x height in tiles of tile_width x tile_height, as OpenSlide reports
// it) is such a level; OK otherwise, and for files that are not TIFF.
Status check_tiff_level_misread(const std::string& path, int32_t level, int64_t width,
                                int64_t height, int64_t tile_width, int64_t tile_height);

}  // namespace tessera::io_detail
