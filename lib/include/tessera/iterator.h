// tessera/iterator.h — walking a region block by block, as image processing code does.
//
//  Spatial mode: one band at a time; for each band, the parts of the region inside each tile
//  of the image's tile grid, in row-major order (the ENVI "spatial" iterator; following the
//  grid, a block never decodes more than one tile). Each block is one band, densely packed,
//  width x height.
//  Spectral mode: one line of the region at a time with every selected band, laid out BIL
//  (bands x width): what per-pixel spectral code wants.
//
// An iterator reads through a View (Snapshot or WriteTxn), which must outlive it. Each block's
// data stays valid until the next call to next().
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/export.h"
#include "tessera/container.h"

namespace tessera {

enum class IterationMode : uint8_t { kSpatial, kSpectral };

struct Block {
  Region region;             // pixels this block covers (inside the iterated region)
  std::vector<uint32_t> bands;  // spatial: the one band; spectral: every selected band
  const void* data = nullptr;
  size_t size = 0;           // bytes at data
  Strides strides;           // layout of data
};

class TESSERA_API BlockIterator {
 public:
  // Errors: as View::read (unknown image or frame, invalid region or band).
  static Result<BlockIterator> create(const View& view, std::string_view image,
                                      const Region& region, const Selection& sel,
                                      IterationMode mode);
  BlockIterator(BlockIterator&&) noexcept;
  BlockIterator& operator=(BlockIterator&&) noexcept;
  ~BlockIterator();

  // Moves to the next block: true when there is one, false at the end, or an error.
  Result<bool> next();
  const Block& block() const;
  // Number of blocks the iteration yields in all.
  uint64_t block_count() const;

 private:
  struct State;
  explicit BlockIterator(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace tessera
