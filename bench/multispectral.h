// multispectral.h — a synthetic 8-band multispectral image, u16 samples holding 12-bit values
// (0..4095), as a satellite sensor delivers them. A pure function of (x, y, band), rendered
// strip by strip into a BIP buffer, so memory stays bounded whatever the size.
//
// The scene: land-cover classes (water, vegetation, soil, urban, cloud) from smooth value noise
// on a 128-pixel lattice, each with its own spectral signature over the 8 bands; brightness
// varies smoothly inside a class, and each sample carries 3 bits of sensor noise. Compressors
// see what they see on real scenes: smooth structure, noisy low bits.
#pragma once

#include <cstdint>
#include <vector>

#include "synthetic_scan.h"  // hash32
#include "tessera/types.h"

namespace tessera::bench {

class Multispectral {
 public:
  static constexpr int kBands = 8;

  Multispectral(int64_t width, int64_t height) : width_(width), height_(height) {
    for (int j = 0; j < kLattice; ++j)
      for (int i = 0; i < kLattice; ++i)
        lattice_[size_t(j * kLattice + i)] = uint8_t(synth::hash32(i, j, 0x5A7E));
    for (int j = 0; j < kNoiseRows; ++j)
      for (int i = 0; i < kNoiseColumns; ++i)
        noise_[size_t(j * kNoiseColumns + i)] = synth::hash32(i, j, 0x0153);
  }

  int64_t width() const { return width_; }
  int64_t height() const { return height_; }

  // Renders `r` (inside the image) as BIP u16 into dst, lines `line_samples` samples apart.
  void render(const Region& r, uint16_t* dst, size_t line_samples) const {
    for (int64_t y = r.y; y < r.y_end(); ++y) {
      uint16_t* out = dst + size_t(y - r.y) * line_samples;
      const uint32_t* noise_row = &noise_[size_t((y % kNoiseRows) * kNoiseColumns)];
      int64_t column = r.x % kNoiseColumns;
      for (int64_t x = r.x; x < r.x_end(); ++x, out += kBands) {
        const int d = density(x, y);  // 0..255
        const int cls = d < 70 ? 0 : d < 130 ? 1 : d < 180 ? 2 : d < 235 ? 3 : 4;
        const int brightness = 192 + ((d * 7) & 63);  // smooth inside a class: /256
        uint32_t n = noise_row[column];
        if (++column == kNoiseColumns) column = 0;
        for (int b = 0; b < kBands; ++b, n >>= 3) {
          const int v = (kSignature[cls][b] * brightness >> 8) + int(n & 7) - 3;
          out[b] = uint16_t(v < 0 ? 0 : v > 4095 ? 4095 : v);
        }
      }
    }
  }

 private:
  static constexpr int kLattice = 256;  // repeats every 256 * 128 pixels
  static constexpr int kNoiseColumns = 1021, kNoiseRows = 1019;
  // Reflectance of each class in each band (coastal .. SWIR), in 12-bit counts.
  static constexpr int kSignature[5][kBands] = {
      {420, 380, 300, 180, 90, 60, 40, 30},            // water
      {300, 420, 380, 900, 2900, 3100, 1800, 900},     // vegetation
      {700, 900, 1200, 1500, 1800, 2200, 2600, 2400},  // soil
      {1400, 1500, 1550, 1600, 1650, 1700, 1800, 1750},// urban
      {3800, 3850, 3900, 3900, 3850, 3800, 3300, 3000},// cloud
  };

  // Smooth value noise 0..255 on a 128-pixel lattice, bilinearly interpolated.
  int density(int64_t x, int64_t y) const {
    const int lx = int((x >> 7) & (kLattice - 1)), ly = int((y >> 7) & (kLattice - 1));
    const int lx1 = (lx + 1) & (kLattice - 1), ly1 = (ly + 1) & (kLattice - 1);
    const int fx = int(x & 127), fy = int(y & 127);
    const int a = lattice_[size_t(ly * kLattice + lx)], b = lattice_[size_t(ly * kLattice + lx1)];
    const int c = lattice_[size_t(ly1 * kLattice + lx)], d = lattice_[size_t(ly1 * kLattice + lx1)];
    const int top = a * (128 - fx) + b * fx, bottom = c * (128 - fx) + d * fx;
    return (top * (128 - fy) + bottom * fy) >> 14;
  }

  int64_t width_, height_;
  std::vector<uint8_t> lattice_ = std::vector<uint8_t>(size_t(kLattice * kLattice));
  std::vector<uint32_t> noise_ = std::vector<uint32_t>(size_t(kNoiseColumns * kNoiseRows));
};

}  // namespace tessera::bench
