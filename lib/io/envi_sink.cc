// The ENVI RasterSink (tessera/envi.h): raw little-endian samples in OUT and their header in
// OUT.hdr, both written beside their names (".part") and renamed into place at the end, the
// header last. export_envi is export_raster into it.
//
// The header's fields beyond the samples come from the export's attributes, fitted here to
// the bands and the place of the output; the header text is made (and checked) in begin(), so
// an attribute that cannot be written stops the export before any file exists.
#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/blocks.h"
#include "io/envi_format.h"
#include "io/staged_file.h"
#include "tessera/envi.h"

namespace tessera {
namespace {

using io_detail::kEnviPrefix;
using io_detail::mul_saturated;
using io_detail::StagedFile;

// What the fields are fitted to: the image bands the output holds, in output order, of how
// many, and where the output's pixel (0,0) lies in the grid the attributes describe.
struct OutputPlace {
  std::vector<uint32_t> bands;
  uint32_t image_bands = 0;
  int64_t x = 0, y = 0;
  uint64_t scale = 1;  // output pixels are scale x scale pixels of the grid (a pyramid level)
};

Result<OutputPlace> output_place(const std::string& header, const RasterShape& shape,
                                 const RasterMetadata& metadata) {
  OutputPlace place{metadata.bands, metadata.image_bands, metadata.x, metadata.y, metadata.scale};
  // A sink driven without metadata (no attributes) writes every band it is given.
  if (place.bands.empty()) {
    place.bands.resize(shape.bands);
    std::iota(place.bands.begin(), place.bands.end(), 0u);
  }
  if (place.image_bands == 0) place.image_bands = shape.bands;
  if (place.bands.size() != shape.bands ||
      std::any_of(place.bands.begin(), place.bands.end(),
                  [&](uint32_t b) { return b >= place.image_bands; }))
    return Status(Code::kInternal, header + ": metadata names " +
                                       std::to_string(place.bands.size()) + " bands of " +
                                       std::to_string(place.image_bands) + " for an output of " +
                                       std::to_string(shape.bands));
  return place;
}

// The values of the exported bands, in output order.
template <typename T>
std::vector<T> band_subset(const std::vector<T>& per_band, const std::vector<uint32_t>& bands) {
  std::vector<T> out;
  for (uint32_t b : bands) out.push_back(per_band[b]);
  return out;
}

// `value` of field `key` fitted to the output; nullopt to leave the field out.
Result<std::optional<AttributeValue>> fitted_field(const std::string& header, const std::string& name,
                                                   std::string_view key, AttributeValue value,
                                                   const OutputPlace& place) {
  const io_detail::EnviField* field = io_detail::find_envi_field(key);
  if (field && field->per_band) {
    const auto subset = [&](auto& list) -> Status {
      if (list.size() != place.image_bands)
        return Status(Code::kInvalidArgument,
                      header + ": attribute '" + name + "' holds " + std::to_string(list.size()) +
                          " values for the image's " + std::to_string(place.image_bands) +
                          " bands");
      list = band_subset(list, place.bands);
      return Status::ok();
    };
    if (auto* l = std::get_if<std::vector<std::string>>(&value)) TESSERA_RETURN_IF_ERROR(subset(*l));
    if (auto* l = std::get_if<std::vector<int64_t>>(&value)) TESSERA_RETURN_IF_ERROR(subset(*l));
    if (auto* l = std::get_if<std::vector<double>>(&value)) TESSERA_RETURN_IF_ERROR(subset(*l));
  }
  if (auto* list = std::get_if<std::vector<int64_t>>(&value); list && key == "default bands") {
    // Band numbers from 1; a set of display bands (grey or RGB) that lost one means nothing.
    for (int64_t& band : *list) {
      const auto at = std::find_if(place.bands.begin(), place.bands.end(),
                                   [&](uint32_t b) { return int64_t(b) + 1 == band; });
      if (at == place.bands.end()) return std::optional<AttributeValue>();
      band = int64_t(at - place.bands.begin()) + 1;
    }
  }
  // A pixel coordinate from 1 (ENVI's: 1.0 is the upper left corner of the first pixel) in the
  // output's grid.
  const double s = double(place.scale);
  const auto pixel = [&](double p, int64_t origin) { return (p - 1 - double(origin)) / s + 1; };
  const bool moved = place.x != 0 || place.y != 0 || place.scale != 1;
  if (auto* items = std::get_if<std::vector<std::string>>(&value); items && key == "map info" && moved) {
    // {projection, reference x, reference y, easting, northing, pixel size x, pixel size y, ...}
    const auto item = [&](size_t i) {
      return items->size() > i ? io_detail::parse_envi_real((*items)[i]) : std::nullopt;
    };
    const std::optional<double> x = item(1), y = item(2);
    if (!x || !y)
      return Status(Code::kInvalidArgument, header + ": attribute '" + name +
                                                "' has no numeric reference pixel to move");
    (*items)[1] = io_detail::format_envi_real(pixel(*x, place.x));
    (*items)[2] = io_detail::format_envi_real(pixel(*y, place.y));
    for (size_t i : {5, 6})
      if (place.scale != 1) {
        const std::optional<double> size = item(i);
        if (!size)
          return Status(Code::kInvalidArgument, header + ": attribute '" + name +
                                                    "' has no numeric pixel size to scale");
        (*items)[i] = io_detail::format_envi_real(*size * s);
      }
  }
  if (auto* points = std::get_if<std::vector<double>>(&value); points && key == "geo points")
    for (size_t i = 0; i + 1 < points->size(); i += 4) {
      (*points)[i] = pixel((*points)[i], place.x);
      (*points)[i + 1] = pixel((*points)[i + 1], place.y);
    }
  if (auto* start = std::get_if<int64_t>(&value); start && (key == "x start" || key == "y start")) {
    // The source file's pixel numbers: a level's pixels have none.
    if (place.scale != 1) return std::optional<AttributeValue>();
    if (__builtin_add_overflow(*start, key == "x start" ? place.x : place.y, start))
      return Status(Code::kInvalidArgument,
                    header + ": attribute '" + name + "' moved to the output overflows");
  }
  return std::optional<AttributeValue>(std::move(value));
}

// The header's attributes: the export's envi.* fitted to the output, and what other formats'
// attributes say that ENVI has a field for.
Result<Attributes> header_attributes(const std::string& header, const RasterMetadata& metadata,
                                     const OutputPlace& place) {
  Attributes out;
  for (const Attribute& a : metadata.attributes) {
    if (!a.name.starts_with(kEnviPrefix)) continue;
    const std::string_view key = std::string_view(a.name).substr(kEnviPrefix.size());
    if (io_detail::describes_samples(key)) continue;  // the output's own shape says these
    auto fitted = fitted_field(header, a.name, key, a.value, place);
    if (!fitted) return fitted.status();
    if (*fitted) out.push_back(Attribute{a.name, std::move(**fitted)});
  }
  // Where the output lies, when the source said nothing: ENVI's "x start" and "y start" are
  // the file coordinates (from 0) of the output's first pixel. A level's pixels have none.
  if (place.scale == 1 && (place.x != 0 || place.y != 0))
    for (const auto& [key, start] : {std::pair{"envi.x start", place.x}, std::pair{"envi.y start", place.y}})
      if (!find_attribute(out, key)) set_attribute(out, key, start);
  // Best effort: a value ENVI cannot hold is left out.
  const auto from_other = [&](std::string_view key, std::string_view other) {
    const std::string name = std::string(kEnviPrefix) + std::string(key);
    const auto* text = std::get_if<std::string>(find_attribute(metadata.attributes, other));
    if (!text || find_attribute(out, name)) return;
    auto value = io_detail::parse_envi_field(header, key, *text);
    if (value && io_detail::format_envi_field(key, *value)) set_attribute(out, name, *value);
  };
  from_other("data ignore value", "tiff.GDAL_NODATA");
  from_other("description", "tiff.ImageDescription");
  // What ENVI itself writes for a raw file of samples.
  if (!find_attribute(out, "envi.file type"))
    set_attribute(out, "envi.file type", std::string("ENVI Standard"));
  return out;
}

class EnviSink final : public RasterSink {
 public:
  explicit EnviSink(std::string out) : out_(std::move(out)) {}

  Status begin(const RasterShape& shape, Interleave interleave,
               const RasterMetadata& metadata) override {
    if (shape.type == DataType::kI8)
      return Status(Code::kInvalidArgument,
                    out_ + ": ENVI has no signed 8-bit type (GDAL and Spectral Python read data type 1 "
                           "as unsigned): export i8 to TIFF instead (OUT.tif, signed 8-bit samples)");
    shape_ = shape;
    interleave_ = interleave;
    sample_bytes_ = sample_size(shape.type);
    const std::string header_path = out_ + ".hdr";
    auto place = output_place(header_path, shape, metadata);
    if (!place) return place.status();
    EnviHeader header;
    header.samples = shape.width;
    header.lines = shape.height;
    header.bands = shape.bands;
    header.type = shape.type;
    header.interleave = interleave;
    auto attributes = header_attributes(header_path, metadata, *place);
    if (!attributes) return attributes.status();
    header.attributes = std::move(attributes).value();
    auto text = io_detail::envi_header_text(header_path, header);
    if (!text) return text.status();
    header_text_ = std::move(text).value();

    const uint64_t bytes = mul_saturated(mul_saturated(shape.width, shape.height), uint64_t(shape.bands) * sample_bytes_);
    TESSERA_RETURN_IF_ERROR(io_detail::check_free_space(out_, bytes));
    auto data = StagedFile::create(out_);
    if (!data) return data.status();
    data_.emplace(std::move(data).value());
    // Sized up front: a disk too small fails here, before any block is read.
    return data_->file().resize(uint64_t(shape.width) * uint64_t(shape.height) * shape.bands *
                                sample_bytes_);
  }

  Status write(const Region& block, const void* data, size_t size) override {
    const uint64_t expected = block.pixel_count() * shape_.bands * sample_bytes_;
    if (!data_ || size < expected)
      return Status(Code::kInternal, out_ + ": block " + to_string(block) + " of " +
                                         std::to_string(size) + " bytes does not fit the export");
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (const io_detail::Segment& run : io_detail::block_segments(
             interleave_, shape_.width, shape_.height, shape_.bands, sample_bytes_, block))
      TESSERA_RETURN_IF_ERROR(
          data_->file().write_at(bytes + run.buffer_offset, run.size, run.file_offset));
    return Status::ok();
  }

  Status finish() override {
    if (!data_) return Status(Code::kInternal, out_ + ": finish of an export that did not begin");
    TESSERA_RETURN_IF_ERROR(data_->seal());
    auto header = StagedFile::create(out_ + ".hdr");
    if (!header) return header.status();
    header_.emplace(std::move(header).value());
    TESSERA_RETURN_IF_ERROR(io_detail::write_staged_header(*header_, header_text_));
    TESSERA_RETURN_IF_ERROR(data_->commit());
    return header_->commit();
  }

  // Dropping the staged files removes whichever ".part" is still there.
  void abort() override {
    data_.reset();
    header_.reset();
  }

 private:
  const std::string out_;
  RasterShape shape_;
  Interleave interleave_ = Interleave::kBIP;
  size_t sample_bytes_ = 0;
  std::string header_text_;  // made by begin()
  std::optional<StagedFile> data_, header_;
};

}  // namespace

std::unique_ptr<RasterSink> make_envi_sink(const std::string& out) {
  return std::make_unique<EnviSink>(out);
}

Status export_envi(const Container& container, const std::string& out,
                   const ExportOptions& options) {
  EnviSink sink(out);
  return export_raster(container, sink, options);
}

}  // namespace tessera
