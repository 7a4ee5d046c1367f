// Finds the TIFF levels OpenSlide would misread (io/openslide_tiff_defect.h) by looking at the
// file's pages with libtiff: the page of a level is the tiled page of its size and tile size.
// Looked at only when OpenSlide says the level is shorter than its tiles, so that the usual
// slide is never opened twice.
#include "io/openslide_tiff_defect.h"

#include <openslide.h>
#include <tiffio.h>

#include <cstdarg>
#include <memory>
#include <string>

namespace tessera::io_detail {
namespace {

// libtiff's complaints about a file are not ours to print: OpenSlide already read it.
int ignore_message(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffCloser {
  void operator()(TIFF* tif) const { TIFFClose(tif); }
};
struct OptionsFreer {
  void operator()(TIFFOpenOptions* options) const { TIFFOpenOptionsFree(options); }
};

// What OpenSlide's _openslide_tiff_level_init calls read_direct: tiles it decodes with libjpeg
// itself (Aperio's JPEG 2000 tiles, compressions 33003 and 33005, are decoded by OpenJPEG, also
// without libtiff's RGBA reader).
bool decoded_by_openslide(TIFF* tif) {
  uint16_t compression = 0, planar = 0, photometric = 0, bits = 0, samples = 0;
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  if (compression == 33003 || compression == 33005) return true;
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) return false;
  return compression == COMPRESSION_JPEG && planar == PLANARCONFIG_CONTIG &&
         (photometric == PHOTOMETRIC_RGB || photometric == PHOTOMETRIC_YCBCR) && bits == 8 &&
         samples == 3;
}

std::string compression_of(TIFF* tif) {
  uint16_t compression = 0;
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  const TIFFCodec* codec = TIFFFindCODEC(compression);
  return codec ? codec->name : "compression " + std::to_string(compression);
}

}  // namespace

Status check_tiff_level_misread(const std::string& path, int32_t level, int64_t width,
                                int64_t height, int64_t tile_width, int64_t tile_height) {
  if (tile_height <= height) return Status::ok();
  std::unique_ptr<TIFFOpenOptions, OptionsFreer> options(TIFFOpenOptionsAlloc());
  if (!options) return Status(Code::kNoSpace, path + ": no memory for libtiff's open options");
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), ignore_message, nullptr);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), ignore_message, nullptr);
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFOpenExt(path.c_str(), "r", options.get()));
  if (!tif) return Status::ok();  // not a TIFF: OpenSlide reads it without libtiff
  do {
    uint32_t w = 0, h = 0, tw = 0, th = 0;
    if (!TIFFIsTiled(tif.get()) || !TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &w) ||
        !TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &h) ||
        !TIFFGetField(tif.get(), TIFFTAG_TILEWIDTH, &tw) ||
        !TIFFGetField(tif.get(), TIFFTAG_TILELENGTH, &th))
      continue;
    if (w != width || h != height || tw != tile_width || th != tile_height) continue;
    if (decoded_by_openslide(tif.get())) continue;
    return Status(Code::kUnsupported,
                  path + ": level " + std::to_string(level) + " (" + std::to_string(width) + "x" +
                      std::to_string(height) + ", " + compression_of(tif.get()) + " tiles of " +
                      std::to_string(tile_width) + "x" + std::to_string(tile_height) +
                      ", TIFF page " + std::to_string(TIFFCurrentDirectory(tif.get())) +
                      ") is shorter than its tiles, which OpenSlide " + openslide_get_version() +
                      " reads shifted (through libtiff's RGBA reader): import the page as a TIFF");
  } while (TIFFReadDirectory(tif.get()));
  return Status::ok();
}

}  // namespace tessera::io_detail
