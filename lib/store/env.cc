#include "format/names.h"
#include "store/env.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <ctime>
#include <thread>

#include "format/attribute_record.h"
#include "format/keys.h"
#include "format/pyramid_record.h"
#include "format/records.h"
#include "store/chunk_pool.h"
#include "store/faults.h"
#include "store/lmdb_pages.h"
#include "tessera/version.h"
#include "util/posix_file.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

// The write lock is a lock on byte kWriterLockByte of the data file (FORMAT.md 7.5): LMDB
// locks no byte of the data file.

Code code_for_lmdb(int rc) {
  switch (rc) {
    case MDB_MAP_FULL: return Code::kNoSpace;
    case MDB_CORRUPTED:
    case MDB_INVALID:
    case MDB_PAGE_NOTFOUND:
    case MDB_VERSION_MISMATCH:
    case MDB_BAD_VALSIZE: return Code::kCorrupt;
    case MDB_NOTFOUND: return Code::kNotFound;
    case MDB_READERS_FULL:
    case EBUSY:
    case EAGAIN: return Code::kBusy;
    case EACCES:
    case EROFS: return Code::kReadOnly;  // LMDB could not write the file
    default: return errno_code(rc);      // the one errno mapping (util/posix_file.h)
  }
}

// LMDB trusts its file; before handing it one we check that it starts with an LMDB meta
// page, so that an arbitrary file gets a clear error and no lock file is created for it.
Status check_lmdb_signature(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return os_error(path, "cannot open", errno);
  uint8_t head[kLmdbPageHeader + 8];
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  struct stat st;
  const bool is_regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!is_regular) return Status(Code::kInvalidArgument, path + ": not a regular file");
  uint32_t magic = 0;
  if (n == ssize_t(sizeof head)) std::memcpy(&magic, head + kLmdbPageHeader, 4);
  if (magic != kLmdbMagic)
    return Status(Code::kCorrupt, path + ": not a Tessera container (no LMDB meta page at the start)");
  return Status::ok();
}

// A check's first fault as the error that refuses the file.
Status damaged(const std::string& path, const VerifyReport& report) {
  const std::string fault = report.faults.empty() ? "unreadable" : report.faults[0].message;
  return Status(Code::kCorrupt, path + ": damaged: " + fault + " (tessera verify lists every fault)");
}

// liblmdb trusts every page it maps: a damaged or truncated file would make it crash (SIGBUS,
// SIGSEGV, an assertion). The structure is walked first with pread (spec/FORMAT.md 7.9), and
// the first fault found refuses the file.
// Every record found by a prefix scan is checked against the key it is stored under (the
// checksums cover the keys): a damaged key that kept its page's order would otherwise hide the
// record from the scan (a tile would read as fill, an attribute or a pyramid would be gone).
Status check_structure(const std::string& path, int fd, bool writer) {
  VerifyReport report;
  FaultSink sink(report, 1);
  const auto mismatch = [](std::span<const uint8_t> key) {
    return "the record under key " + hex_of(key.data(), key.size()) + " fails its check (against that key)";
  };
  const EntryCheck checks[] = {
      // A uniform pixel is at most 1024 bands of 8 bytes: a record is never near 64 KiB.
      {kTilesDb, "TILE_RECORD_CHECKSUM", 64 << 10,
       [&](std::span<const uint8_t> key, std::span<const uint8_t> value) {
         if (key.size() != kTileKeySize) return "a key of " + std::to_string(key.size()) + " bytes";
         auto fields = read_tile_record(value.data(), value.size());
         TileKeyBytes bytes;
         std::copy(key.begin(), key.end(), bytes.begin());
         return fields && tile_record_check(bytes, *fields) == fields->check ? std::string() : mismatch(key);
       }},
      {kAttributesDb, "ATTRIBUTE_RECORD_VALID", kMaxAttributeValueBytes + 4096,
       [&](std::span<const uint8_t> key, std::span<const uint8_t> value) {
         return parse_attribute_record(key, value.data(), value.size()) ? std::string() : mismatch(key);
       }},
      {kMetaDb, "PYRAMID_RECORD_VALID", 4096,
       [&](std::span<const uint8_t> key, std::span<const uint8_t> value) {
         const std::string_view name(reinterpret_cast<const char*>(key.data()), key.size());
         if (!name.starts_with(kPyramidKeyPrefix)) return std::string();
         return parse_pyramid_record(key, value.data(), value.size()) ? std::string() : mismatch(key);
       }},
  };
  return walk_lmdb_file(fd, sink, /*overflow_headers=*/writer, checks).sound ? Status::ok() : damaged(path, report);
}

// The meta pages, before liblmdb reads them: it trusts their page size and sizes (a page
// size of 0 is a division by zero inside mdb_env_open).
Status check_metas(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(path, "cannot open", errno);
  VerifyReport report;
  FaultSink sink(report, 1);
  const bool sound = check_lmdb_metas(fd, sink);
  ::close(fd);
  return sound ? Status::ok() : damaged(path, report);
}

// liblmdb extends the lock file to its full size and writes through a map of it: on a full
// file system the first touch of an unallocated page would be SIGBUS. Its blocks are
// allocated here first, so that a full disk is an error naming the lock file. The size is
// liblmdb 0.9's for kMaxReaders slots: (readers - 1) slots of 64 bytes after a 192-byte header.
constexpr unsigned kMaxReaders = 510;
constexpr off_t kLockFileBytes = off_t(kMaxReaders - 1) * 64 + 192;

Status reserve_lock_file(const std::string& lock_path) {
  const bool existed = file_exists(lock_path);
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::ok();  // read-only storage: liblmdb says what it can do there
  struct stat st;
  int rc = ::fstat(fd, &st) == 0 ? 0 : errno;
  if (rc == 0 && st.st_size < kLockFileBytes) rc = ::posix_fallocate(fd, 0, kLockFileBytes);
  ::close(fd);
  if (rc == 0 || rc == EOPNOTSUPP || rc == EINVAL) return Status::ok();
  if (!existed) remove_file(lock_path);
  const Code code = rc == ENOSPC || rc == EDQUOT || rc == EFBIG ? Code::kNoSpace : errno_code(rc);
  return Status(code, lock_path + ": cannot reserve the lock file's " + std::to_string(kLockFileBytes) +
                          " bytes: " + std::strerror(rc));
}

// liblmdb reports a short write of its pages as EIO ("short write, filesystem full?"). It
// is a lack of space when the file system is full or the file reached the file size limit.
bool short_of_space(const std::string& path) {
  struct statvfs fs;
  if (::statvfs(path.c_str(), &fs) == 0 && fs.f_bavail == 0) return true;
  struct rlimit limit;
  struct stat st;
  return ::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
         ::stat(path.c_str(), &st) == 0 && uint64_t(st.st_size) + (1u << 20) > limit.rlim_cur;
}

// One byte-range lock operation on the write lock byte (open file description locks:
// they conflict between Envs of one process too, and no close() of another descriptor
// drops them). Returns 0 or errno.
int writer_lock_op(int fd, short type, int command) {
  struct flock lock;
  std::memset(&lock, 0, sizeof lock);
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = kWriterLockByte;
  lock.l_len = 1;
  while (::fcntl(fd, command, &lock) != 0)
    if (errno != EINTR) return errno;
  return 0;
}

}  // namespace

Env::Env(std::string path, const OpenOptions& options)
    : path_(std::move(path)),
      options_(options) {}

Env::~Env() {
  if (env_) mdb_env_close(env_);
}

Status Env::error(Code code, std::string_view message) const {
  return Status(code, path_ + ": " + std::string(message));
}

Status Env::lmdb_error(int rc, std::string_view what) const {
  std::string message = std::string(what) + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) {
    map_full_ = true;
    MDB_envinfo info;
    if (options_.max_map_size && mdb_env_info(env_, &info) == 0 &&
        uint64_t(info.me_mapsize) >= options_.max_map_size)
      message = std::string(what) + ": map size limit " + std::to_string(options_.max_map_size) +
                " bytes reached";
  } else if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG) {
    message = std::string(what) + ": no space left for the file (" + mdb_strerror(rc) + ")";
  } else if (rc == EIO && short_of_space(path_)) {
    message = std::string(what) + ": no space left for the file (short write: the file system "
                                  "is full or the file reached the file size limit)";
    return error(Code::kNoSpace, message);
  }
  // liblmdb refuses every transaction after a failed meta-page write, until the file is
  // opened again: say so, or the caller only sees a cryptic "MDB_PANIC".
  if (rc == MDB_PANIC) message += " (an earlier write to the file failed: open the container again)";
  return error(code_for_lmdb(rc), message);
}

Result<std::shared_ptr<Env>> Env::open(const std::string& path, const OpenOptions& options,
                                       bool create) {
  if (options.no_lock && !options.read_only)
    return Status(Code::kInvalidArgument, path + ": no_lock requires read_only");
  if (create && options.read_only)
    return Status(Code::kInvalidArgument, path + ": cannot create a container read-only");
  if (create) {
    // A new container is made under a temporary name and linked into place once its first
    // commit (the format header) is durable: a crash never leaves a half-made file at `path`,
    // and link() fails rather than replace a file that appeared meanwhile.
    if (file_exists(path)) return Status(Code::kAlreadyExists, path + ": cannot create: File exists");
    const std::string tmp = path + ".creating-" + std::to_string(::getpid());
    remove_file(tmp);
    remove_file(lock_path_of(tmp));
    {
      auto made = open_file(tmp, options, /*create=*/true);
      if (!made) return Status(made.status().code(), path + ": cannot create: " + made.status().message());
    }
    remove_file(lock_path_of(tmp));
    const int linked = ::link(tmp.c_str(), path.c_str());
    const int error = errno;
    remove_file(tmp);
    if (linked != 0) return os_error(path, "cannot create", error);
    (void)sync_directory_of(path);  // the new name is durable too (best effort, as LMDB's own)
    return open_file(path, options, /*create=*/false);
  }
  return open_file(path, options, /*create=*/false);
}

Result<std::shared_ptr<Env>> Env::open_file(const std::string& path, const OpenOptions& options,
                                            bool create) {
  const std::string lock_path = lock_path_of(path);
  const bool lock_existed = file_exists(lock_path);
  if (create) {
    // O_EXCL makes "the file exists" an atomic test; LMDB initialises an empty file.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
      return os_error(path, "cannot create", errno);
    ::close(fd);
  } else {
    TESSERA_RETURN_IF_ERROR(check_lmdb_signature(path));
    if (options.check_structure) TESSERA_RETURN_IF_ERROR(check_metas(path));
  }

  std::shared_ptr<Env> env(new Env(path, options));
  auto fail = [&](Status status) -> Result<std::shared_ptr<Env>> {
    if (env->env_) mdb_env_close(env->env_);
    env->env_ = nullptr;
    if (!lock_existed) remove_file(lock_path);
    if (create) remove_file(path);
    return status;
  };
  if (!options.no_lock) {
    Status reserved = reserve_lock_file(lock_path);
    if (!reserved) return fail(reserved);
  }
  int rc = mdb_env_create(&env->env_);
  if (rc) return fail(env->lmdb_error(rc, "mdb_env_create"));
  mdb_env_set_maxdbs(env->env_, 8);
  mdb_env_set_maxreaders(env->env_, kMaxReaders);
  uint64_t map_size = options.map_size;
  if (options.max_map_size) map_size = std::min(map_size, options.max_map_size);
  rc = mdb_env_set_mapsize(env->env_, map_size);
  if (rc) return fail(env->lmdb_error(rc, "set map size"));
  // Readahead stays on (no MDB_NORDAHEAD): a chunk is a run of overflow pages tens to
  // hundreds of KiB long, and page-by-page faults made a cold sequential read 6x slower.
  unsigned flags = MDB_NOSUBDIR | MDB_NOTLS;
  if (options.read_only) flags |= MDB_RDONLY;
  if (options.no_lock) flags |= MDB_NOLOCK;
  if (!options.sync) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env->env_, path.c_str(), flags, 0644);
  if (rc) return fail(env->lmdb_error(rc, "open"));
  MDB_stat stat;
  rc = mdb_env_stat(env->env_, &stat);
  if (rc) return fail(env->lmdb_error(rc, "stat"));
  env->page_size_ = stat.ms_psize;
  if (!create && options.check_structure) {
    // Under a snapshot: a writer of another process cannot reuse the walked pages meanwhile.
    MDB_txn* pin = nullptr;
    rc = mdb_txn_begin(env->env_, nullptr, MDB_RDONLY, &pin);
    if (rc) return fail(env->lmdb_error(rc, "begin snapshot"));
    mdb_filehandle_t fd = -1;
    mdb_env_get_fd(env->env_, &fd);
    Status sound = check_structure(path, fd, !options.read_only);
    mdb_txn_abort(pin);
    if (!sound) return fail(sound);
  }
  int dead = 0;
  if (!options.no_lock) mdb_reader_check(env->env_, &dead);  // clear slots of dead readers
  Status opened = env->open_databases(create);
  if (opened.is_ok() && !options.read_only && env->format_version < writable_version_of(env->format_version))
    opened = upgrade(env);
  if (!opened.is_ok()) return fail(opened);
  return env;
}

Status remove_container(const std::string& path) {
  Status container = check_lmdb_signature(path);
  if (container.code() == Code::kCorrupt)
    return Status(Code::kInvalidArgument, path + ": not a Tessera container: not removed");
  TESSERA_RETURN_IF_ERROR(container);
  if (::unlink(path.c_str()) != 0) return os_error(path, "cannot remove", errno);
  if (::unlink(lock_path_of(path).c_str()) != 0 && errno != ENOENT)
    return os_error(lock_path_of(path), "cannot remove", errno);
  return Status::ok();
}

Result<Env::Length> Env::length() const {
  MDB_envinfo info;
  Length length;
  struct stat file;
  if (mdb_env_info(env_, &info) != 0 || mdb_env_get_fd(env_, &length.fd) != 0 || ::fstat(length.fd, &file) != 0)
    return os_error(path_, "cannot stat the open file", errno);
  length.size = uint64_t(file.st_size);
  length.needed = (uint64_t(info.me_last_pgno) + 1) * page_size_;
  return length;
}

Status Env::check_length() const {
  auto length = this->length();
  if (!length) return length.status();
  // A commit may end the file before its last page: liblmdb does not write the pages it took
  // and gave back (free ones, never read). Writers extend the file after such a commit
  // (cover_last_page), so this is rare; a file cut short in pages in use is refused.
  if (length->size < length->needed && !pages_past_end_are_free(length->fd))
    return error(Code::kCorrupt, "damaged: truncated: the file has " + std::to_string(length->size) +
                                     " bytes, its last commit needs " + std::to_string(length->needed) +
                                     " (pages past the end that are not free)");
  return Status::ok();
}

void Env::cover_last_page() const {
  auto length = this->length();
  // fallocate never shrinks the file nor touches bytes written, whatever a later writer did
  // meanwhile (posix_fallocate may instead emulate it by writing over them). Best effort: a
  // file left short is still sound (check_length).
#ifdef __linux__
  if (length && length->size < length->needed)
    (void)::fallocate(length->fd, 0, off_t(length->size), off_t(length->needed - length->size));
#endif
}

Result<Env::FileId> Env::file_id() const {
  mdb_filehandle_t fd = -1;
  struct stat file;
  if (mdb_env_get_fd(env_, &fd) != 0 || ::fstat(fd, &file) != 0)
    return os_error(path_, "cannot stat the open file", errno);
  return FileId{uint64_t(file.st_dev), uint64_t(file.st_ino)};
}

Status Env::open_databases(bool create) {
  MDB_txn* txn = nullptr;
  // Read-only unless creating: opening must not wait for LMDB's writer mutex (which has no
  // time limit) while another process writes.
  int rc = mdb_txn_begin(env_, nullptr, create ? 0 : MDB_RDONLY, &txn);
  if (rc) return lmdb_error(rc, "begin transaction");
  struct Named {
    const char* name;
    MDB_dbi* dbi;
  } dbs[] = {{kMetaDb, &meta}, {kImagesDb, &images}, {kTilesDb, &tiles}, {kChunksDb, &chunks},
             {kRefsDb, &refs}};
  for (auto& db : dbs) {
    rc = mdb_dbi_open(txn, db.name, create ? MDB_CREATE : 0, db.dbi);
    if (rc) {
      mdb_txn_abort(txn);
      if (rc == MDB_NOTFOUND)
        return error(Code::kCorrupt, std::string("not a Tessera container (no database '") +
                                         db.name + "')");
      return lmdb_error(rc, std::string("open database '") + db.name + "'");
    }
  }
  MDB_val key{kFormatKey.size(), const_cast<char*>(kFormatKey.data())}, value;
  if (create) {
    rc = mdb_dbi_open(txn, kGeometryDb, MDB_CREATE, &geometry);
    if (rc) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "create database 'geometry'");
    }
    has_geometry = true;
    rc = mdb_dbi_open(txn, kAttributesDb, MDB_CREATE, &attributes);
    if (rc) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "create database 'attributes'");
    }
    has_attributes = true;
    rc = mdb_dbi_open(txn, kRefChecksDb, MDB_CREATE, &ref_checks);
    if (rc) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "create database 'ref_checks'");
    }
    has_ref_checks = true;
    format_version = kBaseFormatVersion;
    FormatHeader header;
    header.creator = "tessera " + std::string(version());
    header.created_unix = uint64_t(std::time(nullptr));
    auto bytes = build_format_header(header);
    value = to_val(bytes);
    rc = mdb_put(txn, meta, &key, &value, 0);
    if (rc == 0) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
    return rc ? lmdb_error(rc, "write format header") : Status::ok();
  }
  rc = mdb_get(txn, meta, &key, &value);
  if (rc) {
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? error(Code::kCorrupt, "not a Tessera container (no format header)")
                              : lmdb_error(rc, "read format header");
  }
  auto header = parse_format_header(bytes_of(value), value.mv_size);
  const bool known = header && format_is_known(header->version());
  if (known) {
    // The databases later versions added: absent in older files, required from their version on.
    const FormatVersion v = header->version();
    const auto open_added = [&](const char* name, MDB_dbi* dbi, bool required, bool* has) -> Status {
      rc = mdb_dbi_open(txn, name, 0, dbi);
      *has = rc == 0;
      if (rc == MDB_NOTFOUND && !required) return Status::ok();
      if (rc == MDB_NOTFOUND)
        return error(Code::kCorrupt, std::string("database '") + name + "' is missing (format " + to_string(v) +
                                         " has one)");
      return rc ? lmdb_error(rc, std::string("open database '") + name + "'") : Status::ok();
    };
    Status added = open_added(kGeometryDb, &geometry, v != FormatVersion{1, 0}, &has_geometry);
    if (added) added = open_added(kAttributesDb, &attributes, v >= FormatVersion{2, 1}, &has_attributes);
    if (added) added = open_added(kRefChecksDb, &ref_checks, format_checks_images_and_counts(v), &has_ref_checks);
    if (!added) {
      mdb_txn_abort(txn);
      return added;
    }
  }
  // Handles opened in a transaction (read-only ones too) become usable everywhere only
  // once it commits.
  rc = mdb_txn_commit(txn);
  if (!header) return header.status().with_context(path_);
  const std::string version = to_string(header->version());
  if (!known)
    return error(Code::kUnsupported, "format version " + version +
                                         " is not supported (this build reads major versions " +
                                         std::to_string(kOldestFormatMajor) + " to " +
                                         std::to_string(kFormatMajor) + ")");
  if (!options_.read_only && !format_is_writable(header->version()))
    return error(Code::kUnsupported, "format version " + version +
                                         " is newer than this build writes (" +
                                         to_string(kNewest2xVersion) + " and " +
                                         to_string(kFormatVersion) + "): open it read-only");
  if (rc) return lmdb_error(rc, "commit database handles");
  format_version = header->version();
  return Status::ok();
}

Result<FormatHeader> Env::writable_format(MDB_txn* txn) const {
  MDB_val key{kFormatKey.size(), const_cast<char*>(kFormatKey.data())}, value;
  const int rc = mdb_get(txn, meta, &key, &value);
  if (rc) return lmdb_error(rc, "read format header");
  auto header = parse_format_header(bytes_of(value), value.mv_size);
  if (!header) return header.status().with_context(path_);
  if (!format_is_writable(header->version()))
    return error(Code::kUnsupported, "format version " + to_string(header->version()) +
                                         " is newer than this build writes (another process upgraded "
                                         "the file since this one opened it): open it again");
  return header;
}

// An older file opened for writing becomes the version this build writes, in one (one-time)
// write transaction, taken like any other (the write lock, bounded by write_wait; the map's
// growth followed; the header read again, since another process may have upgraded the file
// meanwhile): 1.0 gains the geometry database (1.1), 2.0 the attributes database (2.1), 2.2 and
// 3.0 the checks of image records and reference counts (2.3, 3.1); every upgrade rewrites the
// header's version (to 2.3 or 3.1), since new writes may store what older readers cannot read
// (version 2 chunks, pyramid levels).
Status Env::upgrade(const std::shared_ptr<Env>& env) {
  auto txn = Txn::begin(env, /*write=*/true);
  if (!txn) return txn.status();
  auto header = env->writable_format((*txn)->handle());
  if (!header) return header.status();
  int rc = mdb_dbi_open((*txn)->handle(), kGeometryDb, MDB_CREATE, &env->geometry);
  if (rc) return env->lmdb_error(rc, "create database 'geometry'");
  rc = mdb_dbi_open((*txn)->handle(), kAttributesDb, MDB_CREATE, &env->attributes);
  if (rc) return env->lmdb_error(rc, "create database 'attributes'");
  rc = mdb_dbi_open((*txn)->handle(), kRefChecksDb, MDB_CREATE, &env->ref_checks);
  if (rc) return env->lmdb_error(rc, "create database 'ref_checks'");
  env->has_ref_checks = true;
  const FormatVersion target = writable_version_of(header->version());
  TESSERA_RETURN_IF_ERROR((*txn)->require_format(writable_version_of));
  // Every image record again, and every reference count's check, which the new version requires.
  for (const ImageInfo& image : std::vector<ImageInfo>((*txn)->images()))
    TESSERA_RETURN_IF_ERROR((*txn)->put_image(image));
  if (!format_checks_images_and_counts(header->version())) TESSERA_RETURN_IF_ERROR(ChunkPool(**txn).add_checks());
  TESSERA_RETURN_IF_ERROR((*txn)->commit());
  env->format_version = target;
  env->has_geometry = true;
  env->has_attributes = true;
  return Status::ok();
}

bool Env::replaced() const {
  mdb_filehandle_t fd = -1;
  struct stat open_file, named_file;
  if (mdb_env_get_fd(env_, &fd) != 0 || ::fstat(fd, &open_file) != 0) return false;
  if (::stat(path_.c_str(), &named_file) != 0) return true;
  return open_file.st_dev != named_file.st_dev || open_file.st_ino != named_file.st_ino;
}

Status Env::grow_map() {
  int rc = 0;
  uint64_t bigger = 0;
  bool at_limit = false;
  const uint64_t limit = options_.max_map_size;
  const bool resized = gate_.exclusively(std::chrono::seconds(10), [&] {
    MDB_envinfo info;
    mdb_env_info(env_, &info);
    bigger = std::max<uint64_t>(uint64_t(info.me_mapsize) * 2, uint64_t(1) << 26);
    if (limit) bigger = std::min(bigger, limit);
    at_limit = bigger <= uint64_t(info.me_mapsize);
    if (!at_limit) rc = mdb_env_set_mapsize(env_, bigger);
  });
  if (at_limit)
    return error(Code::kNoSpace, "map size limit " + std::to_string(limit) + " bytes reached");
  if (!resized)
    return error(Code::kNoSpace, "the map is full and cannot grow while snapshots or "
                                 "transactions of this process stay open");
  return rc ? lmdb_error(rc, "grow the map to " + std::to_string(bigger) + " bytes") : Status::ok();
}

Status Env::adopt_map_size() {
  int rc = 0;
  if (!gate_.exclusively(std::chrono::seconds(10), [&] { rc = mdb_env_set_mapsize(env_, 0); }))
    return error(Code::kBusy, "another process grew the map, and this one cannot follow while "
                              "its snapshots stay open");
  return rc ? lmdb_error(rc, "adopt the new map size") : Status::ok();
}

void Env::ensure_headroom() {
  MDB_envinfo info;
  MDB_stat stat;
  if (mdb_env_info(env_, &info) || mdb_env_stat(env_, &stat)) return;
  const uint64_t used = (uint64_t(info.me_last_pgno) + 1) * stat.ms_psize;
  const bool capped = options_.max_map_size && uint64_t(info.me_mapsize) >= options_.max_map_size;
  if (used > uint64_t(info.me_mapsize) / 4 * 3 && !capped) (void)grow_map();
}

Status Env::lock_writer() {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const std::optional<std::chrono::milliseconds> wait = options_.write_wait;
  auto busy = [&] {
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    return error(Code::kBusy, "another writer holds the write lock (waited " +
                                  std::to_string(waited) + " ms)");
  };
  {
    std::unique_lock lock(writer_mutex_);
    if (!wait) {
      writer_released_.wait(lock, [this] { return !writer_held_; });
    } else if (!writer_released_.wait_until(lock, start + *wait, [this] { return !writer_held_; })) {
      return busy();
    }
    writer_held_ = true;
  }
  int fd = -1;
  int rc = mdb_env_get_fd(env_, &fd);
  if (rc == 0 && !wait) {
    rc = writer_lock_op(fd, F_WRLCK, F_OFD_SETLKW);
  } else if (rc == 0) {
    // Polled: a blocking lock cannot time out. Short sleeps first, as most waits are short.
    auto pause = std::chrono::milliseconds(1);
    while ((rc = writer_lock_op(fd, F_WRLCK, F_OFD_SETLK)) == EAGAIN || rc == EACCES) {
      const auto now = Clock::now();
      if (now >= start + *wait) break;
      std::this_thread::sleep_for(std::min<Clock::duration>(pause, start + *wait - now));
      pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
  }
  if (rc == 0) return Status::ok();
  {
    std::lock_guard lock(writer_mutex_);
    writer_held_ = false;
  }
  writer_released_.notify_one();
  if (rc == EAGAIN || rc == EACCES) return busy();
  return os_error(path_, "take the write lock", rc);
}

void Env::unlock_writer() {
  int fd = -1;
  if (mdb_env_get_fd(env_, &fd) == 0) (void)writer_lock_op(fd, F_UNLCK, F_OFD_SETLK);
  {
    std::lock_guard lock(writer_mutex_);
    writer_held_ = false;
  }
  writer_released_.notify_one();
}

ReaderReport Env::reader_slots() const {
  ReaderReport report;
  MDB_envinfo info;
  MDB_stat stat;
  if (mdb_env_info(env_, &info) == 0) {
    report.last_commit = info.me_last_txnid;
    report.file_pages = uint64_t(info.me_last_pgno) + 1;
  }
  if (mdb_env_stat(env_, &stat) == 0) report.page_size = stat.ms_psize;
  if (options_.no_lock) return report;  // no reader table
  // liblmdb lists the slots only as text, one "pid thread txnid" line each ("-" for a slot
  // without a snapshot), after a header line.
  auto collect = [](const char* line, void* context) -> int {
    long long pid = 0;
    unsigned long long thread = 0, txnid = 0;
    if (std::sscanf(line, "%lld %llx %llu", &pid, &thread, &txnid) == 3)
      static_cast<ReaderReport*>(context)->readers.push_back(
          OpenReader{int64_t(pid), uint64_t(txnid), 0});
    return 0;
  };
  mdb_reader_list(env_, collect, &report);
  for (const OpenReader& reader : report.readers)
    report.last_commit = std::max(report.last_commit, reader.commit);
  for (OpenReader& reader : report.readers) reader.age = report.last_commit - reader.commit;
  std::stable_sort(report.readers.begin(), report.readers.end(),
                   [](const OpenReader& a, const OpenReader& b) { return a.commit < b.commit; });
  return report;
}

Result<ReaderReport> reader_report(const std::shared_ptr<Env>& env) {
  ReaderReport report = env->reader_slots();
  if (!report.oldest()) return report;
  auto txn = Txn::begin(env, /*write=*/false);
  if (!txn) return txn.status();
  // The free list (database 0): key = id of the commit that freed the pages, value = the
  // page numbers as an LMDB ID list whose first word is their count. Pages freed by a commit
  // at or after the oldest snapshot's are not reused while it stays open (liblmdb's rule).
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open((*txn)->handle(), 0, &cursor);
  if (rc) return env->lmdb_error(rc, "open the free list");
  MDB_val key, value;
  for (rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    size_t freed_by = 0, pages = 0;
    if (key.mv_size != sizeof freed_by || value.mv_size < sizeof pages) continue;
    std::memcpy(&freed_by, key.mv_data, sizeof freed_by);
    std::memcpy(&pages, value.mv_data, sizeof pages);
    if (freed_by >= report.oldest()->commit) report.pinned_pages += pages;
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return env->lmdb_error(rc, "read the free list");
  return report;
}

// ---------------------------------------------------------------------------------------

Result<std::unique_ptr<Txn>> Txn::begin(std::shared_ptr<Env> env, bool write) {
  if (write && env->options().read_only)
    return env->error(Code::kReadOnly, "opened read-only: no write transaction");
  std::unique_ptr<Txn> txn(new Txn(env, write));
  if (write) {
    TESSERA_RETURN_IF_ERROR(env->lock_writer());
    txn->writer_locked_ = true;
    env->ensure_headroom();
    const OpenOptions& options = env->options();
    if (options.on_reader_lag && env->reader_slots().lagging(options.reader_lag_limit)) {
      auto report = reader_report(env);
      if (report && report->lagging(options.reader_lag_limit)) options.on_reader_lag(*report);
    }
  }
  for (int attempt = 0;; ++attempt) {
    env->gate().enter();
    int rc = mdb_txn_begin(env->handle(), nullptr, write ? 0 : MDB_RDONLY, &txn->txn_);
    if (rc == 0) {
      txn->entered_ = true;
      break;
    }
    txn->txn_ = nullptr;
    env->gate().leave();
    if (rc == MDB_MAP_RESIZED && attempt < 3) {
      TESSERA_RETURN_IF_ERROR(env->adopt_map_size());
      continue;
    }
    return env->lmdb_error(rc, write ? "begin write transaction" : "begin snapshot");
  }
  // The map may not be read past the end of the file (SIGBUS): a file cut short since it was
  // opened is refused before any page of it is touched.
  TESSERA_RETURN_IF_ERROR(env->check_length());
  // Checked while holding the write lock: a compaction renames its copy into place while it
  // holds the lock, so every later writer of the old file sees it here.
  if (write && env->replaced())
    return env->error(Code::kReadOnly, "the file was replaced (by a compacted copy) since this "
                                       "process opened it: open it again to write");
  if (write) {
    auto format = env->writable_format(txn->txn_);
    if (!format) return format.status();
  }
  TESSERA_RETURN_IF_ERROR(txn->load_images());
  return txn;
}

Txn::~Txn() { abort(); }

Status Txn::require_format(FormatVersion (*raise)(FormatVersion)) {
  auto header = env_->writable_format(txn_);
  if (!header) return header.status();
  const FormatVersion needed = raise(header->version());
  if (header->version() >= needed) return Status::ok();
  header->major = needed.major;
  header->minor = needed.minor;
  const std::string_view key = kFormatKey;
  TESSERA_RETURN_IF_ERROR(
      put(env_->meta, {reinterpret_cast<const uint8_t*>(key.data()), key.size()}, build_format_header(*header)));
  format_raised_ = true;
  return Status::ok();
}

Status Txn::commit() {
  if (!txn_) return env_->error(Code::kInvalidArgument, "commit of a finished transaction");
  const uint64_t commit = mdb_txn_id(txn_);
  // What the header says as committed (a nested transaction that raised it may have failed).
  std::optional<FormatVersion> raised;
  if (format_raised_) {
    auto header = env_->writable_format(txn_);
    if (header) raised = header->version();
  }
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  if (rc == 0 && write_) env_->cover_last_page();
  if (rc == 0 && raised) env_->format_version = *raised;
  // The table this write leaves is the committed one: the next snapshot need not parse it.
  if (rc == 0 && write_) env_->remember_image_table(commit, images_);
  release();
  return rc ? env_->lmdb_error(rc, "commit") : Status::ok();
}

void Txn::abort() {
  if (txn_) mdb_txn_abort(txn_);
  txn_ = nullptr;
  release();
}

Status Txn::nested(const std::function<Status()>& body) {
  MDB_txn* parent = txn_;
  MDB_txn* child = nullptr;
  int rc = mdb_txn_begin(env_->handle(), parent, 0, &child);
  if (rc) return env_->lmdb_error(rc, "begin nested transaction");
  // The body's changes to the image table go to a copy, so that failing it restores this one.
  const std::shared_ptr<const ImageTable> images_before = images_;
  const bool own_before = images_own_;
  images_own_ = false;
  txn_ = child;
  Status s = body();
  txn_ = parent;
  if (s.is_ok()) {
    rc = mdb_txn_commit(child);
    if (rc == 0) return s;
    s = env_->lmdb_error(rc, "commit nested transaction");
  } else {
    mdb_txn_abort(child);
  }
  images_ = images_before;
  images_own_ = own_before;
  return s;
}

void Txn::release() {
  if (entered_) env_->gate().leave();
  entered_ = false;
  if (writer_locked_) env_->unlock_writer();
  writer_locked_ = false;
}

Result<std::optional<MDB_val>> Txn::get(MDB_dbi dbi, std::span<const uint8_t> key) const {
  MDB_val k = to_val(key), v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<MDB_val>();
  if (rc) return env_->lmdb_error(rc, "read");
  return std::optional<MDB_val>(v);
}

Status Txn::put(MDB_dbi dbi, std::span<const uint8_t> key, std::span<const uint8_t> value) {
  MDB_val k = to_val(key), v = to_val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  return rc ? env_->lmdb_error(rc, "write") : Status::ok();
}

Status Txn::del(MDB_dbi dbi, std::span<const uint8_t> key) {
  MDB_val k = to_val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  return rc && rc != MDB_NOTFOUND ? env_->lmdb_error(rc, "delete") : Status::ok();
}

Status Txn::load_images() {
  // A read sees commit mdb_txn_id; a write begins from the commit before its own id.
  const uint64_t commit = mdb_txn_id(txn_) - (write_ ? 1 : 0);
  images_ = env_->image_table(commit);
  images_own_ = false;
  if (images_) return Status::ok();
  auto table = std::make_shared<ImageTable>();
  Cursor cursor(*this, env_->images);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  MDB_val k, v;
  for (auto r = cursor.get(&k, &v, MDB_FIRST);; r = cursor.get(&k, &v, MDB_NEXT)) {
    if (!r) return r.status();
    if (!*r) break;
    auto info = parse_image_record(bytes_of(v), v.mv_size, format_checks_images_and_counts(env_->format_version));
    if (!info) return info.status().with_context(env_->path());
    if (k.mv_size != kImageKeySize || encode_image_key(info->id) !=
                                          std::array<uint8_t, 4>{bytes_of(k)[0], bytes_of(k)[1],
                                                                 bytes_of(k)[2], bytes_of(k)[3]})
      return env_->error(Code::kCorrupt, "image '" + info->name + "' is stored under a key that is "
                                         "not its id " + std::to_string(info->id));
    table->add(std::move(info.value()));
  }
  TESSERA_RETURN_IF_ERROR(load_mapped(*table));
  images_ = table;
  env_->remember_image_table(commit, images_);
  return Status::ok();
}

Result<const ImageInfo*> Txn::find_image(std::string_view name) const {
  if (const ImageInfo* image = images_->find(name)) return image;
  if (images_->find_mapped(name))
    return env_->error(Code::kInvalidArgument,
                       "'" + std::string(name) + "' is a mapped image, a view of other images: it has no tiles "
                       "or records of its own to write, edit or list (tessera materialize writes it out as an "
                       "ordinary image)");
  return env_->error(Code::kNotFound, "no image named '" + std::string(name) + "'");
}

ImageTable& Txn::own_table() {
  if (!images_own_) {
    images_ = std::make_shared<ImageTable>(*images_);
    images_own_ = true;
  }
  return const_cast<ImageTable&>(*images_);  // our own copy: nobody else sees it
}

Status Txn::put_image(const ImageInfo& info) {
  if (info.spec.filter == Filter::kDelta) TESSERA_RETURN_IF_ERROR(require_format(delta_version_of));
  auto bytes = build_image_record(info);
  TESSERA_RETURN_IF_ERROR(put(env_->images, encode_image_key(info.id), bytes));
  own_table().put(info);
  return Status::ok();
}

Status Txn::put_mapped(std::string_view name, const MappedValue& value) {
  TESSERA_RETURN_IF_ERROR(require_format(mapped_version_of));
  const std::vector<uint8_t> key = mapped_record_key(name);
  TESSERA_RETURN_IF_ERROR(put(env_->meta, key, build_mapped_record(key, value)));
  own_table().put_mapped(name, value);
  return Status::ok();
}

Status Txn::delete_mapped(std::string_view name) {
  TESSERA_RETURN_IF_ERROR(del(env_->meta, mapped_record_key(name)));
  own_table().erase_mapped(name);
  return Status::ok();
}

// The mapped image records: the meta keys "mapped/" | name, in key order.
Status Txn::load_mapped(ImageTable& table) {
  Cursor cursor(*this, env_->meta);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  MDB_val k{kMappedKeyPrefix.size(), const_cast<char*>(kMappedKeyPrefix.data())}, v;
  for (auto r = cursor.get(&k, &v, MDB_SET_RANGE);; r = cursor.get(&k, &v, MDB_NEXT)) {
    if (!r) return r.status();
    if (!*r || !std::string_view(static_cast<const char*>(k.mv_data), k.mv_size).starts_with(kMappedKeyPrefix)) break;
    const std::span<const uint8_t> key(bytes_of(k), k.mv_size);
    auto name = mapped_name_of_key(key);
    if (!name) return env_->error(Code::kCorrupt, "a mapped image record has an empty name");
    auto value = parse_mapped_record(key, bytes_of(v), v.mv_size);
    if (!value) return value.status().with_context(env_->path() + ": mapped image '" + *name + "'");
    table.put_mapped(*name, std::move(value.value()));
  }
  return Status::ok();
}

std::shared_ptr<const ImageTable> Env::image_table(uint64_t commit) const {
  std::lock_guard lock(image_table_mutex_);
  return image_table_ && image_table_commit_ == commit ? image_table_ : nullptr;
}

void Env::remember_image_table(uint64_t commit, std::shared_ptr<const ImageTable> table) {
  std::lock_guard lock(image_table_mutex_);
  if (commit < image_table_commit_) return;  // keep the newer one
  image_table_commit_ = commit;
  image_table_ = std::move(table);
}

Status Env::sync() {
  int rc = mdb_env_sync(env_, 1);
  return rc ? lmdb_error(rc, "sync") : Status::ok();
}

Cursor::Cursor(const Txn& txn, MDB_dbi dbi) : txn_(txn) {
  int rc = mdb_cursor_open(txn.handle(), dbi, &cursor_);
  if (rc) {
    cursor_ = nullptr;
    status_ = txn.env().lmdb_error(rc, "open cursor");
  }
}

Cursor::~Cursor() {
  if (cursor_) mdb_cursor_close(cursor_);
}

Result<bool> Cursor::get(MDB_val* key, MDB_val* value, MDB_cursor_op op) {
  int rc = mdb_cursor_get(cursor_, key, value, op);
  if (rc == MDB_NOTFOUND) return false;
  if (rc) return txn_.env().lmdb_error(rc, "cursor read");
  return true;
}

}  // namespace tessera::detail
