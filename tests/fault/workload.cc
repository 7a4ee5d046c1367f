// workload.cc — tessera_fault_workload FILE: the process power_loss_test.cc runs under
// fault_shim.so. It creates FILE, arms the shim, then commits the transactions of
// workload_plan.h one by one through the public API, saying on standard output what it was
// told:
//   "BEGIN i"            before commit i starts
//   "ACK i"              commit() of commit i returned OK (the commit is acknowledged)
//   "ERR i STATUS"       commit i failed (begin_write, a change or commit() returned STATUS)
//   "AFTER i ok|STATUS"  then, what begin_write on the same Container returned
//   "STATE i c"          after a failure: the container, opened again, is at commit c
//   "REOPEN_ERR i STATUS" it could not be opened again (the workload stops)
//   "DONE"               every commit was attempted
// After a failure it opens the file again and goes on with the next commit, as an application
// that retries would. Exit codes: 0 done, 2 usage or setup failed, 3 could not reopen.
#include <dlfcn.h>

#include <cstdio>
#include <string>

#include "fault/workload_plan.h"
#include "tessera/container.h"

namespace tessera::fault {
namespace {

void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);  // before a simulated power loss ends the process without flushing
}

Status run_commit(Container& container, int i) {
  auto txn = container.begin_write();
  if (!txn) return txn.status();
  TESSERA_RETURN_IF_ERROR(apply_commit(i, *txn));
  return txn->commit();
}

Result<uint32_t> read_counter(const Container& container) {
  auto snap = container.snapshot();
  if (!snap) return snap.status();
  uint32_t counter = 0;
  TESSERA_RETURN_IF_ERROR(snap->read("counter", Region{0, 0, 1, 1}, Selection{}, &counter,
                                     sizeof counter));
  return counter;
}

int run(const std::string& path) {
  auto created = Container::create(path);
  if (!created) {
    say("SETUP_ERR " + created.status().to_string());
    return 2;
  }
  std::optional<Container> container(std::move(created.value()));
  Status setup = container->write([](WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(txn.create_image("img", image_spec()));
    return txn.create_image("counter", counter_spec());
  });
  if (!setup.is_ok()) {
    say("SETUP_ERR " + setup.to_string());
    return 2;
  }
  // Armed from here on: the shim counts (and faults) only the numbered commits.
  if (auto arm = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "tessera_fault_arm"))) arm();

  for (int i = 1; i <= kCommits; ++i) {
    say("BEGIN " + std::to_string(i));
    Status s = run_commit(*container, i);
    if (s.is_ok()) {
      say("ACK " + std::to_string(i));
      continue;
    }
    say("ERR " + std::to_string(i) + " " + s.to_string());
    {  // what the same Container says now (liblmdb refuses to go on after some failures)
      auto txn = container->begin_write();
      say("AFTER " + std::to_string(i) + " " + (txn ? std::string("ok") : txn.status().to_string()));
    }
    container.reset();  // after a failed meta-page write liblmdb refuses to go on: reopen
    auto reopened = Container::open(path);
    if (!reopened) {
      say("REOPEN_ERR " + std::to_string(i) + " " + reopened.status().to_string());
      return 3;
    }
    container.emplace(std::move(reopened.value()));
    auto counter = read_counter(*container);
    if (!counter) {
      say("REOPEN_ERR " + std::to_string(i) + " " + counter.status().to_string());
      return 3;
    }
    say("STATE " + std::to_string(i) + " " + std::to_string(*counter));
  }
  say("DONE");
  return 0;
}

}  // namespace
}  // namespace tessera::fault

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tessera_fault_workload FILE\n");
    return 2;
  }
  return tessera::fault::run(argv[1]);
}
