// spec_reader.h — a reader of Tessera containers written from spec/FORMAT.md and
// format/tessera.fbs alone, to test that the text is enough for a stranger.
//
// It shares no code with the library: it includes nothing from lib/ and uses liblmdb, the
// flatc-generated header of format/tessera.fbs, xxHash, LZ4 and zstd directly, following the
// lookup of FORMAT.md section 5.1 and the checks of section 5.5 literally. Where it and
// Tessera disagree about a file, the spec is wrong or one of them has a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spec_reader {

// What a call did: ok, or why not. kCorrupt is a damaged file; the others a bad request.
enum class Outcome { kOk, kNotFound, kInvalidArgument, kCorrupt, kUnsupported, kIoError };
const char* outcome_name(Outcome outcome);

struct Status {
  Outcome outcome = Outcome::kOk;
  std::string message;
  bool ok() const { return outcome == Outcome::kOk; }
};

// An `images` record (FORMAT.md 4.2) after its checks.
struct Image {
  uint32_t id = 0;
  std::string name;
  uint8_t dtype = 0;
  uint32_t bands = 0;
  uint32_t tile_size_log2 = 0;
  uint32_t macro_tiles_log2 = 0;
  std::vector<uint8_t> fill;  // one pixel, exactly as stored
  uint8_t storage = 0;        // 0 chunky, 1 planar
  uint32_t frames = 0;
  size_t sample_size = 0;
  size_t pixel_bytes() const { return sample_size * bands; }
  uint64_t tile_bytes() const { return (uint64_t(1) << (2 * tile_size_log2)) * pixel_bytes(); }
};

// An `attributes` record (FORMAT.md 4.7) after its checks: exactly the field of its type is
// filled (an integer or a real as a list of one).
struct Attribute {
  uint32_t image = 0;
  uint32_t scope = 0;  // 0xFFFFFFFF: the image; otherwise a frame
  std::string name;
  uint8_t type = 0;    // 0 text, 1 integer, 2 real, 3 text list, 4 integer list, 5 real list
  std::string text;
  std::vector<int64_t> integers;
  std::vector<double> reals;
  std::vector<std::string> texts;
};

// What the reads so far went through, so that a test can tell which paths it covered.
struct Counters {
  uint64_t tiles = 0;             // tiles looked up
  uint64_t absent = 0;            // no visible version
  uint64_t tombstones = 0;        // visible version a tombstone
  uint64_t uniform = 0;           // visible version the tile's own uniform record
  uint64_t macro = 0;             // visible version a macro-block record
  uint64_t macro_hidden = 0;      // a block record found but beaten by the tile's own version
  uint64_t inherited = 0;         // visible version from an earlier frame than the one read
  uint64_t chunk_v1 = 0;          // version 1 chunks decoded
  uint64_t chunk_v2_by_band = 0;  // version 2 chunks read block by block (selected bands)
  uint64_t chunk_v2_whole = 0;    // version 2 chunks decoded whole (blocks != bands, chunky)
  uint64_t raw_blocks = 0;        // blocks (or version 1 payloads) stored raw
  uint64_t codec_none = 0, codec_lz4 = 0, codec_zstd = 0, filtered = 0;  // decoded blocks
};

class Reader {
 public:
  // Opens FILE read-only (MDB_NOSUBDIR | MDB_RDONLY, with its lock file) and checks that it
  // is a container whose major version this reader knows (1 or 2).
  static Status open(const std::string& path, std::unique_ptr<Reader>* out);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  uint16_t major() const { return major_; }
  // Section 4.2: every image record carries its check from 2.3 and 3.1 on.
  bool image_checks() const { return major_ == 3 ? minor_ >= 1 : major_ == 2 && minor_ >= 3; }
  uint16_t minor() const { return minor_; }

  // Every image record, in key (id) order, each checked (one bad record fails the call).
  Status images(std::vector<Image>* out) const;

  // Every attribute record in key order, each checked (one bad record fails the call); none
  // in a file older than 2.1.
  Status attributes(std::vector<Attribute>* out) const;

  // Reads pixels x .. x+width-1 by y .. y+height-1 of frame `frame`, level `level` (section
  // 5.6: in the level's coordinates; levels above 0 only when the frame's pyramid record says
  // they are built), of the image named `image`, bands `bands` in that order (empty: every
  // band in order), into `out` as BIP ([y][x][band], samples as stored, little-endian),
  // replacing its contents.
  Status read(const std::string& image, int64_t x, int64_t y, int64_t width, int64_t height,
              uint32_t frame, const std::vector<uint32_t>& bands, std::vector<uint8_t>* out,
              uint32_t level = 0);

  const Counters& counters() const { return counters_; }

 private:
  Reader() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t major_ = 0, minor_ = 0;
  Counters counters_;
};

// ---- Building blocks of the format, exposed so that tests can craft records (all from the
// spec: section numbers in FORMAT.md).

// 4.3.1: the 25-byte tiles key of (image, level byte, tile or macro-block coordinate, frame).
std::vector<uint8_t> tile_key(uint32_t image, uint8_t level, int64_t tx, int64_t ty, uint32_t frame);
// 4.3.2: the `check` of a tile record stored under `key`.
uint64_t tile_record_check(const std::vector<uint8_t>& key, uint8_t kind,
                           const std::vector<uint8_t>& uniform, const std::vector<uint8_t>& chunk);
// 4.2 (2.3, 3.1): an image record's check over its fields.
uint64_t image_record_check(uint32_t id, const std::string& name, uint8_t dtype, uint16_t bands,
                            uint8_t tile_size_log2, uint8_t macro_tiles_log2, const std::vector<uint8_t>& fill,
                            uint8_t storage, uint8_t codec, int8_t codec_level, bool shuffle, uint32_t frames,
                            bool delta);
// 4.4.2: seed = XXH3-64 of header bytes 0..15.
uint64_t chunk_seed(const uint8_t* header);

}  // namespace spec_reader
