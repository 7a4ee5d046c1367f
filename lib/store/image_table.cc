#include "store/image_table.h"

#include <algorithm>

namespace tessera::detail {

const ImageInfo* ImageTable::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &images_[it->second];
}

uint32_t ImageTable::unused_id() const {
  uint32_t id = 0;
  for (const ImageInfo& image : images_) id = std::max(id, image.id + 1);
  return id;
}

void ImageTable::add(ImageInfo info) {
  by_name_.emplace(info.name, images_.size());  // keeps the first of a name
  images_.push_back(std::move(info));
}

const MappedValue* ImageTable::find_mapped(std::string_view name) const {
  auto it = mapped_.find(name);
  return it == mapped_.end() ? nullptr : &it->second;
}

void ImageTable::erase_mapped(std::string_view name) {
  auto it = mapped_.find(name);
  if (it != mapped_.end()) mapped_.erase(it);
}

void ImageTable::put(const ImageInfo& info) {
  for (ImageInfo& image : images_)
    if (image.id == info.id) {
      image = info;  // names are fixed at creation: the index stays right
      return;
    }
  add(info);
}

}  // namespace tessera::detail
