// BlockIterator: spatial (one band, tile-sized blocks) and spectral (one line, all bands)
// walks over a region, each block read through View::read: the public API only.
#include "tessera/iterator.h"

#include <bit>

namespace tessera {

struct BlockIterator::State {
  const View* view;
  std::string image;
  Region region;
  Selection sel;
  IterationMode mode;
  std::vector<uint32_t> bands;
  size_t sample;
  int64_t tile;  // tile edge: spatial blocks follow the tile grid
  int64_t first_column, first_row;  // tile coordinates of the region's first tile
  uint64_t blocks_across, blocks_down, count, next = 0;
  std::vector<uint8_t> buffer;
  Block block;
};

Result<BlockIterator> BlockIterator::create(const View& view, std::string_view image,
                                            const Region& region, const Selection& sel,
                                            IterationMode mode) {
  TESSERA_ASSIGN_OR_RETURN(Request request, view.check(image, region, sel));
  const ImageInfo* info = &request.image;
  auto state = std::make_unique<State>();
  state->view = &view;
  state->image = std::string(image);
  state->region = region;
  state->sel = sel;
  state->mode = mode;
  state->bands = std::move(request.bands);
  state->sample = sample_size(info->spec.type);
  state->tile = info->spec.tile_size;
  const int shift = std::countr_zero(info->spec.tile_size);
  state->first_column = region.x >> shift;
  state->first_row = region.y >> shift;
  if (mode == IterationMode::kSpatial) {
    state->blocks_across = uint64_t(((region.x_end() - 1) >> shift) - state->first_column + 1);
    state->blocks_down = uint64_t(((region.y_end() - 1) >> shift) - state->first_row + 1);
    state->count = state->blocks_across * state->blocks_down * state->bands.size();
  } else {
    state->blocks_across = 1;
    state->blocks_down = uint64_t(region.height);
    state->count = state->blocks_down;
  }
  return BlockIterator(std::move(state));
}

BlockIterator::BlockIterator(std::unique_ptr<State> state) : state_(std::move(state)) {}
BlockIterator::BlockIterator(BlockIterator&&) noexcept = default;
BlockIterator& BlockIterator::operator=(BlockIterator&&) noexcept = default;
BlockIterator::~BlockIterator() = default;

const Block& BlockIterator::block() const { return state_->block; }
uint64_t BlockIterator::block_count() const { return state_->count; }

Result<bool> BlockIterator::next() {
  State& s = *state_;
  if (s.next >= s.count) return false;
  const uint64_t i = s.next++;
  Block& b = s.block;
  Selection sel = s.sel;
  if (s.mode == IterationMode::kSpatial) {
    const uint64_t per_band = s.blocks_across * s.blocks_down;
    const uint64_t within = i % per_band;
    const int64_t bx = int64_t(within % s.blocks_across), by = int64_t(within / s.blocks_across);
    b.region = Region{(s.first_column + bx) * s.tile, (s.first_row + by) * s.tile, s.tile, s.tile}
                   .intersect(s.region);
    b.bands = {s.bands[i / per_band]};
  } else {
    b.region = Region{s.region.x, s.region.y + int64_t(i), s.region.width, 1};
    b.bands = s.bands;
  }
  sel.bands = b.bands;
  const Interleave layout = s.mode == IterationMode::kSpatial ? Interleave::kBSQ : Interleave::kBIL;
  b.strides = Strides::packed(layout, b.region.width, b.region.height, b.bands.size(), s.sample);
  b.size = size_t(b.region.pixel_count()) * b.bands.size() * s.sample;
  s.buffer.resize(b.size);
  b.data = s.buffer.data();
  TESSERA_RETURN_IF_ERROR(s.view->read(s.image, b.region, sel, s.buffer.data(), b.size, b.strides));
  return true;
}

}  // namespace tessera
