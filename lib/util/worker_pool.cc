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

struct WorkerPool::Pending::Loop {
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  size_t count = 0;
  const std::function<void(size_t)>* body = nullptr;
  std::mutex mutex;
  std::condition_variable finished;

  // Claims indices from the shared counter until none is left; whoever finishes the last
  // one wakes the waiter. Helpers that start late simply find nothing left.
  void drain() {
    size_t finished_here = 0;
    for (size_t i; (i = next.fetch_add(1)) < count;) {
      (*body)(i);
      ++finished_here;
    }
    if (finished_here && done.fetch_add(finished_here) + finished_here == count) {
      std::lock_guard lock(mutex);
      finished.notify_all();
    }
  }
};

WorkerPool::Pending WorkerPool::start(size_t count, const std::function<void(size_t)>& body) {
  Pending pending;
  pending.loop_ = std::make_shared<Pending::Loop>();
  pending.loop_->count = count;
  pending.loop_->body = &body;
  const size_t helpers = std::min(workers_.size(), count);
  if (helpers == 0) return pending;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < helpers; ++i) queue_.push_back([loop = pending.loop_] { loop->drain(); });
  }
  if (helpers == 1) wake_.notify_one();
  else wake_.notify_all();
  return pending;
}

void WorkerPool::Pending::wait() {
  if (!loop_) return;
  loop_->drain();
  std::unique_lock lock(loop_->mutex);
  loop_->finished.wait(lock, [&] { return loop_->done.load() == loop_->count; });
  loop_.reset();
}

void WorkerPool::parallel_for(size_t count, const std::function<void(size_t)>& body) {
  if (count == 1 || workers_.empty()) {
    for (size_t i = 0; i < count; ++i) body(i);
    return;
  }
  start(count, body).wait();
}

}  // namespace tessera::detail
