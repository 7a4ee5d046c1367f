// A fixed pool of worker threads that runs parallel loops for the read and write paths.
// The caller's thread takes part in its own loop, so a loop never waits for a free worker
// and nested use from a worker cannot deadlock.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tessera::detail {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);  // 0 = one per core
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  unsigned size() const { return unsigned(workers_.size()) + 1; }
  // Calls body(i) for every i in [0, count) on the workers and the calling thread; returns
  // when all calls have returned. body must not throw.
  void parallel_for(size_t count, const std::function<void(size_t)>& body);

  // A loop started on the workers that the caller joins later with wait(), doing other
  // work meanwhile. `body` must stay alive until wait() returns.
  class Pending {
   public:
    Pending() = default;
    // Runs what is left of the loop on this thread too, then waits for the rest.
    void wait();

   private:
    friend class WorkerPool;
    struct Loop;
    std::shared_ptr<Loop> loop_;
  };
  Pending start(size_t count, const std::function<void(size_t)>& body);

 private:
  void run_worker();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace tessera::detail
