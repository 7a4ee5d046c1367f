// The public Container, View, Snapshot and WriteTxn: argument plumbing over store/ and raster/.
#include "tessera/container.h"

#include <cstring>
#include <cstdio>

#include "format/records.h"
#include "raster/frames.h"
#include "raster/geometry.h"
#include "raster/inspect.h"
#include "raster/region_io.h"
#include "store/chunk_pool.h"
#include "store/compact.h"
#include "store/env.h"
#include "util/bytes.h"

namespace tessera {

using detail::CallerBuffer;

namespace {

Strides packed_strides(const detail::Txn& txn, std::string_view image, const Region& region,
                       const Selection& sel, Interleave interleave) {
  for (const auto& info : txn.images())
    if (info.name == image)
      return Strides::packed(interleave, region.width, region.height,
                             sel.bands.empty() ? info.spec.bands : sel.bands.size(),
                             sample_size(info.spec.type));
  return Strides{};  // unknown image: the call fails on the name first
}

Status finished(const detail::Env* env) {
  return Status(Code::kInvalidArgument,
                (env ? env->path() + ": " : std::string()) + "the transaction has finished");
}

}  // namespace

// ---- View -------------------------------------------------------------------------------

View::View(std::shared_ptr<detail::Env> env, std::unique_ptr<detail::Txn> txn)
    : env_(std::move(env)), txn_(std::move(txn)) {}
View::View(View&&) noexcept = default;
View& View::operator=(View&&) noexcept = default;
View::~View() = default;

const std::string& View::path() const { return env_->path(); }

std::vector<ImageInfo> View::images() const {
  if (!txn_ || !txn_->active()) return {};
  return txn_->images();
}

Result<ImageInfo> View::image(std::string_view name) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(name);
  if (!info) return info.status();
  return **info;
}

Result<ImageInfo> View::image_or_only(std::string_view name) const {
  if (!name.empty()) return image(name);
  const std::vector<ImageInfo> all = images();
  if (all.size() == 1) return all.front();
  if (all.empty()) return Status(Code::kNotFound, path() + ": holds no images");
  std::string names;
  for (const ImageInfo& info : all) names += (names.empty() ? "'" : ", '") + info.name + "'";
  return Status(Code::kInvalidArgument, path() + ": holds " + std::to_string(all.size()) +
                                            " images (" + names + "); name one");
}

Status View::read(std::string_view image, const Region& region, const Selection& sel, void* dst,
                  size_t dst_size, Interleave interleave) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  return read(image, region, sel, dst, dst_size, packed_strides(*txn_, image, region, sel, interleave));
}

Status View::read(std::string_view image, const Region& region, const Selection& sel, void* dst,
                  size_t dst_size, const Strides& strides) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  return detail::read_region(*txn_, **info, region, sel,
                             CallerBuffer{static_cast<uint8_t*>(dst), dst_size, strides});
}

Result<ImageStats> View::stats(std::string_view image, uint32_t frame) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::image_stats(*txn_, **info, frame);
}

Result<std::optional<Region>> View::bounds(std::string_view image, uint32_t frame,
                                           Precision precision) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  TESSERA_RETURN_IF_ERROR(detail::frame_exists(env_->path(), **info, frame));
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::frame_geometry(*txn_, **info, frame, precision);
}

Result<std::vector<FrameInfo>> View::frames(std::string_view image) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::list_frames(*txn_, **info);
}

Result<std::vector<ImportProgress>> View::imports(std::string_view image) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  std::lock_guard lock(txn_->lmdb_mutex());
  std::vector<ImportProgress> found;
  const std::vector<uint8_t> start = detail::import_record_key((*info)->id, 0);
  detail::Cursor cursor(*txn_, env_->meta);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  MDB_val k = detail::to_val(start), v;
  for (auto r = cursor.get(&k, &v, MDB_SET_RANGE); ; r = cursor.get(&k, &v, MDB_NEXT)) {
    if (!r) return r.status();
    if (!*r || k.mv_size != start.size() || std::memcmp(k.mv_data, start.data(), start.size() - 4) != 0) break;
    auto progress = detail::parse_import_record(detail::bytes_of(v), v.mv_size);
    if (!progress) return progress.status().with_context(env_->path() + ": image '" + (*info)->name + "'");
    progress->frame = detail::get_be32(detail::bytes_of(k) + detail::kImportKeyPrefixSize + 4);
    found.push_back(std::move(*progress));
  }
  return found;
}

Result<PoolStats> View::pool_stats() const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::ChunkPool(*txn_).stats();
}

// ---- Snapshot and WriteTxn ----------------------------------------------------------------

Snapshot::Snapshot(Snapshot&&) noexcept = default;
Snapshot& Snapshot::operator=(Snapshot&&) noexcept = default;
Snapshot::~Snapshot() = default;

WriteTxn::WriteTxn(WriteTxn&&) noexcept = default;
WriteTxn& WriteTxn::operator=(WriteTxn&&) noexcept = default;
WriteTxn::~WriteTxn() { abort(); }

Status WriteTxn::create_image(std::string_view name, const ImageSpec& spec) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  if (name.empty() || name.size() > 255)
    return env_->error(Code::kInvalidArgument, "image name must be 1 to 255 bytes long");
  Status valid = detail::validate_image_spec(spec);
  if (!valid.is_ok())
    return valid.with_context(env_->path() + ": image '" + std::string(name) + "'");
  if (txn_->find_image(name))
    return env_->error(Code::kAlreadyExists, "an image named '" + std::string(name) + "' exists");
  ImageInfo info;
  info.name = std::string(name);
  info.spec = spec;
  for (const auto& other : txn_->images()) info.id = std::max(info.id, other.id + 1);
  info.frames = 1;
  info.fill_pixel = detail::fill_pixel(spec).value();  // validated above
  return txn_->nested([&] {
    TESSERA_RETURN_IF_ERROR(txn_->put_image(info));
    return detail::init_geometry(*txn_, info, 0);
  });
}

Status WriteTxn::record_import(std::string_view image, const ImportProgress& progress) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  TESSERA_RETURN_IF_ERROR(detail::frame_exists(env_->path(), **info, progress.frame));
  if (progress.blocks_done > progress.blocks_total || progress.bytes_done > progress.bytes_total)
    return env_->error(Code::kInvalidArgument, "import progress beyond its total");
  std::lock_guard lock(txn_->lmdb_mutex());
  return txn_->put(env_->meta, detail::import_record_key((*info)->id, progress.frame),
                   detail::build_import_record(progress));
}

Status WriteTxn::add_frame(std::string_view image) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  ImageInfo updated = **info;
  std::lock_guard lock(txn_->lmdb_mutex());
  return txn_->nested([&] { return detail::append_frame(*txn_, updated); });
}

Status WriteTxn::drop_frame(std::string_view image, uint32_t frame) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  ImageInfo updated = **info;
  std::lock_guard lock(txn_->lmdb_mutex());
  return txn_->nested([&] { return detail::drop_frame(*txn_, updated, frame); });
}

Status WriteTxn::write(std::string_view image, const Region& region, const Selection& sel,
                       const void* src, size_t src_size, Interleave interleave) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  return write(image, region, sel, src, src_size, packed_strides(*txn_, image, region, sel, interleave));
}

Status WriteTxn::write(std::string_view image, const Region& region, const Selection& sel,
                       const void* src, size_t src_size, const Strides& strides) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  // A failed write changes nothing: it runs in a nested transaction, on a copy of the image.
  ImageInfo updated = **info;
  const CallerBuffer buffer{static_cast<uint8_t*>(const_cast<void*>(src)), src_size, strides};
  return txn_->nested([&] { return detail::write_region(*txn_, updated, region, sel, buffer); });
}

Status WriteTxn::commit() {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  return txn_->commit();
}

void WriteTxn::abort() {
  if (txn_) txn_->abort();
}

// ---- Container ------------------------------------------------------------------------------

Container::Container(std::shared_ptr<detail::Env> env) : env_(std::move(env)) {}
Container::Container(Container&&) noexcept = default;
Container& Container::operator=(Container&&) noexcept = default;
Container::~Container() = default;

Result<Container> Container::create(const std::string& path, const OpenOptions& options) {
  auto env = detail::Env::open(path, options, /*create=*/true);
  if (!env) return env.status();
  return Container(std::move(env.value()));
}

Result<Container> Container::open(const std::string& path, const OpenOptions& options) {
  auto env = detail::Env::open(path, options, /*create=*/false);
  if (!env) return env.status();
  return Container(std::move(env.value()));
}

const std::string& Container::path() const { return env_->path(); }
FormatVersion Container::format_version() const { return env_->format_version; }

TileCacheStats Container::tile_cache_stats() const {
  detail::TileCache* cache = env_->tile_cache();
  if (!cache) return {};
  const auto s = cache->stats();
  return TileCacheStats{s.hits, s.misses, s.inserts, s.evictions, s.bytes, s.entries};
}

SharedCacheStats Container::shared_cache_stats() const {
  detail::SharedTileCache* cache = env_->shared_cache();
  if (!cache) return {};
  const auto s = cache->stats();
  return SharedCacheStats{s.hits, s.misses, s.puts, s.skipped, s.slots, cache->slot_bytes(), s.stale_recovered};
}

Status Container::remove_shared_cache(const std::string& name) {
  return detail::SharedTileCache::remove(name);
}

Status Container::compact(const std::string& path, const std::string& out) {
  return detail::compact_container(path, out);
}

Result<Snapshot> Container::snapshot() const {
  auto txn = detail::Txn::begin(env_, /*write=*/false);
  if (!txn) return txn.status();
  return Snapshot(env_, std::move(txn.value()));
}

Result<WriteTxn> Container::begin_write() {
  auto txn = detail::Txn::begin(env_, /*write=*/true);
  if (!txn) return txn.status();
  return WriteTxn(env_, std::move(txn.value()));
}

Status Container::write(const std::function<Status(WriteTxn&)>& body) {
  for (int attempt = 0;; ++attempt) {
    auto txn = begin_write();
    if (!txn) return txn.status();
    Status s = body(*txn);
    if (s.is_ok()) s = txn->commit();
    else txn->abort();
    if (s.code() != Code::kNoSpace || !env_->take_map_full() || attempt >= 40) return s;
    // The map (not the disk) is full: grow it and run the body again.
    txn->abort();
    Status grown = env_->grow_map();
    if (!grown.is_ok()) return grown.code() == Code::kNoSpace ? grown : s;
  }
}

std::string ReaderReport::warning() const {
  const OpenReader* old = oldest();
  if (!old) return "";
  char mib[32];
  std::snprintf(mib, sizeof mib, "%.1f", double(pinned_pages * page_size) / (1024.0 * 1024.0));
  return "the snapshot of process " + std::to_string(old->pid) + " is " +
         std::to_string(old->age) + " commits old and keeps " + std::to_string(pinned_pages) +
         " pages (" + mib + " MiB) from reuse: the file grows while it stays open";
}

Result<ReaderReport> Container::readers() const { return detail::reader_report(env_); }

}  // namespace tessera
