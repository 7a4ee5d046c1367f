#include "io/blocks.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace tessera::io_detail {

BlockBuffer::~BlockBuffer() {
  if (data_) ::munmap(data_, capacity_);
}

Status BlockBuffer::reserve(size_t size, const std::string& owner) {
  if (size <= capacity_ && data_) return Status::ok();
  if (data_) ::munmap(data_, capacity_);
  data_ = nullptr;
  capacity_ = 0;
  const size_t bytes = size ? size : 1;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return Status(Code::kIoError, owner + ": cannot map " + std::to_string(bytes) + " bytes for a block: " +
                                      std::strerror(errno));
#ifdef MADV_HUGEPAGE
  (void)::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without it, 4 KiB pages
#endif
  data_ = static_cast<uint8_t*>(p);
  capacity_ = bytes;
  return Status::ok();
}

std::vector<Segment> block_segments(Interleave interleave, int64_t width, int64_t height,
                                    uint64_t bands, uint64_t sample_bytes, const Region& block) {
  const uint64_t W = uint64_t(width), H = uint64_t(height);
  const uint64_t x = uint64_t(block.x), y0 = uint64_t(block.y);
  const uint64_t w = uint64_t(block.width), h = uint64_t(block.height);
  std::vector<Segment> runs;
  auto add = [&runs](uint64_t file_offset, uint64_t buffer_offset, uint64_t size) {
    if (!runs.empty()) {
      Segment& last = runs.back();
      if (last.file_offset + last.size == file_offset &&
          last.buffer_offset + last.size == buffer_offset) {
        last.size += size;
        return;
      }
    }
    runs.push_back({file_offset, buffer_offset, size});
  };
  switch (interleave) {
    case Interleave::kBIP:  // [y][x][band]: one run per line
      for (uint64_t r = 0; r < h; ++r)
        add(((y0 + r) * W + x) * bands * sample_bytes, r * w * bands * sample_bytes,
            w * bands * sample_bytes);
      break;
    case Interleave::kBIL:  // [y][band][x]: one run per line and band
      for (uint64_t r = 0; r < h; ++r)
        for (uint64_t b = 0; b < bands; ++b)
          add((((y0 + r) * bands + b) * W + x) * sample_bytes, (r * bands + b) * w * sample_bytes,
              w * sample_bytes);
      break;
    case Interleave::kBSQ:  // [band][y][x]: one run per band and line
      for (uint64_t b = 0; b < bands; ++b)
        for (uint64_t r = 0; r < h; ++r)
          add(((b * H + y0 + r) * W + x) * sample_bytes, (b * h + r) * w * sample_bytes,
              w * sample_bytes);
      break;
  }
  return runs;
}

Status check_read(const std::string& name, const RasterShape& shape, const Region& block,
                  size_t dst_size, const Strides& strides) {
  if (block.empty() || block.x < 0 || block.y < 0 || block.width > shape.width - block.x ||
      block.height > shape.height - block.y)
    return Status(Code::kInvalidArgument,
                  name + ": block " + to_string(block) + " is not inside the raster (" +
                      std::to_string(shape.width) + "x" + std::to_string(shape.height) + ")");
  const uint64_t needed =
      required_bytes(strides, block.width, block.height, shape.bands, sample_size(shape.type));
  if (dst_size < needed)
    return Status(Code::kInvalidArgument, name + ": a buffer of " + std::to_string(dst_size) +
                                              " bytes cannot hold block " + to_string(block) +
                                              " (" + std::to_string(needed) + " bytes)");
  return Status::ok();
}

}  // namespace tessera::io_detail
