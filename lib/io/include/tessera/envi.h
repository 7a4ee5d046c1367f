// tessera/envi.h — streaming import and export of raw rasters described by ENVI headers
// (libtessera-io, target Tessera::io).
//
// ENVI is one RasterSource and one RasterSink of tessera/io.h: import_envi and export_envi
// are import_raster and export_raster over them. Both directions stream: memory stays bounded
// (by OpenOptions threads and the batch size) whatever the size of the raster. Import commits
// in batches, so an interrupted import leaves every finished batch committed.
//
// Header syntax. The first line is "ENVI"; then "key = value" lines. Keys compare
// case-insensitively with runs of blanks as one space ("Wavelength  Units"); so do the
// values of interleave ("BSQ"). Lines starting with ';' are comments; a value starting with
// '{' runs over lines to the end of the line with the first '}'; CRLF line ends are read as
// LF; a key given twice keeps its last value (as ENVI and GDAL do).
//
// Attributes. Seven fields describe the samples (samples, lines, bands, header offset, data
// type, interleave, byte order; and Tessera's "tessera data type") and are EnviHeader's own.
// Every other field is kept as an attribute named "envi." + its key in lower case with single
// spaces ("envi.wavelength units"), typed once for all headers:
//   real list, one per band:   wavelength, fwhm, data gain values, data offset values,
//                              data reflectance gain values, data reflectance offset values,
//                              solar irradiance
//   integer list, one per band: bbl
//   text list, one per band:   band names
//   real, or a real list of one per band when in braces: data ignore value
//   real:                      reflectance scale factor
//   integer:                   x start, y start, classes
//   integer list:              default bands (band numbers from 1), class lookup
//   real list:                 geo points (pixel x, pixel y, latitude, longitude; from 1)
//   text list:                 map info, projection info, z plot titles, class names
//   text (without its braces): description, coordinate system string, file type,
//                              sensor type, acquisition time, wavelength units
//   text exactly as written, braces and all: every other field (written back verbatim)
// A list is the braced value split at commas, items trimmed. Numbers read with an optional
// '+'; an integer may be written as a real with nothing after the point ("1.0"). A field that
// does not read as its type, a per-band list without one value per band, default bands
// outside 1..bands, a map info without a numeric reference pixel or geo points not in fours
// are errors naming the header, the field and the value, like errors of the samples' fields.
//
// Writing. Headers list the fields in ENVI's customary order (description, the samples'
// fields with file type and sensor type among them, then the table above from x start down,
// then unknown fields by name), numbers in the fewest digits that read back the same, lists
// in braces; ENVI, GDAL and Spectral Python read them. Known fields come back as the same
// values (not always the same digits: "550.0" is written "550"); unknown fields come back
// byte for byte. A value that would not read back the same (a '}' in a braced text, a ',' in
// a list item, a text where the table has a number) is refused, naming the attribute. An
// integer (list) where the table has a real (list) is written as one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tessera/attributes.h"
#include "tessera/container.h"
#include "tessera/io.h"

namespace tessera {

// An ENVI header: the fields that describe the raw samples, and the others as attributes.
struct EnviHeader {
  int64_t samples = 0;         // width
  int64_t lines = 0;           // height
  uint32_t bands = 0;
  uint64_t header_offset = 0;  // bytes to skip at the start of the raw file
  DataType type = DataType::kU8;
  Interleave interleave = Interleave::kBSQ;
  bool big_endian = false;     // "byte order = 1"
  // Every other field, typed as above, sorted by name.
  Attributes attributes;
};

// ENVI "data type" codes: 1 u8, 2 i16, 3 i32, 4 f32, 5 f64, 12 u16, 13 u32, 14 i64, 15 u64.
// i8 has no ENVI code: a header may say 1 with "tessera data type = i8" beside it (Tessera
// reads it so), but readers that do not know the extra field (ENVI, GDAL, Spectral Python)
// read such a file as u8, so make_envi_sink refuses i8.
TESSERA_API Result<DataType> envi_code_to_type(int code);
TESSERA_API int envi_type_to_code(DataType type);

// The header of raw file `raw_path`, the first that exists of (as GDAL looks): RAW.hdr,
// RAW.HDR, RAW with its extension replaced by .hdr, by .HDR. kNotFound naming them otherwise.
TESSERA_API Result<std::string> find_envi_header(const std::string& raw_path);
// Parses an ENVI header file. kInvalidArgument names the file, the field and the value.
TESSERA_API Result<EnviHeader> read_envi_header(const std::string& header_path);
// Writes `header` (byte order 0) to `header_path`, beside it (".part") and renamed into place.
// Its attributes must be envi.* fields beyond the samples that read back the same.
TESSERA_API Status write_envi_header(const std::string& header_path, const EnviHeader& header);

// Raw file `raw_path` with its header (find_envi_header) as a RasterSource, checked: the
// header parses and the file holds every sample it describes. The file stays open for the
// source's life; its size and modification time at opening are its identity. Its attributes()
// are the header's.
TESSERA_API Result<std::unique_ptr<RasterSource>> open_envi_source(const std::string& raw_path);
// A RasterSink writing raw little-endian samples to `out` and their header to `out`.hdr, each
// written beside (".part") and renamed into place by finish(), the header last.
//
// The header holds the envi.* attributes of the metadata begin() gets, fitted to the output:
// per-band fields keep the exported bands' values in output order (one that has not one
// value per image band is refused); default bands are renumbered, and dropped when one of
// them is not exported; map info's reference pixel and geo points' pixels move by
// -(metadata.x, metadata.y), x start and y start by +(metadata.x, metadata.y), so a cut
// stays georeferenced; without x start and y start, an output whose (0,0) is not the grid's
// gets them (metadata.x, metadata.y: where it lies). Without envi.data ignore value a
// tiff.GDAL_NODATA that is a number is written as it, without envi.description a
// tiff.ImageDescription (when it can be).
// Without envi.file type, "file type = ENVI Standard" (as ENVI writes). A header that cannot be written makes
// begin() fail, before any file is created; so do i8 samples (kInvalidArgument: export them
// to TIFF).
TESSERA_API std::unique_ptr<RasterSink> make_envi_sink(const std::string& out);

// Imports raw file `src` (with its ENVI header) into `container`: import_raster of
// open_envi_source(src).
TESSERA_API Result<ImportResult> import_envi(Container& container, const std::string& src, const ImportOptions& options);

// Writes `out` (raw samples, little-endian) and `out`.hdr: export_raster into
// make_envi_sink(out). Nothing is left behind on error.
TESSERA_API Status export_envi(const Container& container, const std::string& out,
                   const ExportOptions& options);

}  // namespace tessera
