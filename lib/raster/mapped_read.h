// Reads of a mapped image (spec/FORMAT.md 5.7): the region in blocks; for each block and each
// source, the source window its inverse-transformed block touches (clipped to the source's data)
// read through the ordinary read path (or, for a mapped source, this one), sampled at each
// pixel's centre and blended with the other sources. Also the boxes, the levels and the content
// tag a mapped image has, all from its sources.
#pragma once

#include <optional>
#include <string>

#include "raster/mapped_image.h"
#include "raster/request.h"
#include "raster/runtime.h"

namespace tessera::detail {

// The largest source window one block may need (a transform that shrinks a source by a lot
// needs a coarser level): bytes of the window's pixels.
inline constexpr uint64_t kMaxMappedWindowBytes = uint64_t(256) << 20;

// Reads `region` of level sel.level of `image` (frame 0) into `dst`. With `max_reduction`
// nullopt every source must have the level built (check_mapped_level), as View::read wants; with
// a value the sources' levels are read as View::read_reduced reads them. Checks the request
// itself; takes the transaction's LMDB mutex itself.
Status read_mapped(Txn& txn, Runtime& runtime, const MappedImage& image, const Region& region,
                   const Selection& sel, std::optional<uint32_t> max_reduction, const CallerBuffer& dst);

// kNotFound naming the first source that lacks level sel.level (reads of built levels only).
Status check_mapped_level(const Txn& txn, const MappedImage& image, const Selection& sel);

// The box of the data at `precision`, level 0: the union of the sources' boxes at that precision,
// each transformed (the box holding its transformed corners, rounded outwards); nullopt when no
// source holds data. The caller holds the transaction's LMDB mutex.
Result<std::optional<Region>> mapped_bounds(Txn& txn, Runtime& runtime, const MappedImage& image,
                                            Precision precision);
// The region the image covers: the union of the sources' extents (a source without one declared:
// its leaf box), each transformed. The caller holds the transaction's LMDB mutex.
Result<std::optional<Region>> mapped_extent(Txn& txn, Runtime& runtime, const MappedImage& image);

// 32 hex digits naming what read_reduced of `region` gives: the definition, the level and bands,
// and the content tags of the source windows the region touches. Takes the LMDB mutex itself.
Result<std::string> mapped_content_tag(Txn& txn, Runtime& runtime, const MappedImage& image, const Region& region,
                                       const Selection& sel);

}  // namespace tessera::detail
