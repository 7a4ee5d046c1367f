// peer.h — what the read benchmark asks of every system it measures (Tessera, libtiff, HDF5,
// plain LMDB): write an image strip by strip, then read it back as its users would.
//
// Images are written as strips of whole tile rows (tile x full width, BIP, little-endian
// samples) from top to bottom, and read into caller buffers that are densely packed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera::bench {

enum class Layout : uint8_t { kChunky, kPlanar };

// The image a peer stores: width x height pixels of `bands` samples of `sample_bytes` each.
struct Shape {
  int64_t width = 0, height = 0;
  uint32_t bands = 1;
  uint32_t sample_bytes = 1;
  uint32_t tile = 256;
  size_t pixel_bytes() const { return size_t(bands) * sample_bytes; }
  uint64_t raw_bytes() const { return uint64_t(width) * uint64_t(height) * pixel_bytes(); }
};

struct ReadOptions {
  unsigned threads = 1;     // threads the peer may decode on (peers without threads ignore it)
  bool tile_cache = false;  // keep decoded tiles between reads ("cache on")
  std::string shared_cache; // share decoded tiles between processes under this name (Tessera)
  // True when a decoded-tile cache of either kind is asked for: peers without one refuse.
  bool any_cache() const { return tile_cache || !shared_cache.empty(); }
};

class PeerWriter {
 public:
  virtual ~PeerWriter() = default;
  // Rows y .. y + rows - 1 (full width), BIP; strips come in order, top to bottom.
  virtual Status write_strip(int64_t y, int64_t rows, const uint8_t* bip) = 0;
  // Flushes and closes the file.
  virtual Status finish() = 0;
};

class PeerReader {
 public:
  virtual ~PeerReader() = default;
  // Every band of `r` into `dst`, BIP.
  virtual Status read_region(const Region& r, uint8_t* dst) = 0;
  // Band `band` of `r` into `dst` (width x height samples).
  virtual Status read_band(const Region& r, uint32_t band, uint8_t* dst) = 0;
  // Every band of `r` into `dst`, BSQ. By default what a user of a library without BSQ reads
  // does: read BIP, then transpose.
  virtual Status read_bsq(const Region& r, uint8_t* dst);

 protected:
  std::vector<uint8_t> scratch_;
  Shape shape_;
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string name() const = 0;     // table row, e.g. "tiff zstd:1 chunky"
  virtual std::string suffix() const = 0;   // file name suffix, e.g. ".tif"
  virtual Layout layout() const { return Layout::kChunky; }
  // Creates the file `path` (which does not exist); `threads` is how many threads the peer may
  // compress on (peers that cannot use threads ignore it).
  virtual Result<std::unique_ptr<PeerWriter>> create(const std::string& path, const Shape& shape,
                                                     unsigned threads = 1) = 0;
  // Opens `path` for reading. kUnsupported when the peer cannot honour `options.tile_cache`.
  virtual Result<std::unique_ptr<PeerReader>> open(const std::string& path, const Shape& shape,
                                                   const ReadOptions& options = {}) = 0;
  // Bytes on disk for `path` (default: the file's size).
  virtual uint64_t file_bytes(const std::string& path) const;
};

// The peers, one file each (bench/peers/). Each returns nullptr when it was not built here.
enum class TiffCodec : uint8_t { kNone, kDeflate, kZstd };
std::unique_ptr<Peer> make_tiff_peer(TiffCodec codec, Layout layout, bool predictor = false);
std::unique_ptr<Peer> make_hdf5_peer(bool deflate, Layout layout);
std::unique_ptr<Peer> make_lmdb_peer(bool lz4);  // false: raw tiles, read zero-copy
std::unique_ptr<Peer> make_tessera_peer(const CodecSpec& codec, Layout layout, Filter filter = Filter::kShuffle);

// Copies the part of tile-shaped BIP block `src` (covering `src_box`) that lies in `dst_box`
// into the BIP buffer `dst` covering `dst_box`.
void copy_bip_overlap(const uint8_t* src, const Region& src_box, uint8_t* dst, const Region& dst_box,
                      size_t pixel_bytes);

}  // namespace tessera::bench
