// Mapped images in the public API: defining, describing, deleting and materializing them
// (reads go through View::read and friends, lib/container.cc; the names of their rules are in
// lib/types.cc with the other value types).
#include "tessera/mapped.h"

#include <algorithm>

#include "format/mapped_record.h"
#include "format/records.h"
#include "raster/mapped_image.h"
#include "store/env.h"
#include "tessera/container.h"

namespace tessera {

Result<MappedSpec> View::mapped(std::string_view name) const {
  if (!txn_ || !txn_->active()) return env_->error(Code::kInvalidArgument, "the transaction has finished");
  const detail::MappedValue* value = txn_->find_mapped(name);
  if (!value) return env_->error(Code::kNotFound, "no mapped image named '" + std::string(name) + "'");
  MappedSpec spec{value->sources, value->blend, value->interpolation, {}};
  auto image = this->image(name);
  if (image) spec.fill = detail::pixel_values(image->spec.type, value->fill);
  return spec;
}

Status WriteTxn::define_mapped(std::string_view name, const MappedSpec& spec, bool replace) {
  if (!txn_ || !txn_->active()) return env_->error(Code::kInvalidArgument, "the transaction has finished");
  TESSERA_RETURN_IF_ERROR(check_image_name(name).with_context(env_->path()));
  if (txn_->find_image(name))
    return env_->error(Code::kAlreadyExists, "an image named '" + std::string(name) + "' exists");
  if (!replace && txn_->find_mapped(name))
    return env_->error(Code::kAlreadyExists, "a mapped image named '" + std::string(name) +
                                                 "' exists (define it again to replace it)");
  detail::MappedValue value{spec.sources, spec.blend, spec.interpolation, {}};
  if (uint8_t(spec.blend) > uint8_t(Blend::kMax) || uint8_t(spec.interpolation) > uint8_t(Interpolation::kBilinear))
    return env_->error(Code::kInvalidArgument, "mapped image '" + std::string(name) + "': unknown blend or resampling");
  std::lock_guard lock(txn_->lmdb_mutex());
  // Resolved without a fill first (it then takes the first source's): the sample type and bands
  // a given fill must fit.
  auto resolved = detail::resolve_mapped(*txn_, name, value);
  if (!resolved) return resolved.status();
  const ImageInfo& info = (*resolved)->info;
  value.fill = info.fill_pixel;
  if (!spec.fill.empty()) {
    ImageSpec as{};
    as.type = info.spec.type;
    as.bands = info.spec.bands;
    as.fill = spec.fill;
    if (as.fill.size() != 1 && as.fill.size() != as.bands)
      return env_->error(Code::kInvalidArgument, "mapped image '" + std::string(name) + "': fill has " +
                                                     std::to_string(as.fill.size()) + " values; expected 1 or " +
                                                     std::to_string(as.bands));
    auto fill = detail::fill_pixel(as);
    if (!fill) return fill.status().with_context(env_->path() + ": mapped image '" + std::string(name) + "'");
    value.fill = std::move(*fill);
  }
  return txn_->put_mapped(name, value);
}

Status WriteTxn::remove_mapped(std::string_view name) {
  if (!txn_ || !txn_->active()) return env_->error(Code::kInvalidArgument, "the transaction has finished");
  if (!txn_->find_mapped(name)) return env_->error(Code::kNotFound, "no mapped image named '" + std::string(name) + "'");
  for (const auto& [other, value] : txn_->mapped())
    for (const MappedSource& s : value.sources)
      if (s.image == name && other != name)
        return env_->error(Code::kInvalidArgument, "mapped image '" + std::string(name) + "' is a source of mapped image '" +
                                                       other + "': remove or define that one first");
  std::lock_guard lock(txn_->lmdb_mutex());
  return txn_->delete_mapped(name);
}

Status Container::materialize(std::string_view mapped, std::string_view image, const MaterializeOptions& options) {
  ImageInfo info;
  std::optional<Region> region = options.region;
  {
    auto snapshot = this->snapshot();
    if (!snapshot) return snapshot.status();
    auto definition = snapshot->mapped(mapped);
    if (!definition) return definition.status();
    auto found = snapshot->image(mapped);
    if (!found) return found.status();
    info = *found;
    if (!region) {
      auto extent = snapshot->extent(mapped);
      if (!extent) return extent.status();
      region = *extent;
    }
  }
  ImageSpec spec = info.spec;
  spec.storage = StorageLayout::kChunky;
  if (options.codec) spec.codec = *options.codec;
  TESSERA_RETURN_IF_ERROR(write([&](WriteTxn& txn) -> Status {
    TESSERA_RETURN_IF_ERROR(txn.create_image(image, spec));
    return region ? txn.set_attribute(image, kExtentAttribute, extent_value(*region)) : Status::ok();
  }));
  if (!region) return Status::ok();  // no source holds data: an empty image
  // Strips of whole tile rows of the new image, about 64 MiB each.
  const int64_t tile = spec.tile_size;
  const uint64_t line_bytes = uint64_t(region->width) * info.pixel_bytes();
  const int64_t rows = std::max<int64_t>(tile, int64_t((uint64_t(64) << 20) / std::max<uint64_t>(line_bytes, 1)) / tile * tile);
  std::vector<uint8_t> strip;
  for (int64_t y = region->y; y < region->y_end();) {
    // The strip ends on a tile row of the new image (tiles are a power of two: masking floors,
    // negative y too).
    const int64_t end = std::min(region->y_end(), (y & ~(tile - 1)) + rows);
    const Region part{region->x, y, region->width, end - y};
    strip.resize(size_t(part.pixel_count()) * info.pixel_bytes());
    TESSERA_RETURN_IF_ERROR(write([&](WriteTxn& txn) -> Status {
      TESSERA_RETURN_IF_ERROR(txn.read(mapped, part, {}, strip.data(), strip.size()));
      return txn.write(image, part, {}, strip.data(), strip.size());
    }));
    y = end;
    if (options.progress) options.progress(uint64_t(y - region->y), uint64_t(region->height));
  }
  return Status::ok();
}

}  // namespace tessera
