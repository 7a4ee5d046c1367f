// mapped_test.cc — mapped images (tessera/mapped.h, spec/FORMAT.md 5.7) against a reference
// resampler written here from the spec alone: each mapped pixel's centre inverse-transformed by
// solving the 2 x 2 system (Cramer's rule), sampled nearest or bilinear with no-data left out,
// the sources blended in double arithmetic.
#include <cmath>

#include "format/mapped_record.h"
#include "test_util.h"
#include "tessera/iterator.h"
#include "tessera/verify.h"

namespace tessera::test {
namespace {

// A source as the test made it: its pixels in a box (everything outside is its fill), doubles.
struct RefSource {
  std::string image;
  Region box;
  uint32_t bands = 0;
  std::vector<double> values;  // box.height x box.width x bands
  std::vector<double> fill;
  Affine transform;

  // The pixel's values; nullopt when it is no-data (outside the box, or equal to the fill).
  std::optional<std::vector<double>> at(int64_t x, int64_t y) const {
    std::vector<double> v(fill);
    if (x >= box.x && y >= box.y && x < box.x_end() && y < box.y_end())
      for (uint32_t b = 0; b < bands; ++b)
        v[b] = values[(size_t(y - box.y) * size_t(box.width) + size_t(x - box.x)) * bands + b];
    if (v == fill) return std::nullopt;
    return v;
  }
};

double rounded(DataType type, double v) {
  if (type == DataType::kF32) return double(float(v));
  if (type == DataType::kF64) return v;
  v = std::round(v);
  return type == DataType::kU8 ? std::clamp(v, 0.0, 255.0) : std::clamp(v, 0.0, 65535.0);
}

// What the spec says mapped pixel (x, y) of level `level` is.
std::vector<double> reference_pixel(const std::vector<RefSource>& sources, DataType type, Blend blend,
                                    Interpolation interpolation, const std::vector<double>& fill, int64_t x,
                                    int64_t y, uint32_t level = 0) {
  const uint32_t bands = uint32_t(fill.size());
  std::vector<double> out = fill, sum(bands, 0.0);
  int count = 0;
  bool have = false;
  for (const RefSource& s : sources) {
    const Affine& t = s.transform;
    const double scale = std::ldexp(1.0, -int(level));
    // Solve (X, Y) = M (x, y) + t for (x, y).
    const double px = double(x) + 0.5 - t.c * scale, py = double(y) + 0.5 - t.f * scale;
    const double det = t.a * t.e - t.b * t.d;
    const double sx = (px * t.e - t.b * py) / det, sy = (t.a * py - t.d * px) / det;
    std::optional<std::vector<double>> v;
    if (interpolation == Interpolation::kNearest) {
      v = s.at(int64_t(std::floor(sx)), int64_t(std::floor(sy)));
    } else {
      const double u = sx - 0.5, w = sy - 0.5;
      const int64_t x0 = int64_t(std::floor(u)), y0 = int64_t(std::floor(w));
      const double dx = u - std::floor(u), dy = w - std::floor(w);
      const double weights[4] = {(1 - dx) * (1 - dy), dx * (1 - dy), (1 - dx) * dy, dx * dy};
      const int64_t nx[4] = {x0, x0 + 1, x0, x0 + 1}, ny[4] = {y0, y0, y0 + 1, y0 + 1};
      std::vector<double> acc(bands, 0.0);
      double total = 0;
      int used = 0;
      std::vector<double> only;
      for (int n = 0; n < 4; ++n) {
        if (weights[n] <= 0) continue;
        auto p = s.at(nx[n], ny[n]);
        if (!p) continue;
        ++used, total += weights[n], only = *p;
        for (uint32_t b = 0; b < bands; ++b) acc[b] += weights[n] * (*p)[b];
      }
      if (used == 1) v = only;
      else if (used > 1) {
        for (double& a : acc) a = rounded(type, a / total);
        v = acc;
      }
    }
    if (!v) continue;
    switch (blend) {
      case Blend::kFirst:
        if (!have) out = *v;
        break;
      case Blend::kLast: out = *v; break;
      case Blend::kMean:
        for (uint32_t b = 0; b < bands; ++b) sum[b] += (*v)[b];
        ++count;
        break;
      case Blend::kMax:
        for (uint32_t b = 0; b < bands; ++b) out[b] = have ? std::max(out[b], (*v)[b]) : (*v)[b];
        break;
    }
    have = true;
  }
  if (blend == Blend::kMean && count)
    for (uint32_t b = 0; b < bands; ++b) out[b] = rounded(type, sum[b] / count);
  return out;
}

double load(DataType type, const uint8_t* p) {
  switch (type) {
    case DataType::kU8: return *p;
    case DataType::kU16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case DataType::kF32: { float v; std::memcpy(&v, p, 4); return v; }
    default: ADD_FAILURE() << "type not used here"; return 0;
  }
}

class MappedTest : public TempDirTest {
 protected:
  void SetUp() override {
    auto c = Container::create(path("m.tsr"));
    ASSERT_OK(c);
    container_.emplace(std::move(c.value()));
  }

  // An image of `type` with `bands` whose box holds random values, a few of them the fill
  // (no-data inside the box) and some whole tiles absent (sparse), placed by `transform`.
  RefSource add_source(const std::string& name, DataType type, uint32_t bands, Region box, Affine transform,
                       uint64_t seed, double fill = 0) {
    ImageSpec spec;
    spec.type = type;
    spec.bands = bands;
    spec.tile_size = 16;
    spec.macro_tiles = 2;
    spec.fill = {fill};
    RefSource s{name, box, bands, {}, std::vector<double>(bands, fill), transform};
    Rng rng(seed);
    s.values.resize(size_t(box.pixel_count()) * bands);
    const double top = type == DataType::kU8 ? 255 : type == DataType::kU16 ? 65535 : 1000;
    for (int64_t y = 0; y < box.height; ++y)
      for (int64_t x = 0; x < box.width; ++x) {
        // A hole of fill every 7th 16 x 16 block and now and then a pixel: no-data in the box.
        const bool hole = ((x / 16) * 3 + (y / 16)) % 7 == 0 || rng.chance(0.02);
        for (uint32_t b = 0; b < bands; ++b) {
          double v = hole ? fill : double(rng.uniform(0, int64_t(top)));
          if (type == DataType::kF32 && !hole) v = double(float(v / 7.0));
          s.values[(size_t(y) * size_t(box.width) + size_t(x)) * bands + b] = v;
        }
      }
    std::vector<uint8_t> bytes;
    for (double v : s.values) {
      const std::vector<uint8_t> b = sample_bytes_of(type, v);
      bytes.insert(bytes.end(), b.begin(), b.end());
    }
    EXPECT_OK(container_->write([&](WriteTxn& txn) -> Status {
      TESSERA_RETURN_IF_ERROR(txn.create_image(name, spec));
      return txn.write(name, box, {}, bytes.data(), bytes.size());
    }));
    return s;
  }

  Status define(const std::string& name, const std::vector<RefSource>& sources, Blend blend,
                Interpolation interpolation, std::vector<double> fill = {}) {
    MappedSpec spec;
    for (const RefSource& s : sources) spec.sources.push_back(MappedSource{s.image, 0, {}, s.transform});
    spec.blend = blend;
    spec.interpolation = interpolation;
    spec.fill = std::move(fill);
    return container_->write([&](WriteTxn& txn) { return txn.define_mapped(name, spec); });
  }

  // Reads `region` of mapped image `name` and counts the pixels that differ from the reference.
  int64_t mismatches(const std::string& name, const std::vector<RefSource>& sources, DataType type, Blend blend,
                     Interpolation interpolation, const std::vector<double>& fill, const Region& region,
                     uint32_t level = 0, bool reduced = false) {
    auto snap = container_->snapshot();
    EXPECT_OK(snap);
    const uint32_t bands = uint32_t(fill.size());
    const size_t ss = dtype_bytes(type);
    std::vector<uint8_t> got(size_t(region.pixel_count()) * bands * ss);
    Status read = reduced ? snap->read_reduced(name, region, {0, level, {}}, 3, got.data(), got.size())
                          : snap->read(name, region, {0, level, {}}, got.data(), got.size());
    EXPECT_OK(read);
    if (!read.is_ok()) return region.pixel_count();
    int64_t wrong = 0;
    for (int64_t y = 0; y < region.height; ++y)
      for (int64_t x = 0; x < region.width; ++x) {
        const auto want = reference_pixel(sources, type, blend, interpolation, fill, region.x + x, region.y + y, level);
        // Unrounded, to tell a tie (x.5 within rounding of the arithmetic) from an error.
        const auto exact = reference_pixel(sources, DataType::kF64, blend, interpolation, fill, region.x + x,
                                           region.y + y, level);
        for (uint32_t b = 0; b < bands; ++b) {
          const double g = load(type, got.data() + ((size_t(y) * size_t(region.width) + size_t(x)) * bands + b) * ss);
          const bool tie = g == rounded(type, exact[b] + 1e-9) || g == rounded(type, exact[b] - 1e-9);
          const bool ulps = type == DataType::kF32 && std::fabs(g - want[b]) <= 2.5e-7 * std::max(1.0, std::fabs(want[b]));
          if (g != want[b] && !tie && !ulps) {
            if (wrong < 3) {
              ADD_FAILURE() << name << " pixel (" << region.x + x << ", " << region.y + y << ") band " << b
                            << ": read " << g << ", reference " << want[b];
              for (const RefSource& s : sources)
                ADD_FAILURE() << "  alone " << s.image << ": " << reference_pixel({s}, type, blend, interpolation, fill, region.x + x, region.y + y, level)[b];
            }
            ++wrong;
            break;
          }
        }
      }
    return wrong;
  }

  std::optional<Container> container_;
};

const Blend kBlends[] = {Blend::kFirst, Blend::kLast, Blend::kMean, Blend::kMax};
const Interpolation kInterpolations[] = {Interpolation::kNearest, Interpolation::kBilinear};

TEST_F(MappedTest, TranslationsAreExactToThePixelWithEveryBlend) {
  // Sources at negative coordinates, overlapping, translated by whole pixels.
  std::vector<RefSource> sources = {
      add_source("a", DataType::kU16, 3, {-40, -30, 70, 50}, Affine::translation(-13, 25), 1),
      add_source("b", DataType::kU16, 3, {5, -60, 45, 80}, Affine::translation(-30, 40), 2),
      add_source("c", DataType::kU16, 3, {-100, 0, 90, 30}, Affine::translation(70, -5), 3)};
  const std::vector<double> fill = {0, 0, 0};
  int n = 0;
  for (Blend blend : kBlends)
    for (Interpolation interpolation : kInterpolations) {
      const std::string name = "m" + std::to_string(n++);
      ASSERT_OK(define(name, sources, blend, interpolation));
      EXPECT_EQ(mismatches(name, sources, DataType::kU16, blend, interpolation, fill, {-80, -40, 160, 120}), 0)
          << blend_name(blend) << " " << interpolation_name(interpolation);
      // An unaligned window and a single pixel.
      EXPECT_EQ(mismatches(name, sources, DataType::kU16, blend, interpolation, fill, {-31, 3, 17, 9}), 0);
      EXPECT_EQ(mismatches(name, sources, DataType::kU16, blend, interpolation, fill, {-20, 10, 1, 1}), 0);
    }
}

TEST_F(MappedTest, RotationsAndScalesMatchTheReferenceResampler) {
  const double angle = 0.4, c = std::cos(angle), s = std::sin(angle);
  for (DataType type : {DataType::kU8, DataType::kF32}) {
    const std::string p = std::string(dtype_label(type));
    std::vector<RefSource> sources = {
        add_source(p + "r", type, 2, {0, 0, 64, 48}, Affine{c, -s, 10.25, s, c, -3.5}, 11),
        add_source(p + "s", type, 2, {-20, -20, 40, 40}, Affine{1.47, 0, 0.3, 0, 0.77, 7.1}, 12),
        add_source(p + "t", type, 2, {0, 0, 50, 50}, Affine{0.53, 0.11, -9.3, -0.07, 0.49, 20.2}, 13)};
    const std::vector<double> fill = {0, 0};
    int n = 0;
    for (Blend blend : kBlends)
      for (Interpolation interpolation : kInterpolations) {
        const std::string name = p + "m" + std::to_string(n++);
        ASSERT_OK(define(name, sources, blend, interpolation));
        // Centres that fall within rounding of a pixel edge may go either way: at most 1 in 1000
        // (coefficients that are not round keep centres off the edges).
        const Region region{-40, -30, 110, 100};
        EXPECT_LE(mismatches(name, sources, type, blend, interpolation, fill, region), region.pixel_count() / 1000)
            << p << " " << blend_name(blend) << " " << interpolation_name(interpolation);
      }
  }
}

TEST_F(MappedTest, SparseSourcesShowTheFillWhereNoSourceHasData) {
  std::vector<RefSource> sources = {
      add_source("a", DataType::kU8, 1, {0, 0, 64, 64}, Affine::translation(0, 0), 21, 7),
      add_source("b", DataType::kU8, 1, {200, 200, 32, 32}, Affine::translation(-100, -100), 22, 9)};
  ASSERT_OK(define("m", sources, Blend::kMean, Interpolation::kNearest, {42}));
  EXPECT_EQ(mismatches("m", sources, DataType::kU8, Blend::kMean, Interpolation::kNearest, {42}, {-50, -50, 250, 250}), 0);
  // Far from every source: the fill, and no source is read.
  std::vector<uint8_t> far(64 * 64);
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  ASSERT_OK(snap.read("m", {int64_t(1) << 40, -(int64_t(1) << 40), 64, 64}, {}, far.data(), far.size()));
  EXPECT_EQ(std::count(far.begin(), far.end(), 42), 64 * 64);
  // The default fill is the first source's.
  ASSERT_OK(define("d", sources, Blend::kFirst, Interpolation::kNearest));
  ASSERT_OK_AND_ASSIGN(ImageInfo info, snap.image("m"));
  EXPECT_TRUE(info.mapped);
  ASSERT_OK_AND_ASSIGN(auto again, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(ImageInfo d, again.image("d"));
  EXPECT_EQ(d.fill_pixel, std::vector<uint8_t>{7});
}

TEST_F(MappedTest, BoundsAndExtentAreTheSourcesTransformed) {
  std::vector<RefSource> sources = {
      add_source("a", DataType::kU8, 1, {0, 0, 40, 20}, Affine::translation(-100, 5), 31),
      add_source("b", DataType::kU8, 1, {0, 0, 20, 20}, Affine{0, -1, 0, 1, 0, 0}, 32)};  // a quarter turn
  ASSERT_OK(define("m", sources, Blend::kFirst, Interpolation::kNearest));
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto leaf, snap.bounds("m", 0, Precision::kLeaf));
  ASSERT_TRUE(leaf.has_value());
  // a's tiles cover 0..48 x 0..32 (16-pixel tiles) -> -100..-52 x 5..37; b's 0..32 x 0..32 turned:
  // x = -y, y = x -> -32..0 x 0..32.
  EXPECT_EQ(*leaf, (Region{-100, 0, 100, 37}));
  ASSERT_OK_AND_ASSIGN(auto extent, snap.extent("m"));
  ASSERT_TRUE(extent.has_value());
  EXPECT_EQ(*extent, (Region{-100, 0, 100, 37}));  // no source declared one: their leaf boxes
}

TEST_F(MappedTest, LevelsReadTheSourcesLevels) {
  std::vector<RefSource> sources = {
      add_source("a", DataType::kU8, 1, {0, 0, 128, 96}, Affine::translation(32, 16), 41),
      add_source("b", DataType::kU8, 1, {0, 0, 96, 96}, Affine{0.9, 0.2, -20, -0.2, 0.9, 40}, 42)};
  ASSERT_OK(define("m", sources, Blend::kMax, Interpolation::kBilinear));
  ASSERT_OK_AND_ASSIGN(auto before, container_->snapshot());
  std::vector<uint8_t> buf(32 * 32);
  EXPECT_CODE(before.read("m", {0, 0, 32, 32}, {0, 1, {}}, buf.data(), buf.size()), Code::kNotFound);
  ASSERT_OK(container_->build_pyramid("a", PyramidOptions{.levels = 2}));
  ASSERT_OK(container_->build_pyramid("b", PyramidOptions{.levels = 1}));
  // The reference from the sources' own level 1, the transform's translation halved.
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  std::vector<RefSource> level1 = sources;
  for (RefSource& s : level1) {
    const Region box = level_region(s.box, 1);
    s.box = box;
    std::vector<uint8_t> px(size_t(box.pixel_count()));
    ASSERT_OK(snap.read(s.image, box, {0, 1, {}}, px.data(), px.size()));
    s.values.assign(px.begin(), px.end());
  }
  ASSERT_OK_AND_ASSIGN(PyramidInfo pyramid, snap.pyramid("m"));
  EXPECT_EQ(pyramid.levels, 1u);  // what every source has
  EXPECT_EQ(mismatches("m", level1, DataType::kU8, Blend::kMax, Interpolation::kBilinear, {0}, {-10, -10, 100, 80}, 1),
            0);
  // Level 2: b has no level 2 built; read_reduced makes it.
  EXPECT_CODE(snap.read("m", {0, 0, 32, 32}, {0, 2, {}}, buf.data(), buf.size()), Code::kNotFound);
  EXPECT_OK(snap.read_reduced("m", {0, 0, 32, 32}, {0, 2, {}}, 3, buf.data(), buf.size()));
}

TEST_F(MappedTest, BandMapsPickAndOrderTheSourcesBands) {
  RefSource a = add_source("a", DataType::kU16, 3, {0, 0, 32, 32}, Affine::translation(0, 0), 51);
  MappedSpec spec;
  spec.sources = {MappedSource{"a", 0, {2, 0}, Affine::translation(5, 5)}};
  ASSERT_OK(container_->write([&](WriteTxn& txn) { return txn.define_mapped("m", spec); }));
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  std::vector<uint16_t> got(10 * 10 * 2), src(10 * 10 * 3);
  ASSERT_OK(snap.read("m", {5, 5, 10, 10}, {}, got.data(), got.size() * 2));
  ASSERT_OK(snap.read("a", {0, 0, 10, 10}, {}, src.data(), src.size() * 2));
  for (size_t i = 0; i < 100; ++i) {
    // A pixel that is no-data on both mapped bands shows the fill (0, 0): so does the source.
    EXPECT_EQ(got[i * 2], src[i * 3 + 2]) << i;
    EXPECT_EQ(got[i * 2 + 1], src[i * 3 + 0]) << i;
  }
  // One band of the mapped image alone.
  std::vector<uint16_t> one(100);
  ASSERT_OK(snap.read("m", {5, 5, 10, 10}, {0, 0, {1}}, one.data(), one.size() * 2));
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(one[i], got[i * 2 + 1]);
  ASSERT_OK_AND_ASSIGN(MappedSpec back, snap.mapped("m"));
  EXPECT_EQ(back.sources, spec.sources);
  EXPECT_EQ(back.fill, (std::vector<double>{0, 0}));
  (void)a;
}

TEST_F(MappedTest, MappedImagesStandOnMappedImagesWithoutCycles) {
  std::vector<RefSource> sources = {add_source("a", DataType::kU8, 1, {0, 0, 48, 48}, Affine::translation(3, 4), 61)};
  ASSERT_OK(define("inner", sources, Blend::kFirst, Interpolation::kNearest));
  MappedSpec outer;
  outer.sources = {MappedSource{"inner", 0, {}, Affine::translation(10, -2)}};
  ASSERT_OK(container_->write([&](WriteTxn& txn) { return txn.define_mapped("outer", outer); }));
  // outer = a moved by (13, 2).
  std::vector<RefSource> composed = sources;
  composed[0].transform = Affine::translation(13, 2);
  EXPECT_EQ(mismatches("outer", composed, DataType::kU8, Blend::kFirst, Interpolation::kNearest, {0}, {0, 0, 70, 60}), 0);
  // A cycle (inner on outer on inner) is refused, and so is removing a source.
  MappedSpec cyclic;
  cyclic.sources = {MappedSource{"outer", 0, {}, Affine{}}};
  Status cycle = container_->write([&](WriteTxn& txn) { return txn.define_mapped("inner", cyclic, /*replace=*/true); });
  EXPECT_CODE(cycle, Code::kInvalidArgument);
  EXPECT_NE(cycle.message().find("cycle"), std::string::npos) << cycle.message();
  EXPECT_CODE(container_->write([&](WriteTxn& txn) { return txn.remove_mapped("inner"); }), Code::kInvalidArgument);
  // Chains deeper than kMaxMappedDepth are refused: outer stands on inner, each level on the last.
  std::vector<std::string> chain = {"inner", "outer"};
  Status deep = Status::ok();
  while (deep.is_ok()) {
    MappedSpec next;
    next.sources = {MappedSource{chain.back(), 0, {}, Affine{}}};
    const std::string name = "level" + std::to_string(chain.size());
    deep = container_->write([&](WriteTxn& txn) { return txn.define_mapped(name, next); });
    if (deep.is_ok()) chain.push_back(name);
  }
  EXPECT_CODE(deep, Code::kInvalidArgument);
  EXPECT_EQ(chain.size(), kMaxMappedDepth) << deep.message();
  // The top of the chain is nobody's source: it goes, and then the one below it can.
  EXPECT_OK(container_->write([&](WriteTxn& txn) { return txn.remove_mapped(chain.back()); }));
  EXPECT_CODE(container_->write([&](WriteTxn& txn) { return txn.remove_mapped(chain.back()); }), Code::kNotFound);
  EXPECT_OK(container_->write([&](WriteTxn& txn) { return txn.remove_mapped(chain[chain.size() - 2]); }));
}

TEST_F(MappedTest, WritesAndBadDefinitionsAreRefusedClearly) {
  add_source("a", DataType::kU8, 2, {0, 0, 32, 32}, Affine{}, 71);
  add_source("f", DataType::kF32, 2, {0, 0, 32, 32}, Affine{}, 72);
  ASSERT_OK(define("m", {RefSource{"a", {}, 2, {}, {}, Affine{}}}, Blend::kFirst, Interpolation::kNearest));
  std::vector<uint8_t> px(16 * 16 * 2);
  Status write = container_->write([&](WriteTxn& txn) { return txn.write("m", {0, 0, 16, 16}, {}, px.data(), px.size()); });
  EXPECT_CODE(write, Code::kInvalidArgument);
  EXPECT_NE(write.message().find("mapped image"), std::string::npos) << write.message();
  EXPECT_CODE(container_->write([&](WriteTxn& txn) { return txn.add_frame("m"); }), Code::kInvalidArgument);
  EXPECT_CODE(container_->write([&](WriteTxn& txn) { return txn.set_attribute("m", "x", AttributeValue{int64_t(1)}); }),
              Code::kInvalidArgument);
  EXPECT_CODE(container_->build_pyramid("m"), Code::kInvalidArgument);
  EXPECT_CODE(container_->write([&](WriteTxn& txn) { return txn.create_image("m", ImageSpec{}); }), Code::kAlreadyExists);
  const auto refused = [&](MappedSpec spec) {
    return container_->write([&](WriteTxn& txn) { return txn.define_mapped("bad", spec); });
  };
  EXPECT_CODE(refused(MappedSpec{}), Code::kInvalidArgument);  // no source
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"nope", 0, {}, Affine{}}}}), Code::kInvalidArgument);
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"a", 1, {}, Affine{}}}}), Code::kInvalidArgument);       // no frame 1
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"a", 0, {2}, Affine{}}}}), Code::kInvalidArgument);      // no band 2
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"a", 0, {}, Affine{1, 2, 0, 2, 4, 0}}}}), Code::kInvalidArgument);  // singular
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"a", 0, {}, Affine{NAN, 0, 0, 0, 1, 0}}}}), Code::kInvalidArgument);
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"a", 0, {}, Affine{}}, MappedSource{"f", 0, {}, Affine{}}}}),
              Code::kInvalidArgument);  // u8 and f32
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"a", 0, {}, Affine{}}}, Blend::kFirst, Interpolation::kNearest, {300}}),
              Code::kInvalidArgument);  // a fill u8 cannot hold
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"a", 0, {}, Affine{}}}}), Code::kOk);
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"a", 0, {}, Affine{}}}}), Code::kAlreadyExists);
  EXPECT_CODE(refused(MappedSpec{{MappedSource{"bad", 0, {}, Affine{}}}}), Code::kAlreadyExists);
}

TEST_F(MappedTest, TheBlockIteratorWalksAMappedImage) {
  std::vector<RefSource> sources = {
      add_source("a", DataType::kU16, 2, {-20, -20, 50, 40}, Affine{0.9, 0.3, 4, -0.3, 0.9, 2}, 111)};
  ASSERT_OK(define("m", sources, Blend::kFirst, Interpolation::kBilinear));
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  const Region region{-30, -25, 70, 60};
  std::vector<uint16_t> whole(size_t(region.pixel_count()) * 2);
  ASSERT_OK(snap.read("m", region, {}, whole.data(), whole.size() * 2));
  ASSERT_OK_AND_ASSIGN(BlockIterator it, BlockIterator::create(snap, "m", region, {}, IterationMode::kSpatial));
  uint64_t samples = 0;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(bool more, it.next());
    if (!more) break;
    const tessera::Block& b = it.block();
    const auto* data = static_cast<const uint8_t*>(b.data);
    for (int64_t y = 0; y < b.region.height; ++y)
      for (int64_t x = 0; x < b.region.width; ++x) {
        uint16_t v;
        std::memcpy(&v, data + y * b.strides.line + x * b.strides.pixel, 2);
        const size_t at = size_t((b.region.y - region.y + y) * region.width + (b.region.x - region.x + x)) * 2 + b.bands[0];
        ASSERT_EQ(v, whole[at]) << "block " << to_string(b.region) << " band " << b.bands[0];
        ++samples;
      }
  }
  EXPECT_EQ(samples, uint64_t(region.pixel_count()) * 2);
}

TEST_F(MappedTest, FramesAMappedImageReadsAreNotDropped) {
  add_source("a", DataType::kU8, 1, {0, 0, 32, 32}, Affine{}, 101);
  ASSERT_OK(container_->write([&](WriteTxn& txn) -> Status {
    TESSERA_RETURN_IF_ERROR(txn.add_frame("a"));
    return txn.add_frame("a");
  }));
  MappedSpec spec;
  spec.sources = {MappedSource{"a", 1, {}, Affine{}}};
  ASSERT_OK(container_->write([&](WriteTxn& txn) { return txn.define_mapped("m", spec); }));
  // Dropping frame 0 or 1 would make the mapped image show frame 2 as frame 1.
  for (uint32_t frame : {0u, 1u}) {
    Status dropped = container_->write([&](WriteTxn& txn) { return txn.drop_frame("a", frame); });
    EXPECT_CODE(dropped, Code::kInvalidArgument);
    EXPECT_NE(dropped.message().find("mapped image 'm' reads its frame 1"), std::string::npos) << dropped.message();
  }
  EXPECT_OK(container_->write([&](WriteTxn& txn) { return txn.drop_frame("a", 2); }));  // after it: fine
}

TEST_F(MappedTest, DefinitionsPersistAndMakeTheFile24) {
  add_source("a", DataType::kU8, 1, {0, 0, 32, 32}, Affine{}, 81);
  EXPECT_EQ(container_->format_version(), (FormatVersion{2, 3}));
  ASSERT_OK(define("m", {RefSource{"a", {}, 1, {}, {}, Affine{0.5, 0, 1, 0, 0.5, 2}}}, Blend::kMean,
                   Interpolation::kBilinear, {3}));
  EXPECT_EQ(container_->format_version(), (FormatVersion{2, 4}));
  container_.reset();
  ASSERT_OK_AND_ASSIGN(Container again, Container::open(path("m.tsr")));
  ASSERT_OK_AND_ASSIGN(auto snap, again.snapshot());
  ASSERT_OK_AND_ASSIGN(MappedSpec spec, snap.mapped("m"));
  EXPECT_EQ(spec.blend, Blend::kMean);
  EXPECT_EQ(spec.interpolation, Interpolation::kBilinear);
  EXPECT_EQ(spec.fill, std::vector<double>{3});
  EXPECT_EQ(spec.sources.at(0).transform, (Affine{0.5, 0, 1, 0, 0.5, 2}));
  bool listed = false;
  for (const ImageInfo& info : snap.images()) listed = listed || (info.name == "m" && info.mapped);
  EXPECT_TRUE(listed);
  expect_verifies(path("m.tsr"));
  // The delta filter then makes it 3.2, not 3.1 (which has no mapped images).
  ImageSpec delta;
  delta.filter = Filter::kDelta;
  ASSERT_OK(again.write([&](WriteTxn& txn) { return txn.create_image("d", delta); }));
  EXPECT_EQ(again.format_version(), (FormatVersion{3, 2}));
  expect_verifies(path("m.tsr"));
}

TEST_F(MappedTest, VerifyChecksMappedImages) {
  add_source("a", DataType::kU8, 2, {0, 0, 32, 32}, Affine{}, 91);
  add_source("b", DataType::kU16, 2, {0, 0, 32, 32}, Affine{}, 92);
  ASSERT_OK(define("m", {RefSource{"a", {}, 2, {}, {}, Affine{}}}, Blend::kFirst, Interpolation::kNearest));
  ASSERT_OK(define("n", {RefSource{"m", {}, 2, {}, {}, Affine{}}}, Blend::kFirst, Interpolation::kNearest));
  container_.reset();
  expect_verifies(path("m.tsr"));
  // Records written past the library: a cycle, a source of another type, a missing source.
  const auto put = [&](const std::string& name, std::vector<MappedSource> sources, std::vector<uint8_t> fill) {
    detail::MappedValue value{std::move(sources), Blend::kFirst, Interpolation::kNearest, std::move(fill)};
    const std::vector<uint8_t> key = detail::mapped_record_key(name);
    const std::vector<uint8_t> bytes = detail::build_mapped_record(key, value);
    ASSERT_TRUE(lmdb_put(path("m.tsr"), "meta", std::string(key.begin(), key.end()),
                         std::string(bytes.begin(), bytes.end())));
  };
  put("m", {MappedSource{"n", 0, {}, Affine{}}}, {0, 0});
  put("x", {MappedSource{"a", 0, {}, Affine{}}, MappedSource{"b", 0, {}, Affine{}}}, {0, 0});
  put("y", {MappedSource{"gone", 0, {}, Affine{}}}, {0});
  ASSERT_OK_AND_ASSIGN(VerifyReport report, verify(path("m.tsr")));
  std::string all;
  for (const Fault& f : report.faults) {
    EXPECT_EQ(f.invariant, "MAPPED_IMAGE_VALID") << f.message;
    all += f.message + "\n";
  }
  EXPECT_NE(all.find("cycle"), std::string::npos) << all;
  EXPECT_NE(all.find("mapped image 'x': source 'b' differs"), std::string::npos) << all;
  EXPECT_NE(all.find("mapped image 'y': source 'gone' is not an image"), std::string::npos) << all;
  EXPECT_EQ(report.mapped_images, 4u);
  // Reads refuse them too, naming the fault.
  ASSERT_OK_AND_ASSIGN(Container c, Container::open(path("m.tsr")));
  ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
  std::vector<uint8_t> px(2);
  Status cycle = snap.read("n", {0, 0, 1, 1}, {}, px.data(), px.size());
  EXPECT_CODE(cycle, Code::kInvalidArgument);
  EXPECT_NE(cycle.message().find("cycle"), std::string::npos) << cycle.message();
  EXPECT_CODE(snap.read("x", {0, 0, 1, 1}, {}, px.data(), px.size()), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::test
