// A mapped image resolved against the transaction that reads it: its sources found (ordinary
// images, or mapped images resolved in turn, at most kMaxMappedDepth deep and without cycles),
// checked to agree, and what it looks like as an image (ImageInfo with `mapped` set).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "store/env.h"
#include "tessera/mapped.h"

namespace tessera::detail {

struct MappedImage {
  struct Source {
    ImageInfo image;                             // as it is read (a mapped one: its ImageInfo)
    std::shared_ptr<const MappedImage> mapped;   // set when the source is a mapped image
    uint32_t frame = 0;
    std::vector<uint32_t> bands;                 // the source band of each mapped band
    Affine transform;                            // source to mapped, level 0
    std::vector<uint8_t> nodata;                 // the source's fill on those bands
    uint32_t levels = 0;                         // pyramid levels of that frame built (for a mapped source: of all its sources)
  };
  ImageInfo info;
  MappedValue value;
  std::vector<Source> sources;
  uint32_t levels = 0;  // levels 1 .. levels are built for every source
};

// The mapped image `name` as `txn` sees it. kNotFound when there is no mapped image of that
// name; kInvalidArgument naming the source when one is missing, has no such frame or band,
// differs from the first in sample type or band count, or when the fill is not one pixel, the
// images stand on each other in a cycle or more than kMaxMappedDepth deep. The caller holds the
// transaction's LMDB mutex (pyramid records are read).
Result<std::shared_ptr<const MappedImage>> resolve_mapped(const Txn& txn, std::string_view name);

// resolve_mapped of a definition not stored yet (WriteTxn::define_mapped checks it so); without a
// fill it takes the first source's no-data pixel.
Result<std::shared_ptr<const MappedImage>> resolve_mapped(const Txn& txn, std::string_view name,
                                                          const MappedValue& value);

// The level-L transform of a level-0 one: coordinates at level L are those of level 0 divided by
// 2^L, so only the translation scales.
Affine transform_at_level(const Affine& transform, uint32_t level);
// The inverse of an invertible transform.
Affine inverse(const Affine& transform);

}  // namespace tessera::detail
