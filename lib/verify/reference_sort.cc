#include "verify/reference_sort.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "util/posix_file.h"

namespace tessera::detail {
namespace {

// A full disk under TMPDIR is kNoSpace here too (the one errno mapping of util/posix_file.h).
Status io_error(const std::string& what) { return os_error("verify", what, errno); }

// An unlinked temporary file in TMPDIR (or /tmp): gone when closed, whatever happens.
Result<std::FILE*> temporary_file() {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string pattern = (dir / "tessera-verify-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) return io_error("cannot create a temporary file in " + dir.string());
  ::unlink(pattern.c_str());
  std::FILE* file = ::fdopen(fd, "w+b");
  if (!file) {
    ::close(fd);
    return io_error("fdopen");
  }
  return file;
}

}  // namespace

ReferenceSorter::ReferenceSorter(size_t memory_bytes)
    : capacity_(std::max<size_t>(memory_bytes / sizeof(ChunkReference), 64)) {}

ReferenceSorter::~ReferenceSorter() {
  for (Run& run : runs_)
    if (run.file) std::fclose(run.file);
}

Status ReferenceSorter::add(const ChunkReference& reference) {
  if (batch_.size() == capacity_) TESSERA_RETURN_IF_ERROR(spill());
  batch_.push_back(reference);
  return Status::ok();
}

Status ReferenceSorter::spill() {
  std::sort(batch_.begin(), batch_.end());
  auto file = temporary_file();
  if (!file) return file.status();
  runs_.push_back(Run{*file, {}, 0});
  if (!batch_.empty() &&
      std::fwrite(batch_.data(), sizeof(ChunkReference), batch_.size(), *file) != batch_.size())
    return io_error("writing a temporary file");
  if (std::fflush(*file) != 0 || std::fseek(*file, 0, SEEK_SET) != 0)
    return io_error("writing a temporary file");
  batch_.clear();
  return Status::ok();
}

Status ReferenceSorter::refill(Run& run) {
  run.buffer.resize(run.buffer.capacity());
  const size_t n = std::fread(run.buffer.data(), sizeof(ChunkReference), run.buffer.size(), run.file);
  if (n < run.buffer.size() && std::ferror(run.file)) return io_error("reading a temporary file");
  run.buffer.resize(n);
  run.pos = 0;
  return Status::ok();
}

Status ReferenceSorter::finish() {
  if (runs_.empty()) {  // everything fits: sort in memory, no file
    std::sort(batch_.begin(), batch_.end());
    return Status::ok();
  }
  TESSERA_RETURN_IF_ERROR(spill());
  batch_.shrink_to_fit();
  // Split the budget among the runs' read buffers (at least 256 references each).
  const size_t per_run = std::max<size_t>(capacity_ / runs_.size(), 256);
  auto later = [this](size_t a, size_t b) {
    return runs_[b].buffer[runs_[b].pos] < runs_[a].buffer[runs_[a].pos];
  };
  for (size_t i = 0; i < runs_.size(); ++i) {
    runs_[i].buffer.reserve(per_run);
    TESSERA_RETURN_IF_ERROR(refill(runs_[i]));
    if (!runs_[i].buffer.empty()) heap_.push_back(i);
  }
  std::make_heap(heap_.begin(), heap_.end(), later);
  return Status::ok();
}

Result<bool> ReferenceSorter::next(ChunkReference* out) {
  if (runs_.empty()) {
    if (batch_pos_ == batch_.size()) return false;
    *out = batch_[batch_pos_++];
    return true;
  }
  if (heap_.empty()) return false;
  auto later = [this](size_t a, size_t b) {
    return runs_[b].buffer[runs_[b].pos] < runs_[a].buffer[runs_[a].pos];
  };
  std::pop_heap(heap_.begin(), heap_.end(), later);
  Run& run = runs_[heap_.back()];
  *out = run.buffer[run.pos++];
  if (run.pos == run.buffer.size()) TESSERA_RETURN_IF_ERROR(refill(run));
  if (run.buffer.empty()) heap_.pop_back();
  else std::push_heap(heap_.begin(), heap_.end(), later);
  return true;
}

}  // namespace tessera::detail
