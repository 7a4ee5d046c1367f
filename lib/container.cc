// The public Container, View, Snapshot and WriteTxn: argument plumbing over store/ and raster/.
#include "tessera/container.h"

#include <cstring>
#include <cstdio>

#include "format/names.h"
#include "format/records.h"
#include "raster/content_tag.h"
#include "raster/frames.h"
#include "raster/geometry.h"
#include "raster/inspect.h"
#include "raster/mapped_read.h"
#include "raster/pyramid.h"
#include "raster/reduced_read.h"
#include "raster/region_read.h"
#include "raster/region_write.h"
#include "raster/request.h"
#include "raster/runtime.h"
#include "raster/tile_merge.h"
#include "store/attribute_table.h"
#include "store/chunk_pool.h"
#include "store/compact.h"
#include "store/env.h"
#include "store/import_records.h"
#include "store/pyramid_table.h"

namespace tessera {

using detail::CallerBuffer;

namespace {

Strides packed_strides(const ImageInfo& info, const Region& region, const Selection& sel, Interleave interleave) {
  return Strides::packed(interleave, region.width, region.height,
                         sel.bands.empty() ? info.spec.bands : sel.bands.size(), sample_size(info.spec.type));
}

// An image by name: the ordinary image of that name, else the mapped image resolved.
struct Found {
  const ImageInfo* ordinary = nullptr;
  std::shared_ptr<const detail::MappedImage> mapped;
  const ImageInfo& info() const { return ordinary ? *ordinary : mapped->info; }
};
Result<Found> find_any(detail::Txn& txn, std::string_view name) {
  auto info = txn.find_image(name);
  if (info) return Found{*info, nullptr};
  if (!txn.find_mapped(name)) return info.status();
  std::lock_guard lock(txn.lmdb_mutex());
  auto mapped = detail::resolve_mapped(txn, name);
  if (!mapped) return mapped.status();
  return Found{nullptr, std::move(mapped.value())};
}

Status finished(const detail::Env* env) {
  return Status(Code::kInvalidArgument,
                (env ? env->path() + ": " : std::string()) + "the transaction has finished");
}

}  // namespace

// ---- View -------------------------------------------------------------------------------

View::View(std::shared_ptr<detail::Env> env, std::shared_ptr<detail::Runtime> runtime,
           std::unique_ptr<detail::Txn> txn)
    : env_(std::move(env)), runtime_(std::move(runtime)), txn_(std::move(txn)) {}
View::View(View&&) noexcept = default;
View& View::operator=(View&&) noexcept = default;
View::~View() = default;

const std::string& View::path() const { return env_->path(); }

std::vector<ImageInfo> View::images() const {
  if (!txn_ || !txn_->active()) return {};
  std::vector<ImageInfo> all = txn_->images();
  for (const auto& [name, value] : txn_->mapped()) {
    if (txn_->find_image(name)) continue;  // an ordinary image of the name comes first
    auto found = find_any(*txn_, name);
    if (found) {
      all.push_back(found->info());
      continue;
    }
    ImageInfo unresolved;  // its sources are gone or disagree: reads of it say how
    unresolved.name = name;
    unresolved.id = UINT32_MAX;
    unresolved.mapped = true;
    unresolved.frames = 1;
    all.push_back(std::move(unresolved));
  }
  return all;
}

Result<ImageInfo> View::image(std::string_view name) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, name);
  if (!found) return found.status();
  return found->info();
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

namespace {

// View::read of an image found.
Status read_found(detail::Txn& txn, detail::Runtime& runtime, const Found& found, const Region& region,
                  const Selection& sel, const CallerBuffer& buffer) {
  if (found.mapped) return detail::read_mapped(txn, runtime, *found.mapped, region, sel, std::nullopt, buffer);
  if (sel.level != detail::kFullResolution) {  // level 0 needs no record: the read path stays as it was
    std::lock_guard lock(txn.lmdb_mutex());
    TESSERA_RETURN_IF_ERROR(detail::check_level(txn, *found.ordinary, sel, Access::kRead));
  }
  return detail::read_region(txn, runtime, *found.ordinary, region, sel, buffer);
}

}  // namespace

Status View::read(std::string_view image, const Region& region, const Selection& sel, void* dst,
                  size_t dst_size, Interleave interleave) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  return read_found(*txn_, *runtime_, *found, region, sel,
                    CallerBuffer{static_cast<uint8_t*>(dst), dst_size,
                                 packed_strides(found->info(), region, sel, interleave)});
}

Status View::read(std::string_view image, const Region& region, const Selection& sel, void* dst,
                  size_t dst_size, const Strides& strides) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  return read_found(*txn_, *runtime_, *found, region, sel, CallerBuffer{static_cast<uint8_t*>(dst), dst_size, strides});
}

Status View::read_reduced(std::string_view image, const Region& region, const Selection& sel,
                          uint32_t max_reduction, void* dst, size_t dst_size, Interleave interleave) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  const CallerBuffer buffer{static_cast<uint8_t*>(dst), dst_size,
                            packed_strides(found->info(), region, sel, interleave)};
  if (found->mapped) return detail::read_mapped(*txn_, *runtime_, *found->mapped, region, sel, max_reduction, buffer);
  return detail::read_reduced(*txn_, *runtime_, *found->ordinary, region, sel, max_reduction, buffer);
}

Result<std::string> View::content_tag(std::string_view image, const Region& region, const Selection& sel) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  if (found->mapped) return detail::mapped_content_tag(*txn_, *runtime_, *found->mapped, region, sel);
  auto bands = detail::check_request(env_->path(), *found->ordinary, region, sel, Access::kRead);
  if (!bands) return bands.status();
  return detail::content_tag(*txn_, *found->ordinary, region, sel);
}

Result<Request> View::check(std::string_view image, const Region& region, const Selection& sel,
                            Access access) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  if (access == Access::kWrite) {  // a mapped image is refused, by name
    auto info = txn_->find_image(image);
    if (!info) return info.status();
  }
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  auto bands = detail::check_request(env_->path(), found->info(), region, sel, access);
  if (!bands) return bands.status();
  if (sel.level != detail::kFullResolution) {
    std::lock_guard lock(txn_->lmdb_mutex());
    TESSERA_RETURN_IF_ERROR(found->mapped ? detail::check_mapped_level(*txn_, *found->mapped, sel)
                                          : detail::check_level(*txn_, *found->ordinary, sel, access));
  }
  return Request{found->info(), std::move(bands.value())};
}

Result<ImageStats> View::stats(std::string_view image, uint32_t frame, uint32_t level) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  std::lock_guard lock(txn_->lmdb_mutex());
  const Selection sel{frame, level, {}};
  if (found->mapped) {  // it stores no tile of its own
    TESSERA_RETURN_IF_ERROR(detail::check_frame(env_->path(), found->info(), frame));
    TESSERA_RETURN_IF_ERROR(detail::check_mapped_level(*txn_, *found->mapped, sel));
    return ImageStats{};
  }
  TESSERA_RETURN_IF_ERROR(detail::check_level(*txn_, *found->ordinary, sel, Access::kRead));
  return detail::image_stats(*txn_, *found->ordinary, level, frame);
}

Result<std::optional<Region>> View::bounds(std::string_view image, uint32_t frame,
                                           Precision precision) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  TESSERA_RETURN_IF_ERROR(detail::check_frame(env_->path(), found->info(), frame));
  std::lock_guard lock(txn_->lmdb_mutex());
  if (found->mapped) return detail::mapped_bounds(*txn_, *runtime_, *found->mapped, precision);
  return detail::frame_geometry(*txn_, *runtime_, *found->ordinary, frame, precision);
}

Result<std::vector<FrameInfo>> View::frames(std::string_view image) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  if (found->mapped) return std::vector<FrameInfo>{FrameInfo{}};  // frame 0, no records of its own
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::list_frames(*txn_, *found->ordinary);
}

Result<std::vector<ImportProgress>> View::imports(std::string_view image) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  if (found->mapped) return std::vector<ImportProgress>{};  // nothing was imported into it
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::read_import_records(*txn_, *found->ordinary);
}

Result<Attributes> View::attributes(std::string_view image, std::optional<uint32_t> frame) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  if (frame) TESSERA_RETURN_IF_ERROR(detail::check_frame(env_->path(), found->info(), *frame));
  if (found->mapped) return Attributes{};  // a definition holds none
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::read_attributes(*txn_, *found->ordinary, frame.value_or(detail::kImageScope));
}

Result<Attributes> View::frame_attributes(std::string_view image, uint32_t frame) const {
  auto merged = attributes(image);
  if (!merged) return merged;
  auto own = attributes(image, frame);
  if (!own) return own;
  for (Attribute& a : *own) set_attribute(*merged, std::move(a.name), std::move(a.value));
  return merged;
}

Result<std::optional<Region>> View::extent(std::string_view image, uint32_t frame) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  if (!txn_->find_image(image) && txn_->find_mapped(image)) {
    auto found = find_any(*txn_, image);
    if (!found) return found.status();
    TESSERA_RETURN_IF_ERROR(detail::check_frame(env_->path(), found->info(), frame));
    std::lock_guard lock(txn_->lmdb_mutex());
    return detail::mapped_extent(*txn_, *runtime_, *found->mapped);
  }
  auto attributes = frame_attributes(image, frame);
  if (!attributes) return attributes.status();
  const AttributeValue* value = find_attribute(*attributes, kExtentAttribute);
  if (!value) return std::optional<Region>();
  auto extent = parse_extent(*value);
  if (!extent)
    return Status(Code::kCorrupt, env_->path() + ": image '" + std::string(image) + "' frame " +
                                      std::to_string(frame) + ": " + extent.status().message());
  return std::optional<Region>(*extent);
}

Result<PyramidInfo> View::pyramid(std::string_view image, uint32_t frame) const {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto found = find_any(*txn_, image);
  if (!found) return found.status();
  TESSERA_RETURN_IF_ERROR(detail::check_frame(env_->path(), found->info(), frame));
  if (found->mapped) return PyramidInfo{found->mapped->levels, Resampling::kMean, 0};  // the levels every source has
  std::lock_guard lock(txn_->lmdb_mutex());
  auto record = detail::read_pyramid(*txn_, *found->ordinary, frame);
  if (!record) return record.status();
  return record->info;
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

Status check_image_name(std::string_view name) {
  if (name.empty() || name.size() > detail::kMaxImageNameBytes)
    return Status(Code::kInvalidArgument,
                  "image name must be 1 to " + std::to_string(detail::kMaxImageNameBytes) + " bytes long");
  // A newline or another control character would break every line a tool prints about it.
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7F)
      return Status(Code::kInvalidArgument,
                    "image name has a control character (byte " + std::to_string(c) + "): names are printable text");
  return Status::ok();
}

Status WriteTxn::create_image(std::string_view name, const ImageSpec& spec) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  TESSERA_RETURN_IF_ERROR(check_image_name(name).with_context(env_->path()));
  Status valid = detail::validate_image_spec(spec);
  if (!valid.is_ok())
    return valid.with_context(env_->path() + ": image '" + std::string(name) + "'");
  if (txn_->find_image(name) || txn_->find_mapped(name))
    return env_->error(Code::kAlreadyExists, "an image named '" + std::string(name) + "' exists");
  ImageInfo info;
  info.name = std::string(name);
  info.spec = spec;
  info.id = txn_->unused_image_id();
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
  TESSERA_RETURN_IF_ERROR(detail::check_frame(env_->path(), **info, progress.frame));
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::put_import_record(*txn_, **info, progress);
}

Status WriteTxn::set_attribute(std::string_view image, std::string_view name,
                               const AttributeValue& value, std::optional<uint32_t> frame) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  if (frame) TESSERA_RETURN_IF_ERROR(detail::check_frame(env_->path(), **info, *frame));
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::put_attribute(*txn_, **info, frame.value_or(detail::kImageScope), name, value);
}

Status WriteTxn::delete_attribute(std::string_view image, std::string_view name,
                                  std::optional<uint32_t> frame) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  if (frame) TESSERA_RETURN_IF_ERROR(detail::check_frame(env_->path(), **info, *frame));
  std::lock_guard lock(txn_->lmdb_mutex());
  return detail::delete_attribute(*txn_, **info, frame.value_or(detail::kImageScope), name);
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
  // Later frames move down by one: a mapped image reading one of them would show another frame.
  for (const auto& [mapped, value] : txn_->mapped())
    for (const MappedSource& s : value.sources)
      if (s.image == image && s.frame >= frame && frame < (*info)->frames)
        return env_->error(Code::kInvalidArgument,
                           "image '" + std::string(image) + "' frame " + std::to_string(frame) +
                               " cannot be dropped: mapped image '" + mapped + "' reads its frame " +
                               std::to_string(s.frame) + ", which would then show another frame or none "
                               "(define it again, or remove it, first)");
  ImageInfo updated = **info;
  std::lock_guard lock(txn_->lmdb_mutex());
  return txn_->nested([&] { return detail::drop_frame(*txn_, updated, frame); });
}

Status WriteTxn::write(std::string_view image, const Region& region, const Selection& sel,
                       const void* src, size_t src_size, Interleave interleave) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  return write(image, region, sel, src, src_size, packed_strides(**info, region, sel, interleave));
}

Status WriteTxn::write(std::string_view image, const Region& region, const Selection& sel,
                       const void* src, size_t src_size, const Strides& strides) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  TESSERA_RETURN_IF_ERROR(detail::check_level(*txn_, **info, sel, Access::kWrite));
  // A failed write changes nothing: it runs in a nested transaction, on a copy of the image.
  // The frame's pyramid levels follow in the same transaction.
  ImageInfo updated = **info;
  const CallerBuffer buffer{static_cast<uint8_t*>(const_cast<void*>(src)), src_size, strides};
  return txn_->nested([&] {
    std::vector<detail::TileCoord> changed;
    TESSERA_RETURN_IF_ERROR(detail::write_region(*txn_, *runtime_, updated, region, sel, buffer, &changed));
    return detail::update_pyramid(*txn_, *runtime_, updated, sel.frame, std::move(changed));
  });
}

Status WriteTxn::merge(const View& source, std::string_view source_image, std::string_view image,
                       uint32_t frame, uint32_t source_frame) {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  if (!source.txn_ || !source.txn_->active()) return finished(source.env_.get());
  auto here = env_->file_id();
  auto there = source.env_->file_id();
  if (!here) return here.status();
  if (!there) return there.status();
  if (here->device == there->device && here->inode == there->inode)
    return env_->error(Code::kInvalidArgument, "merge: the source " + source.env_->path() + " is this container");
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  auto from = source.txn_->find_image(source_image);
  if (!from) return from.status();
  TESSERA_RETURN_IF_ERROR(detail::check_level(*txn_, **info, Selection{frame, 0, {}}, Access::kWrite));
  ImageInfo updated = **info;
  std::lock_guard source_lock(source.txn_->lmdb_mutex());
  return txn_->nested([&] {
    std::vector<detail::TileCoord> changed;
    TESSERA_RETURN_IF_ERROR(
        detail::merge_tiles(*txn_, *runtime_, updated, frame, *source.txn_, **from, source_frame, &changed));
    return detail::update_pyramid(*txn_, *runtime_, updated, frame, std::move(changed));
  });
}

Status WriteTxn::commit() {
  if (!txn_ || !txn_->active()) return finished(env_.get());
  return txn_->commit();
}

void WriteTxn::abort() {
  if (txn_) txn_->abort();
}

// ---- Container ------------------------------------------------------------------------------

Container::Container(std::shared_ptr<detail::Env> env, std::shared_ptr<detail::Runtime> runtime)
    : env_(std::move(env)), runtime_(std::move(runtime)) {}
Container::Container(Container&&) noexcept = default;
Container& Container::operator=(Container&&) noexcept = default;
Container::~Container() = default;

Result<Container> Container::with_runtime(Result<std::shared_ptr<detail::Env>> env) {
  if (!env) return env.status();
  auto runtime = detail::Runtime::open(**env);
  if (!runtime) return runtime.status();
  return Container(std::move(env.value()), std::move(runtime.value()));
}

Result<Container> Container::create(const std::string& path, const OpenOptions& options) {
  return with_runtime(detail::Env::open(path, options, /*create=*/true));
}

Result<Container> Container::open(const std::string& path, const OpenOptions& options) {
  return with_runtime(detail::Env::open(path, options, /*create=*/false));
}

const std::string& Container::path() const { return env_->path(); }
FormatVersion Container::format_version() const { return env_->format_version; }

TileCacheStats Container::tile_cache_stats() const {
  detail::TileCache* cache = runtime_->tile_cache();
  if (!cache) return {};
  const auto s = cache->stats();
  return TileCacheStats{s.hits, s.misses, s.inserts, s.evictions, s.bytes, s.entries};
}

SharedCacheStats Container::shared_cache_stats() const {
  detail::SharedTileCache* cache = runtime_->shared_cache();
  if (!cache) return {};
  const auto s = cache->stats();
  return SharedCacheStats{s.hits, s.misses, s.puts, s.skipped, s.slots, cache->slot_bytes(), s.stale_recovered};
}

Status Container::remove_shared_cache(const std::string& name) {
  return detail::SharedTileCache::remove(name);
}

Status Container::compact(const std::string& path, const std::string& out, const Progress& progress) {
  return detail::compact_container(path, out, progress);
}

Result<Snapshot> Container::snapshot() const {
  auto txn = detail::Txn::begin(env_, /*write=*/false);
  if (!txn) return txn.status();
  return Snapshot(env_, runtime_, std::move(txn.value()));
}

Result<WriteTxn> Container::begin_write() {
  auto txn = detail::Txn::begin(env_, /*write=*/true);
  if (!txn) return txn.status();
  return WriteTxn(env_, runtime_, std::move(txn.value()));
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

Status Container::flush() {
  if (env_->options().read_only) return Status::ok();
  return env_->sync();
}

Status Container::remove(const std::string& path) { return detail::remove_container(path); }

}  // namespace tessera
