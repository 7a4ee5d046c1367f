// Attributes of images and frames in the `attributes` database (spec/FORMAT.md 4.7): read,
// set, delete, and kept in step when a frame is dropped. Nothing of pixels.
#pragma once

#include <optional>
#include <string_view>

#include "format/attribute_record.h"
#include "store/env.h"

namespace tessera::detail {

// The attributes of one scope of `image` (kImageScope, or a frame), sorted by name. Empty in
// a file without the database (older than 2.1).
Result<Attributes> read_attributes(const Txn& txn, const ImageInfo& image, uint32_t scope);
// Adds or replaces one; checks the name and the value's size.
Status put_attribute(Txn& txn, const ImageInfo& image, uint32_t scope, std::string_view name,
                     const AttributeValue& value);
// kNotFound when there is no such attribute.
Status delete_attribute(Txn& txn, const ImageInfo& image, uint32_t scope, std::string_view name);
// Frame `frame` is dropped: its attributes go, those of later frames move down by one.
Status drop_frame_attributes(Txn& txn, const ImageInfo& image, uint32_t frame);

}  // namespace tessera::detail
