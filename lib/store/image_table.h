// The image table: every record of the `images` database and every mapped image record of
// `meta`, parsed. Parsed once per commit and shared by every transaction that sees that commit
// (a tile server takes a snapshot per request: with many images, parsing them each time would
// cost more than the tile).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "format/mapped_record.h"
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

  // Mapped images by name (the ordinary image of a name, should both exist, is the one found).
  using MappedImages = std::map<std::string, MappedValue, std::less<>>;
  const MappedImages& mapped() const { return mapped_; }
  const MappedValue* find_mapped(std::string_view name) const;
  void put_mapped(std::string_view name, MappedValue value) { mapped_.insert_or_assign(std::string(name), std::move(value)); }
  void erase_mapped(std::string_view name);

 private:
  struct NameHash {
    using is_transparent = void;  // lookups by string_view, no copy
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  std::vector<ImageInfo> images_;
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> by_name_;  // first of each name
  MappedImages mapped_;
};

}  // namespace tessera::detail
