// tessera_test_child — the other process of the process tests (proc_test.cc): a writer, a
// reader or a lock holder on a container file, driven by argv, reporting on stdout in lines.
// It opens the container itself (a Container never crosses fork()).
//
//   writer FILE COMMITS SYNC HOLD     commits counters after the file's one by one (COMMITS=0:
//                                     until killed); prints each counter once commit()
//                                     returned; HOLD=1 keeps a snapshot open throughout
//   reader FILE MAP_SIZE [PAUSE_US]   checks snapshots until stdin gives the final counter
//                                     and closes: one counter per snapshot, never going back;
//                                     prints "ready" after the first one and at the end
//                                     "snapshots N counters M" (exit 2: inconsistency)
//   hold-snapshot FILE                takes a snapshot, prints "ready C", waits for stdin EOF
//   keep-open FILE                    opens the file (no snapshot), prints "ready", waits for
//                                     stdin EOF: keeps LMDB from resetting the reader table
//   hold-write FILE                   begins a write of the next counter, prints "ready",
//                                     commits at stdin EOF, prints "committed C"
//   write-once FILE WAIT_MS           commits the next counter waiting at most WAIT_MS for the
//                                     write lock (-1: no limit); prints "committed C" or
//                                     "busy MS MESSAGE" (exit 4)
//   full-disk FILE                    writes under a file size limit until the disk is "full",
//                                     checks the error and the last commit, lifts the limit and
//                                     writes again; prints "acked C" lines, then "error
//                                     MESSAGE", "after C" (exit 1 on a failed check)
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "proc/counter_image.h"
#include "tessera/container.h"

namespace {

using namespace tessera;
namespace counter = tessera::test::counter;

[[noreturn]] void die(const std::string& what, const Status& status = Status::ok()) {
  std::fprintf(stderr, "tessera_test_child: %s%s%s\n", what.c_str(), status.is_ok() ? "" : ": ",
               status.is_ok() ? "" : status.to_string().c_str());
  std::exit(1);
}

void say(const std::string& line) {
  std::string text = line + "\n";
  if (::write(1, text.data(), text.size()) != ssize_t(text.size())) std::exit(1);
}

Container open_or_die(const std::string& path, const OpenOptions& options = {}) {
  auto container = Container::open(path, options);
  if (!container) die("open " + path, container.status());
  return std::move(container).value();
}

uint64_t counter_or_die(const View& view) {
  auto c = counter::read(view);
  if (!c) die("read the counter", c.status());
  return *c;
}

// Everything stdin holds until EOF.
std::string read_stdin() {
  std::string all;
  char buf[256];
  ssize_t n;
  while ((n = ::read(0, buf, sizeof buf)) > 0) all.append(buf, size_t(n));
  return all;
}

bool stdin_closed_or_ready() {
  pollfd p{0, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

int run_writer(const std::string& path, uint64_t commits, bool sync, bool hold) {
  OpenOptions options;
  options.sync = sync;
  Container container = open_or_die(path, options);
  std::optional<Snapshot> held;
  auto snapshot = container.snapshot();
  if (!snapshot) die("snapshot", snapshot.status());
  uint64_t c = counter_or_die(*snapshot);
  if (hold) held.emplace(std::move(snapshot).value());
  for (uint64_t i = 0; commits == 0 || i < commits; ++i) {
    ++c;
    Status s = container.write([&](WriteTxn& txn) { return counter::write(txn, c); });
    if (!s.is_ok()) die("commit counter " + std::to_string(c), s);
    say(std::to_string(c));
    if (hold) {
      held.reset();
      auto next = container.snapshot();
      if (!next) die("snapshot", next.status());
      held.emplace(std::move(next).value());
    }
  }
  return 0;
}

int run_reader(const std::string& path, uint64_t map_size, long pause_us) {
  OpenOptions options;
  options.read_only = true;
  if (map_size) options.map_size = map_size;
  Container container = open_or_die(path, options);
  uint64_t last = 0, snapshots = 0, counters = 0;
  for (bool final_round = false;;) {
    final_round = stdin_closed_or_ready();
    auto snapshot = container.snapshot();
    if (!snapshot) die("snapshot " + std::to_string(snapshots), snapshot.status());
    auto c = counter::read(*snapshot);
    if (!c) {
      std::fprintf(stderr, "tessera_test_child: snapshot %llu: %s\n",
                   static_cast<unsigned long long>(snapshots), c.status().to_string().c_str());
      return 2;
    }
    if (*c < last) {
      std::fprintf(stderr, "tessera_test_child: counter went back from %llu to %llu\n",
                   static_cast<unsigned long long>(last), static_cast<unsigned long long>(*c));
      return 2;
    }
    counters += *c != last;
    last = *c;
    if (snapshots++ == 0) say("ready");
    if (pause_us > 0) ::usleep(useconds_t(pause_us));
    if (final_round) {
      const uint64_t expected = std::strtoull(read_stdin().c_str(), nullptr, 10);
      if (last != expected) {
        std::fprintf(stderr, "tessera_test_child: last snapshot shows %llu, expected %llu\n",
                     static_cast<unsigned long long>(last),
                     static_cast<unsigned long long>(expected));
        return 2;
      }
      break;
    }
  }
  say("snapshots " + std::to_string(snapshots) + " counters " + std::to_string(counters));
  return 0;
}

int run_hold_snapshot(const std::string& path) {
  OpenOptions options;
  options.read_only = true;
  Container container = open_or_die(path, options);
  auto snapshot = container.snapshot();
  if (!snapshot) die("snapshot", snapshot.status());
  say("ready " + std::to_string(counter_or_die(*snapshot)));
  read_stdin();
  return 0;
}

int run_keep_open(const std::string& path) {
  Container container = open_or_die(path);
  say("ready");
  read_stdin();
  return 0;
}

int run_hold_write(const std::string& path) {
  Container container = open_or_die(path);
  auto txn = container.begin_write();
  if (!txn) die("begin_write", txn.status());
  const uint64_t c = counter_or_die(*txn) + 1;
  Status s = counter::write(*txn, c);
  if (!s.is_ok()) die("write", s);
  say("ready");
  read_stdin();
  s = txn->commit();
  if (!s.is_ok()) die("commit", s);
  say("committed " + std::to_string(c));
  return 0;
}

int run_write_once(const std::string& path, long wait_ms) {
  OpenOptions options;
  if (wait_ms >= 0) options.write_wait = std::chrono::milliseconds(wait_ms);
  Container container = open_or_die(path, options);
  const auto start = std::chrono::steady_clock::now();
  auto txn = container.begin_write();
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  if (!txn) {
    say("busy " + std::to_string(waited) + " " + txn.status().to_string());
    return txn.status().code() == Code::kBusy ? 4 : 1;
  }
  const uint64_t c = counter_or_die(*txn) + 1;
  Status s = counter::write(*txn, c);
  if (s.is_ok()) s = txn->commit();
  if (!s.is_ok()) die("commit", s);
  say("committed " + std::to_string(c));
  return 0;
}

int run_full_disk(const std::string& path) {
  Container container = open_or_die(path);
  uint64_t c = 0;
  {
    auto snapshot = container.snapshot();
    if (!snapshot) die("snapshot", snapshot.status());
    c = counter_or_die(*snapshot);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) die("stat " + path);
  struct rlimit before, limited;
  ::getrlimit(RLIMIT_FSIZE, &before);
  limited = before;
  limited.rlim_cur = rlim_t(st.st_size) + (1 << 20);
  ::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of killing us
  if (::setrlimit(RLIMIT_FSIZE, &limited) != 0) die("setrlimit");
  Status failure;
  for (int i = 0; i < 1000 && failure.is_ok(); ++i) {
    failure = counter::write_with_bulk(container, c + 1, 256);
    if (failure.is_ok()) say("acked " + std::to_string(++c));
  }
  if (failure.is_ok()) die("the file size limit never stopped a write");
  say("error " + failure.to_string());
  int bad = 0;
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) {
      std::fprintf(stderr, "tessera_test_child: full-disk: %s\n", what.c_str());
      ++bad;
    }
  };
  check(failure.code() == Code::kNoSpace, "code is not kNoSpace: " + failure.to_string());
  check(failure.message().find("no space") != std::string::npos, "message lacks 'no space'");
  check(failure.message().find(path) != std::string::npos, "message does not name the file");
  // The transaction was aborted: the write lock is free and the last commit is intact.
  {
    auto again = container.snapshot();
    if (!again) die("snapshot after the failure", again.status());
    const uint64_t now = counter_or_die(*again);
    check(now == c, "after the failure the counter is " + std::to_string(now) + ", expected " +
                        std::to_string(c));
  }
  ::setrlimit(RLIMIT_FSIZE, &before);
  Status s = counter::write_with_bulk(container, c + 1, 256);
  check(s.is_ok(), "a write after lifting the limit failed: " + s.to_string());
  if (s.is_ok()) ++c;
  say("after " + std::to_string(c));
  return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto arg = [&](size_t i) -> const std::string& {
    if (i >= args.size()) die("missing argument " + std::to_string(i));
    return args[i];
  };
  auto number = [&](size_t i) { return std::strtoll(arg(i).c_str(), nullptr, 10); };
  const std::string& mode = arg(0);
  if (mode == "writer")
    return run_writer(arg(1), uint64_t(number(2)), number(3) != 0, number(4) != 0);
  if (mode == "reader")
    return run_reader(arg(1), uint64_t(number(2)), args.size() > 3 ? long(number(3)) : 0);
  if (mode == "hold-snapshot") return run_hold_snapshot(arg(1));
  if (mode == "keep-open") return run_keep_open(arg(1));
  if (mode == "hold-write") return run_hold_write(arg(1));
  if (mode == "write-once") return run_write_once(arg(1), long(number(2)));
  if (mode == "full-disk") return run_full_disk(arg(1));
  die("unknown mode '" + mode + "'");
}
