// tessera/mapped.h — mapped images: a registered mosaic stored as a definition (its sources
// and the transforms that place them) and read through those transforms, never written out.
//
// A mapped image has one frame and no tiles of its own. Every read of it reads, for each
// source, only the source tiles the inverse-transformed region touches (through the same
// tile path and caches as any read), resamples them and blends the sources where they
// overlap. Writes of it are refused; `tessera materialize` (or a read and a write) makes an
// ordinary image of it. spec/FORMAT.md 4.1 and 5.7 say how it is stored and what a read gives.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera {

// Where a source pixel lands: mapped (X, Y) = (a*x + b*y + c, d*x + e*y + f) for source
// (x, y), both in level-0 pixel coordinates with pixel (i, j) covering [i, i+1) x [j, j+1).
// A translation (1, 0, tx, 0, 1, ty) with whole tx, ty maps pixels exactly.
struct Affine {
  double a = 1, b = 0, c = 0, d = 0, e = 1, f = 0;
  static Affine translation(double x, double y) { return Affine{1, 0, x, 0, 1, y}; }
  bool operator==(const Affine&) const = default;
};
TESSERA_API std::string to_string(const Affine& affine);  // "a,b,c,d,e,f", shortest exact digits

// One source of a mapped image: a frame of an image (ordinary or mapped) of the same container,
// optionally a band map (mapped band i is the source's band bands[i]), and its transform.
struct MappedSource {
  std::string image;
  uint32_t frame = 0;
  std::vector<uint32_t> bands;  // empty: every band in order
  Affine transform;
  bool operator==(const MappedSource&) const = default;
};

// How sources that overlap make a pixel. A source pixel equal to its source's fill value
// (on every mapped band, bytewise) is no-data and takes no part; where no source has data the
// mapped image shows its fill.
//  kFirst: the first source (in definition order) with data; kLast: the last one
//  kMean:  each band's mean of the sources with data (integers rounded to nearest)
//  kMax:   each band's greatest value of the sources with data
enum class Blend : uint8_t { kFirst = 0, kLast = 1, kMean = 2, kMax = 3 };
TESSERA_API std::string_view blend_name(Blend blend);  // "first", "last", "mean", "max"
TESSERA_API Result<Blend> parse_blend(std::string_view text);

// How a source is sampled at a mapped pixel's centre, inverse-transformed into the source.
//  kNearest:  the source pixel holding that point
//  kBilinear: the 2 x 2 source pixels around it, weighted by distance; no-data neighbours are
//             left out and the weights of the others scaled up (no data when none is left)
enum class Interpolation : uint8_t { kNearest = 0, kBilinear = 1 };
TESSERA_API std::string_view interpolation_name(Interpolation interpolation);  // "nearest", "bilinear"
TESSERA_API Result<Interpolation> parse_interpolation(std::string_view text);

struct MappedSpec {
  std::vector<MappedSource> sources;  // 1 .. kMaxMappedSources
  Blend blend = Blend::kFirst;
  Interpolation interpolation = Interpolation::kNearest;
  // The value where no source has data: one per band or one for all; empty: the first
  // source's fill value on its mapped bands.
  std::vector<double> fill;
  bool operator==(const MappedSpec&) const = default;
};

// Sources of one mapped image, and how deep mapped images may stand on mapped images.
constexpr uint32_t kMaxMappedSources = 4096;
constexpr uint32_t kMaxMappedDepth = 8;

}  // namespace tessera
