// The one path from a tile record to decoded samples. Region reads, the read-modify-write of
// partly written tiles, exact geometry and the confirmation of a dedup hit all go through it.
//
// For a chunk tile it tries this process's cache, then the shared-memory cache, then decodes
// the stored chunk with every check of spec/FORMAT.md (header, raw size, checksums, codec),
// and puts what it decoded into both caches. What is cached is what the chunk is encoded as:
// a whole tile, or for a version 2 chunk of a planar image one band's block (so a read of some
// bands decodes and caches only theirs); the keys are those of cache/cache_keys.h. Without a
// process cache, a block stored raw is read where it lies in the map. Errors are kCorrupt (or
// LMDB's) naming the file, image, tile, frame and chunk.
//
// A fetch has two steps because reads and writes decode on the worker pool while one thread
// owns the transaction: locate() runs on that thread (the LMDB mutex held) and finds the cache
// entries or the stored chunk; samples() and decode_into() then run on any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cache/tile_cache.h"
#include "format/chunk_codec.h"
#include "raster/runtime.h"
#include "raster/tile_index.h"

namespace tessera::detail {

// A chunk tile located by step 1.
struct LocatedTile {
  TileCoord tile;
  uint32_t frame = 0;
  bool named = true;  // errors name the tile (not for a dedup candidate: only its chunk)
  ChunkKey chunk{};
  std::span<const uint8_t> stored;  // the chunk record, in the map or in `copy`
  std::vector<uint8_t> copy;
  // Cache entries found by step 1: the whole tile, or each fetched band's block.
  TileCache::Tile whole;
  std::vector<TileCache::Tile> blocks;
  bool served() const { return whole || !blocks.empty(); }
};

// The decoded samples of the fetched bands: sample (x, y) of the k-th is at
// band[k] + y * line_stride + x * pixel_stride of the image's TileLayout.
struct TileSamples {
  std::vector<const uint8_t*> band;
  std::vector<TileCache::Tile> held;  // cache entries the pointers point into
};

class TileFetcher {
 public:
  // Fetches bands `bands` (in that order; empty = every band in order) of `image`'s tiles.
  TileFetcher(const Txn& txn, Runtime& runtime, const ImageInfo& image, std::vector<uint32_t> bands = {});

  const TileLayout& layout() const { return t_; }
  const std::vector<uint32_t>& bands() const { return bands_; }

  // Step 1 for `version` (a chunk record) of `tile`: the cache entries that serve it, else
  // the stored chunk. With `copy` the chunk is copied out of the map (the caller writes to
  // the transaction before step 2, which may move or reuse the page it lies on).
  Status locate(TileCoord tile, const TileVersion& version, bool copy, LocatedTile& out) const;
  // Step 1 for a chunk already read from the pool (a dedup candidate): errors name only it.
  void locate_stored(const ChunkKey& chunk, std::span<const uint8_t> stored, LocatedTile& out) const;

  // Step 2: the fetched bands' samples, of tile lines [lines.first, lines.second) at least (an
  // uncompressed chunk in blocks of whole lines is checked only there, and its other lines are
  // not to be read). Pointers may point into this thread's scratch memory, valid until its next
  // fetch, or into the map, valid while the transaction does not write.
  Status samples(const LocatedTile& located, TileSamples& out,
                 std::pair<uint32_t, uint32_t> lines = {0, UINT32_MAX}) const;
  // Step 2 for every band, into `tile` (the image's tile bytes, in storage layout).
  Status decode_into(const LocatedTile& located, uint8_t* tile) const;

 private:
  template <class Decode>
  Status obtain(const ChunkKey& key, size_t size, uint8_t* target, bool fill_target,
                Decode&& decode, const uint8_t*& data, TileCache::Tile& held) const;
  Status in_context(const LocatedTile& located, const Status& status) const;
  // An uncompressed tile where it lies in the map, after checking the blocks that hold lines
  // [lines) (every block when they are not whole lines); nullptr when it must be decoded.
  Result<const uint8_t*> raw_lines(const ChunkBlocks& blocks, std::pair<uint32_t, uint32_t> lines) const;

  const Txn& txn_;
  Runtime& runtime_;
  const ImageInfo& image_;
  TileLayout t_;
  std::vector<uint32_t> bands_;
  bool by_band_;  // planar tiles of several bands: version 2 chunks decode band by band
};

}  // namespace tessera::detail
