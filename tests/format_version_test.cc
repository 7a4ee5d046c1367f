// format_version_test.cc — the version rule at open (spec/FORMAT.md section 3): files of an older
// format are read and upgraded when opened for writing, a newer minor version is read-only, an
// unknown major version is refused; a writer stops when another process made its file newer.
// The files are made old or new by rewriting their format header through plain liblmdb.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "format/records.h"
#include "tessera/container.h"
#include "tessera/verify.h"
#include "test_util.h"

namespace tessera::test {
namespace {

using seq_file::kTile;

// f.tsr with image "seq" (test_util.h), and raw edits of its format header and databases.
class FormatVersionTest : public SeqFileTest {
 protected:
  // Runs `body` in one write transaction on f.tsr through plain liblmdb and commits it.
  void with_lmdb_txn(const std::function<void(MDB_txn*)>& body) {
    LmdbFile lmdb(path("f.tsr"), true);
    ASSERT_NE(lmdb.env(), nullptr) << lmdb.error();
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(lmdb.env(), nullptr, 0, &txn), 0);
    body(txn);
    if (HasFatalFailure()) return mdb_txn_abort(txn);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  // Rewrites f.tsr's format header.
  void set_format(uint16_t major, uint16_t minor, const std::string& creator = {}) {
    detail::FormatHeader header;
    header.major = major;
    header.minor = minor;
    header.creator = creator;
    const auto bytes = detail::build_format_header(header);
    with_lmdb_txn([&](MDB_txn* txn) {
      MDB_dbi meta = 0;
      ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
      MDB_val key{6, const_cast<char*>("format")}, value{bytes.size(), const_cast<uint8_t*>(bytes.data())};
      ASSERT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
    });
  }
  // Deletes one of f.tsr's databases, as an older file (or a damaged one) lacks it.
  void drop_database(const char* name) {
    with_lmdb_txn([&](MDB_txn* txn) {
      MDB_dbi dbi = 0;
      ASSERT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0);
      ASSERT_EQ(mdb_drop(txn, dbi, 1), 0);
    });
  }
  void drop_geometry() { drop_database("geometry"); }
  // f.tsr's format header as stored.
  detail::FormatHeader format_header() {
    std::vector<std::pair<std::string, std::string>> meta;
    EXPECT_TRUE(lmdb_entries(path("f.tsr"), "meta", &meta));
    for (const auto& [key, value] : meta)
      if (key == "format") {
        auto h = detail::parse_format_header(reinterpret_cast<const uint8_t*>(value.data()), value.size());
        if (h) return *h;
      }
    ADD_FAILURE() << "no readable format header";
    return {};
  }
};

// A file written before format 1.1 (no geometry database, version 1.0) reads with its boxes
// computed on demand, and becomes the current version when opened for writing.
TEST_F(FormatVersionTest, Format10FileIsReadAndUpgraded) {
  Rng rng(12);
  ASSERT_OK(write_tiles(0, 2, 3, rng));
  container_.reset();
  ASSERT_NO_FATAL_FAILURE(drop_geometry());
  ASSERT_NO_FATAL_FAILURE(set_format(1, 0, "tessera 0.1.0"));
  const Region expected{2 * kTile, 0, 3 * kTile, kTile};
  OpenOptions read_only;
  read_only.read_only = true;
  for (const OpenOptions& options : {read_only, OpenOptions{}}) {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("f.tsr"), options));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    for (Precision p : {Precision::kOperative, Precision::kLeaf, Precision::kExact}) {
      ASSERT_OK_AND_ASSIGN(auto box, s.bounds("seq", 0, p));
      EXPECT_EQ(box, expected) << precision_name(p);
    }
  }
  const detail::FormatHeader header = format_header();
  EXPECT_EQ(header.version(), detail::kBaseFormatVersion);
  EXPECT_EQ(header.creator, "tessera 0.1.0");
  // Writes to the upgraded file keep its (new) caches right.
  auto c = Container::open(path("f.tsr"));
  ASSERT_OK(c);
  container_.emplace(std::move(*c));
  ASSERT_OK(write_tiles(0, 6, 1, rng));
  ASSERT_OK_AND_ASSIGN(auto s, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto box, s.bounds("seq", 0, Precision::kExact));
  EXPECT_EQ(box, (Region{2 * kTile, 0, 5 * kTile, kTile}));
  container_.reset();
  expect_verifies(path("f.tsr"));
}

// A 2.0 file (no attributes database) reads with no attributes, and gains the database (and
// the version this build writes, 2.2) when opened for writing; a 2.1 file without it is damaged.
TEST_F(FormatVersionTest, Format20FileGainsAttributesWhenWritten) {
  container_.reset();
  ASSERT_NO_FATAL_FAILURE(drop_database("attributes"));
  ASSERT_NO_FATAL_FAILURE(set_format(2, 0));
  OpenOptions read_only;
  read_only.read_only = true;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("f.tsr"), read_only));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    ASSERT_OK_AND_ASSIGN(auto none, s.attributes("seq"));
    EXPECT_TRUE(none.empty());
  }
  ASSERT_OK_AND_ASSIGN(auto report, verify(path("f.tsr")));
  EXPECT_TRUE(report.clean()) << report.faults.front().message;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("f.tsr")));
    EXPECT_EQ(c.format_version(), (FormatVersion{2, 3}));
    ASSERT_OK(c.write([](WriteTxn& t) { return t.set_attribute("seq", "unit", std::string("nm")); }));
  }
  EXPECT_EQ(to_string(format_header().version()), "2.3");
  expect_verifies(path("f.tsr"));

  ASSERT_NO_FATAL_FAILURE(drop_database("attributes"));
  auto damaged = Container::open(path("f.tsr"), read_only);
  EXPECT_CODE(damaged, Code::kCorrupt);
  EXPECT_NE(damaged.status().message().find("database 'attributes' is missing"), std::string::npos)
      << damaged.status().message();
  ASSERT_OK_AND_ASSIGN(auto missing, verify(path("f.tsr")));
  ASSERT_FALSE(missing.faults.empty());
  EXPECT_EQ(missing.faults[0].invariant, "DATABASES_PRESENT");
}

// The version rule (spec/FORMAT.md section 3) at open: older majors are read and upgraded when
// opened for writing; a newer minor is read-only; an unknown major is refused.
TEST_F(FormatVersionTest, FormatVersionsOpenAsTheVersionRuleSays) {
  Rng rng(13);
  ASSERT_OK(write_tiles(0, 0, 2, rng));
  container_.reset();
  auto version = [&] { return to_string(format_header().version()); };
  OpenOptions read_only;
  read_only.read_only = true;
  const std::string current = to_string(detail::kBaseFormatVersion);

  auto opens = [&](const OpenOptions& options) { return Container::open(path("f.tsr"), options).is_ok(); };
  ASSERT_NO_FATAL_FAILURE(set_format(1, 1));
  EXPECT_TRUE(opens(read_only));
  EXPECT_EQ(version(), "1.1");  // reading changes nothing
  {
    auto c = Container::open(path("f.tsr"), read_only);
    ASSERT_TRUE(c.is_ok());
    EXPECT_EQ(c->format_version(), (FormatVersion{1, 1}));
  }
  {
    auto c = Container::open(path("f.tsr"));
    ASSERT_TRUE(c.is_ok());
    EXPECT_EQ(c->format_version(), detail::kBaseFormatVersion);
  }
  EXPECT_EQ(version(), current);  // opened for writing: upgraded

  // 2.4 (mapped images) is written, and stays 2.4; a minor newer than that of major 2 is
  // read-only (3.0 is not "newer").
  ASSERT_NO_FATAL_FAILURE(set_format(2, detail::kNewest2xVersion.minor));
  EXPECT_TRUE(opens(OpenOptions{}));
  EXPECT_EQ(version(), to_string(detail::kNewest2xVersion));
  ASSERT_NO_FATAL_FAILURE(set_format(2, detail::kNewest2xVersion.minor + 1));
  EXPECT_TRUE(opens(read_only));
  EXPECT_FALSE(opens(OpenOptions{}));

  ASSERT_NO_FATAL_FAILURE(set_format(detail::kFormatMajor, detail::kFormatMinor + 3));
  EXPECT_TRUE(opens(read_only));
  auto newer = Container::open(path("f.tsr"));
  ASSERT_FALSE(newer.is_ok());
  EXPECT_EQ(newer.status().code(), Code::kUnsupported);
  EXPECT_NE(newer.status().message().find("newer than this build writes"), std::string::npos)
      << newer.status().message();

  // A writer that opened the file before another process made it newer stops at its next
  // write transaction.
  ASSERT_NO_FATAL_FAILURE(set_format(detail::kFormatMajor, detail::kFormatMinor));
  {
    auto writer = Container::open(path("f.tsr"));
    ASSERT_TRUE(writer.is_ok());
    ASSERT_NO_FATAL_FAILURE(set_format(detail::kFormatMajor, detail::kFormatMinor + 1));
    auto txn = writer->begin_write();
    ASSERT_FALSE(txn.is_ok());
    EXPECT_EQ(txn.status().code(), Code::kUnsupported) << txn.status().to_string();
  }

  for (uint16_t major : {uint16_t(0), uint16_t(detail::kFormatMajor + 1)}) {
    ASSERT_NO_FATAL_FAILURE(set_format(major, 0));
    for (const OpenOptions& options : {read_only, OpenOptions{}}) {
      auto refused = Container::open(path("f.tsr"), options);
      ASSERT_FALSE(refused.is_ok()) << major;
      EXPECT_EQ(refused.status().code(), Code::kUnsupported) << refused.status().to_string();
      EXPECT_NE(refused.status().message().find("is not supported"), std::string::npos);
    }
  }

  // From 1.1 on, the geometry database is part of the file: without it the file is damaged.
  ASSERT_NO_FATAL_FAILURE(set_format(detail::kFormatMajor, detail::kFormatMinor));
  ASSERT_NO_FATAL_FAILURE(drop_geometry());
  auto damaged = Container::open(path("f.tsr"), read_only);
  ASSERT_FALSE(damaged.is_ok());
  EXPECT_EQ(damaged.status().code(), Code::kCorrupt) << damaged.status().to_string();
}

// A file stays 2.2 (what every 2.x reader reads) until a transaction stores what only 3.0
// holds: an image asking for the delta filter, or a chunk encoded with it. A transaction that
// fails leaves the header as it was.
TEST_F(FormatVersionTest, DeltaFilterMakesTheFile30InItsTransaction) {
  // A smooth u16 image: chunks that compress.
  ImageSpec smooth;
  smooth.type = DataType::kU16;
  std::vector<uint16_t> ramp(512 * 256);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = uint16_t(i % 512 * 7 + i / 512);
  ASSERT_OK(container_->write([&](WriteTxn& t) -> Status {
    TESSERA_RETURN_IF_ERROR(t.create_image("smooth", smooth));
    return t.write("smooth", Region{0, 0, 512, 256}, Selection{}, ramp.data(), ramp.size() * 2);
  }));
  EXPECT_EQ(format_header().version(), detail::kBaseFormatVersion);
  // Chunks recompressed with the delta filter.
  RecompressOptions options;
  options.codec = CodecSpec{Codec::kZstd, 1};
  options.filter = Filter::kDelta;
  ASSERT_OK_AND_ASSIGN(RecompressReport report, container_->recompress("smooth", options));
  EXPECT_GT(report.rewritten, 0u);
  EXPECT_EQ(format_header().version(), detail::delta_version_of(detail::kBaseFormatVersion));
  EXPECT_EQ(container_->format_version(), detail::delta_version_of(detail::kBaseFormatVersion));
  ASSERT_OK_AND_ASSIGN(VerifyReport verified, verify(path("f.tsr"), VerifyOptions{.deep = true}));
  EXPECT_TRUE(verified.clean()) << (verified.faults.empty() ? "" : verified.faults[0].message);
  // The same chunks in a file that says 2.2: verify names the fault.
  container_.reset();
  ASSERT_NO_FATAL_FAILURE(set_format(2, 2));
  ASSERT_OK_AND_ASSIGN(VerifyReport wrong, verify(path("f.tsr")));
  ASSERT_FALSE(wrong.clean());
  EXPECT_EQ(wrong.faults[0].invariant, "FORMAT_HOLDS_FILTER") << wrong.faults[0].message;

  // Back to the shuffle: the file may say 2.2 again. An image asking for delta makes it 3.0,
  // in the transaction that creates it and only if that transaction commits.
  ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("f.tsr")));
  options.filter = Filter::kShuffle;
  ASSERT_OK_AND_ASSIGN(RecompressReport shuffled, c.recompress("smooth", options));
  EXPECT_EQ(shuffled.rewritten, report.rewritten);
  ASSERT_OK_AND_ASSIGN(VerifyReport back, verify(path("f.tsr")));
  EXPECT_TRUE(back.clean()) << (back.faults.empty() ? "" : back.faults[0].message);
  EXPECT_EQ(format_header().version(), detail::kBaseFormatVersion);
  ImageSpec delta;
  delta.type = DataType::kU16;
  delta.filter = Filter::kDelta;
  Status failed = c.write([&](WriteTxn& t) -> Status {
    TESSERA_RETURN_IF_ERROR(t.create_image("d", delta));
    return Status(Code::kInvalidArgument, "changed my mind");
  });
  EXPECT_EQ(failed.code(), Code::kInvalidArgument);
  EXPECT_EQ(format_header().version(), detail::kBaseFormatVersion);
  EXPECT_EQ(c.format_version(), detail::kBaseFormatVersion);
  ASSERT_OK(c.write([&](WriteTxn& t) { return t.create_image("d", delta); }));
  EXPECT_EQ(format_header().version(), detail::delta_version_of(detail::kBaseFormatVersion));
  EXPECT_EQ(c.format_version(), detail::delta_version_of(detail::kBaseFormatVersion));
}

}  // namespace
}  // namespace tessera::test
