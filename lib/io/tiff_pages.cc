// list_tiff_pages and looks_like_tiff (tessera/tiff.h): what a TIFF holds, page by page, and
// whether Tessera can import each page.
#include <string>
#include <vector>

#include "io/tiff_import.h"
#include "tessera/tiff.h"
#include "util/posix_file.h"

namespace tessera {
namespace io_detail {

Result<std::vector<TiffPage>> list_tiff_pages(const std::shared_ptr<const TiffBytes>& bytes,
                                              const TiffReadLimits& limits) {
  auto handle = TiffHandle::open_for_reading(bytes, limits.max_libtiff_alloc);
  if (!handle) return handle.status();
  TiffHandle& tiff = *handle;
  if (TIFFLastDirectory(tiff.get()))
    return Status(Code::kCorrupt, tiff.name() + ": the file holds no page (its first IFD offset is 0)");

  std::vector<TiffPage> pages;
  for (uint32_t page = 0; !TIFFLastDirectory(tiff.get()); ++page) {
    TiffPage entry;
    entry.index = page;
    const Status read = read_next_tiff_page(tiff, page);
    if (read.code() == Code::kUnsupported) {
      // A directory libtiff refuses for its layout: the page is listed with the reason (the
      // message after "NAME: page N: "); its size is what libtiff read before refusing.
      const std::string prefix = tiff.name() + ": page " + std::to_string(page) + ": ";
      entry.unsupported = read.message().substr(prefix.size());
      uint32_t width = 0, height = 0;
      uint16_t samples = 0;
      TIFFGetField(tiff.get(), TIFFTAG_IMAGEWIDTH, &width);
      TIFFGetField(tiff.get(), TIFFTAG_IMAGELENGTH, &height);
      TIFFGetField(tiff.get(), TIFFTAG_SAMPLESPERPIXEL, &samples);
      entry.shape = RasterShape{width, height, samples, DataType::kU8};
      pages.push_back(std::move(entry));
      continue;
    }
    if (!read) return read;
    // The page as stored: a palette is listed as its indexes (expanding it is the import's
    // choice, and unsupported says how).
    const TiffLayout layout = read_tiff_layout(tiff.get(), TiffSourceOptions{}, limits);
    entry.shape = layout.shape;
    entry.tiled = layout.tiled;
    entry.reduced = layout.reduced;
    entry.mask = layout.mask;
    entry.subifds = layout.subifds;
    entry.compression = tiff_compression_name(layout.compression);
    entry.unsupported = layout.unsupported;
    pages.push_back(std::move(entry));
  }
  return pages;
}

}  // namespace io_detail

Result<std::vector<TiffPage>> list_tiff_pages(const std::string& path) {
  auto bytes = io_detail::TiffBytes::open_file(path);
  if (!bytes) return bytes.status();
  return io_detail::list_tiff_pages(*bytes);
}

bool looks_like_tiff(const std::string& path) {
  auto file = detail::File::open_for_reading(path);
  if (!file) return false;
  uint8_t signature[4];
  return file->read_at(signature, sizeof signature, 0).is_ok() &&
         io_detail::is_tiff_signature(signature);
}

}  // namespace tessera
