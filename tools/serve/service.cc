#include "service.h"

#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <bit>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "render.h"

namespace tessera::serve {
namespace {

using Json = nlohmann::json;

Response text(int status, std::string message) {
  Response r;
  r.status = status;
  r.body = std::move(message) + "\n";
  return r;
}
Response failed(const Status& s) { return text(http_status(s.code()), s.message()); }

Response json(const Json& value) {
  Response r;
  r.content_type = "application/json";
  r.body = value.dump();
  return r;
}

// Bytes of samples held by requests at once: a request waits (up to 10 s, then 503) until
// what it needs is free.
class ByteBudget {
 public:
  explicit ByteBudget(uint64_t bytes) : free_(bytes) {}
  bool acquire(uint64_t n) {
    std::unique_lock lock(mutex_);
    return freed_.wait_for(lock, std::chrono::seconds(10), [&] { return free_ >= n; }) && (free_ -= n, true);
  }
  void release(uint64_t n) {
    {
      std::lock_guard lock(mutex_);
      free_ += n;
    }
    freed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  uint64_t free_;
};

// Percent-encoding of an identifier for a URI.
std::string uri_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@') out.push_back(char(c));
    else out += {'%', hex[c >> 4], hex[c & 15]};
  }
  return out;
}

std::string quoted_tag(std::string_view content, const std::string& how) {
  return "\"" + std::string(content) + "-" + std::to_string(XXH3_64bits(how.data(), how.size()) & 0xffffffffffffULL) + "\"";
}

// Whether an If-None-Match header holds `etag` (or *).
bool matches(std::string_view header, std::string_view etag) {
  if (header.empty()) return false;
  size_t at = 0;
  while (at < header.size()) {
    const size_t comma = header.find(',', at);
    std::string_view item = header.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return false;
}

// The image an identifier names and its frame: the name itself, else NAME@F.
struct Target {
  ImageInfo image;
  uint32_t frame = 0;
  Region area;  // what a picture of the frame covers (picture_target)
};

Result<Target> resolve(const Snapshot& snap, const std::string& id, std::optional<uint32_t> frame) {
  auto exact = snap.image(id);
  Target t;
  if (exact) {
    t.image = std::move(exact).value();
  } else {
    const size_t at = id.rfind('@');
    uint32_t f = 0;
    const std::string_view digits = at == std::string::npos ? std::string_view() : std::string_view(id).substr(at + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), f);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return exact.status();
    auto named = snap.image(id.substr(0, at));
    if (!named) return exact.status();
    t.image = std::move(named).value();
    t.frame = f;
  }
  if (frame) t.frame = *frame;
  if (t.frame >= t.image.frames)
    return Status(Code::kNotFound, "image '" + t.image.name + "' has no frame " + std::to_string(t.frame) +
                                       " (it has " + std::to_string(t.image.frames) + ")");
  return t;
}

// What a picture of a frame covers: the extent it declares, else the tiles holding its data
// (kLeaf: from the tile index, where the exact box may mean decoding the edge tiles at every
// request of a read-only snapshot).
Result<Region> frame_area(const Snapshot& snap, const Target& t) {
  auto extent = snap.extent(t.image.name, t.frame);
  if (!extent) return extent.status();
  if (*extent) return **extent;
  auto bounds = snap.bounds(t.image.name, t.frame, Precision::kLeaf);
  if (!bounds) return bounds.status();
  if (*bounds) return **bounds;
  return Status(Code::kNotFound, "image '" + t.image.name + "' frame " + std::to_string(t.frame) +
                                     " holds no data and declares no extent");
}

// resolve(), with the area a picture of the frame covers.
Result<Target> picture_target(const Snapshot& snap, const std::string& id, std::optional<uint32_t> frame) {
  TESSERA_ASSIGN_OR_RETURN(Target t, resolve(snap, id, frame));
  TESSERA_ASSIGN_OR_RETURN(t.area, frame_area(snap, t));
  return t;
}

// Deep Zoom's top level: the image fits 2^n pixels.
uint32_t top_level(const Region& area) {
  const uint64_t side = uint64_t(std::max(area.width, area.height));
  return side <= 1 ? 0 : uint32_t(std::bit_width(side - 1));
}

int64_t ceil_shift(int64_t v, uint32_t k) { return int64_t((__int128(v) + (__int128(1) << k) - 1) >> k); }

// Level L of the area: its origin rounded down, its size Deep Zoom's (rounded up).
Region level_area(const Region& area, uint32_t level) {
  const Region r = level_region(area, level);
  return Region{r.x, r.y, ceil_shift(area.width, level), ceil_shift(area.height, level)};
}

// The metres one pixel spans, from what an import kept: OpenSlide's microns per pixel, TIFF's
// resolution in inches or centimetres, ENVI's map info in metres.
std::optional<double> metres_per_pixel(const Attributes& attrs) {
  const auto number = [](const AttributeValue* v) -> std::optional<double> {
    if (!v) return std::nullopt;
    if (auto d = std::get_if<double>(v)) return *d;
    if (auto i = std::get_if<int64_t>(v)) return double(*i);
    if (auto s = std::get_if<std::string>(v)) {
      double d;
      const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), d);
      if (ec == std::errc() && end == s->data() + s->size()) return d;
    }
    return std::nullopt;
  };
  if (auto mpp = number(find_attribute(attrs, "openslide.mpp-x")); mpp && *mpp > 0) return *mpp * 1e-6;
  if (auto res = number(find_attribute(attrs, "tiff.XResolution")); res && *res > 0) {
    const auto unit = number(find_attribute(attrs, "tiff.ResolutionUnit"));
    if (unit && *unit == 2) return 0.0254 / *res;
    if (unit && *unit == 3) return 0.01 / *res;
  }
  if (auto info = find_attribute(attrs, "envi.map info")) {
    if (auto list = std::get_if<std::vector<std::string>>(info); list && list->size() >= 7) {
      bool metres = (*list)[0].find("UTM") != std::string::npos;
      for (const auto& item : *list) metres = metres || item.find("units=Meters") != std::string::npos;
      double size;
      const std::string& s = (*list)[5];
      const auto [end, ec] = std::from_chars(s.data() + (s[0] == ' '), s.data() + s.size(), size);
      if (metres && ec == std::errc() && size > 0) return size;
    }
  }
  return std::nullopt;
}

}  // namespace

int http_status(Code code) {
  switch (code) {
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kBusy: return 503;
    default: return 500;
  }
}

struct TileService::State {
  const Container& container;
  ServiceOptions options;
  std::span<const EmbeddedFile> viewer;
  mutable ByteBudget budget;
  // Display ranges computed so far, by image, frame, bands and the content tag they came from.
  mutable std::mutex ranges_mutex;
  mutable std::map<std::string, std::vector<std::pair<double, double>>> ranges;

  State(const Container& c, ServiceOptions o, std::span<const EmbeddedFile> v)
      : container(c), options(o), viewer(v), budget(o.memory_bytes) {}

  // Samples of `region` of level `level` (bands `bands`, pixel-interleaved), within the
  // limits and the shared budget.
  struct Samples {
    std::vector<uint8_t> bytes;
    const State* owner = nullptr;
    uint64_t held = 0;
    ~Samples() {
      if (owner) owner->budget.release(held);
    }
  };
  Status read(const Snapshot& snap, const Target& t, const Region& region, uint32_t level,
              const std::vector<uint32_t>& bands, Samples& out) const {
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(region.pixel_count(), uint64_t(bands.size() * sample_size(t.image.spec.type)), &bytes) ||
        bytes > options.max_read_bytes)
      return Status(Code::kInvalidArgument, "the request reads " + to_string(region) + " of level " +
                                                std::to_string(level) + ", more bytes of samples than this server's limit of " +
                                                std::to_string(options.max_read_bytes) + " (ask for a smaller size)");
    if (!budget.acquire(bytes)) return Status(Code::kBusy, "the server is busy: try again");
    out.owner = this;
    out.held = bytes;
    out.bytes.resize(bytes);
    return snap.read_reduced(t.image.name, region, Selection{t.frame, level, bands}, options.max_reduction,
                             out.bytes.data(), out.bytes.size());
  }

  // The finest level the service shows of a frame: the built ones plus max_reduction.
  Result<uint32_t> served_levels(const Snapshot& snap, const Target& t) const {
    auto p = snap.pyramid(t.image.name, t.frame);
    if (!p) return p.status();
    return std::min(kMaxPyramidLevels, p->levels + options.max_reduction);
  }

  Status check_level(const Snapshot& snap, const Target& t, uint32_t level, std::string_view what) const {
    TESSERA_ASSIGN_OR_RETURN(uint32_t served, served_levels(snap, t));
    if (level <= served) return Status::ok();
    return Status(Code::kNotFound, std::string(what) + ": pyramid level " + std::to_string(level) + " of image '" +
                                       t.image.name + "' frame " + std::to_string(t.frame) + " is not built (this server makes " +
                                       std::to_string(options.max_reduction) + " levels on the fly above the built ones, up to " +
                                       std::to_string(served) + "); build it with: tessera pyramid " +
                                       container.path() + " --image " + t.image.name + " --frame " + std::to_string(t.frame));
  }

  std::vector<uint32_t> display_bands(const Target& t, const Display& d) const {
    if (!d.bands.empty()) return d.bands;
    if (t.image.spec.bands >= 3) return {0, 1, 2};
    return {0};
  }

  // The display range of each band: the request's, else u8's 0:255, else the 0.5 and 99.5
  // percentiles of a coarse read (cached while its tiles stay the same).
  Result<std::vector<std::pair<double, double>>> display_ranges(const Snapshot& snap, const Target& t,
                                                                const Display& d, const std::vector<uint32_t>& bands) const {
    if (d.ranges.size() == 1) return std::vector<std::pair<double, double>>(bands.size(), d.ranges[0]);
    if (!d.ranges.empty()) {
      if (d.ranges.size() != bands.size())
        return Status(Code::kInvalidArgument, "range: " + std::to_string(d.ranges.size()) + " ranges for " +
                                                  std::to_string(bands.size()) + " bands");
      return d.ranges;
    }
    if (t.image.spec.type == DataType::kU8) return std::vector<std::pair<double, double>>(bands.size(), {0, 255});
    return auto_ranges(snap, t, bands);
  }

  // `t` from picture_target.
  Result<std::vector<std::pair<double, double>>> auto_ranges(const Snapshot& snap, const Target& t,
                                                             const std::vector<uint32_t>& bands) const;
  Response image_list(const Snapshot& snap, const ImageList& r, const RequestInfo& req) const;
  Response dzi_descriptor(const Snapshot& snap, const DziDescriptor& r) const;
  Response picture(const Snapshot& snap, const Target& t, const Region& region, uint32_t level, int64_t width,
                   int64_t height, bool gray, Format format, const Display& display, const RequestInfo& req,
                   const std::string& what) const;
  Response iiif_info(const Snapshot& snap, const IiifInfo& r, const RequestInfo& req) const;
  Response raw_tile(const Snapshot& snap, const RawTile& r, const RequestInfo& req) const;
};

Result<std::vector<std::pair<double, double>>> TileService::State::auto_ranges(
    const Snapshot& snap, const Target& t, const std::vector<uint32_t>& bands) const {
  const Region& area = t.area;
  TESSERA_ASSIGN_OR_RETURN(uint32_t served, served_levels(snap, t));
  // The coarsest level served, at most 512 pixels across; its middle 512 x 512 when larger.
  uint32_t level = std::min(served, top_level(area) > 9 ? top_level(area) - 9 : 0);
  Region r = level_area(area, level);
  const int64_t w = std::min<int64_t>(r.width, 512), h = std::min<int64_t>(r.height, 512);
  r = Region{r.x + (r.width - w) / 2, r.y + (r.height - h) / 2, w, h};
  auto tag = snap.content_tag(t.image.name, r, Selection{t.frame, level, {}});
  if (!tag) return tag.status();
  std::string key = t.image.name + '\0' + std::to_string(t.frame) + '\0' + *tag;
  for (uint32_t b : bands) key += ',' + std::to_string(b);
  {
    std::lock_guard lock(ranges_mutex);
    if (auto it = ranges.find(key); it != ranges.end()) return it->second;
  }
  Samples s;
  TESSERA_RETURN_IF_ERROR(read(snap, t, r, level, bands, s));
  std::vector<std::pair<double, double>> out;
  const size_t sample = sample_size(t.image.spec.type), n = size_t(r.pixel_count());
  for (size_t b = 0; b < bands.size(); ++b) {
    std::vector<double> values;
    values.reserve(n);
    const double fill = t.image.spec.fill.size() == 1 ? t.image.spec.fill[0] : t.image.spec.fill[bands[b]];
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* p = s.bytes.data() + (i * bands.size() + b) * sample;
      double v = 0;
      switch (t.image.spec.type) {
#define TESSERA_SAMPLE(K, T) case DataType::K: { T x; std::memcpy(&x, p, sizeof x); v = double(x); break; }
        TESSERA_SAMPLE(kU8, uint8_t) TESSERA_SAMPLE(kU16, uint16_t) TESSERA_SAMPLE(kU32, uint32_t)
        TESSERA_SAMPLE(kU64, uint64_t) TESSERA_SAMPLE(kI8, int8_t) TESSERA_SAMPLE(kI16, int16_t)
        TESSERA_SAMPLE(kI32, int32_t) TESSERA_SAMPLE(kI64, int64_t) TESSERA_SAMPLE(kF32, float)
        TESSERA_SAMPLE(kF64, double)
#undef TESSERA_SAMPLE
      }
      if (std::isfinite(v) && v != fill) values.push_back(v);
    }
    if (values.empty()) {
      out.emplace_back(0, 1);
      continue;
    }
    const auto at = [&](double q) {
      const size_t i = std::min(values.size() - 1, size_t(q * double(values.size() - 1)));
      std::nth_element(values.begin(), values.begin() + ptrdiff_t(i), values.end());
      return values[i];
    };
    double lo = at(0.005), hi = at(0.995);
    if (!(lo < hi)) hi = lo + 1;
    out.emplace_back(lo, hi);
  }
  std::lock_guard lock(ranges_mutex);
  if (ranges.size() > 4096) ranges.clear();
  ranges[key] = out;
  return out;
}

Response TileService::State::image_list(const Snapshot& snap, const ImageList& r, const RequestInfo&) const {
  Json list = Json::array();
  for (const ImageInfo& info : snap.images()) {
    if (!r.image.empty() && info.name != r.image) continue;
    const Target t{info, r.frame.value_or(0)};
    if (t.frame >= info.frames) return failed(resolve(snap, info.name, r.frame).status());
    Json item{{"name", info.name},
              {"dtype", data_type_name(info.spec.type)},
              {"bands", info.spec.bands},
              {"frames", info.frames},
              {"frame", t.frame},
              {"tile_size", info.spec.tile_size}};
    auto area = frame_area(snap, t);
    auto served = served_levels(snap, t);
    if (!served) return failed(served.status());
    if (area) {
      const uint32_t top = top_level(*area);
      item["area"] = {{"x", area->x}, {"y", area->y}, {"width", area->width}, {"height", area->height}};
      item["dzi_levels"] = top + 1;
      item["dzi_min_level"] = top > *served ? top - *served : 0;
    } else {
      item["area"] = nullptr;  // nothing to show yet
    }
    auto attrs = snap.frame_attributes(info.name, t.frame);
    if (!attrs) return failed(attrs.status());
    if (auto m = metres_per_pixel(*attrs)) item["metres_per_pixel"] = *m;
    if (auto names = find_attribute(*attrs, "envi.band names"))
      if (auto list_value = std::get_if<std::vector<std::string>>(names)) item["band_names"] = *list_value;
    if (auto w = find_attribute(*attrs, "envi.wavelength"))
      if (auto list_value = std::get_if<std::vector<double>>(w)) item["wavelengths"] = *list_value;
    list.push_back(std::move(item));
  }
  if (!r.image.empty() && list.empty()) return failed(snap.image(r.image).status());
  return json(Json{{"file", container.path()}, {"images", list}});
}

Response TileService::State::dzi_descriptor(const Snapshot& snap, const DziDescriptor& r) const {
  auto t = picture_target(snap, r.image, r.frame);
  if (!t) return failed(t.status());
  const Region* area = &t->area;
  Response out;
  out.content_type = "application/xml";
  out.body = std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") +
             "<Image xmlns=\"http://schemas.microsoft.com/deepzoom/2008\" Format=\"" +
             (r.format == Format::kJpeg ? "jpg" : "png") + "\" Overlap=\"0\" TileSize=\"256\">\n  <Size Width=\"" +
             std::to_string(area->width) + "\" Height=\"" + std::to_string(area->height) + "\"/>\n</Image>\n";
  return out;
}

Response TileService::State::picture(const Snapshot& snap, const Target& t, const Region& region, uint32_t level,
                                     int64_t width, int64_t height, bool gray, Format format, const Display& display,
                                     const RequestInfo& req, const std::string& what) const {
  const std::vector<uint32_t> bands = display_bands(t, display);
  for (uint32_t b : bands)
    if (b >= t.image.spec.bands)
      return text(400, what + ": band " + std::to_string(b) + " out of range: image '" + t.image.name + "' has " +
                           std::to_string(t.image.spec.bands));
  auto ranges = display_ranges(snap, t, display, bands);
  if (!ranges) return failed(ranges.status());
  auto tag = snap.content_tag(t.image.name, region, Selection{t.frame, level, {}});
  if (!tag) return failed(tag.status());
  std::string how = to_string(region) + "/" + std::to_string(level) + "/" + std::to_string(width) + "x" +
                    std::to_string(height) + (gray ? "/gray/" : "/color/") + std::to_string(int(format)) + "/" +
                    std::to_string(display.quality);
  for (size_t i = 0; i < bands.size(); ++i) {
    char range[64];
    std::snprintf(range, sizeof range, "/%u:%.17g:%.17g", bands[i], (*ranges)[i].first, (*ranges)[i].second);
    how += range;
  }
  Response out;
  out.etag = quoted_tag(*tag, how);
  if (matches(req.if_none_match, out.etag)) {
    out.status = 304;
    return out;
  }
  Samples s;
  if (Status st = read(snap, t, region, level, bands, s); !st) return failed(st.with_context(what));
  Picture p = to_picture(std::move(s.bytes), t.image.spec.type, int(bands.size()), region.width, region.height, *ranges);
  p = resize(std::move(p), width, height);
  if (gray) p = to_gray(std::move(p));
  auto encoded = encode(p, format, display.quality);
  if (!encoded) return failed(encoded.status());
  out.content_type = content_type(format);
  out.body = std::move(encoded).value();
  return out;
}

Response TileService::State::iiif_info(const Snapshot& snap, const IiifInfo& r, const RequestInfo& req) const {
  auto t = picture_target(snap, r.image, r.frame);
  if (!t) return failed(t.status());
  const Region* area = &t->area;
  auto served = served_levels(snap, *t);
  if (!served) return failed(served.status());
  const uint32_t top = std::min(*served, top_level(*area));
  Json scale = Json::array(), sizes = Json::array();
  for (uint32_t l = 0; l <= top; ++l) {
    scale.push_back(uint64_t(1) << l);
    const Region a = level_area(*area, l);
    if (a.width <= options.limits.max_width && a.height <= options.limits.max_height &&
        a.width * a.height <= options.limits.max_area)
      sizes.insert(sizes.begin(), Json{{"width", a.width}, {"height", a.height}});
  }
  const std::string id = r.frame && *r.frame != 0 && t->image.name == r.image ? r.image + "@" + std::to_string(*r.frame)
                                                                              : r.image;
  Response out = json(Json{{"@context", "http://iiif.io/api/image/3/context.json"},
                           {"id", "http://" + req.host + "/iiif/" + uri_encode(id)},
                           {"type", "ImageService3"},
                           {"protocol", "http://iiif.io/api/image"},
                           {"profile", "level1"},
                           {"width", area->width},
                           {"height", area->height},
                           {"maxWidth", options.limits.max_width},
                           {"maxHeight", options.limits.max_height},
                           {"maxArea", options.limits.max_area},
                           {"sizes", sizes},
                           {"tiles", Json::array({Json{{"width", 256}, {"height", 256}, {"scaleFactors", scale}}})},
                           {"extraQualities", {"color", "gray"}},
                           {"extraFormats", {"png"}},
                           {"extraFeatures", {"regionByPct", "sizeByPct", "sizeByConfinedWh", "sizeByWh", "sizeUpscaling",
                                              "cors", "jsonldMediaType", "baseUriRedirect"}}});
  out.content_type = "application/ld+json;profile=\"http://iiif.io/api/image/3/context.json\"";
  return out;
}

Response TileService::State::raw_tile(const Snapshot& snap, const RawTile& r, const RequestInfo& req) const {
  auto t = resolve(snap, r.image, r.frame);
  if (!t) return failed(t.status());
  if (Status s = check_level(snap, *t, r.level, "raw tile"); !s) return failed(s);
  const int64_t T = t->image.spec.tile_size;
  if (r.x < INT64_MIN / T || r.x > INT64_MAX / T - 1 || r.y < INT64_MIN / T || r.y > INT64_MAX / T - 1)
    return text(400, "raw tile (" + std::to_string(r.x) + ", " + std::to_string(r.y) + ") lies outside level " +
                         std::to_string(r.level) + "'s 64-bit coordinates");
  const Region region{r.x * T, r.y * T, T, T};
  std::vector<uint32_t> bands = r.bands;
  if (bands.empty())
    for (uint32_t b = 0; b < t->image.spec.bands; ++b) bands.push_back(b);
  auto checked = snap.check(t->image.name, region, Selection{t->frame, 0, bands});
  if (!checked) return failed(checked.status());
  Json band_list = bands;
  const std::string dtype(data_type_name(t->image.spec.type));
  std::vector<std::pair<std::string, std::string>> headers = {
      {"X-Tessera-Dtype", dtype},
      {"X-Tessera-Bands", band_list.dump()},
      {"X-Tessera-Width", std::to_string(T)},
      {"X-Tessera-Height", std::to_string(T)},
      {"X-Tessera-Region", to_string(region)},
      {"X-Tessera-Level", std::to_string(r.level)},
      {"X-Tessera-Frame", std::to_string(t->frame)},
      {"X-Tessera-Interleave", "bip"}};
  if (r.description) {
    Response out = json(Json{{"image", t->image.name},
                             {"frame", t->frame},
                             {"level", r.level},
                             {"tile", {r.x, r.y}},
                             {"region", {{"x", region.x}, {"y", region.y}, {"width", T}, {"height", T}}},
                             {"dtype", dtype},
                             {"bands", band_list},
                             {"interleave", "bip"},
                             {"byte_order", "little"},
                             {"bytes", region.pixel_count() * bands.size() * sample_size(t->image.spec.type)}});
    return out;
  }
  auto tag = snap.content_tag(t->image.name, region, Selection{t->frame, r.level, {}});
  if (!tag) return failed(tag.status());
  Response out;
  out.etag = quoted_tag(*tag, "raw/" + band_list.dump());
  out.headers = std::move(headers);
  if (matches(req.if_none_match, out.etag)) {
    out.status = 304;
    return out;
  }
  Samples s;
  if (Status st = read(snap, *t, region, r.level, bands, s); !st) return failed(st);
  out.content_type = "application/octet-stream";
  out.body.assign(reinterpret_cast<const char*>(s.bytes.data()), s.bytes.size());
  return out;
}

TileService::TileService(const Container& container, ServiceOptions options, std::span<const EmbeddedFile> viewer)
    : state_(std::make_unique<State>(container, options, viewer)) {}
TileService::~TileService() = default;

Response TileService::handle(std::string_view target, const RequestInfo& req) const {
  auto route = parse_route(target);
  if (!route) return failed(route.status());
  const State& st = *state_;
  if (const auto* file = std::get_if<ViewerFile>(&*route)) {
    for (const EmbeddedFile& f : st.viewer)
      if (f.name == file->name) {
        Response out;
        out.content_type = std::string(f.content_type);
        out.body.assign(reinterpret_cast<const char*>(f.data.data()), f.data.size());
        out.cache_control = "max-age=3600";
        return out;
      }
    return text(404, "no viewer file '" + file->name + "'" + (st.viewer.empty() ? " (this build has no viewer)" : ""));
  }
  if (const auto* base = std::get_if<IiifBase>(&*route)) {
    Response out = text(303, "see info.json");
    out.location = "/iiif/" + uri_encode(base->image) + "/info.json" + (base->query.empty() ? "" : "?" + base->query);
    return out;
  }
  auto snap = st.container.snapshot();
  if (!snap) return failed(snap.status());
  if (const auto* list = std::get_if<ImageList>(&*route)) return st.image_list(*snap, *list, req);
  if (const auto* range = std::get_if<DisplayRange>(&*route)) {
    auto t = picture_target(*snap, range->image, range->frame);
    if (!t) return failed(t.status());
    const std::vector<uint32_t> bands = st.display_bands(*t, Display{range->bands, {}, 90});
    for (uint32_t b : bands)
      if (b >= t->image.spec.bands) return text(400, "band " + std::to_string(b) + " out of range");
    auto ranges = st.auto_ranges(*snap, *t, bands);
    if (!ranges) return failed(ranges.status());
    Json out = Json::array();
    for (const auto& [lo, hi] : *ranges) out.push_back({lo, hi});
    return json(Json{{"bands", bands}, {"ranges", out}});
  }
  if (const auto* d = std::get_if<DziDescriptor>(&*route)) return st.dzi_descriptor(*snap, *d);
  if (const auto* tile = std::get_if<DziTile>(&*route)) {
    auto t = picture_target(*snap, tile->image, tile->frame);
    if (!t) return failed(t.status());
    const Region* area = &t->area;
    const uint32_t top = top_level(*area);
    const std::string what = "Deep Zoom tile " + std::to_string(tile->level) + "/" + std::to_string(tile->column) +
                             "_" + std::to_string(tile->row);
    if (tile->level > top)
      return text(404, what + ": image '" + t->image.name + "' has Deep Zoom levels 0.." + std::to_string(top));
    const uint32_t level = top - tile->level;
    if (Status s = st.check_level(*snap, *t, level, what); !s) return failed(s);
    const Region a = level_area(*area, level);
    const int64_t x = tile->column * 256, y = tile->row * 256;
    if (tile->column > a.width / 256 || tile->row > a.height / 256 || x >= a.width || y >= a.height)
      return text(404, what + ": out of range (the level is " + std::to_string(a.width) + " x " +
                           std::to_string(a.height) + ", tiles of 256)");
    const Region region{a.x + x, a.y + y, std::min<int64_t>(256, a.width - x), std::min<int64_t>(256, a.height - y)};
    return st.picture(*snap, *t, region, level, region.width, region.height, false, tile->format, tile->display, req, what);
  }
  if (const auto* info = std::get_if<IiifInfo>(&*route)) return st.iiif_info(*snap, *info, req);
  if (const auto* im = std::get_if<IiifImage>(&*route)) {
    auto t = picture_target(*snap, im->image, im->frame);
    if (!t) return failed(t.status());
    const Region* area = &t->area;
    auto plan = plan_iiif(im->region, im->size, im->rotation, im->quality, area->width, area->height, st.options.limits);
    if (!plan) return failed(plan.status());
    auto served = st.served_levels(*snap, *t);
    if (!served) return failed(served.status());
    // The coarsest level that still has the pixels asked for.
    uint32_t level = 0;
    while (level < *served && (plan->region.width >> (level + 1)) >= plan->width &&
           (plan->region.height >> (level + 1)) >= plan->height)
      ++level;
    const Region full{area->x + plan->region.x, area->y + plan->region.y, plan->region.width, plan->region.height};
    const Region region = level_region(full, level);
    return st.picture(*snap, *t, region, level, plan->width, plan->height, plan->gray, im->format, im->display, req,
                      "IIIF " + std::string(target.substr(0, target.find('?'))));
  }
  if (const auto* raw = std::get_if<RawTile>(&*route)) return st.raw_tile(*snap, *raw, req);
  return text(500, "unhandled route");
}

}  // namespace tessera::serve
