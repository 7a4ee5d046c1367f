// Writes made ahead of their transaction (PreparedWrite in tessera/container.h): the tiles a
// region covers whole are copied from the caller's buffer, classified, hashed and compressed
// on the pool with no transaction open (an import encodes its next batch while the last one
// commits), then applied by write_tiles like any other write. A tile covered in part needs its
// old content, which only the transaction knows: its part of the buffer is kept, and written
// when the tiles are applied.
#pragma once

#include <string>
#include <vector>

#include "raster/region_write.h"
#include "raster/runtime.h"
#include "store/env.h"

namespace tessera::detail {

struct PreparedTiles {
  ImageInfo image;               // as the tiles were made for: its layout, codec and fill
  std::vector<Region> regions;   // what was added, in order; none share a tile
  std::vector<WriteJob> jobs;    // whole tiles, encoded (raw empty): the first `tiles` hold
  size_t tiles = 0;              // this use's, the rest keep their buffers for the next
  struct Part {
    Region region;               // within one tile
    AlignedBuffer samples;       // every band, packed BIP
  };
  std::vector<Part> parts;       // likewise: the first `part_count` are this use's
  size_t part_count = 0;

  bool empty() const { return regions.empty(); }
  void clear() { regions.clear(), tiles = 0, part_count = 0; }
};

// Adds `region` of every band from `src` to `out`, made for `image` (of container `path`, for
// messages). kInvalidArgument when the region or buffer would be refused by a write, when `out`
// holds tiles made for another image (or the same one with another spec), or when the region
// shares a tile with one `out` holds already.
Status prepare_tiles(Runtime& runtime, const std::string& path, const ImageInfo& image, const Region& region,
                     const CallerBuffer& src, PreparedTiles& out);

// Writes what `prepared` holds into frame sel.frame of `image` (updated when the write appends
// the frame), as write_region of each region would; `changed` gets the tiles whose content
// changed. kInvalidArgument when `image` is not the image the tiles were made for (its id,
// spec or fill differ: it changed since) or sel names bands or a level.
Status write_prepared(Txn& txn, Runtime& runtime, ImageInfo& image, const Selection& sel,
                      PreparedTiles& prepared, std::vector<TileCoord>* changed);

}  // namespace tessera::detail
