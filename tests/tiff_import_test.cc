// tiff_import_test.cc — the TIFF source (tessera/tiff.h) through import_raster and on its own:
// every sample type over a matrix of codecs, tiled and striped, interleaved and planar,
// classic and BigTIFF, both byte orders, with predictors; JPEG (grey, RGB, YCbCr decoded to
// RGB) against libtiff's own decode of the same file; palettes with and without expansion;
// huge strips read row by row and a cache of one tile (through the internal limits); the
// kept tags as attributes, from a file written here and from a GeoTIFF GDAL wrote; layouts
// refused and files damaged, each with its code and a message naming the file; the pages of a
// multi-page file; libtiff never printing anything.
//
// Every TIFF is generated here with libtiff (no fixtures) from random samples with fixed
// seeds, laid out into tiles and strips by this file's own loops; expected samples come from
// those rasters, never from the library's layout code.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <tiffio.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tiff_import.h"
#include "io/tiff_tags.h"
#include "tessera/io.h"
#include "tessera/tessera.h"
#include "tessera/tiff.h"
#include "test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using test::Rng;
using test::TempDirTest;

// ---------------------------------------------------------------------------------------------
// Rasters

// Samples kept band by band, [band][y][x], in the host's (little-endian) byte order.
struct Raster {
  uint32_t width = 0, height = 0, bands = 0;
  DataType type = DataType::kU8;
  size_t sample_bytes = 1;
  std::vector<uint8_t> data;

  uint8_t* at(uint32_t b, uint32_t x, uint32_t y) {
    return data.data() + ((size_t(b) * height + y) * width + x) * sample_bytes;
  }
  const uint8_t* at(uint32_t b, uint32_t x, uint32_t y) const {
    return data.data() + ((size_t(b) * height + y) * width + x) * sample_bytes;
  }
  // Every sample, pixel by pixel ([y][x][band]): what View::read gives in BIP.
  std::vector<uint8_t> bip() const {
    std::vector<uint8_t> out;
    out.reserve(data.size());
    for (uint32_t y = 0; y < height; ++y)
      for (uint32_t x = 0; x < width; ++x)
        for (uint32_t b = 0; b < bands; ++b) out.insert(out.end(), at(b, x, y), at(b, x, y) + sample_bytes);
    return out;
  }
};

Raster random_raster(DataType type, uint32_t width, uint32_t height, uint32_t bands, uint64_t seed) {
  Raster r{width, height, bands, type, test::dtype_bytes(type), {}};
  Rng rng(seed);
  r.data = rng.bytes(size_t(width) * height * bands * r.sample_bytes);
  return r;
}

// Smooth u8 content with a little noise: what JPEG is for.
Raster smooth_raster(uint32_t width, uint32_t height, uint32_t bands, uint64_t seed) {
  Raster r{width, height, bands, DataType::kU8, 1, {}};
  r.data.resize(size_t(width) * height * bands);
  Rng rng(seed);
  for (uint32_t b = 0; b < bands; ++b)
    for (uint32_t y = 0; y < height; ++y)
      for (uint32_t x = 0; x < width; ++x)
        *r.at(b, x, y) = uint8_t(std::clamp<int64_t>(
            40 + int64_t(x) * 2 + int64_t(y) * (b + 1) + 30 * int64_t(b) + rng.uniform(-3, 3), 0, 255));
  return r;
}

// ---------------------------------------------------------------------------------------------
// Writing TIFFs with libtiff

struct TiffSpec {
  bool tiled = true;
  uint32_t tile_width = 32, tile_height = 16;  // tiled
  uint32_t rows_per_strip = 7;                  // striped
  bool planar = false;
  uint16_t compression = COMPRESSION_NONE;
  uint16_t predictor = PREDICTOR_NONE;
  bool bigtiff = false;
  bool big_endian = false;
  bool jpeg_ycbcr = false;  // JPEG of YCbCr 2x2 (libtiff converts the RGB it is given)
};

std::string spec_label(const TiffSpec& s) {
  return std::string(s.tiled ? "tiled" : "striped") + (s.planar ? " separate" : " contig") +
         " compression " + std::to_string(s.compression) + " predictor " +
         std::to_string(s.predictor) + (s.bigtiff ? " bigtiff" : " classic") +
         (s.big_endian ? " big-endian" : " little-endian");
}

uint16_t sample_format_of(DataType type) {
  switch (type) {
    case DataType::kI8: case DataType::kI16: case DataType::kI32: case DataType::kI64:
      return SAMPLEFORMAT_INT;
    case DataType::kF32: case DataType::kF64:
      return SAMPLEFORMAT_IEEEFP;
    default:
      return SAMPLEFORMAT_UINT;
  }
}

// Sets the fields of a directory for `r` written as `s` (colour model from the band count).
void set_layout(TIFF* tif, const Raster& r, const TiffSpec& s) {
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, r.width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, r.height);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(r.bands));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(r.sample_bytes * 8));
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, sample_format_of(r.type));
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, s.planar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, s.compression);
  const bool rgb = r.bands >= 3;
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
               s.jpeg_ycbcr ? PHOTOMETRIC_YCBCR : rgb ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  const uint32_t colour = rgb ? 3 : 1;
  if (r.bands > colour) {
    std::vector<uint16_t> extra(r.bands - colour, EXTRASAMPLE_UNSPECIFIED);
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, uint16_t(extra.size()), extra.data());
  }
  if (s.compression == COMPRESSION_JPEG) {
    TIFFSetField(tif, TIFFTAG_JPEGQUALITY, 90);
    if (s.jpeg_ycbcr) {
      TIFFSetField(tif, TIFFTAG_YCBCRSUBSAMPLING, 2, 2);
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    }
  }
  if (s.compression == COMPRESSION_LZMA) TIFFSetField(tif, TIFFTAG_LZMAPRESET, 1);
  if (s.compression == COMPRESSION_ZSTD) TIFFSetField(tif, TIFFTAG_ZSTD_LEVEL, 1);
  if (s.compression == COMPRESSION_ADOBE_DEFLATE || s.compression == COMPRESSION_DEFLATE)
    TIFFSetField(tif, TIFFTAG_ZIPQUALITY, 1);
  if (s.predictor != PREDICTOR_NONE) TIFFSetField(tif, TIFFTAG_PREDICTOR, s.predictor);
  if (s.tiled) {
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, s.tile_width);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, s.tile_height);
  } else {
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, s.rows_per_strip);
  }
}

// The samples of `r` in the rectangle x0,y0 w x h of band `plane` (planar) or of every band
// (interleaved), lines `line_pixels` wide, zero past the raster's edges.
std::vector<uint8_t> chunk_bytes(const Raster& r, bool planar, uint32_t plane, uint32_t x0,
                                 uint32_t y0, uint32_t w, uint32_t h) {
  const uint32_t samples = planar ? 1 : r.bands;
  std::vector<uint8_t> out(size_t(w) * h * samples * r.sample_bytes, 0);
  for (uint32_t y = 0; y < h && y0 + y < r.height; ++y)
    for (uint32_t x = 0; x < w && x0 + x < r.width; ++x)
      for (uint32_t s = 0; s < samples; ++s)
        std::memcpy(out.data() + ((size_t(y) * w + x) * samples + s) * r.sample_bytes,
                    r.at(planar ? plane : s, x0 + x, y0 + y), r.sample_bytes);
  return out;
}

// Writes the image data of the current directory, chunk by chunk, then the directory.
bool write_chunks(TIFF* tif, const Raster& r, const TiffSpec& s) {
  const uint32_t planes = s.planar ? r.bands : 1;
  const uint32_t cw = s.tiled ? s.tile_width : r.width;
  const uint32_t ch = s.tiled ? s.tile_height : s.rows_per_strip;
  for (uint32_t p = 0; p < planes; ++p)
    for (uint32_t y = 0; y < r.height; y += ch)
      for (uint32_t x = 0; x < r.width; x += cw) {
        const uint32_t rows = s.tiled ? ch : std::min(ch, r.height - y);
        std::vector<uint8_t> chunk = chunk_bytes(r, s.planar, p, x, y, cw, rows);
        const tmsize_t n =
            s.tiled ? TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, uint16_t(p)),
                                           chunk.data(), tmsize_t(chunk.size()))
                    : TIFFWriteEncodedStrip(tif, TIFFComputeStrip(tif, y, uint16_t(p)),
                                            chunk.data(), tmsize_t(chunk.size()));
        if (n < 0) return false;
      }
  return TIFFWriteDirectory(tif) != 0;
}

// libtiff for this file's own writing and reading: its errors fail the test, its warnings
// (such as the one about the legacy Deflate code, written on purpose) are not printed.
int writer_error(TIFF*, void*, const char* module, const char* format, va_list args) {
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  ADD_FAILURE() << "libtiff: " << (module ? module : "") << ": " << text;
  return 1;
}
int writer_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }
TIFF* open_tiff(const std::string& path, const char* mode) {
  TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(options, writer_error, nullptr);
  TIFFOpenOptionsSetWarningHandlerExtR(options, writer_warning, nullptr);
  TIFF* tif = TIFFOpenExt(path.c_str(), mode, options);
  TIFFOpenOptionsFree(options);
  return tif;
}

std::string open_mode(const TiffSpec& s) {
  return std::string("w") + (s.bigtiff ? "8" : "") + (s.big_endian ? "b" : "l");
}

void write_tiff(const std::string& path, const Raster& r, const TiffSpec& s) {
  TIFF* tif = open_tiff(path, open_mode(s).c_str());
  ASSERT_NE(tif, nullptr) << path;
  set_layout(tif, r, s);
  const bool ok = write_chunks(tif, r, s);
  TIFFClose(tif);
  ASSERT_TRUE(ok) << "libtiff could not write " << path << " (" << spec_label(s) << ")";
}

// ---------------------------------------------------------------------------------------------
// Bytes of files, and classic little-endian IFDs read here to damage them on purpose

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}
uint32_t get32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}
uint16_t get16(const std::vector<uint8_t>& b, size_t at) { return uint16_t(b[at] | b[at + 1] << 8); }
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v), b[at + 1] = uint8_t(v >> 8);
}

// Entry `tag` of the first IFD of a classic little-endian TIFF: where its values are (at the
// entry's value field when they fit in 4 bytes, else at the offset stored there) and how
// they are stored (libtiff writes byte counts as SHORT when they fit).
struct IfdEntry {
  size_t values = 0;
  uint16_t type = 0;
  uint32_t count = 0;
  size_t at(uint32_t i) const { return values + size_t(i) * (type == TIFF_SHORT ? 2 : 4); }
  uint32_t get(const std::vector<uint8_t>& b, uint32_t i) const {
    return type == TIFF_SHORT ? get16(b, at(i)) : get32(b, at(i));
  }
  void set(std::vector<uint8_t>& b, uint32_t i, uint32_t v) const {
    if (type == TIFF_SHORT) put16(b, at(i), uint16_t(v));
    else put32(b, at(i), v);
  }
};
IfdEntry ifd_entry(const std::vector<uint8_t>& b, uint16_t tag) {
  const size_t ifd = get32(b, 4);
  const uint16_t entries = get16(b, ifd);
  for (uint16_t i = 0; i < entries; ++i) {
    const size_t e = ifd + 2 + size_t(i) * 12;
    if (get16(b, e) != tag) continue;
    IfdEntry entry;
    entry.type = get16(b, e + 2);
    entry.count = get32(b, e + 4);
    const size_t size = (entry.type == TIFF_SHORT ? 2 : 4) * size_t(entry.count);
    entry.values = size <= 4 ? e + 8 : get32(b, e + 8);
    EXPECT_TRUE(entry.type == TIFF_SHORT || entry.type == TIFF_LONG) << tag;
    EXPECT_LE(entry.values + size, b.size()) << tag;
    return entry;
  }
  ADD_FAILURE() << "no tag " << tag << " in the first IFD";
  return {};
}

// ---------------------------------------------------------------------------------------------
// Importing

OpenOptions fast() {
  OpenOptions options;
  options.sync = false;
  return options;
}

// Import options that cut the page into blocks that straddle its tiles and strips: 16-pixel
// image tiles, the page placed at (5, 3).
ImportOptions straddling(const std::string& image) {
  ImportOptions options;
  options.image = image;
  options.tile_size = 16;
  options.origin_x = 5;
  options.origin_y = 3;
  return options;
}

// What View::read gives back (BIP) for the area a page imported with `straddling` covers.
Result<std::vector<uint8_t>> read_back(const Container& container, const std::string& image,
                                       const RasterShape& shape) {
  auto snap = container.snapshot();
  if (!snap) return snap.status();
  std::vector<uint8_t> out(size_t(shape.width * shape.height) * shape.bands * sample_size(shape.type));
  TESSERA_RETURN_IF_ERROR(snap->read(image, Region{5, 3, shape.width, shape.height}, Selection{},
                                     out.data(), out.size()));
  return out;
}

// Imports page 0 of `path` and returns its samples as read back.
Result<std::vector<uint8_t>> import_and_read(Container& container, const std::string& path,
                                             const std::string& image,
                                             const TiffSourceOptions& options = {}) {
  auto source = open_tiff_source(path, 0, options);
  if (!source) return source.status();
  auto imported = import_raster(container, **source, straddling(image));
  if (!imported) return imported.status();
  return read_back(container, image, (*source)->shape());
}

// Reads every sample of `source` block by block, `block` pixels a side, in BIP.
Result<std::vector<uint8_t>> read_all(RasterSource& source, int64_t block, bool reverse = false) {
  const RasterShape shape = source.shape();
  const size_t sb = sample_size(shape.type), pixel = sb * shape.bands;
  std::vector<uint8_t> out(size_t(shape.width * shape.height) * pixel);
  std::vector<Region> blocks;
  for (int64_t y = 0; y < shape.height; y += block)
    for (int64_t x = 0; x < shape.width; x += block)
      blocks.push_back(Region{x, y, std::min(block, shape.width - x), std::min(block, shape.height - y)});
  if (reverse) std::reverse(blocks.begin(), blocks.end());
  for (const Region& b : blocks) {
    const Strides s{int64_t(pixel), shape.width * int64_t(pixel), int64_t(sb)};
    TESSERA_RETURN_IF_ERROR(source.read(b, out.data() + (b.y * shape.width + b.x) * pixel,
                                        out.size() - size_t((b.y * shape.width + b.x) * pixel), s));
  }
  return out;
}

size_t first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 0;
  return size_t(std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin());
}

#define EXPECT_SAME_SAMPLES(expected, actual, what)                                          \
  EXPECT_TRUE((expected) == (actual))                                                        \
      << (what) << ": " << (expected).size() << " vs " << (actual).size()                    \
      << " bytes, first difference at byte " << first_difference((expected), (actual))

// ---------------------------------------------------------------------------------------------
// Every sample type over the matrix of layouts and codecs

constexpr uint16_t kLosslessCodecs[] = {COMPRESSION_NONE,     COMPRESSION_LZW,  COMPRESSION_ADOBE_DEFLATE,
                                        COMPRESSION_DEFLATE,  COMPRESSION_ZSTD, COMPRESSION_LZMA,
                                        COMPRESSION_PACKBITS};

bool takes_predictor(uint16_t codec) {
  return codec == COMPRESSION_LZW || codec == COMPRESSION_ADOBE_DEFLATE ||
         codec == COMPRESSION_DEFLATE || codec == COMPRESSION_ZSTD || codec == COMPRESSION_LZMA;
}

class TiffImportMatrix : public test::TempDirTestWithParam<DataType> {};

// For one sample type: each of the 16 combinations of tiled, planar, BigTIFF and byte order,
// with the codecs taken in turn (each codec at least twice per type), 1 to 4 bands, a
// predictor where the codec takes one. Imported into blocks that straddle the TIFF's tiles
// and strips, read back sample for sample.
TEST_P(TiffImportMatrix, EveryLayoutAndCodecReadsBackExactly) {
  const DataType type = GetParam();
  const bool floating = type == DataType::kF32 || type == DataType::kF64;
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("m.tsr"), fast()));
  for (uint32_t combo = 0; combo < 16; ++combo) {
    TiffSpec spec;
    spec.tiled = combo & 1;
    spec.planar = combo & 2;
    spec.bigtiff = combo & 4;
    spec.big_endian = combo & 8;
    spec.compression = kLosslessCodecs[(combo + uint32_t(type) * 3) % std::size(kLosslessCodecs)];
    // libtiff before 4.7.1 writes big-endian files with the floating-point predictor wrongly
    // (it swaps the samples before differencing them: its commit f12dfbd4), so those use the
    // horizontal predictor; reading either is libtiff's own, the same for both byte orders.
    if (takes_predictor(spec.compression) && combo % 3 != 0)
      spec.predictor = floating && combo % 3 == 1 && !spec.big_endian ? PREDICTOR_FLOATINGPOINT
                                                                      : PREDICTOR_HORIZONTAL;
    const uint32_t bands = 1 + (combo + uint32_t(type)) % 4;
    const Raster raster = random_raster(type, 70, 45, bands, 100 * uint64_t(type) + combo);
    const std::string file = path("m" + std::to_string(combo) + ".tif");
    write_tiff(file, raster, spec);
    const std::string label = std::string(data_type_name(type)) + " x" + std::to_string(bands) +
                              " " + spec_label(spec);
    ASSERT_OK_AND_ASSIGN(auto source, open_tiff_source(file));
    EXPECT_EQ(source->shape(), (RasterShape{70, 45, bands, type})) << label;
    EXPECT_EQ(source->preferred_interleave(),
              spec.planar && bands > 1 ? Interleave::kBSQ : Interleave::kBIP) << label;
    const std::string image = "c" + std::to_string(combo);
    ASSERT_OK(import_raster(container, *source, straddling(image)));
    ASSERT_OK_AND_ASSIGN(auto samples, read_back(container, image, source->shape()));
    EXPECT_SAME_SAMPLES(raster.bip(), samples, label);
  }
}

INSTANTIATE_TEST_SUITE_P(TiffImportTypes, TiffImportMatrix, ::testing::ValuesIn(test::all_data_types()),
                         [](const ::testing::TestParamInfo<DataType>& info) {
                           return std::string(data_type_name(info.param));
                         });

class TiffImportTest : public TempDirTest {};

// The source answers any block in any strides (BSQ, BIL, BIP and padded strides), whatever
// the page's own layout, as the ENVI source does.
TEST_F(TiffImportTest, SourceReadsAnyStrides) {
  const Raster raster = random_raster(DataType::kU16, 70, 45, 3, 7);
  for (bool planar : {false, true}) {
    TiffSpec spec;
    spec.planar = planar;
    spec.compression = COMPRESSION_ZSTD;
    const std::string file = path(planar ? "p.tif" : "c.tif");
    write_tiff(file, raster, spec);
    ASSERT_OK_AND_ASSIGN(auto source, open_tiff_source(file));
    Rng rng(11);
    for (int i = 0; i < 40; ++i) {
      const int64_t w = rng.uniform(1, 70), h = rng.uniform(1, 45);
      const Region block{rng.uniform(0, 70 - w), rng.uniform(0, 45 - h), w, h};
      Strides s = test::packed_strides(Interleave(i % 3), w, h, 3, 2);
      if (i % 4 == 3) s = Strides{8, w * 8 + 6, 2};  // a pixel of 4 samples, padded lines
      const size_t size = test::layout_bytes(s, w, h, 3, 2);
      std::vector<uint8_t> got(size, 0xA5), expected(size, 0xA5);
      for (uint32_t b = 0; b < 3; ++b)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x)
            std::memcpy(expected.data() + test::sample_offset(s, x, y, b),
                        raster.at(b, uint32_t(block.x + x), uint32_t(block.y + y)), 2);
      ASSERT_OK(source->read(block, got.data(), got.size(), s));
      EXPECT_SAME_SAMPLES(expected, got, (planar ? "planar " : "contig ") + to_string(block) +
                                             " " + test::strides_label(s));
    }
    // Outside the page, or a buffer too small: kInvalidArgument naming the file.
    std::vector<uint8_t> small(16);
    EXPECT_CODE(source->read(Region{60, 40, 11, 5}, small.data(), 1 << 20, Strides{6, 66, 2}),
                Code::kInvalidArgument);
    const Status too_small = source->read(Region{0, 0, 4, 4}, small.data(), small.size(),
                                          test::packed_strides(Interleave::kBIP, 4, 4, 3, 2));
    EXPECT_EQ(too_small.code(), Code::kInvalidArgument);
    EXPECT_NE(too_small.message().find(file), std::string::npos) << too_small.message();
  }
}

// description(), identity() and image_name() as tessera/tiff.h says; the same text every
// time the page is opened (a resume compares them).
TEST_F(TiffImportTest, DescribesItselfStably) {
  const Raster raster = random_raster(DataType::kU8, 70, 45, 3, 8);
  const std::string file = path("scan.tiff");
  TiffSpec tiled;
  tiled.tile_width = tiled.tile_height = 16;
  tiled.compression = COMPRESSION_LZW;
  TIFF* tif = open_tiff(file, "w8");
  ASSERT_NE(tif, nullptr);
  set_layout(tif, raster, tiled);
  ASSERT_TRUE(write_chunks(tif, raster, tiled));
  TiffSpec striped;
  striped.tiled = false;
  striped.planar = true;
  striped.rows_per_strip = 5;
  set_layout(tif, raster, striped);
  ASSERT_TRUE(write_chunks(tif, raster, striped));
  TIFFClose(tif);

  ASSERT_OK_AND_ASSIGN(auto page0, open_tiff_source(file, 0));
  ASSERT_OK_AND_ASSIGN(auto page1, open_tiff_source(file, 1));
  EXPECT_EQ(page0->description(), "TIFF page 0 70x45x3 u8 tiled 16x16 contig lzw");
  EXPECT_EQ(page1->description(), "TIFF page 1 70x45x3 u8 striped 5 rows separate none");
  ASSERT_OK_AND_ASSIGN(auto again, open_tiff_source(file, 1));
  EXPECT_EQ(again->description(), page1->description());
  EXPECT_EQ(page0->image_name(), "scan");
  EXPECT_EQ(page1->image_name(), "scan-p1");
  EXPECT_EQ(page0->name(), file);
  const SourceIdentity id = page1->identity();
  EXPECT_EQ(id.path, fs::absolute(file).lexically_normal().string());
  EXPECT_EQ(id.size, fs::file_size(file));
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(id.mtime_ns, int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  EXPECT_EQ(page1->preferred_interleave(), Interleave::kBSQ);

  // Both pages import, the second as "scan-p1" by default.
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("d.tsr"), fast()));
  ImportOptions options;
  options.tile_size = 16;
  ASSERT_OK(import_raster(container, *page1, options));
  ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
  ASSERT_OK_AND_ASSIGN(auto imports, snap.imports("scan-p1"));
  ASSERT_EQ(imports.size(), 1u);
  EXPECT_EQ(imports[0].description, page1->description());
  std::vector<uint8_t> back(raster.data.size());
  ASSERT_OK(snap.read("scan-p1", Region{0, 0, 70, 45}, Selection{}, back.data(), back.size()));
  EXPECT_SAME_SAMPLES(raster.bip(), back, "page 1");
}

// ---------------------------------------------------------------------------------------------
// JPEG

// The page decoded by libtiff in a plain loop of its own (RGB from YCbCr), chunk by chunk,
// assembled into BIP: what the source must give, sample for sample.
std::vector<uint8_t> libtiff_decode(const std::string& path, const TiffSpec& s) {
  TIFF* tif = open_tiff(path, "r");
  EXPECT_NE(tif, nullptr);
  if (!tif) return {};
  uint32_t width = 0, height = 0;
  uint16_t bands = 0;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height);
  TIFFGetField(tif, TIFFTAG_SAMPLESPERPIXEL, &bands);
  if (s.jpeg_ycbcr) TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  std::vector<uint8_t> out(size_t(width) * height * bands);
  const uint32_t planes = s.planar ? bands : 1, per = s.planar ? 1 : bands;
  const uint32_t cw = s.tiled ? s.tile_width : width, ch = s.tiled ? s.tile_height : s.rows_per_strip;
  std::vector<uint8_t> chunk(size_t(cw) * ch * per);
  for (uint32_t p = 0; p < planes; ++p)
    for (uint32_t y0 = 0; y0 < height; y0 += ch)
      for (uint32_t x0 = 0; x0 < width; x0 += cw) {
        const tmsize_t n = s.tiled
            ? TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x0, y0, 0, uint16_t(p)), chunk.data(), -1)
            : TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y0, uint16_t(p)), chunk.data(), -1);
        EXPECT_GT(n, 0);
        for (uint32_t y = y0; y < std::min(height, y0 + ch); ++y)
          for (uint32_t x = x0; x < std::min(width, x0 + cw); ++x)
            for (uint32_t b = 0; b < per; ++b)
              out[(size_t(y) * width + x) * bands + (s.planar ? p : b)] =
                  chunk[((size_t(y - y0) * cw) + (x - x0)) * per + b];
      }
  TIFFClose(tif);
  return out;
}

// Grey, RGB interleaved and planar, YCbCr 2x2 (decoded to RGB), tiled and striped: equal to
// libtiff's own decode of the file, and close to what was written (JPEG is lossy).
TEST_F(TiffImportTest, JpegMatchesLibtiffsDecode) {
  struct Case {
    uint32_t bands;
    bool tiled, planar, ycbcr;
  };
  const Case cases[] = {{1, true, false, false}, {3, false, false, false}, {3, true, true, false},
                        {3, true, false, true},  {3, false, false, true}};
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("j.tsr"), fast()));
  int n = 0;
  for (const Case& c : cases) {
    const Raster raster = smooth_raster(70, 45, c.bands, 20 + uint64_t(n));
    TiffSpec spec;
    spec.compression = COMPRESSION_JPEG;
    spec.tiled = c.tiled;
    spec.planar = c.planar;
    spec.jpeg_ycbcr = c.ycbcr;
    spec.rows_per_strip = 16;  // a multiple of 8 times the vertical subsampling
    const std::string file = path("j" + std::to_string(n) + ".tif"), image = "j" + std::to_string(n);
    write_tiff(file, raster, spec);
    ASSERT_OK_AND_ASSIGN(auto samples, import_and_read(container, file, image));
    const std::vector<uint8_t> reference = libtiff_decode(file, spec);
    EXPECT_SAME_SAMPLES(reference, samples, spec_label(spec) + (c.ycbcr ? " ycbcr" : ""));
    const std::vector<uint8_t> written = raster.bip();
    ASSERT_EQ(written.size(), samples.size());
    double error = 0;
    for (size_t i = 0; i < written.size(); ++i) error += std::abs(int(written[i]) - int(samples[i]));
    EXPECT_LT(error / double(written.size()), 6.0) << spec_label(spec) << (c.ycbcr ? " ycbcr" : "");
    ASSERT_OK_AND_ASSIGN(auto source, open_tiff_source(file));
    EXPECT_EQ(source->shape(), (RasterShape{70, 45, c.bands, DataType::kU8}));
    EXPECT_NE(source->description().find(" jpeg"), std::string::npos) << source->description();
    ++n;
  }
}

// ---------------------------------------------------------------------------------------------
// Palettes

void write_palette(const std::string& path, const Raster& indexes, const std::vector<uint16_t>& map) {
  TIFF* tif = open_tiff(path, "w");
  ASSERT_NE(tif, nullptr);
  TiffSpec spec;
  spec.tiled = false;
  spec.compression = COMPRESSION_PACKBITS;
  set_layout(tif, indexes, spec);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_PALETTE);
  const size_t entries = map.size() / 3;
  TIFFSetField(tif, TIFFTAG_COLORMAP, map.data(), map.data() + entries, map.data() + 2 * entries);
  ASSERT_TRUE(write_chunks(tif, indexes, spec));
  TIFFClose(tif);
}

// Without expand_palette a palette page is refused, saying how to import it; with it, each
// pixel reads as the colour map's red, green and blue (u16), for 8- and 16-bit indexes.
TEST_F(TiffImportTest, PaletteIsRefusedOrExpanded) {
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("p.tsr"), fast()));
  for (DataType type : {DataType::kU8, DataType::kU16}) {
    const Raster indexes = random_raster(type, 70, 45, 1, 30 + uint64_t(type));
    const size_t entries = size_t(1) << (8 * indexes.sample_bytes);
    Rng rng(31);
    std::vector<uint16_t> map(3 * entries);
    for (uint16_t& v : map) v = uint16_t(rng.bits());
    const std::string file = path("palette" + std::to_string(entries) + ".tif");
    write_palette(file, indexes, map);

    auto refused = open_tiff_source(file);
    EXPECT_CODE(refused, Code::kUnsupported);
    EXPECT_EQ(refused.status().message(), file + ": page 0: a palette image: import with --expand-palette");

    TiffSourceOptions expand;
    expand.expand_palette = true;
    ASSERT_OK_AND_ASSIGN(auto samples, import_and_read(container, file, "pal" + std::to_string(entries), expand));
    std::vector<uint8_t> expected;
    for (uint32_t y = 0; y < 45; ++y)
      for (uint32_t x = 0; x < 70; ++x) {
        size_t index = *indexes.at(0, x, y);
        if (type == DataType::kU16) {
          uint16_t v;
          std::memcpy(&v, indexes.at(0, x, y), 2);
          index = v;
        }
        for (size_t b = 0; b < 3; ++b) {
          const uint16_t v = map[b * entries + index];
          expected.push_back(uint8_t(v)), expected.push_back(uint8_t(v >> 8));
        }
      }
    EXPECT_SAME_SAMPLES(expected, samples, "palette of " + std::to_string(entries));
    ASSERT_OK_AND_ASSIGN(auto source, open_tiff_source(file, 0, expand));
    EXPECT_EQ(source->shape(), (RasterShape{70, 45, 3, DataType::kU16}));
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming: huge strips row by row, and a cache smaller than a row of tiles

// A page of one strip (RowsPerStrip = height, compressed with a predictor) read with limits
// that make it "huge": row by row into a window of a few rows, interleaved and planar, in
// the importer's order and backwards (each block before the last restarts the strip). A tiled
// page read through a cache of a single tile, likewise. The samples are the same as written.
TEST_F(TiffImportTest, HugeStripsStreamRowByRow) {
  const Raster raster = random_raster(DataType::kU16, 70, 45, 3, 40);
  io_detail::TiffReadLimits limits;
  limits.max_strip_bytes = 1000;          // every strip here is larger
  limits.cache_bytes = 70 * 3 * 2 * 6;    // six rows of every plane
  for (bool planar : {false, true}) {
    TiffSpec spec;
    spec.tiled = false;
    spec.planar = planar;
    spec.rows_per_strip = 45;
    spec.compression = COMPRESSION_ADOBE_DEFLATE;
    spec.predictor = PREDICTOR_HORIZONTAL;
    const std::string file = path(planar ? "strip_p.tif" : "strip_c.tif");
    write_tiff(file, raster, spec);
    ASSERT_OK_AND_ASSIGN(auto bytes, io_detail::TiffBytes::open_file(file));
    ASSERT_OK_AND_ASSIGN(auto source, io_detail::open_tiff_source(bytes, 0, {}, limits));
    for (bool reverse : {false, true}) {
      ASSERT_OK_AND_ASSIGN(auto samples, read_all(*source, 16, reverse));
      EXPECT_SAME_SAMPLES(raster.bip(), samples, spec_label(spec) + (reverse ? " backwards" : ""));
    }
  }
  // JPEG YCbCr read row by row equals its decode strip by strip.
  const Raster smooth = smooth_raster(70, 45, 3, 41);
  TiffSpec jpeg;
  jpeg.tiled = false;
  jpeg.rows_per_strip = 48;
  jpeg.compression = COMPRESSION_JPEG;
  jpeg.jpeg_ycbcr = true;
  const std::string file = path("strip_j.tif");
  write_tiff(file, smooth, jpeg);
  ASSERT_OK_AND_ASSIGN(auto bytes, io_detail::TiffBytes::open_file(file));
  ASSERT_OK_AND_ASSIGN(auto rows, io_detail::open_tiff_source(bytes, 0, {}, limits));
  ASSERT_OK_AND_ASSIGN(auto by_rows, read_all(*rows, 16));
  EXPECT_SAME_SAMPLES(libtiff_decode(file, jpeg), by_rows, "jpeg row by row");

  // Tiles through a cache of one.
  TiffSpec tiled;
  tiled.compression = COMPRESSION_LZW;
  tiled.planar = true;
  const std::string tiles = path("tiles.tif");
  write_tiff(tiles, raster, tiled);
  io_detail::TiffReadLimits one_tile;
  one_tile.cache_bytes = 1;
  ASSERT_OK_AND_ASSIGN(auto tile_bytes, io_detail::TiffBytes::open_file(tiles));
  ASSERT_OK_AND_ASSIGN(auto tile_source, io_detail::open_tiff_source(tile_bytes, 0, {}, one_tile));
  for (bool reverse : {false, true}) {
    ASSERT_OK_AND_ASSIGN(auto samples, read_all(*tile_source, 23, reverse));
    EXPECT_SAME_SAMPLES(raster.bip(), samples, std::string("one-tile cache") + (reverse ? " backwards" : ""));
  }
}

// ---------------------------------------------------------------------------------------------
// Attributes

// The page's kept tags are its attributes, with the values written, nothing shifted; tags
// the page lacks are absent.
TEST_F(TiffImportTest, KeptTagsBecomeAttributes) {
  io_detail::register_tiff_tags();  // for libtiff to write the GeoTIFF and GDAL tags by name
  const Raster raster = random_raster(DataType::kI16, 70, 45, 1, 50);
  const std::string file = path("tags.tif");
  TIFF* tif = open_tiff(file, "w");
  ASSERT_NE(tif, nullptr);
  TiffSpec spec;
  set_layout(tif, raster, spec);
  const std::vector<std::pair<uint32_t, std::string>> texts = {
      {TIFFTAG_DOCUMENTNAME, "a document"}, {TIFFTAG_IMAGEDESCRIPTION, "a description\nof two lines"},
      {TIFFTAG_MAKE, "Maker"},             {TIFFTAG_MODEL, "Model 9"},
      {TIFFTAG_PAGENAME, "first page"},     {TIFFTAG_SOFTWARE, "tessera tests"},
      {TIFFTAG_DATETIME, "2024:01:02 03:04:05"}, {TIFFTAG_ARTIST, "An Artist"},
      {TIFFTAG_HOSTCOMPUTER, "host"},       {TIFFTAG_COPYRIGHT, "(c) nobody"},
      {34737, "WGS 84|"},                   {42112, "<GDALMetadata><Item name=\"k\">v</Item></GDALMetadata>"},
      {42113, "-9999"}};
  for (const auto& [tag, text] : texts) ASSERT_TRUE(TIFFSetField(tif, tag, text.c_str())) << tag;
  TIFFSetField(tif, TIFFTAG_XRESOLUTION, 300.5);
  TIFFSetField(tif, TIFFTAG_YRESOLUTION, 150.25);
  TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, uint16_t(RESUNIT_CENTIMETER));
  TIFFSetField(tif, TIFFTAG_XPOSITION, 1.5);
  TIFFSetField(tif, TIFFTAG_YPOSITION, 2.75);
  const std::vector<double> scale = {0.5, 0.25, 0};
  const std::vector<double> tiepoint = {0, 0, 0, 440720.5, 3751320.25, 0};
  std::vector<double> transformation(16);
  for (size_t i = 0; i < 16; ++i) transformation[i] = double(i) * 1.125 - 3;
  const std::vector<uint16_t> geokeys = {1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32611};
  const std::vector<double> geodoubles = {6378137.0, 298.257223563};
  ASSERT_TRUE(TIFFSetField(tif, 33550, uint16_t(scale.size()), scale.data()));
  ASSERT_TRUE(TIFFSetField(tif, 33922, uint16_t(tiepoint.size()), tiepoint.data()));
  ASSERT_TRUE(TIFFSetField(tif, 34264, uint16_t(transformation.size()), transformation.data()));
  ASSERT_TRUE(TIFFSetField(tif, 34735, uint16_t(geokeys.size()), geokeys.data()));
  ASSERT_TRUE(TIFFSetField(tif, 34736, uint16_t(geodoubles.size()), geodoubles.data()));
  ASSERT_TRUE(write_chunks(tif, raster, spec));
  TIFFClose(tif);

  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("a.tsr"), fast()));
  ASSERT_OK(import_and_read(container, file, "tags"));
  ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
  ASSERT_OK_AND_ASSIGN(Attributes got, snap.attributes("tags"));
  Attributes expected;
  const auto add = [&](const char* name, AttributeValue v) { set_attribute(expected, std::string("tiff.") + name, std::move(v)); };
  const char* text_names[] = {"DocumentName", "ImageDescription", "Make", "Model", "PageName",
                              "Software", "DateTime", "Artist", "HostComputer", "Copyright",
                              "GeoAsciiParams", "GDAL_METADATA", "GDAL_NODATA"};
  for (size_t i = 0; i < texts.size(); ++i) add(text_names[i], texts[i].second);
  add("XResolution", 300.5);
  add("YResolution", 150.25);
  add("ResolutionUnit", int64_t(3));
  add("XPosition", 1.5);
  add("YPosition", 2.75);
  add("ModelPixelScale", scale);
  add("ModelTiepoint", tiepoint);
  add("ModelTransformation", transformation);
  add("GeoKeyDirectory", std::vector<int64_t>(geokeys.begin(), geokeys.end()));
  add("GeoDoubleParams", geodoubles);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, expected[i].name);
    EXPECT_TRUE(got[i].value == expected[i].value)
        << got[i].name << " = " << format_attribute_value(got[i].value) << ", expected "
        << format_attribute_value(expected[i].value);
  }

  // A page without any of them has none.
  const std::string plain = path("plain.tif");
  write_tiff(plain, raster, spec);
  ASSERT_OK_AND_ASSIGN(auto source, open_tiff_source(plain));
  EXPECT_TRUE(source->attributes().empty()) << source->attributes().front().name;
}

// A GeoTIFF GDAL wrote (geotransform, projection, no-data, metadata): the GeoTIFF and GDAL
// tags as attributes equal to what libtiff reads from the file in a loop of this test's own,
// the samples as GDAL was given them.
TEST_F(TiffImportTest, GdalGeoTiffKeepsItsGeoreferencing) {
  const std::string file = path("geo.tif");
  const std::string script =
      "import sys, numpy as np\n"
      "from osgeo import gdal, osr\n"
      "gdal.UseExceptions()\n"
      "ds = gdal.GetDriverByName('GTiff').Create(sys.argv[1], 40, 30, 2, gdal.GDT_Int16,\n"
      "    options=['TILED=YES', 'BLOCKXSIZE=16', 'BLOCKYSIZE=16', 'COMPRESS=DEFLATE'])\n"
      "ds.SetGeoTransform((440720.0, 60.0, 0.0, 3751320.0, 0.0, -60.0))\n"
      "srs = osr.SpatialReference(); srs.ImportFromEPSG(32611)\n"
      "ds.SetProjection(srs.ExportToWkt())\n"
      "ds.SetMetadataItem('TESSERA_TEST', 'yes')\n"
      "y, x = np.mgrid[0:30, 0:40]\n"
      "for b in range(2):\n"
      "    band = ds.GetRasterBand(b + 1)\n"
      "    band.SetNoDataValue(-9999)\n"
      "    band.WriteArray((x * 7 + y * 3 + b * 100 - 50).astype(np.int16))\n"
      "ds = None\n";
  const std::string script_path = path("make_geotiff.py");
  std::ofstream(script_path) << script;
  // Debian's interpreter, which python3-gdal installs into (a python3 earlier on PATH, such as
  // pyenv's, may lack it).
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script_path + " " + file).c_str()), 0);

  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("g.tsr"), fast()));
  ASSERT_OK_AND_ASSIGN(auto samples, import_and_read(container, file, "geo"));
  for (uint32_t y = 0; y < 30; ++y)
    for (uint32_t x = 0; x < 40; ++x)
      for (uint32_t b = 0; b < 2; ++b) {
        int16_t v;
        std::memcpy(&v, samples.data() + ((size_t(y) * 40 + x) * 2 + b) * 2, 2);
        ASSERT_EQ(v, int16_t(x * 7 + y * 3 + b * 100 - 50)) << x << "," << y << " band " << b;
      }
  ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
  ASSERT_OK_AND_ASSIGN(Attributes got, snap.attributes("geo"));

  // libtiff's view of the same tags (the GeoTIFF fields are known to libtiff once the library
  // registered them).
  TIFF* tif = open_tiff(file, "r");
  ASSERT_NE(tif, nullptr);
  const auto doubles = [&](uint32_t tag) {
    uint16_t n = 0;
    const double* v = nullptr;
    EXPECT_TRUE(TIFFGetField(tif, tag, &n, &v)) << tag;
    return v ? std::vector<double>(v, v + n) : std::vector<double>{};
  };
  const auto text = [&](uint32_t tag) {
    const char* v = nullptr;
    EXPECT_TRUE(TIFFGetField(tif, tag, &v)) << tag;
    return v ? std::string(v) : std::string();
  };
  uint16_t nkeys = 0;
  const uint16_t* keys = nullptr;
  ASSERT_TRUE(TIFFGetField(tif, 34735, &nkeys, &keys));
  const std::vector<int64_t> geokeys(keys, keys + nkeys);
  const std::vector<double> tiepoint = doubles(33922), scale = doubles(33550);
  const std::string ascii = text(34737), nodata = text(42113), metadata = text(42112);
  TIFFClose(tif);

  const auto value = [&](const char* name) -> AttributeValue {
    const AttributeValue* v = find_attribute(got, std::string("tiff.") + name);
    EXPECT_NE(v, nullptr) << name;
    return v ? *v : AttributeValue();
  };
  EXPECT_TRUE(value("ModelTiepoint") == AttributeValue(tiepoint));
  EXPECT_TRUE(value("ModelPixelScale") == AttributeValue(scale));
  EXPECT_TRUE(value("GeoKeyDirectory") == AttributeValue(geokeys));
  EXPECT_TRUE(value("GeoAsciiParams") == AttributeValue(ascii));
  EXPECT_TRUE(value("GDAL_NODATA") == AttributeValue(nodata));
  EXPECT_TRUE(value("GDAL_METADATA") == AttributeValue(metadata));
  // And they say what GDAL was told.
  EXPECT_EQ(tiepoint, (std::vector<double>{0, 0, 0, 440720, 3751320, 0}));
  EXPECT_EQ(scale, (std::vector<double>{60, 60, 0}));
  EXPECT_EQ(nodata, "-9999");
  EXPECT_NE(metadata.find("TESSERA_TEST"), std::string::npos) << metadata;
  EXPECT_NE(std::find(geokeys.begin(), geokeys.end(), 32611), geokeys.end());
}

// ---------------------------------------------------------------------------------------------
// Pages

// Three pages: a tiled RGB page with a SubIFD, a reduced-resolution striped page and a 1-bit
// mask, listed in order with what the CLI needs to pick and skip pages.
TEST_F(TiffImportTest, ListsPagesWithTheirKinds) {
  const std::string file = path("pages.tif");
  const Raster full = random_raster(DataType::kU8, 70, 45, 3, 60);
  const Raster half = random_raster(DataType::kU8, 35, 23, 3, 61);
  TIFF* tif = open_tiff(file, "w");
  ASSERT_NE(tif, nullptr);
  TiffSpec tiled;
  tiled.compression = COMPRESSION_ZSTD;
  set_layout(tif, full, tiled);
  uint64_t subifd = 0;
  TIFFSetField(tif, TIFFTAG_SUBIFD, uint16_t(1), &subifd);
  ASSERT_TRUE(write_chunks(tif, full, tiled));
  TiffSpec striped;
  striped.tiled = false;
  striped.compression = COMPRESSION_LZW;
  set_layout(tif, half, striped);  // the SubIFD
  TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
  ASSERT_TRUE(write_chunks(tif, half, striped));
  set_layout(tif, half, striped);  // page 1
  TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
  ASSERT_TRUE(write_chunks(tif, half, striped));
  // Page 2: a transparency mask, one bit per pixel.
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 70u);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 45u);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(1));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(1));
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MASK);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_PACKBITS);
  TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_MASK);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 45u);
  std::vector<uint8_t> bits(9 * 45, 0xF0);
  ASSERT_GE(TIFFWriteEncodedStrip(tif, 0, bits.data(), tmsize_t(bits.size())), 0);
  ASSERT_TRUE(TIFFWriteDirectory(tif));
  TIFFClose(tif);

  ASSERT_OK_AND_ASSIGN(std::vector<TiffPage> pages, list_tiff_pages(file));
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].index, 0u);
  EXPECT_EQ(pages[0].shape, (RasterShape{70, 45, 3, DataType::kU8}));
  EXPECT_TRUE(pages[0].tiled);
  EXPECT_FALSE(pages[0].reduced || pages[0].mask);
  EXPECT_EQ(pages[0].subifds, 1u);
  EXPECT_EQ(pages[0].compression, "zstd");
  EXPECT_EQ(pages[0].unsupported, "");
  EXPECT_EQ(pages[1].index, 1u);
  EXPECT_EQ(pages[1].shape, (RasterShape{35, 23, 3, DataType::kU8}));
  EXPECT_FALSE(pages[1].tiled);
  EXPECT_TRUE(pages[1].reduced);
  EXPECT_FALSE(pages[1].mask);
  EXPECT_EQ(pages[1].subifds, 0u);
  EXPECT_EQ(pages[1].compression, "lzw");
  EXPECT_EQ(pages[1].unsupported, "");
  EXPECT_EQ(pages[2].index, 2u);
  EXPECT_TRUE(pages[2].mask);
  EXPECT_FALSE(pages[2].reduced);
  EXPECT_EQ(pages[2].compression, "packbits");
  EXPECT_EQ(pages[2].unsupported, "1-bit samples (a bilevel image) are not supported");

  // The reduced page imports as "pages-p1"; the mask is refused, naming the file and page;
  // there is no page 3.
  ASSERT_OK_AND_ASSIGN(auto reduced, open_tiff_source(file, 1));
  EXPECT_EQ(reduced->image_name(), "pages-p1");
  ASSERT_OK_AND_ASSIGN(auto samples, read_all(*reduced, 16));
  EXPECT_SAME_SAMPLES(half.bip(), samples, "page 1");
  auto mask = open_tiff_source(file, 2);
  EXPECT_CODE(mask, Code::kUnsupported);
  EXPECT_EQ(mask.status().message(), file + ": page 2: 1-bit samples (a bilevel image) are not supported");
  auto missing = open_tiff_source(file, 3);
  EXPECT_CODE(missing, Code::kNotFound);
  EXPECT_EQ(missing.status().message(), file + ": page 3 does not exist: the file has 3 pages");
}

// ---------------------------------------------------------------------------------------------
// Refusals and damage

// Writes a striped uncompressed page of `bits`-bit samples from raw bytes (libtiff packs
// nothing: the bytes are the strip).
void write_raw_page(const std::string& path, uint32_t width, uint32_t height, uint16_t samples,
                    uint16_t bits, uint16_t photometric, const std::vector<std::pair<uint32_t, uint16_t>>& extra = {}) {
  TIFF* tif = open_tiff(path, "w");
  ASSERT_NE(tif, nullptr);
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, samples);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, photometric);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, height);
  for (const auto& [tag, value] : extra) TIFFSetField(tif, tag, value);
  if (photometric == PHOTOMETRIC_YCBCR) TIFFSetField(tif, TIFFTAG_YCBCRSUBSAMPLING, 2, 2);
  std::vector<uint8_t> strip(size_t(TIFFStripSize64(tif)), 0x5A);
  ASSERT_GE(TIFFWriteEncodedStrip(tif, 0, strip.data(), tmsize_t(strip.size())), 0);
  ASSERT_TRUE(TIFFWriteDirectory(tif));
  TIFFClose(tif);
}

struct Refusal {
  Code code;
  std::string message;  // what the message must say after "FILE: "
};

// What open_tiff_source of `path` says, and what list_tiff_pages says of its page 0, checking
// that libtiff printed nothing.
Refusal refusal_of(const std::string& path, std::string* listed = nullptr) {
  ::testing::internal::CaptureStderr();
  auto source = open_tiff_source(path);
  auto pages = list_tiff_pages(path);
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "") << path;
  if (listed) *listed = pages && !pages->empty() ? (*pages)[0].unsupported : pages.status().message();
  if (source) return {Code::kOk, ""};
  const std::string& m = source.status().message();
  EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << m;
  return {source.status().code(), m.substr(std::min(m.size(), path.size() + 2))};
}

// Layouts Tessera does not read are refused at once with kUnsupported saying what, and
// listed with the same reason.
TEST_F(TiffImportTest, UnsupportedLayoutsAreRefusedAtOpen) {
  struct Case {
    const char* name;
    uint16_t samples, bits, photometric;
    std::vector<std::pair<uint32_t, uint16_t>> extra;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"twelve", 1, 12, PHOTOMETRIC_MINISBLACK, {}, "12-bit samples are not supported"},
      {"bilevel", 1, 1, PHOTOMETRIC_MINISWHITE, {}, "1-bit samples (a bilevel image) are not supported"},
      {"four", 3, 4, PHOTOMETRIC_RGB, {}, "4-bit samples are not supported"},
      {"half", 1, 16, PHOTOMETRIC_MINISBLACK, {{TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP}},
       "16-bit floating-point samples are not supported"},
      {"complex", 1, 32, PHOTOMETRIC_MINISBLACK, {{TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_COMPLEXINT}},
       "complex samples are not supported"},
      {"ycbcr", 3, 8, PHOTOMETRIC_YCBCR, {},
       "YCbCr subsampled 2x2 is supported only in JPEG-compressed pages of 3 interleaved samples"},
  };
  for (const Case& c : cases) {
    const std::string file = path(std::string(c.name) + ".tif");
    write_raw_page(file, 70, 45, c.samples, c.bits, c.photometric, c.extra);
    std::string listed;
    const Refusal r = refusal_of(file, &listed);
    EXPECT_EQ(r.code, Code::kUnsupported) << c.name << ": " << r.message;
    EXPECT_EQ(r.message, "page 0: " + c.reason) << c.name;
    EXPECT_EQ(listed, c.reason) << c.name;
  }

  // Samples of different depths (libtiff refuses the directory), and old-style JPEG: patched
  // into files libtiff wrote.
  const Raster rgb = random_raster(DataType::kU8, 70, 45, 3, 70);
  TiffSpec spec;
  spec.tiled = false;
  const std::string mixed = path("mixed.tif");
  write_tiff(mixed, rgb, spec);
  std::vector<uint8_t> bytes = read_bytes(mixed);
  ifd_entry(bytes, TIFFTAG_BITSPERSAMPLE).set(bytes, 1, 16);
  write_bytes(mixed, bytes);
  std::string listed;
  Refusal r = refusal_of(mixed, &listed);
  EXPECT_EQ(r.code, Code::kUnsupported) << r.message;
  EXPECT_EQ(r.message, "page 0: mixed bit depths (BitsPerSample differs between samples) are not supported");
  EXPECT_EQ(listed, "mixed bit depths (BitsPerSample differs between samples) are not supported");

  const std::string ojpeg = path("ojpeg.tif");
  write_tiff(ojpeg, rgb, spec);
  bytes = read_bytes(ojpeg);
  ifd_entry(bytes, TIFFTAG_COMPRESSION).set(bytes, 0, COMPRESSION_OJPEG);
  write_bytes(ojpeg, bytes);
  r = refusal_of(ojpeg, &listed);
  EXPECT_EQ(r.code, Code::kUnsupported) << r.message;
  EXPECT_EQ(r.message, "page 0: old-style JPEG compression (6) is not supported");
}

// Damaged files: kCorrupt naming the file (and the page and tile where one is at fault); a
// file that is no TIFF at all is kInvalidArgument. A damaged tile fails every read of it,
// never giving pixels, and libtiff prints nothing.
TEST_F(TiffImportTest, DamageIsCorruptAndNamed) {
  const Raster raster = random_raster(DataType::kU8, 70, 45, 3, 80);
  TiffSpec spec;
  spec.compression = COMPRESSION_ADOBE_DEFLATE;
  const std::string good = path("good.tif");
  write_tiff(good, raster, spec);
  const std::vector<uint8_t> original = read_bytes(good);

  // Truncated: libtiff writes the directory last, so it is gone.
  const std::string truncated = path("truncated.tif");
  write_bytes(truncated, std::vector<uint8_t>(original.begin(), original.begin() + original.size() / 2));
  std::string listed;
  Refusal r = refusal_of(truncated, &listed);
  EXPECT_EQ(r.code, Code::kCorrupt) << r.message;
  EXPECT_EQ(r.message.rfind("page 0: libtiff cannot read the page's directory: ", 0), 0u) << r.message;
  EXPECT_EQ(listed.rfind(truncated + ": page 0: ", 0), 0u) << listed;

  // The first IFD offset past the end.
  std::vector<uint8_t> bytes = original;
  put32(bytes, 4, 0x7FFFFFF0);
  const std::string broken = path("broken_ifd.tif");
  write_bytes(broken, bytes);
  r = refusal_of(broken, &listed);
  EXPECT_EQ(r.code, Code::kCorrupt) << r.message;
  EXPECT_CODE(list_tiff_pages(broken), Code::kCorrupt);

  // Not a TIFF.
  const std::string text = path("text.tif");
  write_bytes(text, std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o', '\n'});
  r = refusal_of(text, &listed);
  EXPECT_EQ(r.code, Code::kInvalidArgument);
  EXPECT_EQ(r.message, "not a TIFF file (no TIFF or BigTIFF signature)");
  EXPECT_FALSE(looks_like_tiff(text));
  EXPECT_TRUE(looks_like_tiff(good));

  // Tile 4 past the end of the file, tile 5 garbage: the page opens, the tiles fail to read,
  // the import fails naming them and commits nothing of the failing batch.
  bytes = original;
  const IfdEntry offsets = ifd_entry(bytes, TIFFTAG_TILEOFFSETS);
  const IfdEntry counts = ifd_entry(bytes, TIFFTAG_TILEBYTECOUNTS);
  ASSERT_EQ(offsets.count, 9u);
  offsets.set(bytes, 4, uint32_t(bytes.size() + 4096));
  const uint32_t at5 = offsets.get(bytes, 5), size5 = counts.get(bytes, 5);
  ASSERT_LE(size_t(at5) + size5, bytes.size());
  for (uint32_t i = 0; i < size5; ++i) bytes[at5 + i] = uint8_t(0xFF - i);
  const std::string damaged = path("damaged.tif");
  write_bytes(damaged, bytes);
  ::testing::internal::CaptureStderr();
  ASSERT_OK_AND_ASSIGN(auto source, open_tiff_source(damaged));
  std::vector<uint8_t> block(32 * 16 * 3, 0xA5);
  const Strides s = test::packed_strides(Interleave::kBIP, 32, 16, 3, 1);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const Status past_end = source->read(Region{32, 16, 32, 16}, block.data(), block.size(), s);
    EXPECT_EQ(past_end.code(), Code::kCorrupt) << past_end.to_string();
    EXPECT_EQ(past_end.message().rfind(damaged + ": page 0 tile 4 (x 32, y 16): cannot decode (deflate): ", 0), 0u)
        << past_end.message();
    const Status garbage = source->read(Region{64, 16, 6, 16}, block.data(), block.size(), s);
    EXPECT_EQ(garbage.code(), Code::kCorrupt) << garbage.to_string();
    EXPECT_EQ(garbage.message().rfind(damaged + ": page 0 tile 5 (x 64, y 16): cannot decode (deflate): ", 0), 0u)
        << garbage.message();
  }
  EXPECT_TRUE(std::all_of(block.begin(), block.end(), [](uint8_t b) { return b == 0xA5; }))
      << "a failed read wrote pixels";
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("x.tsr"), fast()));
  auto imported = import_raster(container, *source, straddling("damaged"));
  EXPECT_CODE(imported, Code::kCorrupt);
  EXPECT_NE(imported.status().message().find(damaged + ": page 0 tile "), std::string::npos)
      << imported.status().message();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  // The good tiles still read.
  ASSERT_OK(source->read(Region{0, 0, 32, 16}, block.data(), block.size(), s));
}

// A huge strip (read row by row) that is damaged fails the same way, naming the strip.
TEST_F(TiffImportTest, DamagedHugeStripIsCorrupt) {
  const Raster raster = random_raster(DataType::kU8, 70, 45, 1, 90);
  TiffSpec spec;
  spec.tiled = false;
  spec.rows_per_strip = 45;
  spec.compression = COMPRESSION_LZW;
  const std::string file = path("strip.tif");
  write_tiff(file, raster, spec);
  std::vector<uint8_t> bytes = read_bytes(file);
  const size_t offset = ifd_entry(bytes, TIFFTAG_STRIPOFFSETS).get(bytes, 0);
  const size_t count = ifd_entry(bytes, TIFFTAG_STRIPBYTECOUNTS).get(bytes, 0);
  bytes.erase(bytes.begin() + long(offset + count / 2), bytes.begin() + long(offset + count));
  bytes.insert(bytes.begin() + long(offset + count / 2), count - count / 2, 0);  // zeros: codes 0
  write_bytes(file, bytes);
  io_detail::TiffReadLimits limits;
  limits.max_strip_bytes = 100;
  limits.cache_bytes = 70 * 8;
  ::testing::internal::CaptureStderr();
  ASSERT_OK_AND_ASSIGN(auto tiff_bytes, io_detail::TiffBytes::open_file(file));
  ASSERT_OK_AND_ASSIGN(auto source, io_detail::open_tiff_source(tiff_bytes, 0, {}, limits));
  auto all = read_all(*source, 16);
  EXPECT_CODE(all, Code::kCorrupt);
  EXPECT_EQ(all.status().message().rfind(file + ": page 0 strip 0 (row ", 0), 0u) << all.status().message();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// The helper the TIFF sink shares: a handle writing through a descriptor the caller keeps,
// its libtiff errors in the handle, not on stderr.
TEST_F(TiffImportTest, HandlesCaptureLibtiffMessages) {
  const std::string file = path("written.tif");
  ASSERT_OK_AND_ASSIGN(detail::File out,
                       detail::File::open(file, O_RDWR | O_CREAT | O_TRUNC, 0644, "cannot create"));
  ::testing::internal::CaptureStderr();
  {
    ASSERT_OK_AND_ASSIGN(io_detail::TiffHandle handle, io_detail::TiffHandle::open_for_writing(out, "w8"));
    const Raster raster = random_raster(DataType::kU8, 20, 10, 1, 95);
    TiffSpec spec;
    set_layout(handle.get(), raster, spec);
    // A tile that does not exist: libtiff's error lands in the handle.
    std::vector<uint8_t> tile(32 * 16);
    EXPECT_EQ(TIFFWriteEncodedTile(handle.get(), 99, tile.data(), tmsize_t(tile.size())), -1);
    EXPECT_TRUE(handle.has_errors());
    const std::string errors = handle.take_errors();
    EXPECT_NE(errors.find("Tile 99 out of range"), std::string::npos) << errors;
    EXPECT_FALSE(handle.has_errors());
    EXPECT_TRUE(write_chunks(handle.get(), raster, spec));
    EXPECT_TRUE(TIFFFlush(handle.get()));
    EXPECT_FALSE(handle.has_errors());
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(out.is_open());  // still the caller's
  ASSERT_OK_AND_ASSIGN(auto pages, list_tiff_pages(file));
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].shape, (RasterShape{20, 10, 1, DataType::kU8}));
  EXPECT_TRUE(pages[0].tiled);
}

}  // namespace
}  // namespace tessera
