#include "store/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "format/keys.h"
#include "format/records.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

constexpr const char* kFormatKey = "format";
constexpr uint32_t kLmdbMagic = 0xBEEFC0DE;
constexpr size_t kLmdbPageHeader = 16;

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Code code_for_lmdb(int rc) {
  switch (rc) {
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return Code::kNoSpace;
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
    case EROFS: return Code::kReadOnly;
    case ENOENT: return Code::kNotFound;
    default: return Code::kIoError;
  }
}

// LMDB trusts its file; before handing it one we check that it starts with an LMDB meta
// page, so that an arbitrary file gets a clear error and no lock file is created for it.
Status check_lmdb_signature(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status(errno == ENOENT ? Code::kNotFound : Code::kIoError,
                  path + ": cannot open: " + std::strerror(errno));
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

}  // namespace

Env::Env(std::string path, const OpenOptions& options)
    : path_(std::move(path)), options_(options), pool_(options.threads) {}

Env::~Env() {
  if (env_) mdb_env_close(env_);
}

Status Env::error(Code code, std::string_view message) const {
  return Status(code, path_ + ": " + std::string(message));
}

Status Env::lmdb_error(int rc, std::string_view what) const {
  std::string message = std::string(what) + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) map_full_ = true;
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
  const std::string lock_path = path + "-lock";
  const bool lock_existed = file_exists(lock_path);
  if (create) {
    // O_EXCL makes "the file exists" an atomic test; LMDB initialises an empty file.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
      return Status(errno == EEXIST ? Code::kAlreadyExists : Code::kIoError,
                    path + ": cannot create: " + std::strerror(errno));
    ::close(fd);
  } else {
    TESSERA_RETURN_IF_ERROR(check_lmdb_signature(path));
  }

  std::shared_ptr<Env> env(new Env(path, options));
  auto fail = [&](Status status) -> Result<std::shared_ptr<Env>> {
    if (env->env_) mdb_env_close(env->env_);
    env->env_ = nullptr;
    if (!lock_existed) ::unlink(lock_path.c_str());
    if (create) ::unlink(path.c_str());
    return status;
  };
  int rc = mdb_env_create(&env->env_);
  if (rc) return fail(env->lmdb_error(rc, "mdb_env_create"));
  mdb_env_set_maxdbs(env->env_, 8);
  mdb_env_set_maxreaders(env->env_, 510);
  rc = mdb_env_set_mapsize(env->env_, options.map_size);
  if (rc) return fail(env->lmdb_error(rc, "set map size"));
  unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD;
  if (options.read_only) flags |= MDB_RDONLY;
  if (options.no_lock) flags |= MDB_NOLOCK;
  if (!options.sync) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env->env_, path.c_str(), flags, 0644);
  if (rc) return fail(env->lmdb_error(rc, "open"));
  int dead = 0;
  if (!options.no_lock) mdb_reader_check(env->env_, &dead);  // clear slots of dead readers
  Status opened = env->open_databases(create);
  if (!opened.is_ok()) return fail(opened);
  return env;
}

Status Env::open_databases(bool create) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, options_.read_only ? MDB_RDONLY : 0, &txn);
  if (rc) return lmdb_error(rc, "begin transaction");
  struct Named {
    const char* name;
    MDB_dbi* dbi;
  } dbs[] = {{"meta", &meta}, {"images", &images}, {"tiles", &tiles}, {"chunks", &chunks},
             {"refs", &refs}};
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
  MDB_val key{std::strlen(kFormatKey), const_cast<char*>(kFormatKey)}, value;
  if (create) {
    rc = mdb_dbi_open(txn, "geometry", MDB_CREATE, &geometry);
    if (rc) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "create database 'geometry'");
    }
    has_geometry = true;
    FormatHeader header;
    header.creator = std::string("tessera ") + TESSERA_VERSION;
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
  if (header && header->major == kFormatMajor && header->minor <= kFormatMinor) {
    // The geometry database (1.1): a writer creates it in a 1.0 file and records the upgrade.
    rc = mdb_dbi_open(txn, "geometry", options_.read_only ? 0 : MDB_CREATE, &geometry);
    has_geometry = rc == 0;
    if (rc == MDB_NOTFOUND && options_.read_only) rc = 0;
    if (rc == 0 && !options_.read_only && header->minor < kFormatMinor) {
      FormatHeader upgraded = *header;
      upgraded.minor = kFormatMinor;
      auto bytes = build_format_header(upgraded);
      MDB_val upgraded_value = to_val(bytes);
      rc = mdb_put(txn, meta, &key, &upgraded_value, 0);
    }
    if (rc) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "open database 'geometry'");
    }
  }
  // Handles opened in a transaction (read-only ones too) become usable everywhere only
  // once it commits.
  rc = mdb_txn_commit(txn);
  if (!header) return header.status().with_context(path_);
  if (header->major != kFormatMajor)
    return error(Code::kUnsupported, "format version " + std::to_string(header->major) + "." +
                                         std::to_string(header->minor) +
                                         " is not supported (this build reads major version 1)");
  if (!options_.read_only && header->minor > kFormatMinor)
    return error(Code::kUnsupported, "format version 1." + std::to_string(header->minor) +
                                         " is newer than this build writes (1." +
                                         std::to_string(kFormatMinor) + "): open it read-only");
  return rc ? lmdb_error(rc, "commit database handles") : Status::ok();
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
  const bool resized = gate_.exclusively(std::chrono::seconds(10), [&] {
    MDB_envinfo info;
    mdb_env_info(env_, &info);
    bigger = std::max<uint64_t>(uint64_t(info.me_mapsize) * 2, uint64_t(1) << 26);
    rc = mdb_env_set_mapsize(env_, bigger);
  });
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
  if (used > uint64_t(info.me_mapsize) / 4 * 3) (void)grow_map();
}

// ---------------------------------------------------------------------------------------

Result<std::unique_ptr<Txn>> Txn::begin(std::shared_ptr<Env> env, bool write) {
  if (write && env->options().read_only)
    return env->error(Code::kReadOnly, "opened read-only: no write transaction");
  if (write) env->ensure_headroom();
  std::unique_ptr<Txn> txn(new Txn(env, write));
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
  // Checked while holding the write lock: a compaction renames its copy into place while it
  // holds the lock, so every later writer of the old file sees it here.
  if (write && env->replaced())
    return env->error(Code::kReadOnly, "the file was replaced (by a compacted copy) since this "
                                       "process opened it: open it again to write");
  TESSERA_RETURN_IF_ERROR(txn->load_images());
  return txn;
}

Txn::~Txn() { abort(); }

Status Txn::commit() {
  if (!txn_) return env_->error(Code::kInvalidArgument, "commit of a finished transaction");
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  leave_gate();
  return rc ? env_->lmdb_error(rc, "commit") : Status::ok();
}

void Txn::abort() {
  if (txn_) mdb_txn_abort(txn_);
  txn_ = nullptr;
  leave_gate();
}

Status Txn::nested(const std::function<Status()>& body) {
  MDB_txn* parent = txn_;
  MDB_txn* child = nullptr;
  int rc = mdb_txn_begin(env_->handle(), parent, 0, &child);
  if (rc) return env_->lmdb_error(rc, "begin nested transaction");
  const std::vector<ImageInfo> images_before = images_;
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
  return s;
}

void Txn::leave_gate() {
  if (entered_) env_->gate().leave();
  entered_ = false;
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
  images_.clear();
  Cursor cursor(*this, env_->images);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  MDB_val k, v;
  for (auto r = cursor.get(&k, &v, MDB_FIRST);; r = cursor.get(&k, &v, MDB_NEXT)) {
    if (!r) return r.status();
    if (!*r) break;
    auto info = parse_image_record(bytes_of(v), v.mv_size);
    if (!info) return info.status().with_context(env_->path());
    if (k.mv_size != kImageKeySize || encode_image_key(info->id) !=
                                          std::array<uint8_t, 4>{bytes_of(k)[0], bytes_of(k)[1],
                                                                 bytes_of(k)[2], bytes_of(k)[3]})
      return env_->error(Code::kCorrupt, "image '" + info->name + "' is stored under a key that is "
                                         "not its id " + std::to_string(info->id));
    images_.push_back(std::move(info.value()));
  }
  return Status::ok();
}

Result<ImageInfo*> Txn::find_image(std::string_view name) {
  for (auto& image : images_)
    if (image.name == name) return &image;
  return env_->error(Code::kNotFound, "no image named '" + std::string(name) + "'");
}

Status Txn::put_image(const ImageInfo& info) {
  auto bytes = build_image_record(info);
  TESSERA_RETURN_IF_ERROR(put(env_->images, encode_image_key(info.id), bytes));
  for (auto& image : images_)
    if (image.id == info.id) {
      image = info;
      return Status::ok();
    }
  images_.push_back(info);
  return Status::ok();
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
