// tiff.cc — libtiff peer: a tiled BigTIFF, 256 x 256 tiles, written and read tile by tile with
// TIFFWriteEncodedTile / TIFFReadEncodedTile as libtiff's users do. Compression none, deflate
// (libtiff's default level) or zstd at level 1; no predictor (libtiff's default) or the
// horizontal predictor (PREDICTOR_HORIZONTAL: differences along rows, libtiff's answer to
// smooth integer data); chunky (PLANARCONFIG_CONTIG) or planar (PLANARCONFIG_SEPARATE).
#include <tiffio.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "../peer.h"

namespace tessera::bench {
namespace {

Status tiff_error(const std::string& path, const char* what) {
  return Status(Code::kIoError, path + ": libtiff: " + what);
}

class TiffFile {
 public:
  explicit TiffFile(TIFF* t) : tif(t) {}
  ~TiffFile() {
    if (tif) TIFFClose(tif);
  }
  TIFF* tif;
};

// Tile (tx, ty) of the strip at rows y..y+rows, as chunky (all bands) or one band plane.
void extract_tile(const Shape& sh, const uint8_t* strip, int64_t y_rows, int64_t tx, int band,
                  uint8_t* out) {
  const size_t px = sh.pixel_bytes(), s = sh.sample_bytes, T = sh.tile;
  const size_t line = size_t(sh.width) * px;
  const int64_t x0 = tx * int64_t(T);
  const size_t w = size_t(std::min<int64_t>(T, sh.width - x0));
  const size_t out_px = band < 0 ? px : s;
  std::memset(out, 0, T * T * out_px);
  for (int64_t v = 0; v < std::min<int64_t>(T, y_rows); ++v) {
    const uint8_t* from = strip + size_t(v) * line + size_t(x0) * px;
    uint8_t* to = out + size_t(v) * T * out_px;
    if (band < 0) {
      std::memcpy(to, from, w * px);
    } else {
      from += size_t(band) * s;
      for (size_t u = 0; u < w; ++u) std::memcpy(to + u * s, from + u * px, s);
    }
  }
}

class TiffWriter : public PeerWriter {
 public:
  TiffWriter(TIFF* tif, std::string path, Shape sh, bool planar)
      : file_(tif), path_(std::move(path)), sh_(sh), planar_(planar),
        tile_(size_t(sh.tile) * sh.tile * sh.pixel_bytes()) {}
  Status write_strip(int64_t y, int64_t rows, const uint8_t* bip) override {
    const int64_t tiles_x = (sh_.width + sh_.tile - 1) / sh_.tile;
    const int planes = planar_ ? int(sh_.bands) : 1;
    for (int p = 0; p < planes; ++p) {
      for (int64_t tx = 0; tx < tiles_x; ++tx) {
        extract_tile(sh_, bip, rows, tx, planar_ ? p : -1, tile_.data());
        const tmsize_t bytes = tmsize_t(size_t(sh_.tile) * sh_.tile * (planar_ ? sh_.sample_bytes : sh_.pixel_bytes()));
        const ttile_t t = TIFFComputeTile(file_.tif, uint32_t(tx * sh_.tile), uint32_t(y), 0, uint16_t(p));
        if (TIFFWriteEncodedTile(file_.tif, t, tile_.data(), bytes) < 0) return tiff_error(path_, "TIFFWriteEncodedTile failed");
      }
    }
    return Status::ok();
  }
  Status finish() override {
    TIFF* t = file_.tif;
    file_.tif = nullptr;
    TIFFClose(t);  // writes the directory
    return Status::ok();
  }

 private:
  TiffFile file_;
  std::string path_;
  Shape sh_;
  bool planar_;
  std::vector<uint8_t> tile_;
};

class TiffReader : public PeerReader {
 public:
  TiffReader(TIFF* tif, std::string path, Shape sh, bool planar)
      : file_(tif), path_(std::move(path)), planar_(planar) {
    shape_ = sh;
    tile_.resize(size_t(sh.tile) * sh.tile * sh.pixel_bytes());
  }

  Status read_region(const Region& r, uint8_t* dst) override {
    if (!planar_) {
      return for_tiles(r, [&](const Region& box) {
        TESSERA_RETURN_IF_ERROR(read_tile(box, 0));
        copy_bip_overlap(tile_.data(), box, dst, r, shape_.pixel_bytes());
        return Status::ok();
      });
    }
    return for_tiles(r, [&](const Region& box) {
      for (uint32_t b = 0; b < shape_.bands; ++b) {
        TESSERA_RETURN_IF_ERROR(read_tile(box, uint16_t(b)));
        scatter_plane(box, r, b, dst, shape_.pixel_bytes());
      }
      return Status::ok();
    });
  }

  Status read_band(const Region& r, uint32_t band, uint8_t* dst) override {
    return for_tiles(r, [&](const Region& box) {
      if (planar_) {
        TESSERA_RETURN_IF_ERROR(read_tile(box, uint16_t(band)));
        scatter_plane(box, r, 0, dst, shape_.sample_bytes);
        return Status::ok();
      }
      TESSERA_RETURN_IF_ERROR(read_tile(box, 0));
      const Region o = box.intersect(r);
      const size_t px = shape_.pixel_bytes(), s = shape_.sample_bytes;
      for (int64_t y = o.y; y < o.y_end(); ++y) {
        const uint8_t* from = tile_.data() + (size_t(y - box.y) * size_t(box.width) + size_t(o.x - box.x)) * px + band * s;
        uint8_t* to = dst + (size_t(y - r.y) * size_t(r.width) + size_t(o.x - r.x)) * s;
        for (int64_t u = 0; u < o.width; ++u) std::memcpy(to + size_t(u) * s, from + size_t(u) * px, s);
      }
      return Status::ok();
    });
  }

 private:
  template <typename F>
  Status for_tiles(const Region& r, F&& f) {
    const int64_t T = shape_.tile;
    for (int64_t ty = r.y / T; ty <= (r.y_end() - 1) / T; ++ty)
      for (int64_t tx = r.x / T; tx <= (r.x_end() - 1) / T; ++tx)
        TESSERA_RETURN_IF_ERROR(f(Region{tx * T, ty * T, T, T}));
    return Status::ok();
  }
  Status read_tile(const Region& box, uint16_t plane) {
    const ttile_t t = TIFFComputeTile(file_.tif, uint32_t(box.x), uint32_t(box.y), 0, plane);
    if (TIFFReadEncodedTile(file_.tif, t, tile_.data(), tmsize_t(tile_.size())) < 0)
      return tiff_error(path_, "TIFFReadEncodedTile failed");
    return Status::ok();
  }
  // Copies the plane tile in tile_ (covering `box`) into band `band` of the buffer covering
  // `r` whose pixels are `dst_px` bytes apart.
  void scatter_plane(const Region& box, const Region& r, uint32_t band, uint8_t* dst, size_t dst_px) {
    const Region o = box.intersect(r);
    const size_t s = shape_.sample_bytes;
    for (int64_t y = o.y; y < o.y_end(); ++y) {
      const uint8_t* from = tile_.data() + (size_t(y - box.y) * size_t(box.width) + size_t(o.x - box.x)) * s;
      uint8_t* to = dst + (size_t(y - r.y) * size_t(r.width) + size_t(o.x - r.x)) * dst_px + band * s;
      if (dst_px == s) {
        std::memcpy(to, from, size_t(o.width) * s);
      } else {
        for (int64_t u = 0; u < o.width; ++u) std::memcpy(to + size_t(u) * dst_px, from + size_t(u) * s, s);
      }
    }
  }

  TiffFile file_;
  std::string path_;
  bool planar_;
  std::vector<uint8_t> tile_;
};

class TiffPeer : public Peer {
 public:
  TiffPeer(TiffCodec codec, Layout layout, bool predictor)
      : codec_(codec), layout_(layout), predictor_(predictor) {}
  std::string name() const override {
    const char* c = codec_ == TiffCodec::kNone ? "none" : codec_ == TiffCodec::kDeflate ? "deflate" : "zstd:1";
    return std::string("tiff ") + c + (predictor_ ? " pred" : "") + (layout_ == Layout::kPlanar ? " planar" : "");
  }
  std::string suffix() const override { return ".tif"; }
  Layout layout() const override { return layout_; }

  Result<std::unique_ptr<PeerWriter>> create(const std::string& path, const Shape& sh, unsigned) override {
    const uint16_t compression = codec_ == TiffCodec::kNone      ? COMPRESSION_NONE
                                 : codec_ == TiffCodec::kDeflate ? COMPRESSION_ADOBE_DEFLATE
                                                                 : COMPRESSION_ZSTD;
    if (!TIFFIsCODECConfigured(compression)) return Status(Code::kUnsupported, "libtiff lacks this codec");
    TIFF* tif = TIFFOpen(path.c_str(), "w8");  // BigTIFF
    if (!tif) return tiff_error(path, "TIFFOpen failed");
    TiffFile guard(tif);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, uint32_t(sh.width));
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, uint32_t(sh.height));
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(sh.sample_bytes * 8));
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(sh.bands));
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, layout_ == Layout::kPlanar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
    if (sh.bands == 3 && sh.sample_bytes == 1) {
      TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    } else {
      TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
      std::vector<uint16_t> extra(sh.bands - 1, EXTRASAMPLE_UNSPECIFIED);
      TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, uint16_t(extra.size()), extra.data());
    }
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, sh.tile);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, sh.tile);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, compression);
    if (codec_ == TiffCodec::kZstd) TIFFSetField(tif, TIFFTAG_ZSTD_LEVEL, 1);
    if (predictor_) TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
    guard.tif = nullptr;
    return std::unique_ptr<PeerWriter>(new TiffWriter(tif, path, sh, layout_ == Layout::kPlanar));
  }

  Result<std::unique_ptr<PeerReader>> open(const std::string& path, const Shape& sh,
                                           const ReadOptions& options) override {
    if (options.any_cache()) return Status(Code::kUnsupported, "libtiff keeps no decoded tiles");
    TIFF* tif = TIFFOpen(path.c_str(), "r");
    if (!tif) return tiff_error(path, "TIFFOpen failed");
    return std::unique_ptr<PeerReader>(new TiffReader(tif, path, sh, layout_ == Layout::kPlanar));
  }

 private:
  TiffCodec codec_;
  Layout layout_;
  bool predictor_;
};

}  // namespace

std::unique_ptr<Peer> make_tiff_peer(TiffCodec codec, Layout layout, bool predictor) {
  return std::make_unique<TiffPeer>(codec, layout, predictor);
}

}  // namespace tessera::bench
