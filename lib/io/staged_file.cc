#include "io/staged_file.h"

#include <utility>

namespace tessera::io_detail {

Result<StagedFile> StagedFile::create(const std::string& path) {
  auto file = detail::File::create_for_writing(path + ".part");
  if (!file) return file.status();
  return StagedFile(path, std::move(file).value());
}

StagedFile::StagedFile(std::string path, detail::File file)
    : path_(std::move(path)), part_(file.path()), file_(std::move(file)), pending_(true) {}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : path_(std::move(other.path_)),
      part_(std::move(other.part_)),
      file_(std::move(other.file_)),
      pending_(std::exchange(other.pending_, false)) {}

StagedFile& StagedFile::operator=(StagedFile&& other) noexcept {
  std::swap(path_, other.path_);
  std::swap(part_, other.part_);
  std::swap(file_, other.file_);
  std::swap(pending_, other.pending_);
  return *this;
}

StagedFile::~StagedFile() {
  if (pending_) {
    (void)file_.close();
    detail::remove_file(part_);
  }
}

Status StagedFile::seal() {
  TESSERA_RETURN_IF_ERROR(file_.sync(/*data_only=*/true, "sync"));
  return file_.close();
}

Status StagedFile::commit() {
  TESSERA_RETURN_IF_ERROR(detail::rename_file(part_, path_, "cannot rename to '" + path_ + "'"));
  pending_ = false;
  return Status::ok();
}

}  // namespace tessera::io_detail
