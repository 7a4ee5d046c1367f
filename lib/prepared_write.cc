// PreparedWrite (tessera/container.h): Container::prepare_write encodes, WriteTxn::write
// applies (raster/prepared_write.h).
#include "raster/prepared_write.h"
#include "raster/pyramid.h"
#include "store/env.h"
#include "tessera/container.h"

namespace tessera {

PreparedWrite::PreparedWrite() : tiles_(std::make_unique<detail::PreparedTiles>()) {}
PreparedWrite::PreparedWrite(PreparedWrite&&) noexcept = default;
PreparedWrite& PreparedWrite::operator=(PreparedWrite&&) noexcept = default;
PreparedWrite::~PreparedWrite() = default;

bool PreparedWrite::empty() const { return !tiles_ || tiles_->empty(); }

void PreparedWrite::clear() {
  if (tiles_) tiles_->clear();
}

Status Container::prepare_write(const ImageInfo& image, const Region& region, const void* src, size_t src_size,
                                const Strides& strides, PreparedWrite& out) const {
  if (!out.tiles_) out.tiles_ = std::make_unique<detail::PreparedTiles>();  // moved from
  const detail::CallerBuffer buffer{static_cast<uint8_t*>(const_cast<void*>(src)), src_size, strides};
  return detail::prepare_tiles(*runtime_, env_->path(), image, region, buffer, *out.tiles_);
}

Status WriteTxn::write(std::string_view image, const Selection& sel, PreparedWrite& prepared) {
  const auto apply = [&]() -> Status {
    if (!txn_ || !txn_->active()) return env_->error(Code::kInvalidArgument, "the transaction has finished");
    if (prepared.empty()) return Status::ok();
    auto info = txn_->find_image(image);
    if (!info) return info.status();
    // As write(): nested, on a copy of the image, with the frame's pyramid levels in step.
    ImageInfo updated = **info;
    return txn_->nested([&] {
      std::vector<detail::TileCoord> changed;
      TESSERA_RETURN_IF_ERROR(detail::write_prepared(*txn_, *runtime_, updated, sel, *prepared.tiles_, &changed));
      return detail::update_pyramid(*txn_, *runtime_, updated, sel.frame, std::move(changed));
    });
  };
  const Status status = apply();
  prepared.clear();
  return status;
}

}  // namespace tessera
