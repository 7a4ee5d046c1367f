// compact_test.cc — Container::compact: into a new file and in place, pixels of every frame kept
// and free pages dropped, and processes holding the old file open reading on undisturbed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tessera/container.h"
#include "test_util.h"

namespace tessera::test {
namespace {

using seq_file::kBands;
using seq_file::kTile;

// f.tsr with image "seq" (test_util.h).
class CompactTest : public SeqFileTest {};

TEST_F(CompactTest, CompactKeepsPixelsAndDropsFreePages) {
  Rng rng(10);
  for (int i = 0; i < 12; ++i) ASSERT_OK(write_tiles(0, 0, 8, rng));  // rewrites leave free pages
  ASSERT_OK(container_->write([](WriteTxn& t) { return t.add_frame("seq"); }));
  ASSERT_OK(write_tiles(1, 3, 2, rng));
  std::vector<uint8_t> f0(size_t(8 * kTile * kTile) * kBands), f1 = f0, got = f0;
  const Region row{0, 0, 8 * kTile, kTile};
  {
    ASSERT_OK_AND_ASSIGN(auto s, container_->snapshot());
    ASSERT_OK(s.read("seq", row, Selection{0, 0, {}}, f0.data(), f0.size()));
    ASSERT_OK(s.read("seq", row, Selection{1, 0, {}}, f1.data(), f1.size()));
  }
  container_.reset();
  const std::string out = path("compact.tsr");
  ASSERT_OK(Container::compact(path("f.tsr"), out));
  EXPECT_CODE(Container::compact(path("f.tsr"), out), Code::kAlreadyExists);
  EXPECT_LT(std::filesystem::file_size(out), std::filesystem::file_size(path("f.tsr")));
  expect_verifies(out);
  ASSERT_OK(Container::compact(path("f.tsr"), ""));  // in place
  expect_verifies(path("f.tsr"));
  for (const std::string& file : {out, path("f.tsr")}) {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(file));
    ASSERT_OK_AND_ASSIGN(auto s, c.snapshot());
    ASSERT_OK(s.read("seq", row, Selection{0, 0, {}}, got.data(), got.size()));
    EXPECT_TRUE(got == f0) << file;
    ASSERT_OK(s.read("seq", row, Selection{1, 0, {}}, got.data(), got.size()));
    EXPECT_TRUE(got == f1) << file;
  }
  EXPECT_EQ(std::filesystem::file_size(out), std::filesystem::file_size(path("f.tsr")));
}

// In place, with this process holding the file open: the compaction runs in another process
// (the tool), this process's snapshot reads on undisturbed, its next write is refused (the
// file was replaced: the write would be lost), and opening the path again gives the new file.
TEST_F(CompactTest, CompactInPlaceLeavesOpenReadersUndisturbed) {
  Rng rng(11);
  for (int i = 0; i < 6; ++i) ASSERT_OK(write_tiles(0, 0, 8, rng));
  const Region row{0, 0, 8 * kTile, kTile};
  std::vector<uint8_t> before(size_t(8 * kTile * kTile) * kBands), got = before;
  ASSERT_OK_AND_ASSIGN(auto old_snapshot, container_->snapshot());
  ASSERT_OK(old_snapshot.read("seq", row, Selection{}, before.data(), before.size()));
  const std::string command = std::string(TESSERA_CLI_PATH) + " compact " + path("f.tsr") + " > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  ASSERT_OK(old_snapshot.read("seq", row, Selection{}, got.data(), got.size()));
  EXPECT_TRUE(got == before);
  EXPECT_CODE(write_tiles(0, 0, 1, rng), Code::kReadOnly);
  ASSERT_OK_AND_ASSIGN(auto reopened, Container::open(path("f.tsr")));
  ASSERT_OK_AND_ASSIGN(auto fresh, reopened.snapshot());
  ASSERT_OK(fresh.read("seq", row, Selection{}, got.data(), got.size()));
  EXPECT_TRUE(got == before);
  ASSERT_OK(reopened.write([&](WriteTxn& t) { return t.add_frame("seq"); }));
}

}  // namespace
}  // namespace tessera::test
