#include "format/names.h"
#include "store/compact.h"
#include "store/chunk_pool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "store/env.h"
#include "util/bytes.h"
#include "util/posix_file.h"

namespace tessera::detail {
namespace {

// fsync of a file, or of the directory holding it (to make a rename durable).
Status sync_path(const std::string& path, bool directory) {
  if (directory) return sync_directory_of(path);
  auto file = File::open(path, O_RDWR, 0, "open for sync");
  if (!file) return file.status();
  return file->sync(/*data_only=*/false, "fsync");
}

void remove_with_lock(const std::string& path) {
  remove_file(path);
  remove_file(lock_path_of(path));
}

// LMDB's compacting copy: live pages only, renumbered, written in order. It runs on a thread
// of its own while this one reports the copy's growth (the bytes written so far of the pages
// the file uses: the copy is at most that large) through `progress`.
Status copy_compacted(const Env& env, const std::string& to, const Progress& progress) {
  int rc = 0;
  if (!progress) {
    rc = mdb_env_copy2(env.handle(), to.c_str(), MDB_CP_COMPACT);
  } else {
    MDB_envinfo info;
    MDB_stat stat;
    mdb_env_info(env.handle(), &info);
    mdb_env_stat(env.handle(), &stat);
    const uint64_t total = uint64_t(info.me_last_pgno + 1) * stat.ms_psize;
    std::promise<int> copied;
    std::future<int> done = copied.get_future();
    std::thread copier([&] { copied.set_value(mdb_env_copy2(env.handle(), to.c_str(), MDB_CP_COMPACT)); });
    while (done.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      struct stat st;
      if (::stat(to.c_str(), &st) == 0) progress(std::min<uint64_t>(uint64_t(st.st_size), total), total);
    }
    copier.join();
    rc = done.get();
    if (rc == 0) progress(total, total);
  }
  if (rc) {
    remove_file(to);
    return env.lmdb_error(rc, "compacting copy to " + to);
  }
  return Status::ok();
}

// Deletes chunks without a positive reference count and counts without a chunk (a sound file
// has none). Returns how many entries went.
Result<uint64_t> drop_unreferenced(const std::shared_ptr<Env>& env) {
  auto txn = Txn::begin(env, /*write=*/true);
  if (!txn) return txn.status();
  std::vector<std::vector<uint8_t>> orphan_chunks, orphan_refs;
  {
    Cursor chunks(**txn, env->chunks), refs(**txn, env->refs);
    TESSERA_RETURN_IF_ERROR(chunks.status());
    TESSERA_RETURN_IF_ERROR(refs.status());
    MDB_val k, v;
    const ChunkPool pool(**txn);
    for (auto r = chunks.get(&k, &v, MDB_FIRST); r && *r; r = chunks.get(&k, &v, MDB_NEXT)) {
      if (k.mv_size != kChunkKeySize) return env->error(Code::kCorrupt, "a chunk key of " + std::to_string(k.mv_size) + " bytes");
      ChunkKey key;
      std::memcpy(key.data(), k.mv_data, kChunkKeySize);
      // A count that fails its check stops the compaction: verify says what is wrong.
      auto count = pool.ref_count(key);
      if (!count) return count.status();
      if (*count == 0) orphan_chunks.emplace_back(key.begin(), key.end());
    }
    for (auto r = refs.get(&k, &v, MDB_FIRST); r && *r; r = refs.get(&k, &v, MDB_NEXT)) {
      auto chunk = (*txn)->get(env->chunks, {bytes_of(k), k.mv_size});
      if (!chunk) return chunk.status();
      if (!*chunk) orphan_refs.emplace_back(bytes_of(k), bytes_of(k) + k.mv_size);
    }
  }
  for (const auto& key : orphan_chunks) TESSERA_RETURN_IF_ERROR((*txn)->del(env->chunks, key));
  for (const auto& list : {&orphan_chunks, &orphan_refs})
    for (const auto& key : *list) {
      TESSERA_RETURN_IF_ERROR((*txn)->del(env->refs, key));
      TESSERA_RETURN_IF_ERROR((*txn)->del(env->ref_checks, key));
    }
  TESSERA_RETURN_IF_ERROR((*txn)->commit());
  return uint64_t(orphan_chunks.size() + orphan_refs.size());
}

}  // namespace

Status compact_container(const std::string& path, const std::string& out, const Progress& progress) {
  const bool in_place = out.empty();
  const std::string target = in_place ? path : out;
  struct stat st;
  if (!in_place && ::lstat(out.c_str(), &st) == 0)
    return Status(Code::kAlreadyExists, out + ": exists; compact writes a new file");
  OpenOptions options;
  options.read_only = !in_place;
  auto env = Env::open(path, options, /*create=*/false);
  if (!env) return env.status();
  // In place, the write lock is held from the copy to the rename: no commit can slip in
  // between and be lost, and writers that get the lock afterwards find the file replaced.
  std::unique_ptr<Txn> lock;
  if (in_place) {
    auto txn = Txn::begin(*env, /*write=*/true);
    if (!txn) return txn.status();
    lock = std::move(*txn);
  }
  const std::string tmp = target + ".compact-tmp";
  remove_with_lock(tmp);  // left by an interrupted compaction
  TESSERA_RETURN_IF_ERROR(copy_compacted(**env, tmp, progress));
  {
    // Unreferenced chunks are removed from the copy, which is then compacted once more.
    auto copy = Env::open(tmp, OpenOptions{}, /*create=*/false);
    if (!copy) return copy.status();
    auto dropped = drop_unreferenced(*copy);
    if (!dropped) return dropped.status();
    if (*dropped) {
      const std::string again = tmp + "2";
      remove_with_lock(again);
      TESSERA_RETURN_IF_ERROR(copy_compacted(**copy, again, {}));
      copy->reset();
      if (::rename(again.c_str(), tmp.c_str()) != 0) return os_error(tmp, "rename", errno);
    }
  }
  remove_file(lock_path_of(tmp));
  TESSERA_RETURN_IF_ERROR(sync_path(tmp, false));
  if (in_place) {
    // Processes that have the old file open keep its lock file and read on undisturbed; the
    // next process to open the path creates a fresh lock file for the new one.
    remove_file(lock_path_of(path));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0)
    return os_error(target, "rename the compacted copy into place", errno);
  TESSERA_RETURN_IF_ERROR(sync_path(target, true));
  if (lock) lock->abort();
  return Status::ok();
}

}  // namespace tessera::detail
