// The tiled TIFF RasterSink (tessera/tiff.h) and parse_tiff_compression.
//
// Blocks arrive in export order (strips one image tile high, left to right within a strip),
// which in general does not line up with the TIFF's own tiles. Each TIFF tile is assembled in
// a buffer of its own as blocks cover it and is encoded and written (TIFFWriteEncodedTile) the
// moment its last pixel arrives, so about one row of TIFF tiles is held at a time whatever the
// output's height; begin() refuses an output whose row of tiles would pass kMaxRowBytes.
//
// libtiff writes through a TiffHandle (io/tiff_open.h) onto the staged OUT.part (io/staged_file.h), so a failed
// write keeps its errno (a full disk is kNoSpace, as everywhere) and libtiff's own messages go
// into the Status, never to stderr. Nothing here decides which tags an export writes: that is
// io/tiff_export_tags.h.
#include <tiffio.h>

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/blocks.h"
#include "io/samples.h"
#include "io/staged_file.h"
#include "io/tiff_export_tags.h"
#include "io/tiff_open.h"
#include "io/tiff_tags.h"
#include "tessera/tiff.h"
#include "util/posix_file.h"

namespace tessera {
namespace {

using io_detail::mul_saturated;
using io_detail::StagedFile;
using Compression = TiffSinkOptions::Compression;

// Largest row of TIFF tiles an export assembles at once (tile size x output width).
constexpr uint64_t kMaxRowBytes = uint64_t(1) << 30;
// libtiff keeps every tile's offset and byte count (16 bytes) in memory until the directory
// is written: at most this many tiles (1 GiB of them).
constexpr uint64_t kMaxTiles = uint64_t(1) << 26;
// What classic TIFF's 32-bit offsets address.
constexpr uint64_t kClassicLimit = uint64_t(1) << 32;

std::string compression_name(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kLzw: return "lzw";
    case Compression::kDeflate: return "deflate";
    case Compression::kZstd: return "zstd";
    case Compression::kJpeg: return "jpeg";
  }
  return "?";
}

uint16_t libtiff_compression(Compression c) {
  switch (c) {
    case Compression::kNone: return COMPRESSION_NONE;
    case Compression::kLzw: return COMPRESSION_LZW;
    case Compression::kDeflate: return COMPRESSION_ADOBE_DEFLATE;
    case Compression::kZstd: return COMPRESSION_ZSTD;
    case Compression::kJpeg: return COMPRESSION_JPEG;
  }
  return COMPRESSION_NONE;
}

bool is_float(DataType t) { return t == DataType::kF32 || t == DataType::kF64; }
bool is_signed(DataType t) {
  return t == DataType::kI8 || t == DataType::kI16 || t == DataType::kI32 || t == DataType::kI64;
}

// Why the libtiff call since tiff.clear_messages() failed: the errno of a failed write ("PATH:
// WHAT: write: strerror", kNoSpace for a full disk), else what libtiff said, as `code`.
Status libtiff_failure(io_detail::TiffHandle& tiff, Code code, const std::string& what) {
  if (tiff.io_errno() != 0) return detail::os_error(tiff.name(), what + ": write", tiff.io_errno());
  const std::string why = tiff.take_errors();
  return Status(code, tiff.name() + ": " + what + ": " +
                          (why.empty() ? "libtiff failed without saying why" : why));
}

// ---------------------------------------------------------------------------------------------
// The sink

// One TIFF tile being assembled: its samples (tile x tile pixels, contig, padding zero) and
// how many of its pixels inside the output have arrived.
struct PendingTile {
  std::unique_ptr<uint8_t[]> samples;
  uint64_t filled = 0;
};

class TiffSink final : public RasterSink {
 public:
  TiffSink(std::string out, const TiffSinkOptions& options) : out_(std::move(out)), options_(options) {}
  ~TiffSink() override { abort(); }

  Status begin(const RasterShape& shape, Interleave interleave,
               const RasterMetadata& metadata) override {
    shape_ = shape;
    interleave_ = interleave;
    sample_bytes_ = sample_size(shape.type);
    pixel_bytes_ = sample_bytes_ * shape.bands;
    tile_ = options_.tile_size;
    TESSERA_RETURN_IF_ERROR(check_request());
    across_ = (uint64_t(shape.width) + tile_ - 1) / tile_;
    down_ = (uint64_t(shape.height) + tile_ - 1) / tile_;
    tile_bytes_ = uint64_t(tile_) * tile_ * pixel_bytes_;
    auto tags = io_detail::tiff_export_tags(metadata);
    if (!tags) return tags.status().with_context(out_);
    TESSERA_RETURN_IF_ERROR(check_size());
    const bool bigtiff = use_bigtiff(*tags);
    if (!bigtiff) TESSERA_RETURN_IF_ERROR(check_classic_fits());

    // Uncompressed, the output is at least its pixels: refused at once when they cannot fit.
    if (options_.compression == Compression::kNone)
      TESSERA_RETURN_IF_ERROR(io_detail::check_free_space(
          out_, mul_saturated(mul_saturated(shape.width, shape.height), pixel_bytes_)));
    auto staged = StagedFile::create(out_);
    if (!staged) return staged.status();
    staged_.emplace(std::move(staged).value());
    // "m": nothing is mapped; native byte order.
    auto tiff = io_detail::TiffHandle::open_for_writing(staged_->file(), bigtiff ? "w8m" : "wm");
    if (!tiff) return tiff.status();
    tiff_.emplace(std::move(tiff).value());
    TESSERA_RETURN_IF_ERROR(set_image_fields());
    for (const io_detail::ExportTag& t : *tags) TESSERA_RETURN_IF_ERROR(set_tag(t));
    return Status::ok();
  }

  Status write(const Region& block, const void* data, size_t size) override {
    if (!tiff_ || block.empty() || block.x < 0 || block.y < 0 ||
        block.x_end() > shape_.width || block.y_end() > shape_.height ||
        size < block.pixel_count() * pixel_bytes_)
      return Status(Code::kInternal, out_ + ": block " + to_string(block) + " of " +
                                         std::to_string(size) + " bytes does not fit the export");
    const auto* src = static_cast<const uint8_t*>(data);
    const Strides strides =
        Strides::packed(interleave_, block.width, block.height, shape_.bands, sample_bytes_);
    const int64_t t = tile_;
    for (int64_t ty = block.y / t; ty <= (block.y_end() - 1) / t; ++ty)
      for (int64_t tx = block.x / t; tx <= (block.x_end() - 1) / t; ++tx)
        TESSERA_RETURN_IF_ERROR(fill_tile(uint64_t(tx), uint64_t(ty), block, src, strides));
    return Status::ok();
  }

  Status finish() override {
    if (!tiff_) return Status(Code::kInternal, out_ + ": finish of an export that did not begin");
    if (tiles_written_ != across_ * down_ || !pending_.empty())
      return Status(Code::kInternal, out_ + ": finish with " + std::to_string(tiles_written_) +
                                         " of " + std::to_string(across_ * down_) +
                                         " tiles written");
    // The directory, then the handle is closed; after a failure TIFFClose would try the
    // directory again: the handle is discarded instead.
    tiff_->clear_messages();
    const bool written = TIFFWriteDirectory(tiff_->get()) == 1 && tiff_->io_errno() == 0;
    const Status directory = written ? Status::ok() : libtiff_failure(*tiff_, Code::kIoError, "writing the directory");
    tiff_->discard();
    tiff_.reset();
    TESSERA_RETURN_IF_ERROR(directory);
    TESSERA_RETURN_IF_ERROR(staged_->seal());
    TESSERA_RETURN_IF_ERROR(staged_->commit());
    staged_.reset();
    return Status::ok();
  }

  // The TIFF first (discarded: it writes nothing more), then the staged file (which removes
  // OUT.part).
  void abort() override {
    if (tiff_) tiff_->discard();
    tiff_.reset();
    staged_.reset();
    pending_.clear();
    spare_.clear();
  }

 private:
  // What the options and the shape ask for is something this sink writes.
  Status check_request() const {
    const auto refuse = [&](const std::string& why) {
      return Status(Code::kInvalidArgument, out_ + ": " + why);
    };
    if (tile_ == 0 || tile_ % 16 != 0)
      return refuse("tile size " + std::to_string(tile_) + " is not a positive multiple of 16");
    constexpr int64_t kMaxSide = std::numeric_limits<uint32_t>::max();
    if (shape_.width < 1 || shape_.height < 1 || shape_.width > kMaxSide || shape_.height > kMaxSide)
      return refuse(std::to_string(shape_.width) + " x " + std::to_string(shape_.height) +
                    " pixels: a TIFF is 1 to 4294967295 pixels a side");
    if (shape_.bands < 1 || shape_.bands > std::numeric_limits<uint16_t>::max())
      return refuse(std::to_string(shape_.bands) + " bands: a TIFF holds 1 to 65535");
    if (options_.compression == Compression::kJpeg) {
      if (shape_.type != DataType::kU8 || (shape_.bands != 1 && shape_.bands != 3))
        return refuse("JPEG compression takes u8 samples in 1 or 3 bands, not " +
                      std::to_string(shape_.bands) + " band" + (shape_.bands == 1 ? "" : "s") +
                      " of " + std::string(data_type_name(shape_.type)));
      if (options_.jpeg_quality < 1 || options_.jpeg_quality > 100)
        return refuse("JPEG quality " + std::to_string(options_.jpeg_quality) +
                      " is not from 1 to 100");
    }
    if (!TIFFIsCODECConfigured(libtiff_compression(options_.compression)))
      return Status(Code::kUnsupported, out_ + ": this libtiff was built without " +
                                            compression_name(options_.compression) + " compression");
    return Status::ok();
  }

  // Memory: one row of tiles assembled at a time, and libtiff's table of every tile.
  Status check_size() const {
    const uint64_t row = mul_saturated(across_, tile_bytes_);
    if (row > kMaxRowBytes)
      return Status(Code::kInvalidArgument,
                    out_ + ": a row of " + std::to_string(tile_) + " x " + std::to_string(tile_) +
                        " tiles across " + std::to_string(shape_.width) + " pixels of " +
                        std::to_string(pixel_bytes_) + " bytes takes " + std::to_string(row) +
                        " bytes to assemble, more than the " + std::to_string(kMaxRowBytes) +
                        " an export holds: export a narrower region or use smaller tiles");
    if (across_ * down_ > kMaxTiles)
      return Status(Code::kInvalidArgument,
                    out_ + ": " + std::to_string(across_ * down_) + " tiles of " +
                        std::to_string(tile_) + " x " + std::to_string(tile_) +
                        " are more than the " + std::to_string(kMaxTiles) +
                        " an export writes: use larger tiles");
    return Status::ok();
  }

  // The most the file could take: the pixels as the codec might grow them (LZW and JPEG can
  // outgrow noise by half, deflate and zstd by a little), the tile tables and the tags.
  uint64_t worst_case_bytes(const std::vector<io_detail::ExportTag>& tags) const {
    const uint64_t raw = mul_saturated(across_ * down_, tile_bytes_);
    uint64_t bytes = raw;
    switch (options_.compression) {
      case Compression::kNone: break;
      case Compression::kDeflate:
      case Compression::kZstd: bytes = raw + raw / 64; break;
      case Compression::kLzw:
      case Compression::kJpeg: bytes = raw + raw / 2; break;
    }
    uint64_t tag_bytes = 64 << 10;  // the fixed fields, JPEG tables, the IFD itself
    for (const io_detail::ExportTag& t : tags) {
      if (const auto* text = std::get_if<std::string>(&t.value)) tag_bytes += text->size() + 1;
      if (const auto* reals = std::get_if<std::vector<double>>(&t.value)) tag_bytes += reals->size() * 8;
      if (const auto* ints = std::get_if<std::vector<int64_t>>(&t.value)) tag_bytes += ints->size() * 2;
    }
    return bytes + across_ * down_ * 16 + tag_bytes;
  }

  bool use_bigtiff(const std::vector<io_detail::ExportTag>& tags) {
    switch (options_.bigtiff) {
      case TiffSinkOptions::BigTiff::kYes: return true;
      case TiffSinkOptions::BigTiff::kNo: return false;
      case TiffSinkOptions::BigTiff::kAuto: break;
    }
    return worst_case_bytes(tags) >= kClassicLimit;
  }

  // Uncompressed pixels past 4 GiB cannot be a classic TIFF: refused before anything is
  // written. (Compressed ones may fit; libtiff says so when they do not.)
  Status check_classic_fits() const {
    const uint64_t raw = mul_saturated(across_ * down_, tile_bytes_);
    if (options_.compression == Compression::kNone && raw >= kClassicLimit)
      return Status(Code::kInvalidArgument, out_ + ": " + std::to_string(raw) +
                                                " bytes of uncompressed tiles do not fit a "
                                                "classic TIFF (4 GiB): write a BigTIFF");
    return Status::ok();
  }

  Status set_image_fields() {
    TIFF* tif = tiff_->get();
    const bool jpeg = options_.compression == Compression::kJpeg;
    const bool rgb = (shape_.bands == 3 || shape_.bands == 4) &&
                     (shape_.type == DataType::kU8 || shape_.type == DataType::kU16);
    const uint16_t photometric = !rgb ? PHOTOMETRIC_MINISBLACK
                                 : jpeg ? PHOTOMETRIC_YCBCR  // libtiff converts RGB (JPEGCOLORMODE)
                                        : PHOTOMETRIC_RGB;
    // Samples beyond the photometric's own: RGB's fourth is alpha, the rest say nothing.
    const uint32_t colour = rgb ? 3 : 1;
    std::vector<uint16_t> extra(shape_.bands - colour, EXTRASAMPLE_UNSPECIFIED);
    if (rgb && shape_.bands == 4) extra[0] = EXTRASAMPLE_UNASSALPHA;
    const uint16_t format = is_float(shape_.type)    ? SAMPLEFORMAT_IEEEFP
                            : is_signed(shape_.type) ? SAMPLEFORMAT_INT
                                                     : SAMPLEFORMAT_UINT;
    tiff_->clear_messages();
    bool ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, uint32_t(shape_.width)) &&
              TIFFSetField(tif, TIFFTAG_IMAGELENGTH, uint32_t(shape_.height)) &&
              TIFFSetField(tif, TIFFTAG_TILEWIDTH, tile_) &&
              TIFFSetField(tif, TIFFTAG_TILELENGTH, tile_) &&
              TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(shape_.bands)) &&
              TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(sample_bytes_ * 8)) &&
              TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, format) &&
              TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
              TIFFSetField(tif, TIFFTAG_COMPRESSION, libtiff_compression(options_.compression)) &&
              TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, photometric) &&
              (extra.empty() ||
               TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, uint16_t(extra.size()), extra.data()));
    switch (options_.compression) {
      case Compression::kNone: break;
      case Compression::kLzw:
      case Compression::kDeflate:
      case Compression::kZstd:
        // Differences of neighbours compress better than the samples: horizontal for
        // integers, the floating-point predictor (bytes of the differences) for reals.
        ok = ok && TIFFSetField(tif, TIFFTAG_PREDICTOR,
                                is_float(shape_.type) ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
        break;
      case Compression::kJpeg:
        ok = ok && TIFFSetField(tif, TIFFTAG_JPEGQUALITY, options_.jpeg_quality) &&
             (photometric != PHOTOMETRIC_YCBCR ||
              TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB));
        break;
    }
    return ok ? Status::ok() : libtiff_failure(*tiff_, Code::kInvalidArgument, "setting the image's fields");
  }

  // A kept tag, with what libtiff refuses named by its attribute like a value of the wrong type.
  Status set_tag(const io_detail::ExportTag& t) {
    tiff_->clear_messages();
    const Status st = io_detail::write_tiff_tag(tiff_->get(), *t.tag, t.value);
    if (st || st.code() == Code::kInvalidArgument) return st.with_context(out_);
    const std::string why = tiff_->take_errors();
    return Status(Code::kInvalidArgument,
                  out_ + ": " + st.message() + (why.empty() ? std::string() : ": " + why));
  }

  // The part of `block` inside tile (tx, ty) into the tile; the tile is written once whole.
  Status fill_tile(uint64_t tx, uint64_t ty, const Region& block, const uint8_t* src,
                   const Strides& src_strides) {
    const int64_t t = tile_;
    const Region tile_area =
        Region{int64_t(tx) * t, int64_t(ty) * t, t, t}.intersect({0, 0, shape_.width, shape_.height});
    const Region part = tile_area.intersect(block);
    const uint64_t number = ty * across_ + tx;
    PendingTile& tile = pending_[number];
    if (!tile.samples) tile.samples = take_buffer(tile_area.pixel_count() < uint64_t(t) * uint64_t(t));
    const uint8_t* from = src + (part.x - block.x) * src_strides.pixel + (part.y - block.y) * src_strides.line;
    uint8_t* to = tile.samples.get() +
                  ((part.y - int64_t(ty) * t) * t + (part.x - int64_t(tx) * t)) * int64_t(pixel_bytes_);
    const Strides tile_strides{int64_t(pixel_bytes_), t * int64_t(pixel_bytes_), int64_t(sample_bytes_)};
    if (interleave_ == Interleave::kBIP) {
      for (int64_t y = 0; y < part.height; ++y)
        std::memcpy(to + y * tile_strides.line, from + y * src_strides.line,
                    size_t(part.width) * pixel_bytes_);
    } else {
      io_detail::copy_samples(from, src_strides, to, tile_strides, part.width, part.height,
                              shape_.bands, sample_bytes_);
    }
    tile.filled += part.pixel_count();
    if (tile.filled < tile_area.pixel_count()) return Status::ok();
    if (tile.filled > tile_area.pixel_count())
      return Status(Code::kInternal, out_ + ": tile " + std::to_string(number) +
                                         " received pixels twice (block " + to_string(block) + ")");
    const Status st = write_tile(number, tile.samples.get());
    spare_.push_back(std::move(tile.samples));
    pending_.erase(number);
    return st;
  }

  Status write_tile(uint64_t number, uint8_t* samples) {
    if constexpr (std::endian::native == std::endian::big)  // blocks are little-endian
      io_detail::swap_byte_order(samples, tile_bytes_, sample_bytes_);
    tiff_->clear_messages();
    if (TIFFWriteEncodedTile(tiff_->get(), uint32_t(number), samples, tmsize_t(tile_bytes_)) < 0)
      return libtiff_failure(*tiff_, Code::kIoError, "tile " + std::to_string(number) + " (pixel " +
                                                  std::to_string(number % across_ * tile_) + "," +
                                                  std::to_string(number / across_ * tile_) + ")");
    ++tiles_written_;
    return Status::ok();
  }

  // A tile buffer, reused once written; zeroed when the output does not cover all of it
  // (libtiff writes edge tiles whole).
  std::unique_ptr<uint8_t[]> take_buffer(bool edge) {
    std::unique_ptr<uint8_t[]> buffer;
    if (spare_.empty()) {
      buffer = std::make_unique_for_overwrite<uint8_t[]>(tile_bytes_);
    } else {
      buffer = std::move(spare_.back());
      spare_.pop_back();
    }
    if (edge) std::memset(buffer.get(), 0, tile_bytes_);
    return buffer;
  }

  const std::string out_;
  const TiffSinkOptions options_;
  RasterShape shape_;
  Interleave interleave_ = Interleave::kBIP;
  size_t sample_bytes_ = 0, pixel_bytes_ = 0;
  uint32_t tile_ = 0;
  uint64_t across_ = 0, down_ = 0, tile_bytes_ = 0, tiles_written_ = 0;
  std::optional<StagedFile> staged_;
  std::optional<io_detail::TiffHandle> tiff_;
  std::unordered_map<uint64_t, PendingTile> pending_;  // by tile number
  std::vector<std::unique_ptr<uint8_t[]>> spare_;
};

}  // namespace

Status parse_tiff_compression(std::string_view text, TiffSinkOptions* options) {
  const auto set = [&](Compression c) {
    options->compression = c;
    return Status::ok();
  };
  if (text == "none") return set(Compression::kNone);
  if (text == "lzw") return set(Compression::kLzw);
  if (text == "deflate") return set(Compression::kDeflate);
  if (text == "zstd") return set(Compression::kZstd);
  if (text == "jpeg") return set(Compression::kJpeg);
  if (text.starts_with("jpeg:")) {
    const std::string_view digits = text.substr(5);
    int quality = 0;
    const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), quality);
    if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() ||
        quality < 1 || quality > 100)
      return Status(Code::kInvalidArgument, "compression '" + std::string(text) +
                                                "': the JPEG quality is an integer from 1 to 100");
    options->jpeg_quality = quality;
    return set(Compression::kJpeg);
  }
  return Status(Code::kInvalidArgument, "compression '" + std::string(text) +
                                            "' is not none, lzw, deflate, zstd or jpeg[:QUALITY]");
}

std::unique_ptr<RasterSink> make_tiff_sink(const std::string& out, const TiffSinkOptions& options) {
  return std::make_unique<TiffSink>(out, options);
}

}  // namespace tessera
