#include "raster/tile_merge.h"

#include <cstring>

#include "format/chunk_codec.h"
#include "raster/region_write.h"
#include "raster/tile_scan.h"

namespace tessera::detail {
namespace {

// Why `source` cannot be merged into `image`, or OK.
Status check_compatible(const Env& env, const ImageInfo& image, const std::string& source_path,
                        const ImageInfo& source) {
  std::string difference;
  if (source.spec.type != image.spec.type)
    difference = std::string("sample type ") + std::string(data_type_name(source.spec.type)) + " against " +
                 std::string(data_type_name(image.spec.type));
  else if (source.spec.bands != image.spec.bands)
    difference = std::to_string(source.spec.bands) + " bands against " + std::to_string(image.spec.bands);
  else if (source.spec.tile_size != image.spec.tile_size)
    difference = "tile size " + std::to_string(source.spec.tile_size) + " against " +
                 std::to_string(image.spec.tile_size);
  else if (source.spec.storage != image.spec.storage)
    difference = std::string("storage ") + std::string(storage_layout_name(source.spec.storage)) + " against " +
                 std::string(storage_layout_name(image.spec.storage));
  else if (source.fill_pixel != image.fill_pixel)
    difference = "another fill value";
  if (difference.empty()) return Status::ok();
  return env.error(Code::kInvalidArgument, "cannot merge image '" + source.name + "' of " + source_path +
                                               " into image '" + image.name + "': " + difference);
}

// One tile the source shows: its content, and for a chunk the stored value (a pointer into the
// source's map, valid while its snapshot lives).
struct SourceTile {
  TileCoord tile;
  TileValue value;
  const uint8_t* chunk = nullptr;
  size_t chunk_size = 0;
};

class MergeProducer : public TileProducer {
 public:
  MergeProducer(const TileLayout& layout, std::vector<SourceTile> tiles, std::string source_path)
      : layout_(layout), tiles_(std::move(tiles)), source_path_(std::move(source_path)) {}
  Result<bool> next(WriteJob& job) override {
    if (at_ == tiles_.size()) return false;
    job.tile = tiles_[at_].tile;
    job.part = layout_.tile_region(job.tile);
    job.partial = false;
    job.item = at_++;
    return true;
  }
  void prepare(WriteJob& job) const override {
    const SourceTile& s = tiles_[job.item];
    job.next = s.value;
    if (s.value.kind != TileKind::kChunk) return;
    job.raw.resize(layout_.tile_bytes());
    job.status = decode_chunk(s.chunk, s.chunk_size, job.raw.data(), job.raw.size());
    if (!job.status.is_ok()) {
      job.status = job.status.with_context(source_path_ + ": chunk " + chunk_key_hex(s.value.chunk));
      return;
    }
    job.hash = content_hash(job.raw.data(), job.raw.size());
    job.encoded.resize(s.chunk_size);
    std::memcpy(job.encoded.data(), s.chunk, s.chunk_size);
  }

 private:
  const TileLayout& layout_;
  const std::vector<SourceTile> tiles_;
  const std::string source_path_;
  size_t at_ = 0;
};

}  // namespace

Status merge_tiles(Txn& txn, Runtime& runtime, ImageInfo& image, uint32_t frame, const Txn& source,
                   const ImageInfo& source_image, uint32_t source_frame, std::vector<TileCoord>* changed) {
  TESSERA_RETURN_IF_ERROR(check_compatible(txn.env(), image, source.env().path(), source_image));
  if (frame > image.frames)
    return txn.env().error(Code::kNotFound, "image '" + image.name + "' has " + std::to_string(image.frames) +
                                                " frames: frame " + std::to_string(frame) +
                                                " can be written only once frame " + std::to_string(image.frames) +
                                                " exists");
  if (source_frame >= source_image.frames)
    return source.env().error(Code::kNotFound, "image '" + source_image.name + "' has no frame " +
                                                   std::to_string(source_frame));
  std::vector<SourceTile> tiles;
  TESSERA_RETURN_IF_ERROR(for_each_visible_tile(
      source, source_image, kFullResolution, source_frame, [&](TileCoord c, const TileVersion& v, size_t) {
        SourceTile& t = tiles.emplace_back(SourceTile{c, v.value});
        if (v.value.kind != TileKind::kChunk) return Status::ok();
        auto value = source.get(source.env().chunks, v.value.chunk);
        if (!value) return value.status();
        if (!*value)
          return source.env().error(Code::kCorrupt, "chunk " + chunk_key_hex(v.value.chunk) + " is missing");
        t.chunk = static_cast<const uint8_t*>((*value)->mv_data);
        t.chunk_size = (*value)->mv_size;
        return Status::ok();
      }));
  const TileFetcher fetcher(txn, runtime, image);
  MergeProducer producer(fetcher.layout(), std::move(tiles), source.env().path());
  Selection sel;
  sel.frame = frame;
  return write_tiles(txn, runtime, image, sel, fetcher, producer, changed);
}

}  // namespace tessera::detail
