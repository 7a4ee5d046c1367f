// Container::recompress (tessera/container.h): the selected tiles' chunks encoded again, batch
// by batch, each batch its own transaction. The work itself is raster/recompress.h's.
#include <mutex>

#include "format/records.h"
#include "raster/recompress.h"
#include "tessera/container.h"

namespace tessera {

namespace {
constexpr uint64_t kRecompressBatchBytes = uint64_t(64) << 20;
}  // namespace

Result<RecompressReport> Container::recompress(std::string_view image, const RecompressOptions& options) {
  ImageSpec check_codec;
  check_codec.codec = options.codec;
  TESSERA_RETURN_IF_ERROR(detail::validate_image_spec(check_codec).with_context(path() + ": recompress"));
  if (options.first_frame > options.last_frame || options.first_level > options.last_level)
    return Status(Code::kInvalidArgument, path() + ": recompress: an empty range of frames or levels");
  if (options.region && !options.region->is_valid())
    return Status(Code::kInvalidArgument, path() + ": recompress: region " + to_string(*options.region) +
                                              " is empty or reaches past the signed 64-bit coordinate range");
  // The chunks to rewrite, from one snapshot; each batch reads them again in its transaction.
  std::vector<detail::ChunkKey> chunks;
  uint32_t bands = 1;
  {
    auto snapshot = this->snapshot();
    if (!snapshot) return snapshot.status();
    auto info = snapshot->txn_->find_image(image);
    if (!info) return info.status();
    bands = (*info)->spec.bands;
    if (options.first_frame >= (*info)->frames)
      return Status(Code::kNotFound, path() + ": image '" + (*info)->name + "' has no frame " +
                                         std::to_string(options.first_frame));
    std::lock_guard lock(snapshot->txn_->lmdb_mutex());
    auto selected = detail::selected_chunks(*snapshot->txn_, **info, options.first_frame, options.last_frame,
                                            options.first_level, options.last_level, options.region);
    if (!selected) return selected.status();
    chunks = std::move(selected).value();
  }
  detail::RecompressCounts counts;
  for (size_t at = 0; at < chunks.size();) {
    const detail::RecompressCounts before = counts;
    size_t next = at;
    Status s = write([&](WriteTxn& txn) -> Status {
      counts = before;  // the body runs again when the map had to grow
      auto end = detail::recompress_batch(*txn.txn_, *runtime_, chunks, at, options.codec, options.filter,
                                          bands, kRecompressBatchBytes, counts);
      if (!end) return end.status();
      next = *end;
      return Status::ok();
    });
    if (!s.is_ok()) return s;
    at = next;
    if (options.progress) options.progress(at, chunks.size());
  }
  return RecompressReport{chunks.size(), counts.rewritten, counts.bytes_before, counts.bytes_after};
}

}  // namespace tessera
