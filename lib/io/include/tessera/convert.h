// tessera/convert.h — files in and out by format: what `tessera import` and `tessera export`
// do, for any program (libtessera-io, target Tessera::io).
//
// Import picks its reader from the file's content (a TIFF signature; a slide OpenSlide
// recognises; an ENVI header beside the file) unless told, and plans the whole import before
// anything is written: every source is opened and checked first, so a file that cannot be read
// creates nothing. Export picks its writer from the output's extension unless told.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/io.h"
#include "tessera/tiff.h"

namespace tessera {

enum class RasterFormat { kAuto, kEnvi, kTiff, kOpenSlide };
// "auto", "envi", "tiff", "openslide".
TESSERA_API std::string_view raster_format_name(RasterFormat format);
TESSERA_API Result<RasterFormat> parse_raster_format(std::string_view text);

// The format of the raster at `path` by its content: TIFF for a TIFF signature (OpenSlide for
// a TIFF that OpenSlide reads as a vendor's slide, e.g. Aperio SVS; a plain tiled TIFF stays
// TIFF), OpenSlide for any other file it recognises, ENVI when a header is found beside it.
// kInvalidArgument naming what was tried when none fits; kNotFound when `path` does not exist.
TESSERA_API Result<RasterFormat> detect_raster_format(const std::string& path);

struct FileImportOptions {
  ImportOptions import;  // image (default: the source's name), frame, codec, ... (tessera/io.h)
  RasterFormat format = RasterFormat::kAuto;
  // A TIFF with several full-resolution pages: as frames of one image (from import.frame on;
  // the pages must agree in size, bands and type) or as images of their own (page N > 0 named
  // IMAGE-pN). Unset: such a file is refused, naming both choices (nothing is dropped silently).
  enum class Pages { kUnset, kFrames, kImages };
  Pages pages = Pages::kUnset;
  TiffSourceOptions tiff;
  // A slide's associated images (label, macro, thumbnail) as images IMAGE.NAME.
  bool associated_images = true;
};

// One import_raster to run: a source and where it goes.
struct ImportJob {
  std::unique_ptr<RasterSource> source;
  ImportOptions options;
};
struct ImportPlan {
  RasterFormat format = RasterFormat::kAuto;
  std::vector<ImportJob> jobs;     // in order: run each with import_raster
  std::vector<std::string> notes;  // what is not imported and why, e.g. reduced-resolution pages
};
// Opens and checks every source `path` holds for an import with `options`. Nothing is written.
TESSERA_API Result<ImportPlan> plan_import(const std::string& path, const FileImportOptions& options);

struct FileExportOptions {
  ExportOptions export_options;  // image, frame, region, bands, interleave (ENVI), progress
  RasterFormat format = RasterFormat::kAuto;  // auto: TIFF for .tif/.tiff (any case), else ENVI
  TiffSinkOptions tiff;
};
// The format an export to `out` writes.
TESSERA_API RasterFormat export_format(const std::string& out, RasterFormat requested);
// Exports one region of one frame into `out` in its format (export_raster into the format's
// sink): nothing is left behind on error.
TESSERA_API Status export_file(const Container& container, const std::string& out,
                               const FileExportOptions& options);

}  // namespace tessera
