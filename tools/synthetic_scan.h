// synthetic_scan.h — the synthetic slide scan of tessera-demo and the benchmarks: a pure
// function pixel(x, y, band) of the image size and tile size (3 bands, u8), rendered strip by
// strip (render()) so memory stays bounded whatever the size. Used by tools/demo.cc and
// bench/read_bench.cc; see tools/demo.cc for what the scan looks like and why.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tessera/types.h"

namespace tessera::synth {

using tessera::Region;

inline constexpr int kScanBands = 3;  // RGB

// SplitMix64: placement of the tissue and the check's random regions.
constexpr uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// A cheap 32-bit hash of a lattice point: the per-pixel randomness of the scan.
inline uint32_t hash32(int64_t x, int64_t y, uint32_t salt) {
  uint32_t h = (uint32_t(x) * 0x9E3779B1u) ^ (uint32_t(y) * 0x85EBCA77u + salt);
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  h *= 0x297A2D39u;
  return h ^ (h >> 15);
}

struct Rng {
  uint64_t state;
  uint64_t next() { return mix64(state++ * 0x9E3779B97F4A7C15ull); }
  int64_t below(int64_t n) { return n <= 0 ? 0 : int64_t(next() % uint64_t(n)); }
};

class SyntheticScan {
 public:
  // `tile` is a power of two.
  SyntheticScan(int64_t width, int64_t height, int64_t tile)
      : width_(width), height_(height), tile_(tile), tile_shift_(std::countr_zero(uint64_t(tile))),
        tiles_x_((width + tile - 1) / tile), tiles_y_((height + tile - 1) / tile) {
    for (int j = 0; j < kLattice; ++j)
      for (int i = 0; i < kLattice; ++i) lattice_[size_t(j * kLattice + i)] = uint8_t(hash32(i, j, 17));
    for (int j = 0; j < kNoiseRows; ++j)
      for (int i = 0; i < kNoiseColumns; ++i)
        noise_[size_t(j * kNoiseColumns + i)] = uint16_t(hash32(i, j, 0) & 0xFFF);
    // Illumination falls off in steps of 4096 pixels from the centre.
    for (int64_t x = 0; x < width; ++x) shade_x_.push_back(uint8_t(std::min<int64_t>(7, std::abs(x - width / 2) >> 12)));
    for (int64_t y = 0; y < height; ++y) shade_y_.push_back(uint8_t(std::min<int64_t>(7, std::abs(y - height / 2) >> 12)));
    classify_tiles();
    place_tissue();
  }

  int64_t width() const { return width_; }
  int64_t height() const { return height_; }
  int64_t tile() const { return tile_; }
  int64_t tiles_x() const { return tiles_x_; }
  int64_t tiles_y() const { return tiles_y_; }

  // The value of one sample; 0 (the image's fill) outside the scan.
  uint8_t pixel(int64_t x, int64_t y, int band) const {
    uint8_t rgb[kScanBands] = {0, 0, 0};
    if (inside(x, y)) pixel_in_tile(x, y, tile_of(x, y), rgb);
    return rgb[band];
  }

  // Renders `r` (any rectangle; pixels outside the scan are 0) as BIP RGB into dst, lines
  // `line_stride` bytes apart. The same values as pixel(): both go through pixel_in_tile(),
  // this one with the tile's class looked up once per run of pixels in one tile.
  void render(const Region& r, uint8_t* dst, size_t line_stride) const {
    for (int64_t y = r.y; y < r.y_end(); ++y) {
      uint8_t* out = dst + size_t(y - r.y) * line_stride;
      int64_t x = r.x;
      while (x < r.x_end()) {
        if (y < 0 || y >= height_ || x < 0 || x >= width_) {  // outside the scan: fill
          int64_t end = x < 0 ? std::min<int64_t>(0, r.x_end()) : r.x_end();
          if (y < 0 || y >= height_) end = r.x_end();
          std::memset(out, 0, size_t(end - x) * kScanBands);
          out += (end - x) * kScanBands;
          x = end;
          continue;
        }
        const int64_t end = std::min({r.x_end(), ((x >> tile_shift_) + 1) << tile_shift_, width_});
        const size_t t = tile_of(x, y);
        switch (kinds_[t]) {
          case Kind::kMargin:
            std::memset(out, 255, size_t(end - x) * kScanBands);
            out += (end - x) * kScanBands;
            x = end;
            break;
          case Kind::kCalibration:
            for (; x < end; ++x, out += kScanBands) calibration(x, y, out);
            break;
          case Kind::kSlide:
            if (disc_offsets_[t] == disc_offsets_[t + 1]) {
              // The common case, kept cheap: noise bits walk one row of the noise table.
              const uint16_t* row = &noise_[size_t((y % kNoiseRows) * kNoiseColumns)];
              int64_t column = x % kNoiseColumns;
              for (; x < end; ++x, out += kScanBands) {
                background(x, y, row[column], out);
                if (++column == kNoiseColumns) column = 0;
              }
            } else {
              // Tissue: the noise row and each 16-pixel cell's nucleus bits are looked up once.
              const uint16_t* row = &noise_[size_t((y % kNoiseRows) * kNoiseColumns)];
              int64_t column = x % kNoiseColumns;
              int64_t cell = x >> 4;
              uint32_t nucleus = nucleus_bits(x, y);
              for (; x < end; ++x, out += kScanBands) {
                if ((x >> 4) != cell) {
                  cell = x >> 4;
                  nucleus = nucleus_bits(x, y);
                }
                slide(x, y, t, row[column], nucleus, out);
                if (++column == kNoiseColumns) column = 0;
              }
            }
            break;
        }
      }
    }
  }

  // Counts of the tile kinds the generator made.
  uint64_t margin_tiles() const { return count_kind(Kind::kMargin); }
  uint64_t calibration_tiles() const { return count_kind(Kind::kCalibration); }
  size_t blob_count() const { return blobs_.size(); }

 private:
  enum class Kind : uint8_t { kMargin, kCalibration, kSlide };
  struct Disc {
    int64_t cx, cy, r2;
    uint16_t blob;
  };
  struct Blob {
    int stain;  // 0..63: how strongly hematoxylin tints this blob
  };
  static constexpr int kLattice = 256;  // the density lattice repeats every 256 * 64 pixels
  static constexpr int kNoiseColumns = 1021, kNoiseRows = 1019;

  static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
  static uint8_t clamp8(int v) { return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v); }

  bool inside(int64_t x, int64_t y) const { return x >= 0 && y >= 0 && x < width_ && y < height_; }
  size_t tile_of(int64_t x, int64_t y) const {
    return size_t((y >> tile_shift_) * tiles_x_ + (x >> tile_shift_));
  }
  uint64_t count_kind(Kind k) const { return uint64_t(std::count(kinds_.begin(), kinds_.end(), k)); }

  // Margin: the outer two rings of tiles. Calibration target: every 12th tile inside, both ways.
  void classify_tiles() {
    const int64_t margin = 2;
    kinds_.assign(size_t(tiles_x_ * tiles_y_), Kind::kSlide);
    for (int64_t ty = 0; ty < tiles_y_; ++ty) {
      for (int64_t tx = 0; tx < tiles_x_; ++tx) {
        Kind& k = kinds_[size_t(ty * tiles_x_ + tx)];
        if (tx < margin || ty < margin || tx >= tiles_x_ - margin || ty >= tiles_y_ - margin) {
          k = Kind::kMargin;
        } else if (tx % 12 == 6 && ty % 12 == 6) {
          k = Kind::kCalibration;  // a whole tile: only margin tiles reach past the scan
        }
      }
    }
  }

  // 36 blobs, each a union of 3..7 discs, inside the margin. Deterministic: the placement
  // depends only on the scan's size.
  void place_tissue() {
    disc_offsets_.assign(size_t(tiles_x_ * tiles_y_ + 1), 0);
    const int64_t inset = 3 * tile_;
    if (width_ <= 2 * inset || height_ <= 2 * inset) return;
    Rng rng{0x7E55E7A0ull ^ uint64_t(width_) * 31 ^ uint64_t(height_) * 131};
    const int64_t small_side = std::min(width_, height_);
    for (uint16_t b = 0; b < 36; ++b) {
      blobs_.push_back(Blob{int(rng.below(64))});
      const int64_t cx = inset + rng.below(width_ - 2 * inset);
      const int64_t cy = inset + rng.below(height_ - 2 * inset);
      const int64_t radius = small_side * (20 + rng.below(50)) / 1000;  // 2% .. 7% of the short side
      const int64_t discs = 3 + rng.below(5);
      for (int64_t d = 0; d < discs; ++d) {
        const int64_t r = std::max<int64_t>(2, radius * (40 + rng.below(60)) / 100);
        discs_.push_back(Disc{cx + rng.below(radius + 1) - radius / 2,
                              cy + rng.below(radius + 1) - radius / 2, r * r, b});
      }
    }
    // Per tile, the discs that may cover it, as compressed rows.
    std::vector<std::vector<uint16_t>> lists(size_t(tiles_x_ * tiles_y_));
    for (size_t i = 0; i < discs_.size(); ++i) {
      const Disc& d = discs_[i];
      int64_t r = 0;
      while (r * r < d.r2) ++r;
      const int64_t tx0 = std::max<int64_t>(0, floor_div(d.cx - r, tile_));
      const int64_t tx1 = std::min(tiles_x_ - 1, floor_div(d.cx + r, tile_));
      const int64_t ty0 = std::max<int64_t>(0, floor_div(d.cy - r, tile_));
      const int64_t ty1 = std::min(tiles_y_ - 1, floor_div(d.cy + r, tile_));
      for (int64_t ty = ty0; ty <= ty1; ++ty)
        for (int64_t tx = tx0; tx <= tx1; ++tx) lists[size_t(ty * tiles_x_ + tx)].push_back(uint16_t(i));
    }
    // A disc that covers a whole tile decides every pixel of it: it becomes the tile's only disc.
    for (size_t t = 0; t < lists.size(); ++t) {
      const int64_t x0 = int64_t(t % size_t(tiles_x_)) * tile_, y0 = int64_t(t / size_t(tiles_x_)) * tile_;
      for (uint16_t i : lists[t]) {
        const Disc& d = discs_[i];
        auto covers = [&](int64_t x, int64_t y) { return (x - d.cx) * (x - d.cx) + (y - d.cy) * (y - d.cy) < d.r2; };
        if (covers(x0, y0) && covers(x0 + tile_ - 1, y0) && covers(x0, y0 + tile_ - 1) &&
            covers(x0 + tile_ - 1, y0 + tile_ - 1)) {
          lists[t] = {i};
          break;
        }
      }
    }
    for (size_t t = 0; t < lists.size(); ++t) {
      disc_offsets_[t + 1] = disc_offsets_[t] + uint32_t(lists[t].size());
      disc_ids_.insert(disc_ids_.end(), lists[t].begin(), lists[t].end());
    }
  }

  // Random bits for the sensor noise of pixel (x, y): 4 per band, in bits 0..11. They come from
  // a table that repeats every 1021 columns and 1019 rows: both prime, so no two tiles of a scan
  // narrower than 256 * 1021 pixels see the same noise (no accidental duplicates).
  uint32_t noise_bits(int64_t x, int64_t y) const {
    return noise_[size_t((y % kNoiseRows) * kNoiseColumns + x % kNoiseColumns)];
  }
  // Sparse sensor noise: one sample in eight is off by one.
  static int noise(uint32_t h, int band) {
    static constexpr int8_t kNoise[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, -1};
    return kNoise[(h >> (4 * band)) & 15];
  }

  // Random bits of the 16x16 cell holding (x, y): where its nucleus is, if it has one.
  static uint32_t nucleus_bits(int64_t x, int64_t y) { return hash32(x >> 4, y >> 4, 0x5EED); }

  // Smooth stain density 0..255: value noise on a 64-pixel lattice, bilinearly interpolated.
  int density(int64_t x, int64_t y) const {
    const int lx = int((x >> 6) & (kLattice - 1)), ly = int((y >> 6) & (kLattice - 1));
    const int lx1 = (lx + 1) & (kLattice - 1), ly1 = (ly + 1) & (kLattice - 1);
    const int fx = int(x & 63), fy = int(y & 63);
    const int a = lattice_[size_t(ly * kLattice + lx)], b = lattice_[size_t(ly * kLattice + lx1)];
    const int c = lattice_[size_t(ly1 * kLattice + lx)], d = lattice_[size_t(ly1 * kLattice + lx1)];
    const int top = a * (64 - fx) + b * fx, bottom = c * (64 - fx) + d * fx;
    return (top * (64 - fy) + bottom * fy) >> 12;
  }

  // Near-white glass: 236..243, brightest in the middle (illumination), plus sensor noise.
  void background(int64_t x, int64_t y, uint32_t h, uint8_t* out) const {
    const int base = 243 - std::min(7, shade_x_[size_t(x)] + shade_y_[size_t(y)]);
    out[0] = uint8_t(base + 1 + noise(h, 0));
    out[1] = uint8_t(base + noise(h, 1));
    out[2] = uint8_t(base + 2 + noise(h, 2));
  }

  // Stained tissue: eosin pink darkening with density, some blobs tinted by hematoxylin, and
  // dark purple nuclei (at most one per 16x16 cell, radius about 2 to 4.5 pixels).
  void tissue(int64_t x, int64_t y, uint32_t h, uint32_t hc, const Blob& blob, uint8_t* out) const {
    const int d = density(x, y);
    int r = 240 - (d * 40 >> 8) - blob.stain / 2;
    int g = 185 - (d * 85 >> 8) - blob.stain / 3;
    int b = 215 - (d * 45 >> 8);
    if ((hc & 3) != 0) {
      const int du = int(x & 15) - 4 - int((hc >> 2) & 7);
      const int dv = int(y & 15) - 4 - int((hc >> 5) & 7);
      if (du * du + dv * dv <= 5 + int((hc >> 8) & 15)) {
        r = 90 + int((hc >> 12) & 31) + (d >> 3);
        g = 50 + int((hc >> 17) & 15);
        b = 135 + int((hc >> 21) & 31);
      }
    }
    out[0] = clamp8(r + 2 * noise(h, 0));
    out[1] = clamp8(g + 2 * noise(h, 1));
    out[2] = clamp8(b + 2 * noise(h, 2));
  }

  // A 4x4 colour checker with dark grid lines: a function of the position inside the tile only,
  // so every calibration tile holds the same bytes.
  void calibration(int64_t x, int64_t y, uint8_t* out) const {
    static constexpr uint8_t kPatches[16][3] = {
        {115, 82, 68},   {194, 150, 130}, {98, 122, 157}, {87, 108, 67},
        {133, 128, 177}, {103, 189, 170}, {214, 126, 44}, {80, 91, 166},
        {193, 90, 99},   {94, 60, 108},   {157, 188, 64}, {224, 163, 46},
        {56, 61, 150},   {70, 148, 73},   {175, 54, 60},  {231, 199, 31}};
    const int64_t u = x & (tile_ - 1), v = y & (tile_ - 1);
    const int64_t cell = tile_ / 4;
    if (u % cell < 2 || v % cell < 2) {
      out[0] = out[1] = out[2] = 20;
      return;
    }
    const uint8_t* p = kPatches[(v / cell) * 4 + u / cell];
    const int ramp = int((u % cell) * 16 / cell);  // a gentle ramp inside each patch
    out[0] = clamp8(p[0] + ramp);
    out[1] = clamp8(p[1] + ramp);
    out[2] = clamp8(p[2] + ramp);
  }

  // Background or tissue, whichever disc of tile t covers (x, y).
  void slide(int64_t x, int64_t y, size_t t, uint32_t h, uint32_t nucleus, uint8_t* out) const {
    for (uint32_t i = disc_offsets_[t]; i < disc_offsets_[t + 1]; ++i) {
      const Disc& d = discs_[disc_ids_[i]];
      const int64_t dx = x - d.cx, dy = y - d.cy;
      if (dx * dx + dy * dy < d.r2) {
        tissue(x, y, h, nucleus, blobs_[d.blob], out);
        return;
      }
    }
    background(x, y, h, out);
  }

  // The one definition of a pixel inside the scan; t is the tile holding (x, y).
  void pixel_in_tile(int64_t x, int64_t y, size_t t, uint8_t* out) const {
    switch (kinds_[t]) {
      case Kind::kMargin:
        out[0] = out[1] = out[2] = 255;
        return;
      case Kind::kCalibration:
        calibration(x, y, out);
        return;
      case Kind::kSlide:
        slide(x, y, t, noise_bits(x, y), nucleus_bits(x, y), out);
        return;
    }
  }

  int64_t width_, height_, tile_;
  int tile_shift_;
  int64_t tiles_x_, tiles_y_;
  std::vector<uint8_t> lattice_ = std::vector<uint8_t>(size_t(kLattice * kLattice));
  std::vector<uint16_t> noise_ = std::vector<uint16_t>(size_t(kNoiseColumns * kNoiseRows));
  std::vector<uint8_t> shade_x_, shade_y_;  // per column and row: 0..7 steps from the centre
  std::vector<Kind> kinds_;             // per tile, row-major
  std::vector<Blob> blobs_;
  std::vector<Disc> discs_;
  std::vector<uint32_t> disc_offsets_;  // per tile t: its discs are disc_ids_[off[t] .. off[t+1])
  std::vector<uint16_t> disc_ids_;
};

}  // namespace tessera::synth
