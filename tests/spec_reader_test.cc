// The format spec against the code: a reader written from spec/FORMAT.md and
// format/tessera.fbs alone (tests/spec_reader/, which includes nothing from lib/) reads files
// made through the public API, and must give View::read's answer bit for bit: pixels, and
// errors of the same kind. Files damaged or crafted by hand (raw LMDB) check the rules a
// stranger could get wrong: macro blocks over absent tiles, several zstd frames, version 2
// chunks outside planar images, duplicate names. The bytes of the worked example (section 8)
// are checked as Tessera writes them today.
#include <lz4.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iostream>
#include <limits>
#include <numeric>
#include <tuple>

#include "spec_reader/spec_reader.h"
#include "tessera/tessera.h"
#include "tessera/verify.h"
#include "tessera_generated.h"
#include "test_util.h"

namespace tessera::test {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

spec_reader::Outcome outcome_of(Code code) {
  switch (code) {
    case Code::kOk: return spec_reader::Outcome::kOk;
    case Code::kNotFound: return spec_reader::Outcome::kNotFound;
    case Code::kInvalidArgument: return spec_reader::Outcome::kInvalidArgument;
    case Code::kCorrupt: return spec_reader::Outcome::kCorrupt;
    case Code::kUnsupported: return spec_reader::Outcome::kUnsupported;
    default: return spec_reader::Outcome::kIoError;
  }
}

std::string unhex(const std::string& text) {
  std::string out, digits;
  for (char c : text)
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  for (size_t i = 0; i + 1 < digits.size(); i += 2) out += char(std::stoi(digits.substr(i, 2), nullptr, 16));
  return out;
}
std::string hex_of(const std::string& bytes) {
  return hex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}
std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// Puts (or with an empty value deletes) one entry of a named database of a closed file.
void lmdb_set(const std::string& file, const char* db, const std::string& key, const std::string& value) {
  LmdbFile lmdb(file, true);
  ASSERT_EQ(lmdb.error(), "");
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(lmdb.env(), nullptr, 0, &txn), 0);
  MDB_dbi dbi = 0;
  ASSERT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
  ASSERT_EQ(value.empty() ? mdb_del(txn, dbi, &k, nullptr) : mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
}

// The only entry (or the first) of a database, for files built to hold one.
std::pair<std::string, std::string> first_entry(const std::string& file, const char* db) {
  std::vector<std::pair<std::string, std::string>> entries;
  EXPECT_TRUE(lmdb_entries(file, db, &entries));
  return entries.empty() ? std::pair<std::string, std::string>{} : entries.front();
}

// A chunk value built from the spec (4.4.2): version 1 over `payload`, or version 2 over
// `blocks` (each already encoded, stored as given).
std::string chunk_v1(uint8_t codec, uint8_t filter, uint8_t sample, uint32_t raw_size, const std::string& payload,
                     uint32_t word = 0) {
  std::string v(24, '\0');
  v[0] = 1, v[1] = char(codec), v[2] = char(filter), v[3] = char(sample);
  const uint32_t stored = uint32_t(payload.size());
  std::memcpy(&v[4], &raw_size, 4);
  std::memcpy(&v[8], &stored, 4);
  std::memcpy(&v[12], &word, 4);  // reserved; the delta distance with the delta filter
  const uint64_t sum = XXH3_64bits_withSeed(payload.data(), payload.size(),
                                            spec_reader::chunk_seed(reinterpret_cast<const uint8_t*>(v.data())));
  std::memcpy(&v[16], &sum, 8);
  v += payload;
  if (v.size() % 4096 == 0) v += '\0';
  return v;
}
std::string chunk_v2(uint8_t codec, uint8_t filter, uint8_t sample, uint32_t raw_size,
                     const std::vector<std::string>& blocks) {
  std::string v(24, '\0'), table(12 * blocks.size(), '\0'), data;
  for (const auto& b : blocks) data += b;
  v[0] = 2, v[1] = char(codec), v[2] = char(filter), v[3] = char(sample);
  const uint32_t stored = uint32_t(table.size() + data.size()), n = uint32_t(blocks.size());
  std::memcpy(&v[4], &raw_size, 4);
  std::memcpy(&v[8], &stored, 4);
  std::memcpy(&v[12], &n, 4);
  const uint64_t seed = spec_reader::chunk_seed(reinterpret_cast<const uint8_t*>(v.data()));
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t size = uint32_t(blocks[i].size());
    const uint64_t sum = XXH3_64bits_withSeed(blocks[i].data(), size, seed + i);
    std::memcpy(&table[12 * i], &size, 4);
    std::memcpy(&table[12 * i + 4], &sum, 8);
  }
  const uint64_t sum = XXH3_64bits_withSeed(table.data(), table.size(), seed);
  std::memcpy(&v[16], &sum, 8);
  v += table + data;
  if (v.size() % 4096 == 0) v += '\0';
  return v;
}
std::string shuffled(const std::string& in, size_t s) {
  std::string out(in.size(), '\0');
  const size_t n = in.size() / s;
  for (size_t i = 0; i < n; ++i)
    for (size_t b = 0; b < s; ++b) out[b * n + i] = in[i * s + b];
  return out;
}
// Section 4.4.3's delta: each sample of s bytes minus the one `distance` before (mod 2^(8s)),
// then the shuffle.
std::string delta(const std::string& in, size_t s, size_t distance) {
  std::string out = in;
  for (size_t i = in.size() / s; i-- > distance;) {
    unsigned borrow = 0;
    for (size_t b = 0; b < s; ++b) {
      const int d = int(uint8_t(in[i * s + b])) - int(uint8_t(in[(i - distance) * s + b])) - int(borrow);
      out[i * s + b] = char(uint8_t(d));
      borrow = d < 0;
    }
  }
  return s > 1 ? shuffled(out, s) : out;
}
std::string lz4(const std::string& in) {
  std::string out(size_t(LZ4_compressBound(int(in.size()))), '\0');
  out.resize(size_t(LZ4_compress_default(in.data(), out.data(), int(in.size()), int(out.size()))));
  return out;
}
std::string zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}
std::string skippable(size_t payload) {
  std::string out = unhex("50 2a 4d 18");
  const uint32_t n = uint32_t(payload);
  out.append(reinterpret_cast<const char*>(&n), 4);
  return out + std::string(payload, 'x');
}

// ---- the two readers

struct Request {
  std::string image;
  Region region;
  uint32_t frame = 0;
  std::vector<uint32_t> bands;
  uint32_t level = 0;
};
std::string label(const Request& r) {
  return r.image + " " + region_label(r.region) + " frame " + std::to_string(r.frame) + " level " +
         std::to_string(r.level) + " bands " + bands_label(r.bands);
}

struct Answer {
  spec_reader::Outcome outcome = spec_reader::Outcome::kOk;
  std::string message;
  std::vector<uint8_t> pixels;  // BIP
};

// What Tessera (View::read) answers, file opened and closed around the requests.
std::vector<Answer> tessera_answers(const std::string& file, const std::vector<Request>& requests) {
  std::vector<Answer> out;
  auto container = Container::open(file);
  EXPECT_TRUE(container.is_ok()) << container.status().to_string();
  if (!container) return out;
  auto snapshot = container->snapshot();
  EXPECT_TRUE(snapshot.is_ok()) << snapshot.status().to_string();
  if (!snapshot) return out;
  for (const Request& r : requests) {
    Answer a;
    auto info = snapshot->image(r.image);
    size_t bytes = 0;
    if (info && r.region.width > 0 && r.region.height > 0 && r.region.width < (1 << 20) &&
        r.region.height < (1 << 20))
      bytes = size_t(r.region.width * r.region.height) *
              (r.bands.empty() ? info->spec.bands : r.bands.size()) * sample_size(info->spec.type);
    a.pixels.assign(bytes, 0);
    Selection sel;
    sel.frame = r.frame;
    sel.level = r.level;
    sel.bands = r.bands;
    const Status s = snapshot->read(r.image, r.region, sel, a.pixels.data(), a.pixels.size(), Interleave::kBIP);
    a.outcome = outcome_of(s.code());
    a.message = s.message();
    if (!s.is_ok()) a.pixels.clear();
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Answer> spec_answers(const std::string& file, const std::vector<Request>& requests,
                                 spec_reader::Counters* counters = nullptr) {
  std::vector<Answer> out;
  std::unique_ptr<spec_reader::Reader> reader;
  const spec_reader::Status opened = spec_reader::Reader::open(file, &reader);
  EXPECT_TRUE(opened.ok()) << opened.message;
  if (!opened.ok()) return out;
  for (const Request& r : requests) {
    Answer a;
    const spec_reader::Status s = reader->read(r.image, r.region.x, r.region.y, r.region.width,
                                               r.region.height, r.frame, r.bands, &a.pixels, r.level);
    a.outcome = s.outcome;
    a.message = s.message;
    if (!s.ok()) a.pixels.clear();
    out.push_back(std::move(a));
  }
  if (counters) *counters = reader->counters();
  return out;
}

// Compares both readers on every request; returns how many agreed bit for bit.
size_t compare(const std::string& file, const std::vector<Request>& requests,
               spec_reader::Counters* counters = nullptr) {
  const std::vector<Answer> expected = tessera_answers(file, requests);
  const std::vector<Answer> got = spec_answers(file, requests, counters);
  if (expected.size() != requests.size() || got.size() != requests.size()) {
    ADD_FAILURE() << "a reader could not open " << file;
    return 0;
  }
  size_t matched = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const bool same = expected[i].outcome == got[i].outcome && expected[i].pixels == got[i].pixels;
    matched += same;
    EXPECT_TRUE(same) << label(requests[i]) << ": Tessera " << spec_reader::outcome_name(expected[i].outcome)
                      << " (" << expected[i].message << "), spec reader "
                      << spec_reader::outcome_name(got[i].outcome) << " (" << got[i].message << ")"
                      << (expected[i].outcome == got[i].outcome ? ": pixels differ" : "");
  }
  return matched;
}

// ---- building containers through the API

// A BIP buffer for `region` of an image: compressible patterns (runs of equal samples with a
// little noise), noise (incompressible), or one pixel.
enum class Content { kPattern, kNoise, kUniform };
std::vector<uint8_t> content(const ImageSpec& spec, const Region& region, Content kind, Rng& rng, double value = 0) {
  const size_t s = sample_size(spec.type);
  std::vector<uint8_t> buf(size_t(region.pixel_count()) * spec.bands * s);
  if (kind == Content::kNoise) {
    rng.fill(buf.data(), buf.size());
    if (spec.type == DataType::kF32 || spec.type == DataType::kF64)  // keep NaN payloads out of it
      for (size_t i = 0; i < buf.size() / s; ++i) {
        const auto v = sample_bytes_of(spec.type, double(rng.uniform(-1000000, 1000000)) / 7);
        std::memcpy(buf.data() + i * s, v.data(), s);
      }
    return buf;
  }
  const uint64_t salt = rng.bits() % 97;
  for (int64_t y = 0; y < region.height; ++y)
    for (int64_t x = 0; x < region.width; ++x)
      for (uint32_t b = 0; b < spec.bands; ++b) {
        double v = value + b;
        if (kind == Content::kPattern) {
          v = double(((uint64_t(region.x + x) >> 3) + (uint64_t(region.y + y) >> 2) + salt + 5 * b) % 23);
          if (rng.chance(0.05)) v = double(rng.uniform(0, 100));
        }
        const auto bytes = sample_bytes_of(spec.type, v);
        std::memcpy(buf.data() + ((size_t(y * region.width + x) * spec.bands) + b) * s, bytes.data(), s);
      }
  return buf;
}

Status write(WriteTxn& t, const std::string& image, const ImageSpec& spec, const Region& region,
             uint32_t frame, Content kind, Rng& rng, double value = 0) {
  const auto buf = content(spec, region, kind, rng, value);
  Selection sel;
  sel.frame = frame;
  return t.write(image, region, sel, buf.data(), buf.size());
}
Status write_fill(WriteTxn& t, const std::string& image, const ImageSpec& spec, const Region& region, uint32_t frame) {
  const size_t s = sample_size(spec.type);
  std::vector<uint8_t> pixel;
  for (uint32_t b = 0; b < spec.bands; ++b) {
    const auto bytes = sample_bytes_of(spec.type, spec.fill.size() == 1 ? spec.fill[0] : spec.fill[b]);
    pixel.insert(pixel.end(), bytes.begin(), bytes.end());
  }
  std::vector<uint8_t> buf(size_t(region.pixel_count()) * spec.bands * s);
  for (size_t i = 0; i < buf.size(); i += pixel.size()) std::memcpy(buf.data() + i, pixel.data(), pixel.size());
  Selection sel;
  sel.frame = frame;
  return t.write(image, region, sel, buf.data(), buf.size());
}

struct TestImage {
  std::string name;
  ImageSpec spec;
  Region canvas;  // where its data is
  bool extremes = false;  // data at the corners of the coordinate space too
};

// One image per sample type, every codec and filter, chunky and planar, macro
// blocks of 1, 2 and 4 tiles, fills that are not 0.
std::vector<TestImage> test_images() {
  struct Row {
    DataType type;
    uint32_t bands, tile, macro;
    Codec codec;
    int level;
    Filter filter;
    StorageLayout storage;
    std::vector<double> fill;
  };
  const std::vector<Row> rows = {
      {DataType::kU8, 3, 16, 2, Codec::kLz4, 0, Filter::kShuffle, StorageLayout::kChunky, {7}},
      {DataType::kU16, 3, 16, 4, Codec::kZstd, 5, Filter::kDelta, StorageLayout::kPlanar, {0, 100, 65535}},
      {DataType::kU32, 4, 16, 2, Codec::kLz4, 0, Filter::kNone, StorageLayout::kPlanar, {1}},
      {DataType::kU64, 1, 32, 2, Codec::kZstd, 0, Filter::kShuffle, StorageLayout::kChunky, {0}},
      {DataType::kI8, 2, 16, 1, Codec::kNone, 0, Filter::kNone, StorageLayout::kChunky, {-3, 4}},
      {DataType::kI16, 2, 16, 2, Codec::kLz4, 0, Filter::kDelta, StorageLayout::kChunky, {-1}},
      {DataType::kI32, 1, 16, 4, Codec::kLz4, 0, Filter::kShuffle, StorageLayout::kPlanar, {-100000}},
      {DataType::kI64, 2, 16, 2, Codec::kZstd, 1, Filter::kNone, StorageLayout::kChunky, {-5, 5}},
      {DataType::kF32, 2, 32, 1, Codec::kLz4, 0, Filter::kShuffle, StorageLayout::kPlanar, {0.5}},
      {DataType::kF64, 3, 16, 2, Codec::kLz4, 0, Filter::kShuffle, StorageLayout::kChunky, {-0.25}},
  };
  std::vector<TestImage> out;
  for (const Row& r : rows) {
    TestImage image;
    image.name = std::string(dtype_label(r.type)) + "_" + (r.storage == StorageLayout::kPlanar ? "planar" : "chunky");
    image.spec.type = r.type;
    image.spec.bands = r.bands;
    image.spec.tile_size = r.tile;
    image.spec.macro_tiles = r.macro;
    image.spec.codec = CodecSpec{r.codec, r.level};
    image.spec.filter = r.filter;
    image.spec.storage = r.storage;
    image.spec.fill = r.fill;
    const int64_t block = int64_t(r.tile) * r.macro;
    image.canvas = Region{-2 * block, -block, 4 * block, 3 * block};
    image.extremes = out.empty();
    out.push_back(image);
  }
  return out;
}

// Macro block (bx, by) of the canvas as a region (blocks counted from the canvas origin).
Region block_region(const TestImage& image, int64_t bx, int64_t by) {
  const int64_t b = int64_t(image.spec.tile_size) * image.spec.macro_tiles;
  return Region{image.canvas.x + bx * b, image.canvas.y + by * b, b, b};
}
Region tile_region(const TestImage& image, int64_t bx, int64_t by, int64_t tx = 0, int64_t ty = 0, int64_t w = 1) {
  const int64_t T = image.spec.tile_size;
  const Region block = block_region(image, bx, by);
  return Region{block.x + tx * T, block.y + ty * T, w * T, T};
}

// Frames 0..3 of every image: data, collapsed blocks (frame 0, and over older data in frame 1
// and 3), uniform tiles, erased tiles, dedup, tombstones, inherited and pinned tiles, a
// dropped frame (so later keys were renumbered).
void populate(Container& c, const std::vector<TestImage>& images, Rng& rng) {
  ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
    for (const TestImage& im : images) {
      TESSERA_RETURN_IF_ERROR(t.create_image(im.name, im.spec));
      const ImageSpec& sp = im.spec;
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, im.canvas, 0, Content::kPattern, rng));
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, block_region(im, 0, 0), 0, Content::kUniform, rng, 41));
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, block_region(im, 2, 1), 0, Content::kUniform, rng, 42));
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, tile_region(im, 3, 1), 0, Content::kUniform, rng, 43));
      // Erased: a whole tile and half of the next.
      const Region erased = tile_region(im, 1, 0);
      TESSERA_RETURN_IF_ERROR(write_fill(t, im.name, sp, Region{erased.x, erased.y, erased.width * 3 / 2, erased.height}, 0));
      // Identical noise tiles (one chunk), and noise that does not compress.
      const Region a = tile_region(im, 3, 2), b = tile_region(im, 1, 2);
      const auto noise = content(sp, a, Content::kNoise, rng);
      TESSERA_RETURN_IF_ERROR(t.write(im.name, a, Selection{}, noise.data(), noise.size()));
      TESSERA_RETURN_IF_ERROR(t.write(im.name, b, Selection{}, noise.data(), noise.size()));
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, tile_region(im, 0, 2), 0, Content::kNoise, rng));
      if (im.extremes) {
        TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, Region{kMax - 40, kMin, 40, 20}, 0, Content::kPattern, rng));
        TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, Region{kMin, kMax - 30, 50, 30}, 0, Content::kPattern, rng));
      }
    }
    return Status::ok();
  }));
  ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
    for (const TestImage& im : images) {
      const ImageSpec& sp = im.spec;
      // Frame 1 (appended by writing): a tombstone over a collapsed block's tile, a block
      // collapsed over frame 0's data, new data, and erased data.
      TESSERA_RETURN_IF_ERROR(write_fill(t, im.name, sp, tile_region(im, 0, 0), 1));
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, block_region(im, 1, 1), 1, Content::kUniform, rng, 44));
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, tile_region(im, 3, 0, 0, 0, 2), 1, Content::kPattern, rng));
      TESSERA_RETURN_IF_ERROR(write_fill(t, im.name, sp, block_region(im, 2, 2), 1));
      // A tile of frame 0's collapsed block gets its own record (it beats the block's).
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, tile_region(im, 2, 1), 1, Content::kUniform, rng, 45));
    }
    return Status::ok();
  }));
  ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
    for (const TestImage& im : images) {
      const ImageSpec& sp = im.spec;
      TESSERA_RETURN_IF_ERROR(t.add_frame(im.name));  // frame 2
      TESSERA_RETURN_IF_ERROR(t.add_frame(im.name));  // frame 3
      TESSERA_RETURN_IF_ERROR(t.add_frame(im.name));  // frame 4, dropped below
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, tile_region(im, 1, 1), 4, Content::kPattern, rng));
      // Editing frame 2 pins the old content into frame 3.
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, block_region(im, 3, 2), 2, Content::kPattern, rng));
      TESSERA_RETURN_IF_ERROR(write(t, im.name, sp, block_region(im, 0, 0), 3, Content::kUniform, rng, 46));
      TESSERA_RETURN_IF_ERROR(t.drop_frame(im.name, 2));  // frames 3, 4 become 2, 3
    }
    return Status::ok();
  }));
}

// The same raw bytes in images whose tiles have the same size but another layout: a planar
// image's version 2 chunk read by a chunky image and by a planar image of other bands, and a
// chunky image's version 1 chunk read by the planar ones.
void populate_shared(Container& c, Rng& rng) {
  ImageSpec p4, p2, c1;
  p4.type = DataType::kU8, p4.bands = 4, p4.tile_size = 16, p4.storage = StorageLayout::kPlanar;
  p2.type = DataType::kU16, p2.bands = 2, p2.tile_size = 16, p2.storage = StorageLayout::kPlanar;
  c1.type = DataType::kU8, c1.bands = 1, c1.tile_size = 32;
  p2.filter = Filter::kNone;  // the chunk's header, not the image, says how to decode
  // Raw tile r as a BIP buffer of one tile of each image (FORMAT.md 4.4.4).
  auto as_bip = [](const ImageSpec& spec, const std::string& raw) {
    const size_t s = sample_size(spec.type), T = spec.tile_size, n = spec.bands;
    std::vector<uint8_t> bip(raw.size());
    for (size_t y = 0; y < T; ++y)
      for (size_t x = 0; x < T; ++x)
        for (size_t b = 0; b < n; ++b) {
          const size_t off = spec.storage == StorageLayout::kPlanar ? ((b * T + y) * T + x) * s : ((y * T + x) * n + b) * s;
          std::memcpy(&bip[((y * T + x) * n + b) * s], &raw[off], s);
        }
    return bip;
  };
  auto raw_tile = [&] {
    std::string raw(1024, '\0');
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = char(i / 64 + (rng.chance(0.1) ? rng.uniform(0, 9) : 0));
    return raw;
  };
  const std::string r1 = raw_tile(), r2 = raw_tile();
  ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
    TESSERA_RETURN_IF_ERROR(t.create_image("share_p4", p4));
    TESSERA_RETURN_IF_ERROR(t.create_image("share_p2", p2));
    TESSERA_RETURN_IF_ERROR(t.create_image("share_c1", c1));
    const std::vector<std::pair<std::string, const ImageSpec*>> order1 = {{"share_p4", &p4}, {"share_p2", &p2}, {"share_c1", &c1}};
    const std::vector<std::pair<std::string, const ImageSpec*>> order2 = {{"share_c1", &c1}, {"share_p4", &p4}, {"share_p2", &p2}};
    for (const auto& [name, spec] : order1) {  // tile (0, 0): a version 2 chunk of 4 blocks
      const auto bip = as_bip(*spec, r1);
      TESSERA_RETURN_IF_ERROR(t.write(name, Region{0, 0, spec->tile_size, spec->tile_size}, Selection{}, bip.data(), bip.size()));
    }
    for (const auto& [name, spec] : order2) {  // tile (-1, -1): a version 1 chunk
      const int64_t T = spec->tile_size;
      const auto bip = as_bip(*spec, r2);
      TESSERA_RETURN_IF_ERROR(t.write(name, Region{-T, -T, T, T}, Selection{}, bip.data(), bip.size()));
    }
    return Status::ok();
  }));
}

// ---- tests

class SpecReaderTest : public TempDirTest {};

TEST_F(SpecReaderTest, MatchesTesseraOnRandomRegions) {
  const std::string file = path("spec.tsr");
  const std::vector<TestImage> images = test_images();
  {
    Rng rng(20240612);
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    populate(c, images, rng);
    populate_shared(c, rng);
    // Pyramid levels (spec 5.6) of every frame of the first three images (the first reaches the
    // corners of the coordinate space).
    for (size_t i = 0; i < 3; ++i)
      ASSERT_OK(c.build_pyramid(images[i].name, PyramidOptions{std::nullopt, 2, Resampling::kMean, {}}));
  }
  ASSERT_OK_AND_ASSIGN(auto report, verify(file, VerifyOptions{true}));
  ASSERT_TRUE(report.clean()) << report.faults.front().invariant << ": " << report.faults.front().message;
  EXPECT_GT(report.macro_records, 0u);

  // Every image record as Tessera sees it.
  {
    std::unique_ptr<spec_reader::Reader> reader;
    ASSERT_TRUE(spec_reader::Reader::open(file, &reader).ok());
    EXPECT_EQ(reader->major(), 3);  // the delta filter made it 3.1
    EXPECT_EQ(reader->minor(), 1);
    std::vector<spec_reader::Image> records;
    ASSERT_TRUE(reader->images(&records).ok());
    ASSERT_EQ(records.size(), images.size() + 3);
    for (size_t i = 0; i < images.size(); ++i) {
      EXPECT_EQ(records[i].name, images[i].name);
      EXPECT_EQ(records[i].id, i);
      EXPECT_EQ(records[i].frames, 4u);
      EXPECT_EQ(records[i].bands, images[i].spec.bands);
      EXPECT_EQ(uint32_t(1) << records[i].tile_size_log2, images[i].spec.tile_size);
    }
  }

  std::mt19937_64 gen(1912);
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); };
  std::vector<Request> requests;
  for (int i = 0; i < 140; ++i) {
    Request r;
    const TestImage& im = images[size_t(uniform(0, int64_t(images.size()) - 1))];
    r.image = im.name;
    r.frame = uint32_t(uniform(0, 3));
    const int64_t w = uniform(1, 72), h = uniform(1, 72);
    const int kind = int(uniform(0, 19));
    if (kind < 15) {  // over the canvas and its margin
      r.region = Region{uniform(im.canvas.x - 20, im.canvas.x + im.canvas.width), uniform(im.canvas.y - 20, im.canvas.y + im.canvas.height), w, h};
    } else if (kind < 17) {  // far away: absent tiles
      r.region = Region{uniform(-(int64_t(1) << 40), int64_t(1) << 40), uniform(-(int64_t(1) << 40), int64_t(1) << 40), w, h};
    } else {  // the corners of the coordinate space
      r.image = images[0].name;
      r.region = kind == 17 ? Region{kMax - w - uniform(0, 60), kMin + uniform(0, 30), w, h}
                            : Region{kMin + uniform(0, 60), kMax - h - uniform(0, 40), w, h};
    }
    const uint32_t bands = im.spec.bands;
    if (uniform(0, 3) > 0) {  // a random subset in random order (empty: every band)
      std::vector<uint32_t> all(bands);
      std::iota(all.begin(), all.end(), 0u);
      std::shuffle(all.begin(), all.end(), gen);
      all.resize(size_t(uniform(1, bands)));
      r.bands = all;
    }
    if (r.image != im.name) r.bands.clear();
    // Levels 1 and 2 where they are built (the first three images), 3 and 1 where not: refused.
    if (uniform(0, 3) == 0) r.level = uint32_t(uniform(1, 3));
    requests.push_back(r);
  }
  // The images sharing chunks across layouts, each whole.
  for (const char* name : {"share_p4", "share_p2", "share_c1"})
    for (const std::vector<uint32_t>& bands : {std::vector<uint32_t>{}, std::vector<uint32_t>{0}})
      requests.push_back(Request{name, Region{-32, -32, 64, 64}, 0, bands});
  // Requests both must refuse alike.
  requests.push_back(Request{images[0].name, Region{0, 0, 4, 4}, 4, {}});           // no frame 4
  requests.push_back(Request{images[0].name, Region{0, 0, 4, 4}, 0, {3}});          // no band 3
  requests.push_back(Request{images[0].name, Region{kMax - 3, 0, 4, 1}, 0, {}});    // ends past 2^63 - 1
  requests.push_back(Request{images[0].name, Region{kMax, 0, 1, 1}, 0, {}});        // the last pixel
  requests.push_back(Request{images[0].name, Region{0, 0, 0, 4}, 0, {}});           // empty
  requests.push_back(Request{"no such image", Region{0, 0, 4, 4}, 0, {}});

  spec_reader::Counters n;
  const size_t matched = compare(file, requests, &n);
  EXPECT_EQ(matched, requests.size());
  std::cout << "[ spec reader ] " << matched << " of " << requests.size() << " requests matched View::read: "
            << n.tiles << " tiles: " << n.absent << " absent, " << n.tombstones << " tombstones, " << n.uniform
            << " uniform, " << n.macro << " from macro blocks (" << n.macro_hidden << " blocks beaten by the tile), "
            << n.inherited << " inherited; chunks v1 " << n.chunk_v1 << ", v2 by band " << n.chunk_v2_by_band
            << ", v2 whole " << n.chunk_v2_whole << "; blocks raw " << n.raw_blocks << ", lz4 " << n.codec_lz4
            << ", zstd " << n.codec_zstd << ", filtered " << n.filtered << "\n";
  // Every path of the lookup and the decoder was taken.
  EXPECT_GT(n.absent, 0u);
  EXPECT_GT(n.tombstones, 0u);
  EXPECT_GT(n.uniform, 0u);
  EXPECT_GT(n.macro, 0u);
  EXPECT_GT(n.macro_hidden, 0u);
  EXPECT_GT(n.inherited, 0u);
  EXPECT_GT(n.chunk_v1, 0u);
  EXPECT_GT(n.chunk_v2_by_band, 0u);
  EXPECT_GT(n.chunk_v2_whole, 0u);
  EXPECT_GT(n.raw_blocks, 0u);
  EXPECT_GT(n.codec_lz4, 0u);
  EXPECT_GT(n.codec_zstd, 0u);
  EXPECT_GT(n.filtered, 0u);
}

// A damaged chunk: both readers refuse it (kCorrupt, no crash); a version 2 chunk's other
// blocks still read.
// Attributes of every type, of images and frames, after a frame was dropped: the reader of the
// spec finds exactly what View::attributes does, and refuses a record Tessera refuses.
TEST_F(SpecReaderTest, AttributesReadAlike) {
  const std::string file = path("attributes.tsr");
  const std::vector<AttributeValue> values = {
      std::string("nm"), int64_t(-5), -0.0, std::vector<std::string>{"red", "", "nir"},
      std::vector<int64_t>{1, INT64_MIN}, std::vector<double>{400.5, HUGE_VAL}, std::vector<double>{}};
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
      ImageSpec spec;
      spec.tile_size = 16;
      TESSERA_RETURN_IF_ERROR(t.create_image("a", spec));
      TESSERA_RETURN_IF_ERROR(t.create_image("b", spec));
      for (int f = 0; f < 3; ++f) TESSERA_RETURN_IF_ERROR(t.add_frame("a"));
      for (size_t i = 0; i < values.size(); ++i) {
        TESSERA_RETURN_IF_ERROR(t.set_attribute("a", "v" + std::to_string(i), values[i]));
        TESSERA_RETURN_IF_ERROR(t.set_attribute("a", "frame value", values[i], uint32_t(i % 4)));
        TESSERA_RETURN_IF_ERROR(t.set_attribute("b", "größe " + std::to_string(i), values[i]));
      }
      return t.drop_frame("a", 1);
    }));
  }
  std::unique_ptr<spec_reader::Reader> reader;
  ASSERT_TRUE(spec_reader::Reader::open(file, &reader).ok());
  std::vector<spec_reader::Attribute> records;
  const spec_reader::Status read = reader->attributes(&records);
  ASSERT_TRUE(read.ok()) << read.message;
  // What Tessera says, in the same order: image by id, then scope (frames, then the image).
  std::vector<std::tuple<uint32_t, uint32_t, Attribute>> expected;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(file));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    for (const ImageInfo& info : s.images()) {
      for (uint32_t f = 0; f < info.frames; ++f) {
        ASSERT_OK_AND_ASSIGN(auto own, s.attributes(info.name, f));
        for (auto& a : own) expected.emplace_back(info.id, f, a);
      }
      ASSERT_OK_AND_ASSIGN(auto own, s.attributes(info.name));
      for (auto& a : own) expected.emplace_back(info.id, 0xFFFFFFFFu, a);
    }
  }
  ASSERT_EQ(records.size(), expected.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& [image, scope, a] = expected[i];
    const spec_reader::Attribute& r = records[i];
    EXPECT_EQ(r.image, image);
    EXPECT_EQ(r.scope, scope);
    EXPECT_EQ(r.name, a.name);
    ASSERT_EQ(r.type, a.value.index()) << a.name;
    AttributeValue as_read;
    switch (r.type) {
      case 0: as_read = r.text; break;
      case 1: as_read = r.integers.at(0); break;
      case 2: as_read = r.reals.at(0); break;
      case 3: as_read = r.texts; break;
      case 4: as_read = r.integers; break;
      default: as_read = r.reals; break;
    }
    EXPECT_EQ(as_read, a.value) << a.name;
  }
  EXPECT_EQ(records.size(), 7u + 7u + 3u);  // a's, b's, and one of each frame left of a

  // One byte of a real changed: both refuse.
  reader.reset();
  std::string error;
  ASSERT_TRUE(lmdb_edit_value(file, "attributes", [](const std::string& key, std::string& v) {
    if (key.substr(8) != "v2") return false;
    v[v.size() - 9] ^= 1;
    return true;
  }, &error)) << error;
  ASSERT_TRUE(spec_reader::Reader::open(file, &reader).ok());
  EXPECT_EQ(reader->attributes(&records).outcome, spec_reader::Outcome::kCorrupt);
  EXPECT_CODE(Container::open(file), Code::kCorrupt);  // refused at open; the read refuses too:
  OpenOptions trusting;
  trusting.check_structure = false;
  ASSERT_OK_AND_ASSIGN(auto reopened, Container::open(file, trusting));
  ASSERT_OK_AND_ASSIGN(auto again, reopened.snapshot());
  EXPECT_CODE(again.attributes("a"), Code::kCorrupt);
}

TEST_F(SpecReaderTest, RefusesADamagedChunkChecksum) {
  const std::string file = path("damaged.tsr");
  ImageSpec planar, chunky;
  planar.bands = 3, planar.tile_size = 16, planar.storage = StorageLayout::kPlanar;
  chunky.type = DataType::kU16, chunky.bands = 2, chunky.tile_size = 16;
  {
    Rng rng(5);
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
      TESSERA_RETURN_IF_ERROR(t.create_image("planar", planar));
      TESSERA_RETURN_IF_ERROR(t.create_image("chunky", chunky));
      TESSERA_RETURN_IF_ERROR(write(t, "planar", planar, Region{0, 0, 16, 16}, 0, Content::kPattern, rng));
      return write(t, "chunky", chunky, Region{0, 0, 16, 16}, 0, Content::kPattern, rng);
    }));
  }
  const std::vector<Request> requests = {
      {"planar", Region{0, 0, 16, 16}, 0, {}},  {"planar", Region{2, 3, 5, 5}, 0, {0}},
      {"planar", Region{2, 3, 5, 5}, 0, {1}},   {"planar", Region{2, 3, 5, 5}, 0, {2, 0}},
      {"chunky", Region{0, 0, 16, 16}, 0, {}},  {"chunky", Region{4, 4, 1, 1}, 0, {1}},
  };
  EXPECT_EQ(compare(file, requests), requests.size());
  // Flip one payload byte of the version 1 chunk and one byte of block 1 of the version 2 one.
  std::string error;
  ASSERT_TRUE(lmdb_edit_value(file, "chunks", [](const std::string&, std::string& v) {
    if (v[0] != 1) return false;
    v[24] ^= 0x10;
    return true;
  }, &error)) << error;
  ASSERT_TRUE(lmdb_edit_value(file, "chunks", [](const std::string&, std::string& v) {
    if (v[0] != 2) return false;
    uint32_t block0 = 0;
    std::memcpy(&block0, &v[24], 4);
    v[24 + 36 + block0] ^= 0x01;  // first byte of block 1, after the table of 3 entries
    return true;
  }, &error)) << error;
  const std::vector<Answer> tessera = tessera_answers(file, requests), spec = spec_answers(file, requests);
  ASSERT_EQ(spec.size(), requests.size());
  const spec_reader::Outcome expected[] = {
      spec_reader::Outcome::kCorrupt, spec_reader::Outcome::kOk, spec_reader::Outcome::kCorrupt,
      spec_reader::Outcome::kOk, spec_reader::Outcome::kCorrupt, spec_reader::Outcome::kCorrupt};
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(spec[i].outcome, expected[i]) << label(requests[i]) << ": " << spec[i].message;
    EXPECT_EQ(tessera[i].outcome, expected[i]) << label(requests[i]) << ": " << tessera[i].message;
    EXPECT_TRUE(spec[i].pixels == tessera[i].pixels) << label(requests[i]);
    if (expected[i] == spec_reader::Outcome::kCorrupt) {
      EXPECT_NE(spec[i].message.find("checksum"), std::string::npos) << spec[i].message;
    }
  }
}

// Chunks crafted by hand from the spec's rules, each read by both readers: section 4.4.3's
// zstd payloads (several frames, skippable frames, no trailing bytes), LZ4's exact input, a
// version 1 compressed payload as large as the raw tile, version 2 chunks in a chunky image
// (raw blocks unfiltered), version 1 codec none with shuffle.
TEST_F(SpecReaderTest, CraftedChunksReadAlike) {
  const std::string file = path("crafted.tsr");
  ImageSpec spec;  // chunky u8, one band, 16 x 16: the raw tile is the BIP buffer
  spec.tile_size = 16;
  std::string raw;
  {
    Rng rng(11);
    const auto bytes = content(spec, Region{0, 0, 16, 16}, Content::kPattern, rng);
    raw = str(bytes);
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
      TESSERA_RETURN_IF_ERROR(t.create_image("img", spec));
      return t.write("img", Region{0, 0, 16, 16}, Selection{}, bytes.data(), bytes.size());
    }));
  }
  const std::string key = first_entry(file, "chunks").first;
  ASSERT_EQ(key.size(), 17u);
  const std::string half0 = raw.substr(0, 128), half1 = raw.substr(128);
  struct Case {
    const char* what;
    std::string value;
    bool ok;
  };
  const std::string z = zstd(raw);
  ASSERT_LT(z.size() + 8, raw.size());
  // Compressed blocks must be smaller than their raw size (a block stored at B is raw).
  const std::string lz4_half0 = lz4(half0), zstd_shuffled_half0 = zstd(shuffled(half0, 2));
  std::vector<std::string> quarters;
  for (size_t i = 0; i < 4; ++i) quarters.push_back(zstd(raw.substr(64 * i, 64)));
  ASSERT_LT(lz4_half0.size(), 128u);
  ASSERT_LT(zstd_shuffled_half0.size(), 128u);
  for (const std::string& q : quarters) ASSERT_LT(q.size(), 64u);
  const std::vector<Case> cases = {
      {"zstd: one frame", chunk_v1(2, 0, 1, 256, z), true},
      {"zstd: two frames", chunk_v1(2, 0, 1, 256, zstd(half0) + zstd(half1)), true},
      {"zstd: skippable frames around and between", chunk_v1(2, 0, 1, 256, skippable(3) + zstd(half0) + skippable(0) + zstd(half1) + skippable(9)), true},
      {"zstd: stored size = raw size (padded by a skippable frame)", chunk_v1(2, 0, 1, 256, z + skippable(256 - z.size() - 8)), true},
      {"zstd: a trailing byte", chunk_v1(2, 0, 1, 256, z + std::string(1, '\0')), false},
      {"zstd: only skippable frames", chunk_v1(2, 0, 1, 256, skippable(20)), false},
      {"zstd: frames decode to less than the raw size", chunk_v1(2, 0, 1, 256, zstd(half0)), false},
      {"lz4: one block", chunk_v1(1, 0, 1, 256, lz4(raw)), true},
      {"lz4: a trailing byte", chunk_v1(1, 0, 1, 256, lz4(raw) + std::string(1, '\0')), false},
      {"lz4: two blocks", chunk_v1(1, 0, 1, 256, lz4(half0) + lz4(half1)), false},
      {"lz4 with shuffle (sample size 4)", chunk_v1(1, 1, 4, 256, lz4(shuffled(raw, 4))), true},
      {"none with shuffle (sample size 2): unshuffled", chunk_v1(0, 1, 2, 256, shuffled(raw, 2)), true},
      {"none: stored size != raw size", chunk_v1(0, 0, 1, 256, raw.substr(1)), false},
      {"shuffle with sample size 1", chunk_v1(1, 1, 1, 256, lz4(raw)), false},
      {"delta (sample size 1, distance 1), lz4", chunk_v1(1, 2, 1, 256, lz4(delta(raw, 1, 1)), 1), true},
      {"delta (sample size 2, distance 3), zstd", chunk_v1(2, 2, 2, 256, zstd(delta(raw, 2, 3)), 3), true},
      {"delta (sample size 8, distance 32: all of it), none", chunk_v1(0, 2, 8, 256, delta(raw, 8, 32), 32), true},
      {"delta distance 0", chunk_v1(1, 2, 1, 256, lz4(raw), 0), false},
      {"delta distance past the samples", chunk_v1(1, 2, 2, 256, lz4(delta(raw, 2, 1)), 129), false},
      {"delta with sample size 3", chunk_v1(1, 2, 3, 256, lz4(raw), 1), false},
      {"filter 3", chunk_v1(1, 3, 1, 256, lz4(raw)), false},
      {"v2 delta: distance 1 in each block", chunk_v2(2, 2, 4, 256, {zstd(delta(half0, 4, 1)), half1}), true},
      {"v2 in a chunky image: an lz4 block and a raw one", chunk_v2(1, 0, 1, 256, {lz4_half0, half1}), true},
      {"v2: a raw block is not unshuffled", chunk_v2(2, 1, 2, 256, {zstd_shuffled_half0, half1}), true},
      {"v2: four zstd blocks", chunk_v2(2, 0, 1, 256, quarters), true},
      {"v2: codec none, raw blocks", chunk_v2(0, 0, 1, 256, {half0, half1}), true},
      {"v2: 3 blocks do not divide 256", chunk_v2(0, 0, 1, 256, {half0, half1, ""}), false},
      {"v2: one block", chunk_v2(1, 0, 1, 256, {lz4(raw)}), false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    lmdb_set(file, "chunks", key, c.value);
    const std::vector<Request> requests = {{"img", Region{0, 0, 16, 16}, 0, {}}, {"img", Region{3, 9, 2, 2}, 0, {}}};
    const std::vector<Answer> tessera = tessera_answers(file, requests), mine = spec_answers(file, requests);
    ASSERT_EQ(mine.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(tessera[i].outcome, c.ok ? spec_reader::Outcome::kOk : spec_reader::Outcome::kCorrupt) << tessera[i].message;
      EXPECT_EQ(mine[i].outcome, tessera[i].outcome) << mine[i].message;
      EXPECT_TRUE(mine[i].pixels == tessera[i].pixels);
    }
    if (c.ok) {
      EXPECT_EQ(str(mine[0].pixels), raw);
    }
  }
}

// Records crafted by hand: a macro-block record that is not uniform is refused by every read
// that probes it (tiles of the block that are absent included); of two images of one name
// the smallest id is read; an image of 0 frames has no frame to read.
TEST_F(SpecReaderTest, CraftedRecordsReadAlike) {
  const std::string file = path("records.tsr");
  ImageSpec spec;
  spec.tile_size = 16;
  spec.macro_tiles = 2;
  {
    Rng rng(3);
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
      TESSERA_RETURN_IF_ERROR(t.create_image("x", spec));
      TESSERA_RETURN_IF_ERROR(t.create_image("dup", spec));
      TESSERA_RETURN_IF_ERROR(write(t, "x", spec, Region{0, 0, 32, 32}, 0, Content::kPattern, rng));
      return write(t, "x", spec, Region{0, 0, 16, 16}, 1, Content::kPattern, rng);
    }));
  }
  const std::vector<Request> tiles = {
      {"x", Region{0, 0, 16, 16}, 0, {}},    // tile (0, 0): own versions in frames 0 and 1
      {"x", Region{0, 0, 16, 16}, 1, {}},
      {"x", Region{16, 16, 8, 8}, 0, {}},    // tile (1, 1): frame 0's version
      {"x", Region{64, 64, 8, 8}, 0, {}},    // tile (4, 4) of block (2, 2): absent
      {"x", Region{-1, -1, 2, 2}, 1, {}},
  };
  EXPECT_EQ(compare(file, tiles), tiles.size());
  // A block record of kind tombstone, chunk or uniform, in block (0, 0) frame 1 and block
  // (2, 2) frame 0.
  for (uint8_t kind : {0, 2, 1}) {
    SCOPED_TRACE("macro record kind " + std::to_string(kind));
    for (auto [bx, by, frame] : {std::tuple<int64_t, int64_t, uint32_t>{0, 0, 1}, {2, 2, 0}}) {
      const std::vector<uint8_t> key = spec_reader::tile_key(0, 0x80, bx, by, frame);
      std::vector<uint8_t> uniform, chunk;
      if (kind == 1) uniform = {99};
      if (kind == 2) chunk.assign(17, 0);
      flatbuffers::FlatBufferBuilder fbb;
      flatbuffers::Offset<flatbuffers::Vector<uint8_t>> u, c;
      if (kind == 1) u = fbb.CreateVector(uniform);
      if (kind == 2) c = fbb.CreateVector(chunk);
      fbb.Finish(fb::CreateTileRecord(fbb, static_cast<fb::TileKind>(kind), u, c,
                                      spec_reader::tile_record_check(key, kind, uniform, chunk)));
      lmdb_set(file, "tiles", str(key), std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize()));
    }
    const std::vector<Answer> tessera = tessera_answers(file, tiles), mine = spec_answers(file, tiles);
    ASSERT_EQ(mine.size(), tiles.size());
    for (size_t i = 0; i < tiles.size(); ++i) {
      // Request 4 reads tiles of block (-1, -1) and (0, 0): block (0, 0)'s record is probed.
      const bool hits_block[] = {false, true, false, true, true};  // probes a crafted block record
      const bool refused = kind != 1 && hits_block[i];
      EXPECT_EQ(tessera[i].outcome, refused ? spec_reader::Outcome::kCorrupt : spec_reader::Outcome::kOk)
          << label(tiles[i]) << ": " << tessera[i].message;
      EXPECT_EQ(mine[i].outcome, tessera[i].outcome) << label(tiles[i]) << ": " << mine[i].message;
      EXPECT_TRUE(mine[i].pixels == tessera[i].pixels) << label(tiles[i]);
    }
    if (kind == 1) {  // block (2, 2)'s pixel over absent tile (4, 4); tile (0, 0) of frame 1 keeps its own
      ASSERT_FALSE(mine[3].pixels.empty());
      EXPECT_EQ(mine[3].pixels[0], 99);
      EXPECT_NE(mine[1].pixels, std::vector<uint8_t>(256, 99));
    }
  }

  // Two images named "dup" (ids 0 and 1): the record with id 0 wins. An image of 0 frames.
  auto image_record = [&](uint32_t id, const char* name, uint8_t fill, uint32_t frames) {
    flatbuffers::FlatBufferBuilder fbb;
    auto n = fbb.CreateString(name);
    auto f = fbb.CreateVector(std::vector<uint8_t>{fill});
    const uint64_t check = spec_reader::image_record_check(id, name, 0, 1, 4, 1, {fill}, 0, 1, 0, true, frames, false);
    fbb.Finish(fb::CreateImage(fbb, id, n, fb::DataType::u8, 1, 4, 1, f, fb::StorageLayout::chunky,
                               fb::Codec::lz4, 0, true, frames, false, check));
    return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  };
  lmdb_set(file, "images", unhex("00 00 00 00"), image_record(0, "dup", 211, 1));
  lmdb_set(file, "images", unhex("00 00 00 07"), image_record(7, "empty", 5, 0));
  const std::vector<Request> named = {
      {"dup", Region{100, 100, 3, 3}, 0, {}},  // absent: the fill of id 0
      {"x", Region{0, 0, 2, 2}, 0, {}},        // renamed away
      {"empty", Region{0, 0, 2, 2}, 0, {}},    // no frame 0
  };
  const std::vector<Answer> tessera = tessera_answers(file, named), mine = spec_answers(file, named);
  ASSERT_EQ(mine.size(), named.size());
  for (size_t i = 0; i < named.size(); ++i) {
    EXPECT_EQ(mine[i].outcome, tessera[i].outcome) << label(named[i]) << ": " << tessera[i].message << " / " << mine[i].message;
    EXPECT_TRUE(mine[i].pixels == tessera[i].pixels) << label(named[i]);
  }
  EXPECT_EQ(tessera[0].pixels, std::vector<uint8_t>(9, 211));
  EXPECT_EQ(tessera[1].outcome, spec_reader::Outcome::kNotFound);
  EXPECT_EQ(tessera[2].outcome, spec_reader::Outcome::kNotFound);
  // Section 4.2: verify does not report the record of 0 frames; writing frame 0 appends it.
  ASSERT_OK_AND_ASSIGN(auto report, verify(file));
  for (const Fault& fault : report.faults) EXPECT_NE(fault.image, std::optional<std::string>("empty")) << fault.message;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(file));
    const uint8_t pixel = 9;
    ASSERT_OK(c.write([&](WriteTxn& t) { return t.write("empty", Region{0, 0, 1, 1}, Selection{}, &pixel, 1); }));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    ASSERT_OK_AND_ASSIGN(auto info, s.image("empty"));
    EXPECT_EQ(info.frames, 1u);
  }
  EXPECT_EQ(compare(file, named), named.size());
  const std::vector<Answer> after = spec_answers(file, {named[2]});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].pixels, (std::vector<uint8_t>{9, 5, 5, 5}));
}

// Section 8's bytes are what Tessera writes, and the spec reader reads the pixels it names.
TEST_F(SpecReaderTest, WorkedExampleBytes) {
  const std::string file = path("scan.tsr");
  ImageSpec scan;
  scan.type = DataType::kU16, scan.bands = 2, scan.tile_size = 16, scan.macro_tiles = 16;
  ImageSpec v2;
  v2.bands = 2, v2.tile_size = 16, v2.storage = StorageLayout::kPlanar, v2.filter = Filter::kNone;
  {
    std::vector<uint8_t> tile(16 * 16 * 4), uniform(16 * 16 * 4), fill(16 * 16 * 4, 0), planes(16 * 16 * 2);
    for (int i = 0; i < 256; ++i) {
      const uint16_t a = uint16_t(i), b = 1000, u = 500, w = 600;
      std::memcpy(&tile[i * 4], &a, 2), std::memcpy(&tile[i * 4 + 2], &b, 2);
      std::memcpy(&uniform[i * 4], &u, 2), std::memcpy(&uniform[i * 4 + 2], &w, 2);
      planes[i * 2] = uint8_t(i), planes[i * 2 + 1] = 7;
    }
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
      TESSERA_RETURN_IF_ERROR(t.create_image("scan", scan));
      TESSERA_RETURN_IF_ERROR(t.write("scan", Region{0, 0, 16, 16}, Selection{}, tile.data(), tile.size()));
      TESSERA_RETURN_IF_ERROR(t.write("scan", Region{16, -16, 16, 16}, Selection{}, tile.data(), tile.size()));
      TESSERA_RETURN_IF_ERROR(t.write("scan", Region{-16, 0, 16, 16}, Selection{}, uniform.data(), uniform.size()));
      Selection frame1;
      frame1.frame = 1;
      TESSERA_RETURN_IF_ERROR(t.write("scan", Region{-16, 0, 16, 16}, frame1, fill.data(), fill.size()));
      TESSERA_RETURN_IF_ERROR(t.create_image("v2", v2));
      return t.write("v2", Region{0, 0, 16, 16}, Selection{}, planes.data(), planes.size());
    }));
  }
  std::vector<std::pair<std::string, std::string>> images, tiles, chunks, refs;
  ASSERT_TRUE(lmdb_entries(file, "images", &images));
  ASSERT_TRUE(lmdb_entries(file, "tiles", &tiles));
  ASSERT_TRUE(lmdb_entries(file, "chunks", &chunks));
  ASSERT_TRUE(lmdb_entries(file, "refs", &refs));
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(hex_of(images[0].first), "00000000");
  EXPECT_EQ(hex_of(images[0].second), hex_of(unhex(R"(
      28 00 00 00 00 00 00 00 20 00 24 00 00 00 0c 00
      05 00 0a 00 06 00 07 00 10 00 00 00 08 00 00 00
      09 00 14 00 00 00 18 00 20 00 00 00 00 01 04 04
      01 01 02 00 20 00 00 00 14 00 00 00 02 00 00 00
      b0 ad 2d 82 88 f1 c2 5b 00 00 00 00 04 00 00 00
      00 00 00 00 04 00 00 00 73 63 61 6e 00 00 00 00)")));
  EXPECT_EQ(spec_reader::image_record_check(0, "scan", 1, 2, 4, 4, {0, 0, 0, 0}, 0, 1, 0, true, 2, false),
            0x5bc2f188822dadb0ull)
      << "the image's check over its fields";
  // Image 0's four records, in key order, then image 1's one.
  ASSERT_EQ(tiles.size(), 5u);
  const std::string tile_records[4][2] = {
      {"00000000 00 6aaaaaaaaaaaaaaa aaaaaaaaaaaaaaab ffffffff",
       "14000000 00000000 0c001400 07000000 08000c00 0c000000 000000 02 0c000000"
       "03b0a3d8005e1b15 11000000 683ecff53ec5f683583a55551045c4a1 00 000000"},
      {"00000000 00 9555555555555555 5555555555555555 fffffffe",
       "14000000 00000000 0c000c00 00000000 00000400 0c000000 2a172e13a6988137"},
      {"00000000 00 9555555555555555 5555555555555555 ffffffff",
       "14000000 00000000 0c001400 07000800 00000c00 0c000000 000000 01 0c000000"
       "e2d63047f441f8aa 04000000 f4015802"},
      {"00000000 00 c000000000000000 0000000000000000 ffffffff",
       "14000000 00000000 0c001400 07000000 08000c00 0c000000 000000 02 0c000000"
       "ddf843bdd4861bca 11000000 683ecff53ec5f683583a55551045c4a1 00 000000"},
  };
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(hex_of(tiles[i].first), hex_of(unhex(tile_records[i][0])));
    EXPECT_EQ(hex_of(tiles[i].second), hex_of(unhex(tile_records[i][1]))) << "record " << i;
  }
  {
    const std::string key = unhex(tile_records[1][0]);
    EXPECT_EQ(spec_reader::tile_record_check(std::vector<uint8_t>(key.begin(), key.end()), 0, {}, {}),
              0x378198a6132e172aull)
        << "the tombstone's check: key || 00, then two empty inputs";
  }
  ASSERT_EQ(chunks.size(), 2u);
  const std::string scan_key = unhex("683ecff53ec5f683 583a55551045c4a1 00");
  const auto scan_chunk = std::find_if(chunks.begin(), chunks.end(), [&](const auto& e) { return e.first == scan_key; });
  ASSERT_NE(scan_chunk, chunks.end());
  EXPECT_EQ(scan_chunk->second.size(), 553u);
  EXPECT_EQ(hex_of(scan_chunk->second.substr(0, 24)), hex_of(unhex("01 01 01 02 00 04 00 00 11 02 00 00 00 00 00 00 1d 02 a5 00 e0 72 20 34")));
  EXPECT_EQ(XXH3_64bits(scan_chunk->second.data(), 16), 0x31f15e1e38bdbb6cull);
  const auto scan_refs = std::find_if(refs.begin(), refs.end(), [&](const auto& e) { return e.first == scan_key; });
  ASSERT_NE(scan_refs, refs.end());
  EXPECT_EQ(hex_of(scan_refs->second), "0200000000000000");
  std::vector<std::pair<std::string, std::string>> ref_checks;
  ASSERT_TRUE(lmdb_entries(file, "ref_checks", &ref_checks));
  const auto scan_check = std::find_if(ref_checks.begin(), ref_checks.end(), [&](const auto& e) { return e.first == scan_key; });
  ASSERT_NE(scan_check, ref_checks.end());
  EXPECT_EQ(hex_of(scan_check->second), "e36edb174aa15791");
  const std::string counted = scan_key + scan_refs->second;
  EXPECT_EQ(XXH3_64bits(counted.data(), counted.size()), 0x9157a14a17db6ee3ull) << "the count's check: key || count";
  const auto v2_chunk = std::find_if(chunks.begin(), chunks.end(), [&](const auto& e) { return e.first != scan_key; });
  ASSERT_NE(v2_chunk, chunks.end());
  std::string v2_expected = unhex(R"(
      02 01 00 01  00 02 00 00  23 01 00 00  02 00 00 00  1c 21 c2 4c 1f f6 4b 6b
      00 01 00 00  14 08 1e fe aa ac 60 b1
      0b 00 00 00  fc b2 99 3d 39 df d7 10)");
  for (int i = 0; i < 256; ++i) v2_expected += char(i);
  v2_expected += unhex("1f 07 01 00 e7 50 07 07 07 07 07");
  EXPECT_EQ(hex_of(v2_chunk->second), hex_of(v2_expected));
  EXPECT_EQ(spec_reader::chunk_seed(reinterpret_cast<const uint8_t*>(v2_expected.data())), 0xae9b7ef36ca2084bull);

  // The probes section 8 names: tile (0, -1) and blocks (0, -1), (-1, 0) in frame 1.
  EXPECT_EQ(hex(spec_reader::tile_key(0, 0, 0, -1, 1).data(), 25),
            hex_of(unhex("00000000 00 6aaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa fffffffe")));
  EXPECT_EQ(hex(spec_reader::tile_key(0, 0x80, 0, -1, 1).data(), 25),
            hex_of(unhex("00000000 80 6aaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa fffffffe")));
  EXPECT_EQ(hex(spec_reader::tile_key(0, 0x80, -1, 0, 1).data(), 25),
            hex_of(unhex("00000000 80 9555555555555555 5555555555555555 fffffffe")));

  // The pixels section 8 reads.
  const std::vector<Request> requests = {
      {"scan", Region{5, -3, 1, 1}, 1, {0}}, {"scan", Region{-1, 0, 1, 1}, 1, {0}},
      {"scan", Region{-1, 0, 1, 1}, 0, {0}}, {"scan", Region{21, -11, 1, 1}, 1, {0}},
      {"v2", Region{0, 0, 16, 16}, 0, {1}},
  };
  const std::vector<Answer> mine = spec_answers(file, requests);
  ASSERT_EQ(mine.size(), requests.size());
  const uint16_t want[] = {0, 0, 500, 85};
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(mine[i].pixels.size(), 2u) << mine[i].message;
    EXPECT_EQ(mine[i].pixels[0] | mine[i].pixels[1] << 8, want[i]) << label(requests[i]);
  }
  EXPECT_EQ(mine[4].pixels, std::vector<uint8_t>(256, 7));
  EXPECT_EQ(compare(file, requests), requests.size());
}

}  // namespace
}  // namespace tessera::test
