// tessera/envi.h — streaming import and export of raw rasters described by ENVI headers
// (libtessera-io, target Tessera::io).
//
// ENVI is one RasterSource and one RasterSink of tessera/io.h: import_envi and export_envi
// are import_raster and export_raster over them. Both directions stream: memory stays bounded
// (by OpenOptions threads and the batch size) whatever the size of the raster. Import commits
// in batches, so an interrupted import leaves every finished batch committed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tessera/container.h"
#include "tessera/io.h"

namespace tessera {

// The fields of an ENVI header that describe the raw samples.
struct EnviHeader {
  int64_t samples = 0;         // width
  int64_t lines = 0;           // height
  uint32_t bands = 0;
  uint64_t header_offset = 0;  // bytes to skip at the start of the raw file
  DataType type = DataType::kU8;
  Interleave interleave = Interleave::kBSQ;
  bool big_endian = false;     // "byte order = 1"
};

// ENVI "data type" codes: 1 u8, 2 i16, 3 i32, 4 f32, 5 f64, 12 u16, 13 u32, 14 i64, 15 u64.
// i8 has no ENVI code: it is written as 1 with "tessera data type = i8" beside it.
TESSERA_API Result<DataType> envi_code_to_type(int code);
TESSERA_API int envi_type_to_code(DataType type);

// The header of raw file `raw_path`: "RAW.hdr" if it exists, else RAW with its extension
// replaced by ".hdr". kNotFound when neither exists.
TESSERA_API Result<std::string> find_envi_header(const std::string& raw_path);
// Parses an ENVI header file. kInvalidArgument names the missing or malformed field.
TESSERA_API Result<EnviHeader> read_envi_header(const std::string& header_path);
// Writes `header` (byte order 0) to `header_path`.
TESSERA_API Status write_envi_header(const std::string& header_path, const EnviHeader& header);

// Raw file `raw_path` with its header (find_envi_header) as a RasterSource, checked: the
// header parses and the file holds every sample it describes. The file stays open for the
// source's life; its size and modification time at opening are its identity.
TESSERA_API Result<std::unique_ptr<RasterSource>> open_envi_source(const std::string& raw_path);
// A RasterSink writing raw little-endian samples to `out` and their header to `out`.hdr, each
// written beside (".part") and renamed into place by finish(), the header last.
TESSERA_API std::unique_ptr<RasterSink> make_envi_sink(const std::string& out);

// Imports raw file `src` (with its ENVI header) into `container`: import_raster of
// open_envi_source(src).
TESSERA_API Result<ImportResult> import_envi(Container& container, const std::string& src, const ImportOptions& options);

// Writes `out` (raw samples, little-endian) and `out`.hdr: export_raster into
// make_envi_sink(out). Nothing is left behind on error.
TESSERA_API Status export_envi(const Container& container, const std::string& out,
                   const ExportOptions& options);

}  // namespace tessera
