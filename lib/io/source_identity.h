// The identity a resumed import compares (tessera/io.h SourceIdentity), of a file as stat()
// describes it: one rule for every source that reads a file.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tessera/io.h"

namespace tessera::io_detail {

inline SourceIdentity file_identity(const std::string& path, const struct stat& st) {
  SourceIdentity identity;
  identity.path = std::filesystem::absolute(path).lexically_normal().string();
  identity.size = uint64_t(st.st_size);
  identity.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return identity;
}

}  // namespace tessera::io_detail
