// Whole-slide images through OpenSlide (tessera/openslide.h): a level of a slide read block by
// block with openslide_read_region, an associated image read whole, both turned from
// OpenSlide's premultiplied ARGB into R, G, B, A bytes.
//
// Un-premultiplying. OpenSlide hands out 32-bit ARGB in native byte order with the colour
// multiplied by alpha (cairo's CAIRO_FORMAT_ARGB32). An opaque pixel (alpha 255) is copied, a
// transparent one (alpha 0) becomes 0,0,0,0, any other has each colour c divided back:
// min(255, round(c * 255 / alpha)), halves rounded up. Partially transparent pixels cannot
// round-trip exactly: premultiplying lost the low bits of their colour, and several of the
// colours this gives map to the same premultiplied value again. Slides from scanners are
// opaque inside their levels; alpha 0 is what OpenSlide paints where a level has no tile.
//
// Error state. An OpenSlide handle that reported an error (openslide_get_error) is in a
// terminal state: every later call on it does nothing or returns an empty answer. A source
// closes it at its first error and fails every later read with that first error, so a retried
// batch can never read the zeros a broken handle paints.
//
// This file never trusts OpenSlide's dimensions before checking them, and never lets OpenSlide
// paint into a buffer it did not size for the exact region asked.
#include <openslide.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/blocks.h"
#include "io/openslide_tiff_defect.h"
#include "io/source_identity.h"
#include "tessera/openslide.h"
#include "util/posix_file.h"

namespace tessera {
namespace {

using io_detail::mul_saturated;

constexpr uint32_t kBands = 4;  // R, G, B, A
// An associated image is read whole (OpenSlide has no partial read for them): larger than this
// in ARGB it is refused rather than allowed to take memory without bound.
constexpr uint64_t kMaxAssociatedBytes = uint64_t(64) << 20;

struct SlideCloser {
  void operator()(openslide_t* slide) const { openslide_close(slide); }
};
using SlideHandle = std::unique_ptr<openslide_t, SlideCloser>;

// A slide OpenSlide opened without error, and what the file was when it did.
struct OpenedSlide {
  SlideHandle handle;
  SourceIdentity identity;
  std::string vendor;
};

const char* slide_error(openslide_t* slide) { return openslide_get_error(slide); }

// II*\0, MM\0*, and BigTIFF's II+\0, MM\0+.
bool is_tiff_signature(const unsigned char magic[4]) {
  if (magic[0] == 'I' && magic[1] == 'I')
    return (magic[2] == 42 || magic[2] == 43) && magic[3] == 0;
  if (magic[0] == 'M' && magic[1] == 'M')
    return magic[2] == 0 && (magic[3] == 42 || magic[3] == 43);
  return false;
}

Result<OpenedSlide> open_slide(const std::string& path) {
  // The file itself first, so that a missing or unreadable file says so (OpenSlide would only
  // say it does not recognise it), and so that the identity is of the file OpenSlide reads.
  SourceIdentity identity;
  bool tiff = false;
  {
    auto file = detail::File::open_for_reading(path);
    if (!file) return file.status();
    auto st = file->stat();
    if (!st) return st.status();
    if (!S_ISREG(st->st_mode))
      return Status(Code::kUnsupported, path + ": not a regular file, so not a slide");
    identity = io_detail::file_identity(path, *st);
    unsigned char magic[4] = {};
    tiff = identity.size >= 4 && file->read_at(magic, 4, 0).is_ok() && is_tiff_signature(magic);
  }
  SlideHandle handle(openslide_open(path.c_str()));
  // OpenSlide says nothing of why it does not recognise a file; for a TIFF the reasons are few.
  if (!handle)
    return Status(Code::kUnsupported,
                  path + ": not a slide OpenSlide recognises" +
                      (tiff ? " (a TIFF is one only when it is tiled and every one of its "
                              "directories can be read)"
                            : ""));
  if (const char* error = slide_error(handle.get()))
    return Status(Code::kUnsupported, path + ": OpenSlide cannot read the slide: " + error);
  const char* vendor = openslide_get_property_value(handle.get(), OPENSLIDE_PROPERTY_NAME_VENDOR);
  std::string vendor_name = vendor ? vendor : "unknown";
  return OpenedSlide{std::move(handle), std::move(identity), std::move(vendor_name)};
}

RasterShape rgba_shape(int64_t width, int64_t height) {
  return RasterShape{width, height, kBands, DataType::kU8};
}

// "3000x2000 RGBA u8": the part of a description every source shares.
std::string describe_shape(const RasterShape& shape) {
  return std::to_string(shape.width) + "x" + std::to_string(shape.height) + " RGBA u8";
}

Result<std::vector<RasterShape>> level_shapes(openslide_t* slide, const std::string& path) {
  const int32_t count = openslide_get_level_count(slide);
  if (count < 1)
    return Status(Code::kUnsupported,
                  path + ": OpenSlide finds no level in the slide" +
                      (slide_error(slide) ? std::string(": ") + slide_error(slide) : ""));
  std::vector<RasterShape> shapes;
  for (int32_t level = 0; level < count; ++level) {
    int64_t width = -1, height = -1;
    openslide_get_level_dimensions(slide, level, &width, &height);
    if (width < 1 || height < 1)
      return Status(Code::kUnsupported,
                    path + ": level " + std::to_string(level) + ": OpenSlide gives it no size (" +
                        std::to_string(width) + "x" + std::to_string(height) + ")");
    shapes.push_back(rgba_shape(width, height));
  }
  return shapes;
}

// The integer property `name` ("openslide.level[1].tile-height"), or -1 when there is none.
int64_t integer_property(openslide_t* slide, const std::string& name) {
  const char* text = openslide_get_property_value(slide, name.c_str());
  if (!text) return -1;
  const char* end = text + std::strlen(text);
  int64_t value = -1;
  const auto [ptr, ec] = std::from_chars(text, end, value);
  return ec == std::errc() && ptr == end ? value : -1;
}

std::vector<std::string> associated_names(openslide_t* slide) {
  std::vector<std::string> names;
  for (const char* const* name = openslide_get_associated_image_names(slide); name && *name; ++name)
    names.emplace_back(*name);
  return names;
}

// Every property under OpenSlide's own name, as text: OpenSlide gives text, and the vendors'
// numbers are kept as they wrote them ("0.4990" would not survive as a real). A property whose
// name cannot be an attribute name (check_attribute_name: over 255 bytes, not UTF-8, a control
// character) is left out; a vendor's free-form field names are the only way to get one.
Attributes slide_properties(openslide_t* slide) {
  Attributes attributes;
  for (const char* const* name = openslide_get_property_names(slide); name && *name; ++name) {
    if (!check_attribute_name(*name).is_ok()) continue;
    const char* value = openslide_get_property_value(slide, *name);
    if (value) set_attribute(attributes, *name, std::string(value));
  }
  return attributes;
}

// Writes `width` x `height` pixels of premultiplied native-order ARGB at `argb` (packed rows) as
// straight R, G, B, A bytes into `dst` laid out with `strides`. `argb` may be `dst` itself when
// `strides` are those of packed RGBA: each pixel is loaded whole before its bytes are stored.
void unpremultiply(const uint8_t* argb, int64_t width, int64_t height, uint8_t* dst,
                   const Strides& strides) {
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* src = argb + y * width * 4;
    uint8_t* line = dst + y * strides.line;
    for (int64_t x = 0; x < width; ++x) {
      uint32_t pixel;
      std::memcpy(&pixel, src + x * 4, 4);
      const uint32_t alpha = pixel >> 24;
      uint32_t rgba[kBands] = {(pixel >> 16) & 0xff, (pixel >> 8) & 0xff, pixel & 0xff, alpha};
      if (alpha == 0) {
        rgba[0] = rgba[1] = rgba[2] = 0;
      } else if (alpha != 255) {
        for (int c = 0; c < 3; ++c)
          rgba[c] = std::min<uint32_t>(255, (rgba[c] * 255 + alpha / 2) / alpha);
      }
      uint8_t* out = line + x * strides.pixel;
      for (uint32_t b = 0; b < kBands; ++b) out[b * strides.band] = uint8_t(rgba[b]);
    }
  }
}

// One level of a slide, read through OpenSlide a block at a time.
class SlideLevelSource final : public RasterSource {
 public:
  SlideLevelSource(std::string path, OpenedSlide slide, int32_t level, RasterShape shape,
                   double downsample)
      : path_(std::move(path)),
        slide_(std::move(slide.handle)),
        identity_(std::move(slide.identity)),
        description_("OpenSlide " + slide.vendor + " level " + std::to_string(level) + " " +
                     describe_shape(shape)),
        attributes_(slide_properties(slide_.get())),
        level_(level),
        shape_(shape),
        downsample_(downsample) {}

  RasterShape shape() const override { return shape_; }
  const std::string& name() const override { return path_; }
  std::string description() const override { return description_; }
  SourceIdentity identity() const override { return identity_; }
  Attributes attributes() const override { return attributes_; }

  Status read(const Region& block, void* dst, size_t dst_size, const Strides& strides) override {
    TESSERA_RETURN_IF_ERROR(io_detail::check_read(path_, shape_, block, dst_size, strides));
    if (!failure_.is_ok()) return failure_;
    // OpenSlide paints straight into the caller's buffer when it is packed RGBA (what the
    // importer asks for: 4 bytes a pixel, like ARGB) and aligned for uint32; otherwise into
    // a block of scratch. Either way the block, which the caller bounds, is the only buffer.
    const Strides packed = Strides::packed(Interleave::kBIP, block.width, block.height, kBands, 1);
    uint8_t* argb = static_cast<uint8_t*>(dst);
    if (!(strides == packed) || reinterpret_cast<uintptr_t>(dst) % alignof(uint32_t) != 0) {
      scratch_.resize(size_t(block.pixel_count()));
      argb = reinterpret_cast<uint8_t*>(scratch_.data());
    }
    // OpenSlide addresses every level in level-0 coordinates.
    const int64_t x0 = level_ == 0 ? block.x : std::llround(double(block.x) * downsample_);
    const int64_t y0 = level_ == 0 ? block.y : std::llround(double(block.y) * downsample_);
    openslide_read_region(slide_.get(), reinterpret_cast<uint32_t*>(argb), x0, y0, level_,
                          block.width, block.height);
    if (const char* error = slide_error(slide_.get())) {
      failure_ = Status(Code::kCorrupt, path_ + ": level " + std::to_string(level_) + " block " +
                                            to_string(block) + ": OpenSlide: " + error +
                                            " (the slide is not read again)");
      slide_.reset();
      return failure_;
    }
    unpremultiply(argb, block.width, block.height, static_cast<uint8_t*>(dst), strides);
    return Status::ok();
  }

 private:
  const std::string path_;
  SlideHandle slide_;  // null after the first error
  const SourceIdentity identity_;
  const std::string description_;
  const Attributes attributes_;
  const int32_t level_;
  const RasterShape shape_;
  const double downsample_;
  Status failure_;  // the first error, returned by every later read
  std::vector<uint32_t> scratch_;
};

// An associated image, read whole when opened (they are small) and served from memory.
class AssociatedImageSource final : public RasterSource {
 public:
  AssociatedImageSource(std::string path, SourceIdentity identity, std::string associated,
                        std::string description, RasterShape shape, std::vector<uint8_t> rgba)
      : path_(std::move(path)),
        identity_(std::move(identity)),
        associated_(std::move(associated)),
        description_(std::move(description)),
        shape_(shape),
        rgba_(std::move(rgba)) {}

  RasterShape shape() const override { return shape_; }
  const std::string& name() const override { return path_; }
  // "slide.label": the slide's own image name, then the associated image's.
  std::string image_name() const override { return RasterSource::image_name() + "." + associated_; }
  std::string description() const override { return description_; }
  SourceIdentity identity() const override { return identity_; }

  Status read(const Region& block, void* dst, size_t dst_size, const Strides& strides) override {
    TESSERA_RETURN_IF_ERROR(io_detail::check_read(path_, shape_, block, dst_size, strides));
    auto* out = static_cast<uint8_t*>(dst);
    for (int64_t y = 0; y < block.height; ++y)
      for (int64_t x = 0; x < block.width; ++x) {
        const uint8_t* pixel = rgba_.data() + ((block.y + y) * shape_.width + block.x + x) * kBands;
        for (uint32_t b = 0; b < kBands; ++b)
          out[y * strides.line + x * strides.pixel + b * strides.band] = pixel[b];
      }
    return Status::ok();
  }

 private:
  const std::string path_;
  const SourceIdentity identity_;
  const std::string associated_;
  const std::string description_;
  const RasterShape shape_;
  const std::vector<uint8_t> rgba_;  // packed R, G, B, A
};

std::string quoted_names(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "'" : ", '") + name + "'";
  return out;
}

}  // namespace

bool looks_like_slide(const std::string& path) {
  return openslide_detect_vendor(path.c_str()) != nullptr;
}

Result<SlideContents> list_slide(const std::string& path) {
  auto slide = open_slide(path);
  if (!slide) return slide.status();
  SlideContents contents;
  contents.vendor = slide->vendor;
  auto levels = level_shapes(slide->handle.get(), path);
  if (!levels) return levels.status();
  contents.levels = std::move(levels).value();
  contents.associated = associated_names(slide->handle.get());
  return contents;
}

Result<std::unique_ptr<RasterSource>> open_slide_source(const std::string& path, uint32_t level) {
  auto slide = open_slide(path);
  if (!slide) return slide.status();
  auto levels = level_shapes(slide->handle.get(), path);
  if (!levels) return levels.status();
  if (level >= levels->size())
    return Status(Code::kInvalidArgument, path + ": level " + std::to_string(level) +
                                              " does not exist (the slide has " +
                                              std::to_string(levels->size()) + " level" +
                                              (levels->size() == 1 ? "" : "s") + ")");
  const double downsample = openslide_get_level_downsample(slide->handle.get(), int32_t(level));
  if (!(downsample >= 1.0) || !std::isfinite(downsample))
    return Status(Code::kUnsupported, path + ": level " + std::to_string(level) +
                                          ": OpenSlide gives it downsample " +
                                          std::to_string(downsample));
  const RasterShape shape = (*levels)[level];
  const std::string tiles = "openslide.level[" + std::to_string(level) + "].tile-";
  TESSERA_RETURN_IF_ERROR(
      io_detail::check_tiff_level_misread(path, int32_t(level), shape.width, shape.height,
                                          integer_property(slide->handle.get(), tiles + "width"),
                                          integer_property(slide->handle.get(), tiles + "height")));
  // Level-0 coordinates of the level's far corner must fit OpenSlide's int64 arguments.
  if (double(shape.width) * downsample > 9e18 || double(shape.height) * downsample > 9e18)
    return Status(Code::kUnsupported, path + ": level " + std::to_string(level) +
                                          " is too large for level-0 coordinates");
  return std::unique_ptr<RasterSource>(std::make_unique<SlideLevelSource>(
      path, std::move(slide).value(), int32_t(level), shape, downsample));
}

Result<std::unique_ptr<RasterSource>> open_slide_associated(const std::string& path,
                                                            const std::string& name) {
  auto slide = open_slide(path);
  if (!slide) return slide.status();
  openslide_t* handle = slide->handle.get();
  const std::vector<std::string> names = associated_names(handle);
  bool known = false;
  for (const std::string& n : names) known = known || n == name;
  if (!known)
    return Status(Code::kNotFound, path + ": no associated image '" + name + "' (the slide has " +
                                       quoted_names(names) + ")");
  const std::string what = path + ": associated image '" + name + "'";
  int64_t width = -1, height = -1;
  openslide_get_associated_image_dimensions(handle, name.c_str(), &width, &height);
  if (width < 1 || height < 1)
    return Status(Code::kUnsupported, what + ": OpenSlide gives it no size (" +
                                          std::to_string(width) + "x" + std::to_string(height) +
                                          ")");
  const uint64_t bytes = mul_saturated(mul_saturated(uint64_t(width), uint64_t(height)), 4);
  if (bytes > kMaxAssociatedBytes)
    return Status(Code::kUnsupported, what + " is " + std::to_string(width) + "x" +
                                          std::to_string(height) + " (" + std::to_string(bytes) +
                                          " bytes of ARGB): larger than the " +
                                          std::to_string(kMaxAssociatedBytes >> 20) +
                                          " MiB an associated image is read whole into");
  std::vector<uint32_t> argb(size_t(width * height));
  openslide_read_associated_image(handle, name.c_str(), argb.data());
  if (const char* error = slide_error(handle))
    return Status(Code::kCorrupt, what + ": OpenSlide: " + error);
  const RasterShape shape = rgba_shape(width, height);
  std::vector<uint8_t> rgba(static_cast<size_t>(bytes));
  unpremultiply(reinterpret_cast<const uint8_t*>(argb.data()), width, height, rgba.data(),
                Strides::packed(Interleave::kBIP, width, height, kBands, 1));
  std::string description =
      "OpenSlide " + slide->vendor + " associated image '" + name + "' " + describe_shape(shape);
  return std::unique_ptr<RasterSource>(std::make_unique<AssociatedImageSource>(
      path, std::move(slide->identity), name, std::move(description), shape, std::move(rgba)));
}

}  // namespace tessera
