// Writes prepared ahead of their transaction (Container::prepare_write, WriteTxn::write of a
// PreparedWrite) store what direct writes of the same regions store, and are refused once the
// image is not the one they were made for.
#include <gtest/gtest.h>

#include "test_util.h"

namespace tessera::test {
namespace {

constexpr uint32_t kTileSize = 32;

ImageSpec prepared_spec() {
  ImageSpec spec;
  spec.type = DataType::kU16;
  spec.bands = 3;
  spec.tile_size = kTileSize;
  spec.macro_tiles = 4;
  spec.fill = {0.0};
  spec.codec = {Codec::kLz4, 0};
  return spec;
}

// BIP u16 samples of `region`: each tile of the canvas is the fill, one uniform value, or
// noise, by its coordinates (so fill, uniform and chunk tiles and their collapse into macro
// blocks all occur); `round` changes every value.
std::vector<uint8_t> samples(const Region& region, uint16_t round) {
  std::vector<uint8_t> out(size_t(region.pixel_count()) * 3 * 2);
  size_t at = 0;
  for (int64_t y = region.y; y < region.y_end(); ++y)
    for (int64_t x = region.x; x < region.x_end(); ++x)
      for (uint16_t b = 0; b < 3; ++b, at += 2) {
        const int64_t tx = x >> 5, ty = y >> 5;
        const uint64_t kind = uint64_t(tx * 7 + ty * 13 + round) % 3;
        // Tiles 8.. across are uniform (whole macro blocks of one value collapse).
        uint16_t v = tx >= 8 ? uint16_t(40 + b + round)
                     : kind == 0 ? 0
                     : kind == 1 ? uint16_t(1000 + b + round)
                                 : uint16_t((uint64_t(x) * 2654435761u ^ uint64_t(y) * 40503u ^ b ^ round) & 0xfff);
        out[at] = uint8_t(v), out[at + 1] = uint8_t(v >> 8);
      }
  return out;
}

class PreparedWriteTest : public TempDirTest {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(path("prepared.tsr")));
    container_.emplace(std::move(c));
    ASSERT_OK(container_->write([&](WriteTxn& txn) -> Status {
      TESSERA_RETURN_IF_ERROR(txn.create_image("direct", prepared_spec()));
      return txn.create_image("prepared", prepared_spec());
    }));
  }
  ImageInfo info(const std::string& image) {
    auto snapshot = container_->snapshot();
    EXPECT_OK(snapshot);
    auto found = snapshot->image(image);
    EXPECT_OK(found);
    return *found;
  }
  std::optional<Container> container_;
};

// Unaligned regions at negative coordinates (tiles covered in part), tile-aligned ones, and
// whole macro blocks of one value; a second round appends a frame through the same
// PreparedWrite, its buffers reused.
TEST_F(PreparedWriteTest, StoresWhatDirectWritesStore) {
  const std::vector<Region> regions = {
      {-70, -40, 100, 60}, {64, -64, 64, 64}, {-64, 64, 200, 33}, {256, 0, 256, 256}, {-1, 200, 1, 1}};
  PreparedWrite prepared;
  for (uint16_t round = 0; round < 2; ++round) {
    const Selection sel{round, 0, {}};
    const ImageInfo made_for = info("prepared");
    for (const Region& r : regions) {
      const auto bytes = samples(r, round);
      ASSERT_OK(container_->prepare_write(made_for, r, bytes.data(), bytes.size(),
                                          Strides::packed(Interleave::kBIP, r.width, r.height, 3, 2), prepared));
    }
    EXPECT_FALSE(prepared.empty());
    ASSERT_OK(container_->write([&](WriteTxn& txn) -> Status {
      for (const Region& r : regions) {
        const auto bytes = samples(r, round);
        TESSERA_RETURN_IF_ERROR(txn.write("direct", r, sel, bytes.data(), bytes.size()));
      }
      return txn.write("prepared", sel, prepared);
    }));
    EXPECT_TRUE(prepared.empty());
  }
  {
  ASSERT_OK_AND_ASSIGN(auto snapshot, container_->snapshot());
  const Region all{-96, -64, 640, 320};
  for (uint32_t frame = 0; frame < 2; ++frame) {
    std::vector<uint8_t> direct(size_t(all.pixel_count()) * 6), made(direct.size(), 0xEE);
    ASSERT_OK(snapshot.read("direct", all, Selection{frame, 0, {}}, direct.data(), direct.size()));
    ASSERT_OK(snapshot.read("prepared", all, Selection{frame, 0, {}}, made.data(), made.size()));
    EXPECT_EQ(direct, made) << "frame " << frame;
    ASSERT_OK_AND_ASSIGN(const ImageStats a, snapshot.stats("direct", frame));
    ASSERT_OK_AND_ASSIGN(const ImageStats b, snapshot.stats("prepared", frame));
    EXPECT_EQ(a.tiles_uniform, b.tiles_uniform) << frame;
    EXPECT_EQ(a.tiles_chunk, b.tiles_chunk) << frame;
    EXPECT_EQ(a.chunks_unique, b.chunks_unique) << frame;
    EXPECT_GT(a.tiles_uniform, 0u);
    EXPECT_GT(a.tiles_chunk, 0u);
  }
  ASSERT_OK_AND_ASSIGN(const ImageInfo after, snapshot.image("prepared"));
  EXPECT_EQ(after.frames, 2u);
  }
  container_.reset();  // verify opens the file itself
  expect_verifies(path("prepared.tsr"));
}

TEST_F(PreparedWriteTest, RefusesWhatAWriteWouldAndAChangedImage) {
  const ImageInfo made_for = info("prepared");
  const Region r{-40, -40, 80, 80};
  const auto bytes = samples(r, 0);
  const Strides strides = Strides::packed(Interleave::kBIP, r.width, r.height, 3, 2);
  PreparedWrite prepared;
  // What any write checks: the buffer.
  EXPECT_EQ(container_->prepare_write(made_for, r, bytes.data(), bytes.size() - 1, strides, prepared).code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(prepared.empty());
  ASSERT_OK(container_->prepare_write(made_for, r, bytes.data(), bytes.size(), strides, prepared));
  // A second region sharing a tile, or made for another image.
  const Status shared =
      container_->prepare_write(made_for, Region{39, 39, 80, 80}, bytes.data(), bytes.size(), strides, prepared);
  EXPECT_EQ(shared.code(), Code::kInvalidArgument);
  EXPECT_NE(shared.message().find("shares a tile"), std::string::npos) << shared.message();
  const Status other = container_->prepare_write(info("direct"), Region{200, 200, 80, 80}, bytes.data(), bytes.size(),
                                                 strides, prepared);
  EXPECT_EQ(other.code(), Code::kInvalidArgument);
  EXPECT_NE(other.message().find("made for image 'prepared'"), std::string::npos) << other.message();

  ASSERT_OK_AND_ASSIGN(auto txn, container_->begin_write());
  // Bands or a level: a prepared write is of every band of level 0 (and stays as it was).
  Status s = txn.write("prepared", Selection{0, 0, {1}}, prepared);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("every band"), std::string::npos) << s.message();
  EXPECT_TRUE(prepared.empty()) << "a write empties what it was given, whether or not it succeeds";
  // Another image of that name's place: refused, naming the change, and nothing is written.
  ASSERT_OK(container_->prepare_write(made_for, r, bytes.data(), bytes.size(), strides, prepared));
  s = txn.write("direct", Selection{}, prepared);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("changed since the write was prepared (it is another image"), std::string::npos)
      << s.message();
  ImageInfo recoded = made_for;
  recoded.spec.codec = {Codec::kZstd, 3};
  ASSERT_OK(container_->prepare_write(recoded, r, bytes.data(), bytes.size(), strides, prepared));
  s = txn.write("prepared", Selection{}, prepared);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("its codec or filter changed"), std::string::npos) << s.message();
  ASSERT_OK_AND_ASSIGN(const ImageStats stats, txn.stats("prepared"));
  EXPECT_EQ(stats.tiles_chunk + stats.tiles_uniform, 0u);
  // A mapped image has no tiles to prepare.
  ImageInfo mapped = made_for;
  mapped.mapped = true;
  EXPECT_EQ(container_->prepare_write(mapped, r, bytes.data(), bytes.size(), strides, prepared).code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::test
