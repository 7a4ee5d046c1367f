// ASCII case folding for names people type (enum values on a command line, file extensions):
// "BSQ", "Bsq" and "bsq" name the same interleave, as they do in an ENVI header.
#pragma once

#include <string>
#include <string_view>

namespace tessera::detail {

inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

}  // namespace tessera::detail
