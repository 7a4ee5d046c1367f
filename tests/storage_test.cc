// storage_test.cc — what a container stores and how it behaves as a file: uniform and fill
// tiles, deduplicated and reference-counted chunks (checked in the raw LMDB file too), every
// codec and filter, damaged chunks and records, files that are not containers, reopening,
// read-only opening, map growth, aborted transactions and snapshot isolation.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "tessera/container.h"
#include "tessera/types.h"
#include "test_util.h"

namespace tessera::test {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunkHeaderBytes = 24;

std::string read_file_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file_bytes(const std::string& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The fields of the 24-byte chunk header (format/tessera.fbs, struct ChunkHeader).
struct ChunkHeaderFields {
  uint8_t version, codec, filter, sample_size;
  uint32_t raw_size, stored_size, blocks;  // blocks: 0 (reserved) in version 1
  uint64_t checksum;
};
ChunkHeaderFields parse_chunk_header(const std::string& value) {
  ChunkHeaderFields h{};
  const auto* p = reinterpret_cast<const uint8_t*>(value.data());
  h.version = p[0];
  h.codec = p[1];
  h.filter = p[2];
  h.sample_size = p[3];
  std::memcpy(&h.raw_size, p + 4, 4);
  std::memcpy(&h.stored_size, p + 8, 4);
  std::memcpy(&h.blocks, p + 12, 4);
  std::memcpy(&h.checksum, p + 16, 8);
  return h;
}

// A fixture holding one container at path("s.tsr") that tests close and reopen at will.
class StorageTest : public TempDirTest {
 protected:
  std::string file() const { return path("s.tsr"); }

  void create(const std::vector<std::pair<std::string, ImageSpec>>& images,
              const OpenOptions& options = {}) {
    ASSERT_OK_AND_ASSIGN(auto created, Container::create(file(), options));
    container_.emplace(std::move(created));
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    for (const auto& [name, spec] : images) ASSERT_OK(txn.create_image(name, spec));
    ASSERT_OK(txn.commit());
  }
  void close() { container_.reset(); }
  void reopen(const OpenOptions& options = {}) {
    container_.reset();
    ASSERT_OK_AND_ASSIGN(auto opened, Container::open(file(), options));
    container_.emplace(std::move(opened));
  }

  // Writes BIP samples of all bands in one committed transaction.
  Status write(const std::string& image, const Region& r, const std::vector<uint8_t>& bip) {
    return container_->write([&](WriteTxn& txn) {
      return txn.write(image, r, {}, bip.data(), bip.size());
    });
  }
  // Several writes in one transaction.
  Status write_all(const std::vector<std::tuple<std::string, Region, std::vector<uint8_t>>>& ws) {
    return container_->write([&](WriteTxn& txn) {
      for (const auto& [image, r, bip] : ws)
        TESSERA_RETURN_IF_ERROR(txn.write(image, r, {}, bip.data(), bip.size()));
      return Status::ok();
    });
  }
  Result<std::vector<uint8_t>> read(const std::string& image, const Region& r, size_t pixel_bytes) {
    std::vector<uint8_t> out(size_t(r.pixel_count()) * pixel_bytes, 0xA5);
    Result<Snapshot> snap = container_->snapshot();
    if (!snap.is_ok()) return snap.status();
    Status st = snap->read(image, r, {}, out.data(), out.size());
    if (!st.is_ok()) return st;
    return out;
  }
  Result<ImageStats> stats(const std::string& image) {
    Result<Snapshot> snap = container_->snapshot();
    if (!snap.is_ok()) return snap.status();
    return snap->stats(image);
  }
  // Entry counts of the raw LMDB databases; closes the container first.
  int64_t count(const char* db) {
    close();
    std::string error;
    int64_t n = lmdb_count(file(), db, &error);
    EXPECT_GE(n, 0) << error;
    return n;
  }

  std::optional<Container> container_;
};

ImageSpec spec_of(DataType type, uint32_t bands, uint32_t tile, CodecSpec codec = {},
                  std::vector<double> fill = {0.0}) {
  ImageSpec spec;
  spec.type = type;
  spec.bands = bands;
  spec.tile_size = tile;
  spec.codec = codec;
  spec.fill = std::move(fill);
  return spec;
}

// A buffer of `pixels` BIP pixels all equal to `pixel`.
std::vector<uint8_t> repeat_pixel(const std::vector<uint8_t>& pixel, size_t pixels) {
  std::vector<uint8_t> out;
  out.reserve(pixel.size() * pixels);
  for (size_t i = 0; i < pixels; ++i) out.insert(out.end(), pixel.begin(), pixel.end());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Uniform tiles, fill tiles

TEST_F(StorageTest, UniformTileIsInlineWithoutChunk) {
  const ImageSpec spec = spec_of(DataType::kU16, 3, 32);
  ASSERT_NO_FATAL_FAILURE(create({{"img", spec}}));
  std::vector<uint8_t> pixel = {5, 0, 6, 0, 7, 1};  // bands differ, each band constant
  const Region tile{32, -64, 32, 32};
  ASSERT_OK(write("img", tile, repeat_pixel(pixel, 32 * 32)));
  // A second tile made uniform by two half writes.
  const Region left{-32, 0, 16, 32}, right{-16, 0, 16, 32};
  ASSERT_OK(write("img", left, repeat_pixel(pixel, 16 * 32)));
  ASSERT_OK(write("img", right, repeat_pixel(pixel, 16 * 32)));

  ASSERT_OK_AND_ASSIGN(auto st, stats("img"));
  EXPECT_EQ(st.tiles_uniform, 2u);
  EXPECT_EQ(st.tiles_chunk, 0u);
  EXPECT_EQ(st.chunks_unique, 0u);
  EXPECT_EQ(st.bytes_raw, 2u * 32 * 32 * 6);
  EXPECT_EQ(st.bytes_chunk_refs, 0u);
  EXPECT_LT(st.bytes_stored, 1024u) << "uniform tiles cost a record, not a tile";

  ASSERT_OK_AND_ASSIGN(auto got, read("img", Region{-32, 0, 32, 32}, 6));
  EXPECT_EQ(got, repeat_pixel(pixel, 32 * 32));
  EXPECT_EQ(count("chunks"), 0);
  EXPECT_EQ(count("refs"), 0);
  EXPECT_EQ(count("tiles"), 2);
}

TEST_F(StorageTest, TileEqualToFillIsNotStored) {
  const ImageSpec spec = spec_of(DataType::kI32, 2, 16, {}, {-3.0, 70000.0});
  ASSERT_NO_FATAL_FAILURE(create({{"img", spec}}));
  std::vector<uint8_t> fill = sample_bytes_of(DataType::kI32, -3.0);
  std::vector<uint8_t> fill1 = sample_bytes_of(DataType::kI32, 70000.0);
  fill.insert(fill.end(), fill1.begin(), fill1.end());
  // Whole tiles of fill: nothing is stored.
  ASSERT_OK(write("img", Region{-16, -16, 32, 32}, repeat_pixel(fill, 32 * 32)));
  ASSERT_OK_AND_ASSIGN(auto st, stats("img"));
  EXPECT_EQ(st.tiles_uniform + st.tiles_chunk, 0u);
  EXPECT_EQ(st.bytes_stored, 0u);
  EXPECT_EQ(count("tiles"), 0);
  ASSERT_NO_FATAL_FAILURE(reopen());

  // Data in one tile, then overwritten with fill in a later transaction: the tile goes away.
  Rng rng(11);
  const Region part{3, 4, 5, 6};
  ASSERT_OK(write("img", part, rng.bytes(size_t(part.pixel_count()) * 8)));
  ASSERT_OK_AND_ASSIGN(auto st1, stats("img"));
  EXPECT_EQ(st1.tiles_chunk, 1u);
  EXPECT_EQ(st1.chunks_unique, 1u);
  ASSERT_OK(write("img", part, repeat_pixel(fill, size_t(part.pixel_count()))));
  ASSERT_OK_AND_ASSIGN(auto st2, stats("img"));
  EXPECT_EQ(st2.tiles_uniform + st2.tiles_chunk, 0u);
  EXPECT_EQ(st2.chunks_unique, 0u);
  ASSERT_OK_AND_ASSIGN(auto got, read("img", Region{-20, -20, 50, 50}, 8));
  EXPECT_EQ(got, repeat_pixel(fill, 50 * 50));
  EXPECT_EQ(count("tiles"), 0);
  EXPECT_EQ(count("chunks"), 0);
  EXPECT_EQ(count("refs"), 0);
}

// ---------------------------------------------------------------------------------------------
// Dedup and reference counts

TEST_F(StorageTest, IdenticalTilesShareOneChunk) {
  const ImageSpec spec = spec_of(DataType::kU16, 2, 32, {Codec::kNone, 0});
  ASSERT_NO_FATAL_FAILURE(create({{"a", spec}, {"b", spec}}));
  const size_t tile_bytes = 32 * 32 * 2 * 2;
  Rng rng(42);
  std::vector<uint8_t> tile = rng.bytes(tile_bytes);  // incompressible, not uniform
  const std::vector<std::pair<int64_t, int64_t>> in_a = {{0, 0}, {1, 0}, {-1, -1}, {5, -7},
                                                         {-100, 3}};
  const std::vector<std::pair<int64_t, int64_t>> in_b = {{0, 0}, {2, 2}, {-3, 9}};
  std::vector<std::tuple<std::string, Region, std::vector<uint8_t>>> writes;
  for (auto [tx, ty] : in_a) writes.emplace_back("a", Region{tx * 32, ty * 32, 32, 32}, tile);
  ASSERT_OK(write_all(writes));
  writes.clear();
  for (auto [tx, ty] : in_b) writes.emplace_back("b", Region{tx * 32, ty * 32, 32, 32}, tile);
  ASSERT_OK(write_all(writes));

  ASSERT_OK_AND_ASSIGN(auto sa, stats("a"));
  EXPECT_EQ(sa.tiles_chunk, 5u);
  EXPECT_EQ(sa.tiles_uniform, 0u);
  EXPECT_EQ(sa.chunks_unique, 1u);
  EXPECT_EQ(sa.bytes_raw, 5 * tile_bytes);
  // Codec none: the one chunk record is the header and the raw tile.
  const uint64_t chunk_bytes = kChunkHeaderBytes + tile_bytes;
  EXPECT_EQ(sa.bytes_chunk_refs, 5 * chunk_bytes) << "the chunk counted once per reference";
  EXPECT_GE(sa.bytes_stored, chunk_bytes);
  EXPECT_LE(sa.bytes_stored, chunk_bytes + 5 * 256) << "one chunk plus five small records";
  ASSERT_OK_AND_ASSIGN(auto sb, stats("b"));
  EXPECT_EQ(sb.tiles_chunk, 3u);
  EXPECT_EQ(sb.chunks_unique, 1u);
  EXPECT_EQ(sb.bytes_chunk_refs, 3 * chunk_bytes);
  EXPECT_LE(sb.bytes_stored, chunk_bytes + 3 * 256);
  for (auto [tx, ty] : in_b) {
    ASSERT_OK_AND_ASSIGN(auto got, read("b", Region{tx * 32, ty * 32, 32, 32}, 4));
    EXPECT_EQ(got, tile);
  }
  EXPECT_EQ(count("chunks"), 1);
  EXPECT_EQ(count("refs"), 1);
  ASSERT_NO_FATAL_FAILURE(reopen());

  // A tile that differs in one byte is never merged with it.
  std::vector<uint8_t> other = tile;
  other[tile_bytes / 2] ^= 1;
  ASSERT_OK(write("a", Region{64, 64, 32, 32}, other));
  ASSERT_OK_AND_ASSIGN(auto got_other, read("a", Region{64, 64, 32, 32}, 4));
  EXPECT_EQ(got_other, other);
  ASSERT_OK_AND_ASSIGN(auto got_tile, read("a", Region{0, 0, 32, 32}, 4));
  EXPECT_EQ(got_tile, tile);
  ASSERT_OK_AND_ASSIGN(auto sa2, stats("a"));
  EXPECT_EQ(sa2.chunks_unique, 2u);
  EXPECT_EQ(count("chunks"), 2);
}

TEST_F(StorageTest, ChunkDeletedWhenLastReferenceGoes) {
  const ImageSpec spec = spec_of(DataType::kU8, 3, 16, {Codec::kLz4, 0});
  ASSERT_NO_FATAL_FAILURE(create({{"a", spec}, {"b", spec}}));
  const size_t tile_bytes = 16 * 16 * 3;
  Rng rng(7);
  const std::vector<uint8_t> t1 = rng.bytes(tile_bytes), t2 = rng.bytes(tile_bytes);
  const Region r0{0, 0, 16, 16}, r1{-16, 16, 16, 16};
  ASSERT_OK(write_all({{"a", r0, t1}, {"a", r1, t1}, {"b", r0, t1}, {"b", r1, t1}}));
  EXPECT_EQ(count("chunks"), 1);
  ASSERT_NO_FATAL_FAILURE(reopen());

  // Three of four references replaced: the chunk stays.
  ASSERT_OK(write_all({{"a", r0, t2}, {"a", r1, t2}, {"b", r0, t2}}));
  EXPECT_EQ(count("chunks"), 2);
  EXPECT_EQ(count("refs"), 2);
  ASSERT_NO_FATAL_FAILURE(reopen());
  ASSERT_OK_AND_ASSIGN(auto got, read("b", r1, 3));
  EXPECT_EQ(got, t1);

  // The last one: t1's chunk is deleted in the same transaction.
  ASSERT_OK(write("b", r1, t2));
  EXPECT_EQ(count("chunks"), 1);
  EXPECT_EQ(count("refs"), 1);
  ASSERT_NO_FATAL_FAILURE(reopen());

  // Written and overwritten inside one transaction: only the survivor is stored.
  const std::vector<uint8_t> t3 = rng.bytes(tile_bytes), t4 = rng.bytes(tile_bytes);
  const Region r2{160, 160, 16, 16};
  ASSERT_OK(write_all({{"a", r2, t3}, {"a", r2, t4}}));
  EXPECT_EQ(count("chunks"), 2);
  ASSERT_NO_FATAL_FAILURE(reopen());

  // Everything overwritten with a uniform value: no chunk, no reference left.
  const std::vector<uint8_t> uniform = repeat_pixel({9, 8, 7}, 16 * 16);
  ASSERT_OK(write_all({{"a", r0, uniform}, {"a", r1, uniform}, {"b", r0, uniform},
                       {"b", r1, uniform}, {"a", r2, uniform}}));
  ASSERT_OK_AND_ASSIGN(auto sa, stats("a"));
  EXPECT_EQ(sa.tiles_uniform, 3u);
  EXPECT_EQ(sa.chunks_unique, 0u);
  EXPECT_EQ(count("chunks"), 0);
  EXPECT_EQ(count("refs"), 0);
}

// ---------------------------------------------------------------------------------------------
// Codecs and filters

struct CodecCase {
  DataType type;
  CodecSpec codec;
  Filter filter;
};

std::string codec_case_name(const ::testing::TestParamInfo<CodecCase>& info) {
  const CodecCase& c = info.param;
  std::string codec = c.codec.codec == Codec::kNone  ? "none"
                      : c.codec.codec == Codec::kLz4 ? "lz4"
                                                     : "zstd" + std::to_string(c.codec.level);
  return std::string(dtype_label(c.type)) + "_" + codec + "_" + std::string(filter_name(c.filter));
}

// gtest prints parameters with this (instead of a hex dump) in failure messages.
void PrintTo(const CodecCase& c, std::ostream* os) {
  *os << codec_case_name(::testing::TestParamInfo<CodecCase>(c, 0));
}

std::vector<CodecCase> all_codec_cases() {
  std::vector<CodecCase> out;
  for (DataType type : all_data_types())
    for (CodecSpec codec : {CodecSpec{Codec::kNone, 0}, CodecSpec{Codec::kLz4, 0},
                            CodecSpec{Codec::kZstd, 1}, CodecSpec{Codec::kZstd, 19}})
      for (Filter filter : {Filter::kNone, Filter::kShuffle, Filter::kDelta}) out.push_back({type, codec, filter});
  return out;
}

class CodecTest : public TempDirTestWithParam<CodecCase> {};

TEST_P(CodecTest, RoundTripsAndHeaderNamesCodec) {
  const CodecCase& c = GetParam();
  const std::string file = path("codec.tsr");
  const size_t s = dtype_bytes(c.type);
  const uint32_t bands = 3, tile = 32;
  ImageSpec spec = spec_of(c.type, bands, tile, c.codec, {1.0});
  spec.filter = c.filter;
  spec.storage = (int(c.type) % 2) ? StorageLayout::kPlanar : StorageLayout::kChunky;
  RefImage ref(spec);

  // Two compressible tiles (a slow ramp), one of random bits, one partial tile.
  const Region smooth{-32, 0, 64, 32}, noisy{32, 0, 32, 32}, partial{-30, 40, 20, 10};
  std::vector<uint8_t> smooth_src;
  for (int64_t y = 0; y < smooth.height; ++y)
    for (int64_t x = 0; x < smooth.width; ++x)
      for (uint32_t b = 0; b < bands; ++b) {
        std::vector<uint8_t> v = sample_bytes_of(c.type, double((x / 8 + y / 8 + b) % 7 + 1));
        smooth_src.insert(smooth_src.end(), v.begin(), v.end());
      }
  Rng rng(1234 + uint64_t(c.type));
  std::vector<uint8_t> noisy_src = rng.bytes(size_t(noisy.pixel_count()) * bands * s);
  std::vector<uint8_t> partial_src = rng.bytes(size_t(partial.pixel_count()) * bands * s);
  {
    ASSERT_OK_AND_ASSIGN(auto container, Container::create(file));
    ASSERT_OK(container.write([&](WriteTxn& txn) {
      TESSERA_RETURN_IF_ERROR(txn.create_image("img", spec));
      TESSERA_RETURN_IF_ERROR(txn.write("img", smooth, {}, smooth_src.data(), smooth_src.size()));
      TESSERA_RETURN_IF_ERROR(txn.write("img", noisy, {}, noisy_src.data(), noisy_src.size()));
      return txn.write("img", partial, {}, partial_src.data(), partial_src.size());
    }));
    ref.write(smooth, {}, smooth_src.data(), packed_strides(Interleave::kBIP, 64, 32, bands, s));
    ref.write(noisy, {}, noisy_src.data(), packed_strides(Interleave::kBIP, 32, 32, bands, s));
    ref.write(partial, {}, partial_src.data(), packed_strides(Interleave::kBIP, 20, 10, bands, s));
    ASSERT_OK_AND_ASSIGN(auto snap, container.snapshot());
    const Region all{-64, -8, 160, 64};
    for (Interleave il : {Interleave::kBIP, Interleave::kBSQ}) {
      const Strides st = packed_strides(il, all.width, all.height, bands, s);
      const size_t size = size_t(all.pixel_count()) * bands * s;
      std::vector<uint8_t> got(size, 0xA5);
      ASSERT_OK(snap.read("img", all, {}, got.data(), got.size(), il));
      EXPECT_EQ(describe_mismatch(ref.expected(all, {}, st, size), got.data(), size, all, {},
                                  bands, st, s),
                "");
    }
    ASSERT_OK_AND_ASSIGN(auto stats, snap.stats("img"));
    EXPECT_EQ(stats.tiles_chunk, 4u);  // two smooth, one noisy, one partial (rest is fill)
    if (c.codec.codec != Codec::kNone) {
      EXPECT_LT(stats.bytes_stored, stats.bytes_raw) << "compressible tiles did not shrink";
    }
  }
  // Reopened: the same pixels.
  {
    ASSERT_OK_AND_ASSIGN(auto container, Container::open(file));
    ASSERT_OK_AND_ASSIGN(auto snap, container.snapshot());
    const Region all{-64, -8, 160, 64};
    const Strides st = packed_strides(Interleave::kBIL, all.width, all.height, bands, s);
    const size_t size = size_t(all.pixel_count()) * bands * s;
    std::vector<uint8_t> got(size, 0xA5);
    ASSERT_OK(snap.read("img", all, {}, got.data(), got.size(), Interleave::kBIL));
    EXPECT_EQ(describe_mismatch(ref.expected(all, {}, st, size), got.data(), size, all, {}, bands,
                                st, s),
              "");
    ASSERT_OK_AND_ASSIGN(auto info, snap.image("img"));
    EXPECT_EQ(info.spec.codec, c.codec);
    EXPECT_EQ(info.spec.filter, c.filter);
  }
  // The chunk headers: version 1, or 2 with a block per band plane for planar tiles of
  // several bands; the codec asked for (on the compressible tiles at least), the filter where
  // asked for (shuffle for 16/32/64-bit samples; delta, whose version 1 chunks record the
  // distance: the bands), sizes, and the checksums (spec/FORMAT.md section 4.4.2).
  std::vector<std::pair<std::string, std::string>> chunks;
  std::string error;
  ASSERT_TRUE(lmdb_entries(file, "chunks", &chunks, &error)) << error;
  ASSERT_EQ(chunks.size(), 4u);
  const uint32_t tile_bytes = tile * tile * bands * uint32_t(s);
  const bool blocked = spec.storage == StorageLayout::kPlanar && bands > 1;
  int with_codec = 0;
  for (const auto& [key, value] : chunks) {
    ASSERT_GE(value.size(), kChunkHeaderBytes);
    ChunkHeaderFields h = parse_chunk_header(value);
    EXPECT_EQ(h.raw_size, tile_bytes);
    EXPECT_EQ(h.stored_size, value.size() - kChunkHeaderBytes);
    const auto* bytes = reinterpret_cast<const uint8_t*>(value.data());
    const uint64_t seed = XXH3_64bits(bytes, 16);
    const uint8_t* payload = bytes + kChunkHeaderBytes;
    if (!blocked) {
      EXPECT_EQ(h.version, 1);
      EXPECT_EQ(h.blocks, h.filter == 2 ? bands : 0u);
      // XXH3-64 of the payload, seeded with XXH3-64 of header bytes 0..15.
      EXPECT_EQ(h.checksum, XXH3_64bits_withSeed(payload, h.stored_size, seed));
    } else {
      // A table of (u32 stored size, u64 checksum) per block, then the blocks; the header's
      // checksum covers the table, each block's is seeded with seed + its index.
      EXPECT_EQ(h.version, 2);
      ASSERT_EQ(h.blocks, bands);
      EXPECT_EQ(h.checksum, XXH3_64bits_withSeed(payload, 12 * bands, seed));
      size_t offset = 12 * bands;
      for (uint32_t b = 0; b < bands; ++b) {
        uint32_t stored;
        uint64_t sum;
        std::memcpy(&stored, payload + 12 * b, 4);
        std::memcpy(&sum, payload + 12 * b + 4, 8);
        EXPECT_LE(stored, tile_bytes / bands);
        ASSERT_LE(offset + stored, h.stored_size);
        EXPECT_EQ(sum, XXH3_64bits_withSeed(payload + offset, stored, seed + b)) << "block " << b;
        offset += stored;
      }
      EXPECT_EQ(offset, h.stored_size);
    }
    if (h.codec == uint8_t(c.codec.codec)) ++with_codec;
    if (h.codec != 0) {
      const bool applies = c.filter == Filter::kDelta || (c.filter == Filter::kShuffle && s > 1);
      EXPECT_EQ(h.filter, applies ? uint8_t(c.filter) : 0) << "filter byte";
    }
  }
  EXPECT_GE(with_codec, 2) << "the compressible chunks must use the image's codec";
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest, ::testing::ValuesIn(all_codec_cases()),
                         codec_case_name);

// ---------------------------------------------------------------------------------------------
// Damage: checksums and checks, never wrong pixels

class DamageTest : public StorageTest {
 protected:
  void SetUp() override {
    const ImageSpec spec = spec_of(DataType::kU16, 3, 32, {Codec::kLz4, 0});
    ASSERT_NO_FATAL_FAILURE(create({{"slide", spec}}));
    Rng rng(99);
    for (size_t i = 0; i < chunk_src_.size(); ++i) {
      // Compressible but not uniform, so the payload is a real LZ4 stream.
      chunk_src_[i] = (i / 6) % 5 == 0 ? uint8_t(rng.bits()) : uint8_t(i / 6 % 13);
    }
    ASSERT_OK(write("slide", chunk_tile_, chunk_src_));
    ASSERT_OK(write("slide", uniform_tile_, repeat_pixel({1, 2, 3, 4, 5, 6}, 32 * 32)));
    close();
  }
  // Reading the chunk tile must fail with kCorrupt naming the image; the uniform tile still reads.
  void expect_corrupt_chunk_read(const std::string& what) {
    SCOPED_TRACE(what);
    ASSERT_NO_FATAL_FAILURE(reopen());
    auto got = read("slide", chunk_tile_, 6);
    ASSERT_FALSE(got.is_ok()) << "damaged chunk read without error";
    EXPECT_EQ(got.status().code(), Code::kCorrupt) << got.status().to_string();
    const std::string& msg = got.status().message();
    EXPECT_TRUE(contains(msg, "slide")) << "message must name the image: " << msg;
    EXPECT_TRUE(contains(msg, "checksum") || contains(msg, "chunk")) << msg;
    // A region that overlaps the damaged tile fails too; one that does not still reads.
    EXPECT_CODE(read("slide", Region{10, 10, 40, 4}, 6), Code::kCorrupt);
    ASSERT_OK_AND_ASSIGN(auto fine, read("slide", uniform_tile_, 6));
    EXPECT_EQ(fine, repeat_pixel({1, 2, 3, 4, 5, 6}, 32 * 32));
    close();
  }
  // Edits the one value of `db`, runs the check, and puts the original back.
  void with_damaged_value(const char* db, const std::function<void(std::string&)>& damage,
                          const std::function<void()>& check) {
    std::string original;
    std::string error;
    ASSERT_TRUE(lmdb_edit_value(
        file(), db,
        [&](const std::string&, std::string& value) {
          original = value;
          damage(value);
          return true;
        },
        &error))
        << error;
    check();
    ASSERT_TRUE(lmdb_edit_value(
        file(), db,
        [&](const std::string&, std::string& value) {
          value = original;
          return true;
        },
        &error))
        << error;
    // Restored: the pixels are back.
    ASSERT_NO_FATAL_FAILURE(reopen());
    ASSERT_OK_AND_ASSIGN(auto got, read("slide", chunk_tile_, 6));
    EXPECT_EQ(got, chunk_src_);
    close();
  }

  const Region chunk_tile_{0, 0, 32, 32};
  const Region uniform_tile_{-64, 0, 32, 32};
  std::vector<uint8_t> chunk_src_ = std::vector<uint8_t>(32 * 32 * 6);
};

TEST_F(DamageTest, FlippedPayloadByteIsCorrupt) {
  ASSERT_EQ(lmdb_count(file(), "chunks"), 1);
  for (size_t which : {0, 1, 2}) {
    with_damaged_value(
        "chunks",
        [&](std::string& v) {
          ASSERT_GT(v.size(), kChunkHeaderBytes + 2);
          const size_t payload = v.size() - kChunkHeaderBytes;
          const size_t at = kChunkHeaderBytes + (which == 0 ? 0 : which == 1 ? payload / 2
                                                                             : payload - 1);
          v[at] = char(v[at] ^ 0x10);
        },
        [&] { expect_corrupt_chunk_read("payload byte " + std::to_string(which)); });
  }
}

TEST_F(DamageTest, DamagedChunkHeaderIsCorrupt) {
  // raw_size, stored_size and the checksum field each changed.
  for (size_t at : {4, 8, 16}) {
    with_damaged_value(
        "chunks", [&](std::string& v) { v[at] = char(v[at] ^ 0x01); },
        [&] { expect_corrupt_chunk_read("header byte " + std::to_string(at)); });
  }
}

TEST_F(DamageTest, UnknownCodecInHeaderIsRefused) {
  with_damaged_value(
      "chunks", [](std::string& v) { v[1] = char(0x7F); },
      [&] {
        ASSERT_NO_FATAL_FAILURE(reopen());
        auto got = read("slide", chunk_tile_, 6);
        ASSERT_FALSE(got.is_ok());
        EXPECT_TRUE(got.status().code() == Code::kCorrupt ||
                    got.status().code() == Code::kUnsupported)
            << got.status().to_string();
        close();
      });
}

// Uncompressed tiles are stored in blocks of 32 lines (spec/FORMAT.md 4.4.2): a read checks
// only the blocks of the lines it reads, so a damaged block fails the reads of its lines, never
// gives a wrong pixel, and leaves the other lines readable; verify finds it whatever is read.
TEST_F(StorageTest, UncompressedTilesAreCheckedBlockOfLinesByBlock) {
  ASSERT_NO_FATAL_FAILURE(create({{"plain", spec_of(DataType::kU8, 3, 128, {Codec::kNone, 0})}}));
  const Region tile{0, 0, 128, 128};
  std::vector<uint8_t> pixels(128 * 128 * 3);
  Rng rng(7);
  for (uint8_t& v : pixels) v = uint8_t(rng.bits());
  ASSERT_OK(write("plain", tile, pixels));
  close();
  constexpr size_t kBlocks = 4, kBlockBytes = 32 * 128 * 3;
  std::string error;
  ASSERT_TRUE(lmdb_edit_value(
      file(), "chunks",
      [&](const std::string&, std::string& value) {
        const ChunkHeaderFields h = parse_chunk_header(value);
        EXPECT_EQ(h.version, 2);
        EXPECT_EQ(h.codec, 0);
        EXPECT_EQ(h.blocks, kBlocks);
        EXPECT_EQ(h.stored_size, kBlocks * 12 + kBlocks * kBlockBytes);
        // One byte of line 100 (block 3), past the header and the block table.
        const size_t at = kChunkHeaderBytes + kBlocks * 12 + 100 * 128 * 3 + 7;
        EXPECT_LT(at, value.size());
        value[at] = char(value[at] ^ 0x01);
        return true;
      },
      &error))
      << error;
  ASSERT_NO_FATAL_FAILURE(reopen());
  auto lines_of = [&](int64_t y0, int64_t y1) {
    return std::vector<uint8_t>(pixels.begin() + y0 * 128 * 3, pixels.begin() + y1 * 128 * 3);
  };
  // Lines 0..95 (blocks 0..2) read exactly, together and apart, at any column.
  ASSERT_OK_AND_ASSIGN(auto top, read("plain", Region{0, 0, 128, 96}, 3));
  EXPECT_TRUE(top == lines_of(0, 96));
  ASSERT_OK_AND_ASSIGN(auto middle, read("plain", Region{0, 40, 128, 20}, 3));
  EXPECT_TRUE(middle == lines_of(40, 60));
  // Any read of line 96 or below names the block.
  for (const Region& r : {Region{0, 96, 128, 1}, Region{5, 90, 10, 20}, tile}) {
    auto got = read("plain", r, 3);
    ASSERT_FALSE(got.is_ok()) << to_string(r);
    EXPECT_EQ(got.status().code(), Code::kCorrupt);
    EXPECT_TRUE(contains(got.status().message(), "block 3 checksum mismatch")) << got.status().to_string();
  }
  close();
  EXPECT_NE(check_file_sound(file(), /*deep=*/true), "");
  // A process cache keeps whole tiles: a read through it checks every block.
  OpenOptions cached;
  cached.tile_cache_bytes = 1 << 20;
  ASSERT_NO_FATAL_FAILURE(reopen(cached));
  EXPECT_CODE(read("plain", Region{0, 0, 128, 8}, 3), Code::kCorrupt);
}

TEST_F(DamageTest, TruncatedChunkIsCorrupt) {
  for (size_t keep : {size_t(0), size_t(10), kChunkHeaderBytes, kChunkHeaderBytes + 7}) {
    with_damaged_value(
        "chunks", [&](std::string& v) { v.resize(std::min(keep, v.size() - 1)); },
        [&] { expect_corrupt_chunk_read("truncated to " + std::to_string(keep)); });
  }
  // One byte too many is no better.
  with_damaged_value(
      "chunks", [](std::string& v) { v.push_back('x'); },
      [&] { expect_corrupt_chunk_read("one byte appended"); });
}

TEST_F(DamageTest, MissingChunkIsCorrupt) {
  std::string error;
  ASSERT_TRUE(lmdb_delete(file(), "chunks", [](const std::string&) { return true; }, &error))
      << error;
  expect_corrupt_chunk_read("chunk deleted");
}

// A write that has to read the damaged tile (a partial overwrite) fails with kCorrupt and
// changes nothing, not even the tiles it covered before reaching the damaged one; the
// transaction goes on and commits what it did before.
TEST_F(DamageTest, FailedWriteChangesNothing) {
  std::string error;
  ASSERT_TRUE(lmdb_edit_value(
      file(), "chunks",
      [](const std::string&, std::string& v) {
        v[v.size() - 1] = char(v[v.size() - 1] ^ 0x01);
        return true;
      },
      &error))
      << error;
  ASSERT_NO_FATAL_FAILURE(reopen());
  const Region elsewhere{320, 320, 16, 16};
  const std::vector<uint8_t> elsewhere_src = repeat_pixel({9, 0, 9, 0, 9, 0}, 16 * 16);
  // Covers the uniform tile, the absent tile between, and half of the damaged tile.
  const Region across{-64, 0, 80, 32};
  const std::vector<uint8_t> across_src = repeat_pixel({7, 7, 7, 7, 7, 7}, 80 * 32);
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.write("slide", elsewhere, {}, elsewhere_src.data(), elsewhere_src.size()));
    Status st = txn.write("slide", across, {}, across_src.data(), across_src.size());
    EXPECT_EQ(st.code(), Code::kCorrupt) << st.to_string();
    std::vector<uint8_t> got(32 * 32 * 6, 0xA5);
    ASSERT_OK(txn.read("slide", uniform_tile_, {}, got.data(), got.size()));
    EXPECT_EQ(got, repeat_pixel({1, 2, 3, 4, 5, 6}, 32 * 32)) << "the failed write left changes";
    ASSERT_OK(txn.read("slide", Region{-32, 0, 32, 32}, {}, got.data(), got.size()));
    EXPECT_EQ(got, std::vector<uint8_t>(got.size(), 0)) << "the failed write left changes";
    ASSERT_OK(txn.commit());
  }
  ASSERT_OK_AND_ASSIGN(auto kept, read("slide", elsewhere, 6));
  EXPECT_EQ(kept, elsewhere_src);
  ASSERT_OK_AND_ASSIGN(auto uniform, read("slide", uniform_tile_, 6));
  EXPECT_EQ(uniform, repeat_pixel({1, 2, 3, 4, 5, 6}, 32 * 32));
  EXPECT_CODE(read("slide", chunk_tile_, 6), Code::kCorrupt);
}

TEST_F(DamageTest, GarbageTileRecordIsCorrupt) {
  // Find the tiles entry of the chunk tile: the one whose value differs when the uniform tile
  // is rewritten is not it, so damage each entry in turn and look at which read fails.
  std::vector<std::pair<std::string, std::string>> tiles;
  std::string error;
  ASSERT_TRUE(lmdb_entries(file(), "tiles", &tiles, &error)) << error;
  ASSERT_EQ(tiles.size(), 2u);
  Rng rng(5);
  const std::vector<std::function<void(std::string&)>> damages = {
      [&](std::string& v) { rng.fill(reinterpret_cast<uint8_t*>(v.data()), v.size()); },
      [](std::string& v) { v.resize(3); },
      [](std::string& v) { v.clear(); },
      [](std::string& v) { v.assign(4096, '\xff'); },
      [](std::string& v) { v[0] = char(v[0] ^ 0x40); },  // the root offset
  };
  for (size_t d = 0; d < damages.size(); ++d) {
    for (size_t entry = 0; entry < tiles.size(); ++entry) {
      SCOPED_TRACE("damage " + std::to_string(d) + " of tiles entry " + std::to_string(entry));
      const std::string key = tiles[entry].first;
      ASSERT_TRUE(lmdb_edit_value(
          file(), "tiles",
          [&](const std::string& k, std::string& v) {
            if (k != key) return false;
            damages[d](v);
            return true;
          },
          &error))
          << error;
      // Open's structure check refuses the file; without it, every read checks the record.
      EXPECT_CODE(Container::open(file()), Code::kCorrupt);
      OpenOptions trusting;
      trusting.check_structure = false;
      ASSERT_NO_FATAL_FAILURE(reopen(trusting));
      // Both tiles together: the damaged record is either refused or (if the damage left a
      // valid record by chance) the read is exact; it must never give other pixels.
      const Region both{-64, 0, 96, 32};
      auto got = read("slide", both, 6);
      if (got.is_ok()) {
        ADD_FAILURE() << "read through a damaged tile record succeeded";
      } else {
        EXPECT_EQ(got.status().code(), Code::kCorrupt) << got.status().to_string();
        EXPECT_TRUE(contains(got.status().message(), "slide")) << got.status().message();
      }
      auto st = stats("slide");
      EXPECT_TRUE(!st.is_ok() && st.status().code() == Code::kCorrupt)
          << "stats over a damaged tile record: "
          << (st.is_ok() ? std::string("ok") : st.status().to_string());
      close();
      ASSERT_TRUE(lmdb_edit_value(
          file(), "tiles",
          [&](const std::string& k, std::string& v) {
            if (k != key) return false;
            v = tiles[entry].second;
            return true;
          },
          &error))
          << error;
    }
  }
  ASSERT_NO_FATAL_FAILURE(reopen());
  ASSERT_OK_AND_ASSIGN(auto got, read("slide", chunk_tile_, 6));
  EXPECT_EQ(got, chunk_src_);
}

// ---------------------------------------------------------------------------------------------
// Files and opening

TEST_F(StorageTest, FilesThatAreNotContainers) {
  Rng rng(17);
  std::vector<uint8_t> random = rng.bytes(64 * 1024);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"random.tsr", std::string(random.begin(), random.end())},
      {"empty.tsr", ""},
      {"text.tsr", "this is not a container\n"},
      {"short.tsr", "tessera"},
  };
  for (const auto& [name, bytes] : files) {
    for (bool read_only : {false, true}) {
      SCOPED_TRACE(name + (read_only ? " read-only" : ""));
      const std::string f = path(name);
      write_file_bytes(f, bytes);
      OpenOptions options;
      options.read_only = read_only;
      auto opened = Container::open(f, options);
      ASSERT_FALSE(opened.is_ok()) << "opened a file that is not a container";
      EXPECT_TRUE(opened.status().code() == Code::kCorrupt ||
                  opened.status().code() == Code::kNotFound)
          << opened.status().to_string();
      EXPECT_FALSE(fs::exists(f + "-lock")) << "a lock file was created beside it";
      EXPECT_EQ(read_file_bytes(f), bytes) << "the file was changed";
    }
  }
  // A missing file: kNotFound, and nothing is created.
  auto missing = Container::open(path("missing.tsr"));
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().to_string();
  EXPECT_FALSE(fs::exists(path("missing.tsr")));
  EXPECT_FALSE(fs::exists(path("missing.tsr-lock")));
  // A directory is not a container either.
  fs::create_directory(path("dir.tsr"));
  auto dir = Container::open(path("dir.tsr"));
  EXPECT_FALSE(dir.is_ok());
}

TEST_F(StorageTest, LmdbFileWithoutTesseraMetaIsCorrupt) {
  const std::string f = path("plain.mdb");
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 16), 0);
    ASSERT_EQ(mdb_env_open(env, f.c_str(), MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi), 0);
    std::string k = "format", v = "something else entirely";
    MDB_val key{k.size(), k.data()}, val{v.size(), v.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &key, &val, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto opened = Container::open(f);
  ASSERT_FALSE(opened.is_ok());
  EXPECT_EQ(opened.status().code(), Code::kCorrupt) << opened.status().to_string();
}

TEST_F(StorageTest, CreateOnExistingPathFails) {
  ASSERT_NO_FATAL_FAILURE(create({{"img", spec_of(DataType::kU8, 1, 16)}}));
  ASSERT_OK(write("img", Region{0, 0, 2, 1}, {7, 8}));
  close();
  EXPECT_CODE(Container::create(file()), Code::kAlreadyExists);
  ASSERT_NO_FATAL_FAILURE(reopen());
  ASSERT_OK_AND_ASSIGN(auto got, read("img", Region{0, 0, 2, 1}, 1));
  EXPECT_EQ(got, (std::vector<uint8_t>{7, 8}));
  close();
  write_file_bytes(path("other.txt"), "keep me\n");
  EXPECT_CODE(Container::create(path("other.txt")), Code::kAlreadyExists);
  EXPECT_EQ(read_file_bytes(path("other.txt")), "keep me\n");
  write_file_bytes(path("empty"), "");
  EXPECT_CODE(Container::create(path("empty")), Code::kAlreadyExists);
}

TEST_F(StorageTest, ReopenGivesSamePixelsAndSpecs) {
  ImageSpec spec = spec_of(DataType::kF64, 3, 64, {Codec::kZstd, 7}, {0.5, -1.0, 1e300});
  spec.storage = StorageLayout::kPlanar;
  spec.macro_tiles = 8;
  spec.filter = Filter::kNone;
  ASSERT_NO_FATAL_FAILURE(create({{"first", spec}, {"second", spec_of(DataType::kI8, 1, 16)}}));
  RefImage ref(spec);
  Rng rng(3);
  const Region r{-70, 1000, 150, 40};
  std::vector<uint8_t> src = rng.bytes(size_t(r.pixel_count()) * 24);
  ASSERT_OK(write("first", r, src));
  ref.write(r, {}, src.data(), packed_strides(Interleave::kBIP, r.width, r.height, 3, 8));
  const Region around{-100, 990, 200, 60};
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_NO_FATAL_FAILURE(round == 0 ? reopen() : reopen(OpenOptions{.read_only = true}));
    ASSERT_OK_AND_ASSIGN(auto got, read("first", around, 24));
    const Strides st = packed_strides(Interleave::kBIP, around.width, around.height, 3, 8);
    EXPECT_EQ(describe_mismatch(ref.expected(around, {}, st, got.size()), got.data(), got.size(),
                                around, {}, 3, st, 8),
              "");
    ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
    std::vector<ImageInfo> images = snap.images();
    ASSERT_EQ(images.size(), 2u);
    ASSERT_OK_AND_ASSIGN(auto info, snap.image("first"));
    EXPECT_EQ(info.name, "first");
    EXPECT_EQ(info.frames, 1u);
    EXPECT_EQ(info.spec.type, spec.type);
    EXPECT_EQ(info.spec.bands, spec.bands);
    EXPECT_EQ(info.spec.tile_size, spec.tile_size);
    EXPECT_EQ(info.spec.macro_tiles, spec.macro_tiles);
    EXPECT_EQ(info.spec.storage, spec.storage);
    EXPECT_EQ(info.spec.codec, spec.codec);
    EXPECT_EQ(info.spec.filter, spec.filter);
    ASSERT_EQ(info.spec.fill.size(), 3u);
    EXPECT_EQ(info.spec.fill[0], 0.5);
    EXPECT_EQ(info.spec.fill[1], -1.0);
    EXPECT_EQ(info.spec.fill[2], 1e300);
    ASSERT_OK_AND_ASSIGN(auto second, snap.image("second"));
    EXPECT_EQ(second.spec.type, DataType::kI8);
    EXPECT_EQ(second.frames, 1u);  // a new image has one empty frame
    std::vector<uint8_t> fill_pixel;
    for (uint32_t b = 0; b < 3; ++b)
      fill_pixel.insert(fill_pixel.end(), ref.fill_bytes(b).begin(), ref.fill_bytes(b).end());
    EXPECT_EQ(info.fill_pixel, fill_pixel);
    EXPECT_NE(info.id, second.id);
  }
}

TEST_F(StorageTest, ReadOnlyRefusesWrites) {
  ASSERT_NO_FATAL_FAILURE(create({{"img", spec_of(DataType::kU8, 1, 16)}}));
  ASSERT_OK(write("img", Region{0, 0, 2, 1}, {7, 8}));
  ASSERT_NO_FATAL_FAILURE(reopen(OpenOptions{.read_only = true}));
  EXPECT_CODE(container_->begin_write(), Code::kReadOnly);
  EXPECT_CODE(container_->write([](WriteTxn&) { return Status::ok(); }), Code::kReadOnly);
  ASSERT_OK_AND_ASSIGN(auto got, read("img", Region{0, 0, 2, 1}, 1));
  EXPECT_EQ(got, (std::vector<uint8_t>{7, 8}));
  close();

  // no_lock: reads a file without its lock file and creates none; it requires read_only.
  fs::remove(file() + "-lock");
  ASSERT_NO_FATAL_FAILURE(reopen(OpenOptions{.read_only = true, .no_lock = true}));
  ASSERT_OK_AND_ASSIGN(auto again, read("img", Region{0, 0, 2, 1}, 1));
  EXPECT_EQ(again, (std::vector<uint8_t>{7, 8}));
  EXPECT_CODE(container_->begin_write(), Code::kReadOnly);
  close();
  EXPECT_FALSE(fs::exists(file() + "-lock"));
  EXPECT_CODE(Container::open(file(), OpenOptions{.read_only = false, .no_lock = true}),
              Code::kInvalidArgument);
}

// The map starts at 1 MiB and must grow by itself under 50 MB of incompressible tiles.
TEST_F(StorageTest, TinyMapGrowsByItself) {
  OpenOptions options;
  options.map_size = 1 << 20;
  options.sync = false;
  ASSERT_NO_FATAL_FAILURE(create({{"img", spec_of(DataType::kU8, 1, 256)}}, options));
  const Region batch{-1024, -3072, 4096, 2560};  // 10 MiB of u8, 16 x 10 whole tiles
  const int kBatches = 5;
  auto batch_data = [&](int i) {
    Rng rng(1000 + uint64_t(i));
    return rng.bytes(size_t(batch.pixel_count()));
  };
  int attempts = 0;
  for (int i = 0; i < kBatches; ++i) {
    const std::vector<uint8_t> data = batch_data(i);
    const Region r{batch.x, batch.y + i * batch.height, batch.width, batch.height};
    ASSERT_OK(container_->write([&](WriteTxn& txn) {
      ++attempts;
      return txn.write("img", r, {}, data.data(), data.size());
    }));
  }
  RecordProperty("write_attempts", attempts);
  ASSERT_OK_AND_ASSIGN(auto st, stats("img"));
  EXPECT_EQ(st.tiles_chunk, uint64_t(kBatches) * 16 * 10);
  EXPECT_GE(st.bytes_stored, uint64_t(kBatches) * batch.pixel_count());
  ASSERT_NO_FATAL_FAILURE(reopen(OpenOptions{.read_only = true}));
  for (int i = 0; i < kBatches; ++i) {
    SCOPED_TRACE("batch " + std::to_string(i));
    const Region r{batch.x, batch.y + i * batch.height, batch.width, batch.height};
    ASSERT_OK_AND_ASSIGN(auto got, read("img", r, 1));
    EXPECT_TRUE(got == batch_data(i));
  }
  close();
  EXPECT_GE(fs::file_size(file()), uint64_t(kBatches) * batch.pixel_count());
}

// ---------------------------------------------------------------------------------------------
// Transactions

TEST_F(StorageTest, DroppedWriteTxnLeavesNothing) {
  ASSERT_NO_FATAL_FAILURE(create({{"kept", spec_of(DataType::kU8, 1, 16)}}));
  ASSERT_OK(write("kept", Region{0, 0, 16, 16}, std::vector<uint8_t>(256, 7)));  // uniform
  Rng rng(8);
  std::vector<uint8_t> data = rng.bytes(64 * 64);
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.create_image("dropped", spec_of(DataType::kU8, 1, 16)));
    ASSERT_OK(txn.write("dropped", Region{0, 0, 64, 64}, {}, data.data(), data.size()));
    ASSERT_OK(txn.write("kept", Region{-10, -10, 64, 64}, {}, data.data(), data.size()));
    // The transaction sees its own writes.
    ASSERT_OK_AND_ASSIGN(auto info, txn.image("dropped"));
    EXPECT_EQ(info.frames, 1u);
  }  // destroyed without commit
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());  // the lock was released
    ASSERT_OK(txn.create_image("aborted", spec_of(DataType::kU8, 1, 16)));
    ASSERT_OK(txn.write("kept", Region{-10, -10, 64, 64}, {}, data.data(), data.size()));
    txn.abort();
    txn.abort();  // idempotent
  }
  {
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  ASSERT_EQ(snap.images().size(), 1u);
  EXPECT_CODE(snap.image("dropped"), Code::kNotFound);
  EXPECT_CODE(snap.image("aborted"), Code::kNotFound);
  std::vector<uint8_t> got(80 * 80, 0xA5);
  ASSERT_OK(snap.read("kept", Region{-20, -20, 80, 80}, {}, got.data(), got.size()));
  std::vector<uint8_t> want(80 * 80, 0);
  for (int y = 20; y < 36; ++y)
    for (int x = 20; x < 36; ++x) want[size_t(y * 80 + x)] = 7;
  EXPECT_EQ(got, want);
  {
    Snapshot moved = std::move(snap);  // a moved snapshot keeps working
    EXPECT_EQ(moved.images().size(), 1u);
    snap = std::move(moved);
  }
  EXPECT_EQ(snap.images().size(), 1u);
  }  // every snapshot gone before the raw file is opened
  EXPECT_EQ(count("chunks"), 0);
  EXPECT_EQ(count("refs"), 0);
  EXPECT_EQ(count("tiles"), 1);
}

TEST_F(StorageTest, SnapshotKeepsSeeingOldPixels) {
  ASSERT_NO_FATAL_FAILURE(create({{"img", spec_of(DataType::kU32, 2, 16)}}));
  Rng rng(21);
  const Region r{-8, -8, 40, 24};
  const size_t size = size_t(r.pixel_count()) * 8;
  const std::vector<uint8_t> v1 = rng.bytes(size), v2 = rng.bytes(size);
  ASSERT_OK(write("img", r, v1));
  auto read_view = [&](const View& view) {
    std::vector<uint8_t> out(size, 0xA5);
    EXPECT_OK(view.read("img", r, {}, out.data(), out.size()));
    return out;
  };
  ASSERT_OK_AND_ASSIGN(auto old_snap, container_->snapshot());
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.write("img", r, {}, v2.data(), v2.size()));
    ASSERT_OK(txn.create_image("later", spec_of(DataType::kU8, 1, 16)));
    EXPECT_EQ(read_view(txn), v2);
    // A snapshot taken while the writer is open sees the last commit.
    ASSERT_OK_AND_ASSIGN(auto during, container_->snapshot());
    EXPECT_EQ(read_view(during), v1);
    EXPECT_EQ(during.images().size(), 1u);
    ASSERT_OK(txn.commit());
    EXPECT_EQ(read_view(during), v1);
  }
  EXPECT_EQ(read_view(old_snap), v1);
  EXPECT_EQ(old_snap.images().size(), 1u);
  EXPECT_CODE(old_snap.image("later"), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto new_snap, container_->snapshot());
  EXPECT_EQ(read_view(new_snap), v2);
  EXPECT_EQ(new_snap.images().size(), 2u);

  // One snapshot read from several threads while another commit lands.
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        std::vector<uint8_t> out(size, 0xA5);
        Status st = old_snap.read("img", r, {}, out.data(), out.size());
        if (!st.is_ok() || out != v1) ++bad;
      }
    });
  const std::vector<uint8_t> v3 = rng.bytes(size);
  EXPECT_OK(write("img", r, v3));
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0) << "concurrent reads of one snapshot gave errors or other pixels";
  EXPECT_EQ(read_view(old_snap), v1);
  EXPECT_EQ(read_view(new_snap), v2);
  ASSERT_OK_AND_ASSIGN(auto newest, container_->snapshot());
  EXPECT_EQ(read_view(newest), v3);
}

// ---------------------------------------------------------------------------------------------
// Bounds

TEST_F(StorageTest, BoundsFollowTheData) {
  ASSERT_NO_FATAL_FAILURE(create({{"img", spec_of(DataType::kU8, 2, 16, {}, {4.0})}}));
  const Region a{-37, 5, 10, 3}, b{100, -200, 1, 1};
  ASSERT_OK(write("img", a, std::vector<uint8_t>(size_t(a.pixel_count()) * 2, 9)));
  {
    std::vector<uint8_t> px = {4, 5};  // band 0 is fill, band 1 is not: the pixel counts
    ASSERT_OK(write("img", b, px));
  }
  ASSERT_OK_AND_ASSIGN(auto snap, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto exact, snap.bounds("img", 0, Precision::kExact));
  ASSERT_TRUE(exact.has_value());
  EXPECT_EQ(*exact, (Region{-37, -200, 138, 208}));
  ASSERT_OK_AND_ASSIGN(auto leaf, snap.bounds("img", 0, Precision::kLeaf));
  ASSERT_TRUE(leaf.has_value());
  EXPECT_EQ(*leaf, (Region{-48, -208, 160, 224}));
  // Everything back to fill: no bounds.
  ASSERT_OK(write("img", a, std::vector<uint8_t>(size_t(a.pixel_count()) * 2, 4)));
  ASSERT_OK(write("img", b, {4, 4}));
  ASSERT_OK_AND_ASSIGN(auto snap2, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto none, snap2.bounds("img", 0, Precision::kExact));
  EXPECT_FALSE(none.has_value());
  ASSERT_OK_AND_ASSIGN(auto none_leaf, snap2.bounds("img", 0, Precision::kLeaf));
  EXPECT_FALSE(none_leaf.has_value());
}

}  // namespace
}  // namespace tessera::test
