// A damaged container never crashes a reader (spec/FORMAT.md 7.9): copies of a small container
// (two images, frames, a planar image, uniform tiles, attributes) are damaged one way each,
// truncated at a page boundary or anywhere, a page zeroed, one bit flipped, 16 bytes
// overwritten, and each copy is tried in a child process: open, what `info` asks (images,
// frames, stats, bounds, extents, attributes, the pool), a read of every frame, an export,
// verify. Every outcome is classed: right (every answer equals the intact file's), a clean
// error (a Status; what did answer was right), silently wrong (an answer that is not the
// intact file's), a signal, a hang. Only the first two may happen.
//
// The normal run tries a bounded sample with a fixed seed. TESSERA_DAMAGE_SOAK=1 tries every
// page boundary, every page zeroed and every byte flipped (scripts/damage-soak.sh), and prints
// the counts per class either way.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tessera/envi.h"
#include "tessera/tessera.h"
#include "test_util.h"

namespace tessera::test {
namespace {

// What the intact file answers, as bytes: every question the child asks, in order.
std::string answers(const std::string& file, const std::string& out_dir, bool* failed) {
  std::string a;
  *failed = false;
  const auto fail = [&](const Status& s) {
    a += "error " + s.to_string() + "\n";
    *failed = true;
  };
  OpenOptions options;
  options.read_only = true;
  auto c = Container::open(file, options);
  if (!c) return fail(c.status()), a;
  auto s = c->snapshot();
  if (!s) return fail(s.status()), a;
  const std::vector<ImageInfo> images = s->images();
  for (const ImageInfo& info : images) {
    a += info.name + " " + std::string(data_type_name(info.spec.type)) + " " + std::to_string(info.spec.bands) +
         " " + std::to_string(info.spec.tile_size) + " " + std::to_string(int(info.spec.storage)) + " " +
         std::to_string(info.frames) + " fill " + hex(info.fill_pixel.data(), info.fill_pixel.size()) + "\n";
    auto attrs = s->attributes(info.name);
    if (!attrs) return fail(attrs.status()), a;
    for (const Attribute& at : *attrs) a += "  " + at.name + " = " + format_attribute_value(at.value) + "\n";
    for (uint32_t f = 0; f < info.frames; ++f) {
      auto stats = s->stats(info.name, f);
      if (!stats) return fail(stats.status()), a;
      a += "  frame " + std::to_string(f) + " tiles " + std::to_string(stats->tiles_uniform) + "/" +
           std::to_string(stats->tiles_chunk) + "\n";
      auto bounds = s->bounds(info.name, f);
      if (!bounds) return fail(bounds.status()), a;
      auto extent = s->extent(info.name, f);
      if (!extent) return fail(extent.status()), a;
      const Region region = *extent ? **extent : Region{-40, -40, 120, 120};
      a += "  bounds " + (*bounds ? to_string(**bounds) : std::string("none")) + " extent " + to_string(region) + "\n";
      std::string pixels(region.pixel_count() * info.pixel_bytes(), '\0');
      const Status read = s->read(info.name, region, Selection{f, 0, {}}, pixels.data(), pixels.size());
      if (!read) return fail(read), a;
      a += "  pixels " + std::to_string(std::hash<std::string>{}(pixels)) + "\n";
    }
  }
  auto pool = s->pool_stats();
  if (!pool) return fail(pool.status()), a;
  a += "pool " + std::to_string(pool->chunks) + " " + std::to_string(pool->references) + "\n";
  if (!images.empty()) {
    ExportOptions e;
    e.image = images.back().name;
    const std::string out = out_dir + "/export.raw";
    const Status exported = export_envi(*c, out, e);
    if (!exported) return fail(exported), a;
    a += "export " + std::to_string(std::hash<std::string>{}(read_file(out))) + "\n";
  }
  VerifyOptions deep;
  deep.deep = true;
  auto report = verify(file, deep);
  if (!report) return fail(report.status()), a;
  a += std::string("verify ") + (report->clean() ? "clean" : "faults") + "\n";
  return a;
}

enum Outcome { kRight, kCleanError, kSilentWrong, kSignal, kHang };
constexpr const char* kOutcomeNames[] = {"right", "clean errors", "silent wrong", "signals", "hangs"};

// The intact file's answers, up to (not including) its verify line: a damaged file whose
// answers stop at an error must agree with them until there; verify may then find faults.
bool agrees(const std::string& got, bool failed, const std::string& intact) {
  const size_t verify_at = intact.rfind("verify ");
  if (!failed) return got.substr(0, got.rfind("verify ")) == intact.substr(0, verify_at);
  const size_t error_at = got.rfind("error ");
  return intact.compare(0, error_at, got, 0, error_at) == 0;
}

// Everything a child wrote to the pipe `fd`, which is closed after.
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

// Runs `answers` on `file` in a child; its outcome against the intact file's answers.
Outcome try_in_child(const std::string& file, const std::string& dir, const std::string& intact,
                     std::string* detail) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return kHang;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    ::alarm(30);  // a hang ends as SIGALRM, counted below as a hang
    bool failed = false;
    const std::string got = answers(file, dir, &failed);
    const char code = agrees(got, failed, intact) ? (failed ? kCleanError : kRight) : kSilentWrong;
    if (code == kSilentWrong) (void)!::write(pipe_fds[1], got.data(), got.size());
    ::_exit(code);
  }
  ::close(pipe_fds[1]);
  const std::string out = read_all(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    *detail = "signal " + std::to_string(WTERMSIG(status));
    return WTERMSIG(status) == SIGALRM ? kHang : kSignal;
  }
  if (WEXITSTATUS(status) == kSilentWrong) *detail = out;
  return Outcome(WEXITSTATUS(status));
}

// The container the damage is done to: two images, one with two frames, one planar.
void make_container(const std::string& file) {
  auto c = Container::create(file);
  ASSERT_OK(c.status());
  Rng rng(20261207);
  ASSERT_OK(c->write([&](WriteTxn& t) {
    ImageSpec rgb;
    rgb.bands = 3;
    rgb.tile_size = 16;
    TESSERA_RETURN_IF_ERROR(t.create_image("rgb", rgb));
    std::vector<uint8_t> px(70 * 50 * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 7) % 251 + (rng.chance(0.2) ? 1 : 0));
    TESSERA_RETURN_IF_ERROR(t.write("rgb", {0, 0, 70, 50}, {}, px.data(), px.size()));
    std::vector<uint8_t> flat(16 * 16 * 3, 9);  // a uniform tile
    TESSERA_RETURN_IF_ERROR(t.write("rgb", {80, 0, 16, 16}, {}, flat.data(), flat.size()));
    TESSERA_RETURN_IF_ERROR(t.set_attribute("rgb", kExtentAttribute, extent_value({0, 0, 96, 50})));
    TESSERA_RETURN_IF_ERROR(t.set_attribute("rgb", "note", std::string("scan")));
    std::vector<uint8_t> patch = rng.bytes(20 * 20 * 3);
    TESSERA_RETURN_IF_ERROR(t.write("rgb", {10, 10, 20, 20}, Selection{1, 0, {}}, patch.data(), patch.size()));
    ImageSpec cube;
    cube.type = DataType::kU16;
    cube.bands = 5;
    cube.tile_size = 16;
    cube.storage = StorageLayout::kPlanar;
    cube.codec = CodecSpec{Codec::kZstd, 3};
    cube.fill = {7.0};
    TESSERA_RETURN_IF_ERROR(t.create_image("cube", cube));
    std::vector<uint8_t> samples(40 * 30 * 5 * 2);
    for (size_t i = 0; i < samples.size(); i += 2) samples[i] = uint8_t(i / 2 % 97), samples[i + 1] = uint8_t(i % 5);
    TESSERA_RETURN_IF_ERROR(t.write("cube", {-10, 5, 40, 30}, {}, samples.data(), samples.size()));
    return t.set_attribute("cube", "wavelength", std::vector<double>{400, 500, 600, 700, 800});
  }));
}

struct Damage {
  std::string what;
  std::function<void(std::string&)> apply;
};

TEST(DamagedFileTest, NeverCrashesAReader) {
  TempDir tmp;
  const std::string intact_file = tmp.path("intact.tsr");
  make_container(intact_file);
  if (HasFatalFailure()) return;
  const std::string bytes = read_file(intact_file);
  ASSERT_EQ(bytes.size() % 4096, 0u);
  const size_t pages = bytes.size() / 4096;
  bool failed = false;
  const std::string intact = answers(intact_file, tmp.dir().string(), &failed);
  ASSERT_FALSE(failed) << intact;
  ASSERT_NE(intact.find("verify clean"), std::string::npos) << intact;

  const bool soak = std::getenv("TESSERA_DAMAGE_SOAK") != nullptr;
  Rng rng(7);
  std::vector<Damage> damages;
  const auto truncate_to = [&](size_t size, const std::string& kind) {
    damages.push_back({kind + " to " + std::to_string(size) + " bytes", [size](std::string& b) { b.resize(size); }});
  };
  const auto zero_page = [&](size_t page) {
    damages.push_back({"page " + std::to_string(page) + " zeroed",
                       [page](std::string& b) { std::fill_n(b.begin() + page * 4096, 4096, '\0'); }});
  };
  const auto flip = [&](size_t at, int bit) {
    damages.push_back({"bit " + std::to_string(bit) + " of byte " + std::to_string(at) + " flipped",
                       [at, bit](std::string& b) { b[at] = char(b[at] ^ (1 << bit)); }});
  };
  for (size_t p = 1; p < pages; ++p) truncate_to(p * 4096, "cut at a page boundary");
  if (soak) {
    for (size_t p = 0; p < pages; ++p) zero_page(p);
    for (size_t at = 0; at < bytes.size(); ++at) flip(at, int(rng.index(8)));
  } else {
    for (int i = 0; i < 20; ++i) truncate_to(size_t(rng.index(bytes.size())), "cut anywhere");
    for (int i = 0; i < 20; ++i) zero_page(rng.index(pages));
    for (int i = 0; i < 150; ++i) flip(rng.index(bytes.size()), int(rng.index(8)));
  }
  for (int i = 0; i < (soak ? 2000 : 40); ++i) {
    const size_t at = rng.index(bytes.size() - 16);
    const std::vector<uint8_t> run = rng.bytes(16);
    damages.push_back({"16 bytes at " + std::to_string(at) + " overwritten",
                       [at, run](std::string& b) { std::copy(run.begin(), run.end(), b.begin() + at); }});
  }

  std::array<uint64_t, 5> counts{};
  for (size_t i = 0; i < damages.size(); ++i) {
    const std::string dir = tmp.path("case" + std::to_string(i));
    std::filesystem::create_directory(dir);
    const std::string file = dir + "/damaged.tsr";
    std::string damaged = bytes;
    damages[i].apply(damaged);
    write_file(file, damaged);
    std::string detail;
    const Outcome outcome = try_in_child(file, dir, intact, &detail);
    ++counts[outcome];
    EXPECT_LE(outcome, kCleanError) << damages[i].what << ": " << kOutcomeNames[outcome] << "\n"
                                    << detail << "\nintact:\n" << intact;
    std::filesystem::remove_all(dir);
  }
  std::printf("damage sweep over a %zu-byte container (%s): %zu tried", bytes.size(), soak ? "soak" : "sample",
              damages.size());
  for (int o = 0; o < 5; ++o) std::printf(", %llu %s", static_cast<unsigned long long>(counts[o]), kOutcomeNames[o]);
  std::printf("\n");
}

// On the full tmpfs at `mnt`: a container copied there, the rest filled to the last block, then
// opened (its lock file is missing) and another created; what happened, into `report`.
void full_disk_open(const std::string& mnt, const std::string& container, std::string* report) {
  const std::string file = mnt + "/small.tsr";
  write_file(file, container);
  {
    std::ofstream filler(mnt + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), block.size()) && filler.flush()) {
    }
  }
  OpenOptions read_only;
  read_only.read_only = true;
  auto opened = Container::open(file, read_only);
  *report += "open: " + (opened ? std::string("ok") : opened.status().to_string()) + "\n";
  auto created = Container::create(mnt + "/new.tsr");
  *report += "create: " + (created ? std::string("ok") : created.status().to_string()) + "\n";
  for (const auto& entry : std::filesystem::directory_iterator(mnt))
    *report += "left: " + entry.path().filename().string() + "\n";
}

// A full disk at the first open: liblmdb extends the lock file and writes through a map of it,
// which on a full file system was SIGBUS. In a child with a mount namespace of its own, on a
// 64 KiB tmpfs filled to the last block: opening a container whose lock file is missing is
// kNoSpace naming the lock file, and creating one fails leaving nothing behind.
TEST(DamagedFileTest, FullDiskAtTheFirstOpen) {
  TempDir tmp;
  const std::string source = tmp.path("small.tsr");
  {
    auto c = Container::create(source);
    ASSERT_OK(c.status());
  }
  const std::string small = read_file(source);
  const std::string mnt = tmp.path("mnt");
  std::filesystem::create_directory(mnt);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::string report;
    const auto finish = [&](int code) {
      (void)!::write(pipe_fds[1], report.data(), report.size());
      ::_exit(code);
    };
    // Mounts made private where "/" is a mount point (not in a chroot, where only the tmpfs can
    // be had); the tmpfs is unmounted by this process whatever becomes of the one that fills
    // it, so that it never outlives the test where mounts propagate.
    if (::unshare(CLONE_NEWNS) != 0) {
      report = std::string("no mount namespace of our own here: ") + std::strerror(errno);
      finish(77);
    }
    (void)::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) {
      report = std::string("no tmpfs of our own here: ") + std::strerror(errno);
      finish(77);
    }
    const pid_t filler_pid = ::fork();
    if (filler_pid == 0) {
      full_disk_open(mnt, small, &report);
      finish(0);
    }
    int filled = 0;
    ::waitpid(filler_pid, &filled, 0);
    ::umount2(mnt.c_str(), MNT_DETACH);
    ::_exit(WIFEXITED(filled) ? WEXITSTATUS(filled) : 128 + WTERMSIG(filled));
  }
  ::close(pipe_fds[1]);
  const std::string report = read_all(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) < 128)
      << "the child died of signal " << (WIFEXITED(status) ? WEXITSTATUS(status) - 128 : WTERMSIG(status)) << "\n"
      << report;
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << report;
  EXPECT_NE(report.find("open: no space: " + mnt + "/small.tsr-lock: cannot reserve the lock file's 32768 bytes"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("create: no space"), std::string::npos) << report;
  // What the child wrote before the disk was full, and nothing of the failed open or create
  // (no lock file, no FILE.creating-PID).
  std::set<std::string> left;
  for (size_t at = report.find("left: "); at != std::string::npos; at = report.find("left: ", at + 1))
    left.insert(report.substr(at + 6, report.find('\n', at) - at - 6));
  EXPECT_EQ(left, (std::set<std::string>{"filler", "small.tsr"})) << report;
}

// The pages at the end of the file that are on its free list (from the last one down).
uint64_t trailing_free_pages(const std::string& file) {
  LmdbFile lmdb(file, false);
  EXPECT_NE(lmdb.env(), nullptr) << lmdb.error();
  if (!lmdb.env()) return 0;
  MDB_envinfo info;
  MDB_txn* txn = nullptr;
  MDB_cursor* cursor = nullptr;
  EXPECT_EQ(mdb_env_info(lmdb.env(), &info), 0);
  EXPECT_EQ(mdb_txn_begin(lmdb.env(), nullptr, MDB_RDONLY, &txn), 0);
  EXPECT_EQ(mdb_cursor_open(txn, 0, &cursor), 0);  // the free list
  std::set<uint64_t> free;
  MDB_val key, value;
  while (mdb_cursor_get(cursor, &key, &value, MDB_NEXT) == 0) {
    std::vector<uint64_t> ids(value.mv_size / 8);
    std::memcpy(ids.data(), value.mv_data, ids.size() * 8);
    for (size_t i = 1; i <= ids[0] && i < ids.size(); ++i) free.insert(ids[i]);
  }
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  uint64_t n = 0;
  while (n <= info.me_last_pgno && free.count(info.me_last_pgno - n)) ++n;
  return n;
}

// liblmdb does not write the pages a commit took and gave back (they go on the free list): when
// they are the last ones, the file ends before its last page. Nothing reads those pages, so such
// a file opens, reads and verifies clean, and the next commit extends it. Made here by cutting
// a file whose last pages are free; cut by one page in use more, it is refused.
TEST(DamagedFileTest, AFileEndingInFreePagesIsSound) {
  TempDir tmp;
  const std::string file = tmp.path("short.tsr");
  const Region r{0, 0, 256, 256};
  std::vector<uint8_t> pixels(size_t(r.pixel_count()) * 3);
  {
    ImageSpec spec;
    spec.bands = 3;
    spec.tile_size = 64;
    ASSERT_OK_AND_ASSIGN(auto c, Container::create(file));
    ASSERT_OK(c.write([&](WriteTxn& t) { return t.create_image("img", spec); }));
    // Rewrites that free chunks near the end of the file, the last one of half the tiles.
    Rng rng(3);
    for (int round = 0; round < 4; ++round) {
      rng.fill(pixels.data(), pixels.size());
      ASSERT_OK(c.write([&](WriteTxn& t) { return t.write("img", r, Selection{}, pixels.data(), pixels.size()); }));
    }
    std::vector<uint8_t> fill(pixels.size(), 0);
    ASSERT_OK(c.write([&](WriteTxn& t) { return t.write("img", Region{0, 0, 128, 256}, Selection{}, fill.data(), fill.size() / 2); }));
  }
  const std::string intact = read_file(file);
  const uint64_t cut = trailing_free_pages(file);
  ASSERT_GT(cut, 0u) << "the file's last pages are in use: nothing to cut";
  ASSERT_LT(cut * 4096, intact.size());
  std::vector<uint8_t> expected(pixels.size());
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(file));
    ASSERT_OK_AND_ASSIGN(auto snapshot, c.snapshot());
    ASSERT_OK(snapshot.read("img", r, Selection{}, expected.data(), expected.size()));
  }
  write_file(file, intact.substr(0, intact.size() - cut * 4096));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(file));
    ASSERT_OK_AND_ASSIGN(auto snapshot, c.snapshot());
    std::vector<uint8_t> back(pixels.size());
    ASSERT_OK(snapshot.read("img", r, Selection{}, back.data(), back.size()));
    EXPECT_EQ(back, expected);
  }
  expect_verifies(file);
  {
    ASSERT_OK_AND_ASSIGN(auto c, Container::open(file));
    ASSERT_OK(c.write([&](WriteTxn& t) { return t.set_attribute("img", "note", std::string("extended")); }));
  }
  EXPECT_GE(std::filesystem::file_size(file), intact.size() - cut * 4096);
  expect_verifies(file);
  // Cut by one page in use more: refused.
  write_file(file, intact.substr(0, intact.size() - (cut + 1) * 4096));
  EXPECT_EQ(Container::open(file).status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace tessera::test
