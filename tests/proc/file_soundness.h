// file_soundness.h — check_file_sound(path): the one place where the tests decide that a
// container file (left behind by a killed or failed writer, compacted, edited at random) is
// sound: `tessera::verify` finds no fault, LMDB's page structure included.
#pragma once

#include <string>

#include "tessera/verify.h"

namespace tessera::test {

// "" when the file is sound, else the faults verify reports (or why it could not run).
inline std::string check_file_sound(const std::string& path, bool deep = false) {
  VerifyOptions options;
  options.deep = deep;
  auto report = verify(path, options);
  if (!report) return report.status().to_string();
  std::string faults;
  for (const Fault& f : report->faults) faults += f.invariant + ": " + f.message + "\n";
  return faults;
}

}  // namespace tessera::test
