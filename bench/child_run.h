// child_run.h — what the benchmarks that compare with other programs share: a run in a child
// process (its wall time and peak RSS), a peer command run with its output discarded, and the
// median of runs.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace tessera::bench {

struct Run {
  double seconds = 0;
  long peak_rss_kib = 0;
};

// Prints "PROGRAM: WHAT" to stderr and exits 1.
[[noreturn]] void die(const std::string& program, const std::string& what);
// Runs `work` in a forked child: its wall time and peak RSS (wait4); a failure (non-zero
// exit or a signal) stops the benchmark, naming `what`.
Run in_child(const std::string& what, const std::function<int()>& work);
// Runs `args` (found on PATH) with stdout discarded; its exit status (127: not found).
int run_command(const std::vector<std::string>& args);
// The run of median wall time.
Run median(std::vector<Run> runs);

}  // namespace tessera::bench
