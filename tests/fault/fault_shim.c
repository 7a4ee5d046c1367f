/* fault_shim.c — an LD_PRELOAD library that plays the disk under one file, the way SQLite's
 * crash VFS does: it sees every write and sync the process makes to that file, and can
 * simulate a power loss at the k-th sync point or fail the n-th call.
 *
 * It interposes open/open64/openat/openat64/close (to learn which descriptors refer to the
 * file named by TESSERA_FAULT_PATH and were opened for writing) and write, pwrite, pwrite64,
 * writev, pwritev, fsync, fdatasync, ftruncate on those descriptors. Everything else passes
 * through untouched. Nothing is counted until the program calls tessera_fault_arm() (found
 * with dlsym), so that setting a file up is not part of what is tested.
 *
 * The model of the disk: a write reaches the page cache at once (the shim passes it through,
 * having kept the bytes it overwrites: its pre-image), and stable storage only at the next
 * sync point. A sync point is an fsync or fdatasync of the file, or a write on a descriptor
 * opened O_DSYNC/O_SYNC (LMDB's meta-page descriptor: that write is its own sync point).
 * Real syncs are not made and O_DSYNC is stripped: the shim is the disk, and nothing here
 * survives a real power loss anyway.
 *
 * Environment:
 *   TESSERA_FAULT_PATH   the file (exactly as the program names it)
 *   TESSERA_FAULT_MODE   count | crash | error
 *   TESSERA_FAULT_K      crash: the sync point (1-based, counted after arming) at which to stop
 *   TESSERA_FAULT_CRASH  crash: what of the writes since the last sync point survives
 *                          keep   all of them (the sync completed, the process died after)
 *                          drop   none (the file is as at the last sync point, its size too)
 *                          tear   a random half of the 512-byte sectors they touched
 *                          prefix the writes landed in order up to a random byte, not after
 *                                 (a device without sector atomicity, writing in order)
 *                          suffix only the bytes after a random cut in the last write landed
 *                                 (a device that writes the end of a sector first)
 *   TESSERA_FAULT_N      error: the call (1-based, after arming) that fails
 *   TESSERA_FAULT_ERROR  error: eio | enospc | efbig | edquot (the call fails with that errno)
 *                        | short (the n-th write writes half its bytes and says so; only
 *                        writes count)
 *   TESSERA_FAULT_SEED   crash: seed of the random choices (tear, prefix, suffix)
 *
 * Reports, written to standard output between the program's own lines:
 *   "FAULT_COUNT syncs S calls C writes W" at exit (every mode; at a normal exit only)
 *   "FAULT_CRASH k MODE CALL" just before a simulated power loss at the call CALL (fdatasync,
 *                        fsync, or the write on an O_DSYNC descriptor), after which it _exit(77)s
 *   "FAULT_INJECTED n KIND CALL" when it fails a call
 *
 * Never use this outside tests: it discards data on purpose. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define SECTOR 512
#define MAX_FDS 1024
#define CRASH_EXIT_CODE 77

typedef int (*open_fn)(const char*, int, ...);
typedef int (*openat_fn)(int, const char*, int, ...);
typedef int (*close_fn)(int);
typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec*, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec*, int, off_t);
typedef int (*sync_fn)(int);
typedef int (*ftruncate_fn)(int, off_t);

static struct {
  open_fn open, open64;
  openat_fn openat, openat64;
  close_fn close;
  write_fn write;
  pwrite_fn pwrite, pwrite64;
  writev_fn writev;
  pwritev_fn pwritev;
  sync_fn fsync, fdatasync;
  ftruncate_fn ftruncate;
  ssize_t (*pread)(int, void*, size_t, off_t);
} real;

enum { MODE_OFF, MODE_COUNT, MODE_CRASH, MODE_ERROR };
enum { CRASH_KEEP, CRASH_DROP, CRASH_TEAR, CRASH_PREFIX, CRASH_SUFFIX };
static const char* const crash_names[] = {"keep", "drop", "tear", "prefix", "suffix"};
enum { ERROR_EIO, ERROR_ENOSPC, ERROR_EFBIG, ERROR_EDQUOT, ERROR_SHORT };
static const char* const error_names[] = {"eio", "enospc", "efbig", "edquot", "short"};
static const int error_numbers[] = {EIO, ENOSPC, EFBIG, EDQUOT, 0};

/* One write since the last sync point: where, and what it overwrote. */
typedef struct {
  off_t offset;
  size_t length;
  uint8_t* before;  /* length bytes; zeros where the file ended */
} Pending;

static pthread_mutex_t mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static const char* target_path;
static int mode = MODE_OFF;
static int crash_mode = CRASH_KEEP;
static int error_kind = ERROR_EIO;
static long crash_at = -1, fail_at = -1;
static uint64_t seed = 1;
static int armed;
static long syncs, calls, writes;
static char tracked[MAX_FDS];  /* 0: not the file; 1: the file; 2: the file, opened O_DSYNC */
static int own_fd = -1;        /* the shim's own read-write descriptor of the file */
static Pending* pending;
static size_t pending_count, pending_capacity;
static off_t synced_size;      /* file size at the last sync point */

static void load_real(void) {
  if (real.write) return;
  real.open = (open_fn)dlsym(RTLD_NEXT, "open");
  real.open64 = (open_fn)dlsym(RTLD_NEXT, "open64");
  real.openat = (openat_fn)dlsym(RTLD_NEXT, "openat");
  real.openat64 = (openat_fn)dlsym(RTLD_NEXT, "openat64");
  real.close = (close_fn)dlsym(RTLD_NEXT, "close");
  real.pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
  real.pwrite64 = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
  real.writev = (writev_fn)dlsym(RTLD_NEXT, "writev");
  real.pwritev = (pwritev_fn)dlsym(RTLD_NEXT, "pwritev");
  real.fsync = (sync_fn)dlsym(RTLD_NEXT, "fsync");
  real.fdatasync = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
  real.ftruncate = (ftruncate_fn)dlsym(RTLD_NEXT, "ftruncate");
  real.pread = (ssize_t(*)(int, void*, size_t, off_t))dlsym(RTLD_NEXT, "pread");
  real.write = (write_fn)dlsym(RTLD_NEXT, "write");
}

static void say(const char* text) {
  size_t n = strlen(text);
  while (n > 0) {
    ssize_t w = real.write(STDOUT_FILENO, text, n);
    if (w <= 0) return;
    text += w;
    n -= (size_t)w;
  }
}

static void die(const char* what) {
  char line[256];
  snprintf(line, sizeof line, "FAULT_SHIM_ERROR %s: %s\n", what, strerror(errno));
  say(line);
  _exit(70);
}

static uint64_t mix(uint64_t x) {  /* splitmix64: the random choices, from seed and position */
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

__attribute__((constructor)) static void shim_init(void) {
  load_real();
  target_path = getenv("TESSERA_FAULT_PATH");
  const char* m = getenv("TESSERA_FAULT_MODE");
  if (!target_path || !m) return;
  if (strcmp(m, "count") == 0) mode = MODE_COUNT;
  else if (strcmp(m, "crash") == 0) mode = MODE_CRASH;
  else if (strcmp(m, "error") == 0) mode = MODE_ERROR;
  const char* v;
  if ((v = getenv("TESSERA_FAULT_K"))) crash_at = atol(v);
  if ((v = getenv("TESSERA_FAULT_N"))) fail_at = atol(v);
  if ((v = getenv("TESSERA_FAULT_SEED"))) seed = strtoull(v, NULL, 10);
  if ((v = getenv("TESSERA_FAULT_CRASH")))
    for (int i = 0; i < 5; ++i)
      if (strcmp(v, crash_names[i]) == 0) crash_mode = i;
  if ((v = getenv("TESSERA_FAULT_ERROR")))
    for (int i = 0; i < 5; ++i)
      if (strcmp(v, error_names[i]) == 0) error_kind = i;
}

__attribute__((destructor)) static void shim_fini(void) {
  if (mode == MODE_OFF) return;
  char line[128];
  snprintf(line, sizeof line, "FAULT_COUNT syncs %ld calls %ld writes %ld\n", syncs, calls, writes);
  say(line);
}

/* Called by the program once its file is set up: counting starts here. */
void tessera_fault_arm(void) {
  pthread_mutex_lock(&mutex);
  armed = 1;
  pthread_mutex_unlock(&mutex);
}

static int is_tracked(int fd) { return fd >= 0 && fd < MAX_FDS && tracked[fd]; }

static void clear_pending(void) {
  for (size_t i = 0; i < pending_count; ++i) free(pending[i].before);
  pending_count = 0;
}

static off_t file_size(void) {
  struct stat st;
  if (fstat(own_fd, &st) != 0) die("fstat");
  return st.st_size;
}

static void track(int fd, const char* path, int flags) {
  if (fd < 0 || fd >= MAX_FDS || !target_path || mode == MODE_OFF) return;
  if (strcmp(path, target_path) != 0 || (flags & O_ACCMODE) == O_RDONLY) return;
  pthread_mutex_lock(&mutex);
  tracked[fd] = (flags & (O_DSYNC | O_SYNC)) ? 2 : 1;
  if (own_fd < 0) {
    own_fd = real.open(path, O_RDWR | O_CLOEXEC);
    if (own_fd < 0) die("open own descriptor");
    synced_size = file_size();
  }
  pthread_mutex_unlock(&mutex);
}

static int strip_dsync(const char* path, int flags) {
  if (mode == MODE_OFF || !target_path || strcmp(path, target_path) != 0) return flags;
  return flags & ~(O_DSYNC | O_SYNC);
}

/* Keeps the pre-image of [offset, offset + length) before a write changes it. */
static void remember(off_t offset, size_t length) {
  if (length == 0) return;
  if (pending_count == pending_capacity) {
    pending_capacity = pending_capacity ? pending_capacity * 2 : 64;
    pending = realloc(pending, pending_capacity * sizeof *pending);
    if (!pending) die("realloc");
  }
  uint8_t* before = calloc(length, 1);
  if (!before) die("calloc");
  size_t done = 0;
  while (done < length) {
    ssize_t r = real.pread(own_fd, before + done, length - done, offset + (off_t)done);
    if (r < 0) die("pread");
    if (r == 0) break;  /* past the end: stays zero */
    done += (size_t)r;
  }
  pending[pending_count++] = (Pending){offset, length, before};
}

static void put_back(off_t offset, const uint8_t* bytes, size_t length) {
  size_t done = 0;
  while (done < length) {
    ssize_t w = real.pwrite(own_fd, bytes + done, length - done, offset + (off_t)done);
    if (w <= 0) die("pwrite (restore)");
    done += (size_t)w;
  }
}

/* Restores the pre-image of bytes [from, to) of pending write i. */
static void undo_range(size_t i, size_t from, size_t to) {
  if (from < to) put_back(pending[i].offset + (off_t)from, pending[i].before + from, to - from);
}

static int sector_dropped(off_t sector) { return (mix(seed ^ mix((uint64_t)sector)) & 1) == 0; }

/* The power goes out: decides what of the pending writes reached the platter, then exits
 * without running any destructor or flushing anything. */
static void power_loss(const char* point) {
  char line[128];
  snprintf(line, sizeof line, "FAULT_CRASH %ld %s %s\n", syncs, crash_names[crash_mode], point);
  size_t total = 0;
  for (size_t i = 0; i < pending_count; ++i) total += pending[i].length;
  const size_t cut = total ? (size_t)(mix(seed) % (total + 1)) : 0;  /* prefix: bytes that land */
  size_t start = total;  /* byte position of pending write i in the whole sequence */
  for (size_t i = pending_count; i-- > 0;) {  /* newest first: the oldest pre-image wins */
    const Pending* p = &pending[i];
    start -= p->length;
    switch (crash_mode) {
      case CRASH_KEEP: break;
      case CRASH_DROP: undo_range(i, 0, p->length); break;
      case CRASH_TEAR:
        for (off_t s = p->offset / SECTOR; s * SECTOR < p->offset + (off_t)p->length; ++s) {
          if (!sector_dropped(s)) continue;
          off_t lo = s * SECTOR > p->offset ? s * SECTOR : p->offset;
          off_t hi = (s + 1) * SECTOR < p->offset + (off_t)p->length ? (s + 1) * SECTOR
                                                                     : p->offset + (off_t)p->length;
          undo_range(i, (size_t)(lo - p->offset), (size_t)(hi - p->offset));
        }
        break;
      case CRASH_PREFIX:
        undo_range(i, cut > start ? (cut - start < p->length ? cut - start : p->length) : 0,
                   p->length);
        break;
      case CRASH_SUFFIX:  /* only the last write, and only its end, landed */
        if (i + 1 == pending_count) undo_range(i, 0, (size_t)(mix(seed) % (p->length + 1)));
        else undo_range(i, 0, p->length);
        break;
    }
  }
  if (crash_mode == CRASH_DROP && real.ftruncate(own_fd, synced_size) != 0) die("ftruncate");
  say(line);
  _exit(CRASH_EXIT_CODE);
}

/* A sync point: the power goes out here when it is the chosen one, else everything pending
 * is now stable. */
static void sync_point(const char* point) {
  if (!armed) {
    clear_pending();
    synced_size = own_fd >= 0 ? file_size() : 0;
    return;
  }
  ++syncs;
  if (mode == MODE_CRASH && syncs == crash_at) power_loss(point);
  clear_pending();
  synced_size = file_size();
}

/* Counts a call; returns the errno to fail it with (0: let it run, -1: write it short). */
static int injected(int is_write, const char* call) {
  if (!armed) return 0;
  ++calls;
  if (is_write) ++writes;
  if (mode != MODE_ERROR) return 0;
  const long counter = error_kind == ERROR_SHORT ? (is_write ? writes : -1) : calls;
  if (counter != fail_at) return 0;
  char line[96];
  snprintf(line, sizeof line, "FAULT_INJECTED %ld %s %s\n", fail_at, error_names[error_kind], call);
  say(line);
  return error_kind == ERROR_SHORT ? -1 : error_numbers[error_kind];
}

/* ---- interposed calls ------------------------------------------------------------------ */

static int mode_arg(int flags, va_list ap) {
  return ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? va_arg(ap, int) : 0;
}

#define DEFINE_OPEN(name)                                             \
  int name(const char* path, int flags, ...) {                       \
    load_real();                                                      \
    va_list ap;                                                       \
    va_start(ap, flags);                                              \
    int m = mode_arg(flags, ap);                                      \
    va_end(ap);                                                       \
    int fd = real.name(path, strip_dsync(path, flags), m);            \
    track(fd, path, flags);                                           \
    return fd;                                                        \
  }
DEFINE_OPEN(open)
DEFINE_OPEN(open64)

#define DEFINE_OPENAT(name)                                           \
  int name(int dir, const char* path, int flags, ...) {              \
    load_real();                                                      \
    va_list ap;                                                       \
    va_start(ap, flags);                                              \
    int m = mode_arg(flags, ap);                                      \
    va_end(ap);                                                       \
    int fd = real.name(dir, path, strip_dsync(path, flags), m);       \
    track(fd, path, flags);                                           \
    return fd;                                                        \
  }
DEFINE_OPENAT(openat)
DEFINE_OPENAT(openat64)

int close(int fd) {
  load_real();
  if (is_tracked(fd)) tracked[fd] = 0;
  return real.close(fd);
}

/* The common path of every write to the file: count, maybe fail, keep the pre-image, write. */
static ssize_t tracked_write(int fd, const char* call, const struct iovec* iov, int iovcnt,
                             off_t offset, int positional) {
  pthread_mutex_lock(&mutex);
  size_t length = 0;
  for (int i = 0; i < iovcnt; ++i) length += iov[i].iov_len;
  const int err = injected(1, call);
  if (err > 0) {
    pthread_mutex_unlock(&mutex);
    errno = err;
    return -1;
  }
  if (!positional) offset = lseek(fd, 0, SEEK_CUR);
  struct iovec shortened[1];
  if (err < 0) {  /* a short write: half of the first buffer (at least one byte short) */
    shortened[0].iov_base = iov[0].iov_base;
    shortened[0].iov_len = length / 2 < iov[0].iov_len ? length / 2 : iov[0].iov_len;
    iov = shortened;
    iovcnt = 1;
    length = shortened[0].iov_len;
  }
  remember(offset, length);
  ssize_t r = positional ? real.pwritev(fd, iov, iovcnt, offset) : real.writev(fd, iov, iovcnt);
  if (tracked[fd] == 2 && r > 0) sync_point("dsync-write");
  pthread_mutex_unlock(&mutex);
  return r;
}

ssize_t write(int fd, const void* buf, size_t n) {
  load_real();
  if (!is_tracked(fd)) return real.write(fd, buf, n);
  struct iovec v = {(void*)buf, n};
  return tracked_write(fd, "write", &v, 1, 0, 0);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  load_real();
  if (!is_tracked(fd)) return real.pwrite(fd, buf, n, offset);
  struct iovec v = {(void*)buf, n};
  return tracked_write(fd, "pwrite", &v, 1, offset, 1);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t offset) {
  load_real();
  if (!is_tracked(fd)) return real.pwrite64(fd, buf, n, offset);
  struct iovec v = {(void*)buf, n};
  return tracked_write(fd, "pwrite64", &v, 1, offset, 1);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  load_real();
  if (!is_tracked(fd)) return real.writev(fd, iov, iovcnt);
  return tracked_write(fd, "writev", iov, iovcnt, 0, 0);
}

ssize_t pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  load_real();
  if (!is_tracked(fd)) return real.pwritev(fd, iov, iovcnt, offset);
  return tracked_write(fd, "pwritev", iov, iovcnt, offset, 1);
}

static int tracked_sync(int fd, const char* call, sync_fn fn) {
  load_real();
  if (!is_tracked(fd)) return fn(fd);
  pthread_mutex_lock(&mutex);
  const int err = injected(0, call);
  if (err > 0) {  /* the sync failed: what it should have made stable stays pending */
    pthread_mutex_unlock(&mutex);
    errno = err;
    return -1;
  }
  sync_point(call);
  pthread_mutex_unlock(&mutex);
  return 0;
}

int fsync(int fd) { return tracked_sync(fd, "fsync", real.fsync); }
int fdatasync(int fd) { return tracked_sync(fd, "fdatasync", real.fdatasync); }

int ftruncate(int fd, off_t length) {
  load_real();
  if (!is_tracked(fd)) return real.ftruncate(fd, length);
  pthread_mutex_lock(&mutex);
  const int err = injected(1, "ftruncate");
  if (err != 0) {
    pthread_mutex_unlock(&mutex);
    errno = err > 0 ? err : EIO;
    return -1;
  }
  /* A shrink loses the cut bytes for good; a growth adds zeros. Either way the pre-image of
   * the cut part is what a crash before the next sync point must bring back. */
  off_t size = file_size();
  if (length < size) remember(length, (size_t)(size - length));
  int r = real.ftruncate(fd, length);
  pthread_mutex_unlock(&mutex);
  return r;
}
