// The API made ready for bindings: Result's checks, the assign-or-return macro, version(),
// View::check (the same checks and messages as read and write), Container::flush and remove,
// and the image table shared by the snapshots of one commit.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "test_util.h"
#include "tessera/tessera.h"

namespace tessera::test {
namespace {

class ApiTest : public TempDirTest {};

TEST(Result, AnOkStatusWithoutValueIsAnInternalError) {
  Result<int> r{Status::ok()};
  EXPECT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInternal);
}

TEST(ResultDeathTest, ValueOfAnErrorStopsWithItsStatus) {
  Result<int> r{Status(Code::kNotFound, "no image named 'x'")};
  EXPECT_DEATH((void)r.value(), "value\\(\\) of a Result that holds an error: not found: no image named 'x'");
  EXPECT_DEATH((void)*r, "holds an error");
}

Status assign_twice(int& out, Result<int> a, Result<int> b) {
  TESSERA_ASSIGN_OR_RETURN(int first, std::move(a));
  TESSERA_ASSIGN_OR_RETURN(out, std::move(b));
  out += first;
  return Status::ok();
}

TEST(Result, AssignOrReturnMovesTheValueOrReturnsTheError) {
  int out = 0;
  EXPECT_OK(assign_twice(out, 2, 3));
  EXPECT_EQ(out, 5);
  out = 0;
  EXPECT_CODE(assign_twice(out, 2, Status(Code::kCorrupt, "bad")), Code::kCorrupt);
  EXPECT_EQ(out, 0);
}

TEST(Version, IsMajorMinorPatch) {
  EXPECT_TRUE(std::regex_match(std::string(version()), std::regex("[0-9]+\\.[0-9]+\\.[0-9]+")))
      << version();
}

// View::check refuses exactly what read and write refuse, with the same message.
TEST_F(ApiTest, CheckGivesTheErrorsOfReadAndWrite) {
  ASSERT_OK_AND_ASSIGN(auto c, Container::create(path("c.tsr")));
  ImageSpec spec;
  spec.bands = 3;
  ASSERT_OK(c.write([&](WriteTxn& t) { return t.create_image("img", spec); }));
  ASSERT_OK_AND_ASSIGN(auto txn, c.begin_write());
  std::vector<uint8_t> buffer(64 * 64 * 3);
  auto sel = [](uint32_t frame, uint32_t level, std::vector<uint32_t> bands) {
    Selection s;
    s.frame = frame;
    s.level = level;
    s.bands = std::move(bands);
    return s;
  };
  const Region good{-10, -10, 8, 8};
  struct Case {
    const char* what;
    std::string image;
    Region region;
    Selection selection;
  };
  const std::vector<Case> reads = {
      {"unknown image", "nope", good, sel(0, 0, {})},
      {"empty region", "img", Region{0, 0, 0, 5}, sel(0, 0, {})},
      {"overflowing region", "img", Region{INT64_MAX - 2, 0, 8, 8}, sel(0, 0, {})},
      {"band out of range", "img", good, sel(0, 0, {1, 3})},
      {"level not built", "img", good, sel(0, 1, {})},
      {"missing frame", "img", good, sel(1, 0, {})},
  };
  for (const Case& k : reads) {
    SCOPED_TRACE(k.what);
    const Status read = txn.read(k.image, k.region, k.selection, buffer.data(), buffer.size());
    ASSERT_FALSE(read.is_ok());
    auto checked = txn.check(k.image, k.region, k.selection);
    ASSERT_FALSE(checked.is_ok());
    EXPECT_EQ(checked.status().code(), read.code());
    EXPECT_EQ(checked.status().message(), read.message());
  }
  const std::vector<Case> writes = {
      {"band twice", "img", good, sel(0, 0, {1, 1})},
      {"frame after next", "img", good, sel(2, 0, {})},
      {"last frame number", "img", good, sel(UINT32_MAX, 0, {})},
  };
  for (const Case& k : writes) {
    SCOPED_TRACE(k.what);
    const Status write = txn.write(k.image, k.region, k.selection, buffer.data(), buffer.size());
    ASSERT_FALSE(write.is_ok());
    auto checked = txn.check(k.image, k.region, k.selection, Access::kWrite);
    ASSERT_FALSE(checked.is_ok());
    EXPECT_EQ(checked.status().code(), write.code());
    EXPECT_EQ(checked.status().message(), write.message());
  }
  // Frame 1 may be written (it is appended), not read; the bands come back resolved.
  EXPECT_CODE(txn.check("img", good, sel(1, 0, {})), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(Request request, txn.check("img", good, sel(1, 0, {}), Access::kWrite));
  EXPECT_EQ(request.image.name, "img");
  EXPECT_EQ(request.bands, (std::vector<uint32_t>{0, 1, 2}));
  ASSERT_OK_AND_ASSIGN(Request two, txn.check("img", good, sel(0, 0, {2, 0})));
  EXPECT_EQ(two.bands, (std::vector<uint32_t>{2, 0}));
}

TEST_F(ApiTest, RemoveDeletesTheFileAndItsLockFileOnlyForAContainer) {
  const std::string file = path("gone.tsr");
  { ASSERT_OK_AND_ASSIGN(auto c, Container::create(file)); }
  ASSERT_TRUE(std::filesystem::exists(file + "-lock"));
  ASSERT_OK(Container::remove(file));
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(file + "-lock"));
  EXPECT_CODE(Container::remove(file), Code::kNotFound);
  const std::string other = path("notes.txt");
  std::ofstream(other) << "not a container, and long enough to hold an LMDB meta page header";
  const Status refused = Container::remove(other);
  EXPECT_EQ(refused.code(), Code::kInvalidArgument) << refused.to_string();
  EXPECT_NE(refused.message().find(other), std::string::npos) << refused.message();
  EXPECT_TRUE(std::filesystem::exists(other));
}

TEST_F(ApiTest, FlushMakesCommitsOfAContainerWithoutSyncDurable) {
  OpenOptions options;
  options.sync = false;
  ASSERT_OK_AND_ASSIGN(auto c, Container::create(path("nosync.tsr"), options));
  ASSERT_OK(c.write([&](WriteTxn& t) { return t.create_image("img", ImageSpec{}); }));
  EXPECT_OK(c.flush());
  OpenOptions read_only;
  read_only.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto r, Container::open(path("nosync.tsr"), read_only));
  EXPECT_OK(r.flush());  // nothing to flush
}

// Snapshots of one commit share its image table; a commit, of this process or another, gives
// the next snapshot a table of its own; an older snapshot keeps what it saw.
TEST_F(ApiTest, EverySnapshotSeesTheImageTableOfItsCommit) {
  const std::string file = path("table.tsr");
  ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
  ASSERT_OK(c.write([&](WriteTxn& t) { return t.create_image("a", ImageSpec{}); }));
  ASSERT_OK_AND_ASSIGN(auto s1, c.snapshot());
  ASSERT_OK_AND_ASSIGN(auto s1b, c.snapshot());
  ASSERT_EQ(s1.images().size(), 1u);
  ASSERT_EQ(s1b.images().size(), 1u);
  ASSERT_OK(c.write([&](WriteTxn& t) { return t.create_image("b", ImageSpec{}); }));
  ASSERT_OK_AND_ASSIGN(auto s2, c.snapshot());
  EXPECT_EQ(s2.images().size(), 2u);
  EXPECT_EQ(s1.images().size(), 1u);
  // A failed change inside a transaction leaves its table as it was; the commit keeps the rest.
  ASSERT_OK(c.write([&](WriteTxn& t) -> Status {
    TESSERA_RETURN_IF_ERROR(t.create_image("c", ImageSpec{}));
    ImageSpec bad;
    bad.tile_size = 3;
    EXPECT_CODE(t.create_image("d", bad), Code::kInvalidArgument);
    std::vector<uint8_t> pixels(16, 7);
    Selection next;
    next.frame = 1;
    next.bands = {0, 0};
    EXPECT_FALSE(t.write("c", {0, 0, 4, 4}, next, pixels.data(), pixels.size()).is_ok());
    auto c_image = t.image("c");
    EXPECT_TRUE(c_image.is_ok() && c_image->frames == 1);
    EXPECT_CODE(t.image("d"), Code::kNotFound);
    return Status::ok();
  }));
  // Another process commits: this process's next snapshot sees it.
  const pid_t child = ::fork();
  if (child == 0) {
    auto other = Container::open(file);
    if (!other) _exit(2);
    _exit(other->write([](WriteTxn& t) { return t.create_image("from-child", ImageSpec{}); }).is_ok() ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_OK_AND_ASSIGN(auto s3, c.snapshot());
  std::vector<std::string> names;
  for (const ImageInfo& info : s3.images()) names.push_back(info.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "from-child"}));
  EXPECT_EQ(s2.images().size(), 2u);
}

}  // namespace
}  // namespace tessera::test
