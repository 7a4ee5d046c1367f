// power_loss_test.cc — power loss and I/O errors, the way SQLite tests them.
//
// tessera_fault_workload commits the transactions of fault/workload_plan.h under
// fault/fault_shim.so, which plays the disk (see the shim's header for its model):
//  - PowerLoss*: at the k-th sync point the power goes out and what was written since the
//    last one is kept, dropped, torn per 512-byte sector, or lands as a byte prefix. The file
//    must then open (no shim), verify clean, and hold exactly the state after the last
//    acknowledged commit or after the one in progress; and it must take a further commit.
//  - IoError*: the n-th write or sync fails with EIO or ENOSPC, or the n-th write is short.
//    The commit in progress must fail with an error Status (never ACK), and the file, opened
//    again, must be at the last acknowledged commit or at the failed one; the workload goes
//    on from there and the final file must hold exactly the commits that landed. ENOSPC,
//    EFBIG and EDQUOT must come back as kNoSpace, EIO and short writes as kIoError, naming
//    the file; a Container that refuses to go on (liblmdb after a failed meta write) says to
//    open it again.
// The normal run is bounded (about 160 workload runs): keep and drop at every sync point, the
// random tears at those of every other commit with one seed each, and each call failed by one
// of EIO, ENOSPC or a short write in turn (EFBIG and EDQUOT at every tenth). With TESSERA_SOAK=1
// (scripts/soak-power.sh): every sync point with seeds 1..8, every call with every error.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "fault/workload_plan.h"
#include "tessera/verify.h"
#include "test_util.h"

extern char** environ;

namespace tessera {
namespace {

using fault::kCommits;
using fault::kSide;
using fault::Model;
using test::TempDir;

bool soak() {
  const char* v = std::getenv("TESSERA_SOAK");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

struct ChildRun {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::vector<std::string> lines;
  std::string output;  // for failure messages
};

// Runs the workload on `file` under the shim with the given TESSERA_FAULT_* settings.
ChildRun run_workload(const TempDir& dir, const std::string& file,
                      const std::map<std::string, std::string>& settings) {
  ChildRun run;
  const std::string out = dir.path("workload.out");
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0 && std::strncmp(*e, "TESSERA_FAULT_", 14) != 0)
      env_strings.push_back(*e);
  std::string preload = TESSERA_FAULT_SHIM_PATH;
  // ASan must come first in the preload list; the workload is built with it too.
  if (std::strlen(TESSERA_ASAN_RUNTIME) > 0) preload = std::string(TESSERA_ASAN_RUNTIME) + ":" + preload;
  env_strings.push_back("LD_PRELOAD=" + preload);
  env_strings.push_back("TESSERA_FAULT_PATH=" + file);
  for (const auto& [key, value] : settings) env_strings.push_back("TESSERA_FAULT_" + key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string program = TESSERA_FAULT_WORKLOAD_PATH;
  std::vector<char*> argv = {program.data(), const_cast<char*>(file.c_str()), nullptr};

  const pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0) ::_exit(126);
    ::close(fd);
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return run;
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << std::strerror(errno);
      return run;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "the workload did not finish within 120 s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  std::ifstream in(out);
  for (std::string line; std::getline(in, line);) {
    run.lines.push_back(line);
    run.output += line + "\n";
  }
  return run;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

int number_after(const std::string& line, size_t word) {
  std::istringstream in(line);
  std::string w;
  for (size_t i = 0; i <= word; ++i) in >> w;
  return std::atoi(w.c_str());
}

Model model_of(const std::vector<int>& applied) {
  Model model;
  for (int i : applied) model.apply(i);
  return model;
}

constexpr int kDetected = -2;     // verify reported faults (allowed by `faults_allowed`)
constexpr int kBeforeSetup = -3;  // no images yet (allowed by `faults_allowed`)

// The file opens, verifies clean, holds exactly one of `candidates` (commit sequences), and
// takes one more commit. Returns the index of the candidate it holds (-1 on failure). With
// `faults_allowed` (damage the spec does not promise to survive) a file that verify finds
// faulty, or one from before the workload's setup, is returned as kDetected or kBeforeSetup
// instead of failing; a clean one must still hold a candidate.
int check_file(const std::string& file, const std::vector<std::vector<int>>& candidates,
               const std::string& context, bool faults_allowed = false) {
  auto report = verify(file, VerifyOptions{.deep = true});
  if (!report) {
    ADD_FAILURE() << context << "verify: " << report.status().to_string();
    return -1;
  }
  if (!report->clean() && faults_allowed) return kDetected;
  if (!report->clean()) {
    ADD_FAILURE() << context << "verify: " << report->faults.size() << " faults, first "
                  << report->faults[0].invariant << ": " << report->faults[0].message;
    return -1;
  }
  auto container = Container::open(file);
  if (!container) {
    ADD_FAILURE() << context << "open: " << container.status().to_string();
    return -1;
  }
  int found = -1;
  {
    auto snap = container->snapshot();
    if (!snap) {
      ADD_FAILURE() << context << "snapshot: " << snap.status().to_string();
      return -1;
    }
    if (faults_allowed && snap->images().empty()) return kBeforeSetup;
    uint32_t counter = 0;
    Status s = snap->read("counter", Region{0, 0, 1, 1}, Selection{}, &counter, sizeof counter);
    if (!s.is_ok()) {
      ADD_FAILURE() << context << "read counter: " << s.to_string();
      return -1;
    }
    for (size_t c = 0; c < candidates.size(); ++c)
      if (counter == (candidates[c].empty() ? 0u : uint32_t(candidates[c].back()))) found = int(c);
    if (found < 0) {
      ADD_FAILURE() << context << "the file is at commit " << counter
                    << ", neither the last acknowledged one nor the one in progress";
      return -1;
    }
    const Model model = model_of(candidates[size_t(found)]);
    auto img = snap->image("img");
    if (!img) {
      ADD_FAILURE() << context << img.status().to_string();
      return -1;
    }
    if (img->frames != model.frames.size()) {
      ADD_FAILURE() << context << "commit " << counter << ": " << img->frames
                    << " frames, expected " << model.frames.size();
      return -1;
    }
    std::vector<uint8_t> pixels(size_t(kSide * kSide));
    for (uint32_t f = 0; f < img->frames; ++f) {
      s = snap->read("img", Region{0, 0, kSide, kSide}, Selection{f, 0, {}}, pixels.data(),
                     pixels.size());
      if (!s.is_ok() || pixels != model.frames[f]) {
        ADD_FAILURE() << context << "commit " << counter << ": frame " << f
                      << (s.is_ok() ? " differs from the model" : ": " + s.to_string());
        return -1;
      }
    }
  }
  // The recovered file is usable: one more commit, and it is still sound.
  Status more = container->write([](WriteTxn& txn) {
    const uint32_t value = 1000;
    return txn.write("counter", Region{5, 5, 1, 1}, Selection{}, &value, sizeof value);
  });
  if (!more.is_ok()) {
    ADD_FAILURE() << context << "a commit after recovery: " << more.to_string();
    return -1;
  }
  auto again = verify(file);
  if (!again || !again->clean()) {
    ADD_FAILURE() << context << "verify after a further commit: "
                  << (again ? again->faults[0].message : again.status().to_string());
    return -1;
  }
  return found;
}

struct Counts {
  int syncs = 0, calls = 0, writes = 0;
};

// The fault-free run: how many sync points, calls and writes the armed workload makes.
const Counts& workload_counts() {
  static const Counts counts = [] {
    Counts c;
    TempDir dir;
    const std::string file = dir.path("count.tsr");
    ChildRun run = run_workload(dir, file, {{"MODE", "count"}});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    for (const auto& line : run.lines)
      if (starts_with(line, "FAULT_COUNT")) {
        c.syncs = number_after(line, 2);
        c.calls = number_after(line, 4);
        c.writes = number_after(line, 6);
      }
    EXPECT_TRUE(std::find(run.lines.begin(), run.lines.end(), "ACK " + std::to_string(kCommits)) !=
                run.lines.end())
        << run.output;
    EXPECT_GE(c.syncs, 2 * kCommits) << run.output;  // at least a data sync and a meta write each
    return c;
  }();
  return counts;
}

// ---- power loss -------------------------------------------------------------------------------

struct CrashTally {
  int runs = 0, at_previous = 0, at_new = 0;
  int at_older = 0, detected = 0;  // only when a meta write lands out of order (suffix)
};

void crash_once(const std::string& crash, int k, uint64_t seed, CrashTally& tally) {
  const bool out_of_order = crash == "suffix";
  TempDir dir;
  const std::string file = dir.path("crash.tsr");
  ChildRun run = run_workload(dir, file,
                              {{"MODE", "crash"}, {"CRASH", crash}, {"K", std::to_string(k)},
                               {"SEED", std::to_string(seed)}});
  const std::string context = "crash=" + crash + " k=" + std::to_string(k) +
                              " seed=" + std::to_string(seed) + ": ";
  ASSERT_EQ(run.exit_code, 77) << context << "the workload did not stop at the sync point\n"
                               << run.output;
  std::vector<int> acked;
  int in_progress = 0;
  for (const auto& line : run.lines) {
    if (starts_with(line, "ACK ")) acked.push_back(number_after(line, 1));
    if (starts_with(line, "BEGIN ")) in_progress = number_after(line, 1);
    ASSERT_FALSE(starts_with(line, "ERR ")) << context << "an error without a fault\n" << run.output;
  }
  ASSERT_EQ(in_progress, int(acked.size()) + 1) << context << run.output;
  std::vector<int> with_next = acked;
  with_next.push_back(in_progress);
  if (!out_of_order) {
    const int found = check_file(file, {acked, with_next}, context);
    ASSERT_GE(found, 0) << run.output;
    ++tally.runs;
    (found == 0 ? tally.at_previous : tally.at_new)++;
    return;
  }
  // The meta page may now mix the new txnid with older fields: one commit further back (the
  // page's previous content) is the only other state a clean file may hold.
  std::vector<int> older = acked;
  if (!older.empty()) older.pop_back();
  const int found = check_file(file, {acked, with_next, older}, context, true);
  ASSERT_NE(found, -1) << run.output;
  ASSERT_TRUE(found != kBeforeSetup || in_progress <= 1) << context << run.output;
  ++tally.runs;
  if (found == 0) ++tally.at_previous;
  if (found == 1) ++tally.at_new;
  if (found == 2 || found == kBeforeSetup) ++tally.at_older;
  if (found == kDetected) ++tally.detected;
}

// Power loss at every sync point; with `odd_commits`, outside soak mode, only at those of every
// other commit (both its data sync and its meta write: 2 of every 4 sync points), to bound the
// time the random tears take.
void crash_at_every_sync(const std::string& crash, bool random, bool odd_commits = false) {
  const Counts& counts = workload_counts();
  ASSERT_GT(counts.syncs, 0);
  const uint64_t seeds = random && soak() ? 8 : 1;
  const bool sample = odd_commits && !soak();
  CrashTally tally;
  for (int k = 1; k <= counts.syncs; ++k)
    for (uint64_t s = 0; s < seeds; ++s) {
      if (sample && (k - 1) / 2 % 2 != 0) continue;
      // One seed per sync point normally, different at each: many tear patterns in all.
      const uint64_t seed = soak() ? s + 1 : uint64_t(k) * 7919 + 1;
      crash_once(crash, k, seed, tally);
      if (::testing::Test::HasFatalFailure()) return;
    }
  std::cout << "[ power loss " << crash << " ] " << tally.runs << " runs over " << counts.syncs
            << " sync points: " << tally.at_previous << " at the previous commit, " << tally.at_new
            << " at the new one";
  if (tally.at_older + tally.detected > 0)
    std::cout << ", " << tally.at_older << " one commit further back (an acknowledged commit lost), "
              << tally.detected << " damaged (verify reports faults)";
  std::cout << "\n";
  if (crash == "keep") {
    EXPECT_GT(tally.at_new, 0);
  }
  if (crash == "drop") {
    EXPECT_GT(tally.at_previous, 0);
  }
}

TEST(PowerLossTest, KeepAtEverySyncPoint) { crash_at_every_sync("keep", false); }
TEST(PowerLossTest, DropAtEverySyncPoint) { crash_at_every_sync("drop", false); }
TEST(PowerLossTest, TearSectorsAtSyncPoints) { crash_at_every_sync("tear", true, true); }
// At a meta-page write this is the torn meta write of spec/FORMAT.md 7.2: a prefix lands.
TEST(PowerLossTest, PrefixLandsAtSyncPoints) { crash_at_every_sync("prefix", true, true); }
// Not guaranteed (spec/FORMAT.md 7.2): the end of the meta write lands without its beginning.
// The file must then be either clean and at one of the last three commits, or damaged in a way
// verify reports: never clean with wrong content.
TEST(PowerLossTest, MetaWriteOutOfOrderIsCleanOrDetected) {
  crash_at_every_sync("suffix", true, true);
}

// ---- I/O errors -------------------------------------------------------------------------------

void fail_once(const std::string& kind, int n, int& surfaced, int& landed, int& refused_after) {
  TempDir dir;
  const std::string file = dir.path("error.tsr");
  ChildRun run = run_workload(dir, file,
                              {{"MODE", "error"}, {"ERROR", kind}, {"N", std::to_string(n)}});
  const std::string context = "error=" + kind + " n=" + std::to_string(n) + ": ";
  ASSERT_EQ(run.exit_code, 0) << context << run.output;
  std::vector<int> applied;
  int in_progress = 0, failing = 0;
  bool injected = false, reported = false;
  for (const auto& line : run.lines) {
    if (starts_with(line, "BEGIN ")) in_progress = number_after(line, 1);
    if (starts_with(line, "FAULT_INJECTED")) {
      injected = true;
      failing = in_progress;
    }
    if (starts_with(line, "ACK ")) {
      ASSERT_NE(number_after(line, 1), failing) << context << "a commit that met an injected "
                                                << "fault was acknowledged\n" << run.output;
      applied.push_back(number_after(line, 1));
    }
    if (starts_with(line, "ERR ")) {
      ASSERT_TRUE(injected && number_after(line, 1) == failing)
          << context << "an error without a fault\n" << run.output;
      // The message names the file and the code is one a caller can act on.
      ASSERT_NE(line.find(file), std::string::npos) << context << line;
      const bool space = line.find("no space") != std::string::npos;
      const bool io = line.find("I/O error") != std::string::npos;
      // ENOSPC keeps its meaning; liblmdb reports a short write as EIO (it cannot know why).
      ASSERT_TRUE(kind == "eio" || kind == "short" ? io : space) << context << line;
      reported = true;
    }
    if (starts_with(line, "AFTER ") && line.find(" ok") == std::string::npos) {
      ASSERT_NE(line.find(file), std::string::npos) << context << line;
      ASSERT_TRUE(line.find("MDB_PANIC") == std::string::npos ||
                  line.find("open the container again") != std::string::npos)
          << context << line;
      ++refused_after;
    }
    if (starts_with(line, "STATE ")) {
      const int at = number_after(line, 2);
      const int before = applied.empty() ? 0 : applied.back();
      ASSERT_TRUE(at == before || at == number_after(line, 1))
          << context << "reopened at commit " << at << "\n" << run.output;
      if (at == number_after(line, 1)) {
        applied.push_back(at);
        ++landed;
      }
    }
  }
  if (!injected) return;  // the fault-free count overshot this path: nothing to check
  ASSERT_TRUE(reported) << context << "the injected fault did not surface as an error\n"
                        << run.output;
  ++surfaced;
  ASSERT_GE(check_file(file, {applied}, context), 0) << run.output;
}

// Fails every call in turn, or outside soak mode every `stride`-th one from `first` (the error
// kinds take turns so that together they still fail every call).
void fail_every_call(const std::string& kind, int stride = 1, int first = 1) {
  const Counts& counts = workload_counts();
  const int n_max = kind == "short" ? counts.writes : counts.calls;
  ASSERT_GT(n_max, 0);
  if (soak()) stride = first = 1;
  int surfaced = 0, landed = 0, tried = 0, refused_after = 0;
  for (int n = first; n <= n_max; n += stride, ++tried) {
    fail_once(kind, n, surfaced, landed, refused_after);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::cout << "[ i/o error " << kind << " ] " << tried << " of " << n_max << " calls failed in turn, " << surfaced
            << " surfaced as errors, " << landed << " failed commits landed anyway, "
            << refused_after << " times the Container refused to go on until reopened\n";
  EXPECT_GE(surfaced, tried - 2);
}

TEST(IoErrorTest, EioAtCalls) { fail_every_call("eio", 3, 1); }
TEST(IoErrorTest, EnospcAtCalls) { fail_every_call("enospc", 3, 2); }
TEST(IoErrorTest, ShortWriteAtWrites) { fail_every_call("short", 3, 3); }
// The other "disk full" errors: the same path as ENOSPC, so a sample is enough outside soak mode.
TEST(IoErrorTest, EfbigAndEdquotAtCalls) {
  fail_every_call("efbig", 10, 1);
  fail_every_call("edquot", 10, 6);
}

}  // namespace
}  // namespace tessera
