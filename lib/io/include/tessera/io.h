// tessera/io.h — converters: streaming import of any raster source into a container, and
// streaming export of a region of a container into any raster sink (libtessera-io, target
// Tessera::io).
//
// A format is a RasterSource (something that can describe itself and read blocks of its
// pixels) and a RasterSink (something that takes the blocks of an output in order and puts the
// finished output in place). import_raster and export_raster do the rest the same way for
// every format: blocks aligned to the image's tile grid, batches committed with their import
// record so an interrupted import resumes, progress, and no partial output on error. ENVI
// (tessera/envi.h) is one source and one sink; other formats are new sources and sinks.
//
// Both directions stream: memory stays bounded (by OpenOptions threads and the batch size)
// whatever the size of the raster.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tessera/container.h"
#include "tessera/export.h"
#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera {


// What a raster is: width x height pixels of `bands` samples of `type`.
struct RasterShape {
  int64_t width = 0, height = 0;
  uint32_t bands = 0;
  DataType type = DataType::kU8;
  bool operator==(const RasterShape&) const = default;
};

// What a resumed import must find again: a source at the same absolute path, of the same size
// and modification time, is taken to hold the same pixels.
struct SourceIdentity {
  std::string path;      // absolute and normalized
  uint64_t size = 0;     // bytes
  int64_t mtime_ns = 0;  // modification time, nanoseconds since the epoch
};

// Pixels to import. Reads may be repeated (a batch whose transaction is retried reads its
// blocks again) and must return the same samples each time.
class TESSERA_API RasterSource {
 public:
  virtual ~RasterSource();

  // Width, height, bands and sample type; fixed for the source's life.
  virtual RasterShape shape() const = 0;
  // What messages call the source (the path as the caller gave it).
  virtual const std::string& name() const = 0;
  // The image an import creates when ImportOptions::image is empty. Default: name()'s base
  // name without its extension ("scans/slide.raw" gives "slide").
  virtual std::string image_name() const;
  // One line recorded with the import and shown when a resume is refused, e.g.
  // "ENVI 300x200x3 u8 bip, header offset 0, little-endian". A resume needs the same text.
  virtual std::string description() const = 0;
  virtual SourceIdentity identity() const = 0;
  // What the source says about its pixels beyond their shape (georeferencing, resolution,
  // band names, no-data, vendor properties), named after the source's own fields, e.g.
  // "envi.wavelength", "tiff.XResolution". Coordinates in them refer to the source's pixel
  // grid (its pixel 0,0); an export shifts them to the region it writes (RasterMetadata).
  virtual Attributes attributes() const { return {}; }
  // The interleave blocks are cheapest to read in (the importer asks for it).
  virtual Interleave preferred_interleave() const { return Interleave::kBIP; }
  // Reads `block` (in the source's own coordinates: within 0,0 .. width,height) into `dst`
  // of `dst_size` bytes laid out with `strides`, samples little-endian. kInvalidArgument
  // for a block outside the raster or a buffer too small; the source's own errors otherwise.
  virtual Status read(const Region& block, void* dst, size_t dst_size, const Strides& strides) = 0;
};

// What an export hands its sink beside the pixels: the attributes describing the exported
// frame (View::frame_attributes) and where the output lies in the grid they describe.
struct RasterMetadata {
  Attributes attributes;
  // The image bands the output's bands are, in output order, of `image_bands`: per-band
  // lists in the attributes (wavelengths, band names) have image_bands entries.
  std::vector<uint32_t> bands;
  uint32_t image_bands = 0;
  // The output's pixel (0,0) is pixel (x, y) of the grid the attributes refer to: that of the
  // raster imported into the frame (the export region less the import's origin; the image's
  // own coordinates when nothing was imported).
  int64_t x = 0, y = 0;
  // Each output pixel is scale x scale pixels of that grid (a pyramid level L: 2^L), so its
  // georeferencing scales too.
  uint64_t scale = 1;
};

// Where an export goes. export_raster calls begin() once, write() for every block in order
// (top to bottom, left to right within a strip one tile row high), then finish(); after any of
// them failed it calls abort() instead of going on. A sink writes its output beside its final
// place and moves it there in finish(), so an export that fails leaves nothing behind and
// does not touch an existing output.
class TESSERA_API RasterSink {
 public:
  virtual ~RasterSink();

  // The output is `shape`; blocks arrive densely packed in `interleave`. A sink writes what
  // it can of `metadata` (its format's own attributes, shifted to the output's place).
  virtual Status begin(const RasterShape& shape, Interleave interleave,
                       const RasterMetadata& metadata) = 0;
  // One block: `block` in output coordinates (0,0 is the output's first pixel), `data` its
  // `size` bytes of little-endian samples packed in begin()'s interleave.
  virtual Status write(const Region& block, const void* data, size_t size) = 0;
  // Every block was written: make the output durable and put it in place.
  virtual Status finish() = 0;
  // Remove whatever begin() and write() left. Called at most once, only after a failure.
  virtual void abort() = 0;
};

struct ImportOptions {
  std::string image;                  // empty: the source's image_name()
  uint32_t frame = 0;
  std::optional<CodecSpec> codec;     // default: the image's codec (LZ4 for a new image)
  std::optional<Filter> filter;       // default: the image's filter (shuffle for a new image)
  std::optional<StorageLayout> storage;  // default: the image's (chunky for a new image)
  // Refuse to import into an image of that name that exists (kAlreadyExists, naming where its
  // data came from): for callers whose user did not choose the name (a default name taken from
  // the source would otherwise write over another source's image of the same base name).
  bool new_image_only = false;
  uint32_t tile_size = 256;           // for a new image
  int64_t origin_x = 0, origin_y = 0; // where the raster's pixel (0,0) lands
  // Raw bytes per committed batch. A write transaction keeps what it wrote in memory until
  // it commits, and the next batch's first blocks are encoded while it commits, so this bounds
  // the import's memory (about 2 to 3 times this).
  uint64_t batch_bytes = uint64_t(64) << 20;
  // Continue an import into this image and frame that an earlier run left unfinished (its
  // committed blocks are skipped); do nothing if it finished. Without an earlier run it starts
  // afresh. Refused when the earlier run was of another source (or the source changed since:
  // size or modification time) or placed elsewhere.
  bool resume = false;
  // Where the source's attributes go (set in the first batch's transaction, replacing
  // attributes of the same name): the image, or with this set the frame imported into (a
  // page of a multi-page file imported as a frame).
  bool frame_attributes = false;
  Progress progress;                  // raw bytes done and in all, after each batch
};
struct ImportResult {
  ImportProgress progress;          // as recorded by the last batch
  uint64_t blocks_skipped = 0;      // committed by an earlier run (resume)
  bool already_finished = false;    // resume found it finished: nothing was written
};
// Imports `source` into `container`, creating the image if it does not exist (an existing
// image must match type and band count). Each batch commits with the import's progress
// (View::imports), so an interruption leaves every finished batch committed and readable, and
// a run with `resume` goes on from there.
TESSERA_API Result<ImportResult> import_raster(Container& container, RasterSource& source,
                                               const ImportOptions& options);

struct ExportOptions {
  std::string image;                  // empty: the only image in the container
  uint32_t frame = 0;
  uint32_t level = 0;                 // a pyramid level (region in its coordinates)
  // Default: the frame's extent (View::extent: what an import declared, fill included), or
  // without one the exact bounds of the frame's data.
  std::optional<Region> region;
  bool data_bounds = false;           // with no region: the data's exact bounds, never the extent
  std::vector<uint32_t> bands;        // default: all, in order
  Interleave interleave = Interleave::kBIP;  // of the blocks the sink gets (and its output)
  Progress progress;                  // raw bytes done and in all, after each block
};
// Reads the region and bands of one frame of an image from one snapshot, block by block, into
// `sink`. Everything is checked before the sink begins; on error the sink is aborted.
TESSERA_API Status export_raster(const Container& container, RasterSink& sink,
                                 const ExportOptions& options);

}  // namespace tessera
