#include "raster/tile_fetch.h"

#include <algorithm>
#include <cstring>

#include "format/chunk_codec.h"
#include "store/chunk_pool.h"
#include "util/bytes.h"

namespace tessera::detail {

TileFetcher::TileFetcher(const Txn& txn, Runtime& runtime, const ImageInfo& image,
                         std::vector<uint32_t> bands)
    : txn_(txn), runtime_(runtime), image_(image), t_(image), bands_(std::move(bands)),
      by_band_(t_.band_blocks()) {
  if (bands_.empty())
    for (uint32_t b = 0; b < t_.bands; ++b) bands_.push_back(b);
}

Status TileFetcher::in_context(const LocatedTile& located, const Status& status) const {
  if (status.is_ok()) return status;
  const std::string chunk = "chunk " + chunk_key_hex(located.chunk) + ": ";
  if (!located.named) return Status(status.code(), txn_.env().path() + ": " + chunk + status.message());
  return Status(status.code(), txn_.env().path() + ": " +
                                   tile_context(image_, located.tile, located.frame) + ": " + chunk +
                                   status.message());
}

void TileFetcher::locate_stored(const ChunkKey& chunk, std::span<const uint8_t> stored,
                                LocatedTile& out) const {
  out.named = false;
  out.chunk = chunk;
  out.stored = stored;
  out.whole = nullptr;
  out.blocks.clear();
}

Status TileFetcher::locate(TileCoord tile, const TileVersion& version, bool copy,
                           LocatedTile& out) const {
  out.tile = tile;
  out.frame = version.frame;
  out.named = true;
  out.chunk = version.value.chunk;
  out.stored = {};
  out.copy.clear();
  out.whole = nullptr;
  out.blocks.clear();
  // An entry of another size can only come from a chunk shared by images whose tiles differ
  // in size (a damaged file): not trusted, decoded (and refused) afresh.
  if (TileCache* cache = runtime_.tile_cache()) {
    if (by_band_) {
      for (uint32_t band : bands_) {
        TileCache::Tile block = cache->find(block_cache_key(out.chunk, band, t_.bands));
        if (!block || block->size() != t_.tile_bytes() / t_.bands) {
          out.blocks.clear();
          break;
        }
        out.blocks.push_back(std::move(block));
      }
    }
    // A whole tile: any chunk of a chunky image, a version 1 chunk of a planar one.
    if (out.blocks.empty()) {
      out.whole = cache->find(out.chunk);
      if (out.whole && out.whole->size() != t_.tile_bytes()) out.whole = nullptr;
    }
    if (out.served()) return Status::ok();
  }
  auto chunk = ChunkPool(const_cast<Txn&>(txn_)).get(out.chunk);
  if (!chunk) return chunk.status().with_context(tile_context(image_, tile, version.frame));
  out.stored = {bytes_of(*chunk), chunk->mv_size};
  if (copy) {
    out.copy.assign(out.stored.begin(), out.stored.end());
    out.stored = out.copy;
  }
  return Status::ok();
}

// Decoded bytes under `key` (a whole tile, or one block) from the process cache, else from the
// shared one, else from `decode(buffer)`: into a buffer the process cache then keeps if there is
// one, else into `target`. With `fill_target` the bytes always end up in `target`.
template <class Decode>
Status TileFetcher::obtain(const ChunkKey& key, size_t size, uint8_t* target, bool fill_target,
                           Decode&& decode, const uint8_t*& data, TileCache::Tile& held) const {
  TileCache* cache = runtime_.tile_cache();
  if (cache && (held = cache->find(key)) && held->size() == size) {
    data = held->data();
    if (fill_target) std::memcpy(target, data, size);
    return Status::ok();
  }
  std::shared_ptr<AlignedBuffer> fresh;
  if (cache) fresh = std::make_shared<AlignedBuffer>(size);
  uint8_t* buffer = fresh ? fresh->data() : target;
  SharedTileCache* shared = runtime_.shared_cache();
  const ChunkKey shared_key = shared ? runtime_.shared_key(key) : ChunkKey{};
  if (!shared || !shared->get(shared_key, buffer, size)) {
    TESSERA_RETURN_IF_ERROR(decode(buffer));
    if (shared) shared->put(shared_key, buffer, size);
  }
  if (fresh) {
    cache->insert(key, fresh);
    if (fill_target) std::memcpy(target, buffer, size);
  }
  held = std::move(fresh);
  data = buffer;
  return Status::ok();
}

Result<const uint8_t*> TileFetcher::raw_lines(const ChunkBlocks& blocks,
                                              std::pair<uint32_t, uint32_t> lines) const {
  const size_t line = size_t(t_.line_stride()), block = blocks.info().block_raw_size();
  uint32_t first = 0, last = blocks.count();
  if (block % line == 0) {
    const uint32_t lines_per_block = uint32_t(block / line);
    first = std::min(lines.first, t_.tile_size) / lines_per_block;
    last = (std::min(lines.second, t_.tile_size) + lines_per_block - 1) / lines_per_block;
  }
  return blocks.raw_blocks(first, last);
}

Status TileFetcher::samples(const LocatedTile& located, TileSamples& out,
                            std::pair<uint32_t, uint32_t> lines) const {
  out.band.resize(bands_.size());
  out.held.clear();
  if (!located.blocks.empty()) {
    for (size_t k = 0; k < bands_.size(); ++k) out.band[k] = located.blocks[k]->data();
    return Status::ok();
  }
  if (located.whole) {
    for (size_t k = 0; k < bands_.size(); ++k) out.band[k] = located.whole->data() + t_.band_offset(bands_[k]);
    return Status::ok();
  }
  thread_local AlignedBuffer scratch;
  auto blocks = ChunkBlocks::open(located.stored.data(), located.stored.size(), t_.tile_bytes());
  if (!blocks) return in_context(located, blocks.status());
  // Without a process cache, a block stored raw is read where it lies (no decode, no copy); an
  // uncompressed tile in blocks of lines, only the blocks of the lines asked for.
  // (A cache keeps a copy, whose hits skip verifying the checksum again.)
  const bool in_place = runtime_.tile_cache() == nullptr;
  Status status;
  if (by_band_ && blocks->count() == t_.bands) {
    const size_t plane = blocks->info().block_raw_size();
    scratch.resize(plane * bands_.size());
    for (size_t k = 0; k < bands_.size() && status.is_ok(); ++k) {
      const uint32_t band = bands_[k];
      out.band[k] = nullptr;
      if (in_place) {
        auto raw = blocks->raw(band);
        if (!raw) return in_context(located, raw.status());
        out.band[k] = *raw;
      }
      if (out.band[k]) continue;
      TileCache::Tile held;
      status = obtain(
          block_cache_key(located.chunk, band, t_.bands), plane, scratch.data() + k * plane, false,
          [&](uint8_t* buffer) { return blocks->decode(band, buffer, plane); }, out.band[k], held);
      if (held) out.held.push_back(std::move(held));
    }
    return in_context(located, status);
  }
  const uint8_t* tile = nullptr;
  if (in_place) {
    auto raw = raw_lines(*blocks, lines);
    if (!raw) return in_context(located, raw.status());
    tile = *raw;
  }
  if (!tile) {
    scratch.resize(t_.tile_bytes());
    TileCache::Tile held;
    status = obtain(
        located.chunk, t_.tile_bytes(), scratch.data(), false,
        [&](uint8_t* buffer) { return blocks->decode_all(buffer, t_.tile_bytes()); }, tile, held);
    if (!status.is_ok()) return in_context(located, status);
    if (held) out.held.push_back(std::move(held));
  }
  for (size_t k = 0; k < bands_.size(); ++k) out.band[k] = tile + t_.band_offset(bands_[k]);
  return Status::ok();
}

Status TileFetcher::decode_into(const LocatedTile& located, uint8_t* tile) const {
  const size_t plane = t_.tile_bytes() / t_.bands;
  if (located.whole) {
    std::memcpy(tile, located.whole->data(), t_.tile_bytes());
    return Status::ok();
  }
  if (located.blocks.size() == t_.bands) {
    for (size_t k = 0; k < bands_.size(); ++k)
      std::memcpy(tile + t_.band_offset(bands_[k]), located.blocks[k]->data(), plane);
    return Status::ok();
  }
  auto blocks = ChunkBlocks::open(located.stored.data(), located.stored.size(), t_.tile_bytes());
  if (!blocks) return in_context(located, blocks.status());
  const uint8_t* data = nullptr;
  TileCache::Tile held;
  if (by_band_ && blocks->count() == t_.bands) {
    for (uint32_t band = 0; band < t_.bands; ++band) {
      Status s = obtain(
          block_cache_key(located.chunk, band, t_.bands), plane, tile + t_.band_offset(band), true,
          [&](uint8_t* buffer) { return blocks->decode(band, buffer, plane); }, data, held);
      if (!s.is_ok()) return in_context(located, s);
    }
    return Status::ok();
  }
  return in_context(located, obtain(
                                 located.chunk, t_.tile_bytes(), tile, true,
                                 [&](uint8_t* buffer) { return blocks->decode_all(buffer, t_.tile_bytes()); },
                                 data, held));
}

}  // namespace tessera::detail
