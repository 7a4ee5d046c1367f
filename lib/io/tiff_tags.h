// The TIFF tags kept as attributes (tessera/tiff.h): which they are, and reading and writing
// them through libtiff. Shared by the TIFF source and sink.
#pragma once

#include <tiffio.h>

#include <optional>
#include <span>
#include <string>

#include "tessera/attributes.h"
#include "tessera/status.h"

namespace tessera::io_detail {

// The attribute type a kept tag's value maps to.
enum class TagKind { kText, kInteger, kReal, kIntegerList, kRealList };
struct KeptTag {
  uint32_t tag;
  const char* name;  // as the TIFF and GeoTIFF specifications spell it; the attribute is "tiff." + name
  TagKind kind;
  std::string attribute() const { return std::string("tiff.") + name; }
};
// Every kept tag, in tag order.
std::span<const KeptTag> kept_tiff_tags();
// The kept tag an attribute name stands for, or nullptr.
const KeptTag* kept_tiff_tag(std::string_view attribute);

// Makes libtiff know the GeoTIFF and GDAL tags (a tag extender, installed once per process).
// Call before TIFFOpen: tags of files opened before are read as anonymous fields.
void register_tiff_tags();

// The tag's value in the current directory, or nullopt when the directory lacks it.
std::optional<AttributeValue> read_tiff_tag(TIFF* tif, const KeptTag& tag);
// A text, or a number as the text a text tag holds (GDAL_NODATA: GDAL's own spelling of reals,
// "nan" and "inf" included); nullopt for lists.
std::optional<std::string> tag_text(const AttributeValue& value);

// Sets the tag in the directory being written (a number given for a text tag as tag_text). kInvalidArgument naming the attribute when the
// value does not fit the tag (another type; a list longer than 65535 entries; an integer or
// real out of the tag's range).
Status write_tiff_tag(TIFF* tif, const KeptTag& tag, const AttributeValue& value);

}  // namespace tessera::io_detail
