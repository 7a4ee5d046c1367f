// Fuzz target: arbitrary bytes as an LMDB file through verify's page walk
// (lib/store/lmdb_pages.cc), which reads it with pread and must never read outside a buffer
// or follow a page number it has not checked. Its promise is tested too: when the walk finds
// the structure sound, liblmdb opens the file read-only and reads every entry of every
// database without crashing (that is why verify walks the pages before liblmdb sees them).
//
// The bytes go to an anonymous in-memory file (memfd), opened by liblmdb through /proc.
#include <lmdb.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_helpers.h"
#include "store/faults.h"
#include "store/lmdb_pages.h"

namespace tessera::fuzz {
namespace {

// Reads every entry of every database of a file the walk accepted.
void read_everything(const std::string& path) {
  MDB_env* env = nullptr;
  FUZZ_CHECK(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 16);
  int rc = mdb_env_open(env, path.c_str(), MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0644);
  MDB_txn* txn = nullptr;
  if (rc == 0) rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  std::vector<std::string> names;
  MDB_dbi main = 0;
  if (rc == 0 && mdb_dbi_open(txn, nullptr, 0, &main) == 0) {
    MDB_cursor* cursor = nullptr;
    MDB_val k, v;
    if (mdb_cursor_open(txn, main, &cursor) == 0) {
      for (int r = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); r == 0;
           r = mdb_cursor_get(cursor, &k, &v, MDB_NEXT))
        names.emplace_back(static_cast<const char*>(k.mv_data), k.mv_size);
      mdb_cursor_close(cursor);
    }
  }
  for (const std::string& name : names) {
    MDB_dbi dbi = 0;
    if (mdb_dbi_open(txn, name.c_str(), 0, &dbi) != 0) continue;
    MDB_cursor* cursor = nullptr;
    if (mdb_cursor_open(txn, dbi, &cursor) != 0) continue;
    MDB_val k, v;
    volatile uint8_t sink = 0;
    for (int r = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); r == 0;
         r = mdb_cursor_get(cursor, &k, &v, MDB_NEXT))
      if (v.mv_size) sink = sink ^ static_cast<const uint8_t*>(v.mv_data)[v.mv_size - 1];
    mdb_cursor_close(cursor);
  }
  if (txn) mdb_txn_abort(txn);
  mdb_env_close(env);
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  const int fd = ::memfd_create("lmdb_pages", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, data + written, size - written);
    FUZZ_CHECK(n > 0);
    written += size_t(n);
  }
  VerifyReport report;
  detail::FaultSink sink(report, 16);
  const detail::LmdbWalk walk = detail::walk_lmdb_file(fd, sink);
  FUZZ_CHECK(walk.sound == report.clean());
  if (walk.sound) fuzz::read_everything("/proc/self/fd/" + std::to_string(fd));
  ::close(fd);
  return 0;
}
