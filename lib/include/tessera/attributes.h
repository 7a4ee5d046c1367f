// tessera/attributes.h — named, typed attributes of an image or of one of its frames: what a
// source said about the pixels (georeferencing, resolution, wavelengths, band names, no-data,
// vendor properties), kept beside them (spec/FORMAT.md 4.7).
//
// Attributes are set and deleted in a WriteTxn (WriteTxn::set_attribute, delete_attribute) and
// read from any View (View::attributes); they commit with the transaction like pixels do.
// An attribute of a frame overrides the image's attribute of the same name for that frame
// (frame_attributes: what an export of the frame writes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tessera/export.h"
#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera {

// One value: text (UTF-8), a 64-bit integer, a 64-bit IEEE real, or a list of one of them.
// A real keeps every bit (NaN payloads, -0.0); text keeps every byte.
using AttributeValue = std::variant<std::string, int64_t, double, std::vector<std::string>,
                                    std::vector<int64_t>, std::vector<double>>;

// "text", "integer", "real", "text list", "integer list", "real list".
TESSERA_API std::string_view attribute_type_name(const AttributeValue& value);

struct Attribute {
  std::string name;  // 1..255 bytes of UTF-8 without control characters
  AttributeValue value;
  bool operator==(const Attribute&) const = default;
};
// Sorted by name (bytewise), names unique.
using Attributes = std::vector<Attribute>;

// The value named `name`, or nullptr.
TESSERA_API const AttributeValue* find_attribute(const Attributes& attributes, std::string_view name);
// Sets (adds or replaces) `name` in a sorted list, keeping it sorted.
TESSERA_API void set_attribute(Attributes& attributes, std::string name, AttributeValue value);

// The largest name and encoded value a container accepts.
inline constexpr size_t kMaxAttributeNameBytes = 255;
inline constexpr size_t kMaxAttributeValueBytes = size_t(16) << 20;
// kInvalidArgument naming the fault: empty or too long, invalid UTF-8, a control character.
TESSERA_API Status check_attribute_name(std::string_view name);

// Tessera's own attributes: names beginning "tessera." mean what spec/FORMAT.md 4.7 says;
// writers refuse such a name Tessera does not know, or a value not of its form.
inline constexpr std::string_view kTesseraAttributePrefix = "tessera.";
// "tessera.extent", integer list [x, y, width, height]: the region of level 0 an image or a
// frame was declared to cover (an import's raster, where it landed), fill included. What an
// export writes when asked for no region (View::extent).
inline constexpr std::string_view kExtentAttribute = "tessera.extent";
TESSERA_API AttributeValue extent_value(const Region& extent);
// kInvalidArgument unless `value` is four integers forming a valid Region.
TESSERA_API Result<Region> parse_extent(const AttributeValue& value);
// For a name beginning "tessera.": kInvalidArgument unless Tessera knows it and `value` has its
// form. Any other name passes.
TESSERA_API Status check_tessera_attribute(std::string_view name, const AttributeValue& value);

// The text syntax of values (the CLI's --set, `tessera info`):
//   integer  -12          decimal, within int64
//   real     2.5  1e-3  -0.0  nan  inf  -inf     (a '.', an exponent, or a special name)
//   text     anything else, or "quoted" with JSON escapes (to force text: "12")
//   list     [a, b, ...]  integers -> integer list; integers and reals -> real list;
//            otherwise (quoted or bare elements) a text list; [] is an empty text list.
// format_attribute_value writes what parse_attribute_value reads back as the same value
// (reals with the fewest digits that round-trip, NaN payloads aside).
TESSERA_API Result<AttributeValue> parse_attribute_value(std::string_view text);
TESSERA_API std::string format_attribute_value(const AttributeValue& value);

}  // namespace tessera
