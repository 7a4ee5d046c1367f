// Writing tiles: one engine (write_tiles) for every source of new tile content. A
// TileProducer says which tiles a write covers and makes each one's new content on a worker
// (region_write: the caller's buffer, read-modify-write of partly covered tiles fetched
// through raster/tile_fetch.h, uniform and fill detection, hashing and compression; merges:
// chunks another container encoded). One thread applies the results to the LMDB write
// transaction: dedup through the chunk pool, the versions later frames inherit, macro blocks
// collapsed, geometry kept up to date.
#pragma once

#include <optional>
#include <vector>

#include "format/chunk_codec.h"
#include "raster/request.h"
#include "raster/runtime.h"
#include "raster/tile_fetch.h"
#include "store/env.h"

namespace tessera::detail {

// One tile of a write, as the workers prepare it and the writing thread applies it.
struct WriteJob {
  TileCoord tile;
  Region part;                         // the part of the tile the write covers
  std::optional<TileVersion> visible;  // what the frame showed before this write
  bool partial = false;                // the write leaves some of the tile's samples as they were
  LocatedTile old;                     // the old chunk tile, when partial (a copy of it)
  TileValue next;                      // what it shows after
  ContentHash hash;                    // for a chunk: of raw
  AlignedBuffer raw;                   // for a chunk: the raw tile (dedup compares it); empty
                                       // for a prepared tile, whose chunk is decoded to compare
  AlignedBuffer encoded;               // for a chunk: its value
  size_t item = 0;                     // the producer's own index of the tile
  Status status;
};

// Where the tiles of a write come from.
class TileProducer {
 public:
  virtual ~TileProducer() = default;
  // Sets job.tile, job.part and job.partial of the next tile; false when there are no more.
  // On the writing thread.
  virtual Result<bool> next(WriteJob& job) = 0;
  // Sets job.next and, for a chunk, job.hash, job.raw and job.encoded (errors: job.status).
  // On a worker, job.visible (and job.old when partial) already set; several at once.
  virtual void prepare(WriteJob& job) const = 0;
};

// The new content of job.tile from the part of the caller's buffer `src` (holding `region`,
// bands `bands`) that job.part covers, copied over what job.raw holds (the tile's old content
// when job.partial; resized to the tile), then classified (fill, uniform or chunk: job.next),
// hashed and encoded. Needs no transaction; runs on any thread.
void encode_tile(const TileLayout& t, const ImageInfo& image, const std::vector<uint32_t>& bands,
                 const Region& region, const CallerBuffer& src, WriteJob& job);

// Writes the tiles `producer` makes into frame sel.frame, level sel.level of `image` (which
// is updated when the write appends a frame: sel.frame == frames). `changed`, when given, gets
// the tiles whose content changed. A write of a pyramid level (sel.level > 0: the pyramid's
// own, raster/pyramid.h) leaves the geometry caches, which describe level 0, alone and never
// appends a frame; the level is not checked (request.h: check_level).
Status write_tiles(Txn& txn, Runtime& runtime, ImageInfo& image, const Selection& sel, const TileFetcher& fetcher,
                   TileProducer& producer, std::vector<TileCoord>* changed = nullptr);

// Writes `region` of the bands sel.bands from the caller's buffer `src` (write_tiles).
Status write_region(Txn& txn, Runtime& runtime, ImageInfo& image, const Region& region,
                    const Selection& sel, const CallerBuffer& src,
                    std::vector<TileCoord>* changed = nullptr);

}  // namespace tessera::detail
