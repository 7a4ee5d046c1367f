// iterator_test.cc — BlockIterator in spatial and spectral mode against the reference image:
// the blocks cover the region exactly once (per selected band), come in the documented order
// and shape, and each block's bytes equal the reference.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tessera/container.h"
#include "tessera/iterator.h"
#include "tessera/types.h"
#include "test_util.h"

namespace tessera::test {
namespace {

constexpr int64_t kHuge = int64_t(1) << 62;

struct IterCase {
  DataType type;
  uint32_t bands;
  StorageLayout storage;
  uint32_t tile;
  IterationMode mode;
  uint64_t seed;
};

std::string iter_case_name(const ::testing::TestParamInfo<IterCase>& info) {
  const IterCase& c = info.param;
  return std::string(c.mode == IterationMode::kSpatial ? "spatial_" : "spectral_") +
         dtype_label(c.type) + "_b" + std::to_string(c.bands) +
         (c.storage == StorageLayout::kChunky ? "_chunky" : "_planar") + "_t" +
         std::to_string(c.tile);
}

// gtest prints parameters with this (instead of a hex dump) in failure messages.
void PrintTo(const IterCase& c, std::ostream* os) {
  *os << iter_case_name(::testing::TestParamInfo<IterCase>(c, 0)) << " seed " << c.seed;
}

std::vector<IterCase> all_iter_cases() {
  std::vector<IterCase> out;
  uint64_t i = 0;
  for (IterationMode mode : {IterationMode::kSpatial, IterationMode::kSpectral})
    for (DataType type : {DataType::kU8, DataType::kI16, DataType::kF32, DataType::kU64})
      for (uint32_t bands : {1u, 3u, 8u}) {
        const StorageLayout storage = i % 2 ? StorageLayout::kPlanar : StorageLayout::kChunky;
        const uint32_t tile = (i / 2) % 2 ? 32 : 16;
        out.push_back({type, bands, storage, tile, mode, 0x17E4A7ull + i});
        ++i;
      }
  return out;
}

class IteratorTest : public TempDirTestWithParam<IterCase> {
 protected:
  void SetUp() override {
    const IterCase& c = GetParam();
    spec_.type = c.type;
    spec_.bands = c.bands;
    spec_.storage = c.storage;
    spec_.tile_size = c.tile;
    spec_.fill = {3.0};
    ref_.emplace(spec_);
    ASSERT_OK_AND_ASSIGN(auto created, Container::create(path("iter.tsr")));
    container_.emplace(std::move(created));
  }

  Region random_region(Rng& rng, int64_t anchor) {
    const int64_t t = spec_.tile_size;
    return Region{anchor + rng.uniform(-2 * t, 2 * t), -anchor / 2 + rng.uniform(-2 * t, 2 * t),
                  rng.uniform(1, 3 * t), rng.uniform(1, 3 * t)};
  }

  // Writes random data around each anchor: random samples, a uniform tile, a fill tile.
  void populate(WriteTxn& txn, Rng& rng, const std::vector<int64_t>& anchors) {
    const size_t s = dtype_bytes(spec_.type), nb = spec_.bands;
    const int64_t t = spec_.tile_size;
    for (int64_t anchor : anchors) {
      for (int i = 0; i < 3; ++i) {
        Region r = random_region(rng, anchor);
        std::vector<uint8_t> src = rng.bytes(size_t(r.pixel_count()) * nb * s);
        ASSERT_OK(txn.write("img", r, {}, src.data(), src.size(), Interleave::kBSQ));
        ref_->write(r, {}, src.data(), packed_strides(Interleave::kBSQ, r.width, r.height, nb, s));
      }
      // A whole uniform tile next to the anchor.
      const int64_t tx = anchor - (((anchor % t) + t) % t);
      Region r{tx, -anchor / 2 - ((((-anchor / 2) % t) + t) % t), t, t};
      std::vector<std::vector<uint8_t>> values;
      std::vector<uint8_t> pixel;
      for (size_t b = 0; b < nb; ++b) {
        values.push_back(rng.bytes(s));
        pixel.insert(pixel.end(), values.back().begin(), values.back().end());
      }
      std::vector<uint8_t> src;
      for (int64_t i = 0; i < t * t; ++i) src.insert(src.end(), pixel.begin(), pixel.end());
      ASSERT_OK(txn.write("img", r, {}, src.data(), src.size()));
      ref_->write_uniform(r, {}, values);
    }
  }

  // Iterates `region` of `bands` through `view` and checks every block.
  void check_iteration(const View& view, const Region& region, const std::vector<uint32_t>& bands) {
    const IterCase& c = GetParam();
    const size_t s = dtype_bytes(spec_.type);
    const std::vector<uint32_t> list = ref_->resolve(bands);
    const size_t nb = list.size();
    SCOPED_TRACE("iterating " + region_label(region) + " bands " + bands_label(bands));
    Selection sel;
    sel.bands = bands;
    ASSERT_OK_AND_ASSIGN(auto it, BlockIterator::create(view, "img", region, sel, c.mode));
    // covered[(b * height + y) * width + x]: how many blocks gave that sample.
    std::vector<uint8_t> covered(nb * size_t(region.pixel_count()), 0);
    uint64_t blocks = 0;
    size_t last_band_index = 0;
    int64_t last_y = 0, last_x = 0;
    for (;;) {
      Result<bool> more = it.next();
      ASSERT_TRUE(more.is_ok()) << more.status().to_string();
      if (!*more) break;
      const Block& block = it.block();
      const Region& br = block.region;
      SCOPED_TRACE("block " + std::to_string(blocks) + " " + region_label(br));
      ++blocks;
      ASSERT_FALSE(br.empty());
      ASSERT_EQ(region.intersect(br), br) << "block outside the iterated region";
      ASSERT_NE(block.data, nullptr);
      // Band indices (into the selection) this block holds.
      std::vector<size_t> band_index;
      if (c.mode == IterationMode::kSpatial) {
        ASSERT_EQ(block.bands.size(), 1u);
        EXPECT_LE(br.width, int64_t(spec_.tile_size));
        EXPECT_LE(br.height, int64_t(spec_.tile_size));
        EXPECT_EQ(block.strides.pixel, int64_t(s)) << "spatial blocks are densely packed";
        EXPECT_EQ(block.strides.line, br.width * int64_t(s)) << "spatial blocks are densely packed";
        // Bands in selection order; within a band, blocks in row-major order.
        size_t bi = 0;
        while (bi < nb && list[bi] != block.bands[0]) ++bi;
        ASSERT_LT(bi, nb) << "block of band " << block.bands[0] << " not selected";
        if (blocks > 1) {
          ASSERT_GE(bi, last_band_index) << "bands out of selection order";
          if (bi == last_band_index) {
            EXPECT_TRUE(br.y > last_y || (br.y == last_y && br.x > last_x))
                << "blocks not in row-major order: previous at (" << last_x << "," << last_y
                << ")";
          }
        }
        last_band_index = bi;
        last_x = br.x;
        last_y = br.y;
        band_index.push_back(bi);
      } else {
        EXPECT_EQ(br.height, 1);
        EXPECT_EQ(br.x, region.x);
        EXPECT_EQ(br.width, region.width);
        ASSERT_EQ(block.bands, list) << "a spectral block holds every selected band in order";
        EXPECT_EQ(br.y, region.y + int64_t(blocks) - 1) << "lines in order";
        EXPECT_EQ(block.strides.pixel, int64_t(s)) << "spectral blocks are BIL";
        EXPECT_EQ(block.strides.band, br.width * int64_t(s)) << "spectral blocks are BIL";
        for (size_t b = 0; b < nb; ++b) band_index.push_back(b);
      }
      ASSERT_GE(block.size, layout_bytes(block.strides, br.width, br.height, band_index.size(), s));
      const auto* data = static_cast<const uint8_t*>(block.data);
      size_t wrong = 0;
      std::string first_wrong;
      for (size_t k = 0; k < band_index.size(); ++k) {
        const size_t bi = band_index[k];
        for (int64_t y = 0; y < br.height; ++y)
          for (int64_t x = 0; x < br.width; ++x) {
            const int64_t gx = br.x + x, gy = br.y + y;
            ++covered[(bi * size_t(region.height) + size_t(gy - region.y)) * size_t(region.width) +
                      size_t(gx - region.x)];
            const uint8_t* got = data + sample_offset(block.strides, x, y, k);
            const uint8_t* want = ref_->sample(list[bi], gx, gy);
            if (std::memcmp(got, want, s) != 0 && wrong++ == 0)
              first_wrong = "band " + std::to_string(list[bi]) + " pixel (" + std::to_string(gx) +
                            "," + std::to_string(gy) + "): expected " + hex(want, s) + " got " +
                            hex(got, s);
          }
      }
      ASSERT_EQ(wrong, 0u) << wrong << " samples differ; first: " << first_wrong;
    }
    EXPECT_EQ(it.block_count(), blocks);
    if (c.mode == IterationMode::kSpectral) {
      EXPECT_EQ(blocks, uint64_t(region.height));
    }
    size_t missing = 0, twice = 0;
    for (uint8_t n : covered) {
      missing += n == 0;
      twice += n > 1;
    }
    EXPECT_EQ(missing, 0u) << "samples of the region no block covered";
    EXPECT_EQ(twice, 0u) << "samples of the region covered by more than one block";
  }

  ImageSpec spec_;
  std::optional<RefImage> ref_;
  std::optional<Container> container_;
};

TEST_P(IteratorTest, BlocksCoverRegionOnceAndMatchReference) {
  const IterCase& c = GetParam();
  Rng rng(c.seed);
  const std::vector<int64_t> anchors = {0, -77, kHuge - 40};
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.create_image("img", spec_));
    ASSERT_NO_FATAL_FAILURE(populate(txn, rng, anchors));
    // Through the write transaction: it iterates its own uncommitted writes.
    ASSERT_NO_FATAL_FAILURE(check_iteration(txn, random_region(rng, anchors[0]), {}));
    ASSERT_OK(txn.commit());
  }
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  for (int i = 0; i < 8; ++i) {
    const Region r = random_region(rng, anchors[rng.index(anchors.size())]);
    const std::vector<uint32_t> bands = rng.chance(0.3) ? std::vector<uint32_t>{}
                                                        : rng.band_subset(spec_.bands);
    ASSERT_NO_FATAL_FAILURE(check_iteration(snap, r, bands));
  }
  // Tile-aligned, one pixel, and a region with no data at all.
  const int64_t t = spec_.tile_size;
  ASSERT_NO_FATAL_FAILURE(check_iteration(snap, Region{-t, -t, 2 * t, 2 * t}, {}));
  ASSERT_NO_FATAL_FAILURE(check_iteration(snap, Region{-1, -1, 1, 1}, {}));
  ASSERT_NO_FATAL_FAILURE(check_iteration(snap, Region{-kHuge, 5 * t + 3, 2 * t + 1, t - 1}, {}));
}

INSTANTIATE_TEST_SUITE_P(Modes, IteratorTest, ::testing::ValuesIn(all_iter_cases()),
                         iter_case_name);

class IteratorErrorTest : public TempDirTest {};

TEST_F(IteratorErrorTest, ArgumentErrors) {
  ASSERT_OK_AND_ASSIGN(auto container, Container::create(path("it.tsr")));
  ImageSpec spec;
  spec.bands = 2;
  spec.tile_size = 16;
  ASSERT_OK(container.write([&](WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(txn.create_image("img", spec));
    TESSERA_RETURN_IF_ERROR(txn.create_image("empty", spec));
    std::vector<uint8_t> px = {1, 2};
    return txn.write("img", Region{0, 0, 1, 1}, {}, px.data(), px.size());
  }));
  ASSERT_OK_AND_ASSIGN(auto snap, container.snapshot());
  for (IterationMode mode : {IterationMode::kSpatial, IterationMode::kSpectral}) {
    SCOPED_TRACE(mode == IterationMode::kSpatial ? "spatial" : "spectral");
    EXPECT_CODE(BlockIterator::create(snap, "nope", Region{0, 0, 4, 4}, {}, mode),
                Code::kNotFound);
    EXPECT_CODE(BlockIterator::create(snap, "img", Region{0, 0, 0, 4}, {}, mode),
                Code::kInvalidArgument);
    EXPECT_CODE(BlockIterator::create(snap, "img",
                                      Region{std::numeric_limits<int64_t>::max() - 1, 0, 4, 4},
                                      {}, mode),
                Code::kInvalidArgument);
    Selection bad_band;
    bad_band.bands = {0, 2};
    EXPECT_CODE(BlockIterator::create(snap, "img", Region{0, 0, 4, 4}, bad_band, mode),
                Code::kInvalidArgument);
  }
}

// iterator.h: create() fails "as View::read", which includes a frame that does not exist.
TEST_F(IteratorErrorTest, FrameThatDoesNotExist) {
  ASSERT_OK_AND_ASSIGN(auto container, Container::create(path("it.tsr")));
  ImageSpec spec;
  spec.tile_size = 16;
  ASSERT_OK(container.write([&](WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(txn.create_image("img", spec));
    std::vector<uint8_t> px = {1};
    return txn.write("img", Region{0, 0, 1, 1}, {}, px.data(), px.size());
  }));
  ASSERT_OK_AND_ASSIGN(auto snap, container.snapshot());
  for (IterationMode mode : {IterationMode::kSpatial, IterationMode::kSpectral}) {
    SCOPED_TRACE(mode == IterationMode::kSpatial ? "spatial" : "spectral");
    Selection frame1;
    frame1.frame = 1;
    auto it = BlockIterator::create(snap, "img", Region{0, 0, 4, 4}, frame1, mode);
    EXPECT_EQ(it.status().code(), Code::kNotFound)
        << (it.is_ok() ? "create() accepted frame 1 of a 1-frame image" : it.status().to_string());
    if (it.is_ok()) {
      Result<bool> first = it->next();
      EXPECT_FALSE(first.is_ok() && *first) << "next() yielded a block of a missing frame";
    }
  }
}

}  // namespace
}  // namespace tessera::test
