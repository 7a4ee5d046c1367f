// openslide_test.cc — whole-slide images through OpenSlide (tessera/openslide.h): slides are
// written here with libtiff (an Aperio SVS with a reduced level, a thumbnail, a label and a
// macro; a generic tiled TIFF with associated alpha and a reduced level), listed, imported with
// import_raster and compared with references OpenSlide has no part in: libtiff's own decode of
// the same JPEG tiles (both use libjpeg-turbo with its defaults, so the match is exact), and the
// very samples written for the lossless pages. Then the errors: files OpenSlide refuses, levels
// and associated images that do not exist, and a damaged tile that must fail every later read.
#include "tessera/openslide.h"

#include <gtest/gtest.h>
#include <tiffio.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tessera/io.h"
#include "tessera/tessera.h"
#include "test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using test::Rng;
using test::TempDirTest;

// ---------------------------------------------------------------------------------------------
// Pixels and the slides made of them

// Interleaved 8-bit pixels, `channels` a pixel (3: RGB, 4: RGBA).
struct Pixels {
  int64_t width = 0, height = 0;
  uint32_t channels = 3;
  std::vector<uint8_t> data;

  uint8_t* at(int64_t x, int64_t y) { return data.data() + (y * width + x) * channels; }
  const uint8_t* at(int64_t x, int64_t y) const { return data.data() + (y * width + x) * channels; }
};

// Smooth gradients under a little noise: something a slide's JPEG tiles could hold, compressible
// without being flat.
Pixels photo(int64_t width, int64_t height, uint64_t seed) {
  Pixels p{width, height, 3, std::vector<uint8_t>(size_t(width * height * 3))};
  Rng rng(seed);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      uint8_t* px = p.at(x, y);
      px[0] = uint8_t((x * 255 / width + rng.uniform(0, 24)) & 0xff);
      px[1] = uint8_t((y * 255 / height + rng.uniform(0, 24)) & 0xff);
      px[2] = uint8_t(((x + y) * 2 + rng.uniform(0, 24)) & 0xff);
    }
  return p;
}

// RGBA with the colour premultiplied by alpha (TIFF's associated alpha): transparent, opaque and
// partial pixels mixed, every colour at most its alpha.
Pixels premultiplied(int64_t width, int64_t height, uint64_t seed) {
  Pixels p{width, height, 4, std::vector<uint8_t>(size_t(width * height * 4))};
  Rng rng(seed);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      uint8_t* px = p.at(x, y);
      const int64_t kind = rng.uniform(0, 9);
      const int64_t alpha = kind < 2 ? 0 : kind < 5 ? 255 : rng.uniform(1, 254);
      for (int c = 0; c < 3; ++c) px[c] = uint8_t(rng.uniform(0, alpha));
      px[3] = uint8_t(alpha);
    }
  return p;
}

// Straight RGBA of premultiplied RGBA, as tessera/openslide.h promises it, in floating point.
Pixels straight(const Pixels& pre) {
  Pixels out = pre;
  for (int64_t y = 0; y < pre.height; ++y)
    for (int64_t x = 0; x < pre.width; ++x) {
      const uint8_t* in = pre.at(x, y);
      uint8_t* px = out.at(x, y);
      const double alpha = in[3];
      for (int c = 0; c < 3; ++c)
        px[c] = alpha == 0 ? 0 : uint8_t(std::min(255.0, std::floor(in[c] * 255.0 / alpha + 0.5)));
    }
  return out;
}

// RGB with an opaque alpha channel added.
Pixels opaque(const Pixels& rgb) {
  Pixels out{rgb.width, rgb.height, 4, std::vector<uint8_t>(size_t(rgb.width * rgb.height * 4))};
  for (int64_t y = 0; y < rgb.height; ++y)
    for (int64_t x = 0; x < rgb.width; ++x) {
      std::memcpy(out.at(x, y), rgb.at(x, y), 3);
      out.at(x, y)[3] = 255;
    }
  return out;
}

// One page of a TIFF to write.
struct Page {
  const Pixels* pixels = nullptr;
  bool tiled = true;  // square tiles of `tile`; otherwise strips of 16 rows
  uint16_t compression = COMPRESSION_NONE;
  std::string description;
  uint32_t subfile_type = 0;
  uint32_t tile = 256;
  // 16 zero bytes for each tile, or for the one strip, instead of the pixels (which may be
  // empty): a page whose layout is all that is learnt of it before it is read. Compressed, or
  // libtiff warns that the strip is too short for the page.
  bool placeholder = false;
};

void write_page(TIFF* tif, const Page& page) {
  const Pixels& p = *page.pixels;
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, uint32_t(p.width));
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, uint32_t(p.height));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(8));
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(p.channels));
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  if (p.channels == 4) {
    const uint16_t extra = EXTRASAMPLE_ASSOCALPHA;
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, uint16_t(1), &extra);
  }
  TIFFSetField(tif, TIFFTAG_COMPRESSION, page.compression);
  if (page.compression == COMPRESSION_JPEG) TIFFSetField(tif, TIFFTAG_JPEGQUALITY, 90);
  if (page.subfile_type) TIFFSetField(tif, TIFFTAG_SUBFILETYPE, page.subfile_type);
  if (!page.description.empty())
    TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, page.description.c_str());
  const size_t pixel = p.channels;
  if (page.tiled && page.placeholder) {
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, page.tile);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, page.tile);
    uint8_t zeros[16] = {};
    for (ttile_t t = 0; t < TIFFNumberOfTiles(tif); ++t)
      ASSERT_EQ(TIFFWriteRawTile(tif, t, zeros, sizeof(zeros)), tmsize_t(sizeof(zeros)));
  } else if (page.tiled) {
    const uint32_t kTile = page.tile;
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, kTile);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, kTile);
    std::vector<uint8_t> tile(size_t(kTile) * kTile * pixel);
    for (int64_t ty = 0; ty < p.height; ty += kTile)
      for (int64_t tx = 0; tx < p.width; tx += kTile) {
        std::fill(tile.begin(), tile.end(), uint8_t(0));  // beyond the image: padding
        for (int64_t y = ty; y < std::min<int64_t>(ty + kTile, p.height); ++y)
          std::memcpy(tile.data() + size_t(y - ty) * kTile * pixel, p.at(tx, y),
                      size_t(std::min<int64_t>(kTile, p.width - tx)) * pixel);
        ASSERT_GE(TIFFWriteTile(tif, tile.data(), uint32_t(tx), uint32_t(ty), 0, 0), 0);
      }
  } else if (page.placeholder) {
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, uint32_t(p.height));
    uint8_t zeros[16] = {};
    ASSERT_EQ(TIFFWriteRawStrip(tif, 0, zeros, sizeof(zeros)), tmsize_t(sizeof(zeros)));
  } else {
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, uint32_t(16));
    std::vector<uint8_t> row(size_t(p.width) * pixel);
    for (int64_t y = 0; y < p.height; ++y) {
      std::memcpy(row.data(), p.at(0, y), row.size());
      ASSERT_EQ(TIFFWriteScanline(tif, row.data(), uint32_t(y), 0), 1);
    }
  }
  ASSERT_EQ(TIFFWriteDirectory(tif), 1);
}

void write_tiff(const std::string& path, const std::vector<Page>& pages) {
  TIFF* tif = TIFFOpen(path.c_str(), "w");
  ASSERT_NE(tif, nullptr) << path;
  for (const Page& page : pages) {
    write_page(tif, page);
    if (::testing::Test::HasFatalFailure()) break;
  }
  TIFFClose(tif);
}

// libtiff's own decode of tiled page `dir` of `path` (RGB, 8-bit), tile by tile.
Pixels libtiff_decode(const std::string& path, tdir_t dir) {
  Pixels out;
  TIFF* tif = TIFFOpen(path.c_str(), "r");
  EXPECT_NE(tif, nullptr) << path;
  if (!tif) return out;
  EXPECT_EQ(TIFFSetDirectory(tif, dir), 1);
  uint32_t width = 0, height = 0, tw = 0, th = 0;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height);
  EXPECT_EQ(TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw), 1);
  EXPECT_EQ(TIFFGetField(tif, TIFFTAG_TILELENGTH, &th), 1);
  out = Pixels{width, height, 3, std::vector<uint8_t>(size_t(width) * height * 3)};
  std::vector<uint8_t> tile(size_t(TIFFTileSize(tif)));
  for (uint32_t ty = 0; ty < height && th; ty += th)
    for (uint32_t tx = 0; tx < width && tw; tx += tw) {
      EXPECT_GT(TIFFReadTile(tif, tile.data(), tx, ty, 0, 0), 0)
          << path << " tile " << tx << "," << ty;
      for (uint32_t y = ty; y < std::min(ty + th, height); ++y)
        std::memcpy(out.at(tx, y), tile.data() + size_t(y - ty) * tw * 3,
                    size_t(std::min(tw, width - tx)) * 3);
    }
  TIFFClose(tif);
  return out;
}

// The slides of these tests. Downsamples are exact (4 and 2), so reduced levels read exactly.
// The generic slide's levels are taller than its tiles (128): OpenSlide 3.4.1 misreads shorter
// ones unless they are JPEG (ShortLevelOpenSlideMisreadsIsRefused).
const std::string kAperioDescription =
    "Aperio Image Library v10.0.50\r\n600x400 [0,0 600x400] (256x256) JPEG/RGB Q=90"
    "|AppMag = 20|MPP = 0.4990|Filename = slide";

struct AperioSlide {
  Pixels level0 = photo(600, 400, 11), level1 = photo(150, 100, 12),
         thumbnail = photo(150, 100, 13), label = photo(80, 60, 14), macro = photo(120, 40, 15);
  void write(const std::string& path) const {
    // OpenSlide names a stripped page after the thumbnail by the first word of its
    // description's second line, splitting at '\r' and at '\n' (so the label's and macro's
    // descriptions end their first line with '\n' alone, as Aperio's do).
    const std::string lib = "Aperio Image Library v10.0.50\r\n";
    const std::string lib1 = "Aperio Image Library v10.0.50\n";
    write_tiff(path,
               {{&level0, true, COMPRESSION_JPEG, kAperioDescription, 0},
                {&thumbnail, false, COMPRESSION_NONE, lib + "600x400 -> 150x100 - |AppMag = 20", 0},
                {&level1, true, COMPRESSION_JPEG, lib + "600x400 -> 150x100 JPEG/RGB Q=90", 0},
                {&label, false, COMPRESSION_LZW, lib1 + "label 80x60", FILETYPE_REDUCEDIMAGE},
                {&macro, false, COMPRESSION_NONE, lib1 + "macro 120x40", 9}});
  }
};

struct GenericSlide {
  Pixels level0 = premultiplied(520, 300, 21), level1 = premultiplied(260, 150, 22);
  void write(const std::string& path) const { write(path, 128); }
  void write(const std::string& path, uint32_t tile) const {
    write_tiff(path, {{&level0, true, COMPRESSION_NONE, "generic", 0, tile},
                      {&level1, true, COMPRESSION_ADOBE_DEFLATE, "", FILETYPE_REDUCEDIMAGE, tile}});
  }
};

// ---------------------------------------------------------------------------------------------
// Reading back

// Every pixel of a source, read block by block in `strides`-shaped buffers (tile-sized blocks).
Pixels read_all(RasterSource& source) {
  const RasterShape shape = source.shape();
  Pixels out{shape.width, shape.height, 4,
             std::vector<uint8_t>(size_t(shape.width * shape.height * 4))};
  for (int64_t y = 0; y < shape.height; y += 128)
    for (int64_t x = 0; x < shape.width; x += 128) {
      const Region block{x, y, std::min<int64_t>(128, shape.width - x),
                         std::min<int64_t>(128, shape.height - y)};
      std::vector<uint8_t> buffer(size_t(block.pixel_count() * 4));
      const Strides bip = test::packed_strides(Interleave::kBIP, block.width, block.height, 4, 1);
      const Status read = source.read(block, buffer.data(), buffer.size(), bip);
      EXPECT_OK(read);
      if (!read.is_ok()) return out;
      for (int64_t r = 0; r < block.height; ++r)
        std::memcpy(out.at(x, y + r), buffer.data() + size_t(r * block.width * 4),
                    size_t(block.width * 4));
    }
  return out;
}

// Where the first pixel of two images differs, or "" when they are the same.
std::string first_difference(const Pixels& got, const Pixels& want) {
  if (got.width != want.width || got.height != want.height || got.channels != want.channels)
    return "shape " + std::to_string(got.width) + "x" + std::to_string(got.height) + "x" +
           std::to_string(got.channels) + ", expected " + std::to_string(want.width) + "x" +
           std::to_string(want.height) + "x" + std::to_string(want.channels);
  for (int64_t y = 0; y < got.height; ++y)
    for (int64_t x = 0; x < got.width; ++x)
      if (std::memcmp(got.at(x, y), want.at(x, y), got.channels) != 0)
        return "pixel " + std::to_string(x) + "," + std::to_string(y) + ": " +
               test::hex(got.at(x, y), got.channels) + ", expected " +
               test::hex(want.at(x, y), want.channels);
  return "";
}

const std::string* text_attribute(const Attributes& attributes, std::string_view name) {
  const AttributeValue* value = find_attribute(attributes, name);
  return value ? std::get_if<std::string>(value) : nullptr;
}

class OpenSlideTest : public TempDirTest {
 protected:
  void SetUp() override {
    aperio_path_ = path("slide.svs");
    ASSERT_NO_FATAL_FAILURE(aperio_.write(aperio_path_));
    generic_path_ = path("generic.tif");
    ASSERT_NO_FATAL_FAILURE(generic_.write(generic_path_));
  }

  // Imports `source` into a fresh container and reads the image back whole.
  Pixels import_and_read_back(RasterSource& source, Attributes* attributes = nullptr) {
    const RasterShape shape = source.shape();
    Pixels out{shape.width, shape.height, 4,
               std::vector<uint8_t>(size_t(shape.width * shape.height * 4))};
    auto container = Container::create(path(source.image_name() + ".tsr"));
    EXPECT_OK(container);
    if (!container) return out;
    EXPECT_OK(import_raster(*container, source, ImportOptions{}));
    auto snap = container->snapshot();
    EXPECT_OK(snap);
    if (!snap) return out;
    EXPECT_OK(snap->read(source.image_name(), Region{0, 0, shape.width, shape.height}, {},
                         out.data.data(), out.data.size(), Interleave::kBIP));
    if (attributes) {
      auto stored = snap->attributes(source.image_name());
      EXPECT_OK(stored);
      if (stored) *attributes = *stored;
    }
    return out;
  }

  AperioSlide aperio_;
  GenericSlide generic_;
  std::string aperio_path_, generic_path_;
};

// ---------------------------------------------------------------------------------------------
// Aperio

TEST_F(OpenSlideTest, AperioListsItsVendorLevelsAndAssociatedImages) {
  EXPECT_TRUE(looks_like_slide(aperio_path_));
  ASSERT_OK_AND_ASSIGN(SlideContents contents, list_slide(aperio_path_));
  EXPECT_EQ(contents.vendor, "aperio");
  const std::vector<RasterShape> levels = {{600, 400, 4, DataType::kU8},
                                           {150, 100, 4, DataType::kU8}};
  EXPECT_EQ(contents.levels, levels);
  EXPECT_EQ(contents.associated, (std::vector<std::string>{"label", "macro", "thumbnail"}));
}

TEST_F(OpenSlideTest, AperioLevel0ImportsAsLibtiffDecodesItsTiles) {
  ASSERT_OK_AND_ASSIGN(auto source, open_slide_source(aperio_path_));
  EXPECT_EQ(source->shape(), (RasterShape{600, 400, 4, DataType::kU8}));
  EXPECT_EQ(source->description(), "OpenSlide aperio level 0 600x400 RGBA u8");
  EXPECT_EQ(source->image_name(), "slide");
  const SourceIdentity identity = source->identity();
  EXPECT_EQ(identity.path, fs::absolute(aperio_path_).lexically_normal().string());
  EXPECT_EQ(identity.size, fs::file_size(aperio_path_));

  Attributes attributes;
  const Pixels imported = import_and_read_back(*source, &attributes);
  const Pixels reference = opaque(libtiff_decode(aperio_path_, 0));
  EXPECT_EQ(first_difference(imported, reference), "");

  // OpenSlide's properties, under its own names, as text.
  auto expect_text = [&](const char* name, const std::string& value) {
    const std::string* got = text_attribute(attributes, name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(*got, value) << name;
  };
  expect_text("openslide.vendor", "aperio");
  expect_text("openslide.level-count", "2");
  expect_text("openslide.level[0].width", "600");
  expect_text("openslide.level[1].downsample", "4");
  expect_text("openslide.objective-power", "20");
  expect_text("aperio.AppMag", "20");
  expect_text("aperio.MPP", "0.4990");
  expect_text("aperio.Filename", "slide");
  expect_text("tiff.ImageDescription", kAperioDescription);
  const std::string* mpp = text_attribute(attributes, "openslide.mpp-x");
  ASSERT_NE(mpp, nullptr);
  EXPECT_DOUBLE_EQ(std::strtod(mpp->c_str(), nullptr), 0.499);
  EXPECT_NE(text_attribute(attributes, "openslide.quickhash-1"), nullptr);
  EXPECT_EQ(attributes, source->attributes());
}

TEST_F(OpenSlideTest, AperioReducedLevelReadsAsLibtiffDecodesIt) {
  ASSERT_OK_AND_ASSIGN(auto source, open_slide_source(aperio_path_, 1));
  EXPECT_EQ(source->shape(), (RasterShape{150, 100, 4, DataType::kU8}));
  EXPECT_EQ(source->description(), "OpenSlide aperio level 1 150x100 RGBA u8");
  EXPECT_EQ(first_difference(read_all(*source), opaque(libtiff_decode(aperio_path_, 2))), "");
}

// Reads repeat; other layouts and unaligned buffers get the same samples.
TEST_F(OpenSlideTest, AperioReadsRepeatInAnyLayout) {
  ASSERT_OK_AND_ASSIGN(auto source, open_slide_source(aperio_path_));
  const Pixels reference = opaque(libtiff_decode(aperio_path_, 0));
  const Region block{200, 100, 300, 250};  // across four JPEG tiles
  const size_t size = size_t(block.pixel_count() * 4);
  for (Interleave interleave :
       {Interleave::kBIP, Interleave::kBSQ, Interleave::kBIL, Interleave::kBIP}) {
    SCOPED_TRACE(test::interleave_label(interleave));
    const Strides strides = test::packed_strides(interleave, block.width, block.height, 4, 1);
    std::vector<uint8_t> buffer(size + 1);
    uint8_t* dst = buffer.data() + 1;  // never aligned for uint32: the scratch path
    ASSERT_OK(source->read(block, dst, size, strides));
    for (int64_t y = 0; y < block.height; ++y)
      for (int64_t x = 0; x < block.width; ++x)
        for (size_t b = 0; b < 4; ++b)
          ASSERT_EQ(dst[test::sample_offset(strides, x, y, b)],
                    reference.at(block.x + x, block.y + y)[b])
              << "pixel " << x << "," << y << " band " << b;
  }
  std::vector<uint8_t> small(size - 1);
  EXPECT_CODE(source->read(block, small.data(), small.size(),
                           test::packed_strides(Interleave::kBIP, block.width, block.height, 4, 1)),
              Code::kInvalidArgument);
  std::vector<uint8_t> one(4);
  EXPECT_CODE(source->read({600, 0, 1, 1}, one.data(), one.size(), {4, 4, 1}),
              Code::kInvalidArgument);
}

TEST_F(OpenSlideTest, AperioAssociatedImagesAreTheirPages) {
  struct Expected {
    std::string name;
    const Pixels* pixels;
  };
  for (const Expected& e : {Expected{"thumbnail", &aperio_.thumbnail},
                            Expected{"label", &aperio_.label}, Expected{"macro", &aperio_.macro}}) {
    SCOPED_TRACE(e.name);
    ASSERT_OK_AND_ASSIGN(auto source, open_slide_associated(aperio_path_, e.name));
    EXPECT_EQ(source->shape(), (RasterShape{e.pixels->width, e.pixels->height, 4, DataType::kU8}));
    EXPECT_EQ(source->image_name(), "slide." + e.name);
    EXPECT_EQ(source->description(), "OpenSlide aperio associated image '" + e.name + "' " +
                                         std::to_string(e.pixels->width) + "x" +
                                         std::to_string(e.pixels->height) + " RGBA u8");
    EXPECT_EQ(source->identity().size, fs::file_size(aperio_path_));
    EXPECT_EQ(first_difference(read_all(*source), opaque(*e.pixels)), "");
  }
  ASSERT_OK_AND_ASSIGN(auto label, open_slide_associated(aperio_path_, "label"));
  EXPECT_EQ(first_difference(import_and_read_back(*label), opaque(aperio_.label)), "");
}

// ---------------------------------------------------------------------------------------------
// Generic tiled TIFF

// OpenSlide premultiplies; the source undoes it exactly where alpha is 0 or 255 and rounds
// elsewhere, as the reference computes it in floating point.
TEST_F(OpenSlideTest, GenericTiffImportsWithAlphaUnpremultiplied) {
  EXPECT_TRUE(looks_like_slide(generic_path_));
  ASSERT_OK_AND_ASSIGN(SlideContents contents, list_slide(generic_path_));
  EXPECT_EQ(contents.vendor, "generic-tiff");
  const std::vector<RasterShape> levels = {{520, 300, 4, DataType::kU8},
                                           {260, 150, 4, DataType::kU8}};
  EXPECT_EQ(contents.levels, levels);
  EXPECT_TRUE(contents.associated.empty());

  ASSERT_OK_AND_ASSIGN(auto source, open_slide_source(generic_path_));
  EXPECT_EQ(source->description(), "OpenSlide generic-tiff level 0 520x300 RGBA u8");
  EXPECT_EQ(source->image_name(), "generic");
  Attributes attributes;
  EXPECT_EQ(first_difference(import_and_read_back(*source, &attributes), straight(generic_.level0)),
            "");
  const std::string* vendor = text_attribute(attributes, "openslide.vendor");
  ASSERT_NE(vendor, nullptr);
  EXPECT_EQ(*vendor, "generic-tiff");
  const std::string* description = text_attribute(attributes, "tiff.ImageDescription");
  ASSERT_NE(description, nullptr);
  EXPECT_EQ(*description, "generic");

  ASSERT_OK_AND_ASSIGN(auto reduced, open_slide_source(generic_path_, 1));
  EXPECT_EQ(first_difference(read_all(*reduced), straight(generic_.level1)), "");
}

// In tiles of 256 the reduced level (150 rows) is shorter than its tiles: OpenSlide 3.4.1 would
// read it shifted down with uninitialised rows above, so it is refused. The JPEG level of the
// Aperio slide (100 rows in tiles of 256) OpenSlide decodes itself, and reads right (above).
TEST_F(OpenSlideTest, ShortLevelOpenSlideMisreadsIsRefused) {
  const std::string big_tiles = path("big-tiles.tif");
  ASSERT_NO_FATAL_FAILURE(generic_.write(big_tiles, 256));
  ASSERT_OK_AND_ASSIGN(auto level0, open_slide_source(big_tiles, 0));
  EXPECT_EQ(first_difference(read_all(*level0), straight(generic_.level0)), "");
  const auto level1 = open_slide_source(big_tiles, 1);
  EXPECT_CODE(level1, Code::kUnsupported);
  for (const char* part :
       {"big-tiles.tif: level 1 (260x150, ", "256x256", "TIFF page 1", "shorter than its tiles"})
    EXPECT_NE(level1.status().message().find(part), std::string::npos)
        << part << " not in: " << level1.status().message();
}

// ---------------------------------------------------------------------------------------------
// Errors

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Expects `status` to fail with `code` and a message holding every one of `parts`.
void expect_failure(const Status& status, Code code, const std::vector<std::string>& parts) {
  EXPECT_EQ(status.code(), code) << status.to_string();
  for (const std::string& part : parts)
    EXPECT_NE(status.message().find(part), std::string::npos)
        << "'" << part << "' not in: " << status.message();
}

TEST_F(OpenSlideTest, FilesThatAreNoSlideAreRefused) {
  const std::string text = path("notes.txt");
  ASSERT_NO_FATAL_FAILURE(write_bytes(text, "not a slide\n"));
  const std::string empty = path("empty.svs");
  ASSERT_NO_FATAL_FAILURE(write_bytes(empty, ""));
  const std::string stripped = path("stripped.tif");  // OpenSlide reads only tiled TIFFs
  ASSERT_NO_FATAL_FAILURE(write_tiff(stripped, {{&aperio_.label, false, COMPRESSION_NONE, "", 0}}));
  for (const std::string& file : {text, empty, stripped}) {
    SCOPED_TRACE(file);
    EXPECT_FALSE(looks_like_slide(file));
    expect_failure(list_slide(file).status(), Code::kUnsupported,
                   {file + ": not a slide OpenSlide recognises"});
    expect_failure(open_slide_source(file).status(), Code::kUnsupported, {file});
    expect_failure(open_slide_associated(file, "label").status(), Code::kUnsupported, {file});
  }
  const std::string missing = path("missing.svs");
  EXPECT_FALSE(looks_like_slide(missing));
  expect_failure(list_slide(missing).status(), Code::kNotFound, {missing});
  expect_failure(open_slide_source(missing).status(), Code::kNotFound, {missing});
}

// A slide OpenSlide recognises but cannot open (here a tiled TIFF in a compression libtiff was
// built without: JPEG 2000, 34712) is refused with OpenSlide's reason.
TEST_F(OpenSlideTest, SlideOpenSlideCannotOpenIsRefusedWithItsReason) {
  const Pixels unreadable{300, 200, 3, {}};
  const std::string slide = path("jp2k.tif");
  ASSERT_NO_FATAL_FAILURE(write_tiff(slide, {{&unreadable, true, 34712, "", 0, 256, true}}));
  EXPECT_TRUE(looks_like_slide(slide));
  for (const Status& status : {list_slide(slide).status(), open_slide_source(slide).status(),
                               open_slide_associated(slide, "label").status()})
    expect_failure(status, Code::kUnsupported,
                   {slide + ": OpenSlide cannot read the slide: ", "34712"});
}

// libtiff writes each directory after its page's data: cut in half, the first directory of the
// slide is gone, and OpenSlide no longer recognises it.
TEST_F(OpenSlideTest, TruncatedSlideIsRefused) {
  const std::string truncated = path("truncated.svs");
  fs::copy_file(aperio_path_, truncated);
  fs::resize_file(truncated, fs::file_size(aperio_path_) / 2);
  EXPECT_FALSE(looks_like_slide(truncated));
  for (const Status& status :
       {list_slide(truncated).status(), open_slide_source(truncated).status(),
        open_slide_associated(truncated, "label").status()})
    expect_failure(
        status, Code::kUnsupported,
        {truncated, "not a slide OpenSlide recognises (a TIFF is one only when it is tiled"});
}

// An associated image is read whole, so one too large for that is refused before it is read:
// a label of 4100 x 4100 (64.1 MiB of ARGB) that holds no pixels at all.
TEST_F(OpenSlideTest, OversizedAssociatedImageIsRefused) {
  const Pixels huge{4100, 4100, 3, {}};
  const std::string slide = path("huge-label.svs");
  ASSERT_NO_FATAL_FAILURE(
      write_tiff(slide, {{&aperio_.level1, true, COMPRESSION_JPEG, kAperioDescription, 0},
                         {&aperio_.thumbnail, false, COMPRESSION_NONE,
                          "Aperio Image Library v10.0.50\r\nthumbnail", 0},
                         {&huge, false, COMPRESSION_ADOBE_DEFLATE,
                          "Aperio Image Library v10.0.50\nlabel 4100x4100", 0, 256, true}}));
  ASSERT_OK_AND_ASSIGN(SlideContents contents, list_slide(slide));
  EXPECT_EQ(contents.associated, (std::vector<std::string>{"label", "thumbnail"}));
  expect_failure(
      open_slide_associated(slide, "label").status(), Code::kUnsupported,
      {slide, "associated image 'label' is 4100x4100 (67240000 bytes of ARGB)", "64 MiB"});
  EXPECT_OK(open_slide_associated(slide, "thumbnail"));
}

TEST_F(OpenSlideTest, LevelsAndAssociatedImagesThatDoNotExist) {
  expect_failure(open_slide_source(aperio_path_, 2).status(), Code::kInvalidArgument,
                 {aperio_path_, "level 2", "2 levels"});
  expect_failure(open_slide_source(generic_path_, 7).status(), Code::kInvalidArgument,
                 {generic_path_, "level 7"});
  expect_failure(open_slide_associated(aperio_path_, "overview").status(), Code::kNotFound,
                 {aperio_path_, "'overview'", "'label', 'macro', 'thumbnail'"});
  expect_failure(open_slide_associated(generic_path_, "label").status(), Code::kNotFound,
                 {generic_path_, "'label'", "none"});
}

// A tile that cannot be decoded puts OpenSlide's handle in its error state: the read fails
// with OpenSlide's message, and so does every later read, even of blocks that do not touch it.
TEST_F(OpenSlideTest, DamagedTileFailsEveryLaterRead) {
  uint64_t offset = 0, size = 0;
  {
    TIFF* tif = TIFFOpen(aperio_path_.c_str(), "r");
    ASSERT_NE(tif, nullptr);
    uint64_t* offsets = nullptr;
    uint64_t* sizes = nullptr;
    ASSERT_EQ(TIFFGetField(tif, TIFFTAG_TILEOFFSETS, &offsets), 1);
    ASSERT_EQ(TIFFGetField(tif, TIFFTAG_TILEBYTECOUNTS, &sizes), 1);
    offset = offsets[0], size = sizes[0];
    TIFFClose(tif);
  }
  {
    std::fstream file(aperio_path_, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(std::streamoff(offset));
    const std::string zeros(size_t(size), '\0');
    file.write(zeros.data(), std::streamsize(zeros.size()));
    ASSERT_TRUE(file.good());
  }
  ASSERT_OK_AND_ASSIGN(auto source, open_slide_source(aperio_path_));
  std::vector<uint8_t> buffer(256 * 256 * 4);
  const Strides bip = test::packed_strides(Interleave::kBIP, 256, 256, 4, 1);
  const Status first = source->read({0, 0, 256, 256}, buffer.data(), buffer.size(), bip);
  expect_failure(first, Code::kCorrupt, {aperio_path_, "level 0", "OpenSlide"});
  const Status later = source->read({256, 0, 256, 256}, buffer.data(), buffer.size(), bip);
  EXPECT_EQ(later.code(), Code::kCorrupt);
  EXPECT_EQ(later.message(), first.message());

  ASSERT_OK_AND_ASSIGN(auto fresh, open_slide_source(aperio_path_));
  auto container = Container::create(path("damaged.tsr"));
  ASSERT_OK(container);
  expect_failure(import_raster(*container, *fresh, ImportOptions{}).status(), Code::kCorrupt,
                 {aperio_path_, "OpenSlide"});
}

}  // namespace
}  // namespace tessera
