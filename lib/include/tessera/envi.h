// tessera/envi.h — streaming import and export of raw rasters described by ENVI headers.
//
// Both directions stream: memory stays bounded (by OpenOptions threads and the batch size
// here) whatever the size of the raster. Import commits in batches, so an interrupted import
// leaves every finished batch committed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tessera/container.h"

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

using Progress = std::function<void(uint64_t done, uint64_t total)>;

struct ImportOptions {
  std::string image;                  // empty: the base name of the source without extension
  uint32_t frame = 0;
  std::optional<CodecSpec> codec;     // default: the image's codec (LZ4 for a new image)
  uint32_t tile_size = 256;           // for a new image
  int64_t origin_x = 0, origin_y = 0; // where the raster's pixel (0,0) lands
  // Raw bytes per committed batch. A write transaction keeps what it wrote in memory until
  // it commits, so this bounds the import's memory (about 1 to 2 times this).
  uint64_t batch_bytes = uint64_t(64) << 20;
  // Continue an import into this image and frame that an earlier run left unfinished (its
  // committed blocks are skipped); do nothing if it finished. Without an earlier run it starts
  // afresh. Refused when the earlier run was of another source (or the source changed since:
  // size or modification time) or placed elsewhere.
  bool resume = false;
  Progress progress;                  // called after each batch
};
struct ImportResult {
  ImportProgress progress;          // as recorded by the last batch
  uint64_t blocks_skipped = 0;      // committed by an earlier run (resume)
  bool already_finished = false;    // resume found it finished: nothing was written
};
// Imports raw file `src` (with its ENVI header) into `container`, creating the image if it
// does not exist (an existing image must match type and band count). Each batch commits with
// the import's progress (View::imports), so an interruption leaves every finished batch
// committed and readable, and a run with `resume` goes on from there.
TESSERA_API Result<ImportResult> import_envi(Container& container, const std::string& src, const ImportOptions& options);

struct ExportOptions {
  std::string image;                  // empty: the only image in the container
  uint32_t frame = 0;
  std::optional<Region> region;       // default: the exact bounds of the frame's data
  std::vector<uint32_t> bands;        // default: all, in order
  Interleave interleave = Interleave::kBIP;
  Progress progress;
};
// Writes `out` (raw samples, little-endian) and `out`.hdr. Nothing is left behind on error.
TESSERA_API Status export_envi(const Container& container, const std::string& out,
                   const ExportOptions& options);

}  // namespace tessera
