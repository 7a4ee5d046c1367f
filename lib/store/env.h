// The LMDB environment behind a container, and the transactions over it.
//
// Env owns the MDB_env, the handles of the named databases, the write lock and the map-growth
// protocol. Txn wraps one MDB_txn with the image table it sees. Nothing here knows about
// pixels: the worker pool and the decoded-tile caches belong to raster/runtime.h.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format/records.h"
#include "store/image_table.h"
#include "tessera/container.h"
#include "util/txn_gate.h"

namespace tessera::detail {

class Env {
 public:
  static Result<std::shared_ptr<Env>> open(const std::string& path, const OpenOptions& options,
                                           bool create);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  const std::string& path() const { return path_; }
  const OpenOptions& options() const { return options_; }
  MDB_env* handle() const { return env_; }
  // The device and inode of the open data file (what names it whatever path reaches it).
  struct FileId {
    uint64_t device = 0, inode = 0;
  };
  Result<FileId> file_id() const;
  // kCorrupt when the file is shorter than its last commit needs (it was cut short): when it
  // ends before pages that are not all free.
  Status check_length() const;
  // After a commit: extends the file to its last page when the commit left it shorter.
  void cover_last_page() const;
  // The open file's size against what its last commit needs (last_pg + 1 pages).
  struct Length {
    mdb_filehandle_t fd = -1;
    uint64_t size = 0, needed = 0;
  };
  Result<Length> length() const;

  MDB_dbi meta = 0, images = 0, tiles = 0, chunks = 0, refs = 0, geometry = 0, attributes = 0, ref_checks = 0;
  // False only for a format 1.0 file opened read-only (1.1 added the geometry caches; a
  // writer upgrades a 1.0 file when it opens it).
  bool has_geometry = false;
  // False only for a file older than 2.1 opened read-only (2.1 added the attributes; a
  // writer upgrades the file when it opens it).
  bool has_attributes = false;
  // False for a file older than 2.3 (3.1) opened read-only: its reference counts have no checks.
  bool has_ref_checks = false;
  // The file's format version as found at open, or as upgraded.
  FormatVersion format_version;

  // An LMDB return code as a Status naming this file and what was being done.
  Status lmdb_error(int rc, std::string_view what) const;
  Status error(Code code, std::string_view message) const;

  // Every transaction passes this gate; the map is resized only while none is open
  // (LMDB allows mdb_env_set_mapsize only then).
  TxnGate& gate() { return gate_; }
  // Doubles the map (at least). Fails with kNoSpace when transactions stay open in this
  // process for too long to resize.
  Status grow_map();
  // Adopts a size another process grew the map to (after MDB_MAP_RESIZED).
  Status adopt_map_size();
  // Grows the map ahead of a write when less than a quarter of it is free.
  void ensure_headroom();
  // True when `path` no longer names the file this environment has open (`tessera compact`
  // renamed a compacted copy over it, or it was removed): writing would be lost.
  bool replaced() const;

  // The write lock every Tessera writer holds from begin to commit or abort, taken before
  // LMDB's own writer mutex (which cannot time out): an in-process flag for the threads of
  // this Env, then an open-file-description lock on one byte of the data file for other
  // Envs and processes (FORMAT.md 7.5). Waits up to options().write_wait; kBusy after.
  Status lock_writer();
  void unlock_writer();

  // The reader slots of every process (mdb_reader_list), oldest first, without the
  // pinned-page count (reader_report() in Txn's terms adds it).
  ReaderReport reader_slots() const;
  // True once since an operation last failed because the map was full (not the disk).
  bool take_map_full() { return map_full_.exchange(false); }
  // The format header as write transaction `txn` sees it; kUnsupported when another process
  // made the file newer than this build writes since this one opened it.
  Result<FormatHeader> writable_format(MDB_txn* txn) const;

  // The image table as of commit `commit` (an LMDB transaction id), when one was parsed for it.
  std::shared_ptr<const ImageTable> image_table(uint64_t commit) const;
  void remember_image_table(uint64_t commit, std::shared_ptr<const ImageTable> table);

  // Flushes commits made with OpenOptions::sync off to the disk (fsync).
  Status sync();

 private:
  Env(std::string path, const OpenOptions& options);
  static Result<std::shared_ptr<Env>> open_file(const std::string& path, const OpenOptions& options,
                                                bool create);
  Status open_databases(bool create);
  static Status upgrade(const std::shared_ptr<Env>& env);

  std::string path_;
  OpenOptions options_;
  uint64_t page_size_ = 4096;  // LMDB's, read once at open
  MDB_env* env_ = nullptr;
  TxnGate gate_;
  mutable std::atomic<bool> map_full_{false};
  std::mutex writer_mutex_;
  std::condition_variable writer_released_;
  bool writer_held_ = false;  // by a transaction of this Env
  mutable std::mutex image_table_mutex_;
  uint64_t image_table_commit_ = 0;
  std::shared_ptr<const ImageTable> image_table_;  // as of image_table_commit_
};

class Txn {
 public:
  static Result<std::unique_ptr<Txn>> begin(std::shared_ptr<Env> env, bool write);
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  Env& env() const { return *env_; }
  MDB_txn* handle() const { return txn_; }
  bool writable() const { return write_; }
  bool active() const { return txn_ != nullptr; }
  // Serializes LMDB calls when several threads read through one snapshot.
  std::mutex& lmdb_mutex() { return lmdb_mutex_; }

  Status commit();
  void abort();
  // Makes the file version `raise(current)` in this write transaction when that is newer than
  // what its format header says (rewriting the header's version): before storing what only that
  // version holds. `raise` is delta_version_of or mapped_version_of (format/records.h).
  Status require_format(FormatVersion (*raise)(FormatVersion));

  // Runs `body` in a nested write transaction: when it fails, everything it did (records and
  // the image table) is undone and the outer transaction goes on as before.
  Status nested(const std::function<Status()>& body);

  // Raw access; values point into the map and stay valid until this transaction writes.
  Result<std::optional<MDB_val>> get(MDB_dbi dbi, std::span<const uint8_t> key) const;
  Status put(MDB_dbi dbi, std::span<const uint8_t> key, std::span<const uint8_t> value);
  Status del(MDB_dbi dbi, std::span<const uint8_t> key);  // absent keys are fine

  // The image table as this transaction sees it (shared with every transaction that sees the
  // same commit; a write's changes go to a copy of its own).
  const std::vector<ImageInfo>& images() const { return images_->images(); }
  Result<const ImageInfo*> find_image(std::string_view name) const;
  uint32_t unused_image_id() const { return images_->unused_id(); }
  Status put_image(const ImageInfo& info);  // inserts or replaces by id
  // Mapped image records (meta "mapped/" | name): as this transaction sees them, written (the
  // file becomes 2.4 or 3.2 in the transaction that first stores one) and deleted.
  const ImageTable::MappedImages& mapped() const { return images_->mapped(); }
  const MappedValue* find_mapped(std::string_view name) const { return images_->find_mapped(name); }
  Status put_mapped(std::string_view name, const MappedValue& value);
  Status delete_mapped(std::string_view name);

 private:
  Txn(std::shared_ptr<Env> env, bool write) : env_(std::move(env)), write_(write) {}
  Status load_images();
  Status load_mapped(ImageTable& table);
  ImageTable& own_table();  // the table, copied first when it is shared
  // Leaves the gate and releases the write lock, whichever this transaction holds.
  void release();

  std::shared_ptr<Env> env_;
  bool entered_ = false;  // counted in the environment's gate
  bool writer_locked_ = false;  // holds the environment's write lock
  MDB_txn* txn_ = nullptr;
  bool write_;
  std::mutex lmdb_mutex_;
  std::shared_ptr<const ImageTable> images_;
  bool images_own_ = false;  // images_ is this transaction's own copy: put_image may change it
  bool format_raised_ = false;  // require_format rewrote the header
};

inline MDB_val to_val(std::span<const uint8_t> bytes) {
  return MDB_val{bytes.size(), const_cast<uint8_t*>(bytes.data())};
}
inline const uint8_t* bytes_of(const MDB_val& v) { return static_cast<const uint8_t*>(v.mv_data); }

// Deletes the container at `path` and its lock file (Container::remove); refuses a file that
// is not a container.
Status remove_container(const std::string& path);

// The open snapshots of every process and the free pages the oldest one pins (counted in
// the free list, which only a read transaction may open). Begins its own read transaction.
Result<ReaderReport> reader_report(const std::shared_ptr<Env>& env);

// A cursor closed on scope exit.
class Cursor {
 public:
  Cursor(const Txn& txn, MDB_dbi dbi);
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  MDB_cursor* handle() const { return cursor_; }
  Status status() const { return status_; }
  // mdb_cursor_get: true when positioned, false for MDB_NOTFOUND, or an error.
  Result<bool> get(MDB_val* key, MDB_val* value, MDB_cursor_op op);

 private:
  const Txn& txn_;
  MDB_cursor* cursor_ = nullptr;
  Status status_;
};

}  // namespace tessera::detail
