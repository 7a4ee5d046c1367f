// routes.h — what `tessera serve` answers, parsed from a request target (path and query) alone:
// no container is consulted here, so every malformed request is refused before any work.
//
//   /                                        the viewer (index.html); /viewer/FILE its files
//   /api/images[?image=NAME&frame=F]         JSON: every image (or one) and what the viewer needs
//   /api/range/IMAGE?frame=F&bands=B         JSON: a display range per band, from a coarse read
//   /dzi/IMAGE.dzi                           Deep Zoom descriptor
//   /dzi/IMAGE_files/LEVEL/COL_ROW.jpg|png   Deep Zoom tile
//   /iiif/IMAGE                              redirect to info.json
//   /iiif/IMAGE/info.json                    IIIF Image API 3.0 description
//   /iiif/IMAGE/REGION/SIZE/ROTATION/QUALITY.FORMAT
//   /tiles/IMAGE/FRAME/LEVEL/TX/TY[.json]    raw samples of one stored tile, or their description
//
// IMAGE is one path segment, percent-decoded (a '/' in a name is %2F). A frame other than 0
// is `?frame=F`, or in the path as IMAGE@F (resolved against the container: the service).
// Display parameters of rendered tiles: `bands=R,G,B` or `bands=I` (default: the first three,
// or the first), `range=LO:HI` (every band) or `LO:HI,LO:HI,LO:HI` (default: the image's
// display range), `quality=1..100` (JPEG, default 90).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tessera/status.h"

namespace tessera::serve {

enum class Format : uint8_t { kJpeg, kPng };

// How samples become 8-bit pixels.
struct Display {
  std::vector<uint32_t> bands;                      // empty: the default
  std::vector<std::pair<double, double>> ranges;   // empty: the default; else one, or one per band
  int quality = 90;
  bool operator==(const Display&) const = default;
};

struct ViewerFile { std::string name; };  // "index.html", "openseadragon.min.js", "images/home_rest.png"
struct ImageList { std::string image; std::optional<uint32_t> frame; };  // ?image=NAME&frame=F: that image only
struct DisplayRange { std::string image; std::optional<uint32_t> frame; std::vector<uint32_t> bands; };
struct DziDescriptor { std::string image; std::optional<uint32_t> frame; Format format = Format::kJpeg; Display display; };
struct DziTile {
  std::string image;
  std::optional<uint32_t> frame;
  uint32_t level = 0;
  int64_t column = 0, row = 0;
  Format format = Format::kJpeg;
  Display display;
};
struct IiifBase { std::string image; std::string query; };
struct IiifInfo { std::string image; std::optional<uint32_t> frame; };
struct IiifImage {
  std::string image;
  std::optional<uint32_t> frame;
  std::string region, size, rotation, quality;  // checked by plan_iiif
  Format format = Format::kJpeg;
  Display display;
};
struct RawTile {
  std::string image;
  uint32_t frame = 0, level = 0;
  int64_t x = 0, y = 0;
  bool description = false;  // .json
  std::vector<uint32_t> bands;
};

using Route = std::variant<ViewerFile, ImageList, DisplayRange, DziDescriptor, DziTile, IiifBase, IiifInfo,
                           IiifImage, RawTile>;

// The route of `target` ("/dzi/scan_files/12/3_4.jpg?frame=2"). kNotFound for a path that is
// no route, kInvalidArgument for a malformed one (a bad escape, a number out of range, a
// segment ".." or a parameter's value), naming what is wrong.
Result<Route> parse_route(std::string_view target);

// Percent-decoding of one path segment or query value ('+' stays '+'); nullopt for a bad
// escape or a decoded control character.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace tessera::serve
