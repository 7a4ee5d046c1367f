// A second thread for a converter's file I/O, one task at a time: an import reads its next
// block from the source, an export writes its last block to the sink, while the calling thread
// compresses or decodes the one in between. Sources and sinks are used by one thread at a time
// (each task starts after the one before has returned), never concurrently. One worker of the
// shared pool type, kept for every task (a thread per block would cost a thread start each).
#pragma once

#include <functional>
#include <utility>

#include "tessera/status.h"
#include "util/worker_pool.h"

namespace tessera::io_detail {

class SideThread {
 public:
  SideThread() = default;
  SideThread(const SideThread&) = delete;
  SideThread& operator=(const SideThread&) = delete;
  // Whatever still runs finishes before what it uses goes away.
  ~SideThread() { (void)wait(); }

  // Starts `task` (after the one before, whose status wait() has returned).
  void start(std::function<Status()> task) {
    task_ = std::move(task);
    pending_ = pool_.start(1, run_);
  }
  // The running task's status once it has returned (run here if the worker has not begun it);
  // OK when none was started.
  Status wait() {
    pending_.wait();
    return std::exchange(status_, Status::ok());
  }

 private:
  detail::WorkerPool pool_{2};  // the caller and one worker
  std::function<Status()> task_;
  Status status_;
  const std::function<void(size_t)> run_ = [this](size_t) { status_ = task_(); };
  detail::WorkerPool::Pending pending_;
};

}  // namespace tessera::io_detail
