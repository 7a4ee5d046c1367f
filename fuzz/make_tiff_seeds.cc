// Writes the seed corpus of fuzz_tiff_import: small TIFFs written by libtiff in the layouts the
// source reads differently (tiled and striped, interleaved and planar, a strip large enough
// for the fuzz build's limits to read it row by row, JPEG YCbCr, a palette, several pages with
// a SubIFD, classic and BigTIFF, both byte orders, GeoTIFF tags). Deterministic: running it
// again writes the same bytes. The build runs it (fuzz/CMakeLists.txt), so the corpus is
// never kept in the tree.
//
//   fuzz_make_tiff_seeds DIR
#include <tiffio.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

int fail(TIFF*, void*, const char* module, const char* format, va_list args) {
  std::fprintf(stderr, "fuzz_make_tiff_seeds: %s: ", module ? module : "libtiff");
  std::vfprintf(stderr, format, args);
  std::fprintf(stderr, "\n");
  std::exit(1);
}
int quiet(TIFF*, void*, const char*, const char*, va_list) { return 1; }

TIFF* create(const fs::path& path, const char* mode) {
  TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(options, fail, nullptr);
  TIFFOpenOptionsSetWarningHandlerExtR(options, quiet, nullptr);
  TIFF* tif = TIFFOpenExt(path.c_str(), mode, options);
  TIFFOpenOptionsFree(options);
  if (!tif) std::exit(1);
  return tif;
}

struct Page {
  uint32_t width = 40, height = 24;
  uint16_t samples = 1, bits = 8, format = SAMPLEFORMAT_UINT;
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  uint16_t compression = COMPRESSION_NONE, predictor = PREDICTOR_NONE;
  bool planar = false;
  uint32_t tile = 0;           // tiled when not 0 (tile x tile)
  uint32_t rows_per_strip = 8;
  uint32_t subfile = 0;
  const char* description = nullptr;
};

// A gentle ramp with a little pattern: compressible, so seeds stay small.
uint8_t sample_byte(uint32_t x, uint32_t y, uint32_t s, uint32_t i) {
  return uint8_t(x * 3 + y * 5 + s * 40 + i * 17 + ((x ^ y) & 7));
}

void write_page(TIFF* tif, const Page& p) {
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, p.width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, p.height);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, p.samples);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, p.bits);
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, p.format);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, p.photometric);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, p.planar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, p.compression);
  if (p.subfile) TIFFSetField(tif, TIFFTAG_SUBFILETYPE, p.subfile);
  if (p.description) {
    TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, p.description);
    TIFFSetField(tif, TIFFTAG_XRESOLUTION, 300.0);
    TIFFSetField(tif, TIFFTAG_YRESOLUTION, 300.0);
    TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, uint16_t(RESUNIT_INCH));
  }
  if (p.predictor != PREDICTOR_NONE) TIFFSetField(tif, TIFFTAG_PREDICTOR, p.predictor);
  if (p.compression == COMPRESSION_JPEG && p.photometric == PHOTOMETRIC_YCBCR) {
    TIFFSetField(tif, TIFFTAG_YCBCRSUBSAMPLING, 2, 2);
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  }
  if (p.photometric == PHOTOMETRIC_PALETTE) {
    std::vector<uint16_t> map(3 * 256);
    for (size_t i = 0; i < map.size(); ++i) map[i] = uint16_t(i * 257);
    TIFFSetField(tif, TIFFTAG_COLORMAP, map.data(), map.data() + 256, map.data() + 512);
  }
  if (p.tile) {
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, p.tile);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, p.tile);
  } else {
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, p.rows_per_strip);
  }
  const uint32_t planes = p.planar ? p.samples : 1, per = p.planar ? 1 : p.samples;
  const uint32_t bytes = p.bits / 8;
  const uint32_t cw = p.tile ? p.tile : p.width, ch = p.tile ? p.tile : p.rows_per_strip;
  for (uint32_t plane = 0; plane < planes; ++plane)
    for (uint32_t y0 = 0; y0 < p.height; y0 += ch)
      for (uint32_t x0 = 0; x0 < p.width; x0 += cw) {
        const uint32_t rows = p.tile ? ch : std::min(ch, p.height - y0);
        std::vector<uint8_t> chunk(size_t(cw) * rows * per * bytes);
        for (uint32_t y = 0; y < rows; ++y)
          for (uint32_t x = 0; x < cw; ++x)
            for (uint32_t s = 0; s < per; ++s)
              for (uint32_t i = 0; i < bytes; ++i)
                chunk[((size_t(y) * cw + x) * per + s) * bytes + i] =
                    sample_byte(x0 + x, y0 + y, plane + s, i);
        if (p.tile)
          TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, x0, y0, 0, uint16_t(plane)), chunk.data(),
                               tmsize_t(chunk.size()));
        else
          TIFFWriteEncodedStrip(tif, TIFFComputeStrip(tif, y0, uint16_t(plane)), chunk.data(),
                                tmsize_t(chunk.size()));
      }
  TIFFWriteDirectory(tif);
}

void write_file(const fs::path& dir, const char* name, const char* mode, const std::vector<Page>& pages) {
  TIFF* tif = create(dir / name, mode);
  for (const Page& p : pages) write_page(tif, p);
  TIFFClose(tif);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_tiff_seeds DIR\n");
    return 2;
  }
  const fs::path dir = argv[1];
  fs::create_directories(dir);

  Page gray;  // striped, uncompressed, with tags kept as attributes
  gray.description = "a seed";
  write_file(dir, "gray_u8_striped.tif", "wl", {gray});

  Page rgb;
  rgb.samples = 3;
  rgb.photometric = PHOTOMETRIC_RGB;
  rgb.compression = COMPRESSION_LZW;
  rgb.predictor = PREDICTOR_HORIZONTAL;
  rgb.tile = 16;
  write_file(dir, "rgb_u8_tiled_lzw.tif", "wl", {rgb});

  Page planar = rgb;
  planar.bits = 16;
  planar.planar = true;
  planar.compression = COMPRESSION_ADOBE_DEFLATE;
  write_file(dir, "rgb_u16_planar_deflate_bigtiff_be.tif", "w8b", {planar});

  Page huge_strip;  // 80 x 72 x 3: 17 KiB, over the fuzz build's 16 KiB: read row by row
  huge_strip.width = 80;
  huge_strip.height = 72;
  huge_strip.samples = 3;
  huge_strip.photometric = PHOTOMETRIC_RGB;
  huge_strip.rows_per_strip = 72;
  huge_strip.compression = COMPRESSION_ZSTD;
  write_file(dir, "rgb_u8_one_strip_zstd.tif", "wl", {huge_strip});

  Page floats;
  floats.bits = 32;
  floats.format = SAMPLEFORMAT_IEEEFP;
  floats.samples = 2;
  floats.compression = COMPRESSION_ADOBE_DEFLATE;
  floats.predictor = PREDICTOR_FLOATINGPOINT;
  floats.tile = 16;
  write_file(dir, "f32_tiled_float_predictor.tif", "wl", {floats});

  Page jpeg = rgb;
  jpeg.width = jpeg.height = 32;
  jpeg.predictor = PREDICTOR_NONE;
  jpeg.compression = COMPRESSION_JPEG;
  jpeg.photometric = PHOTOMETRIC_YCBCR;
  write_file(dir, "ycbcr_jpeg_tiled.tif", "wl", {jpeg});

  Page palette = gray;
  palette.description = nullptr;
  palette.photometric = PHOTOMETRIC_PALETTE;
  palette.compression = COMPRESSION_PACKBITS;
  write_file(dir, "palette_packbits.tif", "wl", {palette});

  // Three pages: full resolution with a SubIFD, a reduced one, a 1-bit mask.
  {
    TIFF* tif = create(dir / "pages_subifd_mask.tif", "wb");
    Page full = gray;
    full.description = nullptr;
    full.bits = 16;
    full.format = SAMPLEFORMAT_INT;
    full.compression = COMPRESSION_LZMA;
    uint64_t subifd = 0;
    TIFFSetField(tif, TIFFTAG_SUBIFD, uint16_t(1), &subifd);
    write_page(tif, full);
    Page reduced = full;
    reduced.width = 20, reduced.height = 12;
    reduced.subfile = FILETYPE_REDUCEDIMAGE;
    write_page(tif, reduced);  // the SubIFD
    write_page(tif, reduced);
    Page mask;
    mask.bits = 1;
    mask.width = 40, mask.height = 24;
    mask.photometric = PHOTOMETRIC_MASK;
    mask.subfile = FILETYPE_MASK;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, mask.width);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, mask.height);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(1));
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(1));
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MASK);
    TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_MASK);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, mask.height);
    std::vector<uint8_t> bits(5 * 24, 0xA5);
    TIFFWriteEncodedStrip(tif, 0, bits.data(), tmsize_t(bits.size()));
    TIFFWriteDirectory(tif);
    TIFFClose(tif);
  }
  return 0;
}
