#include "util/posix_file.h"

#include <fcntl.h>

#include <cstring>
#include <filesystem>

namespace tessera::detail {

Code errno_code(int err) {
  switch (err) {
    case ENOENT: return Code::kNotFound;
    case EEXIST: return Code::kAlreadyExists;
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return Code::kNoSpace;
    default: return Code::kIoError;
  }
}

Status os_error(std::string_view path, std::string_view what, int err) {
  return Status(errno_code(err),
                std::string(path) + ": " + std::string(what) + ": " + std::strerror(err));
}

Result<File> File::open(const std::string& path, int flags, mode_t mode, std::string_view what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return os_error(path, what, errno);
  return File(fd, path);
}

Result<File> File::open_for_reading(const std::string& path) {
  return open(path, O_RDONLY, 0, "cannot open");
}

Result<File> File::create_for_writing(const std::string& path) {
  return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, "cannot create");
}

Status File::read_at(void* dst, uint64_t size, uint64_t offset) const {
  uint64_t done = 0;
  const int err = pread_fully(fd_, dst, size, offset, &done);
  if (err == kEndOfFile)
    return Status(Code::kIoError,
                  path_ + ": unexpected end of file at offset " + std::to_string(offset + done));
  if (err != 0) return os_error(path_, "read at offset " + std::to_string(offset + done), err);
  return Status::ok();
}

Status File::write_at(const void* src, uint64_t size, uint64_t offset) const {
  uint64_t done = 0;
  const int err = pwrite_fully(fd_, src, size, offset, &done);
  if (err != 0) return os_error(path_, "write at offset " + std::to_string(offset + done), err);
  return Status::ok();
}

Status File::resize(uint64_t size) const {
  if (::ftruncate(fd_, off_t(size)) != 0)
    return os_error(path_, "cannot size to " + std::to_string(size) + " bytes", errno);
  return Status::ok();
}

Result<struct stat> File::stat() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return os_error(path_, "stat", errno);
  return st;
}

Status File::sync(bool data_only, std::string_view what) const {
  if ((data_only ? ::fdatasync(fd_) : ::fsync(fd_)) != 0) return os_error(path_, what, errno);
  return Status::ok();
}

Status File::close() {
  if (fd_ < 0) return Status::ok();
  if (::close(std::exchange(fd_, -1)) != 0) return os_error(path_, "close", errno);
  return Status::ok();
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status rename_file(const std::string& from, const std::string& to, std::string_view what) {
  if (::rename(from.c_str(), to.c_str()) != 0) return os_error(from, what, errno);
  return Status::ok();
}

void remove_file(const std::string& path) { ::unlink(path.c_str()); }

Status sync_directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  auto file = File::open(dir, O_RDONLY, 0, "open for sync");
  if (!file) return file.status();
  return file->sync(false, "fsync");
}

}  // namespace tessera::detail
