// tessera/version.h — which Tessera this is.
#pragma once

#include <string>
#include <string_view>

#include "tessera/export.h"

namespace tessera {

// The library's version, "MAJOR.MINOR.PATCH" (not the file format's: see FormatVersion).
TESSERA_API std::string_view version();

// The file format versions this build writes and reads (spec/FORMAT.md section 3), in words:
// "writes 2.2 (3.0 once the delta filter is stored); reads 1.0 to 3.x".
TESSERA_API std::string format_versions();

}  // namespace tessera
