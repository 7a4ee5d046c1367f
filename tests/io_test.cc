// io_test.cc — the converters (tessera/io.h, tessera/envi.h) through the library, not the CLI:
// ENVI round trips of every sample type and interleave, big-endian sources and header offsets,
// band subsets, orders and regions on export; the generic importer and exporter over in-memory
// sources and sinks written here (block order, progress, resume after an interruption, refusal
// of a changed source, sinks aborted on failure); nothing left behind by a failed export; the
// one errno mapping of util/posix_file.h.
//
// Every expected byte is computed here from the generated rasters, independently of the
// library's layout code. Seeds are fixed.
#include <signal.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/envi.h"
#include "tessera/io.h"
#include "tessera/tessera.h"
#include "test_util.h"
#include "util/posix_file.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::write_file;
using test::Rng;
using test::TempDirTest;

// ---------------------------------------------------------------------------------------------
// Rasters and their file layouts

// A raster of random samples, kept band by band: [band][y][x], little-endian.
struct Raster {
  int64_t width = 0, height = 0;
  uint32_t bands = 0;
  DataType type = DataType::kU8;
  size_t sample_bytes = 0;
  std::vector<uint8_t> data;

  const uint8_t* at(uint32_t b, int64_t x, int64_t y) const {
    return data.data() + ((int64_t(b) * height + y) * width + x) * int64_t(sample_bytes);
  }
  RasterShape shape() const { return RasterShape{width, height, bands, type}; }
};

Raster random_raster(DataType type, int64_t width, int64_t height, uint32_t bands, uint64_t seed) {
  Raster r{width, height, bands, type, test::dtype_bytes(type), {}};
  Rng rng(seed);
  r.data = rng.bytes(size_t(width * height * bands) * r.sample_bytes);
  return r;
}

// Offset of sample (x, y, band index b) in a packed w x h x nb buffer in `interleave`.
size_t packed_offset(Interleave interleave, int64_t w, int64_t h, size_t nb, int64_t x, int64_t y,
                     size_t b, size_t sb) {
  switch (interleave) {
    case Interleave::kBIP: return size_t(((y * w + x) * int64_t(nb) + int64_t(b)) * int64_t(sb));
    case Interleave::kBIL: return size_t(((y * int64_t(nb) + int64_t(b)) * w + x) * int64_t(sb));
    case Interleave::kBSQ: return size_t(((int64_t(b) * h + y) * w + x) * int64_t(sb));
  }
  return 0;
}

// The raster's samples as a raw file lays them out, byte-swapped for a big-endian file.
std::string encode(const Raster& r, Interleave interleave, bool big_endian = false) {
  std::string out(r.data.size(), '\0');
  for (uint32_t b = 0; b < r.bands; ++b)
    for (int64_t y = 0; y < r.height; ++y)
      for (int64_t x = 0; x < r.width; ++x) {
        char* dst = out.data() + packed_offset(interleave, r.width, r.height, r.bands, x, y, b,
                                               r.sample_bytes);
        const uint8_t* src = r.at(b, x, y);
        for (size_t i = 0; i < r.sample_bytes; ++i)
          dst[i] = char(src[big_endian ? r.sample_bytes - 1 - i : i]);
      }
  return out;
}

// What exporting `region` (image coordinates) and `bands` of a raster imported at (ox, oy)
// must give: its samples where it lies, zero (the fill) elsewhere.
std::string expected_export(const Raster& r, int64_t ox, int64_t oy, const Region& region,
                            const std::vector<uint32_t>& bands, Interleave interleave) {
  std::string out(size_t(region.pixel_count()) * bands.size() * r.sample_bytes, '\0');
  for (size_t bi = 0; bi < bands.size(); ++bi)
    for (int64_t y = 0; y < region.height; ++y)
      for (int64_t x = 0; x < region.width; ++x) {
        const int64_t sx = region.x + x - ox, sy = region.y + y - oy;
        if (sx < 0 || sy < 0 || sx >= r.width || sy >= r.height) continue;
        std::memcpy(out.data() + packed_offset(interleave, region.width, region.height,
                                               bands.size(), x, y, bi, r.sample_bytes),
                    r.at(bands[bi], sx, sy), r.sample_bytes);
      }
  return out;
}

std::vector<uint32_t> all_bands(uint32_t n) {
  std::vector<uint32_t> out;
  for (uint32_t b = 0; b < n; ++b) out.push_back(b);
  return out;
}

// ENVI codes, written here rather than asked of the library.
int envi_code(DataType type) {
  switch (type) {
    case DataType::kU8: case DataType::kI8: return 1;
    case DataType::kI16: return 2;
    case DataType::kI32: return 3;
    case DataType::kF32: return 4;
    case DataType::kF64: return 5;
    case DataType::kU16: return 12;
    case DataType::kU32: return 13;
    case DataType::kI64: return 14;
    case DataType::kU64: return 15;
  }
  return 0;
}

// Writes RAW (after `offset` bytes of junk) and RAW.hdr describing it.
void write_envi(const std::string& raw, const Raster& r, Interleave interleave,
                bool big_endian = false, uint64_t offset = 0) {
  write_file(raw, std::string(offset, '\x5a') + encode(r, interleave, big_endian));
  std::string h = "ENVI\ndescription = {io_test}\nsamples = " + std::to_string(r.width) +
                  "\nlines = " + std::to_string(r.height) + "\nbands = " + std::to_string(r.bands) +
                  "\nheader offset = " + std::to_string(offset) + "\nfile type = ENVI Standard" +
                  "\ndata type = " + std::to_string(envi_code(r.type)) + "\ninterleave = " +
                  std::string(interleave_name(interleave)) + "\nbyte order = " +
                  (big_endian ? "1" : "0") + "\n";
  if (r.type == DataType::kI8) h += "tessera data type = i8\n";
  write_file(raw + ".hdr", h);
}

const Interleave kInterleaves[] = {Interleave::kBSQ, Interleave::kBIL, Interleave::kBIP};

// Containers of these tests need no durability: commits skip fsync (faster, same contents).
OpenOptions fast() {
  OpenOptions options;
  options.sync = false;
  return options;
}

bool any_output(const std::string& out) {
  for (const std::string& p : {out, out + ".part", out + ".hdr", out + ".hdr.part"})
    if (fs::exists(p)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Sources and sinks of the tests

// A raster in memory as a RasterSource: reads any strides, records the blocks it served.
class MemorySource : public RasterSource {
 public:
  MemorySource(const Raster& raster, std::string name, Interleave preferred)
      : raster_(raster), name_(std::move(name)), preferred_(preferred) {
    identity_.path = "memory:" + name_;
    identity_.size = raster.data.size();
    identity_.mtime_ns = 1234567890;
  }

  RasterShape shape() const override { return raster_.shape(); }
  const std::string& name() const override { return name_; }
  std::string description() const override {
    return "memory " + std::to_string(raster_.width) + "x" + std::to_string(raster_.height) +
           "x" + std::to_string(raster_.bands) + " " + std::string(data_type_name(raster_.type));
  }
  SourceIdentity identity() const override { return identity_; }
  Interleave preferred_interleave() const override { return preferred_; }

  Status read(const Region& block, void* dst, size_t dst_size, const Strides& s) override {
    if (block.x < 0 || block.y < 0 || block.x_end() > raster_.width ||
        block.y_end() > raster_.height)
      return Status(Code::kInvalidArgument, name_ + ": block outside the raster");
    if (dst_size < test::layout_bytes(s, block.width, block.height, raster_.bands,
                                      raster_.sample_bytes))
      return Status(Code::kInvalidArgument, name_ + ": buffer too small");
    auto* out = static_cast<uint8_t*>(dst);
    for (uint32_t b = 0; b < raster_.bands; ++b)
      for (int64_t y = 0; y < block.height; ++y)
        for (int64_t x = 0; x < block.width; ++x)
          std::memcpy(out + test::sample_offset(s, x, y, b), raster_.at(b, block.x + x, block.y + y),
                      raster_.sample_bytes);
    blocks.push_back(block);
    return Status::ok();
  }

  SourceIdentity identity_;
  std::vector<Region> blocks;

 private:
  const Raster& raster_;
  const std::string name_;
  const Interleave preferred_;
};

// Another source with its reads failing after `good` of them: an interruption in mid-import.
class FailingSource : public RasterSource {
 public:
  FailingSource(RasterSource& inner, uint64_t good) : inner_(inner), good_(good) {}
  RasterShape shape() const override { return inner_.shape(); }
  const std::string& name() const override { return inner_.name(); }
  std::string image_name() const override { return inner_.image_name(); }
  std::string description() const override { return inner_.description(); }
  SourceIdentity identity() const override { return inner_.identity(); }
  Interleave preferred_interleave() const override { return inner_.preferred_interleave(); }
  Status read(const Region& block, void* dst, size_t dst_size, const Strides& strides) override {
    if (reads_++ >= good_)
      return Status(Code::kIoError, inner_.name() + ": the disk went away (simulated)");
    return inner_.read(block, dst, dst_size, strides);
  }

 private:
  RasterSource& inner_;
  const uint64_t good_;
  uint64_t reads_ = 0;
};

// A RasterSink into memory: assembles the output and counts every call.
class MemorySink : public RasterSink {
 public:
  Status begin(const RasterShape& shape, Interleave interleave,
               const RasterMetadata& meta) override {
    ++begins;
    metadata = meta;
    shape_ = shape;
    interleave_ = interleave;
    sb_ = sample_size(shape.type);
    output.assign(size_t(shape.width * shape.height) * shape.bands * sb_, '\0');
    covered.assign(size_t(shape.width * shape.height), 0);
    return fail_begin ? Status(Code::kIoError, "memory sink: cannot begin (simulated)") : Status::ok();
  }
  Status write(const Region& block, const void* data, size_t size) override {
    ++writes;
    if (fail_write && writes == *fail_write)
      return Status(Code::kNoSpace, "memory sink: full (simulated)");
    blocks.push_back(block);
    EXPECT_EQ(size, size_t(block.pixel_count()) * shape_.bands * sb_);
    const auto* src = static_cast<const uint8_t*>(data);
    for (uint32_t b = 0; b < shape_.bands; ++b)
      for (int64_t y = 0; y < block.height; ++y)
        for (int64_t x = 0; x < block.width; ++x)
          std::memcpy(output.data() + packed_offset(interleave_, shape_.width, shape_.height,
                                                    shape_.bands, block.x + x, block.y + y, b, sb_),
                      src + packed_offset(interleave_, block.width, block.height, shape_.bands, x,
                                          y, b, sb_),
                      sb_);
    for (int64_t y = 0; y < block.height; ++y)
      for (int64_t x = 0; x < block.width; ++x)
        ++covered[size_t((block.y + y) * shape_.width + block.x + x)];
    return Status::ok();
  }
  Status finish() override {
    ++finishes;
    return Status::ok();
  }
  void abort() override { ++aborts; }

  bool fail_begin = false;
  std::optional<int> fail_write;  // the write (1-based) that fails
  int begins = 0, writes = 0, finishes = 0, aborts = 0;
  RasterShape shape_;
  Interleave interleave_ = Interleave::kBIP;
  size_t sb_ = 0;
  std::string output;
  std::vector<int> covered;  // per output pixel: how many blocks wrote it
  std::vector<Region> blocks;
  RasterMetadata metadata;
};

// Another sink with its `fail_at`-th write failing (1-based); everything else passes through.
class FailingSink : public RasterSink {
 public:
  FailingSink(RasterSink& inner, int fail_at) : inner_(inner), fail_at_(fail_at) {}
  Status begin(const RasterShape& shape, Interleave interleave,
               const RasterMetadata& metadata) override {
    return inner_.begin(shape, interleave, metadata);
  }
  Status write(const Region& block, const void* data, size_t size) override {
    if (++writes_ == fail_at_) return Status(Code::kIoError, "the output disk went away (simulated)");
    return inner_.write(block, data, size);
  }
  Status finish() override { return inner_.finish(); }
  void abort() override {
    ++aborts;
    inner_.abort();
  }
  int aborts = 0;

 private:
  RasterSink& inner_;
  const int fail_at_;
  int writes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// ENVI through the library

class EnviIoRoundTrip : public test::TempDirTestWithParam<DataType> {};

// Every sample type in every interleave, big-endian and with a header offset: export gives
// back exactly what was imported, with a header that says so, and no ".part" left.
TEST_P(EnviIoRoundTrip, ImportExportIsByteIdentical) {
  const DataType type = GetParam();
  const Raster raster = random_raster(type, 37, 29, 3, 1000 + uint64_t(type));
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("rt.tsr"), fast()));
  // What the container holds of `image`, in `il`; for i8, which an ENVI output refuses (its
  // readers would take the samples unsigned), that is what the export would have written.
  const auto stored = [&](const std::string& image, Interleave il) {
    std::string bytes(encode(raster, il).size(), '\0');
    auto snap = container.snapshot();
    EXPECT_TRUE(bool(snap));
    if (snap) EXPECT_OK(snap->read(image, Region{0, 0, 37, 29}, {}, bytes.data(), bytes.size(), il));
    return bytes;
  };
  for (Interleave il : kInterleaves) {
    const std::string name = "src_" + std::string(interleave_name(il));
    const std::string src = path(name + ".raw"), out = path("out_" + name + ".raw");
    write_envi(src, raster, il);
    ImportOptions import;
    import.tile_size = 16;
    ASSERT_OK_AND_ASSIGN(ImportResult result, import_envi(container, src, import));
    EXPECT_TRUE(result.progress.finished());
    EXPECT_EQ(result.progress.source, fs::absolute(src).lexically_normal().string());
    EXPECT_EQ(result.blocks_skipped, 0u);

    ExportOptions exp;
    exp.image = name;  // the source's base name
    exp.interleave = il;
    if (type == DataType::kI8) {
      EXPECT_EQ(export_envi(container, out, exp).code(), Code::kInvalidArgument);
      EXPECT_FALSE(fs::exists(out));
      EXPECT_TRUE(stored(name, il) == encode(raster, il)) << name;
      continue;
    }
    ASSERT_OK(export_envi(container, out, exp));
    EXPECT_TRUE(read_file(out) == encode(raster, il)) << data_type_name(type) << " " << name;
    ASSERT_OK_AND_ASSIGN(EnviHeader header, read_envi_header(out + ".hdr"));
    EXPECT_EQ(header.samples, 37);
    EXPECT_EQ(header.lines, 29);
    EXPECT_EQ(header.bands, 3u);
    EXPECT_EQ(header.type, type);
    EXPECT_EQ(header.interleave, il);
    EXPECT_FALSE(header.big_endian);
    EXPECT_EQ(header.header_offset, 0u);
    EXPECT_FALSE(fs::exists(out + ".part"));
    EXPECT_FALSE(fs::exists(out + ".hdr.part"));
  }

  // A big-endian source with a header offset reads as the same samples.
  const std::string big = path("big.raw"), out = path("big_out.raw");
  write_envi(big, raster, Interleave::kBIL, /*big_endian=*/true, /*offset=*/513);
  ImportOptions import;
  import.tile_size = 16;
  import.image = "big";
  ASSERT_OK(import_envi(container, big, import));
  ExportOptions exp;
  exp.image = "big";
  exp.interleave = Interleave::kBSQ;
  if (type == DataType::kI8) {
    EXPECT_TRUE(stored("big", Interleave::kBSQ) == encode(raster, Interleave::kBSQ));
  } else {
    ASSERT_OK(export_envi(container, out, exp));
    EXPECT_TRUE(read_file(out) == encode(raster, Interleave::kBSQ)) << data_type_name(type);
  }
  ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
  ASSERT_OK_AND_ASSIGN(ImageInfo info, snap.image("big"));
  EXPECT_EQ(info.spec.type, type);
  EXPECT_EQ(info.spec.bands, 3u);
  ASSERT_OK_AND_ASSIGN(auto imports, snap.imports("big"));
  ASSERT_EQ(imports.size(), 1u);
  EXPECT_NE(imports[0].description.find("header offset 513, big-endian"), std::string::npos)
      << imports[0].description;
}

INSTANTIATE_TEST_SUITE_P(EveryType, EnviIoRoundTrip, ::testing::ValuesIn(test::all_data_types()),
                         [](const ::testing::TestParamInfo<DataType>& info) {
                           return std::string(data_type_name(info.param));
                         });

class EnviIoTest : public TempDirTest {};

// Regions crossing the raster's edges, band subsets in any order, every interleave.
TEST_F(EnviIoTest, ExportRegionsBandsAndOrder) {
  const Raster raster = random_raster(DataType::kU16, 50, 40, 4, 7);
  const std::string src = path("scene.raw");
  write_envi(src, raster, Interleave::kBSQ);
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("e.tsr"), fast()));
  ImportOptions import;
  import.tile_size = 16;
  import.origin_x = -20;
  import.origin_y = -7;
  ASSERT_OK(import_envi(container, src, import));

  struct Case {
    Region region;
    std::vector<uint32_t> bands;
    Interleave interleave;
  };
  const Case cases[] = {
      {{-20, -7, 50, 40}, {0, 1, 2, 3}, Interleave::kBIP},
      {{-25, -10, 60, 50}, {3, 0}, Interleave::kBSQ},       // beyond every edge: fill around
      {{-3, 5, 17, 9}, {2}, Interleave::kBIL},              // inside, one band
      {{10, 20, 30, 30}, {1, 3, 2}, Interleave::kBIP},      // over the bottom-right corner
      {{29, 32, 1, 1}, {3, 2, 1, 0}, Interleave::kBSQ},     // one pixel, bands reversed
      {{100, 100, 8, 8}, {0}, Interleave::kBIL},            // no data at all: zeros
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string out = path("cut" + std::to_string(n++) + ".raw");
    ExportOptions exp;
    exp.region = c.region;
    exp.bands = c.bands;
    exp.interleave = c.interleave;
    ASSERT_OK(export_envi(container, out, exp));
    EXPECT_TRUE(read_file(out) ==
                expected_export(raster, -20, -7, c.region, c.bands, c.interleave))
        << test::region_label(c.region) << " " << test::bands_label(c.bands);
    ASSERT_OK_AND_ASSIGN(EnviHeader header, read_envi_header(out + ".hdr"));
    EXPECT_EQ(header.samples, c.region.width);
    EXPECT_EQ(header.lines, c.region.height);
    EXPECT_EQ(header.bands, c.bands.size());
    EXPECT_EQ(header.interleave, c.interleave);
  }
  // Without a region: the exact bounds of the data, every band, BIP.
  const std::string out = path("all.raw");
  ASSERT_OK(export_envi(container, out, ExportOptions{}));
  EXPECT_TRUE(read_file(out) == expected_export(raster, -20, -7, {-20, -7, 50, 40},
                                                all_bands(4), Interleave::kBIP));
}

// The ENVI source reads in any layout, not only its own (the importer asks for its own).
TEST_F(EnviIoTest, SourceReadsAnyStrides) {
  const Raster raster = random_raster(DataType::kI32, 23, 19, 3, 11);
  const std::string src = path("any.raw");
  write_envi(src, raster, Interleave::kBSQ, /*big_endian=*/true, /*offset=*/7);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RasterSource> source, open_envi_source(src));
  EXPECT_EQ(source->shape(), (RasterShape{23, 19, 3, DataType::kI32}));
  EXPECT_EQ(source->preferred_interleave(), Interleave::kBSQ);
  EXPECT_EQ(source->image_name(), "any");
  EXPECT_EQ(source->description(), "ENVI 23x19x3 i32 bsq, header offset 7, big-endian");
  const Region block{4, 3, 11, 9};
  // BIP, and a padded layout with gaps between pixels and lines.
  const Strides bip = Strides::packed(Interleave::kBIP, block.width, block.height, 3, 4);
  const Strides padded{20, 20 * block.width + 12, 4};
  for (const Strides& s : {bip, padded}) {
    std::vector<uint8_t> buffer(test::layout_bytes(s, block.width, block.height, 3, 4), 0xEE);
    ASSERT_OK(source->read(block, buffer.data(), buffer.size(), s));
    for (uint32_t b = 0; b < 3; ++b)
      for (int64_t y = 0; y < block.height; ++y)
        for (int64_t x = 0; x < block.width; ++x)
          ASSERT_EQ(std::memcmp(buffer.data() + test::sample_offset(s, x, y, b),
                                raster.at(b, block.x + x, block.y + y), 4),
                    0)
              << test::strides_label(s) << " band " << b << " (" << x << "," << y << ")";
  }
  std::vector<uint8_t> small(10);
  EXPECT_CODE(source->read(block, small.data(), small.size(), bip), Code::kInvalidArgument);
  std::vector<uint8_t> big(1 << 16);
  const Status outside = source->read({20, 0, 4, 1}, big.data(), big.size(), bip);
  EXPECT_CODE(outside, Code::kInvalidArgument);
  EXPECT_NE(outside.message().find(src), std::string::npos) << outside.message();
}

// Headers through the library: the errors name the file and the field.
TEST_F(EnviIoTest, HeaderErrorsAreNamed) {
  const Raster raster = random_raster(DataType::kU8, 10, 8, 2, 3);
  const std::string src = path("h.raw");
  write_envi(src, raster, Interleave::kBSQ);
  ASSERT_OK_AND_ASSIGN(std::string header_path, find_envi_header(src));
  EXPECT_EQ(header_path, src + ".hdr");

  const Result<std::string> none = find_envi_header(path("absent.raw"));
  EXPECT_CODE(none, Code::kNotFound);
  EXPECT_NE(none.status().message().find("absent.hdr"), std::string::npos);

  const std::string text = read_file(src + ".hdr");
  write_file(src + ".hdr", text.substr(0, text.find("lines")) + text.substr(text.find("bands")));
  const Result<EnviHeader> missing = read_envi_header(src + ".hdr");
  EXPECT_CODE(missing, Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find(src + ".hdr"), std::string::npos);
  EXPECT_NE(missing.status().message().find("'lines'"), std::string::npos);

  // A raw file shorter than its header says: named with both sizes, before any container.
  write_file(src + ".hdr", text);
  write_file(src, encode(raster, Interleave::kBSQ).substr(1));
  const auto short_source = open_envi_source(src);
  EXPECT_CODE(short_source, Code::kInvalidArgument);
  EXPECT_NE(short_source.status().message().find("160"), std::string::npos);
  EXPECT_NE(short_source.status().message().find("159"), std::string::npos);

  // write_envi_header + read_envi_header, i8 included.
  EnviHeader h;
  h.samples = 5, h.lines = 6, h.bands = 7, h.type = DataType::kI8, h.interleave = Interleave::kBIL;
  ASSERT_OK(write_envi_header(path("w.hdr"), h));
  EXPECT_FALSE(fs::exists(path("w.hdr.part")));
  ASSERT_OK_AND_ASSIGN(EnviHeader back, read_envi_header(path("w.hdr")));
  EXPECT_EQ(back.samples, 5);
  EXPECT_EQ(back.lines, 6);
  EXPECT_EQ(back.bands, 7u);
  EXPECT_EQ(back.type, DataType::kI8);
  EXPECT_EQ(back.interleave, Interleave::kBIL);
}

// A write that fails in the middle of a batch (the map reaches its limit) while the next block
// is being read on the side thread: kNoSpace naming the file, the batch rolled back, and the
// source's next read finished before the import returns (the sanitizers see it otherwise).
TEST_F(EnviIoTest, AWriteFailingMidBatchWaitsForTheNextRead) {
  const Raster raster = random_raster(DataType::kU8, 1024, 2048, 2, 9);
  const std::string src = path("big.raw");
  write_envi(src, raster, Interleave::kBIP);
  OpenOptions capped = fast();
  capped.map_size = 1 << 20;
  capped.max_map_size = 2 << 20;
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("capped.tsr"), capped));
  ImportOptions options;
  options.tile_size = 16;
  options.codec = CodecSpec{Codec::kNone, 0};  // 4 MiB of random samples: twice what the map holds
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RasterSource> envi, open_envi_source(src));
  const auto failed = import_raster(container, *envi, options);
  EXPECT_CODE(failed, Code::kNoSpace);
  EXPECT_NE(failed.status().message().find(path("capped.tsr")), std::string::npos) << failed.status().to_string();
  ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
  EXPECT_CODE(snap.image("big"), Code::kNotFound);  // the one batch rolled back whole
}

// An import interrupted after some batches keeps them; resuming reads only the rest and ends
// with every pixel; a finished import resumes to nothing; a changed source is refused.
TEST_F(EnviIoTest, InterruptedImportResumes) {
  const Raster raster = random_raster(DataType::kU8, 40, 100, 2, 5);
  const std::string src = path("scan.raw");
  write_envi(src, raster, Interleave::kBIL);
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("r.tsr"), fast()));
  ImportOptions options;
  options.tile_size = 16;
  options.batch_bytes = 1;  // one block (one strip of 16 lines) per batch: 7 of them
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<RasterSource> envi, open_envi_source(src));
    FailingSource failing(*envi, 3);
    const auto failed = import_raster(container, failing, options);
    EXPECT_CODE(failed, Code::kIoError);
    EXPECT_NE(failed.status().message().find(src), std::string::npos);
    EXPECT_NE(failed.status().message().find("simulated"), std::string::npos);
  }
  {
    ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
    ASSERT_OK_AND_ASSIGN(auto imports, snap.imports("scan"));
    ASSERT_EQ(imports.size(), 1u);
    EXPECT_EQ(imports[0].blocks_done, 3u);
    EXPECT_EQ(imports[0].blocks_total, 7u);
    EXPECT_EQ(imports[0].bytes_done, 3u * 16 * 40 * 2);
    // The committed strips hold the source's pixels.
    std::string got(48 * 40 * 2, '\0');
    ASSERT_OK(snap.read("scan", {0, 0, 40, 48}, {}, got.data(), got.size(), Interleave::kBSQ));
    EXPECT_TRUE(got == expected_export(raster, 0, 0, {0, 0, 40, 48}, {0, 1}, Interleave::kBSQ));
  }
  options.resume = true;
  ASSERT_OK_AND_ASSIGN(ImportResult resumed, import_envi(container, src, options));
  EXPECT_EQ(resumed.blocks_skipped, 3u);
  EXPECT_FALSE(resumed.already_finished);
  EXPECT_TRUE(resumed.progress.finished());
  const std::string out = path("scan_out.raw");
  ExportOptions exp;
  exp.interleave = Interleave::kBIL;
  ASSERT_OK(export_envi(container, out, exp));
  EXPECT_TRUE(read_file(out) == encode(raster, Interleave::kBIL));

  ASSERT_OK_AND_ASSIGN(ImportResult again, import_envi(container, src, options));
  EXPECT_TRUE(again.already_finished);
  EXPECT_EQ(again.blocks_skipped, 7u);

  // The same path, touched since: not the same source any more.
  fs::last_write_time(src, fs::last_write_time(src) + std::chrono::seconds(5));
  const auto changed = import_envi(container, src, options);
  EXPECT_CODE(changed, Code::kInvalidArgument);
  EXPECT_NE(changed.status().message().find("image 'scan' frame 0"), std::string::npos)
      << changed.status().message();
  EXPECT_NE(changed.status().message().find("resume it with that source"), std::string::npos);
  // Without resume it imports afresh.
  options.resume = false;
  EXPECT_OK(import_envi(container, src, options));
}

// Errors found before anything is written leave no output, and an existing OUT as it was.
TEST_F(EnviIoTest, FailedExportLeavesNothing) {
  const Raster raster = random_raster(DataType::kU8, 20, 20, 3, 9);
  const std::string src = path("pic.raw"), out = path("out.raw");
  write_envi(src, raster, Interleave::kBIP);
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("f.tsr"), fast()));
  ImportOptions import;
  import.tile_size = 16;
  ASSERT_OK(import_envi(container, src, import));

  auto expect_refused = [&](ExportOptions options, Code code, const std::string& mention) {
    const Status st = export_envi(container, out, options);
    EXPECT_CODE(st, code);
    EXPECT_NE(st.message().find(mention), std::string::npos) << st.message();
    EXPECT_FALSE(any_output(out)) << mention;
  };
  ExportOptions o;
  o.image = "nope";
  expect_refused(o, Code::kNotFound, "nope");
  o = {};
  o.bands = {0, 3};
  expect_refused(o, Code::kInvalidArgument, "band 3");
  o = {};
  o.frame = 1;
  expect_refused(o, Code::kNotFound, "frame 1");
  o = {};
  o.region = Region{0, 0, 0, 5};
  expect_refused(o, Code::kInvalidArgument, "0,0,0x5");

  const std::string nowhere = path("no/such/dir/out.raw");
  const Status st = export_envi(container, nowhere, {});
  EXPECT_CODE(st, Code::kNotFound);
  EXPECT_NE(st.message().find("out.raw.part"), std::string::npos) << st.message();

  // A failure in mid-export (the third block) removes both ".part" files; an OUT that was
  // there stays untouched.
  const Raster tall = random_raster(DataType::kU8, 20, 100, 1, 10);
  write_envi(path("tall.raw"), tall, Interleave::kBSQ);
  ASSERT_OK(import_envi(container, path("tall.raw"), import));
  ExportOptions exp;
  exp.image = "tall";
  for (bool existing : {false, true}) {
    if (existing) {
      write_file(out, "precious");
      write_file(out + ".hdr", "precious header");
    }
    std::unique_ptr<RasterSink> envi = make_envi_sink(out);
    FailingSink failing(*envi, 3);
    const Status mid = export_raster(container, failing, exp);
    EXPECT_CODE(mid, Code::kIoError);
    EXPECT_EQ(failing.aborts, 1);
    EXPECT_FALSE(fs::exists(out + ".part"));
    EXPECT_FALSE(fs::exists(out + ".hdr.part"));
    if (existing) {
      EXPECT_EQ(read_file(out), "precious");
      EXPECT_EQ(read_file(out + ".hdr"), "precious header");
    } else {
      EXPECT_FALSE(any_output(out));
    }
  }
  // OUT a directory: the rename into place fails, and the staged files go.
  fs::remove(out);
  fs::remove(out + ".hdr");
  fs::create_directory(out);
  fs::create_directory(out + "/keep");
  const Status onto_dir = export_envi(container, out, exp);
  EXPECT_FALSE(onto_dir.is_ok());
  EXPECT_NE(onto_dir.message().find("cannot rename"), std::string::npos) << onto_dir.message();
  EXPECT_FALSE(fs::exists(out + ".part"));
  EXPECT_FALSE(fs::exists(out + ".hdr.part"));
  EXPECT_FALSE(fs::exists(out + ".hdr"));
  EXPECT_TRUE(fs::is_directory(out + "/keep"));
}

// The file size limit (EFBIG) is a full disk: kNoSpace, and nothing left behind.
TEST_F(EnviIoTest, FileSizeLimitIsNoSpace) {
  const Raster raster = random_raster(DataType::kU16, 200, 200, 2, 12);  // 160000 bytes out
  const std::string src = path("huge.raw"), out = path("huge_out.raw");
  write_envi(src, raster, Interleave::kBSQ);
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("l.tsr"), fast()));
  ASSERT_OK(import_envi(container, src, {}));

  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // the limit says EFBIG, not kill
  struct rlimit limit = old_limit;
  limit.rlim_cur = 64 << 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  const Status st = export_envi(container, out, {});
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_CODE(st, Code::kNoSpace);
  EXPECT_NE(st.message().find(out + ".part"), std::string::npos) << st.message();
  EXPECT_FALSE(any_output(out));
}

// ---------------------------------------------------------------------------------------------
// The generic importer and exporter over sources and sinks of the tests

class IoImportTest : public TempDirTest {};

// Whatever layout a source prefers, the pixels land; blocks are read in order, once each.
TEST_F(IoImportTest, AnySourceRoundTripsThroughAnySink) {
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("m.tsr"), fast()));
  uint64_t seed = 40;
  for (DataType type : {DataType::kU8, DataType::kI16, DataType::kF32, DataType::kU64}) {
    for (Interleave preferred : kInterleaves) {
      const Raster raster = random_raster(type, 45, 38, 3, ++seed);
      const std::string name = std::string(data_type_name(type)) + "_" +
                               std::string(interleave_name(preferred));
      MemorySource source(raster, "pictures/" + name + ".mem", preferred);
      ImportOptions import;
      import.tile_size = 16;
      import.origin_x = -5;
      import.origin_y = 3;
      ASSERT_OK_AND_ASSIGN(ImportResult result, import_raster(container, source, import));
      EXPECT_EQ(result.progress.source, "memory:pictures/" + name + ".mem");
      EXPECT_EQ(result.progress.description, source.description());
      // Tile rows from y=3: 3..16, 16..32, 32..41 (one block each: the raster is narrow).
      ASSERT_EQ(source.blocks.size(), 3u) << name;
      EXPECT_EQ(result.progress.blocks_total, 3u);
      int64_t next_y = 0;
      for (const Region& b : source.blocks) {
        EXPECT_EQ(b.y, next_y);
        EXPECT_EQ(b.x, 0);
        EXPECT_EQ(b.width, 45);
        next_y = b.y_end();
      }
      EXPECT_EQ(next_y, 38);

      MemorySink sink;
      ExportOptions exp;
      exp.image = name;  // image_name(): the base name without extension
      exp.bands = {2, 0};
      exp.interleave = Interleave::kBIL;
      ASSERT_OK(export_raster(container, sink, exp));
      EXPECT_EQ(sink.begins, 1);
      EXPECT_EQ(sink.finishes, 1);
      EXPECT_EQ(sink.aborts, 0);
      EXPECT_EQ(sink.shape_, (RasterShape{45, 38, 2, type}));
      EXPECT_TRUE(sink.output ==
                  expected_export(raster, -5, 3, {-5, 3, 45, 38}, {2, 0}, Interleave::kBIL))
          << name;
      for (int c : sink.covered) ASSERT_EQ(c, 1) << name << ": a pixel written " << c << " times";
      for (size_t i = 1; i < sink.blocks.size(); ++i) {
        const Region& a = sink.blocks[i - 1];
        const Region& b = sink.blocks[i];
        EXPECT_TRUE(b.y > a.y || (b.y == a.y && b.x == a.x_end())) << "blocks out of order";
      }
    }
  }
}

// Progress: one call per committed batch on import, one per block on export, up to the total.
TEST_F(IoImportTest, ProgressCounts) {
  const Raster raster = random_raster(DataType::kU8, 100, 100, 1, 21);
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("p.tsr"), fast()));
  MemorySource source(raster, "p.mem", Interleave::kBSQ);
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  ImportOptions import;
  import.tile_size = 16;
  // Blocks are strips of 16 lines (1600 bytes) and a last one of 4 (400): batches of at least
  // 3000 bytes take two strips each, then the remainder.
  import.batch_bytes = 3000;
  import.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  ASSERT_OK(import_raster(container, source, import));
  const std::vector<std::pair<uint64_t, uint64_t>> batches = {
      {3200, 10000}, {6400, 10000}, {9600, 10000}, {10000, 10000}};
  EXPECT_EQ(calls, batches);

  calls.clear();
  MemorySink sink;
  ExportOptions exp;
  exp.progress = import.progress;
  ASSERT_OK(export_raster(container, sink, exp));
  ASSERT_EQ(calls.size(), 7u);  // one per block
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].first, std::min<uint64_t>(10000, (i + 1) * 1600));
    EXPECT_EQ(calls[i].second, 10000u);
  }
}

// An interrupted import of any source resumes from its record; the record must match.
TEST_F(IoImportTest, ResumeNeedsTheSameSourcePlacedTheSameWay) {
  const Raster raster = random_raster(DataType::kU16, 30, 70, 2, 31);
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("s.tsr"), fast()));
  ImportOptions options;
  options.tile_size = 16;
  options.batch_bytes = 1;
  options.image = "img";
  {
    MemorySource inner(raster, "s.mem", Interleave::kBIP);
    FailingSource failing(inner, 2);
    EXPECT_CODE(import_raster(container, failing, options), Code::kIoError);
  }
  options.resume = true;
  {
    // Another identity (the source changed since): refused, nothing read.
    MemorySource changed(raster, "s.mem", Interleave::kBIP);
    changed.identity_.mtime_ns += 1;
    const auto refused = import_raster(container, changed, options);
    EXPECT_CODE(refused, Code::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("memory:s.mem"), std::string::npos);
    EXPECT_TRUE(changed.blocks.empty());
    // Placed elsewhere: refused too.
    MemorySource same(raster, "s.mem", Interleave::kBIP);
    ImportOptions moved = options;
    moved.origin_x = 1;
    EXPECT_CODE(import_raster(container, same, moved), Code::kInvalidArgument);
    EXPECT_TRUE(same.blocks.empty());
  }
  MemorySource source(raster, "s.mem", Interleave::kBIP);
  ASSERT_OK_AND_ASSIGN(ImportResult result, import_raster(container, source, options));
  EXPECT_EQ(result.blocks_skipped, 2u);
  EXPECT_EQ(source.blocks.size(), 3u);  // 5 strips in all
  EXPECT_EQ(source.blocks.front().y, 32);
  MemorySink sink;
  ExportOptions exp;
  exp.region = Region{0, 0, 30, 70};
  ASSERT_OK(export_raster(container, sink, exp));
  EXPECT_TRUE(sink.output ==
              expected_export(raster, 0, 0, {0, 0, 30, 70}, {0, 1}, Interleave::kBIP));
}

// Where an import may go: an existing image of another type, a frame past the last, a frame
// other than 0 of a new image, another codec.
TEST_F(IoImportTest, ImageRules) {
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("i.tsr"), fast()));
  const Raster bytes = random_raster(DataType::kU8, 20, 20, 1, 51);
  const Raster words = random_raster(DataType::kU16, 20, 20, 1, 52);
  MemorySource a(bytes, "dir/a.mem", Interleave::kBSQ), b(words, "dir/b.mem", Interleave::kBSQ);
  ImportOptions options;
  options.tile_size = 16;
  options.image = "same";
  ASSERT_OK(import_raster(container, a, options));

  const auto wrong_type = import_raster(container, b, options);
  EXPECT_CODE(wrong_type, Code::kInvalidArgument);
  EXPECT_NE(wrong_type.status().message().find("dir/b.mem: image 'same' holds 1 bands of u8"),
            std::string::npos)
      << wrong_type.status().message();
  ImportOptions far = options;
  far.frame = 5;
  EXPECT_CODE(import_raster(container, a, far), Code::kNotFound);
  ImportOptions codec = options;
  codec.codec = CodecSpec{Codec::kZstd, 0};
  EXPECT_CODE(import_raster(container, a, codec), Code::kInvalidArgument);
  ImportOptions fresh;
  fresh.frame = 1;
  const auto no_image = import_raster(container, b, fresh);  // image "b" does not exist
  EXPECT_CODE(no_image, Code::kNotFound);
  EXPECT_NE(no_image.status().message().find("image 'b' does not exist yet"), std::string::npos)
      << no_image.status().message();
  ImportOptions next = options;
  next.frame = 1;  // frame == frames appends
  ASSERT_OK(import_raster(container, a, next));
  ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
  ASSERT_OK_AND_ASSIGN(ImageInfo info, snap.image("same"));
  EXPECT_EQ(info.frames, 2u);
  EXPECT_EQ(snap.images().size(), 1u);  // nothing of the refused imports was created
}

// A sink that fails is aborted once and never finished; the exporter's own refusals come
// before the sink begins.
TEST_F(IoImportTest, FailingSinksAreAborted) {
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("k.tsr"), fast()));
  const Raster raster = random_raster(DataType::kU8, 20, 60, 1, 61);
  MemorySource source(raster, "k.mem", Interleave::kBIP);
  ImportOptions import;
  import.tile_size = 16;
  ASSERT_OK(import_raster(container, source, import));

  MemorySink full;
  full.fail_write = 2;
  EXPECT_CODE(export_raster(container, full, {}), Code::kNoSpace);
  EXPECT_EQ(full.writes, 2);
  EXPECT_EQ(full.aborts, 1);
  EXPECT_EQ(full.finishes, 0);

  MemorySink closed;
  closed.fail_begin = true;
  EXPECT_CODE(export_raster(container, closed, {}), Code::kIoError);
  EXPECT_EQ(closed.writes, 0);
  EXPECT_EQ(closed.aborts, 1);

  MemorySink untouched;
  ExportOptions bad;
  bad.bands = {1};
  const Status st = export_raster(container, untouched, bad);
  EXPECT_CODE(st, Code::kInvalidArgument);
  EXPECT_NE(st.message().find("band 1 is out of range"), std::string::npos) << st.message();
  EXPECT_EQ(untouched.begins, 0);
  EXPECT_EQ(untouched.aborts, 0);
}

// ---------------------------------------------------------------------------------------------
// util/posix_file.h: the one errno mapping, and messages naming path, operation and reason

TEST(IoPosixFileTest, OneErrnoMapping) {
  EXPECT_EQ(detail::errno_code(ENOENT), Code::kNotFound);
  EXPECT_EQ(detail::errno_code(EEXIST), Code::kAlreadyExists);
  EXPECT_EQ(detail::errno_code(ENOSPC), Code::kNoSpace);
  EXPECT_EQ(detail::errno_code(EDQUOT), Code::kNoSpace);
  EXPECT_EQ(detail::errno_code(EFBIG), Code::kNoSpace);
  EXPECT_EQ(detail::errno_code(EACCES), Code::kIoError);
  EXPECT_EQ(detail::errno_code(EPERM), Code::kIoError);
  EXPECT_EQ(detail::errno_code(EIO), Code::kIoError);
  const Status st = detail::os_error("/x/y", "write at offset 5", ENOSPC);
  EXPECT_EQ(st.code(), Code::kNoSpace);
  EXPECT_EQ(st.message(), "/x/y: write at offset 5: " + std::string(std::strerror(ENOSPC)));
}

TEST_F(EnviIoTest, PosixFileReadsAndWritesWhole) {
  const std::string p = path("f.bin");
  {
    ASSERT_OK_AND_ASSIGN(detail::File file, detail::File::create_for_writing(p));
    ASSERT_OK(file.write_at("hello world", 11, 3));
    ASSERT_OK(file.sync(true, "sync"));
    ASSERT_OK(file.close());
  }
  ASSERT_OK_AND_ASSIGN(detail::File file, detail::File::open_for_reading(p));
  ASSERT_OK_AND_ASSIGN(struct stat st, file.stat());
  EXPECT_EQ(st.st_size, 14);
  char buf[5] = {};
  ASSERT_OK(file.read_at(buf, 5, 9));
  EXPECT_EQ(std::string(buf, 5), "world");
  const Status eof = file.read_at(buf, 5, 12);
  EXPECT_CODE(eof, Code::kIoError);
  EXPECT_EQ(eof.message(), p + ": unexpected end of file at offset 14");
  const auto missing = detail::File::open_for_reading(path("missing"));
  EXPECT_CODE(missing, Code::kNotFound);
  EXPECT_NE(missing.status().message().find("missing: cannot open: "), std::string::npos);
  EXPECT_TRUE(detail::file_exists(p));
  EXPECT_FALSE(detail::file_exists(path("missing")));
}

}  // namespace
}  // namespace tessera
