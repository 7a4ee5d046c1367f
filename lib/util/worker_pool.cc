#include "util/worker_pool.h"

#include <atomic>
#include <memory>

namespace tessera::detail {

WorkerPool::WorkerPool(unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { run_worker(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void WorkerPool::run_worker() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void WorkerPool::parallel_for(size_t count, const std::function<void(size_t)>& body) {
  if (count == 0) return;
  if (count == 1 || workers_.empty()) {
    for (size_t i = 0; i < count; ++i) body(i);
    return;
  }
  // Work is claimed index by index from a shared counter; helpers that start after the
  // caller finished everything simply find nothing left.
  struct Loop {
    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
    size_t count;
    const std::function<void(size_t)>* body;
    std::mutex mutex;
    std::condition_variable finished;
  };
  auto loop = std::make_shared<Loop>();
  loop->count = count;
  loop->body = &body;
  auto drain = [loop] {
    size_t finished_here = 0;
    for (size_t i; (i = loop->next.fetch_add(1)) < loop->count;) {
      (*loop->body)(i);
      ++finished_here;
    }
    if (finished_here && loop->done.fetch_add(finished_here) + finished_here == loop->count) {
      std::lock_guard lock(loop->mutex);
      loop->finished.notify_all();
    }
  };
  size_t helpers = std::min(workers_.size(), count - 1);
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < helpers; ++i) queue_.push_back(drain);
  }
  if (helpers == 1) wake_.notify_one(); else wake_.notify_all();
  drain();
  std::unique_lock lock(loop->mutex);
  loop->finished.wait(lock, [&] { return loop->done.load() == loop->count; });
}

}  // namespace tessera::detail
