#include "io/staged_file.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace tessera::io_detail {

Status check_free_space(const std::string& path, uint64_t bytes) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) != 0) return Status::ok();  // the create that follows reports it
  const uint64_t free = uint64_t(fs.f_bavail) * uint64_t(fs.f_frsize);
  if (bytes <= free) return Status::ok();
  return Status(Code::kNoSpace, path + ": needs " + std::to_string(bytes) + " bytes, and the file system of '" + dir +
                                    "' has " + std::to_string(free) + " free");
}

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
