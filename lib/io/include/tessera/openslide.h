// tessera/openslide.h — whole-slide images (Aperio SVS, Hamamatsu NDPI, MIRAX, Leica SCN,
// Ventana, generic tiled TIFF) through OpenSlide (libtessera-io, target Tessera::io).
//
// A level of a slide is a RasterSource read a block at a time (openslide_read_region: memory
// is the block's, plus OpenSlide's own tile cache of 32 MiB a slide); an associated image is
// a RasterSource read whole when it is opened (at most 64 MiB of ARGB). Both give 4 bands of u8,
// R, G, B, A, with OpenSlide's premultiplied ARGB undone: alpha 255 copied, alpha 0 read as
// 0,0,0,0, other alphas divided back with rounding — so partially transparent pixels cannot
// round-trip exactly. Sources are used from one thread at a time (as import_raster does).
//
// Errors. A file OpenSlide does not recognise, or fails to open, is kUnsupported naming the
// file and OpenSlide's reason (it gives none for a file it does not recognise). A read OpenSlide
// fails (a damaged tile) is kCorrupt naming the file, level, block and OpenSlide's message; the
// handle is then unusable (OpenSlide's error state is terminal), so every later read of that
// source fails with the same status: open the slide again to retry.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/container.h"
#include "tessera/io.h"

namespace tessera {

// True when OpenSlide recognises `path` as a slide (openslide_detect_vendor). Every tiled TIFF
// is one (vendor "generic-tiff"): a caller that also has a TIFF importer looks at the vendor
// (list_slide) before it prefers OpenSlide for a TIFF.
TESSERA_API bool looks_like_slide(const std::string& path);

// What a slide holds besides its levels: the associated images ("label", "macro",
// "thumbnail", ...), each a small raster.
struct SlideContents {
  std::string vendor;                   // as OpenSlide names it, e.g. "aperio", "generic-tiff"
  std::vector<RasterShape> levels;      // level 0 first
  std::vector<std::string> associated;  // names of the associated images, sorted
};
// kUnsupported naming the file and OpenSlide's message when OpenSlide refuses it; kNotFound
// (and the other codes of opening a file) when the file cannot be opened at all.
TESSERA_API Result<SlideContents> list_slide(const std::string& path);

// Level `level` of slide `path` as a RasterSource of 4 bands of u8 (R, G, B, A, alpha not
// premultiplied: OpenSlide's premultiplied ARGB undone exactly where alpha is 0 or 255).
// Its attributes are every property of the slide under OpenSlide's own names (openslide.*,
// and the vendor's, e.g. aperio.MPP, tiff.ImageDescription), all as text, the way OpenSlide
// gives them (a vendor's "0.4990" stays that); they describe level 0 whichever level is read.
// A property whose name cannot be an attribute name (check_attribute_name) is left out.
// image_name(): the base name without its extension ("slide.svs" gives "slide"); description():
// e.g. "OpenSlide aperio level 0 3000x2000 RGBA u8".
//
// A level above 0 is read at the level-0 coordinates nearest its block's (OpenSlide addresses
// every level in level-0 pixels): exact when the level's downsample is an integer, resampled
// by OpenSlide by a fraction of a pixel otherwise.
// Errors: kInvalidArgument for a level the slide does not have; kUnsupported, naming it, for a
// TIFF level OpenSlide 3.4.1 would read wrong without saying so (shorter than its tiles, and
// not the 8-bit RGB JPEG OpenSlide decodes itself: libtiff's RGBA reader, which OpenSlide uses
// for the others, shifts such a level down).
TESSERA_API Result<std::unique_ptr<RasterSource>> open_slide_source(const std::string& path,
                                                                    uint32_t level = 0);
// Associated image `name` of slide `path` as a RasterSource (4 bands of u8, as above), without
// attributes (the slide's properties describe its levels). image_name(): the slide's image
// name + "." + name, e.g. "slide.label". kNotFound naming the images the slide has when it has
// no `name`; kUnsupported for one larger than 64 MiB of ARGB.
TESSERA_API Result<std::unique_ptr<RasterSource>> open_slide_associated(const std::string& path,
                                                                        const std::string& name);

}  // namespace tessera
