#include "iiif.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace tessera::serve {
namespace {

Status bad(std::string message) { return Status(Code::kInvalidArgument, "IIIF " + std::move(message)); }

// Comma-separated finite non-negative numbers, exactly `count` of them (an empty item is NaN).
bool numbers(std::string_view text, size_t count, bool integers, std::vector<double>& out) {
  out.clear();
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    double v = NAN;
    if (!item.empty()) {
      if (integers) {
        int64_t i;
        const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), i);
        if (ec != std::errc() || end != item.data() + item.size() || i < 0) return false;
        v = double(i);
      } else {
        const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
        if (ec != std::errc() || end != item.data() + item.size() || !std::isfinite(v) || v < 0) return false;
      }
    }
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out.size() == count;
}

Result<Region> plan_region(std::string_view text, int64_t width, int64_t height) {
  if (text == "full") return Region{0, 0, width, height};
  if (text == "square") {
    const int64_t side = std::min(width, height);
    return Region{(width - side) / 2, (height - side) / 2, side, side};
  }
  const bool pct = text.starts_with("pct:");
  std::vector<double> v;
  if (!numbers(pct ? text.substr(4) : text, 4, !pct, v) || std::isnan(v[0]) || std::isnan(v[1]) ||
      std::isnan(v[2]) || std::isnan(v[3]))
    return bad("region '" + std::string(text) + "': expected full, square, x,y,w,h or pct:x,y,w,h");
  double x = v[0], y = v[1], w = v[2], h = v[3];
  if (pct) x = x * double(width) / 100, y = y * double(height) / 100, w = w * double(width) / 100, h = h * double(height) / 100;
  if (w <= 0 || h <= 0) return bad("region '" + std::string(text) + "' has no area");
  if (x >= double(width) || y >= double(height))
    return bad("region '" + std::string(text) + "' lies outside the image (" + std::to_string(width) + " x " +
               std::to_string(height) + ")");
  const int64_t x0 = int64_t(std::floor(x)), y0 = int64_t(std::floor(y));
  const int64_t x1 = int64_t(std::min(double(width), std::ceil(x + w)));
  const int64_t y1 = int64_t(std::min(double(height), std::ceil(y + h)));
  return Region{x0, y0, std::max<int64_t>(1, x1 - x0), std::max<int64_t>(1, y1 - y0)};
}

// A size for a message: whole, whatever its magnitude (no cast to an integer that may not hold it).
std::string whole_text(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.0f", v);
  return text;
}

double rounded(double v) { return std::max(1.0, std::round(v)); }

}  // namespace

Result<IiifPlan> plan_iiif(std::string_view region, std::string_view size, std::string_view rotation,
                           std::string_view quality, int64_t width, int64_t height, const PictureLimits& limits) {
  IiifPlan plan;
  TESSERA_ASSIGN_OR_RETURN(plan.region, plan_region(region, width, height));
  const double rw = double(plan.region.width), rh = double(plan.region.height);
  std::string_view s = size;
  const bool upscale = s.starts_with("^");
  if (upscale) s.remove_prefix(1);
  const std::string what = "size '" + std::string(size) + "'";
  double w = 0, h = 0;
  std::vector<double> v;
  if (s == "max") {
    // The region's size, made to fit the limits (upscaling never needed).
    double scale = std::min({1.0, double(limits.max_width) / rw, double(limits.max_height) / rh,
                             std::sqrt(double(limits.max_area) / (rw * rh))});
    w = std::max(1.0, std::floor(rw * scale)), h = std::max(1.0, std::floor(rh * scale));
  } else if (s.starts_with("pct:")) {
    if (!numbers(s.substr(4), 1, false, v) || std::isnan(v[0]) || v[0] <= 0)
      return bad(what + ": expected pct:N with N > 0");
    w = (rounded(rw * v[0] / 100)), h = (rounded(rh * v[0] / 100));
  } else {
    const bool confined = s.starts_with("!");
    if (confined) s.remove_prefix(1);
    if (!numbers(s, 2, true, v) || (std::isnan(v[0]) && std::isnan(v[1])) || (confined && (std::isnan(v[0]) || std::isnan(v[1]))) ||
        v[0] == 0 || v[1] == 0)
      return bad(what + ": expected max, w,, ,h, w,h, !w,h or pct:n (with ^ to allow upscaling)");
    if (confined) {
      const double scale = std::min(v[0] / rw, v[1] / rh);
      w = (rounded(rw * scale)), h = (rounded(rh * scale));
    } else if (std::isnan(v[1])) {
      w = v[0], h = (rounded(rh * v[0] / rw));
    } else if (std::isnan(v[0])) {
      h = v[1], w = (rounded(rw * v[1] / rh));
    } else {
      w = v[0], h = v[1];
    }
  }
  if (!upscale && (w > rw || h > rh))
    return bad(what + " (" + whole_text(w) + " x " + whole_text(h) +
               ") is larger than the region (" + std::to_string(plan.region.width) + " x " +
               std::to_string(plan.region.height) + "): prefix it with ^ to upscale");
  if (w > double(limits.max_width) || h > double(limits.max_height) || w * h > double(limits.max_area))
    return bad(what + " (" + whole_text(w) + " x " + whole_text(h) +
               ") exceeds this server's limits: maxWidth " + std::to_string(limits.max_width) + ", maxHeight " +
               std::to_string(limits.max_height) + ", maxArea " + std::to_string(limits.max_area));
  plan.width = int64_t(w), plan.height = int64_t(h);
  if (rotation != "0")
    return bad("rotation '" + std::string(rotation) + "': this server does not rotate or mirror (only 0)");
  if (quality == "gray") plan.gray = true;
  else if (quality != "default" && quality != "color")
    return bad("quality '" + std::string(quality) + "': expected default, color or gray");
  return plan;
}

}  // namespace tessera::serve
