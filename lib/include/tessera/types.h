// tessera/types.h — the small value types of the API: sample types, interleaves, codecs,
// regions, strides and image descriptions. Their arithmetic lives here, in one place.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/status.h"

namespace tessera {

// Sample type of every band of an image. Samples are stored little-endian.
enum class DataType : uint8_t { kU8, kU16, kU32, kU64, kI8, kI16, kI32, kI64, kF32, kF64 };

TESSERA_API size_t sample_size(DataType type);                 // bytes per sample: 1, 2, 4 or 8
TESSERA_API std::string_view data_type_name(DataType type);    // "u8", "i16", "f32", ...
TESSERA_API Result<DataType> parse_data_type(std::string_view name);

// How the bands of a region are laid out in a caller's buffer.
//  BIP: band interleaved by pixel  [y][x][band]  (chunky, the default)
//  BIL: band interleaved by line   [y][band][x]
//  BSQ: band sequential            [band][y][x]  (planar)
enum class Interleave : uint8_t { kBIP, kBIL, kBSQ };
TESSERA_API std::string_view interleave_name(Interleave interleave);  // "bip", "bil", "bsq"
TESSERA_API Result<Interleave> parse_interleave(std::string_view name);

// How samples are laid out inside a stored tile. Chunky suits reads of all bands at once,
// planar suits reads of one band (a planar tile decodes into one plane per band).
enum class StorageLayout : uint8_t { kChunky, kPlanar };
TESSERA_API std::string_view storage_layout_name(StorageLayout layout);  // "chunky", "planar"
TESSERA_API Result<StorageLayout> parse_storage_layout(std::string_view name);

enum class Codec : uint8_t { kNone, kLz4, kZstd };
struct CodecSpec {
  Codec codec = Codec::kLz4;
  int level = 0;  // zstd level (1..22; 0 means zstd's default 3); ignored otherwise
  bool operator==(const CodecSpec&) const = default;
};
TESSERA_API std::string codec_spec_name(const CodecSpec& spec);          // "none", "lz4", "zstd:5"
TESSERA_API Result<CodecSpec> parse_codec_spec(std::string_view text);   // "none" | "lz4" | "zstd[:LEVEL]"

// What new chunks do to a tile's samples before the codec (spec/FORMAT.md 4.4.3):
//  kShuffle: byte shuffle of samples of 2, 4 or 8 bytes (all first bytes, then all second...)
//  kDelta:   each sample minus the same band's sample of the pixel before it (bit patterns,
//            wrapping), then the shuffle: for smooth integer data (16-bit scans, spectra).
//            A file holding such chunks is format 3.0, which 2.x readers refuse.
enum class Filter : uint8_t { kNone = 0, kShuffle = 1, kDelta = 2 };
TESSERA_API std::string_view filter_name(Filter filter);  // "none", "shuffle", "delta"
TESSERA_API Result<Filter> parse_filter(std::string_view text);

// A rectangle of pixels: origin (x, y) anywhere in signed 64-bit space, width and height
// at least 1 for a valid region. x grows to the right, y grows downwards.
struct TESSERA_API Region {
  int64_t x = 0, y = 0;
  int64_t width = 0, height = 0;

  bool empty() const { return width <= 0 || height <= 0; }
  // Exclusive end coordinates; valid only when is_valid().
  int64_t x_end() const { return x + width; }
  int64_t y_end() const { return y + height; }
  // Positive size and x + width, y + height representable without overflow.
  bool is_valid() const;
  // width * height, saturated at UINT64_MAX (a 2^32 x 2^32 region must not count 0 pixels).
  uint64_t pixel_count() const {
    uint64_t n;
    return __builtin_mul_overflow(uint64_t(width), uint64_t(height), &n) ? UINT64_MAX : n;
  }
  // Intersection; empty Region{} when they do not overlap.
  Region intersect(const Region& other) const;
  // The smallest region holding both valid regions, clipped to what a Region holds (its end
  // and its size at most 2^63 - 1: only regions more than that far apart lose a part).
  Region unite(const Region& other) const;
  bool operator==(const Region&) const = default;
};
TESSERA_API std::string to_string(const Region& region);  // "x,y,WxH"

// Byte distances between neighbouring samples in a caller's buffer: next pixel on a line,
// next line, next band. Any non-negative combination is allowed as long as distinct
// (x, y, band) never share bytes; interleaves are presets of these.
struct TESSERA_API Strides {
  int64_t pixel = 0, line = 0, band = 0;
  // The strides of a densely packed width x height x bands buffer in `interleave`.
  static Strides packed(Interleave interleave, int64_t width, int64_t height, size_t bands,
                        size_t sample_bytes);
  bool operator==(const Strides&) const = default;
};
// Bytes a buffer must have to hold a width x height x bands block with these strides.
TESSERA_API uint64_t required_bytes(const Strides& strides, int64_t width, int64_t height, size_t bands,
                        size_t sample_bytes);

// Which frame, pyramid level and bands a read or write addresses.
struct Selection {
  uint32_t frame = 0;
  // 0 = full resolution; L > 0 a pyramid level (Container::build_pyramid), read-only. Regions
  // at level L are in level-L coordinates: level-0 coordinates divided by 2^L (level_region).
  uint32_t level = 0;
  std::vector<uint32_t> bands;  // any subset in any order; empty = every band in order
};

// Pyramid levels (spec/FORMAT.md 5.6). Pixel (x, y) of level L stands for level-0 pixels
// x * 2^L .. x * 2^L + 2^L - 1 by the same in y, for negative coordinates too; it is made from
// the 2 x 2 pixels (2x, 2y), (2x+1, 2y), (2x, 2y+1), (2x+1, 2y+1) of level L - 1. The most
// levels an image can have:
constexpr uint32_t kMaxPyramidLevels = 62;
// The level-L region covering level-0 `region`: the origin rounded down (floor(x / 2^L)), the
// end rounded up, so that every level-0 pixel of `region` falls in it.
TESSERA_API Region level_region(const Region& region, uint32_t level);

// How a level's pixel is made from the 2 x 2 pixels below it. Pixels equal to the fill value
// (all bands, bytewise) are no-data: a level pixel is the fill value only when all four are.
//  kMean:    each band's mean of the other pixels; integers rounded to nearest, halves away
//            from zero; floats summed in double (NaN propagates)
//  kNearest: the first of the four, in the order above, that is not the fill value
//  kMode:    the most frequent pixel (all bands, bytewise) of the others; ties: the first
//  kMin/kMax: each band's least or greatest value of the others (NaN only when all are NaN)
enum class Resampling : uint8_t { kMean = 0, kNearest = 1, kMode = 2, kMin = 3, kMax = 4 };
TESSERA_API std::string_view resampling_name(Resampling resampling);  // "mean", "nearest", ...
TESSERA_API Result<Resampling> parse_resampling(std::string_view text);

// The pyramid of one frame (View::pyramid).
struct PyramidInfo {
  uint32_t levels = 0;  // levels 1 .. levels can be read, and every write keeps them in step
  Resampling resampling = Resampling::kMean;
  // An unfinished build (interrupted, or committing batch by batch): the levels it builds
  // (levels < target); 0 when none is under way. build_pyramid again finishes it.
  uint32_t target = 0;
  bool operator==(const PyramidInfo&) const = default;
};

// Whether a request reads or writes pixels (View::check): a write may address the frame after
// the last one (it appends it) and may not name a band twice.
enum class Access : uint8_t { kRead, kWrite };

// What an image is. Fixed when the image is created.
struct ImageSpec {
  DataType type = DataType::kU8;
  uint32_t bands = 1;                 // 1 .. 1024
  uint32_t tile_size = 256;           // power of two, 16 .. 4096
  uint32_t macro_tiles = 16;          // tiles across a macro block: power of two, 1 .. 256
  std::vector<double> fill = {0.0};   // value of absent pixels: one per band, or one for all
  StorageLayout storage = StorageLayout::kChunky;
  CodecSpec codec = {};               // codec of new chunks (a level only with zstd)
  Filter filter = Filter::kShuffle;   // what new chunks do to the samples before the codec
};

// An image as a snapshot sees it.
struct ImageInfo {
  std::string name;
  uint32_t id = 0;
  ImageSpec spec;
  uint32_t frames = 0;  // frames 0 .. frames-1 exist; a new image has one empty frame, 0
  std::vector<uint8_t> fill_pixel;  // the fill value exactly as stored: one pixel, little-endian
  // A mapped image (tessera/mapped.h): a view of other images with one frame and no tiles of its
  // own; `spec` gives its sample type, bands and fill, and the first source's tile size.
  bool mapped = false;

  size_t pixel_bytes() const { return sample_size(spec.type) * spec.bands; }
  size_t tile_bytes() const { return pixel_bytes() * spec.tile_size * spec.tile_size; }
};

// Counts over the tiles one frame of an image shows. Bytes are exact: bytes_raw is what the
// stored tiles would take decoded, bytes_stored is the chunk records they reference
// (each unique chunk counted once) plus the tile records themselves.
struct ImageStats {
  uint64_t tiles_uniform = 0;   // stored inline as one pixel value
  uint64_t tiles_chunk = 0;     // referencing a chunk
  uint64_t chunks_unique = 0;   // distinct chunks referenced
  uint64_t bytes_raw = 0;       // (tiles_uniform + tiles_chunk) * tile bytes
  uint64_t bytes_stored = 0;
  uint64_t bytes_chunk_refs = 0;  // chunk bytes counted once per referencing tile: the size without dedup
};

// One frame of an image: what its own records hold (versions written in this frame, not those
// it inherits from earlier frames).
struct FrameInfo {
  uint32_t frame = 0;
  uint64_t tiles = 0;         // own tile records holding data (uniform or chunk)
  uint64_t macro_blocks = 0;  // own collapsed macro-block records
  uint64_t tombstones = 0;    // own records saying "absent from here on"
  // Bytes of the own records plus this frame's share of each chunk they reference (a chunk's
  // bytes divided evenly among all its references, across frames and images): the shares of
  // every frame of every image add up to the container's stored bytes.
  uint64_t bytes_stored = 0;
};

// Where an import into one frame of an image stands. An importer records it in the
// transaction of every batch it commits, so after an interruption the file says exactly which
// blocks (in the importer's fixed order) are in, and a resumed import skips them.
struct ImportProgress {
  std::string source;            // absolute path of the source file
  uint64_t source_size = 0;      // its size and modification time when the import began:
  int64_t source_mtime_ns = 0;   // a source changed since cannot be resumed
  std::string description;       // what was read, e.g. "ENVI 300x200x3 u8 bip"
  uint32_t frame = 0;
  int64_t origin_x = 0, origin_y = 0;
  uint64_t blocks_done = 0, blocks_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
  bool finished() const { return blocks_done == blocks_total; }
  bool operator==(const ImportProgress&) const = default;
};

// What long operations report as they go: how much is done and how much there is in all (the
// unit is the operation's: raw bytes for imports and exports, bytes written for compaction).
// Each operation says on which thread it calls; none calls it on a worker.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

// The format version of a file (spec/FORMAT.md section 3): what it was written as, or what
// opening it for writing upgraded it to.
struct FormatVersion {
  uint16_t major = 0, minor = 0;
  bool operator==(const FormatVersion&) const = default;
  auto operator<=>(const FormatVersion&) const = default;
};
TESSERA_API std::string to_string(const FormatVersion& version);  // "2.0"

// The chunk pool shared by every image and frame of a container.
struct PoolStats {
  uint64_t chunks = 0;       // unique chunks stored
  uint64_t references = 0;   // tile records referring to them
  uint64_t bytes_stored = 0; // bytes of the chunk records (header and payload)
  uint64_t bytes_saved = 0;  // what storing each reference separately would add
};

// How exact a bounding box of an image's data is; each is cached per frame (spec/FORMAT.md 4.6).
//  kOperative: grown by every edit, never shrunk: cheap, may overestimate after erasing
//  kRoot:      union of the occupied macro blocks (macro-block aligned)
//  kLeaf:      union of the occupied tiles (tile aligned; may include fill pixels at the edges)
//  kExact:     the smallest box holding every pixel that differs from the fill value
// A box is clipped to what a Region holds (x + width and width at most 2^63 - 1): only data
// in the last pixel row or column of the space, or more than 2^63 - 1 pixels apart, is cut off.
enum class Precision : uint8_t { kOperative = 0, kRoot = 1, kLeaf = 2, kExact = 3 };
TESSERA_API std::string_view precision_name(Precision precision);  // "operative", "root", "leaf", "exact"
TESSERA_API Result<Precision> parse_precision(std::string_view text);

}  // namespace tessera
