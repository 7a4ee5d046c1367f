// bounds.h — the bounds a stored image is measured against: the same tiles Tessera stores
// (256 x 256, chunky, byte-shuffled when samples are wider than a byte, every tile uniform
// ones included), compressed with raw LZ4 (LZ4_compress_default) or zstd level 1
// (ZSTD_compressCCtx), kept in memory, no container, one core. Reads decode the tiles a
// request touches and copy what it covers, as a store without overheads would.
#pragma once

#include <cstdint>
#include <vector>

#include "peer.h"

namespace tessera::bench {

enum class RawCodec : uint8_t { kLz4, kZstd1 };

class RawTiles {
 public:
  RawTiles(RawCodec codec, const Shape& shape);
  ~RawTiles();
  const char* name() const { return codec_ == RawCodec::kLz4 ? "raw lz4" : "raw zstd:1"; }

  // Cuts the strip at rows y.. into tiles and compresses them; only compression is timed.
  void add_strip(int64_t y, int64_t rows, const uint8_t* bip);
  double compress_seconds() const { return compress_seconds_; }
  uint64_t compressed_bytes() const { return compressed_bytes_; }

  // One pass of each workload; returns its seconds.
  double read_regions(const std::vector<Region>& regions, uint8_t* dst);  // BIP
  double read_bands(const std::vector<Region>& regions, uint32_t band, uint8_t* dst);
  double read_bsq(const std::vector<Region>& regions, uint8_t* dst);

 private:
  void decode(int64_t tx, int64_t ty);  // into tile_ (unshuffled)
  template <typename F>
  double for_tiles(const std::vector<Region>& regions, F&& f);

  RawCodec codec_;
  Shape shape_;
  int64_t tiles_x_;
  bool shuffle_;
  std::vector<std::vector<char>> packed_;  // row-major by tile
  std::vector<uint8_t> tile_, shuffled_;
  std::vector<char> scratch_;
  void* cctx_ = nullptr;
  void* dctx_ = nullptr;
  double compress_seconds_ = 0;
  uint64_t compressed_bytes_ = 0;
};

// memcpy throughput over `bytes` bytes (source and destination each `bytes` long), best of 3.
double memcpy_seconds(size_t bytes);

}  // namespace tessera::bench
