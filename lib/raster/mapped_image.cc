#include "raster/mapped_image.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "format/records.h"
#include "store/pyramid_table.h"

namespace tessera::detail {
namespace {

Status invalid(const Txn& txn, std::string_view name, const std::string& what) {
  return Status(Code::kInvalidArgument, txn.env().path() + ": mapped image '" + std::string(name) + "': " + what);
}

// The images being resolved, outermost first (a cycle comes back to one of them), and those
// resolved already (a mapped image many sources share is resolved once).
struct Resolution {
  std::vector<std::string> stack;
  std::map<std::string, std::shared_ptr<const MappedImage>, std::less<>> done;
};

Result<std::shared_ptr<const MappedImage>> resolve(const Txn& txn, std::string_view name, const MappedValue& value,
                                                   Resolution& r);

Result<MappedImage::Source> resolve_source(const Txn& txn, std::string_view name, const MappedSource& def,
                                           Resolution& r) {
  const std::vector<std::string>& stack = r.stack;
  MappedImage::Source source;
  source.frame = def.frame;
  source.transform = def.transform;
  const std::string who = "source '" + def.image + "'";
  if (auto ordinary = txn.find_image(def.image)) {
    source.image = **ordinary;
    if (def.frame >= source.image.frames)
      return invalid(txn, name, who + " has no frame " + std::to_string(def.frame) + " (it has " +
                                    std::to_string(source.image.frames) + ")");
    auto pyramid = read_pyramid(txn, source.image, def.frame);
    if (!pyramid) return pyramid.status();
    source.levels = pyramid->info.levels;
  } else if (const MappedValue* nested = txn.find_mapped(def.image)) {
    if (std::find(stack.begin(), stack.end(), def.image) != stack.end()) {
      std::string cycle;
      for (const std::string& s : stack) cycle += "'" + s + "' -> ";
      return invalid(txn, name, "mapped images stand on each other in a cycle: " + cycle + "'" + def.image + "'");
    }
    if (stack.size() >= kMaxMappedDepth)
      return invalid(txn, name, "mapped images stand on mapped images more than " +
                                    std::to_string(kMaxMappedDepth) + " deep (through " + who + ")");
    auto known = r.done.find(def.image);
    auto mapped = known != r.done.end() ? known->second : resolve(txn, def.image, *nested, r);
    if (!mapped) return mapped.status();
    r.done.emplace(def.image, *mapped);
    source.mapped = *mapped;
    source.image = (*mapped)->info;
    source.levels = (*mapped)->levels;
    if (def.frame != 0) return invalid(txn, name, who + " is a mapped image: it has frame 0 alone, not " + std::to_string(def.frame));
  } else {
    return invalid(txn, name, who + " is not an image of this container");
  }
  const uint32_t bands = source.image.spec.bands;
  if (def.bands.empty())
    for (uint32_t b = 0; b < bands; ++b) source.bands.push_back(b);
  else
    source.bands = def.bands;
  if (source.bands.empty() || source.bands.size() > kMaxBands)
    return invalid(txn, name, who + " maps " + std::to_string(source.bands.size()) + " bands: 1 to " + std::to_string(kMaxBands));
  const size_t s = sample_size(source.image.spec.type);
  for (uint32_t b : source.bands) {
    if (b >= bands)
      return invalid(txn, name, who + " has no band " + std::to_string(b) + " (it has " + std::to_string(bands) + ")");
    const uint8_t* at = source.image.fill_pixel.data() + b * s;
    source.nodata.insert(source.nodata.end(), at, at + s);
  }
  Status affine = check_affine(def.transform);
  if (!affine.is_ok()) return invalid(txn, name, who + ": " + affine.message());
  return source;
}

Result<std::shared_ptr<const MappedImage>> resolve(const Txn& txn, std::string_view name, const MappedValue& value,
                                                   Resolution& r) {
  r.stack.emplace_back(name);
  auto image = std::make_shared<MappedImage>();
  image->value = value;
  if (value.sources.empty() || value.sources.size() > kMaxMappedSources)
    return invalid(txn, name, std::to_string(value.sources.size()) + " sources: 1 to " + std::to_string(kMaxMappedSources));
  for (const MappedSource& def : value.sources) {
    auto source = resolve_source(txn, name, def, r);
    if (!source) return source.status();
    const MappedImage::Source& first = image->sources.empty() ? *source : image->sources.front();
    if (source->image.spec.type != first.image.spec.type || source->bands.size() != first.bands.size())
      return invalid(txn, name, "source '" + def.image + "' gives " + std::to_string(source->bands.size()) + " bands of " +
                                    std::string(data_type_name(source->image.spec.type)) + ", the first source " +
                                    std::to_string(first.bands.size()) + " of " +
                                    std::string(data_type_name(first.image.spec.type)) + ": sources must agree");
    image->sources.push_back(std::move(*source));
  }
  const MappedImage::Source& first = image->sources.front();
  ImageInfo& info = image->info;
  info.name = std::string(name);
  info.id = UINT32_MAX;  // no record of its own: never a key
  info.mapped = true;
  info.frames = 1;
  info.spec = first.image.spec;
  info.spec.bands = uint32_t(first.bands.size());
  info.spec.storage = StorageLayout::kChunky;
  info.fill_pixel = value.fill.empty() ? first.nodata : value.fill;  // empty: a definition not stored yet
  if (info.fill_pixel.size() != info.pixel_bytes())
    return invalid(txn, name, "its fill is " + std::to_string(info.fill_pixel.size()) + " bytes, not one pixel (" +
                                  std::to_string(info.pixel_bytes()) + " bytes)");
  info.spec.fill = pixel_values(info.spec.type, info.fill_pixel);
  image->levels = first.levels;
  for (const MappedImage::Source& s : image->sources) image->levels = std::min(image->levels, s.levels);
  r.stack.pop_back();
  return std::shared_ptr<const MappedImage>(std::move(image));
}

}  // namespace

Result<std::shared_ptr<const MappedImage>> resolve_mapped(const Txn& txn, std::string_view name) {
  const MappedValue* value = txn.find_mapped(name);
  if (!value) return Status(Code::kNotFound, txn.env().path() + ": no mapped image named '" + std::string(name) + "'");
  return resolve_mapped(txn, name, *value);
}

Result<std::shared_ptr<const MappedImage>> resolve_mapped(const Txn& txn, std::string_view name,
                                                          const MappedValue& value) {
  Resolution r;
  return resolve(txn, name, value, r);
}

Affine transform_at_level(const Affine& t, uint32_t level) {
  const double scale = std::ldexp(1.0, -int(level));
  return Affine{t.a, t.b, t.c * scale, t.d, t.e, t.f * scale};
}

Affine inverse(const Affine& t) {
  const double det = t.a * t.e - t.b * t.d;
  const double a = t.e / det, b = -t.b / det, d = -t.d / det, e = t.a / det;
  return Affine{a, b, -(a * t.c + b * t.f), d, e, -(d * t.c + e * t.f)};
}

}  // namespace tessera::detail
