#include "routes.h"

#include <charconv>
#include <cmath>
#include <map>

namespace tessera::serve {
namespace {

Status bad(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }

template <typename T>
bool whole(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

bool real(std::string_view text, double& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && std::isfinite(out);
}

std::vector<std::string_view> split(std::string_view text, char by) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t at = text.find(by, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

using Query = std::map<std::string, std::string>;

Result<Query> parse_query(std::string_view text) {
  Query query;
  if (text.empty()) return query;
  for (std::string_view pair : split(text, '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value) return bad("malformed query parameter '" + std::string(pair) + "'");
    query[*key] = *value;  // the last of a repeated key wins
  }
  return query;
}

Result<std::optional<uint32_t>> frame_of(const Query& q) {
  const auto it = q.find("frame");
  if (it == q.end()) return std::optional<uint32_t>();
  uint32_t frame;
  if (!whole(it->second, frame)) return bad("malformed frame '" + it->second + "': expected a whole number");
  return std::optional<uint32_t>(frame);
}

Result<std::vector<uint32_t>> bands_of(const Query& q) {
  std::vector<uint32_t> bands;
  const auto it = q.find("bands");
  if (it == q.end() || it->second.empty()) return bands;
  for (std::string_view b : split(it->second, ',')) {
    uint32_t band;
    if (!whole(b, band)) return bad("malformed bands '" + it->second + "': expected band numbers I or R,G,B");
    bands.push_back(band);
  }
  if (bands.size() > 1024) return bad("bands: more than 1024");
  return bands;
}

Result<Display> display_of(const Query& q, bool rendered) {
  Display d;
  TESSERA_ASSIGN_OR_RETURN(d.bands, bands_of(q));
  if (rendered && d.bands.size() != 0 && d.bands.size() != 1 && d.bands.size() != 3)
    return bad("bands: a picture shows 1 band (grey) or 3 (red, green, blue), not " + std::to_string(d.bands.size()));
  if (auto it = q.find("range"); it != q.end() && !it->second.empty()) {
    for (std::string_view r : split(it->second, ',')) {
      const size_t colon = r.find(':');
      double lo, hi;
      if (colon == std::string_view::npos || !real(r.substr(0, colon), lo) || !real(r.substr(colon + 1), hi) || !(lo < hi))
        return bad("malformed range '" + it->second + "': expected LO:HI with LO < HI, or one LO:HI per band");
      d.ranges.emplace_back(lo, hi);
    }
    if (d.ranges.size() != 1 && d.ranges.size() != 3) return bad("range: give one LO:HI, or three (one per band)");
  }
  if (auto it = q.find("quality"); it != q.end()) {
    if (!whole(it->second, d.quality) || d.quality < 1 || d.quality > 100)
      return bad("malformed quality '" + it->second + "': expected 1..100");
  }
  return d;
}

Result<Format> format_of(std::string_view ext) {
  if (ext == "jpg" || ext == "jpeg") return Format::kJpeg;
  if (ext == "png") return Format::kPng;
  return bad("format '" + std::string(ext) + "': expected jpg or png");
}

Status not_found(std::string_view path) {
  return Status(Code::kNotFound, "no such resource: " + std::string(path) +
                                     " (routes: /, /api/images, /dzi/IMAGE.dzi, /iiif/IMAGE/info.json, "
                                     "/tiles/IMAGE/FRAME/LEVEL/X/Y)");
}

// Splits "name.ext" at its last dot.
std::pair<std::string_view, std::string_view> stem_and_ext(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return {name, {}};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '%') {
      unsigned v = 0;
      if (i + 2 >= text.size()) return std::nullopt;  // two hex digits must follow
      const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16);
      if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
      c = static_cast<unsigned char>(v);
      i += 2;
    }
    if (c < 0x20 || c == 0x7f) return std::nullopt;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

Result<Route> parse_route(std::string_view target) {
  if (target.size() > 8192) return bad("request target longer than 8192 bytes");
  const size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query_text = qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);
  if (path.empty() || path[0] != '/') return bad("request target '" + std::string(path) + "' does not begin with /");
  std::vector<std::string> seg;
  for (std::string_view raw : split(path.substr(1), '/')) {
    auto s = percent_decode(raw);
    if (!s) return bad("malformed path segment '" + std::string(raw) + "': a bad %-escape or a control character");
    if (*s == "..") return bad("path " + std::string(path) + " leaves the served tree");
    seg.push_back(std::move(*s));
  }
  if (!seg.empty() && seg.back().empty() && seg.size() > 1) seg.pop_back();  // a trailing '/'
  TESSERA_ASSIGN_OR_RETURN(Query q, parse_query(query_text));
  const size_t n = seg.size();
  const auto is = [&](size_t i, std::string_view s) { return i < n && seg[i] == s; };

  if (n == 1 && seg[0].empty()) return Route{ViewerFile{"index.html"}};
  if (is(0, "viewer")) {
    if (n < 2) return not_found(path);
    std::string name = seg[1];
    for (size_t i = 2; i < n; ++i) name += "/" + seg[i];
    return Route{ViewerFile{name}};
  }
  if (is(0, "api")) {
    if (n == 2 && seg[1] == "images") {
      ImageList list;
      if (auto it = q.find("image"); it != q.end()) list.image = it->second;
      TESSERA_ASSIGN_OR_RETURN(list.frame, frame_of(q));
      return Route{list};
    }
    if (n == 3 && seg[1] == "range" && !seg[2].empty()) {
      DisplayRange r{seg[2], {}, {}};
      TESSERA_ASSIGN_OR_RETURN(r.frame, frame_of(q));
      TESSERA_ASSIGN_OR_RETURN(r.bands, bands_of(q));
      return Route{r};
    }
    return not_found(path);
  }
  if (is(0, "dzi")) {
    if (n == 2) {
      const auto [stem, ext] = stem_and_ext(seg[1]);
      if (ext != "dzi" || stem.empty()) return not_found(path);
      DziDescriptor d{std::string(stem), {}, Format::kJpeg, {}};
      TESSERA_ASSIGN_OR_RETURN(d.frame, frame_of(q));
      TESSERA_ASSIGN_OR_RETURN(d.display, display_of(q, true));
      if (auto it = q.find("format"); it != q.end()) {
        TESSERA_ASSIGN_OR_RETURN(d.format, format_of(it->second));
      }
      return Route{d};
    }
    if (n == 4 && seg[1].size() > 6 && seg[1].ends_with("_files")) {
      DziTile t;
      t.image = seg[1].substr(0, seg[1].size() - 6);
      if (!whole(seg[2], t.level) || t.level > 64) return bad("malformed Deep Zoom level '" + seg[2] + "'");
      const auto [stem, ext] = stem_and_ext(seg[3]);
      const size_t us = stem.find('_');
      if (us == std::string_view::npos || !whole(stem.substr(0, us), t.column) || !whole(stem.substr(us + 1), t.row) ||
          t.column < 0 || t.row < 0)
        return bad("malformed Deep Zoom tile '" + seg[3] + "': expected COLUMN_ROW.jpg or .png");
      TESSERA_ASSIGN_OR_RETURN(t.format, format_of(ext));
      TESSERA_ASSIGN_OR_RETURN(t.frame, frame_of(q));
      TESSERA_ASSIGN_OR_RETURN(t.display, display_of(q, true));
      return Route{t};
    }
    return not_found(path);
  }
  if (is(0, "iiif")) {
    if (n < 2 || seg[1].empty()) return not_found(path);
    if (n == 2) return Route{IiifBase{seg[1], std::string(query_text)}};
    if (n == 3 && seg[2] == "info.json") {
      IiifInfo info{seg[1], {}};
      TESSERA_ASSIGN_OR_RETURN(info.frame, frame_of(q));
      return Route{info};
    }
    if (n == 6) {
      IiifImage im;
      im.image = seg[1];
      im.region = seg[2];
      im.size = seg[3];
      im.rotation = seg[4];
      const auto [quality, ext] = stem_and_ext(seg[5]);
      if (ext.empty()) return bad("IIIF quality.format '" + seg[5] + "' has no format");
      im.quality = std::string(quality);
      TESSERA_ASSIGN_OR_RETURN(im.format, format_of(ext));
      TESSERA_ASSIGN_OR_RETURN(im.frame, frame_of(q));
      TESSERA_ASSIGN_OR_RETURN(im.display, display_of(q, true));
      return Route{im};
    }
    return not_found(path);
  }
  if (is(0, "tiles")) {
    if (n != 6) return not_found(path);
    RawTile t;
    t.image = seg[1];
    if (!whole(seg[2], t.frame)) return bad("malformed frame '" + seg[2] + "': expected a whole number");
    if (!whole(seg[3], t.level) || t.level > 62) return bad("malformed level '" + seg[3] + "': expected 0..62");
    std::string_view y = seg[5];
    if (y.ends_with(".json")) t.description = true, y.remove_suffix(5);
    if (!whole(seg[4], t.x) || !whole(y, t.y))
      return bad("malformed tile coordinates '" + seg[4] + "/" + seg[5] + "': expected whole numbers");
    TESSERA_ASSIGN_OR_RETURN(t.bands, bands_of(q));
    return Route{t};
  }
  return not_found(path);
}

}  // namespace tessera::serve
