#include "store/pyramid_table.h"

namespace tessera::detail {
namespace {

std::string context(const Txn& txn, const ImageInfo& image, uint32_t frame) {
  return txn.env().path() + ": image '" + image.name + "' frame " + std::to_string(frame);
}

}  // namespace

Result<PyramidValue> read_pyramid(const Txn& txn, const ImageInfo& image, uint32_t frame) {
  const std::vector<uint8_t> key = pyramid_record_key(image.id, frame);
  auto found = txn.get(txn.env().meta, key);
  if (!found) return found.status();
  if (!*found) return PyramidValue{};
  auto value = parse_pyramid_record(key, bytes_of(**found), (*found)->mv_size);
  if (!value) return value.status().with_context(context(txn, image, frame));
  return value;
}

Status put_pyramid(Txn& txn, const ImageInfo& image, uint32_t frame, const PyramidValue& value) {
  const std::vector<uint8_t> key = pyramid_record_key(image.id, frame);
  if (value.info.levels == 0 && value.info.target == 0) return txn.del(txn.env().meta, key);
  return txn.put(txn.env().meta, key, build_pyramid_record(key, value));
}

Status copy_pyramid(Txn& txn, const ImageInfo& image, uint32_t from, uint32_t to) {
  auto value = read_pyramid(txn, image, from);
  if (!value) return value.status();
  // A build under way stays with its frame: the copy has the levels built so far.
  PyramidValue copied{PyramidInfo{value->info.levels, value->info.resampling, 0}, {}};
  return put_pyramid(txn, image, to, copied);
}

Status drop_frame_pyramid(Txn& txn, const ImageInfo& image, uint32_t frame) {
  for (uint32_t g = frame; g < image.frames; ++g) {
    PyramidValue next;
    if (g + 1 < image.frames) {
      auto found = read_pyramid(txn, image, g + 1);
      if (!found) return found.status();
      next = *found;
    }
    TESSERA_RETURN_IF_ERROR(put_pyramid(txn, image, g, next));
  }
  return Status::ok();
}

}  // namespace tessera::detail
