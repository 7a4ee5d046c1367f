// types_test.cc — the value types of tessera/types.h on their own, without a container: Region
// validity and intersection, and the buffer layout arithmetic (Strides::packed, required_bytes)
// checked against the plain formulas of test_util.h.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "tessera/types.h"
#include "test_util.h"

namespace tessera::test {
namespace {

// The library's Strides::packed and required_bytes agree with the plain formulas used here.
TEST(TypesTest, PackedStridesAndRequiredBytes) {
  for (Interleave il : {Interleave::kBIP, Interleave::kBIL, Interleave::kBSQ})
    for (size_t s : {1, 2, 4, 8})
      for (size_t nb : {1, 3, 8}) {
        SCOPED_TRACE(std::string(interleave_label(il)) + " s=" + std::to_string(s) +
                     " bands=" + std::to_string(nb));
        Strides want = packed_strides(il, 13, 7, nb, s);
        EXPECT_EQ(Strides::packed(il, 13, 7, nb, s), want);
        EXPECT_EQ(required_bytes(want, 13, 7, nb, s), 13u * 7u * nb * s);
      }
  const Strides padded{9, 200, 2};
  EXPECT_EQ(required_bytes(padded, 10, 4, 3, 2), layout_bytes(padded, 10, 4, 3, 2));
}

TEST(TypesTest, RegionValidityAndIntersection) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_TRUE((Region{kMin, kMin, 1, 1}.is_valid()));
  EXPECT_TRUE((Region{kMax - 10, 0, 10, 1}.is_valid()));
  EXPECT_FALSE((Region{kMax - 10, 0, 11, 1}.is_valid()));
  EXPECT_FALSE((Region{0, 0, 0, 1}.is_valid()));
  EXPECT_FALSE((Region{0, 0, 1, -1}.is_valid()));
  EXPECT_EQ((Region{0, 0, 10, 10}.intersect(Region{5, -5, 10, 10})), (Region{5, 0, 5, 5}));
  EXPECT_TRUE((Region{0, 0, 10, 10}.intersect(Region{10, 0, 5, 5})).empty());
  EXPECT_EQ((Region{-kHuge, 0, 10, 1}.intersect(Region{-kHuge + 3, -4, 100, 8})),
            (Region{-kHuge + 3, 0, 7, 1}));
}

// The union of two regions; one spanning more than a Region holds is clipped, still valid.
TEST(TypesTest, RegionUnion) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ((Region{0, 0, 10, 10}.unite(Region{5, -5, 10, 10})), (Region{0, -5, 15, 15}));
  EXPECT_EQ((Region{1000, -1000, 40, 30}.unite(Region{1100, -1000, 40, 30})), (Region{1000, -1000, 140, 30}));
  const Region far = Region{kMin, kMin, 1, 1}.unite(Region{kMax - 1, kMax - 1, 1, 1});
  EXPECT_TRUE(far.is_valid());
  EXPECT_EQ(far, (Region{kMin, kMin, kMax, kMax}));
}

}  // namespace
}  // namespace tessera::test
