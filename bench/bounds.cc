// bounds.cc — raw LZ4 / zstd over the tiles Tessera stores, and memcpy (see bounds.h).
#include "bounds.h"

#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tessera::bench {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "tessera-bench-read: %s\n", what);
  std::exit(1);
}

// FORMAT.md 4.4.3: all byte 0 of every sample, then all byte 1, ...
void shuffle(const uint8_t* in, uint8_t* out, size_t n, size_t s) {
  for (size_t b = 0; b < s; ++b)
    for (size_t i = 0; i < n; ++i) out[b * n + i] = in[i * s + b];
}
void unshuffle(const uint8_t* in, uint8_t* out, size_t n, size_t s) {
  if (s == 2) {
    const uint8_t* lo = in;
    const uint8_t* hi = in + n;
    for (size_t i = 0; i < n; ++i) {
      out[2 * i] = lo[i];
      out[2 * i + 1] = hi[i];
    }
    return;
  }
  for (size_t b = 0; b < s; ++b)
    for (size_t i = 0; i < n; ++i) out[i * s + b] = in[b * n + i];
}

}  // namespace

RawTiles::RawTiles(RawCodec codec, const Shape& shape)
    : codec_(codec), shape_(shape), tiles_x_((shape.width + shape.tile - 1) / shape.tile),
      shuffle_(shape.sample_bytes > 1) {
  const int64_t tiles_y = (shape.height + shape.tile - 1) / shape.tile;
  packed_.resize(size_t(tiles_x_ * tiles_y));
  const size_t tb = size_t(shape.tile) * shape.tile * shape.pixel_bytes();
  tile_.resize(tb);
  shuffled_.resize(tb);
  scratch_.resize(std::max<size_t>(size_t(LZ4_compressBound(int(tb))), ZSTD_compressBound(tb)));
  if (codec_ == RawCodec::kZstd1) {
    cctx_ = ZSTD_createCCtx();
    dctx_ = ZSTD_createDCtx();
  }
}

RawTiles::~RawTiles() {
  if (cctx_) ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_));
  if (dctx_) ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_));
}

void RawTiles::add_strip(int64_t y, int64_t rows, const uint8_t* bip) {
  const size_t px = shape_.pixel_bytes(), T = shape_.tile, line = size_t(shape_.width) * px;
  for (int64_t tx = 0; tx < tiles_x_; ++tx) {
    std::memset(tile_.data(), 0, tile_.size());
    const size_t w = size_t(std::min<int64_t>(int64_t(T), shape_.width - tx * int64_t(T)));
    for (int64_t v = 0; v < std::min<int64_t>(int64_t(T), rows); ++v)
      std::memcpy(tile_.data() + size_t(v) * T * px, bip + size_t(v) * line + size_t(tx) * T * px, w * px);
    const auto t0 = Clock::now();
    const uint8_t* src = tile_.data();
    if (shuffle_) {
      shuffle(tile_.data(), shuffled_.data(), tile_.size() / shape_.sample_bytes, shape_.sample_bytes);
      src = shuffled_.data();
    }
    size_t n = 0;
    if (codec_ == RawCodec::kLz4) {
      const int r = LZ4_compress_default(reinterpret_cast<const char*>(src), scratch_.data(), int(tile_.size()),
                                         int(scratch_.size()));
      if (r <= 0) fail("LZ4_compress_default failed");
      n = size_t(r);
    } else {
      n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), scratch_.data(), scratch_.size(), src, tile_.size(), 1);
      if (ZSTD_isError(n)) fail("ZSTD_compressCCtx failed");
    }
    compress_seconds_ += since(t0);
    compressed_bytes_ += n;
    packed_[size_t((y / int64_t(T)) * tiles_x_ + tx)].assign(scratch_.data(), scratch_.data() + n);
  }
}

void RawTiles::decode(int64_t tx, int64_t ty) {
  const std::vector<char>& p = packed_[size_t(ty * tiles_x_ + tx)];
  uint8_t* out = shuffle_ ? shuffled_.data() : tile_.data();
  if (codec_ == RawCodec::kLz4) {
    if (LZ4_decompress_safe(p.data(), reinterpret_cast<char*>(out), int(p.size()), int(tile_.size())) != int(tile_.size()))
      fail("LZ4_decompress_safe failed");
  } else {
    if (ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), out, tile_.size(), p.data(), p.size()) != tile_.size())
      fail("ZSTD_decompressDCtx failed");
  }
  if (shuffle_) unshuffle(shuffled_.data(), tile_.data(), tile_.size() / shape_.sample_bytes, shape_.sample_bytes);
}

template <typename F>
double RawTiles::for_tiles(const std::vector<Region>& regions, F&& f) {
  const int64_t T = shape_.tile;
  const auto t0 = Clock::now();
  for (const Region& r : regions)
    for (int64_t ty = r.y / T; ty <= (r.y_end() - 1) / T; ++ty)
      for (int64_t tx = r.x / T; tx <= (r.x_end() - 1) / T; ++tx) {
        decode(tx, ty);
        f(r, Region{tx * T, ty * T, T, T});
      }
  return since(t0);
}

double RawTiles::read_regions(const std::vector<Region>& regions, uint8_t* dst) {
  return for_tiles(regions, [&](const Region& r, const Region& box) {
    copy_bip_overlap(tile_.data(), box, dst, r, shape_.pixel_bytes());
  });
}

double RawTiles::read_bands(const std::vector<Region>& regions, uint32_t band, uint8_t* dst) {
  const size_t px = shape_.pixel_bytes(), s = shape_.sample_bytes;
  return for_tiles(regions, [&](const Region& r, const Region& box) {
    const Region o = box.intersect(r);
    for (int64_t y = o.y; y < o.y_end(); ++y) {
      const uint8_t* from = tile_.data() + (size_t(y - box.y) * size_t(box.width) + size_t(o.x - box.x)) * px + band * s;
      uint8_t* to = dst + (size_t(y - r.y) * size_t(r.width) + size_t(o.x - r.x)) * s;
      for (int64_t u = 0; u < o.width; ++u) std::memcpy(to + size_t(u) * s, from + size_t(u) * px, s);
    }
  });
}

double RawTiles::read_bsq(const std::vector<Region>& regions, uint8_t* dst) {
  const size_t px = shape_.pixel_bytes(), s = shape_.sample_bytes;
  return for_tiles(regions, [&](const Region& r, const Region& box) {
    const Region o = box.intersect(r);
    const size_t plane = size_t(r.pixel_count()) * s;
    for (int64_t y = o.y; y < o.y_end(); ++y) {
      const uint8_t* from = tile_.data() + (size_t(y - box.y) * size_t(box.width) + size_t(o.x - box.x)) * px;
      const size_t at = (size_t(y - r.y) * size_t(r.width) + size_t(o.x - r.x)) * s;
      for (uint32_t b = 0; b < shape_.bands; ++b) {
        uint8_t* to = dst + b * plane + at;
        for (int64_t u = 0; u < o.width; ++u) std::memcpy(to + size_t(u) * s, from + size_t(u) * px + b * s, s);
      }
    }
  });
}

double memcpy_seconds(size_t bytes) {
  std::vector<uint8_t> a(bytes, 1), b(bytes, 2);
  double best = 1e9;
  for (int pass = 0; pass < 3; ++pass) {
    const auto t0 = Clock::now();
    std::memcpy(b.data(), a.data(), bytes);
    best = std::min(best, since(t0));
    a[size_t(pass)] = b[bytes - 1 - size_t(pass)];  // keep the copies observable
  }
  return best;
}

}  // namespace tessera::bench
