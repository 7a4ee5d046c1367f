// Counts the transactions open in this process so that the map can be resized when none is
// (LMDB's rule for mdb_env_set_mapsize). Unlike a shared mutex it has no thread affinity: a
// snapshot may be opened on one thread and released on another.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace tessera::detail {

class TxnGate {
 public:
  // Waits while a resize is under way, then counts one more open transaction.
  void enter() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !resizing_; });
    ++open_;
  }
  void leave() {
    std::lock_guard lock(mutex_);
    --open_;
    changed_.notify_all();
  }
  // Runs `resize` once no transaction is open, keeping new ones out meanwhile. Returns false
  // (without running it) when transactions stay open longer than `patience`.
  template <typename F>
  bool exclusively(std::chrono::milliseconds patience, F&& resize) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, patience, [this] { return !resizing_; })) return false;
    resizing_ = true;
    const bool idle = changed_.wait_for(lock, patience, [this] { return open_ == 0; });
    if (idle) resize();
    resizing_ = false;
    changed_.notify_all();
    return idle;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int open_ = 0;
  bool resizing_ = false;
};

}  // namespace tessera::detail
