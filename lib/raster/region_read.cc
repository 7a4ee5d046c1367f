#include "raster/region_read.h"

#include <algorithm>
#include <mutex>

#include "raster/tile_fetch.h"

namespace tessera::detail {
namespace {

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

struct ReadJob {
  TileCoord tile;
  Region part;
  std::optional<TileVersion> version;
  LocatedTile chunk;  // a chunk tile, located
  bool fetch() const { return version && version->value.kind == TileKind::kChunk; }
};

}  // namespace

Status read_region(Txn& txn, Runtime& runtime, const ImageInfo& image, const Region& region,
                   const Selection& sel, const CallerBuffer& dst) {
  auto checked = check_request(txn.env().path(), image, region, sel, Access::kRead, dst);
  if (!checked) return checked.status();
  const std::vector<uint32_t>& bands = *checked;
  const TileFetcher fetcher(txn, runtime, image, bands);
  const TileLayout& t = fetcher.layout();
  const TileRange range = tiles_of(t, region);
  std::vector<ReadJob> jobs(range.count());
  {
    // Lookups run on this thread, one at a time per transaction; fetches run in parallel.
    // The process cache is consulted here, so a read that it serves entirely runs on this
    // thread and reads no chunk.
    std::lock_guard lock(txn.lmdb_mutex());
    TileLookup lookup(txn, image, sel.level, sel.frame);
    TESSERA_RETURN_IF_ERROR(lookup.status());
    size_t i = 0;
    for (int64_t ty = range.y0; ty <= range.y1; ++ty)
      for (int64_t tx = range.x0; tx <= range.x1; ++tx, ++i) {
        ReadJob& job = jobs[i];
        job.tile = {tx, ty};
        job.part = t.tile_region(job.tile).intersect(region);
        TESSERA_ASSIGN_OR_RETURN(job.version, lookup.find(job.tile));
        if (job.fetch()) TESSERA_RETURN_IF_ERROR(fetcher.locate(job.tile, *job.version, false, job.chunk));
      }
  }

  std::mutex error_mutex;
  Status first_error;
  auto run = [&](size_t i) {
    const ReadJob& job = jobs[i];
    if (!job.fetch()) {
      const bool uniform = job.version && job.version->value.kind == TileKind::kUniform;
      broadcast_pixel(t, uniform ? job.version->value.uniform.data() : image.fill_pixel.data(), bands,
                      dst, job.part, region);
      return;
    }
    thread_local TileSamples samples;
    const int64_t x = job.part.x - job.tile.x * int64_t(t.tile_size);
    const int64_t y = job.part.y - job.tile.y * int64_t(t.tile_size);
    Status status = fetcher.samples(job.chunk, samples, {uint32_t(y), uint32_t(y + job.part.height)});
    if (status.is_ok()) {
      const int64_t at = y * t.line_stride() + x * t.pixel_stride();
      for (const uint8_t*& band : samples.band) band += at;
      auto out = caller_planes(dst, bands.size(), job.part.x - region.x, job.part.y - region.y);
      copy_block(BandPlanes{samples.band, t.pixel_stride(), t.line_stride()},
                 MutableBandPlanes{out, dst.strides.pixel, dst.strides.line}, job.part.width,
                 job.part.height, t.sample);
    }
    samples.held.clear();
    if (!status.is_ok()) {
      std::lock_guard lock(error_mutex);
      if (first_error.is_ok()) first_error = status;
    }
  };
  const bool any_fetch = std::any_of(jobs.begin(), jobs.end(),
                                     [](const ReadJob& j) { return j.fetch() && !j.chunk.served(); });
  if (any_fetch) runtime.pool().parallel_for(jobs.size(), run);
  else for (size_t i = 0; i < jobs.size(); ++i) run(i);
  return first_error;
}

}  // namespace tessera::detail
