#include "raster/prepared_write.h"

#include <utility>

#include "raster/copy.h"
#include "raster/request.h"
#include "raster/tile_index.h"

namespace tessera::detail {
namespace {

// How `now` differs from `made_for` in what prepared tiles depend on; empty when it does not.
std::string difference(const ImageInfo& made_for, const ImageInfo& now) {
  const ImageSpec &a = made_for.spec, &b = now.spec;
  if (made_for.id != now.id) return "it is another image now (id " + std::to_string(now.id) + ", not " +
                                    std::to_string(made_for.id) + ")";
  if (a.type != b.type || a.bands != b.bands || a.tile_size != b.tile_size || a.macro_tiles != b.macro_tiles ||
      a.storage != b.storage)
    return "its sample type, bands or tiles changed";
  if (a.codec != b.codec || a.filter != b.filter) return "its codec or filter changed";
  if (made_for.fill_pixel != now.fill_pixel) return "its fill changed";
  return {};
}

// The prepared whole tiles, handed to write_tiles: their chunk buffers trade places with the
// writer's own, so both keep theirs for the next use.
class PreparedProducer : public TileProducer {
 public:
  explicit PreparedProducer(PreparedTiles& prepared) : prepared_(prepared) {}
  Result<bool> next(WriteJob& job) override {
    if (at_ == prepared_.tiles) return false;
    const WriteJob& p = prepared_.jobs[at_];
    job.tile = p.tile;
    job.part = p.part;
    job.partial = false;
    job.item = at_++;
    return true;
  }
  void prepare(WriteJob& job) const override {
    WriteJob& p = prepared_.jobs[job.item];
    job.next = std::move(p.next);
    job.hash = p.hash;
    job.raw.resize(0);  // not kept (raster/region_write.h)
    std::swap(job.encoded, p.encoded);
  }

 private:
  PreparedTiles& prepared_;
  size_t at_ = 0;
};

}  // namespace

Status prepare_tiles(Runtime& runtime, const std::string& path, const ImageInfo& image, const Region& region,
                     const CallerBuffer& src, PreparedTiles& out) {
  const auto refuse = [&](const std::string& why) {
    return Status(Code::kInvalidArgument, path + ": image '" + image.name + "': " + why);
  };
  if (image.mapped) return refuse("a mapped image has no tiles to write");
  auto bands = check_request(path, image, region, Selection{}, Access::kWrite, src);
  if (!bands) return bands.status();
  if (out.empty()) {
    out.image = image;
  } else if (const std::string changed = difference(out.image, image); !changed.empty()) {
    return refuse("the prepared write holds tiles made for image '" + out.image.name + "' as it was (" + changed +
                  "): apply or clear it first");
  }
  const TileLayout t(image);
  const TileRange range = tiles_of(t, region);
  for (const Region& earlier : out.regions) {
    const TileRange e = tiles_of(t, earlier);
    if (e.x0 <= range.x1 && range.x0 <= e.x1 && e.y0 <= range.y1 && range.y0 <= e.y1)
      return refuse("region " + to_string(region) + " shares a tile with region " + to_string(earlier) +
                    " prepared before");
  }
  const size_t first = out.tiles;
  const size_t pixel = image.pixel_bytes();
  for (int64_t ty = range.y0; ty <= range.y1; ++ty)
    for (int64_t tx = range.x0; tx <= range.x1; ++tx) {
      const TileCoord tile{tx, ty};
      const Region part = t.tile_region(tile).intersect(region);
      if (part == t.tile_region(tile)) {
        if (out.tiles == out.jobs.size()) out.jobs.emplace_back();
        WriteJob& job = out.jobs[out.tiles++];
        job.tile = tile;
        job.part = part;
        job.partial = false;
        job.next = TileValue{};
        job.status = Status::ok();
        continue;
      }
      if (out.part_count == out.parts.size()) out.parts.emplace_back();
      PreparedTiles::Part& kept = out.parts[out.part_count++];
      kept.region = part;
      kept.samples.resize(size_t(part.pixel_count()) * pixel);
      std::vector<const uint8_t*> in(bands->size());
      std::vector<uint8_t*> to(bands->size());
      for (size_t b = 0; b < bands->size(); ++b) {
        in[b] = src.data + b * src.strides.band + (part.y - region.y) * src.strides.line +
                (part.x - region.x) * src.strides.pixel;
        to[b] = kept.samples.data() + b * t.sample;
      }
      copy_block(BandPlanes{in, src.strides.pixel, src.strides.line},
                 MutableBandPlanes{to, int64_t(pixel), int64_t(pixel) * part.width}, part.width, part.height,
                 t.sample);
    }
  // A tile's raw bytes live in its thread's scratch while it is encoded: only the chunk is
  // kept (a batch of raw tiles would be as much fresh memory again, touched once).
  runtime.pool().parallel_for(out.tiles - first, [&](size_t i) {
    thread_local AlignedBuffer raw;
    WriteJob& job = out.jobs[first + i];
    std::swap(job.raw, raw);
    encode_tile(t, image, *bands, region, src, job);
    std::swap(job.raw, raw);
  });
  out.regions.push_back(region);
  return Status::ok();
}

Status write_prepared(Txn& txn, Runtime& runtime, ImageInfo& image, const Selection& sel,
                      PreparedTiles& prepared, std::vector<TileCoord>* changed) {
  Env& env = txn.env();
  if (!sel.bands.empty() || sel.level != kFullResolution)
    return env.error(Code::kInvalidArgument, "image '" + image.name +
                                                 "': a prepared write is of every band of level 0");
  if (prepared.empty()) return Status::ok();
  if (const std::string changed_since = difference(prepared.image, image); !changed_since.empty())
    return env.error(Code::kInvalidArgument, "image '" + image.name + "' changed since the write was prepared (" +
                                                 changed_since + "): prepare it again");
  // The frame, as every write checks it (it exists, or comes next).
  auto checked = check_request(env.path(), image, prepared.regions.front(), sel, Access::kWrite);
  if (!checked) return checked.status();
  const TileFetcher fetcher(txn, runtime, image);
  PreparedProducer producer(prepared);
  TESSERA_RETURN_IF_ERROR(write_tiles(txn, runtime, image, sel, fetcher, producer, changed));
  const size_t sample = sample_size(image.spec.type);
  for (size_t i = 0; i < prepared.part_count; ++i) {
    PreparedTiles::Part& part = prepared.parts[i];
    const CallerBuffer buffer{
        part.samples.data(), part.samples.size(),
        Strides::packed(Interleave::kBIP, part.region.width, part.region.height, image.spec.bands, sample)};
    TESSERA_RETURN_IF_ERROR(write_region(txn, runtime, image, part.region, sel, buffer, changed));
  }
  return Status::ok();
}

}  // namespace tessera::detail
