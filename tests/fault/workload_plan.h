// workload_plan.h — the fixed sequence of transactions the fault workload commits, applied
// either to a container (the workload process) or to a plain in-memory model (the test, which
// compares the file it finds after a fault with the model after the commits that may have
// landed). Both sides share this one description so that they cannot drift apart.
//
// Commit i (1-based) writes a patterned rectangle into one frame of image "img" (64-pixel tiles,
// so it touches several tiles, some partly), appends a frame every fourth commit, drops frame 1
// every fifth once there are three frames, and records i in image "counter" (one u32 pixel):
// reading the counter tells which commit a file is at.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "tessera/container.h"

namespace tessera::fault {

constexpr int64_t kSide = 256;  // every write lies in [0, kSide)^2 of "img"
constexpr uint32_t kTile = 64;
constexpr int kCommits = 12;

inline ImageSpec image_spec() {
  ImageSpec spec;
  spec.tile_size = kTile;
  return spec;
}

inline ImageSpec counter_spec() {
  ImageSpec spec;
  spec.type = DataType::kU32;
  spec.tile_size = 32;  // tiles of 4 KiB, as in "img"
  return spec;
}

// What commit i does, given how many frames "img" has before it.
struct CommitPlan {
  bool add_frame = false;
  bool drop_frame_1 = false;
  uint32_t frame = 0;  // the frame written (after the add or drop)
  Region region;
  std::vector<uint8_t> pixels;  // region.width * region.height samples
};

inline CommitPlan plan_commit(int i, uint32_t frames) {
  CommitPlan plan;
  plan.add_frame = i % 4 == 0;
  if (plan.add_frame) ++frames;
  plan.drop_frame_1 = i % 5 == 0 && frames >= 3;
  if (plan.drop_frame_1) --frames;
  plan.frame = uint32_t(i) % frames;
  const int64_t w = 40 + (i * 37) % 90, h = 30 + (i * 53) % 100;
  plan.region = Region{(i * 71) % (kSide - w), (i * 29) % (kSide - h), w, h};
  plan.pixels.resize(size_t(w * h));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      plan.pixels[size_t(y * w + x)] = uint8_t(1 + (i * 41 + x * 3 + (y / 8) * 7) % 250);
  return plan;
}

// The in-memory model: every frame of "img" as kSide x kSide samples, and the counter.
struct Model {
  std::vector<std::vector<uint8_t>> frames{std::vector<uint8_t>(size_t(kSide * kSide), 0)};
  uint32_t counter = 0;

  void apply(int i) {
    const CommitPlan plan = plan_commit(i, uint32_t(frames.size()));
    if (plan.add_frame) frames.push_back(frames.back());
    if (plan.drop_frame_1) frames.erase(frames.begin() + 1);
    auto& frame = frames[plan.frame];
    for (int64_t y = 0; y < plan.region.height; ++y)
      std::memcpy(&frame[size_t((plan.region.y + y) * kSide + plan.region.x)],
                  &plan.pixels[size_t(y * plan.region.width)], size_t(plan.region.width));
    counter = uint32_t(i);
  }
};

// Commit i's changes, made in `txn` (not committed).
inline Status apply_commit(int i, WriteTxn& txn) {
  auto img = txn.image("img");
  if (!img) return img.status();
  const CommitPlan plan = plan_commit(i, img->frames);
  if (plan.add_frame) TESSERA_RETURN_IF_ERROR(txn.add_frame("img"));
  if (plan.drop_frame_1) TESSERA_RETURN_IF_ERROR(txn.drop_frame("img", 1));
  TESSERA_RETURN_IF_ERROR(txn.write("img", plan.region, Selection{plan.frame, 0, {}},
                                    plan.pixels.data(), plan.pixels.size()));
  const uint32_t counter = uint32_t(i);
  return txn.write("counter", Region{0, 0, 1, 1}, Selection{}, &counter, sizeof counter);
}

}  // namespace tessera::fault
