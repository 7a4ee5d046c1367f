#include "raster/region_write.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "format/chunk_codec.h"
#include "raster/frames.h"
#include "raster/geometry.h"
#include "raster/tile_fetch.h"
#include "store/chunk_pool.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

// Raw tile bytes in one write batch. Small enough that one strip of a wide image makes
// several batches (the pipeline below overlaps preparing batch k+1 with applying batch k
// only inside one write call), large enough to keep every worker busy.
constexpr size_t kWriteBatchBytes = size_t(4) << 20;

bool same_content(const std::optional<TileVersion>& before, const TileValue& after) {
  const bool was_absent = !before || before->value.kind == TileKind::kTombstone;
  if (after.kind == TileKind::kTombstone) return was_absent;
  return !was_absent && before->value == after;
}

// Builds the new content of one tile and classifies it; runs on the pool.
void prepare_tile(const TileFetcher& fetcher, const ImageInfo& image, const std::vector<uint32_t>& bands,
                  const Region& region, const CallerBuffer& src, WriteJob& job) {
  const TileLayout& t = fetcher.layout();
  job.raw.resize(t.tile_bytes());
  if (job.partial) {
    const TileValue* old = job.visible ? &job.visible->value : nullptr;
    if (old && old->kind == TileKind::kChunk) {
      job.status = fetcher.decode_into(job.old, job.raw.data());
      if (!job.status.is_ok()) return;
    } else {
      fill_tile_with(t, old && old->kind == TileKind::kUniform ? old->uniform.data() : image.fill_pixel.data(),
                     job.raw.data());
    }
  }
  encode_tile(t, image, bands, region, src, job);
}

}  // namespace

void encode_tile(const TileLayout& t, const ImageInfo& image, const std::vector<uint32_t>& bands,
                 const Region& region, const CallerBuffer& src, WriteJob& job) {
  const std::vector<uint8_t>& fill = image.fill_pixel;
  job.raw.resize(t.tile_bytes());
  uint8_t* tile = job.raw.data();
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
  encode_chunk(tile, t.tile_bytes(), {image.spec.codec, image.spec.filter, t.sample, t.chunk_blocks(), t.bands},
               job.encoded);
}

namespace {

// Puts `value` as the record of `tile` in `frame`, keeping chunk references right: the new
// value's chunk reference is owned by the caller already; the replaced record's is dropped.
Status put_version(Txn& txn, ChunkPool& chunks, const ImageInfo& image, uint32_t level, TileCoord tile,
                   uint32_t frame, const TileValue& value, const std::optional<TileVersion>& replaced) {
  const TileKeyBytes key = encode_tile_key(TileKey{image.id, tile_level_byte(level), tile, frame});
  TESSERA_RETURN_IF_ERROR(txn.put(txn.env().tiles, key, build_tile_record(key, value)));
  if (replaced && replaced->value.kind == TileKind::kChunk) return chunks.release(replaced->value.chunk);
  return Status::ok();
}

Status delete_version(Txn& txn, ChunkPool& chunks, const ImageInfo& image, uint32_t level,
                      TileCoord tile, const TileVersion& replaced) {
  TESSERA_RETURN_IF_ERROR(txn.del(
      txn.env().tiles, encode_tile_key(TileKey{image.id, tile_level_byte(level), tile, replaced.frame})));
  return replaced.value.kind == TileKind::kChunk ? chunks.release(replaced.value.chunk)
                                                 : Status::ok();
}

// Applies one prepared tile to the transaction (single thread). `following` looks up frame
// + 1 when that frame exists. Sets `changed` when what the frame shows at the tile changed.
Status apply_tile(Txn& txn, TileLookup& here, TileLookup* following, ChunkPool& chunks,
                  const TileFetcher& fetcher, const ImageInfo& image, uint32_t level, uint32_t frame,
                  WriteJob& job, bool& changed) {
  const TileLayout& t = fetcher.layout();
  changed = false;
  if (job.next.kind == TileKind::kChunk) {
    // Dedup first: rewriting a tile with the content it has must change nothing. A stored
    // chunk of the same hash is shared only when it holds the same bytes.
    auto same_bytes = [&](const ChunkKey& key, std::span<const uint8_t> stored) -> Result<bool> {
      thread_local AlignedBuffer existing, ours;
      existing.resize(t.tile_bytes());
      LocatedTile candidate;
      fetcher.locate_stored(key, stored, candidate);
      TESSERA_RETURN_IF_ERROR(fetcher.decode_into(candidate, existing.data()));
      const uint8_t* raw = job.raw.data();
      if (job.raw.size() == 0) {  // a prepared tile: its chunk alone was kept
        ours.resize(t.tile_bytes());
        TESSERA_RETURN_IF_ERROR(decode_chunk(job.encoded.data(), job.encoded.size(), ours.data(), ours.size()));
        raw = ours.data();
      }
      return std::memcmp(existing.data(), raw, t.tile_bytes()) == 0;
    };
    auto key = chunks.put_deduplicated(t.tile_bytes(), job.hash,
                                       {job.encoded.data(), job.encoded.size()}, same_bytes);
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
      TESSERA_RETURN_IF_ERROR(put_version(txn, chunks, image, level, job.tile, frame + 1, pinned, {}));
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
      return put_version(txn, chunks, image, level, job.tile, frame, job.next, own);
    return own ? delete_version(txn, chunks, image, level, job.tile, *own) : Status::ok();
  }
  return put_version(txn, chunks, image, level, job.tile, frame, job.next, own);
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
Status collapse_block(Txn& txn, ChunkPool& chunks, const ImageInfo& image, uint32_t level,
                      uint32_t frame, TileCoord block, const std::vector<uint8_t>& value) {
  const TileLayout t(image);
  TileLookup lookup(txn, image, level, frame);
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
  const TileKeyBytes key = encode_tile_key(TileKey{image.id, macro_level_byte(level), block, frame});
  const TileValue uniform{TileKind::kUniform, value, {}};
  TESSERA_RETURN_IF_ERROR(txn.put(txn.env().tiles, key, build_tile_record(key, uniform)));
  for (const auto& [tile, version] : own_here)
    TESSERA_RETURN_IF_ERROR(delete_version(txn, chunks, image, level, tile, version));
  return Status::ok();
}

// The tiles of a region, in rows; each made from the caller's buffer.
class RegionProducer : public TileProducer {
 public:
  RegionProducer(const TileFetcher& fetcher, const ImageInfo& image, const std::vector<uint32_t>& bands,
                 const Region& region, const CallerBuffer& src)
      : fetcher_(fetcher), image_(image), bands_(bands), region_(region), src_(src),
        range_(tiles_of(fetcher.layout(), region)), tx_(range_.x0), ty_(range_.y0) {}
  Result<bool> next(WriteJob& job) override {
    if (ty_ > range_.y1) return false;
    const TileLayout& t = fetcher_.layout();
    job.tile = {tx_, ty_};
    job.part = t.tile_region(job.tile).intersect(region_);
    job.partial = job.part != t.tile_region(job.tile) || bands_.size() != t.bands;
    if (++tx_ > range_.x1) tx_ = range_.x0, ++ty_;
    return true;
  }
  void prepare(WriteJob& job) const override { prepare_tile(fetcher_, image_, bands_, region_, src_, job); }

 private:
  const TileFetcher& fetcher_;
  const ImageInfo& image_;
  const std::vector<uint32_t>& bands_;
  const Region region_;
  const CallerBuffer src_;
  const TileRange range_;
  int64_t tx_, ty_;
};

}  // namespace

Status write_region(Txn& txn, Runtime& runtime, ImageInfo& image, const Region& region,
                    const Selection& sel, const CallerBuffer& src, std::vector<TileCoord>* changed_tiles) {
  Env& env = txn.env();
  if (!txn.writable()) return env.error(Code::kReadOnly, "write outside a write transaction");
  auto checked = check_request(env.path(), image, region, sel, Access::kWrite, src);
  if (!checked) return checked.status();
  // The tiles a write rewrites in part are fetched whole (every band).
  const TileFetcher fetcher(txn, runtime, image);
  RegionProducer producer(fetcher, image, *checked, region, src);
  return write_tiles(txn, runtime, image, sel, fetcher, producer, changed_tiles);
}

Status write_tiles(Txn& txn, Runtime& runtime, ImageInfo& image, const Selection& sel, const TileFetcher& fetcher,
                   TileProducer& producer, std::vector<TileCoord>* changed_tiles) {
  Env& env = txn.env();
  if (!txn.writable()) return env.error(Code::kReadOnly, "write outside a write transaction");
  const TileLayout& t = fetcher.layout();
  const uint32_t frames_before = image.frames;
  // Each batch holds raw tiles and their encoded chunks; two batches are in flight.
  WorkerPool& pool = runtime.pool();
  const size_t per_batch = std::max<size_t>(2 * pool.size(), kWriteBatchBytes / t.tile_bytes());

  std::lock_guard lock(txn.lmdb_mutex());
  TileLookup here(txn, image, sel.level, sel.frame);
  TESSERA_RETURN_IF_ERROR(here.status());
  std::optional<TileLookup> following;
  if (sel.frame + 1 < frames_before) following.emplace(txn, image, sel.level, sel.frame + 1);
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
  // Looks up what the next batch's tiles show now. The old chunk of a partly covered tile is
  // located and copied: the workers decode it while this thread applies the previous batch,
  // which may change or spill the page it lives on (an address inside the map proves nothing).
  auto collect = [&](std::vector<WriteJob>& jobs) -> Result<size_t> {
    size_t n = 0;
    for (; n < per_batch; ++n) {
      WriteJob& job = jobs[n];
      TESSERA_ASSIGN_OR_RETURN(const bool more, producer.next(job));
      if (!more) break;
      job.next = TileValue{};
      job.status = Status::ok();
      TESSERA_ASSIGN_OR_RETURN(job.visible, here.find(job.tile));
      if (job.partial && job.visible && job.visible->value.kind == TileKind::kChunk)
        TESSERA_RETURN_IF_ERROR(fetcher.locate(job.tile, *job.visible, true, job.old));
    }
    return n;
  };
  std::function<void(size_t)> prepare[2];
  for (int b = 0; b < 2; ++b)
    prepare[b] = [&, b](size_t i) { producer.prepare(batches[b][i]); };

  auto first = collect(batches[0]);
  if (!first) return first.status();
  sizes[0] = *first;
  WorkerPool::Pending pending = pool.start(sizes[0], prepare[0]);
  for (int cur = 0; sizes[cur] > 0; cur ^= 1) {
    pending.wait();
    auto next = collect(batches[cur ^ 1]);
    if (!next) return next.status();
    sizes[cur ^ 1] = *next;
    pending = pool.start(sizes[cur ^ 1], prepare[cur ^ 1]);
    Status applied;
    for (size_t i = 0; i < sizes[cur] && applied.is_ok(); ++i) {
      WriteJob& job = batches[cur][i];
      applied = job.status;
      bool changed = false;
      if (applied.is_ok())
        applied = apply_tile(txn, here, following ? &*following : nullptr, chunks, fetcher, image,
                             sel.level, sel.frame, job, changed);
      if (!applied.is_ok()) break;
      if (changed && changed_tiles) changed_tiles->push_back(job.tile);
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
      TESSERA_RETURN_IF_ERROR(
          collapse_block(txn, chunks, image, sel.level, sel.frame, {m.first, m.second}, block.value));
  if (sel.level != kFullResolution) return Status::ok();
  if (sel.frame == image.frames) TESSERA_RETURN_IF_ERROR(append_frame(txn, image));
  return update_geometry(txn, image, sel.frame, changes);
}

}  // namespace tessera::detail
