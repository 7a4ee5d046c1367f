// verify_test.cc — tessera::verify and `tessera verify`: a clean container is clean, and
// each fault damaged into a file on purpose (through raw LMDB or by overwriting bytes of the
// file) is reported by exactly the invariant names spec/FORMAT.md section 6 gives it, never
// by a crash.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "format/chunk_codec.h"
#include "format/keys.h"
#include "format/pyramid_record.h"
#include "format/records.h"
#include "tessera/verify.h"
#include "test_util.h"
#include "util/bytes.h"

extern char** environ;

namespace tessera::test {
namespace {

using detail::ChunkKey;
using detail::TileKeyBytes;
using AlignedBuffer = detail::AlignedBuffer;

// ---------------------------------------------------------------------------------------------
// Raw access beyond test_util.h: inserting entries, dropping a database, bytes of the file

bool lmdb_drop(const std::string& file, const char* db) {
  LmdbFile lmdb(file, true);
  if (!lmdb.env()) return false;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  int rc = mdb_txn_begin(lmdb.env(), nullptr, 0, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, db, 0, &dbi);
  if (rc == 0) rc = mdb_drop(txn, dbi, 1);
  if (rc == 0) return mdb_txn_commit(txn) == 0;
  if (txn) mdb_txn_abort(txn);
  return false;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}
uint64_t le_at(const std::string& bytes, size_t at, size_t width) {
  uint64_t v = 0;
  for (size_t i = width; i-- > 0;) v = (v << 8) | uint8_t(bytes[at + i]);
  return v;
}

std::string as_string(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::string as_string(const ChunkKey& k) { return std::string(k.begin(), k.end()); }
TileKeyBytes tile_key_of(const std::string& key) {
  TileKeyBytes out{};
  std::memcpy(out.data(), key.data(), out.size());
  return out;
}

// The distinct invariant names of a report.
std::set<std::string> names(const VerifyReport& report) {
  std::set<std::string> out;
  for (const Fault& f : report.faults) out.insert(f.invariant);
  return out;
}
std::string describe(const VerifyReport& report) {
  std::string out;
  for (const Fault& f : report.faults) out += "  " + f.invariant + ": " + f.message + "\n";
  return out.empty() ? "  (no faults)\n" : out;
}

// ---------------------------------------------------------------------------------------------
// The container: image "img" (u16, 1 band, 16x16 tiles, lz4), frames 0 and 1:
//  frame 0: tiles (0,0)..(3,1) noise (8 chunks), tile (4,0) the same bytes as (0,0) (a shared
//           chunk, count 2), tile (-1,0) uniform 7;
//  frame 1: tile (0,0) other noise.
class VerifyTest : public TempDirTest {
 protected:
  static constexpr size_t kTileBytes = 16 * 16 * 2;

  std::string file() const { return path("v.tsr"); }

  void SetUp() override {
    ImageSpec spec;
    spec.type = DataType::kU16;
    spec.tile_size = 16;
    Rng rng(5);
    ASSERT_OK_AND_ASSIGN(auto container, Container::create(file()));
    const std::vector<uint8_t> noise = rng.bytes(64 * 32 * 2);
    std::vector<uint8_t> first_tile(16 * 16 * 2);
    for (int y = 0; y < 16; ++y)
      std::memcpy(first_tile.data() + y * 32, noise.data() + y * 128, 32);
    const std::vector<uint8_t> uniform = repeat(sample_bytes_of(DataType::kU16, 7), 256);
    const std::vector<uint8_t> frame1 = rng.bytes(kTileBytes);
    ASSERT_OK(container.write([&](WriteTxn& txn) {
      TESSERA_RETURN_IF_ERROR(txn.create_image("img", spec));
      TESSERA_RETURN_IF_ERROR(txn.write("img", Region{0, 0, 64, 32}, {}, noise.data(), noise.size()));
      TESSERA_RETURN_IF_ERROR(
          txn.write("img", Region{64, 0, 16, 16}, {}, first_tile.data(), first_tile.size()));
      return txn.write("img", Region{-16, 0, 16, 16}, {}, uniform.data(), uniform.size());
    }));
    ASSERT_OK(container.write([&](WriteTxn& txn) {
      Selection sel;
      sel.frame = 1;
      return txn.write("img", Region{0, 0, 16, 16}, sel, frame1.data(), frame1.size());
    }));
  }

  static std::vector<uint8_t> repeat(const std::vector<uint8_t>& pixel, size_t n) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < n; ++i) out.insert(out.end(), pixel.begin(), pixel.end());
    return out;
  }

  VerifyReport run(const VerifyOptions& options = {}) {
    auto report = verify(file(), options);
    EXPECT_TRUE(report.is_ok()) << report.status().to_string();
    return report.is_ok() ? *report : VerifyReport{};
  }
  VerifyReport deep() {
    VerifyOptions options;
    options.deep = true;
    return run(options);
  }

  // A tile record of `db` "tiles" as stored, with its parsed fields.
  struct TileEntry {
    std::string key, value;
    detail::TileKey tile;
    detail::TileRecordFields fields;
  };
  std::vector<TileEntry> tile_entries() {
    std::vector<std::pair<std::string, std::string>> raw;
    std::string error;
    EXPECT_TRUE(lmdb_entries(file(), "tiles", &raw, &error)) << error;
    std::vector<TileEntry> out;
    for (auto& [k, v] : raw) {
      auto fields = detail::read_tile_record(reinterpret_cast<const uint8_t*>(v.data()), v.size());
      EXPECT_TRUE(fields.is_ok());
      out.push_back({k, v, detail::decode_tile_key(reinterpret_cast<const uint8_t*>(k.data())),
                     fields.is_ok() ? *fields : detail::TileRecordFields{}});
    }
    return out;
  }
  // The tile record of tile (x, y) frame `frame` at level 0.
  TileEntry tile_entry(int64_t x, int64_t y, uint32_t frame) {
    for (TileEntry& e : tile_entries())
      if (e.tile.tile == detail::TileCoord{x, y} && e.tile.frame == frame && e.tile.level == 0)
        return e;
    ADD_FAILURE() << "no tile record (" << x << "," << y << ") frame " << frame;
    return {};
  }
  // A count and its check in 'ref_checks', as a writer that miscounted would store them.
  void set_count(const std::string& key, uint64_t count) {
    std::string bytes(8, '\0'), check(8, '\0');
    ChunkKey k;
    std::copy(key.begin(), key.end(), k.begin());
    detail::put_le64(reinterpret_cast<uint8_t*>(bytes.data()), count);
    detail::put_le64(reinterpret_cast<uint8_t*>(check.data()), detail::ref_count_check(k, count));
    ASSERT_TRUE(lmdb_put(file(), "refs", key, bytes));
    ASSERT_TRUE(lmdb_put(file(), "ref_checks", key, check));
  }
  void replace_value(const char* db, const std::string& key, const std::string& value) {
    std::string error;
    ASSERT_TRUE(lmdb_edit_value(
        file(), db,
        [&](const std::string& k, std::string& v) {
          if (k != key) return false;
          v = value;
          return true;
        },
        &error))
        << error;
  }
  std::string encoded_chunk(const std::vector<uint8_t>& raw) {
    AlignedBuffer out;
    detail::encode_chunk(raw.data(), raw.size(), {CodecSpec{Codec::kLz4, 0}, Filter::kShuffle, 2}, out);
    return std::string(reinterpret_cast<const char*>(out.data()), out.size());
  }

  // The chosen meta page's fields: page size, main db root, and the chosen page's offset.
  struct MetaInfo {
    uint64_t page_size, main_root, chosen;
  };
  MetaInfo meta_info() {
    const std::string bytes = read_bytes(file());
    const uint64_t psize = le_at(bytes, 40, 4);
    const uint64_t t0 = le_at(bytes, 144, 8), t1 = le_at(bytes, psize + 144, 8);
    const uint64_t chosen = t1 > t0 ? psize : 0;
    return {psize, le_at(bytes, chosen + 128, 8), chosen};
  }
};

#define EXPECT_FAULTS(report, ...)                                                      \
  EXPECT_EQ(names(report), (std::set<std::string>{__VA_ARGS__})) << describe(report)

TEST_F(VerifyTest, CleanContainerIsClean) {
  const VerifyReport report = run();
  EXPECT_TRUE(report.clean()) << describe(report);
  EXPECT_EQ(report.images, 1u);
  EXPECT_EQ(report.tile_records, 11u);  // 8 + shared + uniform + frame 1
  EXPECT_EQ(report.chunks, 9u);
  EXPECT_EQ(report.references, 10u);
  EXPECT_GT(report.pages, 4u);
  const VerifyReport deep_report = deep();
  EXPECT_TRUE(deep_report.clean()) << describe(deep_report);
}

TEST_F(VerifyTest, EmptyContainerIsClean) {
  const std::string empty = path("empty.tsr");
  { ASSERT_OK(Container::create(empty)); }
  ASSERT_OK_AND_ASSIGN(auto report, verify(empty));
  EXPECT_TRUE(report.clean()) << describe(report);
}

TEST_F(VerifyTest, MissingChunk) {
  const TileEntry e = tile_entry(1, 0, 0);
  std::string error;
  ASSERT_TRUE(lmdb_delete(file(), "chunks",
                          [&](const std::string& k) { return k == as_string(e.fields.chunk); }, &error))
      << error;
  const VerifyReport report = run();
  EXPECT_FAULTS(report, "CHUNK_EXISTS", "REFCOUNT_HAS_CHUNK");
  for (const Fault& f : report.faults) {
    ChunkKey key;
    std::memcpy(key.data(), e.fields.chunk.data(), key.size());
    EXPECT_EQ(f.chunk_hex, detail::chunk_key_hex(key));
    if (f.invariant == "CHUNK_EXISTS") {
      EXPECT_EQ(f.image, "img");
      EXPECT_EQ(f.frame, 0u);
      EXPECT_EQ(f.tile, std::make_pair(int64_t(1), int64_t(0)));
    }
  }
}

TEST_F(VerifyTest, MissingChunkAndCount) {
  const TileEntry e = tile_entry(1, 0, 0);
  for (const char* db : {"chunks", "refs", "ref_checks"})
    ASSERT_TRUE(lmdb_delete(file(), db, [&](const std::string& k) { return k == as_string(e.fields.chunk); }));
  EXPECT_FAULTS(run(), "CHUNK_EXISTS");
}

TEST_F(VerifyTest, WrongReferenceCount) {
  const TileEntry e = tile_entry(2, 1, 0);
  ASSERT_NO_FATAL_FAILURE(set_count(as_string(e.fields.chunk), 2));  // one tile references it
  const VerifyReport report = run();
  EXPECT_FAULTS(report, "REFCOUNT_MATCHES");
  ASSERT_EQ(report.faults.size(), 1u);
  EXPECT_NE(report.faults[0].message.find("counts 2; 1 tile records"), std::string::npos)
      << report.faults[0].message;
}

// A damaged count (its check no longer matches) is refused by what reads it, before a write
// could drop a chunk still in use; a check without a count is a fault too.
TEST_F(VerifyTest, DamagedReferenceCount) {
  const TileEntry e = tile_entry(2, 1, 0);
  std::string count(8, '\0');
  count[0] = 2;
  replace_value("refs", as_string(e.fields.chunk), count);
  EXPECT_FAULTS(run(), "REFCOUNT_CHECKSUM");
  {
    OpenOptions read_only;
    read_only.read_only = true;
    ASSERT_OK_AND_ASSIGN(Container c, Container::open(file(), read_only));
    ASSERT_OK_AND_ASSIGN(Snapshot s, c.snapshot());
    auto pool = s.pool_stats();
    EXPECT_CODE(pool, Code::kCorrupt);
    EXPECT_NE(pool.status().message().find("fails its check in 'ref_checks'"), std::string::npos)
        << pool.status().message();
  }
  ASSERT_TRUE(lmdb_put(file(), "ref_checks", std::string(17, '\7'), std::string(8, '\0')));
  EXPECT_FAULTS(run(), "REFCOUNT_CHECKSUM");
}

TEST_F(VerifyTest, WrongReferenceCountSize) {
  const TileEntry e = tile_entry(2, 1, 0);
  replace_value("refs", as_string(e.fields.chunk), std::string(4, '\1'));
  EXPECT_FAULTS(run(), "REFCOUNT_SIZE");
}

TEST_F(VerifyTest, FlippedPayloadByte) {
  const TileEntry e = tile_entry(3, 0, 0);
  std::string error;
  ASSERT_TRUE(lmdb_edit_value(
      file(), "chunks",
      [&](const std::string& k, std::string& v) {
        if (k != as_string(e.fields.chunk)) return false;
        v[v.size() - 3] ^= 0x10;
        return true;
      },
      &error))
      << error;
  const VerifyReport report = run();
  EXPECT_FAULTS(report, "CHUNK_CHECKSUM");
  EXPECT_FAULTS(deep(), "CHUNK_CHECKSUM");
}

TEST_F(VerifyTest, DamagedChunkHeader) {
  const TileEntry e = tile_entry(3, 0, 0);
  std::string error;
  ASSERT_TRUE(lmdb_edit_value(
      file(), "chunks",
      [&](const std::string& k, std::string& v) {
        if (k != as_string(e.fields.chunk)) return false;
        v[12] = 1;  // reserved
        return true;
      },
      &error))
      << error;
  EXPECT_FAULTS(run(), "CHUNK_HEADER_VALID");
}

TEST_F(VerifyTest, TileRecordPointingNowhere) {
  // Tile (4,0) shares its chunk with (0,0): pointing it elsewhere leaves that chunk one
  // reference short, and the new key names no chunk.
  const TileEntry e = tile_entry(4, 0, 0);
  detail::TileValue value;
  value.kind = detail::TileKind::kChunk;
  value.chunk.fill(0x42);
  replace_value("tiles", e.key, as_string(detail::build_tile_record(tile_key_of(e.key), value)));
  const VerifyReport report = run();
  EXPECT_FAULTS(report, "CHUNK_EXISTS", "REFCOUNT_MATCHES");
  for (const Fault& f : report.faults)
    if (f.invariant == "CHUNK_EXISTS") {
      EXPECT_EQ(f.tile, std::make_pair(int64_t(4), int64_t(0)));
      EXPECT_EQ(f.chunk_hex, "4242424242424242424242424242424242");
    }
}

TEST_F(VerifyTest, TileRecordUnderAnotherKey) {
  // Two records swapped: each is valid, under the other's key. Counts are unchanged.
  const TileEntry a = tile_entry(1, 0, 0), b = tile_entry(2, 0, 0);
  replace_value("tiles", a.key, b.value);
  replace_value("tiles", b.key, a.value);
  const VerifyReport report = run();
  EXPECT_FAULTS(report, "TILE_RECORD_CHECKSUM");
  EXPECT_EQ(report.faults.size(), 2u) << describe(report);
}

TEST_F(VerifyTest, DamagedTileRecord) {
  const TileEntry e = tile_entry(1, 1, 0);
  replace_value("tiles", e.key, "not a flatbuffer");
  EXPECT_FAULTS(run(), "TILE_RECORD_VALID", "CHUNK_REFERENCED", "REFCOUNT_MATCHES");
}

TEST_F(VerifyTest, FrameBeyondCount) {
  detail::TileValue value;
  value.kind = detail::TileKind::kUniform;
  value.uniform = {9, 0};
  const TileKeyBytes key = detail::encode_tile_key(detail::TileKey{0, 0, {7, 7}, 2});
  ASSERT_TRUE(lmdb_put(file(), "tiles", std::string(key.begin(), key.end()),
                       as_string(detail::build_tile_record(key, value))));
  const VerifyReport report = run();
  EXPECT_FAULTS(report, "FRAME_WITHIN_COUNT");
  ASSERT_EQ(report.faults.size(), 1u);
  EXPECT_EQ(report.faults[0].frame, 2u);
  EXPECT_EQ(report.faults[0].tile, std::make_pair(int64_t(7), int64_t(7)));
}

TEST_F(VerifyTest, UniformRecordRules) {
  detail::TileValue fill;
  fill.kind = detail::TileKind::kUniform;
  fill.uniform = {0, 0};  // the fill pixel
  const TileKeyBytes k1 = detail::encode_tile_key(detail::TileKey{0, 0, {9, 9}, 0});
  ASSERT_TRUE(lmdb_put(file(), "tiles", std::string(k1.begin(), k1.end()),
                       as_string(detail::build_tile_record(k1, fill))));
  detail::TileValue wide = fill;
  wide.uniform = {1, 2, 3};
  const TileKeyBytes k2 = detail::encode_tile_key(detail::TileKey{0, 0, {9, 10}, 0});
  ASSERT_TRUE(lmdb_put(file(), "tiles", std::string(k2.begin(), k2.end()),
                       as_string(detail::build_tile_record(k2, wide))));
  const TileKeyBytes k3 = detail::encode_tile_key(detail::TileKey{5, 0, {9, 10}, 0});
  ASSERT_TRUE(lmdb_put(file(), "tiles", std::string(k3.begin(), k3.end()),
                       as_string(detail::build_tile_record(k3, wide))));
  ASSERT_TRUE(lmdb_put(file(), "tiles", "short key", "x"));
  EXPECT_FAULTS(run(), "TILE_NOT_FILL", "TILE_UNIFORM_SIZE", "TILE_KEY_IMAGE_EXISTS", "TILE_KEY_SIZE");
}

TEST_F(VerifyTest, UnreferencedChunk) {
  std::vector<uint8_t> raw(kTileBytes);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = uint8_t(i * 7);
  const detail::ContentHash h = detail::content_hash(raw.data(), raw.size());
  const ChunkKey key = detail::make_chunk_key(h.hi, h.lo, 0);
  ASSERT_TRUE(lmdb_put(file(), "chunks", as_string(key), encoded_chunk(raw)));
  ASSERT_NO_FATAL_FAILURE(set_count(as_string(key), 1));
  const VerifyReport report = run();
  EXPECT_FAULTS(report, "CHUNK_REFERENCED", "REFCOUNT_MATCHES");
  for (const Fault& f : report.faults) EXPECT_EQ(f.chunk_hex, detail::chunk_key_hex(key));
  EXPECT_TRUE(deep().faults.size() == 2) << describe(deep());
}

TEST_F(VerifyTest, WrongContentHashOnlyWithDeep) {
  // A valid chunk (checksum included) of other bytes under an existing chunk's key.
  const TileEntry e = tile_entry(2, 0, 0);
  std::vector<uint8_t> other(kTileBytes);
  for (size_t i = 0; i < other.size(); ++i) other[i] = uint8_t(i * 13 + 1);
  replace_value("chunks", as_string(e.fields.chunk), encoded_chunk(other));
  EXPECT_TRUE(run().clean()) << describe(run());
  EXPECT_FAULTS(deep(), "CHUNK_CONTENT_HASH");
}

TEST_F(VerifyTest, UniformChunkOnlyWithDeep) {
  const TileEntry e = tile_entry(2, 0, 0);
  replace_value("chunks", as_string(e.fields.chunk), encoded_chunk(std::vector<uint8_t>(kTileBytes, 3)));
  EXPECT_TRUE(run().clean());
  EXPECT_FAULTS(deep(), "CHUNK_CONTENT_HASH", "TILE_CHUNK_NOT_UNIFORM");
}

TEST_F(VerifyTest, ChunkOfTheWrongRawSize) {
  const TileEntry e = tile_entry(2, 0, 0);
  std::vector<uint8_t> raw(kTileBytes / 2);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = uint8_t(i * 5);
  replace_value("chunks", as_string(e.fields.chunk), encoded_chunk(raw));
  EXPECT_FAULTS(run(), "CHUNK_RAW_SIZE_MATCHES_IMAGE");
  // Stored raw (read in place from the map by a reader without a cache), valid in itself, but
  // half a tile: reads refuse it rather than run past the value.
  AlignedBuffer half;
  const std::vector<uint8_t> noise = Rng(8).bytes(kTileBytes / 2);
  detail::encode_chunk(noise.data(), noise.size(), {CodecSpec{Codec::kNone, 0}, Filter::kNone, 2}, half);
  replace_value("chunks", as_string(e.fields.chunk),
                std::string(reinterpret_cast<const char*>(half.data()), half.size()));
  EXPECT_FAULTS(run(), "CHUNK_RAW_SIZE_MATCHES_IMAGE");
  for (uint64_t cache_bytes : {uint64_t(0), uint64_t(1) << 20}) {
    OpenOptions options;
    options.tile_cache_bytes = cache_bytes;
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(file(), options));
    ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
    std::vector<uint8_t> got(kTileBytes);
    Status s = snap.read("img", Region{32, 0, 16, 16}, {}, got.data(), got.size());
    EXPECT_EQ(s.code(), Code::kCorrupt) << s.to_string();
    EXPECT_NE(s.message().find("raw size"), std::string::npos) << s.message();
  }
}

// A chunk shared by images whose tiles differ in size (a damaged file): a decoded tile the
// cache holds for one image is never served to the other, which would read past it.
TEST_F(VerifyTest, CachedTileOfAnotherSizeIsNotServed) {
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(file()));
    ImageSpec spec;
    spec.type = DataType::kU16;
    spec.tile_size = 32;  // 2048-byte tiles; img's are 512
    const std::vector<uint8_t> data = Rng(3).bytes(32 * 32 * 2);
    ASSERT_OK(c.write([&](WriteTxn& t) {
      TESSERA_RETURN_IF_ERROR(t.create_image("big", spec));
      return t.write("big", Region{0, 0, 32, 32}, {}, data.data(), data.size());
    }));
  }
  const TileEntry small = tile_entry(2, 0, 0);
  std::string big_key;
  for (const TileEntry& e : tile_entries())
    if (e.tile.image == 1) big_key = e.key;
  ASSERT_FALSE(big_key.empty());
  detail::TileValue value;
  value.kind = detail::TileKind::kChunk;
  std::memcpy(value.chunk.data(), small.fields.chunk.data(), value.chunk.size());
  replace_value("tiles", big_key, as_string(detail::build_tile_record(tile_key_of(big_key), value)));
  EXPECT_FAULTS(run(), "CHUNK_RAW_SIZE_MATCHES_IMAGE", "REFCOUNT_MATCHES", "CHUNK_REFERENCED");
  OpenOptions options;
  options.tile_cache_bytes = uint64_t(1) << 20;
  ASSERT_OK_AND_ASSIGN(auto c, Container::open(file(), options));
  ASSERT_OK_AND_ASSIGN(auto snap, c.snapshot());
  std::vector<uint8_t> got(32 * 32 * 2);
  ASSERT_OK(snap.read("img", Region{32, 0, 16, 16}, {}, got.data(), kTileBytes));  // cached now
  Status s = snap.read("big", Region{0, 0, 32, 32}, {}, got.data(), got.size());
  EXPECT_EQ(s.code(), Code::kCorrupt) << s.to_string();
}

TEST_F(VerifyTest, ImageRecordFaults) {
  ASSERT_TRUE(lmdb_put(file(), "images", std::string("\0\0\0\7", 4), "garbage"));
  EXPECT_FAULTS(run(), "IMAGE_RECORD_VALID");
}

TEST_F(VerifyTest, ImageUnderAnotherIdAndDuplicateName) {
  std::vector<std::pair<std::string, std::string>> images;
  ASSERT_TRUE(lmdb_entries(file(), "images", &images));
  ASSERT_EQ(images.size(), 1u);
  ASSERT_TRUE(lmdb_put(file(), "images", std::string("\0\0\0\5", 4), images[0].second));
  EXPECT_FAULTS(run(), "IMAGE_KEY_MATCHES_ID", "IMAGE_NAME_VALID");
}

// A record written by hand with a newline in its name (writers refuse such names).
TEST_F(VerifyTest, ImageNameWithAControlCharacter) {
  std::vector<std::pair<std::string, std::string>> images;
  ASSERT_TRUE(lmdb_entries(file(), "images", &images));
  ASSERT_EQ(images.size(), 1u);
  auto info = detail::parse_image_record(reinterpret_cast<const uint8_t*>(images[0].second.data()),
                                         images[0].second.size(), true);
  ASSERT_OK(info);
  info->name = "two\nlines";
  const auto record = detail::build_image_record(*info);
  ASSERT_TRUE(lmdb_put(file(), "images", images[0].first, std::string(record.begin(), record.end())));
  EXPECT_FAULTS(run(), "IMAGE_NAME_VALID");
}

TEST_F(VerifyTest, MetaRecordFaults) {
  auto header_with = [&](const std::string& magic, uint16_t major, uint16_t minor) {
    detail::FormatHeader h;
    h.major = major;
    h.minor = minor;
    std::vector<uint8_t> bytes = detail::build_format_header(h);
    if (magic != "tessera") {  // the builder always writes 'tessera': patch the string
      auto at = std::search(bytes.begin(), bytes.end(), std::begin("tessera"), std::end("tessera") - 1);
      std::copy(magic.begin(), magic.end(), at);
    }
    return as_string(bytes);
  };
  replace_value("meta", "format", header_with("tessera", 1, 1));
  EXPECT_TRUE(run().clean()) << describe(run());  // older versions are known
  replace_value("meta", "format", header_with("tessera", 2, 0));
  EXPECT_TRUE(run().clean()) << describe(run());  // the current version
  replace_value("meta", "format", header_with("tessera", 2, 7));
  EXPECT_TRUE(run().clean()) << describe(run());  // newer minors are read
  replace_value("meta", "format", header_with("tessirx", 2, 0));
  EXPECT_FAULTS(run(), "META_MAGIC");
  replace_value("meta", "format", header_with("tessera", 3, 0));
  EXPECT_TRUE(run().clean()) << describe(run());  // the delta filter's version
  replace_value("meta", "format", header_with("tessera", 4, 0));
  EXPECT_FAULTS(run(), "META_VERSION");
  replace_value("meta", "format", header_with("tessera", 0, 9));
  EXPECT_FAULTS(run(), "META_VERSION");
  replace_value("meta", "format", "xx");
  EXPECT_FAULTS(run(), "META_RECORD_VALID");
  ASSERT_TRUE(lmdb_delete(file(), "meta", [](const std::string&) { return true; }));
  EXPECT_FAULTS(run(), "META_RECORD_VALID");
}

TEST_F(VerifyTest, LevelsAndMacroBlocks) {
  // A macro-block record (level byte 0x80) of kind uniform is valid; of another kind not.
  detail::TileValue uniform;
  uniform.kind = detail::TileKind::kUniform;
  uniform.uniform = {5, 0};
  const TileKeyBytes macro = detail::encode_tile_key(detail::TileKey{0, 0x80, {0, 0}, 0});
  ASSERT_TRUE(lmdb_put(file(), "tiles", std::string(macro.begin(), macro.end()),
                       as_string(detail::build_tile_record(macro, uniform))));
  VerifyReport report = run();
  EXPECT_TRUE(report.clean()) << describe(report);
  EXPECT_EQ(report.macro_records, 1u);
  const TileKeyBytes macro2 = detail::encode_tile_key(detail::TileKey{0, 0x80, {-1, 0}, 0});
  ASSERT_TRUE(lmdb_put(file(), "tiles", std::string(macro2.begin(), macro2.end()),
                       as_string(detail::build_tile_record(macro2, detail::TileValue{}))));
  EXPECT_FAULTS(run(), "MACRO_RECORD_UNIFORM");
  // Pyramid levels 1..62 are tile records like level 0's (format 2.2); 63 on are reserved.
  const TileKeyBytes level1 = detail::encode_tile_key(detail::TileKey{0, 1, {0, 0}, 0});
  ASSERT_TRUE(lmdb_put(file(), "tiles", std::string(level1.begin(), level1.end()),
                       as_string(detail::build_tile_record(level1, uniform))));
  EXPECT_FAULTS(run(), "MACRO_RECORD_UNIFORM");
  const TileKeyBytes level63 = detail::encode_tile_key(detail::TileKey{0, 63, {0, 0}, 0});
  ASSERT_TRUE(lmdb_put(file(), "tiles", std::string(level63.begin(), level63.end()),
                       as_string(detail::build_tile_record(level63, uniform))));
  EXPECT_FAULTS(run(), "MACRO_RECORD_UNIFORM", "TILE_LEVEL_KNOWN");
}

TEST_F(VerifyTest, PyramidRecords) {
  // A record of a frame the image does not have, one under a short key, a damaged one.
  const std::vector<uint8_t> key = detail::pyramid_record_key(0, 9);
  detail::PyramidValue value;
  value.info = PyramidInfo{2, Resampling::kMean, 0};
  ASSERT_TRUE(lmdb_put(file(), "meta", std::string(key.begin(), key.end()),
                       as_string(detail::build_pyramid_record(key, value))));
  EXPECT_FAULTS(run(), "PYRAMID_RECORD_VALID");
  ASSERT_TRUE(lmdb_put(file(), "meta", "pyramid/x", "y"));
  const std::vector<uint8_t> frame0 = detail::pyramid_record_key(0, 0);
  std::vector<uint8_t> record = detail::build_pyramid_record(frame0, value);
  record[record.size() / 2] ^= 1;
  ASSERT_TRUE(lmdb_put(file(), "meta", std::string(frame0.begin(), frame0.end()), as_string(record)));
  VerifyReport report = run();
  EXPECT_EQ(report.faults.size(), 3u) << describe(report);
  EXPECT_EQ(report.pyramid_records, 3u);
  for (const Fault& f : report.faults) EXPECT_EQ(f.invariant, "PYRAMID_RECORD_VALID") << f.message;
}

TEST_F(VerifyTest, GeometryRecords) {
  VerifyReport report = run();
  EXPECT_TRUE(report.clean()) << describe(report);
  EXPECT_GT(report.geometry_records, 0u);
  ASSERT_TRUE(lmdb_put(file(), "geometry", "anything", "at all"));
  EXPECT_FAULTS(run(), "GEOMETRY_KEY_VALID");
  // A record of a frame the image does not have, and a damaged record.
  const auto key = detail::encode_geometry_key(0, 7, 2);
  ASSERT_TRUE(lmdb_put(file(), "geometry", std::string(key.begin(), key.end()), "garbage"));
  EXPECT_FAULTS(run(), "GEOMETRY_KEY_VALID", "GEOMETRY_RECORD_VALID");
}

TEST_F(VerifyTest, MissingDatabase) {
  ASSERT_TRUE(lmdb_drop(file(), "refs"));
  EXPECT_FAULTS(run(), "DATABASES_PRESENT");
}

// Every fault that makes open refuse the file is one verify reports: a file of a version that
// has the geometry database, without it.
TEST_F(VerifyTest, WhatOpenRefusesVerifyReports) {
  ASSERT_TRUE(lmdb_drop(file(), "geometry"));
  OpenOptions read_only;
  read_only.read_only = true;
  auto refused = Container::open(file(), read_only);
  EXPECT_CODE(refused, Code::kCorrupt);
  EXPECT_FAULTS(run(), "DATABASES_PRESENT");
}

TEST_F(VerifyTest, FaultsBeyondTheLimitAreCounted) {
  for (const TileEntry& e : tile_entries())
    if (e.fields.kind == 2) replace_value("tiles", e.key, "bad");
  VerifyOptions options;
  options.max_faults = 3;
  const VerifyReport report = run(options);
  EXPECT_EQ(report.faults.size(), 3u);
  EXPECT_GT(report.faults_omitted, 0u);
  EXPECT_FALSE(report.clean());
}

// ---------------------------------------------------------------------------------------------
// LMDB structure

TEST_F(VerifyTest, DamagedMetaPage) {
  std::string bytes = read_bytes(file());
  const uint64_t psize = le_at(bytes, 40, 4);
  bytes[psize + 20] = 9;  // LMDB data version of meta page 1
  write_bytes(file(), bytes);
  EXPECT_FAULTS(run(), "LMDB_META_VALID");
}

TEST_F(VerifyTest, DamagedPageHeader) {
  const MetaInfo m = meta_info();
  std::string bytes = read_bytes(file());
  bytes[m.main_root * m.page_size + 10] = char(0x44);  // page flags
  write_bytes(file(), bytes);
  EXPECT_FAULTS(run(), "LMDB_PAGE_VALID");
}

TEST_F(VerifyTest, PageOutsideTheTree) {
  const MetaInfo m = meta_info();
  std::string bytes = read_bytes(file());
  for (int i = 0; i < 8; ++i) bytes[m.chosen + 128 + i] = char(0x7f);  // main root far away
  write_bytes(file(), bytes);
  EXPECT_FAULTS(run(), "LMDB_META_VALID");
}

TEST_F(VerifyTest, TruncatedFile) {
  std::string bytes = read_bytes(file());
  bytes.resize(bytes.size() / 2);
  write_bytes(file(), bytes);
  const VerifyReport report = run();
  ASSERT_FALSE(report.clean());
  for (const Fault& f : report.faults) EXPECT_EQ(f.invariant.rfind("LMDB_", 0), 0u) << describe(report);
}

TEST_F(VerifyTest, NotAnLmdbFile) {
  write_bytes(file(), "this is not a container, just some text long enough to have bytes 16..19");
  EXPECT_FAULTS(run(), "LMDB_SIGNATURE");
  write_bytes(file(), "");
  EXPECT_FAULTS(run(), "LMDB_SIGNATURE");
  ASSERT_OK_AND_ASSIGN(auto report, verify(tmp_.dir().string()));  // a directory
  EXPECT_FAULTS(report, "LMDB_SIGNATURE");
  EXPECT_CODE(verify(path("missing.tsr")), Code::kNotFound);
}

// Random damage anywhere in the file: verify reports or passes, and never crashes (run this
// under the sanitizer build).
TEST_F(VerifyTest, RandomDamageNeverCrashes) {
  const std::string pristine = read_bytes(file());
  Rng rng(11);
  int faulted = 0;
  for (int round = 0; round < 300; ++round) {
    std::string bytes = pristine;
    const int flips = int(rng.uniform(1, 8));
    for (int i = 0; i < flips; ++i) bytes[rng.index(bytes.size())] ^= char(1 << rng.uniform(0, 7));
    write_bytes(file(), bytes);
    std::remove((file() + "-lock").c_str());
    VerifyOptions options;
    options.deep = true;
    auto report = verify(file(), options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    faulted += !report->clean();
  }
  EXPECT_GT(faulted, 0);
}

// ---------------------------------------------------------------------------------------------
// Counting references beyond the sort budget (sorted runs in temporary files)

TEST_F(VerifyTest, ManyReferencesThroughSpilledRuns) {
  {
    ASSERT_OK_AND_ASSIGN(auto container, Container::open(file()));
    Rng rng(3);
    const std::vector<uint8_t> noise = rng.bytes(256 * 128 * 2);
    ASSERT_OK(container.write([&](WriteTxn& txn) {
      TESSERA_RETURN_IF_ERROR(txn.write("img", Region{0, 64, 256, 128}, {}, noise.data(), noise.size()));
      return txn.write("img", Region{0, 256, 256, 128}, {}, noise.data(), noise.size());  // dedup
    }));
  }
  VerifyOptions options;
  options.sort_memory_bytes = 1;  // 64 references per run
  VerifyReport report = run(options);
  EXPECT_TRUE(report.clean()) << describe(report);
  EXPECT_GT(report.references, 256u);
  // A wrong count is still found through the merge.
  const TileEntry e = tile_entry(15, 11, 0);
  ASSERT_NO_FATAL_FAILURE(set_count(as_string(e.fields.chunk), 5));
  EXPECT_FAULTS(run(options), "REFCOUNT_MATCHES");
}

// ---------------------------------------------------------------------------------------------
// The command line

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun run_cli(const TempDir& tmp, const std::vector<std::string>& args) {
  const std::string out_path = tmp.path("cli.out"), err_path = tmp.path("cli.err");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {TESSERA_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  CliRun result;
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, TESSERA_CLI_PATH, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return result;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_bytes(out_path);
  result.err = read_bytes(err_path);
  return result;
}

TEST_F(VerifyTest, CliExitCodesAndReports) {
  CliRun r = run_cli(tmp_, {"verify", file()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": clean ("), std::string::npos) << r.out;
  r = run_cli(tmp_, {"verify", file(), "--deep", "--json"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  auto clean = nlohmann::json::parse(r.out);
  EXPECT_EQ(clean["clean"], true);
  EXPECT_EQ(clean["counts"]["chunks"], 9);

  const TileEntry e = tile_entry(1, 0, 0);
  ASSERT_TRUE(lmdb_delete(file(), "chunks", [&](const std::string& k) { return k == as_string(e.fields.chunk); }));
  r = run_cli(tmp_, {"verify", file()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("CHUNK_EXISTS: image 'img' tile (1,0) frame 0: chunk "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(": 2 faults ("), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
  r = run_cli(tmp_, {"verify", "--json", file()});
  EXPECT_EQ(r.code, 1);
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["file"], file());
  EXPECT_EQ(report["clean"], false);
  ASSERT_EQ(report["faults"].size(), 2u);
  for (const auto& f : report["faults"]) {
    if (f["invariant"] != "CHUNK_EXISTS") continue;
    EXPECT_EQ(f["image"], "img");
    EXPECT_EQ(f["frame"], 0);
    EXPECT_EQ(f["tile"], nlohmann::json::array({1, 0}));
    EXPECT_EQ(f["chunk"].get<std::string>().size(), 34u);
  }

  r = run_cli(tmp_, {"verify"});
  EXPECT_EQ(r.code, 2);
  r = run_cli(tmp_, {"verify", file(), "--shallow"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  r = run_cli(tmp_, {"verify", path("missing.tsr")});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace tessera::test
