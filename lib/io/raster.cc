// The interfaces of tessera/io.h: their destructors live here, so their vtables and type
// information are emitted once, in libtessera-io.
#include <filesystem>

#include "tessera/io.h"

namespace tessera {

RasterSource::~RasterSource() = default;

std::string RasterSource::image_name() const {
  return std::filesystem::path(name()).stem().string();
}

RasterSink::~RasterSink() = default;

}  // namespace tessera
