// tiff_export_test.cc — the tiled TIFF sink (tessera/tiff.h) through export_raster, checked by
// readers Tessera did not write: libtiff itself (every sample type, band count, codec, tile
// size and BigTIFF choice, regions and band subsets, odd sizes, blocks in every interleave),
// tiffinfo and tiffcmp, tifffile, libvips and GDAL; the attributes back as tags, georeferencing
// shifted to the exported region; refusals and failed writes leaving neither OUT nor OUT.part.
//
// Expected pixels are what View::read gives for the same region and bands. The images are
// random samples with fixed seeds (smooth ones for JPEG, which is lossy).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <tiffio.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "io/tiff_tags.h"
#include "tessera/io.h"
#include "tessera/tessera.h"
#include "tessera/tiff.h"
#include "test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::write_file;
using Compression = TiffSinkOptions::Compression;
using BigTiff = TiffSinkOptions::BigTiff;
using test::Rng;
using test::TempDirTest;

// The Debian python that python3-tifffile and python3-gdal are installed for (a python3
// earlier on PATH may have neither).
constexpr const char* kPython = "/usr/bin/python3";

OpenOptions fast() {
  OpenOptions options;
  options.sync = false;
  return options;
}

bool any_output(const std::string& out) { return fs::exists(out) || fs::exists(out + ".part"); }

// A command's exit status and what it printed, stdout and stderr together.
struct Ran {
  int status = -1;
  std::string output;
};
Ran run(const std::string& command) {
  Ran ran;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return ran;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) ran.output.append(buffer, n);
  const int status = ::pclose(pipe);
  ran.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

std::string compression_label(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kLzw: return "lzw";
    case Compression::kDeflate: return "deflate";
    case Compression::kZstd: return "zstd";
    case Compression::kJpeg: return "jpeg";
  }
  return "?";
}

// What stderr received while it lived (fd 2 redirected into a file).
class StderrCapture {
 public:
  explicit StderrCapture(std::string file) : file_(std::move(file)) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() { restore(); }
  std::string text() {
    restore();
    return read_file(file_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::string file_;
  int saved_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Images, exports, and the output as libtiff reads it

constexpr int64_t kWidth = 157, kHeight = 101;  // odd: edge tiles everywhere

// Random samples of `type` (smooth: a slow wave per band, what JPEG is made for).
Status make_image(Container& container, const std::string& name, DataType type, uint32_t bands,
                  uint32_t image_tile, bool smooth, uint64_t seed, int64_t width = kWidth,
                  int64_t height = kHeight) {
  ImageSpec spec;
  spec.type = type;
  spec.bands = bands;
  spec.tile_size = image_tile;
  std::vector<uint8_t> data(size_t(width * height) * bands * sample_size(type));
  if (smooth) {
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x)
        for (uint32_t b = 0; b < bands; ++b)
          data[size_t((y * width + x) * bands + b)] = uint8_t(
              128 + 90 * std::sin(double(x) / 19 + b) * std::cos(double(y) / 27 - 0.5 * b));
  } else {
    Rng(seed).fill(data.data(), data.size());
  }
  return container.write([&](WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(txn.create_image(name, spec));
    return txn.write(name, Region{0, 0, width, height}, {}, data.data(), data.size());
  });
}

struct ExportCase {
  std::string image;
  DataType type = DataType::kU8;
  uint32_t image_bands = 1;
  TiffSinkOptions options;
  std::optional<Region> region;   // nullopt: the whole image (kWidth x kHeight at 0,0)
  std::vector<uint32_t> bands;    // empty: all
  Interleave interleave = Interleave::kBIP;

  Region area() const { return region.value_or(Region{0, 0, kWidth, kHeight}); }
  uint32_t out_bands() const { return bands.empty() ? image_bands : uint32_t(bands.size()); }
  std::string label() const {
    std::ostringstream os;
    os << image << " " << compression_label(options.compression) << " tile " << options.tile_size
       << " bigtiff " << int(options.bigtiff) << " region " << test::region_label(area())
       << " bands " << test::bands_label(bands) << " " << interleave_name(interleave);
    return os.str();
  }
};

Status export_tiff(const Container& container, const ExportCase& e, const std::string& out) {
  ExportOptions options;
  options.image = e.image;
  options.region = e.region;
  options.bands = e.bands;
  options.interleave = e.interleave;
  return export_raster(container, *make_tiff_sink(out, e.options), options);
}

// What a raw read of the same region and bands gives, BIP.
std::vector<uint8_t> raw_read(const Container& container, const ExportCase& e) {
  const Region r = e.area();
  std::vector<uint8_t> out(r.pixel_count() * e.out_bands() * sample_size(e.type));
  auto snapshot = container.snapshot();
  EXPECT_OK(snapshot);
  if (snapshot) EXPECT_OK(snapshot->read(e.image, r, Selection{0, 0, e.bands}, out.data(), out.size()));
  return out;
}

int collect_error(TIFF*, void* user, const char* module, const char* format, va_list args) {
  char text[1024];
  std::vsnprintf(text, sizeof text, format, args);
  *static_cast<std::string*>(user) += std::string(module ? module : "") + ": " + text + "\n";
  return 1;
}

// An open TIFF for reading (GeoTIFF and GDAL tags known), libtiff's messages kept.
class TiffReader {
 public:
  explicit TiffReader(const std::string& path) {
    io_detail::register_tiff_tags();
    TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(options, collect_error, &errors);
    TIFFOpenOptionsSetWarningHandlerExtR(options, collect_error, &errors);
    tif = TIFFOpenExt(path.c_str(), "r", options);
    TIFFOpenOptionsFree(options);
  }
  ~TiffReader() {
    if (tif) TIFFClose(tif);
  }
  uint16_t u16(uint32_t tag) const {
    uint16_t v = 0;
    TIFFGetFieldDefaulted(tif, tag, &v);
    return v;
  }
  uint32_t u32(uint32_t tag) const {
    uint32_t v = 0;
    TIFFGetField(tif, tag, &v);
    return v;
  }
  std::vector<uint16_t> extra_samples() const {
    uint16_t count = 0;
    const uint16_t* values = nullptr;
    if (!TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &count, &values)) return {};
    return std::vector<uint16_t>(values, values + count);
  }
  // Every pixel, BIP (RGB for YCbCr JPEG): tile by tile, the edge tiles clipped.
  std::vector<uint8_t> pixels() {
    if (u16(TIFFTAG_PHOTOMETRIC) == PHOTOMETRIC_YCBCR)
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    const uint32_t w = u32(TIFFTAG_IMAGEWIDTH), h = u32(TIFFTAG_IMAGELENGTH);
    const uint32_t tw = u32(TIFFTAG_TILEWIDTH), th = u32(TIFFTAG_TILELENGTH);
    const size_t pixel = size_t(u16(TIFFTAG_SAMPLESPERPIXEL)) * (u16(TIFFTAG_BITSPERSAMPLE) / 8);
    std::vector<uint8_t> out(size_t(w) * h * pixel), tile(size_t(TIFFTileSize(tif)));
    if (!TIFFIsTiled(tif) || tile.size() < size_t(tw) * th * pixel) return {};
    for (uint32_t ty = 0; ty < h; ty += th)
      for (uint32_t tx = 0; tx < w; tx += tw) {
        if (TIFFReadEncodedTile(tif, TIFFComputeTile(tif, tx, ty, 0, 0), tile.data(),
                                tmsize_t(tile.size())) < 0)
          return {};
        for (uint32_t y = ty; y < std::min(h, ty + th); ++y)
          std::memcpy(out.data() + (size_t(y) * w + tx) * pixel,
                      tile.data() + size_t(y - ty) * tw * pixel, std::min(tw, w - tx) * pixel);
      }
    return out;
  }

  TIFF* tif = nullptr;
  std::string errors;
};

uint16_t expected_sample_format(DataType t) {
  switch (t) {
    case DataType::kF32:
    case DataType::kF64: return SAMPLEFORMAT_IEEEFP;
    case DataType::kI8:
    case DataType::kI16:
    case DataType::kI32:
    case DataType::kI64: return SAMPLEFORMAT_INT;
    default: return SAMPLEFORMAT_UINT;
  }
}

bool expected_rgb(const ExportCase& e) {
  return (e.out_bands() == 3 || e.out_bands() == 4) &&
         (e.type == DataType::kU8 || e.type == DataType::kU16);
}

// The layout fields libtiff reads are those the issue asks for, and the pixels are the raw
// read's, byte for byte.
void expect_libtiff_reads_back(const Container& container, const ExportCase& e,
                               const std::string& out) {
  SCOPED_TRACE(e.label());
  TiffReader tiff(out);
  ASSERT_NE(tiff.tif, nullptr) << tiff.errors;
  const Region r = e.area();
  EXPECT_TRUE(TIFFIsTiled(tiff.tif));
  EXPECT_EQ(tiff.u32(TIFFTAG_IMAGEWIDTH), uint32_t(r.width));
  EXPECT_EQ(tiff.u32(TIFFTAG_IMAGELENGTH), uint32_t(r.height));
  EXPECT_EQ(tiff.u32(TIFFTAG_TILEWIDTH), e.options.tile_size);
  EXPECT_EQ(tiff.u32(TIFFTAG_TILELENGTH), e.options.tile_size);
  EXPECT_EQ(tiff.u16(TIFFTAG_SAMPLESPERPIXEL), e.out_bands());
  EXPECT_EQ(tiff.u16(TIFFTAG_BITSPERSAMPLE), sample_size(e.type) * 8);
  EXPECT_EQ(tiff.u16(TIFFTAG_SAMPLEFORMAT), expected_sample_format(e.type));
  EXPECT_EQ(tiff.u16(TIFFTAG_PLANARCONFIG), PLANARCONFIG_CONTIG);
  EXPECT_EQ(bool(TIFFIsBigTIFF(tiff.tif)), e.options.bigtiff == BigTiff::kYes);
  const bool float_type = e.type == DataType::kF32 || e.type == DataType::kF64;
  const uint16_t codes[] = {COMPRESSION_NONE, COMPRESSION_LZW, COMPRESSION_ADOBE_DEFLATE,
                            COMPRESSION_ZSTD, COMPRESSION_JPEG};
  EXPECT_EQ(tiff.u16(TIFFTAG_COMPRESSION), codes[int(e.options.compression)]);
  if (e.options.compression != Compression::kNone && e.options.compression != Compression::kJpeg) {
    EXPECT_EQ(tiff.u16(TIFFTAG_PREDICTOR),
              float_type ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
  }
  const bool rgb = expected_rgb(e);
  EXPECT_EQ(tiff.u16(TIFFTAG_PHOTOMETRIC), rgb ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  std::vector<uint16_t> extra(e.out_bands() - (rgb ? 3 : 1), EXTRASAMPLE_UNSPECIFIED);
  if (rgb && e.out_bands() == 4) extra[0] = EXTRASAMPLE_UNASSALPHA;
  EXPECT_EQ(tiff.extra_samples(), extra);
  const std::vector<uint8_t> pixels = tiff.pixels();
  const std::vector<uint8_t> expected = raw_read(container, e);
  ASSERT_EQ(pixels.size(), expected.size()) << tiff.errors;
  EXPECT_TRUE(pixels == expected) << test::describe_mismatch(
      expected, pixels.data(), pixels.size(), Region{0, 0, r.width, r.height}, {},
      e.out_bands(), test::packed_strides(Interleave::kBIP, r.width, r.height, e.out_bands(),
                                          sample_size(e.type)),
      sample_size(e.type));
  EXPECT_EQ(tiff.errors, "");
}

class TiffExportTest : public TempDirTest {
 protected:
  void SetUp() override {
    auto container = Container::create(path("t.tsr"), fast());
    ASSERT_OK(container);
    container_.emplace(std::move(container).value());
  }
  // The image of random samples of `type` in `bands`, made on first use (tiles of 16, 32
  // or 64: a TIFF tile size may be smaller, larger or not a multiple of them).
  std::string image(DataType type, uint32_t bands) {
    const std::string name = std::string(data_type_name(type)) + "x" + std::to_string(bands);
    if (!made_.count(name)) {
      const uint32_t tiles[] = {16, 32, 64};
      EXPECT_OK(make_image(*container_, name, type, bands, tiles[made_.size() % 3], false,
                           100 + made_.size()));
      made_.insert({name, true});
    }
    return name;
  }
  ExportCase export_case(DataType type, uint32_t bands, Compression compression, uint32_t tile,
                         BigTiff bigtiff = BigTiff::kAuto) {
    ExportCase e;
    e.image = image(type, bands);
    e.type = type;
    e.image_bands = bands;
    e.options.compression = compression;
    e.options.tile_size = tile;
    e.options.bigtiff = bigtiff;
    return e;
  }
  // Exports `e` to NAME.tif in the test's directory; its path.
  std::string exported(const ExportCase& e, const std::string& name) {
    const std::string out = path(name + ".tif");
    const Status st = export_tiff(*container_, e, out);
    EXPECT_TRUE(st.is_ok()) << e.label() << ": " << st.to_string();
    EXPECT_FALSE(fs::exists(out + ".part"));
    return out;
  }
  // The raw read of `e` as NAME.raw (BIP, little-endian: numpy's and vips' layout).
  std::string raw_file(const ExportCase& e, const std::string& name) {
    const std::vector<uint8_t> bytes = raw_read(*container_, e);
    const std::string file = path(name + ".raw");
    write_file(file, std::string(bytes.begin(), bytes.end()));
    return file;
  }

  std::optional<Container> container_;
  std::map<std::string, bool> made_;
};

// ---------------------------------------------------------------------------------------------
// Pixels and layout

// Every sample type with every lossless codec; band counts, TIFF tile sizes (smaller, larger
// and not multiples of the image's), BigTIFF choices, interleaves of the blocks, regions across
// the image's edges and band subsets rotate through the cases.
TEST_F(TiffExportTest, LibtiffReadsBackEveryTypeBandsCodecAndTileSize) {
  const Compression codecs[] = {Compression::kNone, Compression::kLzw, Compression::kDeflate,
                                Compression::kZstd};
  const uint32_t band_counts[] = {1, 3, 4, 2, 5};
  const uint32_t tiles[] = {16, 48, 64, 256, 32};
  const BigTiff bigtiffs[] = {BigTiff::kAuto, BigTiff::kYes, BigTiff::kNo};
  const Interleave interleaves[] = {Interleave::kBIP, Interleave::kBIL, Interleave::kBSQ};
  int n = 0;
  for (size_t ti = 0; ti < test::all_data_types().size(); ++ti)
    for (size_t ci = 0; ci < 4; ++ci, ++n) {
      const DataType type = test::all_data_types()[ti];
      ExportCase e = export_case(type, band_counts[(ti + ci) % 5], codecs[ci], tiles[(ti + 2 * ci) % 5],
                                 bigtiffs[n % 3]);
      e.interleave = interleaves[(n / 3) % 3];
      if (n % 4 == 1) e.region = Region{9, 4, kWidth - 30, kHeight - 11};    // inside
      if (n % 4 == 3) e.region = Region{-7, 60, kWidth - 20, kHeight - 30};  // across edges
      if (n % 5 == 2 && e.image_bands > 1) e.bands = {e.image_bands - 1, 0};
      expect_libtiff_reads_back(*container_, e, exported(e, "m" + std::to_string(n)));
    }
}

// A TIFF tile much larger than the image's, and one that is not a multiple of it, and an
// output of a single pixel: every tile is written once whole, padding included.
TEST_F(TiffExportTest, TileSizesAgainstTheImageTiles) {
  ASSERT_OK(make_image(*container_, "small-tiles", DataType::kU16, 3, 16, false, 7, 300, 211));
  int n = 0;
  for (uint32_t tile : {16u, 80u, 512u}) {
    for (std::optional<Region> region : {std::optional<Region>(), std::optional<Region>(Region{299, 210, 1, 1})}) {
      ExportCase e;
      e.image = "small-tiles";
      e.type = DataType::kU16;
      e.image_bands = 3;
      e.options.tile_size = tile;
      e.options.compression = Compression::kZstd;
      e.region = region.value_or(Region{0, 0, 300, 211});
      // expect_libtiff_reads_back compares with the raw read of exactly this region.
      expect_libtiff_reads_back(*container_, e, exported(e, "t" + std::to_string(n++)));
    }
  }
}

double psnr(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return sum == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / (sum / double(a.size())));
}

// JPEG: u8 in 1 band (grey) or 3 (YCbCr, given and read back as RGB); close to the pixels,
// smaller at a lower quality.
TEST_F(TiffExportTest, JpegOfGreyAndRgb) {
  for (uint32_t bands : {1u, 3u}) {
    const std::string name = "smooth" + std::to_string(bands);
    ASSERT_OK(make_image(*container_, name, DataType::kU8, bands, 32, true, 0));
    uint64_t previous_size = 0;
    for (int quality : {50, 90}) {
      ExportCase e;
      e.image = name;
      e.image_bands = bands;
      e.options.compression = Compression::kJpeg;
      e.options.jpeg_quality = quality;
      e.options.tile_size = 48;
      e.region = Region{3, 2, kWidth - 5, kHeight - 4};
      SCOPED_TRACE(e.label() + " quality " + std::to_string(quality));
      const std::string out = exported(e, name + "q" + std::to_string(quality));
      TiffReader tiff(out);
      ASSERT_NE(tiff.tif, nullptr) << tiff.errors;
      EXPECT_EQ(tiff.u16(TIFFTAG_COMPRESSION), COMPRESSION_JPEG);
      EXPECT_EQ(tiff.u16(TIFFTAG_PHOTOMETRIC), bands == 3 ? PHOTOMETRIC_YCBCR : PHOTOMETRIC_MINISBLACK);
      EXPECT_EQ(tiff.u32(TIFFTAG_IMAGEWIDTH), uint32_t(kWidth - 5));
      EXPECT_EQ(tiff.u32(TIFFTAG_IMAGELENGTH), uint32_t(kHeight - 4));
      const std::vector<uint8_t> pixels = tiff.pixels();
      const std::vector<uint8_t> expected = raw_read(*container_, e);
      ASSERT_EQ(pixels.size(), expected.size()) << tiff.errors;
      EXPECT_GT(psnr(pixels, expected), quality == 90 ? 38.0 : 32.0);
      const uint64_t size = fs::file_size(out);
      EXPECT_GT(size, previous_size);  // quality 90 takes more bytes than 50
      previous_size = size;
      EXPECT_EQ(tiff.errors, "");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Other readers

// tiffinfo reads every tile without a complaint, and tiffcmp finds exports of the same pixels
// with other tile sizes, codecs and BigTIFF choices identical (and one of other pixels not).
// tiffcmp reads scanlines, which a tiled TIFF has not, and skips the pixels when the codecs
// differ: each export is compared through an uncompressed stripped copy made by tiffcp.
TEST_F(TiffExportTest, TiffinfoAndTiffcmpAgree) {
  std::vector<std::string> outs;
  const struct {
    Compression compression;
    uint32_t tile;
    BigTiff bigtiff;
  } variants[] = {{Compression::kNone, 16, BigTiff::kNo},
                  {Compression::kLzw, 48, BigTiff::kAuto},
                  {Compression::kDeflate, 64, BigTiff::kYes},
                  {Compression::kZstd, 256, BigTiff::kAuto}};
  for (DataType type : {DataType::kU16, DataType::kF32}) {
    outs.clear();
    for (const auto& v : variants) {
      ExportCase e = export_case(type, 3, v.compression, v.tile, v.bigtiff);
      outs.push_back(exported(e, std::string(data_type_name(type)) + "-" + std::to_string(outs.size())));
    }
    ExportCase other = export_case(type, 3, Compression::kNone, 16);
    other.region = Region{1, 0, kWidth, kHeight};  // the same size, shifted by a pixel
    outs.push_back(exported(other, std::string(data_type_name(type)) + "-other"));

    std::string files;
    for (const std::string& out : outs) files += " '" + out + "'";
    const Ran info = run("tiffinfo -D" + files);
    EXPECT_EQ(info.status, 0) << info.output;
    EXPECT_EQ(info.output.find("rror"), std::string::npos) << info.output;
    EXPECT_EQ(info.output.find("arning"), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("Tile Width: 48 Tile Length: 48"), std::string::npos) << info.output;
    for (const std::string& out : outs) {
      const Ran strip = run("tiffcp -s -c none '" + out + "' '" + out + ".strips'");
      ASSERT_EQ(strip.status, 0) << strip.output;
    }
    for (size_t i = 1; i < outs.size(); ++i) {
      const Ran cmp = run("tiffcmp '" + outs[0] + ".strips' '" + outs[i] + ".strips'");
      if (i + 1 < outs.size()) {
        EXPECT_EQ(cmp.status, 0) << outs[i] << ": " << cmp.output;
        EXPECT_EQ(cmp.output, "") << outs[i];
      } else {
        EXPECT_NE(cmp.status, 0) << "tiffcmp found no difference in other pixels";
      }
    }
  }
}

// tifffile reads the pixels of the raw read, and the layout. Without imagecodecs (not in
// Debian 12) it decodes no LZW, zstd or floating-point predictor: none and deflate here.
TEST_F(TiffExportTest, TifffileReadsThePixels) {
  const struct {
    DataType type;
    uint32_t bands;
    Compression compression;
    bool subset;
  } cases[] = {{DataType::kU8, 3, Compression::kNone, false},   {DataType::kU8, 4, Compression::kDeflate, false},
               {DataType::kU16, 1, Compression::kDeflate, true}, {DataType::kI16, 4, Compression::kDeflate, true},
               {DataType::kU32, 2, Compression::kNone, false},   {DataType::kI32, 3, Compression::kDeflate, false},
               {DataType::kU64, 1, Compression::kDeflate, false}, {DataType::kI64, 5, Compression::kDeflate, true},
               {DataType::kI8, 2, Compression::kDeflate, false},  {DataType::kF32, 3, Compression::kNone, true},
               {DataType::kF64, 2, Compression::kNone, false}};
  std::string list;
  std::vector<std::string> expected_lines;
  int n = 0;
  for (const auto& c : cases) {
    ExportCase e = export_case(c.type, c.bands, c.compression, n % 2 ? 32 : 64,
                               n % 3 == 0 ? BigTiff::kYes : BigTiff::kAuto);
    if (c.subset) {
      e.region = Region{5, -3, kWidth - 9, kHeight - 2};
      e.bands = {c.bands - 1};
      if (c.bands > 2) e.bands.push_back(0);
    }
    const std::string name = "f" + std::to_string(n++);
    const std::string out = exported(e, name), raw = raw_file(e, name);
    const char* dtype_names[] = {"uint8", "uint16", "uint32", "uint64", "int8",
                                 "int16", "int32",  "int64",  "float32", "float64"};
    list += out + " " + raw + " " + dtype_names[int(c.type)] + " " + std::to_string(e.area().height) +
            " " + std::to_string(e.area().width) + " " + std::to_string(e.out_bands()) + "\n";
    expected_lines.push_back(out + " same " + (expected_rgb(e) ? "RGB" : "MINISBLACK") + " tiled " +
                             std::to_string(e.options.tile_size) + " bigtiff " +
                             (e.options.bigtiff == BigTiff::kYes ? "True" : "False"));
  }
  write_file(path("list.txt"), list);
  write_file(path("check.py"), R"(import sys
import numpy as np
import tifffile
for line in open(sys.argv[1]):
    tif, raw, dtype, h, w, b = line.split()
    shape = (int(h), int(w), int(b))
    with tifffile.TiffFile(tif) as f:
        page = f.pages[0]
        got = page.asarray().reshape(shape)
        layout = "%s tiled %d bigtiff %s" % (page.photometric.name, page.tilewidth, f.is_bigtiff)
    want = np.fromfile(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    same = got.dtype.kind == want.dtype.kind and got.dtype.itemsize == want.dtype.itemsize and \
        np.array_equal(got.astype(want.dtype).view(np.uint8), want.view(np.uint8))
    print(tif, "same" if same else "DIFFERENT", layout)
)");
  const Ran ran = run(std::string(kPython) + " '" + path("check.py") + "' '" + path("list.txt") + "'");
  ASSERT_EQ(ran.status, 0) << ran.output;
  std::string expected;
  for (const std::string& line : expected_lines) expected += line + "\n";
  EXPECT_EQ(ran.output, expected);
}

// libvips (through the system's libtiff, so every codec) saves the raw pixels of the raw read.
// vips has no 64-bit integers, and libvips 8.14 refuses any 64-bit float TIFF ("samples out of
// range", tifffile's own too): the other types.
TEST_F(TiffExportTest, VipsReadsThePixels) {
  const struct {
    DataType type;
    uint32_t bands;
    Compression compression;
  } cases[] = {{DataType::kU8, 3, Compression::kZstd},   {DataType::kI8, 1, Compression::kLzw},
               {DataType::kU16, 4, Compression::kLzw},   {DataType::kI16, 2, Compression::kDeflate},
               {DataType::kU32, 1, Compression::kZstd},  {DataType::kI32, 3, Compression::kNone},
               {DataType::kF32, 2, Compression::kDeflate}, {DataType::kF32, 1, Compression::kZstd}};
  int n = 0;
  for (const auto& c : cases) {
    ExportCase e = export_case(c.type, c.bands, c.compression, n % 2 ? 48 : 16,
                               n % 2 ? BigTiff::kYes : BigTiff::kNo);
    if (n % 3 == 1) e.region = Region{kWidth - 50, 20, 70, 50};
    const std::string name = "v" + std::to_string(n++);
    const std::string out = exported(e, name), raw = raw_file(e, name);
    const Ran ran = run("vips rawsave '" + out + "' '" + out + ".vips.raw'");
    ASSERT_EQ(ran.status, 0) << e.label() << ": " << ran.output;
    EXPECT_TRUE(read_file(out + ".vips.raw") == read_file(raw)) << e.label();
  }
}

// ---------------------------------------------------------------------------------------------
// Attributes as tags

std::optional<AttributeValue> tag_of(TiffReader& tiff, const std::string& attribute) {
  const io_detail::KeptTag* tag = io_detail::kept_tiff_tag(attribute);
  EXPECT_NE(tag, nullptr) << attribute;
  return tag ? io_detail::read_tiff_tag(tiff.tif, *tag) : std::nullopt;
}

// Every kept tag back from its attribute; ModelTiepoint's raster points and ModelTransformation's
// translation moved to the exported region, XPosition / YPosition (resolution units) not.
TEST_F(TiffExportTest, AttributesComeBackAsTagsShiftedToTheRegion) {
  const std::vector<double> tiepoints = {0, 0, 0, 500000, 4000000, 0, 100, 50, 0, 500200, 3999850, 0};
  const std::vector<double> transformation = {2, 0.5, 0, 1000, 0.25, -3, 0, 2000,
                                              0, 0,   1, 7,    0,    0,  0, 1};
  const Attributes texts = {{"tiff.Artist", "A. Painter"},         {"tiff.Copyright", "(c) nobody"},
                            {"tiff.DateTime", "2024:01:02 03:04:05"}, {"tiff.DocumentName", "doc"},
                            {"tiff.GDAL_METADATA", "<GDALMetadata><Item name=\"a\" sample=\"1\">x</Item></GDALMetadata>"},
                            {"tiff.GDAL_NODATA", "-9999"},         {"tiff.GeoAsciiParams", "WGS 84 / UTM zone 33N|"},
                            {"tiff.HostComputer", "host"},         {"tiff.ImageDescription", "a scan"},
                            {"tiff.Make", "maker"},                {"tiff.Model", "model"},
                            {"tiff.PageName", "page"},             {"tiff.Software", "tessera test"}};
  ASSERT_OK(make_image(*container_, "geo", DataType::kU8, 3, 32, false, 3));
  ASSERT_OK(make_image(*container_, "matrix", DataType::kU8, 1, 32, false, 4));
  ASSERT_OK(container_->write([&](WriteTxn& txn) {
    for (const Attribute& a : texts) TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", a.name, a.value));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "tiff.XResolution", 300.0));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "tiff.YResolution", 150.5));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "tiff.ResolutionUnit", int64_t(3)));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "tiff.XPosition", 1.5));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "tiff.YPosition", 2.25));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "tiff.ModelPixelScale", std::vector<double>{2, 3, 0}));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "tiff.ModelTiepoint", tiepoints));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute(
        "geo", "tiff.GeoKeyDirectory",
        std::vector<int64_t>{1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633}));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "tiff.GeoDoubleParams", std::vector<double>{6378137.0}));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("geo", "envi.description", "not this: tiff.ImageDescription is there"));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("matrix", "tiff.ModelTransformation", transformation));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("matrix", "envi.data ignore value", -9999.5));
    return txn.set_attribute("matrix", "envi.description", "from an ENVI header");
  }));

  for (const Region region : {Region{0, 0, kWidth, kHeight}, Region{10, 20, 60, 40}}) {
    SCOPED_TRACE(test::region_label(region));
    const std::string tag = std::to_string(region.x);
    ExportCase e = export_case(DataType::kU8, 3, Compression::kDeflate, 32);
    e.image = "geo";
    e.region = region;
    e.bands = {2, 1};  // tags are per image: a band subset keeps them all
    {
      TiffReader tiff(exported(e, "geo" + tag));
      ASSERT_NE(tiff.tif, nullptr) << tiff.errors;
      for (const Attribute& a : texts) EXPECT_EQ(tag_of(tiff, a.name), a.value) << a.name;
      EXPECT_EQ(tag_of(tiff, "tiff.XResolution"), AttributeValue(300.0));
      EXPECT_EQ(tag_of(tiff, "tiff.YResolution"), AttributeValue(150.5));
      EXPECT_EQ(tag_of(tiff, "tiff.ResolutionUnit"), AttributeValue(int64_t(3)));
      EXPECT_EQ(tag_of(tiff, "tiff.XPosition"), AttributeValue(1.5));
      EXPECT_EQ(tag_of(tiff, "tiff.YPosition"), AttributeValue(2.25));
      EXPECT_EQ(tag_of(tiff, "tiff.ModelPixelScale"), AttributeValue(std::vector<double>{2, 3, 0}));
      std::vector<double> shifted = tiepoints;
      for (size_t i = 0; i < shifted.size(); i += 6) shifted[i] -= double(region.x), shifted[i + 1] -= double(region.y);
      EXPECT_EQ(tag_of(tiff, "tiff.ModelTiepoint"), AttributeValue(shifted));
      EXPECT_EQ(tag_of(tiff, "tiff.GeoKeyDirectory"),
                AttributeValue(std::vector<int64_t>{1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633}));
      EXPECT_EQ(tag_of(tiff, "tiff.GeoDoubleParams"), AttributeValue(std::vector<double>{6378137.0}));
      EXPECT_EQ(tag_of(tiff, "tiff.ModelTransformation"), std::nullopt);
      EXPECT_EQ(tiff.errors, "");
    }
    e.image = "matrix";
    e.image_bands = 1;
    e.bands = {};
    TiffReader tiff(exported(e, "matrix" + tag));
    ASSERT_NE(tiff.tif, nullptr) << tiff.errors;
    std::vector<double> moved = transformation;
    for (size_t row = 0; row < 4; ++row)
      moved[row * 4 + 3] += moved[row * 4] * double(region.x) + moved[row * 4 + 1] * double(region.y);
    EXPECT_EQ(tag_of(tiff, "tiff.ModelTransformation"), AttributeValue(moved));
    // What an ENVI header said, where no tiff.* attribute says it.
    EXPECT_EQ(tag_of(tiff, "tiff.GDAL_NODATA"), AttributeValue("-9999.5"));
    EXPECT_EQ(tag_of(tiff, "tiff.ImageDescription"), AttributeValue("from an ENVI header"));
    EXPECT_EQ(tag_of(tiff, "tiff.ModelTiepoint"), std::nullopt);
    EXPECT_EQ(tiff.errors, "");
  }
}

// GDAL finds the georeferencing of the exported region where it is: the origin moved by the
// region's offset (tiepoint and scale, or a transformation with rotation terms), the CRS and
// the no-data value.
TEST_F(TiffExportTest, GdalSeesTheRegionsGeotransformAndNodata) {
  ASSERT_OK(make_image(*container_, "utm", DataType::kU16, 1, 16, false, 5));
  ASSERT_OK(make_image(*container_, "rotated", DataType::kF32, 1, 32, false, 6));
  const std::vector<int64_t> utm33n = {1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633};
  ASSERT_OK(container_->write([&](WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("utm", "tiff.ModelPixelScale", std::vector<double>{2, 3, 0}));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("utm", "tiff.ModelTiepoint", std::vector<double>{0, 0, 0, 500000, 4000000, 0}));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("utm", "tiff.GeoKeyDirectory", utm33n));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("utm", "tiff.GDAL_NODATA", "65535"));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute(
        "rotated", "tiff.ModelTransformation",
        std::vector<double>{2, 0.5, 0, 1000, 0.25, -3, 0, 2000, 0, 0, 0, 0, 0, 0, 0, 1}));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("rotated", "tiff.GeoKeyDirectory", utm33n));
    return txn.set_attribute("rotated", "envi.data ignore value", -1.5);
  }));
  const struct {
    std::string image;
    DataType type;
    Region region;
    std::vector<double> geotransform;
    double nodata;
  } cases[] = {{"utm", DataType::kU16, Region{10, 20, 50, 40}, {500020, 2, 0, 3999940, 0, -3}, 65535},
               {"rotated", DataType::kF32, Region{7, 5, 60, 30},
                {1000 + 2 * 7 + 0.5 * 5, 2, 0.5, 2000 + 0.25 * 7 - 3 * 5, 0.25, -3}, -1.5}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.image);
    ExportCase e = export_case(c.type, 1, Compression::kZstd, 16);
    e.image = c.image;
    e.region = c.region;
    const std::string out = exported(e, c.image);
    const Ran ran = run("gdalinfo -json '" + out + "'");
    ASSERT_EQ(ran.status, 0) << ran.output;
    const nlohmann::json info = nlohmann::json::parse(ran.output, nullptr, false);
    ASSERT_FALSE(info.is_discarded()) << ran.output;
    ASSERT_TRUE(info.contains("geoTransform")) << ran.output;
    const std::vector<double> geotransform = info["geoTransform"].get<std::vector<double>>();
    ASSERT_EQ(geotransform.size(), 6u);
    for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(geotransform[i], c.geotransform[i], 1e-9) << i;
    EXPECT_EQ(info["size"], nlohmann::json::array({c.region.width, c.region.height}));
    EXPECT_NE(info["coordinateSystem"]["wkt"].get<std::string>().find("UTM zone 33N"), std::string::npos);
    EXPECT_EQ(info["bands"][0]["noDataValue"].get<double>(), c.nodata);
  }
}

// ---------------------------------------------------------------------------------------------
// Refusals and failures

TEST_F(TiffExportTest, ParsesCompression) {
  TiffSinkOptions options;
  EXPECT_OK(parse_tiff_compression("none", &options));
  EXPECT_EQ(options.compression, Compression::kNone);
  EXPECT_OK(parse_tiff_compression("lzw", &options));
  EXPECT_EQ(options.compression, Compression::kLzw);
  EXPECT_OK(parse_tiff_compression("deflate", &options));
  EXPECT_EQ(options.compression, Compression::kDeflate);
  EXPECT_OK(parse_tiff_compression("zstd", &options));
  EXPECT_EQ(options.compression, Compression::kZstd);
  EXPECT_OK(parse_tiff_compression("jpeg", &options));
  EXPECT_EQ(options.compression, Compression::kJpeg);
  EXPECT_EQ(options.jpeg_quality, 90);
  EXPECT_OK(parse_tiff_compression("jpeg:75", &options));
  EXPECT_EQ(options.jpeg_quality, 75);
  EXPECT_OK(parse_tiff_compression("jpeg:1", &options));
  EXPECT_OK(parse_tiff_compression("jpeg:100", &options));
  EXPECT_EQ(options.jpeg_quality, 100);
  for (const char* bad : {"", "zip", "LZW", "jpeg:", "jpeg:0", "jpeg:101", "jpeg:9x", "jpeg:-5",
                          "jpeg:+5", "zstd:3", "none "}) {
    TiffSinkOptions untouched;
    const Status st = parse_tiff_compression(bad, &untouched);
    EXPECT_CODE(st, Code::kInvalidArgument);
    EXPECT_NE(st.message().find("'" + std::string(bad) + "'"), std::string::npos) << st.message();
    EXPECT_EQ(untouched.compression, Compression::kDeflate) << bad;
    EXPECT_EQ(untouched.jpeg_quality, 90) << bad;
  }
}

// What the sink cannot write is refused before any file exists, naming the value or the
// attribute at fault; libtiff's own refusals come back the same way and print nothing. An
// existing OUT is left as it was.
TEST_F(TiffExportTest, RefusesWhatItCannotWrite) {
  ASSERT_OK(make_image(*container_, "u16", DataType::kU16, 3, 32, false, 1));
  ASSERT_OK(make_image(*container_, "rgba", DataType::kU8, 4, 32, false, 2));
  ASSERT_OK(make_image(*container_, "grey", DataType::kU8, 1, 32, false, 3));
  const auto set = [&](const std::string& name, const AttributeValue& value) {
    return container_->write([&](WriteTxn& txn) { return txn.set_attribute("grey", name, value); });
  };
  const auto remove = [&](const std::string& name) {
    return container_->write([&](WriteTxn& txn) { return txn.delete_attribute("grey", name); });
  };
  const std::string out = path("refused.tif");
  const auto expect_refused = [&](const ExportCase& e, const std::string& named, const std::string& what) {
    SCOPED_TRACE(what);
    write_file(out, "precious");
    StderrCapture stderr_text(path("stderr.txt"));
    const Status st = export_tiff(*container_, e, out);
    EXPECT_EQ(stderr_text.text(), "");
    EXPECT_CODE(st, Code::kInvalidArgument);
    EXPECT_NE(st.message().find(named), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(out), std::string::npos) << st.message();
    EXPECT_EQ(read_file(out), "precious");
    EXPECT_FALSE(fs::exists(out + ".part"));
  };

  ExportCase e = export_case(DataType::kU16, 3, Compression::kJpeg, 64);
  e.image = "u16";
  expect_refused(e, "u16", "JPEG of u16");
  e.image = "rgba";
  e.type = DataType::kU8;
  e.image_bands = 4;
  expect_refused(e, "4 bands", "JPEG of 4 bands");
  e.bands = {0, 1, 2};
  e.options.jpeg_quality = 0;
  expect_refused(e, "quality 0", "JPEG quality 0");
  e.options = {};
  e.options.tile_size = 100;
  expect_refused(e, "tile size 100", "tile size 100");
  e.options.tile_size = 0;
  expect_refused(e, "tile size 0", "tile size 0");

  e.image = "grey";
  e.image_bands = 1;
  e.bands = {};
  e.options = {};
  e.region = Region{4, 4, 50, 50};
  ASSERT_OK(set("tiff.XResolution", "300"));  // text where the tag is a real
  expect_refused(e, "'tiff.XResolution'", "a text for a real");
  ASSERT_OK(remove("tiff.XResolution"));
  ASSERT_OK(set("tiff.GeoKeyDirectory", std::vector<int64_t>{1, 1, 0, 70000}));
  expect_refused(e, "'tiff.GeoKeyDirectory'", "an entry past 16 bits");
  ASSERT_OK(remove("tiff.GeoKeyDirectory"));
  ASSERT_OK(set("tiff.ResolutionUnit", int64_t(7)));  // libtiff refuses it
  expect_refused(e, "'tiff.ResolutionUnit'", "a value libtiff refuses");
  ASSERT_OK(remove("tiff.ResolutionUnit"));
  ASSERT_OK(set("tiff.ModelTiepoint", std::vector<double>{0, 0, 0, 1, 2, 3, 4}));
  expect_refused(e, "'tiff.ModelTiepoint'", "tiepoints not in sixes, to shift");
  ASSERT_OK(remove("tiff.ModelTiepoint"));
  ASSERT_OK(set("tiff.Orientation", int64_t(1)));
  expect_refused(e, "'tiff.Orientation'", "a tiff.* name of no kept tag");
  ASSERT_OK(remove("tiff.Orientation"));
  write_file(out, "precious");
  EXPECT_OK(export_tiff(*container_, e, out));  // all of them gone: it exports
  EXPECT_NE(read_file(out), "precious");
}

// Memory and the format's offsets bound what one export writes: a row of tiles past 1 GiB,
// or uncompressed pixels past 4 GiB in a classic TIFF, is refused before a block is read.
TEST_F(TiffExportTest, RefusesOutputsPastItsBounds) {
  ASSERT_OK(make_image(*container_, "wide", DataType::kU64, 8, 64, false, 8, 64, 64));
  const std::string out = path("big.tif");
  ExportCase e = export_case(DataType::kU64, 8, Compression::kZstd, 256);
  e.image = "wide";
  e.image_bands = 8;
  e.region = Region{0, 0, 5000000, 64};  // 256 rows x 5e6 pixels x 64 bytes
  Status st = export_tiff(*container_, e, out);
  EXPECT_CODE(st, Code::kInvalidArgument);
  EXPECT_NE(st.message().find("a row of 256 x 256 tiles"), std::string::npos) << st.message();
  e.bands = {0};
  e.options.compression = Compression::kNone;
  e.options.bigtiff = BigTiff::kNo;
  e.options.tile_size = 16;
  e.region = Region{0, 0, 30000, 30000};  // 7.2 GB of u64
  st = export_tiff(*container_, e, out);
  EXPECT_CODE(st, Code::kInvalidArgument);
  EXPECT_NE(st.message().find("classic TIFF"), std::string::npos) << st.message();
  EXPECT_FALSE(any_output(out));
}

// A sink that fails at its Nth block, as a disk that goes away would.
class FailingSink : public RasterSink {
 public:
  FailingSink(RasterSink& inner, int fail_at) : inner_(inner), fail_at_(fail_at) {}
  Status begin(const RasterShape& shape, Interleave interleave, const RasterMetadata& metadata) override {
    return inner_.begin(shape, interleave, metadata);
  }
  Status write(const Region& block, const void* data, size_t size) override {
    if (++writes_ == fail_at_) return Status(Code::kIoError, "the output disk went away (simulated)");
    return inner_.write(block, data, size);
  }
  Status finish() override { return inner_.finish(); }
  void abort() override { inner_.abort(); }

 private:
  RasterSink& inner_;
  const int fail_at_;
  int writes_ = 0;
};

// A failed export leaves neither OUT nor OUT.part, and an existing OUT as it was: into a
// directory that does not exist, at the file size limit (a full disk: kNoSpace, libtiff's
// complaint in the Status and not on stderr), in mid-export, and onto a directory.
TEST_F(TiffExportTest, FailedWritesLeaveNothing) {
  ASSERT_OK(make_image(*container_, "noise", DataType::kU16, 2, 32, false, 12, 200, 200));  // 160 kB
  ExportCase e = export_case(DataType::kU16, 2, Compression::kNone, 32);
  e.image = "noise";

  const std::string missing = path("no/such/dir/out.tif");
  EXPECT_CODE(export_tiff(*container_, e, missing), Code::kNotFound);
  EXPECT_FALSE(any_output(missing));

  const std::string out = path("limited.tif");
  for (bool existing : {false, true}) {
    if (existing) write_file(out, "precious");
    struct rlimit old_limit;
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // the limit says EFBIG, not kill
    struct rlimit limit = old_limit;
    limit.rlim_cur = 64 << 10;
    Status st;
    std::string printed;
    {
      StderrCapture stderr_text(path("stderr.txt"));
      ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
      st = export_tiff(*container_, e, out);
      ::setrlimit(RLIMIT_FSIZE, &old_limit);
      printed = stderr_text.text();
    }
    ::signal(SIGXFSZ, old_handler);
    EXPECT_CODE(st, Code::kNoSpace);
    EXPECT_NE(st.message().find(out + ".part"), std::string::npos) << st.message();
    EXPECT_EQ(printed, "");
    EXPECT_FALSE(fs::exists(out + ".part"));
    if (existing) {
      EXPECT_EQ(read_file(out), "precious");
    } else {
      EXPECT_FALSE(fs::exists(out));
    }
  }

  for (int fail_at : {1, 3}) {
    std::unique_ptr<RasterSink> tiff = make_tiff_sink(out, e.options);
    FailingSink failing(*tiff, fail_at);
    ExportOptions options;
    options.image = "noise";
    EXPECT_CODE(export_raster(*container_, failing, options), Code::kIoError);
    EXPECT_EQ(read_file(out), "precious");
    EXPECT_FALSE(fs::exists(out + ".part"));
  }

  fs::remove(out);
  fs::create_directories(out + "/keep");
  const Status onto_dir = export_tiff(*container_, e, out);
  EXPECT_FALSE(onto_dir.is_ok());
  EXPECT_NE(onto_dir.message().find("cannot rename"), std::string::npos) << onto_dir.message();
  EXPECT_FALSE(fs::exists(out + ".part"));
  EXPECT_TRUE(fs::is_directory(out + "/keep"));
}

}  // namespace
}  // namespace tessera
