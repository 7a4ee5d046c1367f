// verify --deep, after the record checks found the file sound: every tile of every built
// pyramid level equals the reduction of the level below by its frame's rule
// (LEVEL_TILE_DOWNSAMPLE). Unlike the record checks this reads pixels through the library's own
// read path (raster/): what it checks is the levels' content, not their bytes.
#pragma once

#include <string>

#include "store/faults.h"

namespace tessera::detail {

Status check_pyramid_levels(const std::string& path, FaultSink& sink, VerifyReport& report);

}  // namespace tessera::detail
