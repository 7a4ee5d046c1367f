// What a page's directory says, whether Tessera can import the page, and moving a handle from
// page to page with libtiff's refusals sorted into layouts Tessera does not support
// (kUnsupported) and damage (kCorrupt). Shared by the listing and the source.
#include <string>

#include "io/blocks.h"
#include "io/tiff_import.h"

namespace tessera::io_detail {
namespace {

std::string page_prefix(const TiffHandle& tiff, uint32_t page) {
  return tiff.name() + ": page " + std::to_string(page) + ": ";
}

// The directory libtiff just failed to read, as a Status. libtiff keeps one BitsPerSample and
// one SampleFormat per directory and refuses, with these words, a directory whose samples
// differ: a layout Tessera cannot import either, not damage. Anything else is damage.
Status directory_failure(TiffHandle& tiff, uint32_t page) {
  const std::string errors = tiff.take_errors();
  tiff.clear_messages();
  const std::string prefix = page_prefix(tiff, page);
  if (errors.find("different values per sample for \"BitsPerSample\"") != std::string::npos)
    return Status(Code::kUnsupported,
                  prefix + "mixed bit depths (BitsPerSample differs between samples) are not supported");
  if (errors.find("different values per sample for \"SampleFormat\"") != std::string::npos)
    return Status(Code::kUnsupported,
                  prefix + "mixed sample formats (SampleFormat differs between samples) are not supported");
  return Status(Code::kCorrupt, prefix + "libtiff cannot read the page's directory: " +
                                    (errors.empty() ? "no reason given" : errors));
}

// Tessera's type for samples of `bits` bits in `format`, or why there is none.
Result<DataType> sample_type(uint16_t bits, uint16_t format) {
  const auto unsupported = [](std::string why) { return Status(Code::kUnsupported, std::move(why)); };
  if (bits == 1) return unsupported("1-bit samples (a bilevel image) are not supported");
  if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
    return unsupported(std::to_string(bits) + "-bit samples are not supported");
  switch (format) {
    case SAMPLEFORMAT_UINT:
    case SAMPLEFORMAT_VOID:  // "untyped": read as unsigned, as libtiff's tools do
      return bits == 8 ? DataType::kU8 : bits == 16 ? DataType::kU16
             : bits == 32 ? DataType::kU32 : DataType::kU64;
    case SAMPLEFORMAT_INT:
      return bits == 8 ? DataType::kI8 : bits == 16 ? DataType::kI16
             : bits == 32 ? DataType::kI32 : DataType::kI64;
    case SAMPLEFORMAT_IEEEFP:
      if (bits == 32) return DataType::kF32;
      if (bits == 64) return DataType::kF64;
      return unsupported(std::to_string(bits) + "-bit floating-point samples are not supported");
    case SAMPLEFORMAT_COMPLEXINT:
    case SAMPLEFORMAT_COMPLEXIEEEFP:
      return unsupported("complex samples are not supported");
    default:
      return unsupported("SampleFormat " + std::to_string(format) + " is not supported");
  }
}

// Why Tessera cannot read the page, or "". Checked in the order a reader would ask: can
// libtiff decode it, are its samples a Tessera type, does its colour model need a conversion
// Tessera does not make, and do its tiles or rows fit in memory.
std::string find_unsupported(TIFF* tiff, TiffLayout& l, const TiffSourceOptions& options,
                             const TiffReadLimits& limits) {
  if (l.width == 0 || l.height == 0) return "the page has no pixels";
  if (l.samples == 0) return "SamplesPerPixel is 0";
  if (l.compression == COMPRESSION_OJPEG)
    return "old-style JPEG compression (6) is not supported";
  if (l.photometric == PHOTOMETRIC_LOGL || l.photometric == PHOTOMETRIC_LOGLUV ||
      l.compression == COMPRESSION_SGILOG || l.compression == COMPRESSION_SGILOG24)
    return "LogLuv images are not supported";
  if (!TIFFIsCODECConfigured(l.compression))
    return "compression " + tiff_compression_name(l.compression) +
           " is not available in this build of libtiff";

  auto type = sample_type(l.bits, l.sample_format);
  if (!type) return type.status().message();
  l.shape = RasterShape{l.width, l.height, l.samples, *type};

  if (l.photometric == PHOTOMETRIC_PALETTE) {
    if (l.samples != 1) return "a palette image with " + std::to_string(l.samples) + " samples per pixel";
    if (l.sample_format == SAMPLEFORMAT_IEEEFP) return "a palette image of floating-point indexes";
    if (l.bits > 16) return "a palette image of " + std::to_string(l.bits) + "-bit indexes";
    if (!options.expand_palette) return "a palette image: import with --expand-palette";
    l.palette = true;
    l.shape.bands = 3;
    l.shape.type = DataType::kU16;  // the colour map's type
  }
  if (l.photometric == PHOTOMETRIC_YCBCR) {
    uint16_t h = 1, v = 1;
    TIFFGetFieldDefaulted(tiff, TIFFTAG_YCBCRSUBSAMPLING, &h, &v);
    if (l.compression == COMPRESSION_JPEG && !l.planar && l.samples == 3) {
      l.ycbcr_to_rgb = true;  // libjpeg upsamples and converts (JPEGCOLORMODE_RGB)
    } else if (h != 1 || v != 1) {
      return "YCbCr subsampled " + std::to_string(h) + "x" + std::to_string(v) +
             " is supported only in JPEG-compressed pages of 3 interleaved samples";
    }
  }

  uint16_t predictor = PREDICTOR_NONE;
  if (TIFFGetField(tiff, TIFFTAG_PREDICTOR, &predictor) && predictor != PREDICTOR_NONE &&
      predictor != PREDICTOR_HORIZONTAL &&
      !(predictor == PREDICTOR_FLOATINGPOINT && l.sample_format == SAMPLEFORMAT_IEEEFP))
    return "Predictor " + std::to_string(predictor) + " is not supported with these samples";

  const uint64_t pixel = uint64_t(l.chunk_samples()) * l.sample_bytes();
  if (l.tiled) {
    if (l.tile_width == 0 || l.tile_height == 0)
      return "tiles of " + std::to_string(l.tile_width) + "x" + std::to_string(l.tile_height);
    const uint64_t tile = mul_saturated(mul_saturated(l.tile_width, l.tile_height), pixel);
    if (tile > limits.max_tile_bytes)
      return "tiles of " + std::to_string(l.tile_width) + "x" + std::to_string(l.tile_height) +
             " (" + std::to_string(tile) + " bytes decoded) are larger than the " +
             std::to_string(limits.max_tile_bytes) + " bytes Tessera decodes at once";
  } else {
    // A strip too large to decode at once is read row by row, a row of every plane at least.
    const uint64_t rows = mul_saturated(mul_saturated(l.width, pixel), l.planes());
    if (rows > limits.cache_bytes)
      return "a row of " + std::to_string(rows) + " bytes is larger than the " +
             std::to_string(limits.cache_bytes) + " bytes Tessera keeps decoded at once";
  }
  return "";
}

}  // namespace

std::string tiff_compression_name(uint16_t compression) {
  switch (compression) {
    case COMPRESSION_NONE: return "none";
    case COMPRESSION_CCITTRLE: return "ccitt-rle";
    case COMPRESSION_CCITTFAX3: return "ccitt-fax3";
    case COMPRESSION_CCITTFAX4: return "ccitt-fax4";
    case COMPRESSION_LZW: return "lzw";
    case COMPRESSION_OJPEG: return "ojpeg";
    case COMPRESSION_JPEG: return "jpeg";
    case COMPRESSION_ADOBE_DEFLATE: return "deflate";
    case COMPRESSION_DEFLATE: return "deflate";  // the same codec under its older number
    case COMPRESSION_NEXT: return "next";
    case COMPRESSION_CCITTRLEW: return "ccitt-rlew";
    case COMPRESSION_PACKBITS: return "packbits";
    case COMPRESSION_THUNDERSCAN: return "thunderscan";
    case COMPRESSION_PIXARLOG: return "pixarlog";
    case COMPRESSION_JBIG: return "jbig";
    case COMPRESSION_SGILOG: return "sgilog";
    case COMPRESSION_SGILOG24: return "sgilog24";
    case COMPRESSION_JP2000: return "jpeg2000";
    case COMPRESSION_LERC: return "lerc";
    case COMPRESSION_LZMA: return "lzma";
    case COMPRESSION_ZSTD: return "zstd";
    case COMPRESSION_WEBP: return "webp";
    case COMPRESSION_JXL: return "jxl";
    default: return "compression " + std::to_string(compression);
  }
}

TiffLayout read_tiff_layout(TIFF* tiff, const TiffSourceOptions& options,
                            const TiffReadLimits& limits) {
  TiffLayout l;
  uint16_t planar = PLANARCONFIG_CONTIG;
  uint32_t subfile = 0;
  TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &l.width);
  TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &l.height);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLESPERPIXEL, &l.samples);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &l.bits);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLEFORMAT, &l.sample_format);
  TIFFGetField(tiff, TIFFTAG_PHOTOMETRIC, &l.photometric);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_COMPRESSION, &l.compression);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SUBFILETYPE, &subfile);
  l.planar = planar == PLANARCONFIG_SEPARATE && l.samples > 1;
  l.reduced = (subfile & FILETYPE_REDUCEDIMAGE) != 0;
  l.mask = (subfile & FILETYPE_MASK) != 0;
  uint16_t subifds = 0;
  const uint64_t* offsets = nullptr;
  if (TIFFGetField(tiff, TIFFTAG_SUBIFD, &subifds, &offsets)) l.subifds = subifds;
  l.tiled = TIFFIsTiled(tiff) != 0;
  if (l.tiled) {
    TIFFGetField(tiff, TIFFTAG_TILEWIDTH, &l.tile_width);
    TIFFGetField(tiff, TIFFTAG_TILELENGTH, &l.tile_height);
  } else {
    TIFFGetFieldDefaulted(tiff, TIFFTAG_ROWSPERSTRIP, &l.rows_per_strip);
    if (l.rows_per_strip == 0 || l.rows_per_strip > l.height) l.rows_per_strip = l.height;
  }
  l.shape = RasterShape{l.width, l.height, l.samples, DataType::kU8};
  l.unsupported = find_unsupported(tiff, l, options, limits);
  return l;
}

Status select_tiff_page(TiffHandle& tiff, uint32_t page) {
  tiff.clear_messages();
  if (TIFFSetDirectory(tiff.get(), tdir_t(page))) {
    tiff.clear_messages();  // warnings about a directory libtiff read are not Tessera's concern
    return Status::ok();
  }
  if (tiff.has_errors()) return directory_failure(tiff, page);
  // The chain of pages ends before `page`.
  const tdir_t pages = TIFFNumberOfDirectories(tiff.get());
  tiff.clear_messages();
  return Status(Code::kNotFound, tiff.name() + ": page " + std::to_string(page) +
                                     " does not exist: the file has " + std::to_string(pages) +
                                     (pages == 1 ? " page" : " pages"));
}

Status read_next_tiff_page(TiffHandle& tiff, uint32_t page) {
  tiff.clear_messages();
  if (TIFFReadDirectory(tiff.get())) {
    tiff.clear_messages();
    return Status::ok();
  }
  return directory_failure(tiff, page);
}

}  // namespace tessera::io_detail
