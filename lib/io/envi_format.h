// What the ENVI sink shares with the header code (envi_header.cc).
#pragma once

#include "io/staged_file.h"
#include "tessera/envi.h"

namespace tessera::io_detail {

// Writes the header text Tessera writes for `header` (byte order 0; "tessera data type = i8"
// beside data type 1 for i8) into `file`, a fresh StagedFile, and seals it. The caller commits.
Status write_staged_header(StagedFile& file, const EnviHeader& header);

}  // namespace tessera::io_detail
