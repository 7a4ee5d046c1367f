// tessera/version.h — which Tessera this is.
#pragma once

#include <string_view>

#include "tessera/export.h"

namespace tessera {

// The library's version, "MAJOR.MINOR.PATCH" (not the file format's: see FormatVersion).
TESSERA_API std::string_view version();

}  // namespace tessera
