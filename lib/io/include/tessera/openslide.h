// tessera/openslide.h — whole-slide images (Aperio SVS, Hamamatsu NDPI, MIRAX, Leica SCN,
// Ventana, generic tiled TIFF) through OpenSlide (libtessera-io, target Tessera::io).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/container.h"
#include "tessera/io.h"

namespace tessera {

// True when OpenSlide recognises `path` as a slide (openslide_detect_vendor).
TESSERA_API bool looks_like_slide(const std::string& path);

// What a slide holds besides its levels: the associated images ("label", "macro",
// "thumbnail", ...), each a small raster.
struct SlideContents {
  std::string vendor;                   // as OpenSlide names it, e.g. "aperio", "generic-tiff"
  std::vector<RasterShape> levels;      // level 0 first
  std::vector<std::string> associated;  // names of the associated images
};
// kUnsupported naming the file and OpenSlide's message when OpenSlide refuses it.
TESSERA_API Result<SlideContents> list_slide(const std::string& path);

// Level `level` of slide `path` as a RasterSource of 4 bands of u8 (R, G, B, A, alpha not
// premultiplied: OpenSlide's premultiplied ARGB undone exactly where alpha is 0 or 255).
// Its attributes are every property of the slide under OpenSlide's own names (openslide.*,
// and the vendor's, e.g. aperio.MPP, tiff.ImageDescription). image_name(): the base name.
TESSERA_API Result<std::unique_ptr<RasterSource>> open_slide_source(const std::string& path,
                                                                    uint32_t level = 0);
// Associated image `name` of slide `path` as a RasterSource (4 bands of u8, as above).
// image_name(): the slide's base name + "." + name, e.g. "slide.label".
TESSERA_API Result<std::unique_ptr<RasterSource>> open_slide_associated(const std::string& path,
                                                                        const std::string& name);

}  // namespace tessera
