// The TIFF RasterSource (tessera/tiff.h): one page of a TIFF or BigTIFF, decoded by libtiff a
// tile or a strip at a time and copied into the importer's blocks.
//
// Memory stays bounded whatever the page's size. The importer asks for blocks a strip of image
// tiles at a time, top to bottom and left to right, so the source keeps the decoded TIFF
// tiles or strips it used last (up to TiffReadLimits::cache_bytes, least recently used
// dropped first): a row of TIFF tiles is decoded once even when it spans several strips of
// blocks. A strip too large to decode whole (RowsPerStrip = height, compressed) is read row by
// row in order with TIFFReadScanline into a window of rows instead, one libtiff handle per
// plane so that the planes of a planar page each stream on their own.
//
// It never hands out samples a decoder did not produce: a tile or strip that fails to decode,
// or whose decoder warned of damage, is an error naming the file, page and tile, never pixels.
#include <bit>
#include <cstring>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/blocks.h"
#include "io/samples.h"
#include "io/tiff_import.h"
#include "io/tiff_tags.h"
#include "tessera/tiff.h"

namespace tessera {
namespace io_detail {
namespace {

static_assert(std::endian::native == std::endian::little,
              "libtiff hands samples in the host's byte order; Tessera's are little-endian");

std::string page_prefix(const std::string& name, uint32_t page) {
  return name + ": page " + std::to_string(page) + ": ";
}

// ---------------------------------------------------------------------------------------------
// Decoder messages

// Warnings libtiff gives while decoding that say nothing about the pixels being wrong. Every
// other warning of a decode (libjpeg's "Corrupt JPEG data", PackBits running out of data, a
// JPEG tile smaller than its place) means the decoder filled in what it could not read.
constexpr std::string_view kHarmlessWarnings[] = {
    "Old-style LZW codes",           // an old writer's LZW, decoded in full
    "not terminated with EOI code",  // LZW without its end code: a short strip is an error
    "encoded with progressive mode", // progressive JPEG, which libjpeg decodes in full
    "JPEG strip size exceeds expected dimensions",  // a last strip coded at full height
};

// What of libtiff's warnings (joined with "; ") says that a decode went wrong.
std::string harmful_warnings(const std::string& warnings) {
  std::string out;
  size_t start = 0;
  while (start < warnings.size()) {
    size_t end = warnings.find("; ", start);
    if (end == std::string::npos) end = warnings.size();
    const std::string_view warning(warnings.data() + start, end - start);
    bool harmless = false;
    for (std::string_view h : kHarmlessWarnings) harmless = harmless || warning.find(h) != std::string_view::npos;
    if (!harmless) out += (out.empty() ? "" : "; ") + std::string(warning);
    start = end + 2;
  }
  return out;
}

// Why a decode failed (`succeeded` false, or libtiff complained), or "" when it did not.
// `otherwise` says what failed when libtiff gave no reason.
std::string decode_failure(TiffHandle& tiff, bool succeeded, const std::string& otherwise) {
  std::string why = tiff.take_errors();
  const std::string warned = harmful_warnings(tiff.take_warnings());
  if (!warned.empty()) why += (why.empty() ? "" : "; ") + warned;
  if (why.empty() && !succeeded) why = otherwise;
  return why;
}

// ---------------------------------------------------------------------------------------------
// Opening a page for decoding

// Checks that libtiff sizes the page's tiles or rows as Tessera does (after asking libjpeg for
// RGB where the page is JPEG-compressed YCbCr), so that every copy below stays inside what was
// decoded.
Status prepare_decoding(TiffHandle& tiff, const TiffLayout& l, uint32_t page) {
  TIFF* t = tiff.get();
  const std::string prefix = page_prefix(tiff.name(), page);
  if (l.ycbcr_to_rgb && !TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB))
    return Status(Code::kCorrupt, prefix + "libtiff cannot decode its YCbCr JPEG as RGB: " +
                                      tiff.take_errors());
  const uint64_t pixel = uint64_t(l.chunk_samples()) * l.sample_bytes();
  const uint64_t chunk_width = l.tiled ? l.tile_width : l.width;
  const uint64_t chunk_height = l.tiled ? l.tile_height : l.rows_per_strip;
  const uint64_t chunks = uint64_t(l.planes()) * ((l.width + chunk_width - 1) / chunk_width) *
                          ((l.height + chunk_height - 1) / chunk_height);
  const uint64_t line = chunk_width * pixel;
  const uint64_t libtiff_line = l.tiled ? TIFFTileRowSize64(t) : TIFFScanlineSize64(t);
  const uint64_t libtiff_size = l.tiled ? TIFFTileSize64(t) : TIFFStripSize64(t);
  const uint64_t libtiff_chunks = l.tiled ? TIFFNumberOfTiles(t) : TIFFNumberOfStrips(t);
  tiff.clear_messages();
  if (libtiff_line != line || libtiff_size != mul_saturated(line, chunk_height) ||
      libtiff_chunks != chunks)
    return Status(Code::kCorrupt,
                  prefix + "libtiff counts " + std::to_string(libtiff_chunks) + " " +
                      (l.tiled ? "tiles" : "strips") + " of " + std::to_string(libtiff_size) +
                      " bytes in lines of " + std::to_string(libtiff_line) +
                      " where its tags describe " + std::to_string(chunks) + " of " +
                      std::to_string(mul_saturated(line, chunk_height)) + " in lines of " +
                      std::to_string(line));
  return Status::ok();
}

// Another handle on page `page` of `bytes`, ready to decode.
Result<TiffHandle> open_page(const std::shared_ptr<const TiffBytes>& bytes, uint32_t page,
                             const TiffLayout& layout, const TiffReadLimits& limits) {
  TESSERA_ASSIGN_OR_RETURN(TiffHandle tiff,
                           TiffHandle::open_for_reading(bytes, limits.max_libtiff_alloc));
  TESSERA_RETURN_IF_ERROR(select_tiff_page(tiff, page));
  TESSERA_RETURN_IF_ERROR(prepare_decoding(tiff, layout, page));
  return tiff;
}

// ---------------------------------------------------------------------------------------------
// Where decoded samples come from

// Decoded samples of part of a block: `area` (page coordinates) of one plane (0 when the page
// is interleaved), its first sample at `data`, lines `line_bytes` apart, pixels packed.
struct Piece {
  Region area;
  uint32_t plane = 0;
  const uint8_t* data = nullptr;
  size_t line_bytes = 0;
};
using PieceFn = std::function<Status(const Piece&)>;

class PageReader {
 public:
  virtual ~PageReader() = default;
  // Calls fn with pieces covering `block` (inside the page) in every plane once, each piece
  // valid during the call only.
  virtual Status for_each_piece(const Region& block, const PieceFn& fn) = 0;
};

// Decoded chunks (tiles or strips) of one size, the least recently used dropped first.
class ChunkCache {
 public:
  // What an entry costs beside its samples (list and hash nodes): counted so that a page of
  // tiny tiles does not hold millions of them.
  static constexpr uint64_t kEntryBytes = 128;

  ChunkCache(size_t chunk_bytes, size_t capacity) : chunk_bytes_(chunk_bytes), capacity_(capacity) {}

  const uint8_t* find(uint32_t index) {
    auto it = where_.find(index);
    if (it == where_.end()) return nullptr;
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->data.get();
  }
  // The buffer `index` is decoded into, the oldest entry's once the cache is full. Zeroed
  // when new, so that no byte of it is ever uninitialized memory.
  uint8_t* make(uint32_t index) {
    std::unique_ptr<uint8_t[]> data;
    if (entries_.size() >= capacity_) {
      data = std::move(entries_.back().data);
      where_.erase(entries_.back().index);
      entries_.pop_back();
    } else {
      data = std::make_unique<uint8_t[]>(chunk_bytes_);
    }
    entries_.push_front(Entry{index, std::move(data)});
    where_[index] = entries_.begin();
    return entries_.front().data.get();
  }
  // Forgets `index` (its decode failed).
  void drop(uint32_t index) {
    auto it = where_.find(index);
    if (it == where_.end()) return;
    entries_.erase(it->second);
    where_.erase(it);
  }

 private:
  struct Entry {
    uint32_t index;
    std::unique_ptr<uint8_t[]> data;
  };
  const size_t chunk_bytes_;
  const size_t capacity_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<uint32_t, std::list<Entry>::iterator> where_;
};

// Tiles, or strips small enough to decode whole.
class ChunkReader final : public PageReader {
 public:
  ChunkReader(TiffHandle tiff, const TiffLayout& layout, uint32_t page, uint64_t cache_bytes)
      : tiff_(std::move(tiff)), layout_(layout), page_(page),
        width_(layout.tiled ? layout.tile_width : layout.width),
        height_(layout.tiled ? layout.tile_height : layout.rows_per_strip),
        across_(uint32_t((uint64_t(layout.width) + width_ - 1) / width_)),
        down_(uint32_t((uint64_t(layout.height) + height_ - 1) / height_)),
        pixel_bytes_(layout.chunk_samples() * layout.sample_bytes()),
        line_bytes_(size_t(width_) * pixel_bytes_),
        cache_(line_bytes_ * height_,
               size_t(std::max<uint64_t>(
                   1, cache_bytes / (uint64_t(line_bytes_) * height_ + ChunkCache::kEntryBytes)))) {}

  Status for_each_piece(const Region& block, const PieceFn& fn) override {
    const uint32_t cx0 = uint32_t(block.x / width_), cx1 = uint32_t((block.x_end() - 1) / width_);
    const uint32_t cy0 = uint32_t(block.y / height_), cy1 = uint32_t((block.y_end() - 1) / height_);
    for (uint32_t cy = cy0; cy <= cy1; ++cy)
      for (uint32_t cx = cx0; cx <= cx1; ++cx) {
        const Region rect{int64_t(cx) * width_, int64_t(cy) * height_, width_, height_};
        const Region area = block.intersect(rect);
        for (uint32_t plane = 0; plane < layout_.planes(); ++plane) {
          auto data = chunk(plane, cx, cy);
          if (!data) return data.status();
          const size_t offset = size_t(area.y - rect.y) * line_bytes_ + size_t(area.x - rect.x) * pixel_bytes_;
          TESSERA_RETURN_IF_ERROR(fn(Piece{area, plane, *data + offset, line_bytes_}));
        }
      }
    return Status::ok();
  }

 private:
  // The decoded chunk at column cx, row cy of `plane`, from the cache or decoded now.
  Result<const uint8_t*> chunk(uint32_t plane, uint32_t cx, uint32_t cy) {
    const uint32_t index = (plane * down_ + cy) * across_ + cx;
    if (const uint8_t* cached = cache_.find(index)) return cached;
    TIFF* t = tiff_.get();
    const uint32_t rows = std::min<uint32_t>(height_, layout_.height - cy * height_);
    // A strip holds only the rows left in the page; a tile is whole, padded past the edges.
    const int64_t expected = int64_t(layout_.tiled ? height_ : rows) * int64_t(line_bytes_);
    if (TIFFGetStrileByteCount(t, index) == 0) {
      tiff_.clear_messages();
      return Status(Code::kUnsupported,
                    describe(index, cx, cy, plane) +
                        ": it holds no bytes (a sparse file, as GDAL's SPARSE_OK writes): "
                        "Tessera does not import absent tiles or strips");
    }
    uint8_t* data = cache_.make(index);
    tiff_.clear_messages();
    const tmsize_t got = layout_.tiled ? TIFFReadEncodedTile(t, index, data, expected)
                                       : TIFFReadEncodedStrip(t, index, data, expected);
    const std::string why = decode_failure(
        tiff_, got == expected,
        "libtiff decoded " + std::to_string(got) + " of " + std::to_string(expected) + " bytes");
    if (!why.empty()) {
      cache_.drop(index);
      return Status(Code::kCorrupt, describe(index, cx, cy, plane) + ": cannot decode (" +
                                        tiff_compression_name(layout_.compression) + "): " + why);
    }
    return static_cast<const uint8_t*>(data);
  }

  // "NAME: page 0 tile 14 (x 768, y 256, band 1)" or "NAME: page 0 strip 3 (rows 48-63)".
  std::string describe(uint32_t index, uint32_t cx, uint32_t cy, uint32_t plane) const {
    const uint64_t y = uint64_t(cy) * height_;
    std::string where = layout_.tiled
        ? "tile " + std::to_string(index) + " (x " + std::to_string(uint64_t(cx) * width_) +
              ", y " + std::to_string(y)
        : "strip " + std::to_string(index) + " (rows " + std::to_string(y) + "-" +
              std::to_string(std::min<uint64_t>(y + height_, layout_.height) - 1);
    if (layout_.planar) where += ", band " + std::to_string(plane);
    return tiff_.name() + ": page " + std::to_string(page_) + " " + where + ")";
  }

  TiffHandle tiff_;
  const TiffLayout layout_;
  const uint32_t page_;
  const uint32_t width_, height_;  // of a chunk
  const uint32_t across_, down_;   // chunks in a row, in a column of one plane
  const size_t pixel_bytes_, line_bytes_;
  ChunkCache cache_;
};

// Strips too large to decode whole, read row by row in order into a window of full rows of
// every plane (one handle per plane: each keeps its own place in its strips).
class RowReader final : public PageReader {
 public:
  RowReader(std::shared_ptr<const TiffBytes> bytes, TiffHandle first, const TiffLayout& layout,
            uint32_t page, const TiffReadLimits& limits)
      : bytes_(std::move(bytes)), layout_(layout), page_(page), limits_(limits),
        row_bytes_(size_t(layout.width) * layout.chunk_samples() * layout.sample_bytes()),
        capacity_(uint32_t(std::clamp<uint64_t>(
            limits.cache_bytes / (uint64_t(row_bytes_) * layout.planes()), 1, layout.height))),
        window_(std::make_unique<uint8_t[]>(row_bytes_ * capacity_ * layout.planes())) {
    handles_.resize(layout.planes());
    next_.assign(layout.planes(), -1);
    handles_[0] = std::move(first);
  }

  Status for_each_piece(const Region& block, const PieceFn& fn) override {
    const size_t pixel_bytes = size_t(layout_.chunk_samples()) * layout_.sample_bytes();
    for (int64_t y = block.y; y < block.y_end();) {
      if (y < first_ || y >= first_ + count_) TESSERA_RETURN_IF_ERROR(load(uint32_t(y)));
      const int64_t rows = std::min<int64_t>(block.y_end(), first_ + count_) - y;
      for (uint32_t plane = 0; plane < layout_.planes(); ++plane)
        TESSERA_RETURN_IF_ERROR(fn(Piece{Region{block.x, y, block.width, rows}, plane,
                                         row(plane, uint32_t(y - first_)) + size_t(block.x) * pixel_bytes,
                                         row_bytes_}));
      y += rows;
    }
    return Status::ok();
  }

 private:
  uint8_t* row(uint32_t plane, uint32_t r) {
    return window_.get() + (size_t(plane) * capacity_ + r) * row_bytes_;
  }

  // Fills the window with the rows from `y` on.
  Status load(uint32_t y) {
    count_ = 0;
    first_ = y;
    const uint32_t n = std::min(capacity_, layout_.height - y);
    for (uint32_t plane = 0; plane < layout_.planes(); ++plane) {
      TESSERA_RETURN_IF_ERROR(skip_to(plane, y));
      for (uint32_t r = y; r < y + n; ++r) TESSERA_RETURN_IF_ERROR(read_row(plane, r, row(plane, r - y)));
    }
    count_ = n;
    return Status::ok();
  }

  // Readies plane `plane`'s handle to read row `y` next. libtiff reads the rows of a strip in
  // order only (most codecs cannot seek): from its current row forward within the strip, else
  // from the strip's first row, decoding the rows before `y` into the scratch row.
  Status skip_to(uint32_t plane, uint32_t y) {
    if (!handles_[plane]) {
      auto handle = open_page(bytes_, page_, layout_, limits_);
      if (!handle) return handle.status();
      handles_[plane] = std::move(handle).value();
      next_[plane] = -1;  // in no strip yet: any strip's first row reads next
    }
    const uint32_t strip_start = y - y % layout_.rows_per_strip;
    int64_t r = next_[plane] >= int64_t(strip_start) && next_[plane] <= int64_t(y) ? next_[plane]
                                                                                   : strip_start;
    if (scratch_.empty() && r < int64_t(y)) scratch_.resize(row_bytes_);
    for (; r < int64_t(y); ++r) TESSERA_RETURN_IF_ERROR(read_row(plane, uint32_t(r), scratch_.data()));
    return Status::ok();
  }

  Status read_row(uint32_t plane, uint32_t r, uint8_t* dst) {
    TiffHandle& tiff = *handles_[plane];
    tiff.clear_messages();
    const int done = TIFFReadScanline(tiff.get(), dst, r, uint16_t(plane));
    const std::string why = decode_failure(tiff, done == 1, "libtiff gave no reason");
    if (why.empty()) {
      next_[plane] = int64_t(r) + 1;
      return Status::ok();
    }
    handles_[plane].reset();  // its decoder's state is unknown: the next load reopens
    const uint32_t strips =
        uint32_t((uint64_t(layout_.height) + layout_.rows_per_strip - 1) / layout_.rows_per_strip);
    const uint32_t strip = plane * strips + r / layout_.rows_per_strip;
    return Status(Code::kCorrupt,
                  bytes_->name() + ": page " + std::to_string(page_) + " strip " +
                      std::to_string(strip) + " (row " + std::to_string(r) +
                      (layout_.planar ? ", band " + std::to_string(plane) : "") +
                      "): cannot decode (" + tiff_compression_name(layout_.compression) + "): " + why);
  }

  const std::shared_ptr<const TiffBytes> bytes_;
  const TiffLayout layout_;
  const uint32_t page_;
  const TiffReadLimits limits_;
  const size_t row_bytes_;   // of one plane
  const uint32_t capacity_;  // rows the window holds
  std::unique_ptr<uint8_t[]> window_;
  std::vector<std::optional<TiffHandle>> handles_;  // one per plane, opened when first needed
  std::vector<int64_t> next_;  // per plane: the row its handle reads next (-1: unknown)
  std::vector<uint8_t> scratch_;   // rows decoded only to get past them
  int64_t first_ = 0, count_ = 0;  // rows in the window
};

// ---------------------------------------------------------------------------------------------
// Copies

// Whether pixels are `bands` samples packed one after the other.
bool packed_pixels(const Strides& s, size_t bands, size_t sample_bytes) {
  return s.pixel == int64_t(bands * sample_bytes) && (bands == 1 || s.band == int64_t(sample_bytes));
}

// A w x h x bands piece from `src` to `dst`: one memcpy per line when both pack their pixels
// alike (the importer's blocks in the page's own interleave), sample by sample otherwise.
void copy_piece(const uint8_t* src, const Strides& src_strides, uint8_t* dst,
                const Strides& dst_strides, int64_t w, int64_t h, size_t bands, size_t sample_bytes) {
  if (packed_pixels(src_strides, bands, sample_bytes) &&
      packed_pixels(dst_strides, bands, sample_bytes)) {
    const size_t run = size_t(w) * bands * sample_bytes;
    for (int64_t y = 0; y < h; ++y)
      std::memcpy(dst + y * dst_strides.line, src + y * src_strides.line, run);
    return;
  }
  copy_samples(src, src_strides, dst, dst_strides, w, h, bands, sample_bytes);
}

// ---------------------------------------------------------------------------------------------
// The source

// "TIFF page 0 4000x3000x3 u8 tiled 256x256 contig jpeg": recorded with an import, so a resume
// compares it with the earlier run's. It never changes for the same file.
std::string describe(uint32_t page, const TiffLayout& l) {
  std::string out = "TIFF page " + std::to_string(page) + " " + std::to_string(l.width) + "x" +
                    std::to_string(l.height) + "x" + std::to_string(l.shape.bands) + " " +
                    std::string(data_type_name(l.shape.type)) + " ";
  out += l.tiled ? "tiled " + std::to_string(l.tile_width) + "x" + std::to_string(l.tile_height)
                 : "striped " + std::to_string(l.rows_per_strip) + " rows";
  out += l.planar ? " separate " : " contig ";
  out += tiff_compression_name(l.compression);
  if (l.palette) out += " palette";
  return out;
}

class TiffSource final : public RasterSource {
 public:
  TiffSource(std::shared_ptr<const TiffBytes> bytes, uint32_t page, const TiffLayout& layout,
             Attributes attributes, std::vector<uint16_t> colormap,
             std::unique_ptr<PageReader> reader)
      : bytes_(std::move(bytes)), page_(page), layout_(layout),
        attributes_(std::move(attributes)), colormap_(std::move(colormap)),
        reader_(std::move(reader)) {}

  RasterShape shape() const override { return layout_.shape; }
  const std::string& name() const override { return bytes_->name(); }
  std::string image_name() const override {
    std::string stem = std::filesystem::path(name()).stem().string();
    return page_ == 0 ? stem : stem + "-p" + std::to_string(page_);
  }
  std::string description() const override { return describe(page_, layout_); }
  SourceIdentity identity() const override { return bytes_->identity(); }
  Attributes attributes() const override { return attributes_; }
  Interleave preferred_interleave() const override {
    return layout_.planar ? Interleave::kBSQ : Interleave::kBIP;
  }

  Status read(const Region& block, void* dst, size_t dst_size, const Strides& strides) override {
    TESSERA_RETURN_IF_ERROR(check_read(name(), shape(), block, dst_size, strides));
    auto* out = static_cast<uint8_t*>(dst);
    const size_t sample_bytes = layout_.sample_bytes();
    return reader_->for_each_piece(block, [&](const Piece& piece) {
      uint8_t* d = out + (piece.area.x - block.x) * strides.pixel + (piece.area.y - block.y) * strides.line;
      if (layout_.palette) {
        expand_palette(piece, d, strides);
      } else if (layout_.planar) {
        copy_piece(piece.data, Strides{int64_t(sample_bytes), int64_t(piece.line_bytes), 0},
                   d + int64_t(piece.plane) * strides.band, strides, piece.area.width,
                   piece.area.height, 1, sample_bytes);
      } else {
        copy_piece(piece.data,
                   Strides{int64_t(layout_.samples * sample_bytes), int64_t(piece.line_bytes),
                           int64_t(sample_bytes)},
                   d, strides, piece.area.width, piece.area.height, layout_.samples, sample_bytes);
      }
      return Status::ok();
    });
  }

 private:
  // Indexes of 8 or 16 bits to the colour map's red, green and blue (u16).
  void expand_palette(const Piece& piece, uint8_t* dst, const Strides& strides) const {
    const size_t entries = size_t(1) << layout_.bits;
    for (int64_t y = 0; y < piece.area.height; ++y) {
      const uint8_t* src = piece.data + size_t(y) * piece.line_bytes;
      uint8_t* line = dst + y * strides.line;
      for (int64_t x = 0; x < piece.area.width; ++x) {
        size_t index = src[x];
        if (layout_.bits == 16) {
          uint16_t v;
          std::memcpy(&v, src + 2 * x, 2);
          index = v;
        }
        for (size_t b = 0; b < 3; ++b)
          std::memcpy(line + x * strides.pixel + int64_t(b) * strides.band,
                      &colormap_[b * entries + index], 2);
      }
    }
  }

  const std::shared_ptr<const TiffBytes> bytes_;
  const uint32_t page_;
  const TiffLayout layout_;
  const Attributes attributes_;
  const std::vector<uint16_t> colormap_;  // red, then green, then blue: 2^bits entries each
  std::unique_ptr<PageReader> reader_;
};

// Every kept tag (tiff_tags.h) the current directory has, as attributes.
Attributes page_attributes(TiffHandle& tiff) {
  Attributes out;
  for (const KeptTag& tag : kept_tiff_tags())
    if (auto value = read_tiff_tag(tiff.get(), tag)) set_attribute(out, tag.attribute(), std::move(*value));
  tiff.clear_messages();
  return out;
}

}  // namespace

Result<std::unique_ptr<RasterSource>> open_tiff_source(std::shared_ptr<const TiffBytes> bytes,
                                                       uint32_t page,
                                                       const TiffSourceOptions& options,
                                                       const TiffReadLimits& limits) {
  TESSERA_ASSIGN_OR_RETURN(TiffHandle tiff,
                           TiffHandle::open_for_reading(bytes, limits.max_libtiff_alloc));
  TESSERA_RETURN_IF_ERROR(select_tiff_page(tiff, page));
  const TiffLayout layout = read_tiff_layout(tiff.get(), options, limits);
  const std::string prefix = page_prefix(tiff.name(), page);
  if (!layout.unsupported.empty()) return Status(Code::kUnsupported, prefix + layout.unsupported);

  Attributes attributes = page_attributes(tiff);
  std::vector<uint16_t> colormap;
  if (layout.palette) {
    uint16_t *red = nullptr, *green = nullptr, *blue = nullptr;
    if (!TIFFGetField(tiff.get(), TIFFTAG_COLORMAP, &red, &green, &blue) || !red || !green || !blue)
      return Status(Code::kCorrupt, prefix + "a palette image without a colour map");
    const size_t entries = size_t(1) << layout.bits;
    for (const uint16_t* channel : {red, green, blue})
      colormap.insert(colormap.end(), channel, channel + entries);
  }
  TESSERA_RETURN_IF_ERROR(prepare_decoding(tiff, layout, page));

  const uint64_t strip_bytes = mul_saturated(
      mul_saturated(layout.rows_per_strip, layout.width),
      uint64_t(layout.chunk_samples()) * layout.sample_bytes());
  std::unique_ptr<PageReader> reader;
  if (layout.tiled || strip_bytes <= limits.max_strip_bytes)
    reader = std::make_unique<ChunkReader>(std::move(tiff), layout, page, limits.cache_bytes);
  else
    reader = std::make_unique<RowReader>(bytes, std::move(tiff), layout, page, limits);
  return std::unique_ptr<RasterSource>(std::make_unique<TiffSource>(
      std::move(bytes), page, layout, std::move(attributes), std::move(colormap), std::move(reader)));
}

}  // namespace io_detail

Result<std::unique_ptr<RasterSource>> open_tiff_source(const std::string& path, uint32_t page,
                                                       const TiffSourceOptions& options) {
  auto bytes = io_detail::TiffBytes::open_file(path);
  if (!bytes) return bytes.status();
  return io_detail::open_tiff_source(std::move(bytes).value(), page, options);
}

}  // namespace tessera
