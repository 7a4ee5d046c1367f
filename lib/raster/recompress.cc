#include "raster/recompress.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "format/chunk_codec.h"
#include "raster/tile_index.h"
#include "raster/tile_scan.h"
#include "store/chunk_pool.h"
#include "store/pyramid_table.h"
#include "util/bytes.h"

namespace tessera::detail {

Result<std::vector<ChunkKey>> selected_chunks(const Txn& txn, const ImageInfo& image, uint32_t first_frame,
                                              uint32_t last_frame, uint32_t first_level, uint32_t last_level,
                                              const std::optional<Region>& region) {
  std::vector<ChunkKey> keys;
  const TileLayout t(image);
  last_frame = std::min(last_frame, image.frames - 1);
  for (uint32_t frame = first_frame; frame <= last_frame && image.frames > 0; ++frame) {
    auto pyramid = read_pyramid(txn, image, frame);
    if (!pyramid) return pyramid.status();
    const uint32_t top = std::min(last_level, pyramid->info.levels);
    for (uint32_t level = first_level; level <= top; ++level) {
      std::optional<TileRange> range;
      if (region) range = tiles_of(t, level_region(*region, level));
      TESSERA_RETURN_IF_ERROR(
          for_each_visible_tile(txn, image, level, frame, [&](TileCoord c, const TileVersion& v, size_t) {
            if (v.value.kind == TileKind::kChunk && (!range || range->contains(c))) keys.push_back(v.value.chunk);
            return Status::ok();
          }));
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

Result<size_t> recompress_batch(Txn& txn, Runtime& runtime, const std::vector<ChunkKey>& chunks, size_t begin,
                                const CodecSpec& codec, Filter filter, uint32_t delta_distance,
                                uint64_t batch_bytes,
                                RecompressCounts& counts) {
  struct Job {
    ChunkKey key;
    std::vector<uint8_t> old;  // a copy: the puts below may move the page it lies on
    AlignedBuffer raw, encoded;
    uint32_t sample_size = 1, blocks = 1, raw_size = 0;
    Status status;
  };
  std::vector<Job> jobs;
  size_t end = begin;
  {
    std::lock_guard lock(txn.lmdb_mutex());
    for (uint64_t bytes = 0; end < chunks.size() && bytes < batch_bytes; ++end) {
      // A chunk released since the selection was made (another writer) has nothing to rewrite.
      auto found = txn.get(txn.env().chunks, chunks[end]);
      if (!found) return found.status();
      if (!*found) continue;
      const MDB_val* value = &**found;
      auto info = parse_chunk_header(bytes_of(*value), value->mv_size);
      if (!info) return info.status().with_context(txn.env().path() + ": chunk " + chunk_key_hex(chunks[end]));
      Job& job = jobs.emplace_back();
      job.key = chunks[end];
      job.old.assign(bytes_of(*value), bytes_of(*value) + value->mv_size);
      job.sample_size = info->sample_size;
      job.blocks = info->blocks;
      job.raw_size = info->raw_size;
      bytes += info->raw_size;
    }
  }
  // Decode (every checksum verified) and encode again, on the pool.
  runtime.pool().parallel_for(jobs.size(), [&](size_t i) {
    Job& job = jobs[i];
    job.raw.resize(job.raw_size);
    job.status = decode_chunk(job.old.data(), job.old.size(), job.raw.data(), job.raw.size());
    if (job.status.is_ok())
      encode_chunk(job.raw.data(), job.raw.size(), {codec, filter, job.sample_size, job.blocks, delta_distance},
                   job.encoded);
  });
  std::lock_guard lock(txn.lmdb_mutex());
  ChunkPool pool(txn);
  for (Job& job : jobs) {
    if (!job.status.is_ok())
      return job.status.with_context(txn.env().path() + ": chunk " + chunk_key_hex(job.key));
    ++counts.done;
    counts.bytes_before += job.old.size();
    const bool same = job.encoded.size() == job.old.size() &&
                      std::memcmp(job.encoded.data(), job.old.data(), job.old.size()) == 0;
    counts.bytes_after += same ? job.old.size() : job.encoded.size();
    if (same) continue;
    TESSERA_RETURN_IF_ERROR(pool.replace_encoding(job.key, {job.encoded.data(), job.encoded.size()}));
    ++counts.rewritten;
  }
  return end;
}

}  // namespace tessera::detail
