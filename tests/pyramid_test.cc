// Pyramid levels (spec/FORMAT.md 5.6): every level against a reference reduction written here
// from the spec's text (every data type and rule, fill as no-data, NaN fills, negative origins,
// odd sizes); levels kept in step by writes, equal to a fresh build; frames inheriting and
// pinning levels; a build resumed batch by batch; reads of levels not built; verify --deep.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "raster/pyramid.h"
#include "raster/region_write.h"
#include "raster/runtime.h"
#include "store/env.h"
#include "test_util.h"
#include "tessera/tessera.h"

namespace tessera::test {
namespace {

// ---- the reference: one 2 x 2 reduction of a dense pixel-interleaved array, from the spec

template <typename T>
T sample_at(const uint8_t* pixel, uint32_t band) {
  T v;
  std::memcpy(&v, pixel + band * sizeof(T), sizeof v);
  return v;
}

template <typename T>
void reference_pixel(const std::vector<const uint8_t*>& data, uint32_t bands, Resampling rule, uint8_t* out) {
  const size_t pixel = bands * sizeof(T);
  const size_t n = data.size();
  if (rule == Resampling::kNearest) return void(std::memcpy(out, data[0], pixel));
  if (rule == Resampling::kMode) {
    size_t best = 0, best_count = 0;
    for (size_t i = 0; i < n; ++i) {
      size_t count = 0;
      for (size_t j = 0; j < n; ++j) count += std::memcmp(data[i], data[j], pixel) == 0 ? 1 : 0;
      if (count > best_count) best = i, best_count = count;  // ties: the earlier stays
    }
    return void(std::memcpy(out, data[best], pixel));
  }
  for (uint32_t b = 0; b < bands; ++b) {
    T result{};
    if (rule == Resampling::kMean) {
      if constexpr (std::is_floating_point_v<T>) {
        double sum = 0;
        for (const uint8_t* p : data) sum += double(sample_at<T>(p, b));
        result = T(sum / double(n));
      } else {
        // Truncated quotient, then one step away from zero when the remainder is half or more.
        __int128 sum = 0;
        for (const uint8_t* p : data) sum += sample_at<T>(p, b);
        __int128 q = sum / __int128(n), r = sum % __int128(n);
        if (2 * (r < 0 ? -r : r) >= __int128(n)) q += sum < 0 ? -1 : 1;
        result = T(q);
      }
    } else {  // min or max
      bool have = false;
      for (const uint8_t* p : data) {
        const T v = sample_at<T>(p, b);
        if constexpr (std::is_floating_point_v<T>)
          if (std::isnan(v)) continue;
        if (!have || (rule == Resampling::kMin ? v < result : v > result)) result = v, have = true;
      }
      if (!have) result = sample_at<T>(data[0], b);  // all NaN
    }
    std::memcpy(out + b * sizeof(T), &result, sizeof(T));
  }
}

template <typename T>
std::vector<uint8_t> reference_reduce(const std::vector<uint8_t>& in, int64_t width, int64_t height,
                                      uint32_t bands, const std::vector<uint8_t>& fill, Resampling rule) {
  const size_t pixel = bands * sizeof(T);
  std::vector<uint8_t> out(size_t(width / 2 * (height / 2)) * pixel);
  for (int64_t y = 0; y < height / 2; ++y)
    for (int64_t x = 0; x < width / 2; ++x) {
      std::vector<const uint8_t*> data;
      for (auto [dx, dy] : {std::pair{0, 0}, {1, 0}, {0, 1}, {1, 1}}) {
        const uint8_t* p = in.data() + (size_t((2 * y + dy) * width + 2 * x + dx)) * pixel;
        if (std::memcmp(p, fill.data(), pixel) != 0) data.push_back(p);
      }
      uint8_t* o = out.data() + size_t(y * (width / 2) + x) * pixel;
      if (data.empty()) std::memcpy(o, fill.data(), pixel);
      else reference_pixel<T>(data, bands, rule, o);
    }
  return out;
}

std::vector<uint8_t> reduce(DataType type, const std::vector<uint8_t>& in, int64_t width, int64_t height,
                            uint32_t bands, const std::vector<uint8_t>& fill, Resampling rule) {
  switch (type) {
    case DataType::kU8: return reference_reduce<uint8_t>(in, width, height, bands, fill, rule);
    case DataType::kU16: return reference_reduce<uint16_t>(in, width, height, bands, fill, rule);
    case DataType::kU32: return reference_reduce<uint32_t>(in, width, height, bands, fill, rule);
    case DataType::kU64: return reference_reduce<uint64_t>(in, width, height, bands, fill, rule);
    case DataType::kI8: return reference_reduce<int8_t>(in, width, height, bands, fill, rule);
    case DataType::kI16: return reference_reduce<int16_t>(in, width, height, bands, fill, rule);
    case DataType::kI32: return reference_reduce<int32_t>(in, width, height, bands, fill, rule);
    case DataType::kI64: return reference_reduce<int64_t>(in, width, height, bands, fill, rule);
    case DataType::kF32: return reference_reduce<float>(in, width, height, bands, fill, rule);
    case DataType::kF64: return reference_reduce<double>(in, width, height, bands, fill, rule);
  }
  return {};
}

const Resampling kRules[] = {Resampling::kMean, Resampling::kNearest, Resampling::kMode, Resampling::kMin,
                             Resampling::kMax};

std::vector<uint8_t> read_all(const View& view, const std::string& image, const Region& region, uint32_t frame,
                              uint32_t level) {
  auto info = view.image(image);
  EXPECT_TRUE(info.is_ok());
  std::vector<uint8_t> out(region.pixel_count() * info->pixel_bytes());
  EXPECT_OK(view.read(image, region, Selection{frame, level, {}}, out.data(), out.size()));
  return out;
}

// A region aligned to 2^levels holding `data`, with a margin: its reduction at each level is
// the level's region exactly.
Region aligned_cover(const Region& data, uint32_t levels) {
  const int64_t a = int64_t(1) << levels;
  const auto down = [a](int64_t v) { return v >= 0 ? v / a * a : -((-v + a - 1) / a) * a; };
  const int64_t x0 = down(data.x) - a, y0 = down(data.y) - a;
  const int64_t x1 = down(data.x_end() + a - 1) + a, y1 = down(data.y_end() + a - 1) + a;
  return Region{x0, y0, x1 - x0, y1 - y0};
}

// Every level 1..levels of `frame` equals the reference reduction of level 0.
void expect_levels_match(const View& view, const std::string& image, const Region& data, uint32_t frame,
                         uint32_t levels, Resampling rule, const std::string& what) {
  auto info = view.image(image);
  ASSERT_TRUE(info.is_ok());
  Region region = aligned_cover(data, levels);
  std::vector<uint8_t> expected = read_all(view, image, region, frame, 0);
  for (uint32_t level = 1; level <= levels; ++level) {
    expected = reduce(info->spec.type, expected, region.width, region.height, info->spec.bands, info->fill_pixel, rule);
    region = Region{region.x / 2, region.y / 2, region.width / 2, region.height / 2};
    ASSERT_EQ(level_region(aligned_cover(data, levels), level), region);
    const std::vector<uint8_t> actual = read_all(view, image, region, frame, level);
    ASSERT_EQ(expected.size(), actual.size());
    const size_t sample = info->pixel_bytes() / info->spec.bands;
    ASSERT_EQ(describe_mismatch(expected, actual.data(), actual.size(), region, {}, info->spec.bands,
                                Strides::packed(Interleave::kBIP, region.width, region.height,
                                                info->spec.bands, sample),
                                sample),
              "")
        << what << " level " << level << " rule " << resampling_name(rule);
  }
}

// Random samples, a quarter of the pixels the fill value (no-data inside the data), NaNs among
// float samples.
std::vector<uint8_t> random_pixels(Rng& rng, const ImageInfo& info, const Region& region) {
  const size_t pixel = info.pixel_bytes(), sample = pixel / info.spec.bands;
  std::vector<uint8_t> data = rng.bytes(region.pixel_count() * pixel);
  const bool real = info.spec.type == DataType::kF32 || info.spec.type == DataType::kF64;
  for (size_t p = 0; p < region.pixel_count(); ++p) {
    uint8_t* px = data.data() + p * pixel;
    if (rng.chance(0.25)) std::memcpy(px, info.fill_pixel.data(), pixel);
    else if (real)
      for (uint32_t b = 0; b < info.spec.bands; ++b) {
        // Finite values of moderate size, now and then a NaN.
        const double v = rng.chance(0.05) ? std::nan("") : double(rng.uniform(-1000000, 1000000)) / 7;
        if (sample == 4) {
          const float f = float(v);
          std::memcpy(px + b * 4, &f, 4);
        } else {
          std::memcpy(px + b * 8, &v, 8);
        }
      }
  }
  return data;
}

class PyramidTypeTest : public TempDirTestWithParam<DataType> {};

TEST_P(PyramidTypeTest, EveryLevelIsTheReferenceReductionForEveryRule) {
  const DataType type = GetParam();
  const bool real = type == DataType::kF32 || type == DataType::kF64;
  Rng rng(1000 + uint64_t(type));
  for (Resampling rule : kRules) {
    const std::string file = path(std::string("p-") + std::string(resampling_name(rule)) + ".tsr");
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ImageSpec spec;
    spec.type = type;
    spec.bands = 2;
    spec.tile_size = 16;
    spec.macro_tiles = 2;
    // Floats: a NaN fill (compared bytewise); integers: a fill inside the range.
    spec.fill = {real ? std::nan("") : 3.0};
    // Odd size, negative odd origin: the level edges round as the spec says.
    const Region data{-37, -21, 101, 67};
    ASSERT_OK(c.write([&](WriteTxn& txn) {
      TESSERA_RETURN_IF_ERROR(txn.create_image("img", spec));
      auto info = txn.image("img");
      const std::vector<uint8_t> pixels = random_pixels(rng, *info, data);
      TESSERA_RETURN_IF_ERROR(txn.write("img", data, {}, pixels.data(), pixels.size()));
      // A uniform block, to collapse at level 0 and show through the levels.
      const size_t pixel = info->pixel_bytes();
      size_t chosen = 0;  // a pixel that is not the fill
      while (std::memcmp(pixels.data() + chosen, info->fill_pixel.data(), pixel) == 0) chosen += pixel;
      std::vector<uint8_t> uniform(64 * 32 * pixel);
      for (size_t i = 0; i < uniform.size(); i += pixel) std::memcpy(uniform.data() + i, pixels.data() + chosen, pixel);
      return txn.write("img", Region{64, 32, 64, 32}, {}, uniform.data(), uniform.size());
    }));
    PyramidOptions options;
    options.resampling = rule;
    ASSERT_OK(c.build_pyramid("img", options));
    ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
    ASSERT_OK_AND_ASSIGN(PyramidInfo p, snap.pyramid("img"));
    // Auto: until the data (128 wide from -37 on: 165 pixels) fits one 16-pixel tile: 4 levels.
    EXPECT_EQ(p, (PyramidInfo{4, rule, 0}));
    expect_levels_match(snap, "img", Region{-37, -21, 165, 85}, 0, p.levels, rule,
                        std::string(dtype_label(type)));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, PyramidTypeTest, ::testing::ValuesIn(all_data_types()),
                         [](const auto& info) { return std::string(dtype_label(info.param)); });

class PyramidTest : public TempDirTest {
 protected:
  // A u16 image of 3 bands with tiles of 32, data in `data`.
  Container make(const std::string& name, const Region& data, uint64_t seed, uint32_t frames = 1) {
    auto c = Container::create(path(name));
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    Rng rng(seed);
    EXPECT_OK(c->write([&](WriteTxn& txn) {
      ImageSpec spec;
      spec.type = DataType::kU16;
      spec.bands = 3;
      spec.tile_size = 32;
      spec.macro_tiles = 4;
      TESSERA_RETURN_IF_ERROR(txn.create_image("img", spec));
      auto info = txn.image("img");
      for (uint32_t f = 0; f < frames; ++f) {
        const std::vector<uint8_t> pixels = random_pixels(rng, *info, data);
        TESSERA_RETURN_IF_ERROR(txn.write("img", data, Selection{f, 0, {}}, pixels.data(), pixels.size()));
      }
      return Status::ok();
    }));
    return std::move(c).value();
  }
};

TEST_F(PyramidTest, WritesKeepLevelsInStepAndEqualAFreshBuild) {
  const Region data{-300, 100, 700, 450};
  {  // closed before verify opens the file
  Container c = make("edited.tsr", data, 7);
  ASSERT_OK(c.build_pyramid("img", PyramidOptions{0, 5, Resampling::kMean, {}}));
  Rng rng(8);
  // Random edits: data, the fill (erasing), uniform areas, some outside the data so far.
  for (int edit = 0; edit < 25; ++edit) {
    const Region r{rng.uniform(-400, 500), rng.uniform(0, 600), rng.uniform(1, 120), rng.uniform(1, 120)};
    ASSERT_OK(c.write([&](WriteTxn& txn) {
      auto info = txn.image("img");
      std::vector<uint8_t> pixels = random_pixels(rng, *info, r);
      if (edit % 3 == 1) std::fill(pixels.begin(), pixels.end(), 0);  // the fill: erases
      return txn.write("img", r, {}, pixels.data(), pixels.size());
    }));
  }
  ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
  const Region everything{-420, 0, 1040, 740};
  expect_levels_match(snap, "img", everything, 0, 5, Resampling::kMean, "after edits");

  // The same level 0 copied into a new container and built from scratch: the same levels.
  ASSERT_OK_AND_ASSIGN(auto fresh, Container::create(path("fresh.tsr")));
  const Region cover = aligned_cover(everything, 5);
  const std::vector<uint8_t> level0 = read_all(snap, "img", cover, 0, 0);
  ASSERT_OK(fresh.write([&](WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(txn.create_image("img", snap.image("img")->spec));
    return txn.write("img", cover, {}, level0.data(), level0.size());
  }));
  ASSERT_OK(fresh.build_pyramid("img", PyramidOptions{0, 5, Resampling::kMean, {}}));
  ASSERT_OK_AND_ASSIGN(auto fresh_snap, fresh.snapshot());
  for (uint32_t level = 1; level <= 5; ++level) {
    const Region r = level_region(cover, level);
    EXPECT_EQ(read_all(snap, "img", r, 0, level), read_all(fresh_snap, "img", r, 0, level)) << "level " << level;
  }
  }
  ASSERT_OK_AND_ASSIGN(VerifyReport report, verify(path("edited.tsr"), VerifyOptions{.deep = true}));
  EXPECT_TRUE(report.clean()) << (report.faults.empty() ? "" : report.faults[0].message);
  EXPECT_GT(report.level_tiles_checked, 0u);
  EXPECT_GT(report.pyramid_records, 0u);
}

TEST_F(PyramidTest, OneChangedTileRecomputesOneTilePerLevel) {
  Container c = make("one.tsr", Region{0, 0, 1024, 1024}, 9);
  ASSERT_OK(c.build_pyramid("img", PyramidOptions{0, 5, Resampling::kMean, {}}));
  ASSERT_OK_AND_ASSIGN(auto before, c.snapshot());
  std::vector<std::vector<uint8_t>> levels_before;
  for (uint32_t level = 1; level <= 5; ++level)
    levels_before.push_back(read_all(before, "img", level_region(Region{0, 0, 1024, 1024}, level), 0, level));
  // One pixel of tile (20, 20): the tiles above it change, nothing else.
  ASSERT_OK(c.write([&](WriteTxn& txn) {
    const uint16_t px[3] = {60000, 60000, 60000};
    return txn.write("img", Region{645, 650, 1, 1}, {}, px, sizeof px);
  }));
  ASSERT_OK_AND_ASSIGN(auto after, c.snapshot());
  expect_levels_match(after, "img", Region{0, 0, 1024, 1024}, 0, 5, Resampling::kMean, "one pixel");
  for (uint32_t level = 1; level <= 5; ++level) {
    const Region r = level_region(Region{0, 0, 1024, 1024}, level);
    const std::vector<uint8_t> now = read_all(after, "img", r, 0, level);
    size_t differing = 0;
    for (size_t i = 0; i < now.size(); i += 6) differing += std::memcmp(&now[i], &levels_before[level - 1][i], 6) != 0;
    // One pixel moves up the pyramid (a mean may come out as it was, higher up).
    EXPECT_LE(differing, 1u) << "level " << level;
    if (level == 1) {
      EXPECT_EQ(differing, 1u);
    }
  }
}

TEST_F(PyramidTest, FramesInheritLevelsAndEditsStayInTheirFrame) {
  const Region data{0, 0, 200, 150};
  {  // closed before verify opens the file
  Container c = make("frames.tsr", data, 10, 2);
  ASSERT_OK(c.build_pyramid("img", PyramidOptions{std::nullopt, 3, Resampling::kMax, {}}));
  ASSERT_OK(c.write([&](WriteTxn& txn) { return txn.add_frame("img"); }));  // frame 2 = frame 1
  ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
  ASSERT_OK_AND_ASSIGN(PyramidInfo p2, snap.pyramid("img", 2));
  EXPECT_EQ(p2, (PyramidInfo{3, Resampling::kMax, 0}));
  const Region l3 = level_region(data, 3);
  EXPECT_EQ(read_all(snap, "img", l3, 2, 3), read_all(snap, "img", l3, 1, 3));
  // Editing frame 1 changes its levels, not those of frame 2 (pinned) or frame 0.
  const std::vector<uint8_t> f0 = read_all(snap, "img", l3, 0, 3), f2 = read_all(snap, "img", l3, 2, 3);
  ASSERT_OK(c.write([&](WriteTxn& txn) {
    std::vector<uint16_t> bright(40 * 40 * 3, 65535);
    return txn.write("img", Region{10, 10, 40, 40}, Selection{1, 0, {}}, bright.data(), bright.size() * 2);
  }));
  ASSERT_OK_AND_ASSIGN(auto edited, c.snapshot());
  for (uint32_t f = 0; f < 3; ++f) expect_levels_match(edited, "img", data, f, 3, Resampling::kMax, "frame " + std::to_string(f));
  EXPECT_EQ(read_all(edited, "img", l3, 0, 3), f0);
  EXPECT_EQ(read_all(edited, "img", l3, 2, 3), f2);
  EXPECT_NE(read_all(edited, "img", l3, 1, 3), f2);
  // Dropping frame 0: frames 1 and 2 move down with their levels.
  const std::vector<uint8_t> f1 = read_all(edited, "img", l3, 1, 3);
  ASSERT_OK(c.write([&](WriteTxn& txn) { return txn.drop_frame("img", 0); }));
  ASSERT_OK_AND_ASSIGN(auto dropped, c.snapshot());
  EXPECT_EQ(read_all(dropped, "img", l3, 0, 3), f1);
  EXPECT_EQ(read_all(dropped, "img", l3, 1, 3), f2);
  }
  ASSERT_OK_AND_ASSIGN(VerifyReport report, verify(path("frames.tsr"), VerifyOptions{.deep = true}));
  EXPECT_TRUE(report.clean()) << (report.faults.empty() ? "" : report.faults[0].message);
}

TEST_F(PyramidTest, AnInterruptedBuildGoesOnFromItsLastBatch) {
  const Region data{0, 0, 640, 640};
  { Container made = make("resume.tsr", data, 11); }  // one open of the file at a time in a process
  // Batches of one block each, through the library's own batch step: after three, the record
  // says where the build stands; the level is not readable yet.
  ASSERT_OK_AND_ASSIGN(auto env, detail::Env::open(path("resume.tsr"), OpenOptions{}, false));
  ASSERT_OK_AND_ASSIGN(auto runtime, detail::Runtime::open(*env));
  {
    ASSERT_OK_AND_ASSIGN(auto txn, detail::Txn::begin(env, true));
    detail::BuildCounts counts;
    for (int batch = 0; batch < 3; ++batch) {
      ASSERT_OK_AND_ASSIGN(bool done, detail::build_pyramid_batch(*txn, *runtime, txn->images()[0], 0, 4,
                                                                  Resampling::kMean, 1, counts));
      EXPECT_FALSE(done);
    }
    ASSERT_OK(txn->commit());
  }
  runtime.reset();
  env.reset();
  ASSERT_OK_AND_ASSIGN(Container c, Container::open(path("resume.tsr")));
  {
    ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
    ASSERT_OK_AND_ASSIGN(PyramidInfo p, snap.pyramid("img"));
    EXPECT_EQ(p.levels, 0u);
    EXPECT_EQ(p.target, 4u);
    uint16_t px[3];
    const Status refused = snap.read("img", Region{0, 0, 1, 1}, Selection{0, 1, {}}, px, sizeof px);
    EXPECT_EQ(refused.code(), Code::kNotFound);
    EXPECT_NE(refused.message().find("tessera pyramid"), std::string::npos) << refused.message();
  }
  // An edit meanwhile: the committed blocks stay right.
  ASSERT_OK(c.write([&](WriteTxn& txn) {
    const uint16_t px[3] = {1, 2, 3};
    return txn.write("img", Region{5, 5, 1, 1}, {}, px, sizeof px);
  }));
  std::vector<uint64_t> reported;
  ASSERT_OK(c.build_pyramid("img", PyramidOptions{0, 4, Resampling::kMean,
                                                  [&](uint64_t done, uint64_t total) {
                                                    EXPECT_LE(done, total);
                                                    reported.push_back(done);
                                                  }}));
  EXPECT_FALSE(reported.empty());
  ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
  ASSERT_OK_AND_ASSIGN(PyramidInfo p, snap.pyramid("img"));
  EXPECT_EQ(p, (PyramidInfo{4, Resampling::kMean, 0}));
  expect_levels_match(snap, "img", data, 0, 4, Resampling::kMean, "resumed");
}

TEST_F(PyramidTest, LevelsNotBuiltWritesOfLevelsAndOtherRules) {
  Container c = make("rules.tsr", Region{0, 0, 300, 300}, 12);
  ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
  uint16_t px[3];
  Status s = snap.read("img", Region{0, 0, 1, 1}, Selection{0, 1, {}}, px, sizeof px);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("pyramid level 1 has not been built"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("tessera pyramid " + path("rules.tsr") + " --image img --frame 0 --levels 1"),
            std::string::npos)
      << s.message();
  ASSERT_OK(c.build_pyramid("img", PyramidOptions{0, 3, Resampling::kMode, {}}));
  // Written through the API, a level is refused: levels are made from level 0.
  ASSERT_OK_AND_ASSIGN(auto txn, c.begin_write());
  EXPECT_CODE(txn.write("img", Region{0, 0, 1, 1}, Selection{0, 1, {}}, px, sizeof px), Code::kInvalidArgument);
  EXPECT_CODE(txn.check("img", Region{0, 0, 1, 1}, Selection{0, 4, {}}), Code::kNotFound);
  txn.abort();
  // Fewer levels: the rest unreadable. Another rule: every level made again by it.
  ASSERT_OK(c.build_pyramid("img", PyramidOptions{0, 2, Resampling::kMode, {}}));
  {
    ASSERT_OK_AND_ASSIGN(auto s2, c.snapshot());
    EXPECT_EQ(s2.pyramid("img")->levels, 2u);
    EXPECT_CODE(s2.read("img", Region{0, 0, 1, 1}, Selection{0, 3, {}}, px, sizeof px), Code::kNotFound);
  }
  ASSERT_OK(c.build_pyramid("img", PyramidOptions{0, 3, Resampling::kMin, {}}));
  ASSERT_OK_AND_ASSIGN(auto s3, c.snapshot());
  EXPECT_EQ(*s3.pyramid("img"), (PyramidInfo{3, Resampling::kMin, 0}));
  expect_levels_match(s3, "img", Region{0, 0, 300, 300}, 0, 3, Resampling::kMin, "rebuilt with min");
  EXPECT_CODE(c.build_pyramid("img", PyramidOptions{0, kMaxPyramidLevels + 1, Resampling::kMean, {}}),
              Code::kInvalidArgument);
  EXPECT_CODE(c.build_pyramid("img", PyramidOptions{7, 1, Resampling::kMean, {}}), Code::kNotFound);
  // Compaction keeps the levels and their records.
  ASSERT_OK(Container::compact(path("rules.tsr"), path("compacted.tsr")));
  {
    ASSERT_OK_AND_ASSIGN(auto copy, Container::open(path("compacted.tsr")));
    ASSERT_OK_AND_ASSIGN(auto s4, copy.snapshot());
    EXPECT_EQ(*s4.pyramid("img"), (PyramidInfo{3, Resampling::kMin, 0}));
    const Region r = level_region(Region{0, 0, 300, 300}, 3);
    EXPECT_EQ(read_all(s4, "img", r, 0, 3), read_all(s3, "img", r, 0, 3));
  }
  ASSERT_OK_AND_ASSIGN(VerifyReport report, verify(path("compacted.tsr"), VerifyOptions{.deep = true}));
  EXPECT_TRUE(report.clean()) << (report.faults.empty() ? "" : report.faults[0].message);
  EXPECT_GT(report.level_tiles_checked, 0u);
}

TEST_F(PyramidTest, ReadReducedMakesTheLevelsABuildStores) {
  // Odd origin and size; the strips of a reduced read (32 MiB of the level below) are not the
  // build's blocks, so only the rule makes them agree.
  const Region data{-301, 77, 1900, 1333};
  Container built = make("built.tsr", data, 21);
  Container bare = make("bare.tsr", data, 21);  // the same pixels, no pyramid
  Container part = make("part.tsr", data, 21);  // levels 1..2 only
  ASSERT_OK(built.build_pyramid("img", PyramidOptions{0, 6, Resampling::kMean, {}}));
  ASSERT_OK(part.build_pyramid("img", PyramidOptions{0, 2, Resampling::kMean, {}}));
  ASSERT_OK_AND_ASSIGN(auto b, built.snapshot());
  ASSERT_OK_AND_ASSIGN(auto n, bare.snapshot());
  ASSERT_OK_AND_ASSIGN(auto p, part.snapshot());
  for (uint32_t level = 0; level <= 6; ++level) {
    const Region r = level_region(Region{-350, 50, 2000, 1400}, level);
    const std::vector<uint8_t> want = read_all(b, "img", r, 0, level);
    for (const auto* view : {&n, &p}) {
      std::vector<uint8_t> got(want.size());
      ASSERT_OK(view->read_reduced("img", r, Selection{0, level, {}}, 6, got.data(), got.size()));
      EXPECT_EQ(got, want) << "level " << level << (view == &n ? " from level 0" : " from level 2");
    }
    // A band subset in another order, planar: the bands of the full reduction.
    const Region corner{r.x + 3, r.y + 1, std::max<int64_t>(1, r.width / 3), std::max<int64_t>(1, r.height / 2)};
    std::vector<uint8_t> all(corner.pixel_count() * 6), two(corner.pixel_count() * 4);
    ASSERT_OK(b.read("img", corner, Selection{0, level, {}}, all.data(), all.size()));
    ASSERT_OK(n.read_reduced("img", corner, Selection{0, level, {2, 0}}, 6, two.data(), two.size(), Interleave::kBSQ));
    for (size_t i = 0; i < corner.pixel_count(); ++i) {
      ASSERT_EQ(std::memcmp(&two[2 * i], &all[6 * i + 4], 2), 0) << "level " << level << " pixel " << i;
      ASSERT_EQ(std::memcmp(&two[2 * (corner.pixel_count() + i)], &all[6 * i], 2), 0) << "level " << level;
    }
  }
  // More reductions than allowed: an error naming both levels.
  uint16_t px[3];
  const Status s = n.read_reduced("img", Region{0, 0, 1, 1}, Selection{0, 4, {}}, 3, px, sizeof px);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("pyramid level 4 would be made from level 0, 4 reductions, more than the 3 allowed"),
            std::string::npos) << s.message();
  EXPECT_OK(p.read_reduced("img", Region{0, 0, 1, 1}, Selection{0, 4, {}}, 2, px, sizeof px));
  EXPECT_CODE(n.read_reduced("img", Region{0, 0, 1, 1}, Selection{1, 1, {}}, 3, px, sizeof px), Code::kNotFound);
}

TEST_F(PyramidTest, ContentTagsFollowTheTilesARegionTouches) {
  const Region data{0, 0, 600, 400};
  Container a = make("a.tsr", data, 31);
  Container b = make("b.tsr", data, 31);  // the same chunks in another file
  const Region tile{64, 64, 32, 32};      // tile (2, 2): tiles are 32
  auto tag = [&](const Container& c, const Region& r, uint32_t level) {
    auto snap = c.snapshot();
    EXPECT_TRUE(snap.is_ok());
    auto t = snap->content_tag("img", r, Selection{0, level, {}});
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return t.is_ok() ? *t : std::string();
  };
  const std::string before = tag(a, tile, 0), reduced = tag(a, Region{0, 0, 40, 30}, 3);
  EXPECT_EQ(before.size(), 32u);
  EXPECT_EQ(before, tag(b, tile, 0));
  EXPECT_EQ(reduced, tag(b, Region{0, 0, 40, 30}, 3));
  EXPECT_NE(before, tag(a, Region{96, 64, 32, 32}, 0));
  // A commit elsewhere keeps the tag; one in the tile changes it, and so the reduced level's.
  const uint16_t px[3] = {1, 2, 3};
  ASSERT_OK(a.write([&](WriteTxn& txn) { return txn.write("img", Region{500, 300, 1, 1}, {}, px, sizeof px); }));
  EXPECT_EQ(before, tag(a, tile, 0));
  ASSERT_OK(a.write([&](WriteTxn& txn) { return txn.write("img", Region{70, 70, 1, 1}, {}, px, sizeof px); }));
  EXPECT_NE(before, tag(a, tile, 0));
  EXPECT_NE(reduced, tag(a, Region{0, 0, 40, 30}, 3));
  // A level built: the tag is taken from it.
  ASSERT_OK(a.build_pyramid("img", PyramidOptions{0, 3, Resampling::kMean, {}}));
  EXPECT_NE(tag(a, Region{0, 0, 40, 30}, 3), tag(b, Region{0, 0, 40, 30}, 3));
  ASSERT_OK_AND_ASSIGN(auto snap, a.snapshot());
  const auto too_wide = snap.content_tag("img", Region{0, 0, int64_t(1) << 40, 1}, Selection{});
  EXPECT_CODE(too_wide.status(), Code::kInvalidArgument);
  const auto unknown = snap.content_tag("nope", tile, Selection{});
  EXPECT_CODE(unknown.status(), Code::kNotFound);
}

TEST_F(PyramidTest, VerifyDeepFindsALevelTileThatIsNotTheReduction) {
  {
    Container c = make("bad.tsr", Region{0, 0, 256, 256}, 13);
    ASSERT_OK(c.build_pyramid("img", PyramidOptions{0, 2, Resampling::kMean, {}}));
  }
  {
    // A level tile written behind the pyramid's back (the library's internal write path).
    ASSERT_OK_AND_ASSIGN(auto env, detail::Env::open(path("bad.tsr"), OpenOptions{}, false));
    ASSERT_OK_AND_ASSIGN(auto runtime, detail::Runtime::open(*env));
    ASSERT_OK_AND_ASSIGN(auto txn, detail::Txn::begin(env, true));
    ImageInfo info = txn->images()[0];
    std::vector<uint16_t> wrong(32 * 32 * 3, 4242);
    ASSERT_OK(detail::write_region(*txn, *runtime, info, Region{32, 0, 32, 32}, Selection{0, 2, {}},
                                   detail::CallerBuffer{reinterpret_cast<uint8_t*>(wrong.data()), wrong.size() * 2,
                                                        Strides::packed(Interleave::kBIP, 32, 32, 3, 2)}));
    ASSERT_OK(txn->commit());
  }
  ASSERT_OK_AND_ASSIGN(VerifyReport shallow, verify(path("bad.tsr")));
  EXPECT_TRUE(shallow.clean());
  ASSERT_OK_AND_ASSIGN(VerifyReport deep, verify(path("bad.tsr"), VerifyOptions{.deep = true}));
  ASSERT_EQ(deep.faults.size(), 1u);
  EXPECT_EQ(deep.faults[0].invariant, "LEVEL_TILE_DOWNSAMPLE");
  EXPECT_EQ(deep.faults[0].tile, std::make_pair(int64_t(1), int64_t(0)));
  EXPECT_NE(deep.faults[0].message.find("level 2 tile (1,0) frame 0"), std::string::npos) << deep.faults[0].message;
}

TEST_F(PyramidTest, TheBlockIteratorAndStatsWorkAtALevel) {
  const Region data{-100, -60, 333, 222};
  Container c = make("iter.tsr", data, 14);
  ASSERT_OK(c.build_pyramid("img", PyramidOptions{0, 2, Resampling::kNearest, {}}));
  ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
  const Region r = level_region(data, 2);
  const std::vector<uint8_t> whole = read_all(snap, "img", r, 0, 2);
  ASSERT_OK_AND_ASSIGN(auto it, BlockIterator::create(snap, "img", r, Selection{0, 2, {1}}, IterationMode::kSpatial));
  uint64_t samples = 0;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(bool more, it.next());
    if (!more) break;
    const Block& b = it.block();
    for (int64_t y = 0; y < b.region.height; ++y)
      for (int64_t x = 0; x < b.region.width; ++x, ++samples) {
        uint16_t got, want;
        std::memcpy(&got, static_cast<const uint8_t*>(b.data) + y * b.strides.line + x * b.strides.pixel, 2);
        const size_t at = size_t((b.region.y - r.y + y) * r.width + (b.region.x - r.x + x)) * 6 + 2;
        std::memcpy(&want, whole.data() + at, 2);
        ASSERT_EQ(got, want) << "level 2 pixel " << b.region.x + x << "," << b.region.y + y;
      }
  }
  EXPECT_EQ(samples, r.pixel_count());
  ASSERT_OK_AND_ASSIGN(ImageStats level2, snap.stats("img", 0, 2));
  ASSERT_OK_AND_ASSIGN(ImageStats level0, snap.stats("img", 0, 0));
  EXPECT_GT(level2.tiles_chunk, 0u);
  EXPECT_LT(level2.bytes_raw * 4, level0.bytes_raw);
  EXPECT_CODE(snap.stats("img", 0, 3), Code::kNotFound);
}

TEST(LevelRegionTest, OriginRoundsDownAndEndUp) {
  EXPECT_EQ(level_region(Region{0, 0, 10, 7}, 1), (Region{0, 0, 5, 4}));
  EXPECT_EQ(level_region(Region{-3, -1, 3, 1}, 1), (Region{-2, -1, 2, 1}));
  EXPECT_EQ(level_region(Region{-3, 5, 4, 3}, 2), (Region{-1, 1, 2, 1}));
  EXPECT_EQ(level_region(Region{INT64_MIN, INT64_MAX - 1, 1, 1}, 62), (Region{-2, 1, 1, 1}));
  EXPECT_EQ(level_region(Region{5, 5, 3, 3}, 0), (Region{5, 5, 3, 3}));
}

}  // namespace
}  // namespace tessera::test
