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
  // LZW, deflate and zstd (libtiff's default levels) with the horizontal predictor for
  // integers, the floating-point predictor for reals.
  Compression compression = Compression::kDeflate;
  int jpeg_quality = 90;          // 1..100, kJpeg only (u8, 1 or 3 bands)
  uint32_t tile_size = 256;       // a multiple of 16
  enum class BigTiff { kAuto, kYes, kNo };
  // auto: BigTIFF when the output could pass 4 GiB (the pixels uncompressed, plus what LZW or
  // JPEG could add to noise, the tile tables and the tags). no: a classic TIFF; uncompressed
  // tiles past 4 GiB are refused at once, compressed ones fail when libtiff runs out of room.
  BigTiff bigtiff = BigTiff::kAuto;
};
// "none" | "lzw" | "deflate" | "zstd" | "jpeg[:QUALITY]" into options->compression (and
// jpeg_quality when given); kInvalidArgument naming the text otherwise, options untouched.
TESSERA_API Status parse_tiff_compression(std::string_view text, TiffSinkOptions* options);

// A RasterSink writing a tiled TIFF to `out` beside its place (".part"), renamed into place
// by finish(); a failed export leaves neither (libtiff's messages go into the Status, never to
// stderr; a full disk or the file size limit is kNoSpace).
//   Layout: planar configuration contig; BitsPerSample and SampleFormat (uint, int, IEEE
//   float) from the image's type; Photometric RGB for 3 bands of u8 or u16 (4 bands: RGB and
//   unassociated alpha), MinIsBlack otherwise, ExtraSamples "unspecified" for the bands beyond
//   the photometric's. JPEG takes u8 in 1 band (MinIsBlack) or 3 (written YCbCr from RGB);
//   other types and band counts are refused (kInvalidArgument), as is a tile size that is not
//   a multiple of 16.
//   Memory: about one row of TIFF tiles (tile_size rows across the output) is assembled at a
//   time; an output whose row passes 1 GiB is refused (kInvalidArgument), as is one of more
//   than 2^26 tiles (libtiff holds a table of them).
//   Tags: every tiff.* attribute of the exported frame is written as its tag, coordinates
//   shifted to the output's place (RasterMetadata x, y): ModelTiepoint's raster points (I, J)
//   become (I - x, J - y); ModelTransformation's translation becomes M * (x, y, 0, 1), so the
//   output's pixel (0,0) maps where the grid's pixel (x, y) did; XPosition and YPosition are in
//   resolution units and stay. Tags are per image: a band subset keeps them all (GDAL_METADATA
//   verbatim, per-band items included). From other formats, where no tiff.* attribute says it:
//   "envi.data ignore value" as GDAL_NODATA and "envi.description" as ImageDescription (a text
//   or a number; lists are not used). A tiff.* attribute of no tag above, of another type than its tag's, or
//   that libtiff refuses fails the export (kInvalidArgument naming the attribute): nothing is
//   dropped in silence.
TESSERA_API std::unique_ptr<RasterSink> make_tiff_sink(const std::string& out,
                                                      const TiffSinkOptions& options = {});

}  // namespace tessera
