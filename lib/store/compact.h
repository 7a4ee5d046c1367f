// Compaction: a copy of a container without free pages or unreferenced chunks.
#pragma once

#include <string>

#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera::detail {

// Writes the compacted copy of `path` to `out`, or, with `out` empty, puts it in place of
// `path` (see Container::compact for the guarantees).
Status compact_container(const std::string& path, const std::string& out, const Progress& progress);

}  // namespace tessera::detail
