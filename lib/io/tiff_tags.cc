#include "io/tiff_tags.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

namespace tessera::io_detail {
namespace {

// The tags libtiff does not know: GeoTIFF's and GDAL's. Variable counts with the count passed
// (uint16), ASCII without.
const TIFFFieldInfo kExtensionFields[] = {
    {33550, -1, -1, TIFF_DOUBLE, FIELD_CUSTOM, 1, 1, const_cast<char*>("ModelPixelScale")},
    {33922, -1, -1, TIFF_DOUBLE, FIELD_CUSTOM, 1, 1, const_cast<char*>("ModelTiepoint")},
    {34264, -1, -1, TIFF_DOUBLE, FIELD_CUSTOM, 1, 1, const_cast<char*>("ModelTransformation")},
    {34735, -1, -1, TIFF_SHORT, FIELD_CUSTOM, 1, 1, const_cast<char*>("GeoKeyDirectory")},
    {34736, -1, -1, TIFF_DOUBLE, FIELD_CUSTOM, 1, 1, const_cast<char*>("GeoDoubleParams")},
    {34737, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, const_cast<char*>("GeoAsciiParams")},
    {42112, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, const_cast<char*>("GDAL_METADATA")},
    {42113, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, const_cast<char*>("GDAL_NODATA")},
};

constexpr KeptTag kKept[] = {
    {TIFFTAG_DOCUMENTNAME, "DocumentName", TagKind::kText},
    {TIFFTAG_IMAGEDESCRIPTION, "ImageDescription", TagKind::kText},
    {TIFFTAG_MAKE, "Make", TagKind::kText},
    {TIFFTAG_MODEL, "Model", TagKind::kText},
    {TIFFTAG_XRESOLUTION, "XResolution", TagKind::kReal},
    {TIFFTAG_YRESOLUTION, "YResolution", TagKind::kReal},
    {TIFFTAG_PAGENAME, "PageName", TagKind::kText},
    {TIFFTAG_XPOSITION, "XPosition", TagKind::kReal},
    {TIFFTAG_YPOSITION, "YPosition", TagKind::kReal},
    {TIFFTAG_RESOLUTIONUNIT, "ResolutionUnit", TagKind::kInteger},
    {TIFFTAG_SOFTWARE, "Software", TagKind::kText},
    {TIFFTAG_DATETIME, "DateTime", TagKind::kText},
    {TIFFTAG_ARTIST, "Artist", TagKind::kText},
    {TIFFTAG_HOSTCOMPUTER, "HostComputer", TagKind::kText},
    {TIFFTAG_COPYRIGHT, "Copyright", TagKind::kText},
    {33550, "ModelPixelScale", TagKind::kRealList},
    {33922, "ModelTiepoint", TagKind::kRealList},
    {34264, "ModelTransformation", TagKind::kRealList},
    {34735, "GeoKeyDirectory", TagKind::kIntegerList},
    {34736, "GeoDoubleParams", TagKind::kRealList},
    {34737, "GeoAsciiParams", TagKind::kText},
    {42112, "GDAL_METADATA", TagKind::kText},
    {42113, "GDAL_NODATA", TagKind::kText},
};

TIFFExtendProc previous_extender = nullptr;

void extend(TIFF* tif) {
  TIFFMergeFieldInfo(tif, kExtensionFields, sizeof kExtensionFields / sizeof kExtensionFields[0]);
  if (previous_extender) previous_extender(tif);
}

Status mismatch(const KeptTag& tag, const AttributeValue& value, std::string_view why) {
  return Status(Code::kInvalidArgument, "attribute '" + tag.attribute() + "' (" +
                                            std::string(attribute_type_name(value)) +
                                            ") cannot be written as TIFF tag " +
                                            std::to_string(tag.tag) + ": " + std::string(why));
}

bool set(int result) { return result == 1; }

}  // namespace

std::span<const KeptTag> kept_tiff_tags() { return kKept; }

const KeptTag* kept_tiff_tag(std::string_view attribute) {
  for (const KeptTag& t : kKept)
    if (attribute == t.attribute()) return &t;
  return nullptr;
}

void register_tiff_tags() {
  static std::once_flag once;
  std::call_once(once, [] { previous_extender = TIFFSetTagExtender(extend); });
}

std::optional<std::string> tag_text(const AttributeValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* integer = std::get_if<int64_t>(&value)) return std::to_string(*integer);
  if (const auto* real = std::get_if<double>(&value)) {
    if (std::isnan(*real)) return std::string("nan");
    char buffer[32];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, *real).ptr;  // shortest exact
    return std::string(buffer, end);
  }
  return std::nullopt;
}

std::optional<AttributeValue> read_tiff_tag(TIFF* tif, const KeptTag& tag) {
  switch (tag.kind) {
    case TagKind::kText: {
      const char* text = nullptr;
      if (!TIFFGetField(tif, tag.tag, &text) || !text) return std::nullopt;
      return AttributeValue(std::string(text));
    }
    case TagKind::kInteger: {  // ResolutionUnit: SHORT
      uint16_t v = 0;
      if (!TIFFGetField(tif, tag.tag, &v)) return std::nullopt;
      return AttributeValue(int64_t(v));
    }
    case TagKind::kReal: {  // RATIONAL: libtiff hands them as float
      float v = 0;
      if (!TIFFGetField(tif, tag.tag, &v)) return std::nullopt;
      return AttributeValue(double(v));
    }
    case TagKind::kIntegerList: {
      uint16_t count = 0;
      const uint16_t* values = nullptr;
      if (!TIFFGetField(tif, tag.tag, &count, &values) || !values) return std::nullopt;
      return AttributeValue(std::vector<int64_t>(values, values + count));
    }
    case TagKind::kRealList: {
      uint16_t count = 0;
      const double* values = nullptr;
      if (!TIFFGetField(tif, tag.tag, &count, &values) || !values) return std::nullopt;
      return AttributeValue(std::vector<double>(values, values + count));
    }
  }
  return std::nullopt;
}

Status write_tiff_tag(TIFF* tif, const KeptTag& tag, const AttributeValue& value) {
  const auto failed = [&] {
    return Status(Code::kIoError, "libtiff refused attribute '" + tag.attribute() + "' as tag " +
                                      std::to_string(tag.tag));
  };
  switch (tag.kind) {
    case TagKind::kText: {
      // A number set where TIFF keeps text (GDAL_NODATA = 0 typed on a command line) is
      // written as its text; a list is not.
      const std::optional<std::string> text = tag_text(value);
      if (!text) return mismatch(tag, value, "the tag holds text");
      if (text->find('\0') != std::string::npos) return mismatch(tag, value, "it holds a NUL byte");
      return set(TIFFSetField(tif, tag.tag, text->c_str())) ? Status::ok() : failed();
    }
    case TagKind::kInteger: {
      const auto* v = std::get_if<int64_t>(&value);
      if (!v) return mismatch(tag, value, "the tag holds an integer");
      if (*v < 0 || *v > std::numeric_limits<uint16_t>::max())
        return mismatch(tag, value, "it is out of range of an unsigned 16-bit integer");
      return set(TIFFSetField(tif, tag.tag, uint16_t(*v))) ? Status::ok() : failed();
    }
    case TagKind::kReal: {
      const auto* v = std::get_if<double>(&value);
      if (!v) return mismatch(tag, value, "the tag holds a real");
      if (!(*v >= 0) || *v > std::numeric_limits<float>::max())
        return mismatch(tag, value, "a RATIONAL holds a finite value of at least 0");
      return set(TIFFSetField(tif, tag.tag, *v)) ? Status::ok() : failed();
    }
    case TagKind::kIntegerList: {
      const auto* list = std::get_if<std::vector<int64_t>>(&value);
      if (!list) return mismatch(tag, value, "the tag holds a list of integers");
      if (list->empty() || list->size() > std::numeric_limits<uint16_t>::max())
        return mismatch(tag, value, "it must hold 1 to 65535 entries");
      std::vector<uint16_t> values;
      for (int64_t v : *list) {
        if (v < 0 || v > std::numeric_limits<uint16_t>::max())
          return mismatch(tag, value, "an entry is out of range of an unsigned 16-bit integer");
        values.push_back(uint16_t(v));
      }
      return set(TIFFSetField(tif, tag.tag, uint16_t(values.size()), values.data())) ? Status::ok()
                                                                                      : failed();
    }
    case TagKind::kRealList: {
      const auto* list = std::get_if<std::vector<double>>(&value);
      if (!list) return mismatch(tag, value, "the tag holds a list of reals");
      if (list->empty() || list->size() > std::numeric_limits<uint16_t>::max())
        return mismatch(tag, value, "it must hold 1 to 65535 entries");
      return set(TIFFSetField(tif, tag.tag, uint16_t(list->size()), list->data())) ? Status::ok()
                                                                                   : failed();
    }
  }
  return failed();
}

}  // namespace tessera::io_detail
