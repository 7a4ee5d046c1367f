// The image table: every record of the `images` database, parsed. Parsed once per commit and
// shared by every transaction that sees that commit (a tile server takes a snapshot per
// request: with many images, parsing them each time would cost more than the tile).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tessera/types.h"

namespace tessera::detail {

class ImageTable {
 public:
  // Images in key (id) order.
  const std::vector<ImageInfo>& images() const { return images_; }
  // The image named `name`: when damage left two of one name, the one of the lowest id.
  const ImageInfo* find(std::string_view name) const;
  // An id no image has: one past the highest.
  uint32_t unused_id() const;

  // Appends an image read in key order.
  void add(ImageInfo info);
  // Inserts or replaces by id.
  void put(const ImageInfo& info);

 private:
  struct NameHash {
    using is_transparent = void;  // lookups by string_view, no copy
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  std::vector<ImageInfo> images_;
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> by_name_;  // first of each name
};

}  // namespace tessera::detail
