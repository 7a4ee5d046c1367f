// The TIFF import's internals (tessera/tiff.h): what a page's directory says and whether
// Tessera can read it (tiff_layout.cc), the listing of pages (tiff_pages.cc) and the source
// (tiff_source.cc), over any TiffBytes: the public functions open files, the fuzz target
// passes bytes in memory and tighter limits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/tiff_open.h"
#include "tessera/tiff.h"

namespace tessera::io_detail {

// What a TIFF source may hold in memory. The defaults keep an import's peak well under 1 GiB
// whatever the size of the page.
struct TiffReadLimits {
  // Decoded tiles or strips kept for the blocks that follow (the importer asks for blocks a
  // strip of image tiles at a time, so a row of TIFF tiles is used several times), or the
  // window of rows of a page read row by row.
  uint64_t cache_bytes = uint64_t(256) << 20;
  // A strip that decodes to more is read row by row (TIFFReadScanline) instead of whole.
  uint64_t max_strip_bytes = uint64_t(64) << 20;
  // A tile that decodes to more is refused (kUnsupported): libtiff decodes a tile whole.
  uint64_t max_tile_bytes = uint64_t(256) << 20;
  // libtiff's largest single allocation (TIFFOpenOptionsSetMaxSingleMemAlloc).
  uint64_t max_libtiff_alloc = uint64_t(1) << 30;
};

// A page as its directory describes it, and what an import of it gives.
struct TiffLayout {
  uint32_t width = 0, height = 0;
  uint16_t samples = 0;         // SamplesPerPixel
  uint16_t bits = 0;            // BitsPerSample (the same for every sample: libtiff checks)
  uint16_t sample_format = SAMPLEFORMAT_UINT;
  uint16_t photometric = 0;
  uint16_t compression = COMPRESSION_NONE;
  bool planar = false;          // PlanarConfiguration separate: one plane per sample
  bool tiled = false;
  uint32_t tile_width = 0, tile_height = 0;  // tiled
  uint32_t rows_per_strip = 0;               // striped (at most the height)
  bool reduced = false, mask = false;        // NewSubfileType
  uint32_t subifds = 0;
  bool ycbcr_to_rgb = false;    // JPEG-compressed YCbCr, decoded to RGB by libjpeg
  bool palette = false;         // colour-mapped, expanded to 3 bands of u16
  // What the source gives (for a page Tessera cannot read: its size and samples per pixel,
  // and u8 where the type has no equivalent).
  RasterShape shape;
  std::string unsupported;      // why Tessera cannot read the page; empty when it can

  // Samples per pixel of a decoded tile or strip (1 per plane when planar; 3 after JPEG's
  // YCbCr to RGB; the palette index before expansion).
  uint32_t chunk_samples() const { return planar ? 1 : samples; }
  uint32_t planes() const { return planar ? samples : 1; }
  size_t sample_bytes() const { return bits / 8; }
};

// The layout of the current directory of `tiff`, and whether Tessera can read it with
// `options` and `limits`.
TiffLayout read_tiff_layout(TIFF* tiff, const TiffSourceOptions& options,
                            const TiffReadLimits& limits);

// "none", "lzw", "deflate", "zstd", "jpeg", ...; "compression N" for a scheme without a name.
std::string tiff_compression_name(uint16_t compression);

// Makes page `page` the current directory of `tiff` (TIFFSetDirectory): kNotFound naming the
// number of pages when there is no such page; kUnsupported when libtiff refuses the directory
// for a layout it cannot represent (BitsPerSample or SampleFormat differing between samples);
// kCorrupt with libtiff's reasons otherwise. Messages begin "NAME: page N: ".
Status select_tiff_page(TiffHandle& tiff, uint32_t page);
// Reads the directory after the current one (the first after opening): as select_tiff_page,
// without walking the chain from its start again (listing stays linear in the pages).
Status read_next_tiff_page(TiffHandle& tiff, uint32_t page);

// list_tiff_pages and open_tiff_source (tessera/tiff.h) over any bytes.
Result<std::vector<TiffPage>> list_tiff_pages(const std::shared_ptr<const TiffBytes>& bytes,
                                              const TiffReadLimits& limits = {});
Result<std::unique_ptr<RasterSource>> open_tiff_source(std::shared_ptr<const TiffBytes> bytes,
                                                       uint32_t page,
                                                       const TiffSourceOptions& options,
                                                       const TiffReadLimits& limits = {});

}  // namespace tessera::io_detail
