// The checks of a read or write request, in one place: the library's reads and writes, the
// block iterator and the converters (through View::check) all refuse a bad request with the
// same message. Each fault has one message, naming the file, the image and the value at fault.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/env.h"
#include "tessera/container.h"

namespace tessera::detail {

// The caller's side of a transfer: a buffer, its size, its strides.
struct CallerBuffer {
  uint8_t* data;
  size_t size;
  Strides strides;
};

// Checks region, bands and frame of a request to `image` of container `path` (for a
// write also: no band twice, and a frame that exists or comes next). Returns the band list:
// sel.bands, or every band in order.
Result<std::vector<uint32_t>> check_request(const std::string& path, const ImageInfo& image,
                                            const Region& region, const Selection& sel, Access access);
// check_request, then the caller's buffer: strides and size for `region` of those bands.
Result<std::vector<uint32_t>> check_request(const std::string& path, const ImageInfo& image,
                                            const Region& region, const Selection& sel, Access access,
                                            const CallerBuffer& buffer);
// The level of a request: a write addresses level 0 (kInvalidArgument otherwise: the levels are
// made from it); a read a level built for its frame (kNotFound naming the level, what is built
// and the command that builds it). Level 0 is always fine. Reads the frame's pyramid record.
Status check_level(const Txn& txn, const ImageInfo& image, const Selection& sel, Access access);
// kNotFound unless frame `frame` of `image` exists.
Status check_frame(const std::string& path, const ImageInfo& image, uint32_t frame);

}  // namespace tessera::detail
