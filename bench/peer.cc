// peer.cc — the parts of the peer interface every peer shares.
#include "peer.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

namespace tessera::bench {

Status PeerReader::read_bsq(const Region& r, uint8_t* dst) {
  const size_t px = shape_.pixel_bytes(), s = shape_.sample_bytes;
  const size_t n = size_t(r.pixel_count());
  scratch_.resize(n * px);
  TESSERA_RETURN_IF_ERROR(read_region(r, scratch_.data()));
  for (uint32_t b = 0; b < shape_.bands; ++b) {
    uint8_t* plane = dst + size_t(b) * n * s;
    const uint8_t* from = scratch_.data() + size_t(b) * s;
    if (s == 2) {
      for (size_t i = 0; i < n; ++i) std::memcpy(plane + 2 * i, from + i * px, 2);
    } else {
      for (size_t i = 0; i < n; ++i) std::memcpy(plane + i * s, from + i * px, s);
    }
  }
  return Status::ok();
}

uint64_t Peer::file_bytes(const std::string& path) const {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

void copy_bip_overlap(const uint8_t* src, const Region& src_box, uint8_t* dst, const Region& dst_box,
                      size_t pixel_bytes) {
  const Region o = src_box.intersect(dst_box);
  if (o.empty()) return;
  const size_t run = size_t(o.width) * pixel_bytes;
  for (int64_t y = o.y; y < o.y_end(); ++y) {
    std::memcpy(dst + (size_t(y - dst_box.y) * size_t(dst_box.width) + size_t(o.x - dst_box.x)) * pixel_bytes,
                src + (size_t(y - src_box.y) * size_t(src_box.width) + size_t(o.x - src_box.x)) * pixel_bytes,
                run);
  }
}

}  // namespace tessera::bench
