// An output file written beside its final name and renamed into place once complete, so a
// failure leaves neither a partial file nor a half-replaced output: what every sink writes.
#pragma once

#include <string>

#include "tessera/status.h"
#include "util/posix_file.h"

namespace tessera::io_detail {

// kNoSpace naming `path` when the file system it would be written to has fewer than `bytes`
// free (for the unprivileged user): an export refused at once rather than when the disk fills.
Status check_free_space(const std::string& path, uint64_t bytes);

class StagedFile {
 public:
  // Creates PATH.part for writing (truncating one an earlier failure left).
  static Result<StagedFile> create(const std::string& path);

  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&& other) noexcept;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  // Removes PATH.part unless commit() renamed it.
  ~StagedFile();

  // The open PATH.part (its messages name PATH.part).
  const detail::File& file() const { return file_; }
  // fdatasync, then close: "PATH.part: sync: ..." or "PATH.part: close: ...".
  Status seal();
  // Renames the sealed PATH.part to PATH: "PATH.part: cannot rename to 'PATH': ...".
  Status commit();

 private:
  StagedFile(std::string path, detail::File file);
  std::string path_, part_;
  detail::File file_;
  bool pending_ = false;  // PATH.part exists and is ours to remove
};

}  // namespace tessera::io_detail
