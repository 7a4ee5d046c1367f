// Attributes of images and frames (tessera/attributes.h, spec/FORMAT.md 4.7): the text syntax
// of values, set / replace / delete in transactions, frame scopes through drop and append,
// persistence through compaction, and damage caught by reads and verify.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "format/attribute_record.h"
#include "test_util.h"
#include "tessera/tessera.h"

namespace tessera::test {
namespace {

// ---- values and their text syntax

TEST(AttributeValueTest, TextSyntaxParsesEachType) {
  auto parsed = [](std::string_view text) {
    auto v = parse_attribute_value(text);
    EXPECT_TRUE(v.is_ok()) << text << ": " << v.status().to_string();
    return v ? *v : AttributeValue{};
  };
  EXPECT_EQ(parsed("-12"), AttributeValue(int64_t(-12)));
  EXPECT_EQ(parsed("9223372036854775807"), AttributeValue(INT64_MAX));
  // Past int64: kept as text rather than rounded.
  EXPECT_EQ(parsed("9223372036854775808"), AttributeValue(std::string("9223372036854775808")));
  EXPECT_EQ(parsed("2.5"), AttributeValue(2.5));
  EXPECT_EQ(parsed("1e-3"), AttributeValue(1e-3));
  EXPECT_TRUE(std::isnan(std::get<double>(parsed("nan"))));
  EXPECT_EQ(parsed("-inf"), AttributeValue(-HUGE_VAL));
  EXPECT_EQ(parsed("hello world"), AttributeValue(std::string("hello world")));
  EXPECT_EQ(parsed("\"12\""), AttributeValue(std::string("12")));
  EXPECT_EQ(parsed("\"a\\nb\""), AttributeValue(std::string("a\nb")));
  EXPECT_EQ(parsed("[1, 2, 3]"), AttributeValue(std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(parsed("[400, 500.5]"), AttributeValue(std::vector<double>{400, 500.5}));
  EXPECT_EQ(parsed("[red, \"green, blue\"]"),
            AttributeValue(std::vector<std::string>{"red", "green, blue"}));
  EXPECT_EQ(parsed("[]"), AttributeValue(std::vector<std::string>{}));
  EXPECT_EQ(parsed(""), AttributeValue(std::string()));
  EXPECT_CODE(parse_attribute_value("\"open"), Code::kInvalidArgument);
  EXPECT_CODE(parse_attribute_value("[\"open]"), Code::kInvalidArgument);
}

// format_attribute_value writes what parse_attribute_value reads back as the same value, for
// random values of every type (texts that look like numbers or lists included).
TEST(AttributeValueTest, FormatThenParseIsIdentity) {
  Rng rng(41);
  const std::vector<std::string> tricky = {"12", "-0", "1.5", "nan", "[a]", "\"q\"", " x ", "",
                                           "a, b", "ünïcödé", "tab\there", "[", "]"};
  auto text = [&] {
    if (rng.chance(0.5)) return tricky[rng.index(tricky.size())];
    std::string s(size_t(rng.uniform(0, 12)), ' ');
    for (char& c : s) c = char(rng.uniform(32, 126));
    return s;
  };
  auto real = [&] {
    switch (rng.uniform(0, 3)) {
      case 0: return double(rng.uniform(-1000, 1000));
      case 1: return -0.0;
      case 2: return HUGE_VAL;
      default: {
        double d;
        uint64_t bits = rng.bits();
        std::memcpy(&d, &bits, 8);
        return std::isnan(d) ? 0.25 : d;
      }
    }
  };
  for (int i = 0; i < 3000; ++i) {
    AttributeValue v;
    const int n = int(rng.uniform(1, 4));
    switch (rng.uniform(0, 5)) {
      case 0: v = text(); break;
      case 1: v = int64_t(rng.bits()); break;
      case 2: v = real(); break;
      case 3: { std::vector<std::string> l; for (int k = 0; k < n; ++k) l.push_back(text()); v = l; break; }
      case 4: { std::vector<int64_t> l; for (int k = 0; k < n; ++k) l.push_back(int64_t(rng.bits())); v = l; break; }
      default: { std::vector<double> l; for (int k = 0; k < n; ++k) l.push_back(real()); v = l; break; }
    }
    const std::string formatted = format_attribute_value(v);
    auto back = parse_attribute_value(formatted);
    ASSERT_TRUE(back.is_ok()) << formatted;
    // Compare bit patterns: -0.0 == 0.0 would hide a lost sign.
    ASSERT_EQ(back->index(), v.index()) << formatted;
    if (v.index() == 2) {
      ASSERT_EQ(std::signbit(std::get<double>(*back)), std::signbit(std::get<double>(v))) << formatted;
    }
    ASSERT_EQ(*back, v) << formatted;
  }
}

TEST(AttributeValueTest, NamesMustBeUtf8WithoutControls) {
  EXPECT_OK(check_attribute_name("envi.wavelength units"));
  EXPECT_OK(check_attribute_name("größe"));
  EXPECT_OK(check_attribute_name(std::string(255, 'n')));
  EXPECT_CODE(check_attribute_name(""), Code::kInvalidArgument);
  EXPECT_CODE(check_attribute_name(std::string(256, 'n')), Code::kInvalidArgument);
  EXPECT_CODE(check_attribute_name("a\nb"), Code::kInvalidArgument);
  EXPECT_CODE(check_attribute_name("a\x7f"), Code::kInvalidArgument);
  EXPECT_CODE(check_attribute_name("\xc0\xaf"), Code::kInvalidArgument);      // overlong '/'
  EXPECT_CODE(check_attribute_name("\xed\xa0\x80"), Code::kInvalidArgument);  // a surrogate
  EXPECT_CODE(check_attribute_name("\xf4\x90\x80\x80"), Code::kInvalidArgument);  // > U+10FFFF
  EXPECT_CODE(check_attribute_name("abc\xe2\x82"), Code::kInvalidArgument);   // cut short
}

// ---- in a container

class AttributesTest : public SeqFileTest {
 protected:
  Result<Attributes> read(std::optional<uint32_t> frame = std::nullopt) {
    auto s = container_->snapshot();
    if (!s) return s.status();
    return s->attributes("seq", frame);
  }
  Status set(std::string name, AttributeValue value, std::optional<uint32_t> frame = std::nullopt) {
    return container_->write([&](WriteTxn& t) { return t.set_attribute("seq", name, value, frame); });
  }
};

TEST_F(AttributesTest, SetReplaceDeleteCommitAndAbort) {
  ASSERT_OK_AND_ASSIGN(auto none, read());
  EXPECT_TRUE(none.empty());
  const std::vector<double> wavelengths = {400.5, -0.0, 1e300};
  ASSERT_OK(set("wavelength", wavelengths));
  ASSERT_OK(set("description", std::string("a scan")));
  ASSERT_OK(set("bands", std::vector<std::string>{"red", "", "nir"}));
  ASSERT_OK(set("gain", int64_t(-7)));
  ASSERT_OK(set("gain", 2.5));  // replaced, with another type
  ASSERT_OK_AND_ASSIGN(auto all, read());
  const Attributes expected = {{"bands", std::vector<std::string>{"red", "", "nir"}},
                               {"description", std::string("a scan")},
                               {"gain", 2.5},
                               {"wavelength", wavelengths}};
  EXPECT_EQ(all, expected);
  EXPECT_TRUE(std::signbit(std::get<std::vector<double>>(*find_attribute(all, "wavelength"))[1]));

  // A transaction sees its own changes; an aborted one leaves nothing.
  {
    ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
    ASSERT_OK(txn.delete_attribute("seq", "gain"));
    ASSERT_OK(txn.set_attribute("seq", "new", int64_t(1)));
    ASSERT_OK_AND_ASSIGN(auto inside, txn.attributes("seq"));
    EXPECT_EQ(find_attribute(inside, "gain"), nullptr);
    EXPECT_NE(find_attribute(inside, "new"), nullptr);
    txn.abort();
  }
  ASSERT_OK_AND_ASSIGN(auto after_abort, read());
  EXPECT_EQ(after_abort, expected);

  ASSERT_OK(container_->write([](WriteTxn& t) { return t.delete_attribute("seq", "gain"); }));
  auto absent = container_->write([](WriteTxn& t) { return t.delete_attribute("seq", "gain"); });
  EXPECT_CODE(absent, Code::kNotFound);
  EXPECT_NE(absent.message().find("no attribute 'gain'"), std::string::npos) << absent.message();
  ASSERT_OK_AND_ASSIGN(auto left, read());
  EXPECT_EQ(left.size(), 3u);

  // Reopened: what was committed is there.
  container_.reset();
  ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("f.tsr")));
  container_.emplace(std::move(c));
  ASSERT_OK_AND_ASSIGN(auto reopened, read());
  EXPECT_EQ(reopened, left);
  container_.reset();
  expect_verifies(path("f.tsr"));
}

TEST_F(AttributesTest, RefusesBadNamesValuesImagesAndFrames) {
  EXPECT_CODE(set("", int64_t(1)), Code::kInvalidArgument);
  EXPECT_CODE(set("bad\nname", int64_t(1)), Code::kInvalidArgument);
  EXPECT_CODE(set("big", std::string(kMaxAttributeValueBytes + 1, 'x')), Code::kInvalidArgument);
  EXPECT_CODE(set("frame", int64_t(1), 1), Code::kNotFound);  // the image has one frame
  EXPECT_CODE(container_->write([](WriteTxn& t) { return t.set_attribute("nope", "a", int64_t(1)); }),
              Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto s, container_->snapshot());
  EXPECT_CODE(s.attributes("nope"), Code::kNotFound);
  EXPECT_CODE(s.attributes("seq", 3), Code::kNotFound);
  // A failed set changed nothing; the transaction can go on.
  ASSERT_OK(container_->write([](WriteTxn& t) {
    EXPECT_CODE(t.set_attribute("seq", "", int64_t(1)), Code::kInvalidArgument);
    return t.set_attribute("seq", "ok", int64_t(1));
  }));
  ASSERT_OK_AND_ASSIGN(auto all, read());
  EXPECT_EQ(all, (Attributes{{"ok", int64_t(1)}}));
}

// Frame attributes override the image's for their frame; appending copies none; dropping a
// frame drops its own and renumbers later ones.
TEST_F(AttributesTest, FrameScopesFollowAppendAndDrop) {
  ASSERT_OK(set("time", std::string("image")));
  ASSERT_OK(set("unit", std::string("nm")));
  ASSERT_OK(container_->write([](WriteTxn& t) {
    TESSERA_RETURN_IF_ERROR(t.add_frame("seq"));
    TESSERA_RETURN_IF_ERROR(t.add_frame("seq"));
    return t.add_frame("seq");
  }));
  for (uint32_t f = 0; f < 4; ++f) ASSERT_OK(set("time", std::string("t") + std::to_string(f), f));
  ASSERT_OK(set("only2", int64_t(2), 2));
  ASSERT_OK(container_->write([](WriteTxn& t) { return t.add_frame("seq"); }));
  ASSERT_OK_AND_ASSIGN(auto fresh, read(4));
  EXPECT_TRUE(fresh.empty());

  ASSERT_OK(container_->write([](WriteTxn& t) { return t.drop_frame("seq", 1); }));
  ASSERT_OK_AND_ASSIGN(auto s, container_->snapshot());
  ASSERT_OK_AND_ASSIGN(auto f1, s.attributes("seq", 1));
  EXPECT_EQ(f1, (Attributes{{"only2", int64_t(2)}, {"time", std::string("t2")}}));
  ASSERT_OK_AND_ASSIGN(auto f2, s.attributes("seq", 2));
  EXPECT_EQ(f2, (Attributes{{"time", std::string("t3")}}));
  EXPECT_CODE(s.attributes("seq", 4), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto merged, s.frame_attributes("seq", 1));
  EXPECT_EQ(merged, (Attributes{{"only2", int64_t(2)}, {"time", std::string("t2")},
                                {"unit", std::string("nm")}}));
  ASSERT_OK_AND_ASSIGN(auto image, s.attributes("seq"));
  EXPECT_EQ(image, (Attributes{{"time", std::string("image")}, {"unit", std::string("nm")}}));
  container_.reset();
  expect_verifies(path("f.tsr"));

  // Compaction keeps every attribute.
  ASSERT_OK(Container::compact(path("f.tsr"), path("c.tsr")));
  ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("c.tsr")));
  ASSERT_OK_AND_ASSIGN(auto cs, c.snapshot());
  ASSERT_OK_AND_ASSIGN(auto cf1, cs.attributes("seq", 1));
  EXPECT_EQ(cf1, f1);
  ASSERT_OK_AND_ASSIGN(auto ci, cs.attributes("seq"));
  EXPECT_EQ(ci, image);
}

// A damaged attribute record is an error naming it, for reads and for verify; a record moved
// under another key fails its checksum.
TEST_F(AttributesTest, DamageIsCaughtByReadsAndVerify) {
  ASSERT_OK(set("wavelength", std::vector<double>{400, 500}));
  ASSERT_OK(set("zeta", std::string("last")));
  container_.reset();
  std::string error;
  // One flipped bit in the last byte of the first record (inside its values).
  ASSERT_TRUE(lmdb_edit_value(path("f.tsr"), "attributes", [](const std::string&, std::string& v) {
    v[v.size() / 2] ^= 0x10;
    return true;
  }, &error)) << error;
  {
    // Open's structure check refuses the file; without it, the read of the attributes does.
    EXPECT_CODE(Container::open(path("f.tsr")), Code::kCorrupt);
    OpenOptions trusting;
    trusting.check_structure = false;
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("f.tsr"), trusting));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    auto damaged = s.attributes("seq");
    EXPECT_CODE(damaged, Code::kCorrupt);
    EXPECT_NE(damaged.status().message().find("image 'seq' attribute 'wavelength'"), std::string::npos)
        << damaged.status().message();
  }
  ASSERT_OK_AND_ASSIGN(auto report, verify(path("f.tsr")));
  ASSERT_EQ(report.faults.size(), 1u);
  EXPECT_EQ(report.faults[0].invariant, "ATTRIBUTE_RECORD_VALID");
  EXPECT_EQ(report.attribute_records, 2u);

  // The second record's bytes under a key of frame 7 (no such frame) and another name.
  std::vector<std::pair<std::string, std::string>> entries;
  ASSERT_TRUE(lmdb_entries(path("f.tsr"), "attributes", &entries, &error)) << error;
  ASSERT_EQ(entries.size(), 2u);
  {
    LmdbFile lmdb(path("f.tsr"), true);
    ASSERT_NE(lmdb.env(), nullptr) << lmdb.error();
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(lmdb.env(), nullptr, 0, &txn), 0);
    MDB_dbi dbi = 0;
    ASSERT_EQ(mdb_dbi_open(txn, "attributes", 0, &dbi), 0);
    auto key = detail::attribute_key(0, 7, "moved");
    MDB_val k{key.size(), key.data()}, v{entries[1].second.size(), entries[1].second.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  ASSERT_OK_AND_ASSIGN(auto moved, verify(path("f.tsr")));
  std::vector<std::string> invariants;
  for (const Fault& f : moved.faults) invariants.push_back(f.invariant);
  EXPECT_EQ(invariants, (std::vector<std::string>{"ATTRIBUTE_KEY_VALID", "ATTRIBUTE_RECORD_VALID",
                                                  "ATTRIBUTE_RECORD_VALID"}))
      << ::testing::PrintToString(invariants);
}

// "tessera.extent": View::extent reads the frame's, else the image's; writers take only four
// integers forming a region, and no other "tessera." name; a record written past the library
// with a bad extent is a read error and a verify fault, naming it.
TEST_F(AttributesTest, ExtentIsTesseraAttribute) {
  {
    ASSERT_OK_AND_ASSIGN(auto before, container_->snapshot());
    ASSERT_OK_AND_ASSIGN(auto none, before.extent("seq", 0));
    EXPECT_FALSE(none.has_value());
    EXPECT_CODE(before.extent("seq", 1), Code::kNotFound);
  }

  const Region image{-5, 7, 100, 50}, frame{0, 0, 3, 4};
  ASSERT_OK(set(std::string(kExtentAttribute), extent_value(image)));
  ASSERT_OK(container_->write([](WriteTxn& t) { return t.add_frame("seq"); }));
  ASSERT_OK(set(std::string(kExtentAttribute), extent_value(frame), 1));
  {
    ASSERT_OK_AND_ASSIGN(auto s, container_->snapshot());
    ASSERT_OK_AND_ASSIGN(auto e0, s.extent("seq", 0));
    EXPECT_EQ(e0, std::optional<Region>(image));
    ASSERT_OK_AND_ASSIGN(auto e1, s.extent("seq", 1));
    EXPECT_EQ(e1, std::optional<Region>(frame));
  }
  for (const AttributeValue& bad :
       {AttributeValue(std::vector<int64_t>{0, 0, 0, 5}), AttributeValue(std::vector<int64_t>{0, 0, 5}),
        AttributeValue(std::vector<int64_t>{INT64_MAX, 0, 2, 2}), AttributeValue(std::string("0,0,4,4")),
        AttributeValue(std::vector<double>{0, 0, 4, 4})}) {
    const Status refused = set(std::string(kExtentAttribute), bad);
    EXPECT_CODE(refused, Code::kInvalidArgument);
    EXPECT_NE(refused.message().find("[x, y, width, height]"), std::string::npos) << refused.message();
  }
  EXPECT_CODE(set("tessera.other", int64_t(1)), Code::kInvalidArgument);
  ASSERT_OK(set("tesserae", int64_t(1)));  // not the prefix
  container_.reset();
  expect_verifies(path("f.tsr"));

  // A bad extent written past the library.
  const auto key = detail::attribute_key(0, 1, kExtentAttribute);
  const auto value = detail::build_attribute_record(key, std::vector<int64_t>{0, 0, -1, 4});
  ASSERT_TRUE(lmdb_put(path("f.tsr"), "attributes", std::string(key.begin(), key.end()),
                       std::string(value.begin(), value.end())));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(path("f.tsr")));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    auto damaged = s.extent("seq", 1);
    EXPECT_CODE(damaged, Code::kCorrupt);
    EXPECT_NE(damaged.status().message().find("image 'seq' frame 1: attribute 'tessera.extent'"),
              std::string::npos)
        << damaged.status().message();
  }
  ASSERT_OK_AND_ASSIGN(auto report, verify(path("f.tsr")));
  ASSERT_EQ(report.faults.size(), 1u);
  EXPECT_EQ(report.faults[0].invariant, "ATTRIBUTE_VALUE_VALID");
  EXPECT_NE(report.faults[0].message.find("frame 1 attribute 'tessera.extent'"), std::string::npos)
      << report.faults[0].message;
}

}  // namespace
}  // namespace tessera::test
