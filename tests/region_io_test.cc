// region_io_test.cc — View::read and WriteTxn::write against a plain in-memory reference image.
//
// Property tests: for every data type, band counts 1, 3 and 8, chunky and planar storage, tile
// sizes 16/32/64 and every codec with every filter, a fixed-seed random sequence of
// writes (partial tiles, tile-crossing, overlapping rewrites, uniform and exactly-fill values,
// random band subsets in random order, coordinates near 0, negative, and near +-2^62) and reads
// (random regions, band subsets, BIP/BIL/BSQ and padded custom strides), each read compared
// byte for byte with the reference. Transactions commit or abort (the reference rolls back
// too), snapshots taken during a transaction must not see it, and the container is reopened
// at the end and checked again.
//
// Argument errors: each bad call gives the documented Code and changes nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tessera/container.h"
#include "tessera/types.h"
#include "test_util.h"

namespace tessera::test {
namespace {

// ---------------------------------------------------------------------------------------------
// Buffer layouts used by reads and writes

struct Layout {
  bool custom = false;  // explicit strides rather than an Interleave preset
  Interleave interleave = Interleave::kBIP;
  Strides strides;      // always set: the packed strides of `interleave` when !custom
  size_t size = 0;      // bytes of the buffer handed to the library
  std::string label;
};

Layout packed_layout(Interleave il, int64_t w, int64_t h, size_t nb, size_t s) {
  Layout out;
  out.interleave = il;
  out.strides = packed_strides(il, w, h, nb, s);
  out.size = size_t(w * h) * nb * s;
  out.label = interleave_label(il);
  return out;
}

// One of BIP, BIL, BSQ, or custom strides with padding between pixels, lines and bands
// (unaligned on purpose) or a column-major layout. Sometimes the buffer is larger than needed.
Layout random_layout(Rng& rng, int64_t w, int64_t h, size_t nb, size_t s) {
  const int64_t si = int64_t(s), nbi = int64_t(nb);
  Layout out;
  switch (rng.uniform(0, 3)) {
    case 0: out = packed_layout(Interleave::kBIP, w, h, nb, s); break;
    case 1: out = packed_layout(Interleave::kBIL, w, h, nb, s); break;
    case 2: out = packed_layout(Interleave::kBSQ, w, h, nb, s); break;
    default: {
      out.custom = true;
      Strides st;
      switch (rng.uniform(0, 2)) {
        case 0:  // chunky with padding after each pixel and each line
          st.band = si;
          st.pixel = nbi * si + rng.uniform(1, 5);
          st.line = w * st.pixel + rng.uniform(0, 9);
          out.label = "custom-chunky-padded";
          break;
        case 1:  // planar with padding after each line and each band plane
          st.pixel = si;
          st.line = w * si + rng.uniform(1, 7);
          st.band = h * st.line + rng.uniform(0, 13);
          out.label = "custom-planar-padded";
          break;
        default:  // column-major planes: x is the slow axis
          st.line = si;
          st.pixel = h * si + rng.uniform(0, 3);
          st.band = w * st.pixel + rng.uniform(0, 5);
          out.label = "custom-column-major";
          break;
      }
      out.strides = st;
      out.size = layout_bytes(st, w, h, nb, s);
      out.label += " " + strides_label(st);
    }
  }
  if (rng.chance(0.2)) {
    out.size += size_t(rng.uniform(1, 16));  // a larger buffer: the tail must stay untouched
    out.label += "+slack";
  }
  return out;
}

Status layout_read(const View& view, const std::string& image, const Region& r,
                   const Selection& sel, void* dst, const Layout& layout) {
  if (layout.custom) return view.read(image, r, sel, dst, layout.size, layout.strides);
  return view.read(image, r, sel, dst, layout.size, layout.interleave);
}

Status layout_write(WriteTxn& txn, const std::string& image, const Region& r,
                    const Selection& sel, const void* src, const Layout& layout) {
  if (layout.custom) return txn.write(image, r, sel, src, layout.size, layout.strides);
  return txn.write(image, r, sel, src, layout.size, layout.interleave);
}

// Reads `r` of `bands` through `view` into a buffer prefilled with a sentinel and compares it,
// padding included, with what the reference says.
::testing::AssertionResult read_matches(const View& view, const std::string& image,
                                        const RefImage& ref, const Region& r,
                                        const std::vector<uint32_t>& bands, const Layout& layout) {
  std::vector<uint8_t> buf(layout.size, 0xA5);
  Selection sel;
  sel.bands = bands;
  Status st = layout_read(view, image, r, sel, buf.data(), layout);
  std::string what = "read " + region_label(r) + " bands " + bands_label(bands) + " as " +
                     layout.label;
  if (!st.is_ok()) return ::testing::AssertionFailure() << what << ": " << st.to_string();
  std::vector<uint8_t> want = ref.expected(r, bands, layout.strides, layout.size, 0xA5);
  std::string diff = describe_mismatch(want, buf.data(), buf.size(), r, bands, ref.bands(),
                                       layout.strides, ref.sample_bytes());
  if (!diff.empty()) return ::testing::AssertionFailure() << what << ": " << diff;
  return ::testing::AssertionSuccess();
}

// Random sample bytes of `type`: random bit patterns, for floats with extra NaNs (random
// payloads, quiet and signalling), infinities and signed zeros. `low_entropy` draws every pixel
// from a small palette in runs, so that codecs actually compress.
std::vector<uint8_t> random_samples(Rng& rng, DataType type, size_t count, bool low_entropy) {
  const size_t s = dtype_bytes(type);
  std::vector<uint8_t> out(count * s);
  if (low_entropy) {
    std::vector<uint8_t> palette = rng.bytes(4 * s);
    size_t pick = 0;
    for (size_t i = 0; i < count; ++i) {
      if (rng.chance(0.1)) pick = rng.index(4);
      std::memcpy(out.data() + i * s, palette.data() + pick * s, s);
    }
    return out;
  }
  rng.fill(out.data(), out.size());
  if (type == DataType::kF32 || type == DataType::kF64) {
    for (size_t i = 0; i < count; ++i) {
      uint8_t* p = out.data() + i * s;
      int64_t k = rng.uniform(0, 15);
      if (type == DataType::kF32) {
        uint32_t v;
        std::memcpy(&v, p, 4);
        if (k < 2) v |= 0x7F800000u | 1u;                     // NaN, random payload and sign
        else if (k == 2) v = (v & 0x80000000u);               // +0 / -0
        else if (k == 3) v = (v & 0x80000000u) | 0x7F800000u; // +inf / -inf
        std::memcpy(p, &v, 4);
      } else {
        uint64_t v;
        std::memcpy(&v, p, 8);
        if (k < 2) v |= 0x7FF0000000000000ull | 1u;
        else if (k == 2) v = (v & 0x8000000000000000ull);
        else if (k == 3) v = (v & 0x8000000000000000ull) | 0x7FF0000000000000ull;
        std::memcpy(p, &v, 8);
      }
    }
  }
  return out;
}

// A buffer in `layout` (background bytes random) whose samples for band index b are `values`
// laid out w x h: values[(b * h + y) * w + x].
std::vector<uint8_t> lay_out(Rng& rng, const Layout& layout, int64_t w, int64_t h, size_t nb,
                             size_t s, const std::vector<uint8_t>& values) {
  std::vector<uint8_t> buf = rng.bytes(layout.size);
  for (size_t b = 0; b < nb; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        std::memcpy(buf.data() + sample_offset(layout.strides, x, y, b),
                    values.data() + ((int64_t(b) * h + y) * w + x) * int64_t(s), s);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// The property test

struct IoCase {
  DataType type;
  uint32_t bands;
  StorageLayout storage;
  uint32_t tile;
  CodecSpec codec;
  Filter filter;
  uint64_t seed;
};

std::string codec_label(const CodecSpec& c) {
  if (c.codec == Codec::kNone) return "none";
  if (c.codec == Codec::kLz4) return "lz4";
  return "zstd" + std::to_string(c.level);
}

std::string io_case_name(const ::testing::TestParamInfo<IoCase>& info) {
  const IoCase& c = info.param;
  return std::string(dtype_label(c.type)) + "_b" + std::to_string(c.bands) + "_" +
         (c.storage == StorageLayout::kChunky ? "chunky" : "planar") + "_t" +
         std::to_string(c.tile) + "_" + codec_label(c.codec) + "_" + std::string(filter_name(c.filter));
}

// gtest prints parameters with this (instead of a hex dump) in failure messages.
void PrintTo(const IoCase& c, std::ostream* os) {
  *os << io_case_name(::testing::TestParamInfo<IoCase>(c, 0)) << " seed " << c.seed;
}

std::vector<IoCase> all_io_cases() {
  const uint32_t band_counts[] = {1, 3, 8};
  const StorageLayout storages[] = {StorageLayout::kChunky, StorageLayout::kPlanar};
  const uint32_t tiles[] = {16, 32, 64};
  const CodecSpec codecs[] = {{Codec::kNone, 0}, {Codec::kLz4, 0}, {Codec::kZstd, 1},
                              {Codec::kZstd, 0}};
  std::vector<IoCase> out;
  uint64_t i = 0;
  for (DataType type : all_data_types())
    for (uint32_t bands : band_counts)
      for (StorageLayout storage : storages) {
        // Six consecutive cases per type walk all tile sizes and codecs; twelve all filters.
        const Filter filters[] = {Filter::kShuffle, Filter::kNone, Filter::kDelta};
        IoCase c{type,           bands, storage, tiles[(i / 2) % 3], codecs[i % 4],
                 filters[(i / 4) % 3], 0x7E55E4A000ull + i};
        out.push_back(c);
        ++i;
      }
  return out;
}

class RegionIoTest : public TempDirTestWithParam<IoCase> {
 protected:
  void SetUp() override {
    const IoCase& c = GetParam();
    spec_.type = c.type;
    spec_.bands = c.bands;
    spec_.tile_size = c.tile;
    spec_.macro_tiles = 4;
    spec_.storage = c.storage;
    spec_.codec = c.codec;
    spec_.filter = c.filter;
    Rng rng(c.seed ^ 0xF111);
    if (rng.chance(0.5)) {
      spec_.fill = {double(rng.uniform(0, 100))};
    } else {
      spec_.fill.clear();
      for (uint32_t b = 0; b < c.bands; ++b) spec_.fill.push_back(double(rng.uniform(0, 100)));
    }
    s_ = dtype_bytes(c.type);
  }

  // A region near one of a few anchors so that writes overlap each other and cross tiles.
  Region random_region(Rng& rng, int64_t max_side) {
    static const int64_t anchors[] = {0, -1000, kHuge - 40, -kHuge + 7};
    const int64_t t = spec_.tile_size;
    Region r;
    r.x = anchors[rng.index(4)] + rng.uniform(-2 * t, 2 * t);
    r.y = anchors[rng.index(4)] + rng.uniform(-2 * t, 2 * t);
    r.width = rng.uniform(1, max_side);
    r.height = rng.uniform(1, max_side);
    return r;
  }
  // Whole tiles (1 or 2 across and down) near an anchor, or any region.
  Region random_uniform_region(Rng& rng) {
    const int64_t t = spec_.tile_size;
    if (rng.chance(0.3)) return random_region(rng, max_side());
    Region r = random_region(rng, 1);
    r.x = floor_div(r.x, t) * t;
    r.y = floor_div(r.y, t) * t;
    r.width = t * rng.uniform(1, 2);
    r.height = t * rng.uniform(1, 2);
    return r;
  }
  int64_t max_side() const { return std::min<int64_t>(int64_t(spec_.tile_size) * 5 / 2, 100); }

  std::vector<uint32_t> random_bands(Rng& rng) {
    if (rng.chance(0.25)) return {};  // all bands in order
    return rng.band_subset(spec_.bands);
  }

  static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }
  ImageSpec spec_;
  size_t s_ = 1;
};

TEST_P(RegionIoTest, RandomWritesAndReadsMatchReference) {
  const IoCase& c = GetParam();
  const std::string file = path("region.tsr");
  const std::string image = "img";
  Rng rng(c.seed);

  OpenOptions options;
  options.sync = false;
  // Half the cases read through a small decoded-tile cache (64 KiB per shard: evictions, and
  // tiles too large to cache), which must never change an answer.
  // (Bit 2 of the seed: the codec takes bits 0 and 1, so every codec reads both ways.)
  if (c.seed & 4) options.tile_cache_bytes = uint64_t(4) << 20;
  std::optional<Container> container;
  {
    ASSERT_OK_AND_ASSIGN(auto created, Container::create(file, options));
    container.emplace(std::move(created));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container->begin_write());
    ASSERT_OK(txn.create_image(image, spec_));
    ASSERT_OK(txn.commit());
  }

  RefImage committed(spec_);
  RefImage pending = committed;
  std::vector<Region> written;  // every region written in a committed transaction

  const int kTransactions = 5;
  const int kOpsPerTxn = 10;
  for (int t = 0; t < kTransactions; ++t) {
    // Transaction 2 aborts explicitly, transaction 3 is dropped without commit.
    const bool do_abort = (t == 2);
    const bool do_drop = (t == 3);
    std::optional<Snapshot> before;
    {
      ASSERT_OK_AND_ASSIGN(auto snap, container->snapshot());
      before.emplace(std::move(snap));
    }
    std::vector<Region> txn_written;
    {
      ASSERT_OK_AND_ASSIGN(auto txn, container->begin_write());
      for (int op = 0; op < kOpsPerTxn; ++op) {
        SCOPED_TRACE("seed " + std::to_string(c.seed) + " txn " + std::to_string(t) + " op " +
                     std::to_string(op));
        const int64_t kind = rng.uniform(0, 9);
        if (kind < 5) {  // random samples
          Region r = random_region(rng, max_side());
          std::vector<uint32_t> bands = random_bands(rng);
          const size_t nb = bands.empty() ? c.bands : bands.size();
          Layout layout = random_layout(rng, r.width, r.height, nb, s_);
          std::vector<uint8_t> values =
              random_samples(rng, c.type, size_t(r.width * r.height) * nb, rng.chance(0.5));
          std::vector<uint8_t> src = lay_out(rng, layout, r.width, r.height, nb, s_, values);
          Selection sel;
          sel.bands = bands;
          Status st = layout_write(txn, image, r, sel, src.data(), layout);
          ASSERT_TRUE(st.is_ok()) << "write " << region_label(r) << " bands "
                                  << bands_label(bands) << " as " << layout.label << ": "
                                  << st.to_string();
          pending.write(r, bands, src.data(), layout.strides);
          txn_written.push_back(r);
        } else if (kind < 7) {  // uniform values, often exactly the fill value
          Region r = random_uniform_region(rng);
          std::vector<uint32_t> bands = random_bands(rng);
          std::vector<uint32_t> list = pending.resolve(bands);
          const bool all_fill = rng.chance(0.5);
          std::vector<std::vector<uint8_t>> per_band;
          for (uint32_t b : list)
            per_band.push_back(all_fill || rng.chance(0.3) ? pending.fill_bytes(b)
                                                           : random_samples(rng, c.type, 1, false));
          std::vector<uint8_t> values;
          for (size_t b = 0; b < list.size(); ++b)
            for (int64_t i = 0; i < r.width * r.height; ++i)
              values.insert(values.end(), per_band[b].begin(), per_band[b].end());
          Layout layout = random_layout(rng, r.width, r.height, list.size(), s_);
          std::vector<uint8_t> src =
              lay_out(rng, layout, r.width, r.height, list.size(), s_, values);
          Selection sel;
          sel.bands = bands;
          Status st = layout_write(txn, image, r, sel, src.data(), layout);
          ASSERT_TRUE(st.is_ok()) << "uniform write " << region_label(r) << " bands "
                                  << bands_label(bands) << (all_fill ? " (fill)" : "") << ": "
                                  << st.to_string();
          pending.write_uniform(r, bands, per_band);
          txn_written.push_back(r);
        } else {  // read through the transaction: it sees its own writes
          Region r = rng.chance(0.6) && !txn_written.empty()
                         ? txn_written[rng.index(txn_written.size())]
                         : random_region(rng, max_side());
          if (rng.chance(0.5)) {  // grow it a little beyond what was written
            r.x -= rng.uniform(0, 9);
            r.y -= rng.uniform(0, 9);
            r.width += rng.uniform(0, 18);
            r.height += rng.uniform(0, 18);
          }
          std::vector<uint32_t> bands = random_bands(rng);
          const size_t nb = bands.empty() ? c.bands : bands.size();
          Layout layout = random_layout(rng, r.width, r.height, nb, s_);
          ASSERT_TRUE(read_matches(txn, image, pending, r, bands, layout));
        }
      }
      // A snapshot taken before the transaction must not see any of it.
      for (const Region& r : txn_written) {
        SCOPED_TRACE("snapshot taken before txn " + std::to_string(t));
        ASSERT_TRUE(read_matches(*before, image, committed, r, {},
                                 packed_layout(Interleave::kBIP, r.width, r.height, c.bands, s_)));
      }
      before.reset();  // one snapshot at a time here; StorageTest covers several at once
      if (do_abort) {
        txn.abort();
      } else if (!do_drop) {
        ASSERT_OK(txn.commit());
      }
    }
    if (do_abort || do_drop) {
      pending = committed;
    } else {
      committed = pending;
      written.insert(written.end(), txn_written.begin(), txn_written.end());
    }
    // A new snapshot sees exactly the committed state, including where the aborted writes were.
    ASSERT_OK_AND_ASSIGN(auto after, container->snapshot());
    for (size_t i = 0; i < txn_written.size(); ++i) {
      SCOPED_TRACE("after txn " + std::to_string(t) +
                   (do_abort ? " (aborted)" : do_drop ? " (dropped)" : " (committed)"));
      const Region& r = txn_written[i];
      std::vector<uint32_t> bands = random_bands(rng);
      const size_t nb = bands.empty() ? c.bands : bands.size();
      ASSERT_TRUE(read_matches(after, image, committed, r, bands,
                               random_layout(rng, r.width, r.height, nb, s_)));
    }
  }

  // Close, reopen, and read every committed write back (all bands, BSQ), plus random regions.
  container.reset();
  {
    ASSERT_OK_AND_ASSIGN(auto reopened, Container::open(file));
    container.emplace(std::move(reopened));
  }
  ASSERT_OK_AND_ASSIGN(auto snap, container->snapshot());
  ASSERT_OK_AND_ASSIGN(auto info, snap.image(image));
  EXPECT_EQ(info.frames, 1u);
  EXPECT_EQ(info.spec.type, c.type);
  EXPECT_EQ(info.spec.bands, c.bands);
  EXPECT_EQ(info.spec.tile_size, c.tile);
  EXPECT_EQ(info.spec.storage, c.storage);
  std::vector<uint8_t> fill_pixel;
  for (uint32_t b = 0; b < c.bands; ++b)
    fill_pixel.insert(fill_pixel.end(), committed.fill_bytes(b).begin(),
                      committed.fill_bytes(b).end());
  EXPECT_EQ(info.fill_pixel, fill_pixel);
  for (const Region& r : written) {
    SCOPED_TRACE("after reopen");
    ASSERT_TRUE(read_matches(snap, image, committed, r, {},
                             packed_layout(Interleave::kBSQ, r.width, r.height, c.bands, s_)));
  }
  for (int i = 0; i < 6; ++i) {
    SCOPED_TRACE("after reopen, random read " + std::to_string(i));
    Region r = random_region(rng, max_side());
    std::vector<uint32_t> bands = random_bands(rng);
    const size_t nb = bands.empty() ? c.bands : bands.size();
    ASSERT_TRUE(read_matches(snap, image, committed, r, bands,
                             random_layout(rng, r.width, r.height, nb, s_)));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, RegionIoTest, ::testing::ValuesIn(all_io_cases()),
                         io_case_name);

// ---------------------------------------------------------------------------------------------
// Fixed cases the random walk may miss

class RegionIoFixedTest : public TempDirTest {
 protected:
  void open_with_image(const ImageSpec& spec) {
    ASSERT_OK_AND_ASSIGN(auto created, Container::create(path("fixed.tsr")));
    container_.emplace(std::move(created));
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.create_image("img", spec));
    ASSERT_OK(txn.commit());
  }
  std::optional<Container> container_;
};

// A tile-aligned uniform write of -0.0 over a fill of +0.0 is not "fill": the bytes differ.
// Likewise a NaN fill must be matched by its bytes, not by ==.
TEST_F(RegionIoFixedTest, FloatFillComparedByBytes) {
  ImageSpec spec;
  spec.type = DataType::kF32;
  spec.bands = 1;
  spec.tile_size = 16;
  spec.fill = {0.0};
  ASSERT_NO_FATAL_FAILURE(open_with_image(spec));
  RefImage ref(spec);
  const Region r{16, -32, 32, 16};
  std::vector<uint8_t> src(size_t(r.pixel_count()) * 4);
  const float negative_zero = -0.0f;
  for (size_t i = 0; i < size_t(r.pixel_count()); ++i) std::memcpy(&src[i * 4], &negative_zero, 4);
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.write("img", r, {}, src.data(), src.size()));
    ASSERT_OK(txn.commit());
  }
  ref.write(r, {}, src.data(), packed_strides(Interleave::kBIP, r.width, r.height, 1, 4));
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  EXPECT_TRUE(read_matches(snap, "img", ref, r, {},
                           packed_layout(Interleave::kBIP, r.width, r.height, 1, 4)));
  ASSERT_OK_AND_ASSIGN(auto stats, snap.stats("img"));
  EXPECT_EQ(stats.tiles_uniform, 2u) << "-0.0 tiles must be stored (uniform), not dropped as fill";
}

// 256 bands (the documented maximum) and a band subset at the top end.
TEST_F(RegionIoFixedTest, TwoHundredFiftySixBands) {
  ImageSpec spec;
  spec.type = DataType::kU8;
  spec.bands = 256;
  spec.tile_size = 16;
  spec.fill = {9.0};
  ASSERT_NO_FATAL_FAILURE(open_with_image(spec));
  RefImage ref(spec);
  Rng rng(256);
  const Region r{-5, 3, 20, 7};
  Layout layout = packed_layout(Interleave::kBIL, r.width, r.height, 256, 1);
  std::vector<uint8_t> src = rng.bytes(layout.size);
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.write("img", r, {}, src.data(), src.size(), Interleave::kBIL));
    ASSERT_OK(txn.commit());
  }
  ref.write(r, {}, src.data(), layout.strides);
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  const Region rr{-8, 0, 30, 12};
  EXPECT_TRUE(read_matches(snap, "img", ref, rr, {},
                           packed_layout(Interleave::kBIP, rr.width, rr.height, 256, 1)));
  std::vector<uint32_t> bands = {255, 0, 128};
  EXPECT_TRUE(read_matches(snap, "img", ref, rr, bands,
                           packed_layout(Interleave::kBSQ, rr.width, rr.height, 3, 1)));
}

// Coordinates at the very ends of int64: either supported (and then exact) or refused with
// kInvalidArgument; never wrong pixels or a crash.
TEST_F(RegionIoFixedTest, ExtremeCoordinatesRoundTripOrAreRefused) {
  ImageSpec spec;
  spec.type = DataType::kU16;
  spec.bands = 2;
  spec.tile_size = 16;
  ASSERT_NO_FATAL_FAILURE(open_with_image(spec));
  RefImage ref(spec);
  Rng rng(64);
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const Region regions[] = {{kMin, kMin, 20, 20}, {kMax - 20, kMax - 20, 20, 20},
                            {kMin, kMax - 5, 5, 5}};
  for (const Region& r : regions) {
    SCOPED_TRACE(region_label(r));
    Layout layout = packed_layout(Interleave::kBIP, r.width, r.height, 2, 2);
    std::vector<uint8_t> src = rng.bytes(layout.size);
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    Status st = txn.write("img", r, {}, src.data(), src.size());
    if (!st.is_ok()) {
      EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.to_string();
      continue;
    }
    ASSERT_OK(txn.commit());
    ref.write(r, {}, src.data(), layout.strides);
    ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
    EXPECT_TRUE(read_matches(snap, "img", ref, r, {}, layout));
  }
}

// ---------------------------------------------------------------------------------------------
// Argument errors: the right Code, and nothing changes

class ArgumentErrorTest : public TempDirTest {
 protected:
  void SetUp() override {
    spec_.type = DataType::kU16;
    spec_.bands = 3;
    spec_.tile_size = 16;
    spec_.fill = {1.0, 2.0, 3.0};
    ref_.emplace(spec_);
    ASSERT_OK_AND_ASSIGN(auto created, Container::create(path("errors.tsr")));
    container_.emplace(std::move(created));
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.create_image("img", spec_));
    ASSERT_OK(txn.create_image("empty", spec_));  // never written: 0 frames
    Rng rng(3);
    std::vector<uint8_t> src = rng.bytes(size_t(data_.pixel_count()) * 3 * 2);
    ASSERT_OK(txn.write("img", data_, {}, src.data(), src.size()));
    ASSERT_OK(txn.commit());
    ref_->write(data_, {}, src.data(), packed_strides(Interleave::kBIP, data_.width, data_.height,
                                                      3, 2));
  }

  // The image still holds exactly what SetUp wrote, through a snapshot and through `view`.
  void expect_unchanged(const View& view) {
    const Region around{data_.x - 5, data_.y - 5, data_.width + 10, data_.height + 10};
    EXPECT_TRUE(read_matches(view, "img", *ref_, around, {},
                             packed_layout(Interleave::kBIP, around.width, around.height, 3, 2)));
    ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
    EXPECT_TRUE(read_matches(snap, "img", *ref_, around, {},
                             packed_layout(Interleave::kBSQ, around.width, around.height, 3, 2)));
    ASSERT_OK_AND_ASSIGN(auto info, snap.image("img"));
    EXPECT_EQ(info.frames, 1u);
  }

  ImageSpec spec_;
  std::optional<RefImage> ref_;
  std::optional<Container> container_;
  const Region data_{-20, 10, 40, 30};
};

TEST_F(ArgumentErrorTest, EmptyAndOverflowingRegions) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const Region bad[] = {{0, 0, 0, 5},        {0, 0, 5, 0},           {0, 0, -1, 5},
                        {0, 0, 5, -3},       {kMax - 5, 0, 10, 1},   {0, kMax - 2, 1, 3},
                        {kMax, kMax, 1, 1},  {5, 0, kMax, 1}};
  std::vector<uint8_t> buf(4096, 0x5A);
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
  for (const Region& r : bad) {
    SCOPED_TRACE(region_label(r));
    EXPECT_CODE(snap.read("img", r, {}, buf.data(), buf.size()), Code::kInvalidArgument);
    EXPECT_CODE(txn.read("img", r, {}, buf.data(), buf.size()), Code::kInvalidArgument);
    EXPECT_CODE(txn.write("img", r, {}, buf.data(), buf.size()), Code::kInvalidArgument);
    EXPECT_CODE(txn.write("img", r, {}, buf.data(), buf.size(),
                          Strides{6, 6 * 16, 2}),
                Code::kInvalidArgument);
  }
  EXPECT_EQ(std::vector<uint8_t>(4096, 0x5A), buf) << "a refused read wrote into the buffer";
  expect_unchanged(txn);
  ASSERT_OK(txn.commit());
  ASSERT_OK_AND_ASSIGN(auto snap2, container_->snapshot());
  expect_unchanged(snap2);
}

TEST_F(ArgumentErrorTest, BandsOutOfRangeOrDuplicated) {
  const Region r{0, 12, 8, 8};
  std::vector<uint8_t> buf(size_t(r.pixel_count()) * 3 * 2, 0x5A);
  const std::vector<std::vector<uint32_t>> out_of_range = {{3}, {0, 99}, {2, 1, 3}, {4294967295u}};
  ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
  for (const auto& bands : out_of_range) {
    SCOPED_TRACE("bands " + bands_label(bands));
    Selection sel;
    sel.bands = bands;
    EXPECT_CODE(txn.read("img", r, sel, buf.data(), buf.size()), Code::kInvalidArgument);
    EXPECT_CODE(txn.write("img", r, sel, buf.data(), buf.size()), Code::kInvalidArgument);
  }
  // Writing one band twice is ambiguous: refused.
  Selection dup;
  dup.bands = {1, 1};
  EXPECT_CODE(txn.write("img", r, dup, buf.data(), buf.size()), Code::kInvalidArgument);
  expect_unchanged(txn);
  // Reading a band twice is either refused or gives the band twice.
  std::vector<uint8_t> rbuf(size_t(r.pixel_count()) * 2 * 2, 0xA5);
  Status st = txn.read("img", r, dup, rbuf.data(), rbuf.size(), Interleave::kBSQ);
  if (st.is_ok()) {
    std::vector<uint8_t> want =
        ref_->expected(r, {1, 1}, packed_strides(Interleave::kBSQ, r.width, r.height, 2, 2),
                       rbuf.size());
    EXPECT_EQ(want, rbuf) << "a read of bands {1,1} must give band 1 twice";
  } else {
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.to_string();
  }
  ASSERT_OK(txn.commit());
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  expect_unchanged(snap);
}

TEST_F(ArgumentErrorTest, BufferTooSmall) {
  const Region r{-3, 9, 19, 5};
  ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
  for (Interleave il : {Interleave::kBIP, Interleave::kBIL, Interleave::kBSQ}) {
    SCOPED_TRACE(interleave_label(il));
    const size_t need = size_t(r.pixel_count()) * 3 * 2;
    std::vector<uint8_t> buf(need, 0x5A);
    EXPECT_CODE(txn.read("img", r, {}, buf.data(), need - 1, il), Code::kInvalidArgument);
    EXPECT_CODE(txn.write("img", r, {}, buf.data(), need - 1, il), Code::kInvalidArgument);
    EXPECT_CODE(txn.read("img", r, {}, buf.data(), 0, il), Code::kInvalidArgument);
    Selection two;
    two.bands = {2, 0};
    EXPECT_CODE(txn.read("img", r, two, buf.data(), size_t(r.pixel_count()) * 2 * 2 - 1, il),
                Code::kInvalidArgument);
    EXPECT_EQ(std::vector<uint8_t>(need, 0x5A), buf) << "a refused read wrote into the buffer";
  }
  // A valid region whose packed buffer size does not fit in 64 bits.
  {
    const Region huge{-kHuge, 0, kHuge + 5, 3};
    ASSERT_TRUE(huge.is_valid());
    std::vector<uint8_t> buf(4096, 0x5A);
    for (Interleave il : {Interleave::kBIP, Interleave::kBIL, Interleave::kBSQ}) {
      SCOPED_TRACE(std::string("huge region as ") + interleave_label(il));
      EXPECT_CODE(txn.read("img", huge, {}, buf.data(), buf.size(), il), Code::kInvalidArgument);
      EXPECT_CODE(txn.write("img", huge, {}, buf.data(), buf.size(), il),
                  Code::kInvalidArgument);
    }
    EXPECT_EQ(std::vector<uint8_t>(4096, 0x5A), buf) << "a refused read wrote into the buffer";
  }
  // Padded strides: one byte short of the last sample.
  const Strides st{3 * 2 + 3, (3 * 2 + 3) * 19 + 5, 2};
  const size_t need = layout_bytes(st, r.width, r.height, 3, 2);
  std::vector<uint8_t> buf(need, 0x5A);
  EXPECT_CODE(txn.read("img", r, {}, buf.data(), need - 1, st), Code::kInvalidArgument);
  EXPECT_CODE(txn.write("img", r, {}, buf.data(), need - 1, st), Code::kInvalidArgument);
  // ... and exactly enough is fine.
  std::vector<uint8_t> exact(need, 0xA5);
  ASSERT_OK(txn.read("img", r, {}, exact.data(), need, st));
  EXPECT_EQ(ref_->expected(r, {}, st, need), exact);
  expect_unchanged(txn);
}

// Strides are non-negative byte distances (types.h); a negative one would reach outside the
// buffer. (Overlapping source strides, e.g. pixel = 0, are a broadcast and not tested here.)
TEST_F(ArgumentErrorTest, NegativeStrides) {
  const Region r{0, 12, 4, 4};
  std::vector<uint8_t> buf(4096, 0x5A);
  ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
  const Strides bad[] = {{-6, 24, 2}, {6, -24, 2}, {6, 24, -2}};
  for (const Strides& st : bad) {
    SCOPED_TRACE(strides_label(st));
    EXPECT_CODE(txn.write("img", r, {}, buf.data() + 2048, 2048, st), Code::kInvalidArgument);
    EXPECT_CODE(txn.read("img", r, {}, buf.data() + 2048, 2048, st), Code::kInvalidArgument);
  }
  EXPECT_EQ(std::vector<uint8_t>(4096, 0x5A), buf) << "a refused read wrote into the buffer";
  expect_unchanged(txn);
}

TEST_F(ArgumentErrorTest, UnknownImage) {
  const Region r{0, 0, 4, 4};
  std::vector<uint8_t> buf(4 * 4 * 3 * 2);
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  EXPECT_CODE(snap.read("nope", r, {}, buf.data(), buf.size()), Code::kNotFound);
  EXPECT_CODE(snap.image("nope"), Code::kNotFound);
  EXPECT_CODE(snap.stats("nope"), Code::kNotFound);
  EXPECT_CODE(snap.bounds("nope"), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
  Status st = txn.write("nope", r, {}, buf.data(), buf.size());
  EXPECT_EQ(st.code(), Code::kNotFound) << st.to_string();
  EXPECT_NE(st.message().find("nope"), std::string::npos) << "message must name the image: "
                                                          << st.message();
  EXPECT_CODE(txn.read("IMG", r, {}, buf.data(), buf.size()), Code::kNotFound);  // case matters
  EXPECT_CODE(txn.read("", r, {}, buf.data(), buf.size()), Code::kNotFound);
  ASSERT_OK(txn.commit());
  ASSERT_OK_AND_ASSIGN(auto snap2, container_->snapshot());
  EXPECT_EQ(snap2.images().size(), 2u);
  EXPECT_CODE(snap2.image("nope"), Code::kNotFound);
}

TEST_F(ArgumentErrorTest, FramesThatDoNotExist) {
  const Region r{0, 12, 4, 4};
  std::vector<uint8_t> buf(size_t(r.pixel_count()) * 3 * 2, 0x5A);
  Selection frame1;
  frame1.frame = 1;
  Selection frame7;
  frame7.frame = 7;
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  EXPECT_CODE(snap.read("img", r, frame1, buf.data(), buf.size()), Code::kNotFound);
  EXPECT_CODE(snap.read("img", r, frame7, buf.data(), buf.size()), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
  EXPECT_CODE(txn.read("img", r, frame1, buf.data(), buf.size()), Code::kNotFound);
  // Writing beyond the next frame: either code, but the message must name the frame.
  for (const char* name : {"img", "empty"}) {
    SCOPED_TRACE(name);
    Status st = txn.write(name, r, frame7, buf.data(), buf.size());
    EXPECT_TRUE(st.code() == Code::kInvalidArgument || st.code() == Code::kNotFound)
        << st.to_string();
    EXPECT_NE(st.message().find("frame"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("7"), std::string::npos) << st.message();
  }
  Selection frame2;
  frame2.frame = 2;
  Status st = txn.write("img", r, frame2, buf.data(), buf.size());
  EXPECT_TRUE(st.code() == Code::kInvalidArgument || st.code() == Code::kNotFound)
      << st.to_string();
  expect_unchanged(txn);
  ASSERT_OK_AND_ASSIGN(auto info, txn.image("empty"));
  EXPECT_EQ(info.frames, 1u);
  ASSERT_OK(txn.commit());
  ASSERT_OK_AND_ASSIGN(auto snap2, container_->snapshot());
  expect_unchanged(snap2);
  ASSERT_OK_AND_ASSIGN(auto info2, snap2.image("empty"));
  EXPECT_EQ(info2.frames, 1u);
}

// A new image has one empty frame, 0 (types.h): it reads as fill; frame 1 does not exist yet.
TEST_F(ArgumentErrorTest, NewImageHasOneEmptyFrame) {
  const Region r{-3, 5, 4, 4};
  std::vector<uint8_t> buf(size_t(r.pixel_count()) * 3 * 2, 0x5A);
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto info, snap.image("empty"));
  EXPECT_EQ(info.frames, 1u);
  EXPECT_EQ(info.fill_pixel, (std::vector<uint8_t>{1, 0, 2, 0, 3, 0}));
  ASSERT_OK(snap.read("empty", r, {}, buf.data(), buf.size()));
  RefImage empty(spec_);
  EXPECT_EQ(empty.expected(r, {}, packed_strides(Interleave::kBIP, 4, 4, 3, 2), buf.size()), buf);
  Selection frame1;
  frame1.frame = 1;
  std::vector<uint8_t> untouched(buf.size(), 0x5A);
  EXPECT_CODE(snap.read("empty", r, frame1, untouched.data(), untouched.size()), Code::kNotFound);
  EXPECT_EQ(std::vector<uint8_t>(buf.size(), 0x5A), untouched);
}

TEST_F(ArgumentErrorTest, BadImageSpecs) {
  ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
  auto with = [&](auto change) {
    ImageSpec spec = spec_;
    change(spec);
    return spec;
  };
  const std::vector<std::pair<std::string, ImageSpec>> bad = {
      {"bands 0", with([](ImageSpec& s) { s.bands = 0; s.fill = {0}; })},
      {"bands 1025", with([](ImageSpec& s) { s.bands = 1025; s.fill = {0}; })},
      {"bands 100000", with([](ImageSpec& s) { s.bands = 100000; s.fill = {0}; })},
      {"tile 8", with([](ImageSpec& s) { s.tile_size = 8; })},
      {"tile 48", with([](ImageSpec& s) { s.tile_size = 48; })},
      {"tile 8192", with([](ImageSpec& s) { s.tile_size = 8192; })},
      {"macro 0", with([](ImageSpec& s) { s.macro_tiles = 0; })},
      {"macro 3", with([](ImageSpec& s) { s.macro_tiles = 3; })},
      {"macro 512", with([](ImageSpec& s) { s.macro_tiles = 512; })},
      {"fill 2 values for 3 bands", with([](ImageSpec& s) { s.fill = {1, 2}; })},
      {"zstd level 99", with([](ImageSpec& s) { s.codec = {Codec::kZstd, 99}; })},
      {"zstd level -1", with([](ImageSpec& s) { s.codec = {Codec::kZstd, -1}; })},
      {"lz4 with a level", with([](ImageSpec& s) { s.codec = {Codec::kLz4, 5}; })},
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(bad[i].first);
    const std::string name = "bad" + std::to_string(i);
    EXPECT_CODE(txn.create_image(name, bad[i].second), Code::kInvalidArgument);
    EXPECT_CODE(txn.image(name), Code::kNotFound);
  }
  EXPECT_CODE(txn.create_image("", spec_), Code::kInvalidArgument);
  EXPECT_CODE(txn.create_image("img", spec_), Code::kAlreadyExists);
  ASSERT_OK(txn.commit());
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  EXPECT_EQ(snap.images().size(), 2u);
  expect_unchanged(snap);
}

}  // namespace
}  // namespace tessera::test
