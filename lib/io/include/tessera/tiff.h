// tessera/tiff.h — TIFF and BigTIFF import and export through libtiff (libtessera-io, target
// Tessera::io).
//
// A page of a TIFF file is a RasterSource; a tiled TIFF is a RasterSink. Both stream: a page
// is read a tile or a strip at a time (never the whole image), an export is written a tile
// row at a time.
//
// Attributes. A page's tags that describe its pixels beyond their layout are kept as
// attributes named "tiff." + the tag's name as the TIFF and GeoTIFF specifications spell it:
//   tiff.ImageDescription, tiff.Software, tiff.DateTime, tiff.Artist, tiff.HostComputer,
//   tiff.Copyright, tiff.DocumentName, tiff.PageName, tiff.Make, tiff.Model (text)
//   tiff.XResolution, tiff.YResolution (real), tiff.ResolutionUnit (integer: 1 none, 2 inch,
//   3 centimetre), tiff.XPosition, tiff.YPosition (real)
//   tiff.ModelPixelScale, tiff.ModelTiepoint, tiff.ModelTransformation (real list)
//   tiff.GeoKeyDirectory (integer list), tiff.GeoDoubleParams (real list),
//   tiff.GeoAsciiParams (text)
//   tiff.GDAL_NODATA, tiff.GDAL_METADATA (text)
// Coordinates in them (ModelTiepoint's raster points, ModelTransformation's translation, the
// positions) refer to the page's pixel grid; an export shifts them to the region it writes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/container.h"
#include "tessera/io.h"

namespace tessera {

// What a TIFF file holds: one entry per page (top-level IFD, in file order).
struct TiffPage {
  uint32_t index = 0;           // the page's position among the top-level IFDs (0-based)
  // The samples as stored: a palette page is 1 band of indexes (3 bands of u16 once
  // imported with expand_palette), JPEG-compressed YCbCr is 3 bands of u8 (RGB once decoded).
  // For a page Tessera cannot import, its size and samples per pixel, and u8.
  RasterShape shape;
  bool tiled = false;
  bool reduced = false;         // NewSubfileType says reduced resolution (an overview)
  bool mask = false;            // NewSubfileType says transparency mask
  uint32_t subifds = 0;         // SubIFDs below it (reduced resolutions, by convention)
  std::string compression;      // "none", "lzw", "deflate", "zstd", "jpeg", ...
  // Empty when Tessera can import the page; otherwise why not, e.g. "12-bit samples are not
  // supported" or "a palette image: import with --expand-palette" (what open_tiff_source's
  // kUnsupported says after "FILE: page N: ").
  std::string unsupported;
};

struct TiffSourceOptions {
  // A palette (colour-mapped) page reads as 3 bands of its colour map's type (u16) instead
  // of being refused.
  bool expand_palette = false;
};

// The pages of `path`. kInvalidArgument naming the file when it is not a TIFF (no TIFF or
// BigTIFF signature); kCorrupt naming the file, the page and libtiff's reasons when libtiff
// cannot read a page's directory (a truncated file, a broken IFD offset), as open_tiff_source
// reports damage. A page whose layout libtiff refuses to represent (samples of different
// depths) is listed, with `unsupported` saying so.
TESSERA_API Result<std::vector<TiffPage>> list_tiff_pages(const std::string& path);
// True when `path` starts with a TIFF or BigTIFF signature (II*\0, MM\0*, II+\0, MM\0+).
TESSERA_API bool looks_like_tiff(const std::string& path);

// Page `page` of `path` as a RasterSource, checked: a layout it cannot read is refused at
// once with kUnsupported saying which (bit depths other than 8, 16, 32, 64; a palette without
// expand_palette; subsampled YCbCr other than JPEG's; old-style JPEG; mixed bit depths; ...);
// kNotFound when there is no such page; kInvalidArgument when `path` is not a TIFF; kCorrupt
// when libtiff cannot read the page's directory. Reads use libtiff's own decoders for every
// codec it was built with (JPEG-compressed YCbCr is decoded to RGB by libjpeg; predictors are
// undone), samples little-endian whatever the file's byte order; a tile or strip that fails to
// decode (past the end of the file, damaged, or its decoder warning of damage) is a kCorrupt
// error naming the file, page and tile, and never gives pixels. A tile or strip with no bytes
// (a sparse file) is kUnsupported. Memory stays bounded (about 256 MiB of decoded tiles or
// rows, whatever the page's size): tiles and strips are decoded whole and kept for the blocks
// that follow; a strip over 64 MiB decoded is read row by row; a tile over 256 MiB decoded is
// refused. description() is e.g. "TIFF page 0 4000x3000x3 u8 tiled 256x256 contig jpeg";
// identity() the absolute path, size and modification time; preferred_interleave() BIP, or
// BSQ for a planar page; attributes() every kept tag (above) the page has, as stored. Its
// image_name() is the base name, with "-pN" appended for pages after the first.
TESSERA_API Result<std::unique_ptr<RasterSource>> open_tiff_source(const std::string& path,
                                                                   uint32_t page = 0,
                                                                   const TiffSourceOptions& options = {});

struct TiffSinkOptions {
  enum class Compression { kNone, kLzw, kDeflate, kZstd, kJpeg };
  Compression compression = Compression::kDeflate;
  int jpeg_quality = 90;          // 1..100, kJpeg only (u8, 1 or 3 bands)
  uint32_t tile_size = 256;       // a multiple of 16
  enum class BigTiff { kAuto, kYes, kNo };
  BigTiff bigtiff = BigTiff::kAuto;  // auto: BigTIFF when the output could pass 4 GiB
};
// "none" | "lzw" | "deflate" | "zstd" | "jpeg[:QUALITY]".
TESSERA_API Status parse_tiff_compression(std::string_view text, TiffSinkOptions* options);

// A RasterSink writing a tiled TIFF (planar configuration contig; samples as the image's
// type: SampleFormat uint, int or IEEE float) to `out` beside its place (".part") and renamed
// into place by finish(). Attributes of the tiff.* names above are written back as tags,
// shifted to the output's place; band subsets keep what applies.
TESSERA_API std::unique_ptr<RasterSink> make_tiff_sink(const std::string& out,
                                                      const TiffSinkOptions& options = {});

}  // namespace tessera
