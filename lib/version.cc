#include "tessera/version.h"

#include "format/records.h"

namespace tessera {

std::string_view version() { return TESSERA_VERSION; }

std::string format_versions() {
  using namespace detail;
  return "writes " + to_string(kBaseFormatVersion) + " (" + to_string(kNewest2xVersion) +
         " once a mapped image is stored, " + to_string(delta_version_of(kBaseFormatVersion)) + " or " +
         to_string(kFormatVersion) + " once the delta filter is); reads " + std::to_string(kOldestFormatMajor) + ".0 to " +
         std::to_string(kFormatMajor) + ".x";
}

}  // namespace tessera
