#include "io/tiff_export_tags.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace tessera::io_detail {
namespace {

constexpr std::string_view kTiffPrefix = "tiff.";

// What another format's attribute says that a TIFF has a tag for, used when the frame has no
// tiff.* attribute of that tag. Kept to fields whose meaning is the tag's exactly.
struct Borrowed {
  std::string_view attribute;
  std::string_view tag;  // a text tag
};
constexpr Borrowed kBorrowed[] = {
    {"envi.data ignore value", "GDAL_NODATA"},
    {"envi.description", "ImageDescription"},
};

Status cannot_shift(const KeptTag& tag, size_t entries, std::string_view expected) {
  return Status(Code::kInvalidArgument,
                "attribute '" + tag.attribute() + "' holds " + std::to_string(entries) +
                    " reals, not " + std::string(expected) +
                    ": it cannot be fitted to the exported region");
}

// `value` of `tag` as it applies to a raster whose pixel (0,0) is pixel (x, y) of the grid the
// value refers to, each of its pixels `scale` x `scale` pixels of that grid. Values of another
// type than the tag's pass unchanged (write_tiff_tag says what is wrong with them).
Result<AttributeValue> placed(const KeptTag& tag, AttributeValue value, int64_t x, int64_t y, uint64_t scale) {
  auto* reals = std::get_if<std::vector<double>>(&value);
  if ((x == 0 && y == 0 && scale == 1) || !reals) return value;
  const std::string_view name = tag.name;
  const double s = double(scale);
  if (name == "ModelTiepoint") {  // (I, J, K, X, Y, Z) per tiepoint
    if (reals->empty() || reals->size() % 6 != 0)
      return cannot_shift(tag, reals->size(), "tiepoints of 6 reals each");
    for (size_t i = 0; i < reals->size(); i += 6) {
      (*reals)[i] = ((*reals)[i] - double(x)) / s;
      (*reals)[i + 1] = ((*reals)[i + 1] - double(y)) / s;
    }
  } else if (name == "ModelPixelScale") {  // (ScaleX, ScaleY, ScaleZ)
    if (reals->size() != 3) return cannot_shift(tag, reals->size(), "a scale of 3");
    (*reals)[0] *= s;
    (*reals)[1] *= s;
  } else if (name == "ModelTransformation") {  // 4 x 4, row-major, of (I, J, K, 1)
    if (reals->size() != 16) return cannot_shift(tag, reals->size(), "a 4 x 4 matrix of 16");
    for (size_t row = 0; row < 4; ++row) {
      double* m = reals->data() + row * 4;
      m[3] += m[0] * double(x) + m[1] * double(y);
      m[0] *= s;
      m[1] *= s;
    }
  }
  return value;
}

}  // namespace

Result<std::vector<ExportTag>> tiff_export_tags(const RasterMetadata& metadata) {
  std::vector<ExportTag> tags;
  for (const Attribute& attribute : metadata.attributes) {
    if (!attribute.name.starts_with(kTiffPrefix)) continue;
    const KeptTag* tag = kept_tiff_tag(attribute.name);
    if (!tag)
      return Status(Code::kInvalidArgument,
                    "attribute '" + attribute.name +
                        "' names no TIFF tag an export writes (tessera/tiff.h lists them): "
                        "delete or rename it to export");
    auto value = placed(*tag, attribute.value, metadata.x, metadata.y, metadata.scale);
    if (!value) return value.status();
    tags.push_back({tag, std::move(value).value()});
  }
  for (const Borrowed& borrowed : kBorrowed) {
    const KeptTag* tag = kept_tiff_tag(std::string(kTiffPrefix) + std::string(borrowed.tag));
    if (!tag) continue;  // not in the table of kept tags: nothing to write it as
    const bool present = std::any_of(tags.begin(), tags.end(),
                                     [&](const ExportTag& t) { return t.tag == tag; });
    const AttributeValue* value = find_attribute(metadata.attributes, borrowed.attribute);
    if (present || !value) continue;
    if (auto text = tag_text(*value)) tags.push_back({tag, std::move(*text)});
  }
  std::sort(tags.begin(), tags.end(),
            [](const ExportTag& a, const ExportTag& b) { return a.tag->tag < b.tag->tag; });
  return tags;
}

}  // namespace tessera::io_detail
