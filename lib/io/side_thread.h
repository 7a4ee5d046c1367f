// A second thread for a converter's file I/O, one task at a time: an import reads its next
// block from the source, an export writes its last block to the sink, while the calling thread
// compresses or decodes the one in between. Sources and sinks are used by one thread at a time
// (each task starts after the one before has returned), never concurrently.
#pragma once

#include <functional>
#include <future>

#include "tessera/status.h"

namespace tessera::io_detail {

class SideThread {
 public:
  SideThread() = default;
  SideThread(const SideThread&) = delete;
  SideThread& operator=(const SideThread&) = delete;
  // Whatever still runs finishes before what it uses goes away.
  ~SideThread() { (void)wait(); }

  // Starts `task` (after the one before, whose status wait() has returned).
  void start(std::function<Status()> task) { pending_ = std::async(std::launch::async, std::move(task)); }
  // The running task's status once it has returned; OK when none was started.
  Status wait() { return pending_.valid() ? pending_.get() : Status::ok(); }

 private:
  std::future<Status> pending_;
};

}  // namespace tessera::io_detail
