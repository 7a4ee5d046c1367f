#include "raster/request.h"

#include <algorithm>

#include "store/pyramid_table.h"

namespace tessera::detail {
namespace {

Status invalid(const std::string& path, const ImageInfo& image, const std::string& what) {
  return Status(Code::kInvalidArgument, path + ": image '" + image.name + "': " + what);
}

// Region, level and bands: what reads and writes share.
Result<std::vector<uint32_t>> check_selection(const std::string& path, const ImageInfo& image,
                                              const Region& region, const Selection& sel) {
  if (!region.is_valid())
    return invalid(path, image, "region " + to_string(region) +
                                    " is empty or reaches past the signed 64-bit coordinate range");
  std::vector<uint32_t> bands = sel.bands;
  if (bands.empty())
    for (uint32_t b = 0; b < image.spec.bands; ++b) bands.push_back(b);
  for (uint32_t b : bands)
    if (b >= image.spec.bands)
      return invalid(path, image, "band " + std::to_string(b) + " is out of range (the image has " +
                                      std::to_string(image.spec.bands) + " bands)");
  return bands;
}

Status check_buffer(const std::string& path, const ImageInfo& image, const Region& region,
                    size_t bands, const CallerBuffer& buffer) {
  const Strides& st = buffer.strides;
  if (st.pixel < 0 || st.line < 0 || st.band < 0) return invalid(path, image, "negative buffer strides");
  const uint64_t need = required_bytes(st, region.width, region.height, bands, sample_size(image.spec.type));
  if (need > buffer.size)
    return invalid(path, image, "buffer of " + std::to_string(buffer.size) +
                                    " bytes is too small for region " + to_string(region) + " x " +
                                    std::to_string(bands) + " bands (" + std::to_string(need) + " bytes)");
  return Status::ok();
}

// What only writes need: each band once, and a frame that exists or comes next.
Status check_write(const std::string& path, const ImageInfo& image, const std::vector<uint32_t>& bands,
                   uint32_t frame) {
  for (size_t i = 0; i < bands.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (bands[i] == bands[j])
        return invalid(path, image, "band " + std::to_string(bands[i]) + " is selected twice for a write");
  if (frame == UINT32_MAX)
    return invalid(path, image, "frame numbers end at " + std::to_string(UINT32_MAX - 1));
  if (frame > image.frames)
    return Status(Code::kNotFound, path + ": image '" + image.name + "' has no frame " +
                                       std::to_string(frame) + " to write (it has " +
                                       std::to_string(image.frames) + "; frames are appended in order)");
  return Status::ok();
}

Result<std::vector<uint32_t>> check_all(const std::string& path, const ImageInfo& image,
                                        const Region& region, const Selection& sel, Access access,
                                        const CallerBuffer* buffer) {
  auto bands = check_selection(path, image, region, sel);
  if (!bands) return bands;
  if (buffer) TESSERA_RETURN_IF_ERROR(check_buffer(path, image, region, bands->size(), *buffer));
  if (access == Access::kWrite) TESSERA_RETURN_IF_ERROR(check_write(path, image, *bands, sel.frame));
  else TESSERA_RETURN_IF_ERROR(check_frame(path, image, sel.frame));
  return bands;
}

}  // namespace

Status check_level(const Txn& txn, const ImageInfo& image, const Selection& sel, Access access) {
  if (sel.level == 0) return Status::ok();
  const std::string& path = txn.env().path();
  const std::string level = "pyramid level " + std::to_string(sel.level);
  if (access == Access::kWrite)
    return invalid(path, image, level + " cannot be written: levels are made from level 0, and every "
                                        "write of level 0 keeps them in step");
  TESSERA_RETURN_IF_ERROR(check_frame(path, image, sel.frame));
  auto record = read_pyramid(txn, image, sel.frame);
  if (!record) return record.status();
  const PyramidInfo& p = record->info;
  if (sel.level <= p.levels) return Status::ok();
  const std::string built = p.levels == 0 ? "no level is built" : "levels 1.." + std::to_string(p.levels) + " are built";
  return Status(Code::kNotFound,
                path + ": image '" + image.name + "' frame " + std::to_string(sel.frame) + ": " + level +
                    " has not been built (" + built + "); build it with: tessera pyramid " + path +
                    " --image " + image.name + " --frame " + std::to_string(sel.frame) + " --levels " +
                    std::to_string(std::max(sel.level, p.target)));
}

Status check_frame(const std::string& path, const ImageInfo& image, uint32_t frame) {
  if (frame < image.frames) return Status::ok();
  return Status(Code::kNotFound, path + ": image '" + image.name + "' has no frame " +
                                     std::to_string(frame) + " (it has " +
                                     std::to_string(image.frames) + ")");
}

Result<std::vector<uint32_t>> check_request(const std::string& path, const ImageInfo& image,
                                            const Region& region, const Selection& sel, Access access) {
  return check_all(path, image, region, sel, access, nullptr);
}

Result<std::vector<uint32_t>> check_request(const std::string& path, const ImageInfo& image,
                                            const Region& region, const Selection& sel, Access access,
                                            const CallerBuffer& buffer) {
  return check_all(path, image, region, sel, access, &buffer);
}

}  // namespace tessera::detail
