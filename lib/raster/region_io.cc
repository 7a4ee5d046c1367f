#include "raster/region_io.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "format/chunk_codec.h"
#include "raster/frames.h"
#include "raster/geometry.h"
#include "raster/tile_index.h"
#include "store/chunk_pool.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

// Raw tile bytes in one write batch. Small enough that one strip of a wide image makes
// several batches (the pipeline below overlaps preparing batch k+1 with applying batch k
// only inside one write call), large enough to keep every worker busy.
constexpr size_t kWriteBatchBytes = size_t(4) << 20;

// Planes of the caller's buffer for bands 0..n-1, starting at pixel (x, y) of the region.
std::vector<uint8_t*> caller_planes(const CallerBuffer& buf, size_t bands, int64_t x, int64_t y) {
  std::vector<uint8_t*> planes(bands);
  for (size_t i = 0; i < bands; ++i)
    planes[i] = buf.data + i * buf.strides.band + y * buf.strides.line + x * buf.strides.pixel;
  return planes;
}

// Fills the covered part of the caller's buffer with one pixel (fill or uniform value).
void broadcast_pixel(const TileLayout& t, const uint8_t* pixel, const std::vector<uint32_t>& bands,
                     const CallerBuffer& dst, const Region& part, const Region& region) {
  std::vector<const uint8_t*> src(bands.size());
  for (size_t i = 0; i < bands.size(); ++i) src[i] = pixel + bands[i] * t.sample;
  auto out = caller_planes(dst, bands.size(), part.x - region.x, part.y - region.y);
  copy_block(BandPlanes{src, 0, 0}, MutableBandPlanes{out, dst.strides.pixel, dst.strides.line},
             part.width, part.height, t.sample);
}

// A chunk error, with the file, image, tile and chunk it happened in.
Status in_chunk_context(const Txn& txn, const ImageInfo& image, TileCoord tile, uint32_t frame,
                        const ChunkKey& key, const Status& s) {
  if (s.is_ok()) return s;
  return Status(s.code(), txn.env().path() + ": " + tile_context(image, tile, frame) + ": chunk " +
                              chunk_key_hex(key) + ": " + s.message());
}

Status decode_tile(const Txn& txn, const ImageInfo& image, TileCoord tile, uint32_t frame,
                   const ChunkKey& key, const MDB_val& value, uint8_t* out, size_t size) {
  return in_chunk_context(txn, image, tile, frame, key,
                          decode_chunk(bytes_of(value), value.mv_size, out, size));
}

// Decoded bytes (a whole tile, or one block of a chunk) from this process's cache, else from
// the shared one, else from `decode(buffer)`: into a buffer the process cache then keeps if
// there is one, else into `scratch`. `held` keeps a cached buffer alive while it is read.
struct Decoded {
  TileCache::Tile held;
  const uint8_t* data = nullptr;
};
template <class Decode>
Status obtain_decoded(Env& env, const ChunkKey& key, size_t size, AlignedBuffer& scratch,
                      Decode&& decode, Decoded& out) {
  TileCache* cache = env.tile_cache();
  // An entry of another size can only come from a chunk shared by images whose tiles differ
  // in size (a damaged file): not trusted, decoded (and refused) afresh.
  if (cache && (out.held = cache->find(key)) && out.held->size() == size) {
    out.data = out.held->data();
    return Status::ok();
  }
  std::shared_ptr<AlignedBuffer> fresh;
  if (cache) fresh = std::make_shared<AlignedBuffer>(size);
  else scratch.resize(size);
  uint8_t* buffer = fresh ? fresh->data() : scratch.data();
  SharedTileCache* shared = env.shared_cache();
  const ChunkKey shared_key = shared ? env.shared_cache_key(key) : ChunkKey{};
  if (!shared || !shared->get(shared_key, buffer, size)) {
    TESSERA_RETURN_IF_ERROR(decode(buffer));
    if (shared) shared->put(shared_key, buffer, size);
  }
  if (fresh) cache->insert(key, fresh);
  out.held = std::move(fresh);
  out.data = buffer;
  return Status::ok();
}

}  // namespace

Result<std::vector<uint32_t>> selected_bands(const std::string& path, const ImageInfo& image,
                                             const Region& region, const Selection& sel) {
  const std::string where = path + ": image '" + image.name + "'";
  if (!region.is_valid())
    return Status(Code::kInvalidArgument,
                  where + ": region " + to_string(region) +
                      " is empty or reaches past the signed 64-bit coordinate range");
  if (sel.level != 0)
    return Status(Code::kNotFound,
                  where + ": pyramid level " + std::to_string(sel.level) + " has not been built");
  std::vector<uint32_t> bands = sel.bands;
  if (bands.empty())
    for (uint32_t b = 0; b < image.spec.bands; ++b) bands.push_back(b);
  for (uint32_t b : bands)
    if (b >= image.spec.bands)
      return Status(Code::kInvalidArgument, where + ": band " + std::to_string(b) +
                                                " is out of range (the image has " +
                                                std::to_string(image.spec.bands) + " bands)");
  return bands;
}

Status frame_exists(const std::string& path, const ImageInfo& image, uint32_t frame) {
  if (frame < image.frames) return Status::ok();
  return Status(Code::kNotFound, path + ": image '" + image.name + "' has no frame " +
                                     std::to_string(frame) + " (it has " +
                                     std::to_string(image.frames) + ")");
}

namespace {

// selected_bands, plus the caller's buffer: strides and size.
Result<std::vector<uint32_t>> resolve_selection(const Txn& txn, const ImageInfo& image,
                                                const Region& region, const Selection& sel,
                                                const CallerBuffer& buffer) {
  auto bands = selected_bands(txn.env().path(), image, region, sel);
  if (!bands) return bands;
  const Env& env = txn.env();
  const std::string where = "image '" + image.name + "'";
  const Strides& st = buffer.strides;
  if (st.pixel < 0 || st.line < 0 || st.band < 0)
    return env.error(Code::kInvalidArgument, where + ": negative buffer strides");
  const size_t sample = sample_size(image.spec.type);
  const uint64_t need = required_bytes(st, region.width, region.height, bands->size(), sample);
  if (need > buffer.size)
    return env.error(Code::kInvalidArgument,
                     where + ": buffer of " + std::to_string(buffer.size) + " bytes is too small for region " +
                         to_string(region) + " x " + std::to_string(bands->size()) + " bands (" +
                         std::to_string(need) + " bytes)");
  return bands;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Read path

Status read_region(Txn& txn, const ImageInfo& image, const Region& region, const Selection& sel,
                   const CallerBuffer& dst) {
  auto bands = resolve_selection(txn, image, region, sel, dst);
  if (!bands) return bands.status();
  TESSERA_RETURN_IF_ERROR(frame_exists(txn.env().path(), image, sel.frame));
  const TileLayout t(image);
  const TileRange range = tiles_of(t, region);
  const std::vector<uint8_t>* fill = &image.fill_pixel;
  struct Job {
    TileCoord tile;
    Region part;
    std::optional<TileVersion> version;
    MDB_val chunk{};
    TileCache::Tile cached;  // the whole decoded tile, when the cache has it
    std::vector<TileCache::Tile> cached_bands;  // or each selected band's block
    bool served() const { return cached || !cached_bands.empty(); }
  };
  // Chunks of a planar image of several bands are read band by band when they are encoded so
  // (version 2): only the selected bands' blocks are decoded and cached. The cache is
  // consulted here first, so a read that it serves entirely runs on this thread and fetches
  // no chunk.
  const bool by_band = t.chunk_blocks() > 1;
  TileCache* cache = txn.env().tile_cache();
  std::vector<Job> jobs;
  jobs.reserve(range.count());
  {
    // Lookups run on this thread, one at a time per transaction; decoding runs in parallel.
    std::lock_guard lock(txn.lmdb_mutex());
    TileLookup lookup(txn, image, sel.frame);
    TESSERA_RETURN_IF_ERROR(lookup.status());
    ChunkPool pool(txn);
    for (int64_t ty = range.y0; ty <= range.y1; ++ty)
      for (int64_t tx = range.x0; tx <= range.x1; ++tx) {
        Job job{{tx, ty}, t.tile_region({tx, ty}).intersect(region), {}, {}, {}};
        auto version = lookup.find(job.tile);
        if (!version) return version.status();
        job.version = std::move(version.value());
        if (job.version && job.version->value.kind == TileKind::kChunk) {
          const ChunkKey& key = job.version->value.chunk;
          if (cache && by_band) {
            for (uint32_t band : *bands) {
              TileCache::Tile block = cache->find(TileCache::block_key(key, band, t.bands));
              if (!block || block->size() != t.tile_bytes() / t.bands) {
                job.cached_bands.clear();
                break;
              }
              job.cached_bands.push_back(std::move(block));
            }
          }
          // A whole tile: any chunk of a chunky image, a version 1 chunk of a planar one.
          if (cache && job.cached_bands.empty()) {
            job.cached = cache->find(key);
            if (job.cached && job.cached->size() != t.tile_bytes()) job.cached = nullptr;
          }
          if (job.served()) {
            jobs.push_back(std::move(job));
            continue;
          }
          auto chunk = pool.get(job.version->value.chunk);
          if (!chunk)
            return chunk.status().with_context(tile_context(image, job.tile, job.version->frame));
          job.chunk = *chunk;
        }
        jobs.push_back(std::move(job));
      }
  }

  std::mutex error_mutex;
  Status first_error;
  auto run = [&](size_t i) {
    const Job& job = jobs[i];
    const TileValue* value = job.version ? &job.version->value : nullptr;
    if (!value || value->kind == TileKind::kTombstone) {
      broadcast_pixel(t, fill->data(), *bands, dst, job.part, region);
      return;
    }
    if (value->kind == TileKind::kUniform) {
      broadcast_pixel(t, value->uniform.data(), *bands, dst, job.part, region);
      return;
    }
    thread_local AlignedBuffer scratch;
    const int64_t x = job.part.x - job.tile.x * int64_t(t.tile_size);
    const int64_t y = job.part.y - job.tile.y * int64_t(t.tile_size);
    auto out = caller_planes(dst, bands->size(), job.part.x - region.x, job.part.y - region.y);
    // Copies bands [first, first + src.size()) of the selection from the decoded samples.
    auto copy_out = [&](std::span<const uint8_t* const> src, size_t first) {
      copy_block(BandPlanes{src, t.pixel_stride(), t.line_stride()},
                 MutableBandPlanes{std::span(out).subspan(first, src.size()), dst.strides.pixel,
                                   dst.strides.line},
                 job.part.width, job.part.height, t.sample);
    };
    // The selected bands' first samples in a whole decoded tile.
    auto band_sources = [&](const uint8_t* tile) {
      std::vector<const uint8_t*> src(bands->size());
      for (size_t k = 0; k < bands->size(); ++k) src[k] = tile + t.sample_offset(x, y, (*bands)[k]);
      return src;
    };
    // Without a process cache, a block stored raw (codec none, or incompressible) is read
    // where it lies in the map: no decode, no copy into a buffer. (A cache keeps a copy, whose
    // hits skip verifying the checksum again.)
    auto in_place = [&](const ChunkBlocks& blocks, uint32_t block, Decoded& found) {
      if (cache) return Status::ok();
      auto raw = blocks.raw(block);
      if (!raw) return raw.status();
      found.data = *raw;
      return Status::ok();
    };
    const uint32_t frame = job.version->frame;
    Status status;
    if (!job.cached_bands.empty()) {
      for (size_t k = 0; k < bands->size(); ++k) {
        const uint8_t* src = job.cached_bands[k]->data() + t.sample_offset(x, y, 0);
        copy_out({&src, 1}, k);
      }
    } else if (job.cached) {
      copy_out(band_sources(job.cached->data()), 0);
    } else if (auto blocks = ChunkBlocks::open(bytes_of(job.chunk), job.chunk.mv_size, t.tile_bytes());
               !blocks) {
      status = blocks.status();
    } else if (by_band && blocks->count() == t.bands) {
      const size_t plane = blocks->info().block_raw_size();
      for (size_t k = 0; k < bands->size() && status.is_ok(); ++k) {
        const uint32_t band = (*bands)[k];
        Decoded decoded;
        status = in_place(*blocks, band, decoded);
        if (status.is_ok() && !decoded.data)
          status = obtain_decoded(
              txn.env(), TileCache::block_key(value->chunk, band, t.bands), plane, scratch,
              [&](uint8_t* buffer) { return blocks->decode(band, buffer, plane); }, decoded);
        if (status.is_ok()) {
          const uint8_t* src = decoded.data + t.sample_offset(x, y, 0);
          copy_out({&src, 1}, k);
        }
      }
    } else {
      Decoded decoded;
      if (blocks->count() == 1) status = in_place(*blocks, 0, decoded);
      if (status.is_ok() && !decoded.data)
        status = obtain_decoded(
            txn.env(), value->chunk, t.tile_bytes(), scratch,
            [&](uint8_t* buffer) { return blocks->decode_all(buffer, t.tile_bytes()); }, decoded);
      if (status.is_ok()) copy_out(band_sources(decoded.data), 0);
    }
    if (!status.is_ok()) status = in_chunk_context(txn, image, job.tile, frame, value->chunk, status);
    if (!status.is_ok()) {
      std::lock_guard lock(error_mutex);
      if (first_error.is_ok()) first_error = status;
    }
  };
  const bool any_chunk = std::any_of(jobs.begin(), jobs.end(), [](const Job& j) {
    return j.version && j.version->value.kind == TileKind::kChunk && !j.served();
  });
  if (any_chunk) txn.env().pool().parallel_for(jobs.size(), run);
  else for (size_t i = 0; i < jobs.size(); ++i) run(i);
  return first_error;
}

// ---------------------------------------------------------------------------------------
// Write path

namespace {

struct WriteJob {
  TileCoord tile;
  Region part;
  std::optional<TileVersion> visible;  // what the frame showed before this write
  bool partial = false;                // the write leaves some of the tile's samples as they were
  std::vector<uint8_t> old_copy;       // the old chunk, copied, when partial
  TileValue next;                      // what it shows after
  ContentHash hash;
  AlignedBuffer raw;
  AlignedBuffer encoded;
  Status status;
};

bool same_content(const std::optional<TileVersion>& before, const TileValue& after) {
  const bool was_absent = !before || before->value.kind == TileKind::kTombstone;
  if (after.kind == TileKind::kTombstone) return was_absent;
  return !was_absent && before->value == after;
}

// Builds the new content of one tile and classifies it; runs on the pool.
void prepare_tile(const Txn& txn, const ImageInfo& image, const TileLayout& t,
                  const std::vector<uint8_t>& fill, const std::vector<uint32_t>& bands,
                  const Region& region, const CallerBuffer& src, WriteJob& job) {
  job.raw.resize(t.tile_bytes());
  uint8_t* tile = job.raw.data();
  if (job.partial) {
    const TileValue* old = job.visible ? &job.visible->value : nullptr;
    if (old && old->kind == TileKind::kChunk) {
      const MDB_val old_chunk{job.old_copy.size(), job.old_copy.data()};
      job.status = decode_tile(txn, image, job.tile, job.visible->frame, old->chunk, old_chunk,
                               tile, t.tile_bytes());
      if (!job.status.is_ok()) return;
    } else {
      fill_tile_with(t, old && old->kind == TileKind::kUniform ? old->uniform.data() : fill.data(), tile);
    }
  }
  const int64_t x = job.part.x - job.tile.x * int64_t(t.tile_size);
  const int64_t y = job.part.y - job.tile.y * int64_t(t.tile_size);
  std::vector<const uint8_t*> in(bands.size());
  for (size_t i = 0; i < bands.size(); ++i)
    in[i] = src.data + i * src.strides.band + (job.part.y - region.y) * src.strides.line +
            (job.part.x - region.x) * src.strides.pixel;
  std::vector<uint8_t*> out(bands.size());
  for (size_t i = 0; i < bands.size(); ++i) out[i] = tile + t.sample_offset(x, y, bands[i]);
  copy_block(BandPlanes{in, src.strides.pixel, src.strides.line},
             MutableBandPlanes{out, t.pixel_stride(), t.line_stride()}, job.part.width,
             job.part.height, t.sample);

  std::vector<uint8_t> pixel;
  if (uniform_pixel(t, tile, pixel)) {
    job.next.kind = pixel == fill ? TileKind::kTombstone : TileKind::kUniform;
    job.next.uniform = job.next.kind == TileKind::kUniform ? std::move(pixel) : std::vector<uint8_t>{};
    return;
  }
  job.next.kind = TileKind::kChunk;
  job.hash = content_hash(tile, t.tile_bytes());
  encode_chunk(tile, t.tile_bytes(), t.sample, image.spec.codec, image.spec.shuffle,
               t.chunk_blocks(), job.encoded);
}

// Puts `value` as the record of `tile` in `frame`, keeping chunk references right: the new
// value's chunk reference is owned by the caller already; the replaced record's is dropped.
Status put_version(Txn& txn, ChunkPool& chunks, const ImageInfo& image, TileCoord tile,
                   uint32_t frame, const TileValue& value, const std::optional<TileVersion>& replaced) {
  const TileKeyBytes key = encode_tile_key(TileKey{image.id, 0, tile, frame});
  TESSERA_RETURN_IF_ERROR(txn.put(txn.env().tiles, key, build_tile_record(key, value)));
  if (replaced && replaced->value.kind == TileKind::kChunk) return chunks.release(replaced->value.chunk);
  return Status::ok();
}

Status delete_version(Txn& txn, ChunkPool& chunks, const ImageInfo& image, TileCoord tile,
                      const TileVersion& replaced) {
  TESSERA_RETURN_IF_ERROR(
      txn.del(txn.env().tiles, encode_tile_key(TileKey{image.id, 0, tile, replaced.frame})));
  return replaced.value.kind == TileKind::kChunk ? chunks.release(replaced.value.chunk)
                                                 : Status::ok();
}

// Applies one prepared tile to the transaction (single thread). `following` looks up frame
// + 1 when that frame exists. Sets `changed` when what the frame shows at the tile changed.
Status apply_tile(Txn& txn, TileLookup& here, TileLookup* following, ChunkPool& chunks,
                  const ImageInfo& image, const TileLayout& t, uint32_t frame, WriteJob& job,
                  bool& changed) {
  changed = false;
  if (job.next.kind == TileKind::kChunk) {
    // Dedup first: rewriting a tile with the content it has must change nothing.
    auto key = chunks.put_deduplicated({job.raw.data(), job.raw.size()}, job.hash,
                                       {job.encoded.data(), job.encoded.size()});
    if (!key) return key.status().with_context(tile_context(image, job.tile, frame));
    job.next.chunk = *key;
  }
  if (same_content(job.visible, job.next))
    return job.next.kind == TileKind::kChunk ? chunks.release(job.next.chunk) : Status::ok();
  changed = true;
  // The next frame, where it inherited the old content, must keep showing it: pin it there
  // unless that frame has a version of its own (the tile's or its macro block's).
  if (following) {
    auto next = following->find(job.tile);
    if (!next) return next.status();
    if (!*next || (*next)->frame != frame + 1) {
      TileValue pinned = job.visible ? job.visible->value : TileValue{};
      if (pinned.kind == TileKind::kChunk) TESSERA_RETURN_IF_ERROR(chunks.add_ref(pinned.chunk));
      TESSERA_RETURN_IF_ERROR(put_version(txn, chunks, image, job.tile, frame + 1, pinned, {}));
    }
  }
  // The tile's own record in this frame, which the new one replaces.
  const std::optional<TileVersion> own =
      job.visible && !job.visible->macro && job.visible->frame == frame ? job.visible
                                                                        : std::nullopt;
  if (job.next.kind == TileKind::kTombstone) {
    // Absent: remove this frame's own record; write a tombstone only if something would
    // otherwise show through (an earlier version of the tile, or its macro block).
    std::optional<TileVersion> beneath = job.visible;
    if (own) {
      std::optional<TileVersion> earlier;
      if (frame > 0) {
        auto found = here.own(job.tile, frame - 1);
        if (!found) return found.status();
        earlier = std::move(*found);
      }
      auto block = here.macro(t.macro_of(job.tile));
      if (!block) return block.status();
      beneath = shown_version(std::move(earlier), std::move(*block));
    }
    if (beneath && beneath->value.kind != TileKind::kTombstone)
      return put_version(txn, chunks, image, job.tile, frame, job.next, own);
    return own ? delete_version(txn, chunks, image, job.tile, *own) : Status::ok();
  }
  return put_version(txn, chunks, image, job.tile, frame, job.next, own);
}

// Macro blocks a write touched, for collapsing: whether every tile the write touched in the
// block shows one uniform value, and whether any of them changed.
struct TouchedBlock {
  bool uniform = true;
  bool changed = false;
  std::vector<uint8_t> value;
};
using TouchedBlocks = std::map<std::pair<int64_t, int64_t>, TouchedBlock>;

void note_block(const TileLayout& t, const WriteJob& job, bool changed, TouchedBlocks& blocks) {
  const TileCoord m = t.macro_of(job.tile);
  TouchedBlock& block = blocks[{m.x, m.y}];
  block.changed |= changed;
  if (!block.uniform) return;
  if (job.next.kind != TileKind::kUniform) {
    block.uniform = false;
    block.value.clear();
  } else if (block.value.empty()) {
    block.value = job.next.uniform;
  } else if (block.value != job.next.uniform) {
    block.uniform = false;
  }
}

// Collapses a macro block whose every tile frame `frame` shows holds one uniform value into
// one record: the block's record in this frame, the tiles' own records of this frame removed.
// What any frame shows is unchanged: later frames see the same value through the block
// record, earlier frames do not see it, and tiles' records of later frames still win.
Status collapse_block(Txn& txn, ChunkPool& chunks, const ImageInfo& image, uint32_t frame,
                      TileCoord block, const std::vector<uint8_t>& value) {
  const TileLayout t(image);
  TileLookup lookup(txn, image, frame);
  TESSERA_RETURN_IF_ERROR(lookup.status());
  const TileRange tiles = t.tiles_of_macro(block);
  std::vector<std::pair<TileCoord, TileVersion>> own_here;
  for (int64_t y = tiles.y0; y <= tiles.y1; ++y)
    for (int64_t x = tiles.x0; x <= tiles.x1; ++x) {
      auto shown = lookup.find({x, y});
      if (!shown) return shown.status();
      if (!*shown || (*shown)->value.kind != TileKind::kUniform || (*shown)->value.uniform != value)
        return Status::ok();  // not one value: nothing to collapse
      if (!(*shown)->macro && (*shown)->frame == frame) own_here.emplace_back(TileCoord{x, y}, **shown);
    }
  const TileKeyBytes key = encode_tile_key(TileKey{image.id, kMacroLevelFlag, block, frame});
  const TileValue uniform{TileKind::kUniform, value, {}};
  TESSERA_RETURN_IF_ERROR(txn.put(txn.env().tiles, key, build_tile_record(key, uniform)));
  for (const auto& [tile, version] : own_here)
    TESSERA_RETURN_IF_ERROR(delete_version(txn, chunks, image, tile, version));
  return Status::ok();
}

}  // namespace

Status write_region(Txn& txn, ImageInfo& image, const Region& region, const Selection& sel,
                    const CallerBuffer& src) {
  Env& env = txn.env();
  if (!txn.writable()) return env.error(Code::kReadOnly, "write outside a write transaction");
  auto bands = resolve_selection(txn, image, region, sel, src);
  if (!bands) return bands.status();
  for (size_t i = 0; i < bands->size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if ((*bands)[i] == (*bands)[j])
        return env.error(Code::kInvalidArgument, "image '" + image.name + "': band " +
                                                     std::to_string((*bands)[i]) +
                                                     " is selected twice for a write");
  if (sel.frame == UINT32_MAX)
    return env.error(Code::kInvalidArgument, "image '" + image.name + "': frame numbers end at " +
                                                 std::to_string(UINT32_MAX - 1));
  if (sel.frame > image.frames)
    return env.error(Code::kNotFound, "image '" + image.name + "' has no frame " +
                                          std::to_string(sel.frame) + " to write (it has " +
                                          std::to_string(image.frames) +
                                          "; frames are appended in order)");
  const TileLayout t(image);
  const std::vector<uint8_t>* fill = &image.fill_pixel;
  const uint32_t frames_before = image.frames;
  const TileRange range = tiles_of(t, region);
  // Each batch holds raw tiles and their encoded chunks; two batches are in flight.
  const size_t per_batch = std::max<size_t>(2 * env.pool().size(), kWriteBatchBytes / t.tile_bytes());

  std::lock_guard lock(txn.lmdb_mutex());
  TileLookup here(txn, image, sel.frame);
  TESSERA_RETURN_IF_ERROR(here.status());
  std::optional<TileLookup> following;
  if (sel.frame + 1 < frames_before) following.emplace(txn, image, sel.frame + 1);
  ChunkPool chunks(txn);
  FrameChanges changes;
  TouchedBlocks blocks;
  const bool collapsing = t.macro_shift > 0;
  // Two batches in flight: the workers prepare batch k+1 (copy, classify, hash, compress)
  // while this thread applies batch k to the transaction.
  // The batches (and their tile buffers) stay with the writing thread from call to call:
  // fresh buffers for every strip of an import would cost a page fault per page.
  // (Workers reach them through this reference: a thread_local named inside a lambda would
  // be the worker's own.)
  thread_local std::vector<WriteJob> kept[2];
  std::vector<WriteJob>(&batches)[2] = kept;
  for (auto& batch : batches)
    if (batch.size() < per_batch) batch.resize(per_batch);  // grows only: kept buffers stay
  size_t sizes[2] = {0, 0};
  int64_t tx = range.x0, ty = range.y0;
  // Looks up what the next batch's tiles show now. The old chunk of a partly covered tile is
  // copied: the workers decode it while this thread applies the previous batch, which may
  // change or spill the page it lives on (an address inside the map proves nothing).
  auto collect = [&](std::vector<WriteJob>& jobs) -> Result<size_t> {
    size_t n = 0;
    for (; n < per_batch && ty <= range.y1; ++n) {
      WriteJob& job = jobs[n];
      job.tile = {tx, ty};
      job.part = t.tile_region(job.tile).intersect(region);
      job.next = TileValue{};
      job.status = Status::ok();
      job.old_copy.clear();
      auto visible = here.find(job.tile);
      if (!visible) return visible.status();
      job.visible = std::move(visible.value());
      job.partial = job.part != t.tile_region(job.tile) || bands->size() != t.bands;
      if (job.partial && job.visible && job.visible->value.kind == TileKind::kChunk) {
        auto chunk = chunks.get(job.visible->value.chunk);
        if (!chunk) return chunk.status().with_context(tile_context(image, job.tile, sel.frame));
        job.old_copy.assign(bytes_of(*chunk), bytes_of(*chunk) + chunk->mv_size);
      }
      if (++tx > range.x1) tx = range.x0, ++ty;
    }
    return n;
  };
  std::function<void(size_t)> prepare[2];
  for (int b = 0; b < 2; ++b)
    prepare[b] = [&, b](size_t i) { prepare_tile(txn, image, t, *fill, *bands, region, src, batches[b][i]); };

  auto first = collect(batches[0]);
  if (!first) return first.status();
  sizes[0] = *first;
  WorkerPool::Pending pending = env.pool().start(sizes[0], prepare[0]);
  for (int cur = 0; sizes[cur] > 0; cur ^= 1) {
    pending.wait();
    auto next = collect(batches[cur ^ 1]);
    if (!next) return next.status();
    sizes[cur ^ 1] = *next;
    pending = env.pool().start(sizes[cur ^ 1], prepare[cur ^ 1]);
    Status applied;
    for (size_t i = 0; i < sizes[cur] && applied.is_ok(); ++i) {
      WriteJob& job = batches[cur][i];
      applied = job.status;
      bool changed = false;
      if (applied.is_ok())
        applied = apply_tile(txn, here, following ? &*following : nullptr, chunks, image, t,
                             sel.frame, job, changed);
      if (!applied.is_ok()) break;
      if (changed)
        changes.note(job.tile, job.part, job.visible && job.visible->value.kind != TileKind::kTombstone,
                     job.next.kind != TileKind::kTombstone);
      if (collapsing) note_block(t, job, changed, blocks);
    }
    if (!applied.is_ok()) {
      pending.wait();  // the workers still use this frame's buffers
      return applied;
    }
  }
  for (const auto& [m, block] : blocks)
    if (block.changed && block.uniform)
      TESSERA_RETURN_IF_ERROR(collapse_block(txn, chunks, image, sel.frame, {m.first, m.second}, block.value));
  if (sel.frame == image.frames) TESSERA_RETURN_IF_ERROR(append_frame(txn, image));
  return update_geometry(txn, image, sel.frame, changes);
}

}  // namespace tessera::detail
