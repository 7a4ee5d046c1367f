// counter_image.h — the image the process tests share with their child processes
// (tessera_test_child): each commit writes one counter value into every pixel of a region
// spanning many tiles, in several writes, so a snapshot that shows two counters, or a
// counter older than one seen before, has seen a half-applied or reordered commit.
//
// Pixel (x, y) of counter c holds (c << 10) | ((x & 31) << 5) | (y & 31): the low bits make
// the tiles non-uniform (stored as chunks, not inline) and give four distinct chunks per
// commit, each shared by a quarter of the tiles, so reference counts change on every commit.
// A region never written (all fill, 0) reads as counter 0.
//
// Header-only, no GoogleTest: the child executable includes it too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/container.h"

namespace tessera::test::counter {

inline constexpr const char* kImage = "counter";
inline constexpr int64_t kWidth = 128, kHeight = 96;  // 8 x 6 tiles of 16
inline constexpr int64_t kRowsPerWrite = 32;          // 3 writes per commit

inline ImageSpec spec() {
  ImageSpec s;
  s.type = DataType::kU32;
  s.bands = 1;
  s.tile_size = 16;
  return s;
}

inline uint32_t pixel(uint64_t c, int64_t x, int64_t y) {
  return uint32_t(c << 10) | uint32_t((x & 31) << 5) | uint32_t(y & 31);
}

// Writes counter c into the whole region, kRowsPerWrite rows per WriteTxn::write call.
inline Status write(WriteTxn& txn, uint64_t c) {
  std::vector<uint32_t> rows(size_t(kWidth * kRowsPerWrite));
  for (int64_t y0 = 0; y0 < kHeight; y0 += kRowsPerWrite) {
    for (int64_t y = 0; y < kRowsPerWrite; ++y)
      for (int64_t x = 0; x < kWidth; ++x) rows[size_t(y * kWidth + x)] = pixel(c, x, y0 + y);
    TESSERA_RETURN_IF_ERROR(txn.write(kImage, Region{0, y0, kWidth, kRowsPerWrite}, {},
                                      rows.data(), rows.size() * 4));
  }
  return Status::ok();
}

// The counter a view shows, read in two halves (a snapshot must show one commit throughout);
// kCorrupt with a description when the pixels do not all belong to one counter.
inline Result<uint64_t> read(const View& view) {
  std::vector<uint32_t> pixels(size_t(kWidth * kHeight));
  const int64_t half = kHeight / 2;
  TESSERA_RETURN_IF_ERROR(view.read(kImage, Region{0, 0, kWidth, half}, {}, pixels.data(),
                                    size_t(kWidth * half) * 4));
  TESSERA_RETURN_IF_ERROR(view.read(kImage, Region{0, half, kWidth, kHeight - half}, {},
                                    pixels.data() + kWidth * half,
                                    size_t(kWidth * (kHeight - half)) * 4));
  if (pixels[0] == 0) {  // never written: every pixel must be fill
    for (size_t i = 0; i < pixels.size(); ++i)
      if (pixels[i] != 0)
        return Status(Code::kCorrupt, "pixel " + std::to_string(i) + " is " +
                                          std::to_string(pixels[i]) + " but pixel 0 is fill");
    return uint64_t(0);
  }
  const uint64_t c = pixels[0] >> 10;
  for (int64_t y = 0; y < kHeight; ++y)
    for (int64_t x = 0; x < kWidth; ++x) {
      const uint32_t v = pixels[size_t(y * kWidth + x)];
      if (v != pixel(c, x, y))
        return Status(Code::kCorrupt, "pixel (" + std::to_string(x) + "," + std::to_string(y) +
                                          ") holds counter " + std::to_string(v >> 10) +
                                          " (low bits " + std::to_string(v & 1023) +
                                          ") but pixel (0,0) holds " + std::to_string(c));
    }
  return c;
}

// Writes a side x side block of incompressible bytes into image "bulk" (created on first
// use, codec none) at a place of its own for counter c: a write that needs new pages.
inline Status write_bulk(WriteTxn& txn, uint64_t c, int64_t side) {
  std::vector<uint8_t> bytes(size_t(side * side));
  uint64_t state = c * 0x9E3779B97F4A7C15ull + 1;
  for (auto& b : bytes) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    b = uint8_t(state);
  }
  if (!txn.image("bulk")) {
    ImageSpec s;
    s.type = DataType::kU8;
    s.codec.codec = Codec::kNone;
    TESSERA_RETURN_IF_ERROR(txn.create_image("bulk", s));
  }
  return txn.write("bulk", Region{int64_t(c) * side, 0, side, side}, {}, bytes.data(),
                   bytes.size());
}

// One commit of counter c plus a bulk block (write_bulk).
inline Status write_with_bulk(Container& container, uint64_t c, int64_t side) {
  return container.write([&](WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(write(txn, c));
    return write_bulk(txn, c, side);
  });
}

// Creates `path` with the counter image and commits counter 1.
inline Status create(const std::string& path, const OpenOptions& options = {}) {
  auto container = Container::create(path, options);
  if (!container) return container.status();
  return container->write([](WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(txn.create_image(kImage, spec()));
    return write(txn, 1);
  });
}

// The counter of the last commit of `path` (opened and closed here).
inline Result<uint64_t> read_file(const std::string& path, const OpenOptions& options = {}) {
  auto container = Container::open(path, options);
  if (!container) return container.status();
  auto snapshot = container->snapshot();
  if (!snapshot) return snapshot.status();
  return read(*snapshot);
}

}  // namespace tessera::test::counter
