// proc_test.cc — transactions across threads and real processes (tessera_test_child, see
// tests/proc/child.cc): snapshot consistency under a committing writer, kill -9 of a writer
// at random moments, map growth followed by another process, the write lock and its wait
// limit, a full disk (RLIMIT_FSIZE) and a capped map, long-lived readers and stale reader
// slots.
//
// Soak: TESSERA_SOAK_KILLS (default 200) kills in the crash loop; TESSERA_SOAK_SECONDS
// (default 0: 500 commits) makes the multi-process reader test commit for that long.
// scripts/soak.sh sets both.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "proc/child_process.h"
#include "proc/counter_image.h"
#include "proc/file_soundness.h"
#include "tessera/container.h"
#include "test_util.h"

namespace tessera::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::strtoull(text, nullptr, 10) : fallback;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::unique_ptr<ChildProcess> start_child(const std::vector<std::string>& args) {
  return std::make_unique<ChildProcess>(TESSERA_TEST_CHILD_PATH, args);
}

// The pids of the reader slots in the lock file, read with raw LMDB (no mdb_reader_check).
std::vector<int64_t> raw_reader_pids(const std::string& file) {
  std::vector<int64_t> pids;
  LmdbFile lmdb(file, false);
  if (!lmdb.env()) {
    ADD_FAILURE() << lmdb.error();
    return pids;
  }
  mdb_reader_list(
      lmdb.env(),
      [](const char* line, void* context) -> int {
        long long pid = 0;
        unsigned long long thread = 0, txnid = 0;
        if (std::sscanf(line, "%lld %llx %llu", &pid, &thread, &txnid) == 3)
          static_cast<std::vector<int64_t>*>(context)->push_back(pid);
        return 0;
      },
      &pids);
  return pids;
}

bool lists_pid(const ReaderReport& report, int64_t pid) {
  for (const OpenReader& reader : report.readers)
    if (reader.pid == pid) return true;
  return false;
}

class ProcTest : public TempDirTest {
 protected:
  std::string file() const { return path("p.tsr"); }
};

// Four reader processes and two reader threads take snapshot after snapshot while one writer
// commits: each snapshot shows one counter over the whole region (three writes per commit),
// and no reader ever sees a counter go back.
TEST_F(ProcTest, SnapshotsStayConsistentAcrossProcessesAndThreads) {
  const uint64_t soak_seconds = env_number("TESSERA_SOAK_SECONDS", 0);
  const uint64_t min_commits = 500;
  ASSERT_OK(counter::create(file()));
  std::vector<std::unique_ptr<ChildProcess>> readers;
  for (int i = 0; i < 4; ++i) {
    // A short pause between snapshots leaves the writer some of a small machine's cores.
    readers.push_back(start_child({"reader", file(), "0", "1000"}));
    ASSERT_TRUE(readers.back()->ok()) << readers.back()->error();
  }
  for (auto& reader : readers) ASSERT_EQ(reader->read_line(), "ready");

  OpenOptions options;
  options.sync = false;  // a process crash cannot lose commits; this test kills nothing
  ASSERT_OK_AND_ASSIGN(Container container, Container::open(file(), options));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> final_counter{0};
  struct ThreadResult {
    uint64_t snapshots = 0, counters = 0;
    std::string error;
  };
  std::vector<ThreadResult> results(2);
  std::vector<std::thread> threads;
  for (auto& result : results)
    threads.emplace_back([&container, &done, &final_counter, &result] {
      uint64_t last = 0;
      for (;;) {
        const bool finishing = done.load();
        auto snapshot = container.snapshot();
        if (!snapshot) {
          result.error = snapshot.status().to_string();
          return;
        }
        auto c = counter::read(*snapshot);
        if (!c) {
          result.error = c.status().to_string();
          return;
        }
        if (*c < last) {
          result.error = "counter went back from " + std::to_string(last) + " to " +
                         std::to_string(*c);
          return;
        }
        result.counters += *c != last;
        last = *c;
        ++result.snapshots;
        std::this_thread::sleep_for(1ms);
        if (finishing) {
          if (last != final_counter)
            result.error = "last snapshot shows " + std::to_string(last) + ", expected " +
                           std::to_string(final_counter.load());
          return;
        }
      }
    });

  const auto start = Clock::now();
  uint64_t c = 1;
  Status s;
  while (s.is_ok()) {
    s = container.write([&](WriteTxn& txn) { return counter::write(txn, c + 1); });
    if (s.is_ok()) ++c;
    if (c > min_commits && Clock::now() - start >= std::chrono::seconds(soak_seconds)) break;
  }
  final_counter = c;
  done = true;
  for (auto& thread : threads) thread.join();
  EXPECT_OK(s);

  uint64_t total_snapshots = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].error, "") << "reader thread " << i;
    EXPECT_GT(results[i].counters, 1u) << "reader thread " << i << " saw no commit happen";
    total_snapshots += results[i].snapshots;
  }
  for (size_t i = 0; i < readers.size(); ++i) {
    readers[i]->write_stdin(std::to_string(c));
    readers[i]->close_stdin();
    const auto line = readers[i]->read_line();
    EXPECT_EQ(readers[i]->exit_code(), 0) << "reader process " << i;
    ASSERT_TRUE(line.has_value()) << "reader process " << i << " said nothing";
    unsigned long long snapshots = 0, counters = 0;
    EXPECT_EQ(std::sscanf(line->c_str(), "snapshots %llu counters %llu", &snapshots, &counters), 2)
        << *line;
    EXPECT_GT(counters, 1u) << "reader process " << i << " saw no commit happen";
    total_snapshots += snapshots;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "[ summary  ] " << c - 1 << " commits in " << seconds << " s; " << total_snapshots
            << " consistent snapshots in 4 processes and 2 threads\n";
  EXPECT_EQ(check_file_sound(file()), "");
}

// A writer process committing in a loop is killed with SIGKILL at random moments. After
// each kill the file opens, shows the last acknowledged commit or the one in flight, has
// consistent reference counts, and the killed process's reader slot is gone.
TEST_F(ProcTest, KilledWriterLeavesLastAcknowledgedCommit) {
  const uint64_t kills = env_number("TESSERA_SOAK_KILLS", 200);
  ASSERT_OK(counter::create(file()));
  // Keeps the lock file in use: otherwise the first process to open it after a kill resets
  // the reader table, and the stale slots would never need clearing.
  auto keeper = start_child({"keep-open", file()});
  ASSERT_TRUE(keeper->ok()) << keeper->error();
  ASSERT_EQ(keeper->read_line(), "ready");

  Rng rng(0x5EED0005);
  uint64_t known = 1, acked = 0, in_flight = 0, before_first_ack = 0, stale_slots = 0;
  const auto start = Clock::now();
  for (uint64_t round = 0; round < kills; ++round) {
    const bool hold_snapshot = round % 2 == 1;
    const bool sync = round % 4 < 2;  // a kill of the process loses no commit either way
    ChildProcess writer(TESSERA_TEST_CHILD_PATH, {"writer", file(), "0", sync ? "1" : "0",
                                                  hold_snapshot ? "1" : "0"});
    ASSERT_TRUE(writer.ok()) << writer.error();
    uint64_t last_ack = 0;
    bool any_ack = false;
    if (rng.chance(0.2)) {  // anywhere, opening included
      std::this_thread::sleep_for(std::chrono::microseconds(rng.uniform(0, 30000)));
    } else {  // in the middle of the commit loop
      const int64_t wait_acks = rng.uniform(1, 6);
      for (int64_t i = 0; i < wait_acks; ++i) {
        auto line = writer.read_line(20s);
        if (!line) break;
        last_ack = std::stoull(*line);
        any_ack = true;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(rng.uniform(0, 3000)));
    }
    writer.kill(SIGKILL);
    const int code = writer.exit_code();
    for (const std::string& line : writer.read_all_lines()) {
      last_ack = std::stoull(line);
      any_ack = true;
    }
    ASSERT_EQ(code, 128 + SIGKILL) << "round " << round << ": the writer ended by itself";
    if (any_ack) ++acked;
    else ++before_first_ack;

    for (int64_t pid : raw_reader_pids(file())) stale_slots += pid == writer.pid();
    const uint64_t base = any_ack ? last_ack : known;
    {
      ASSERT_OK_AND_ASSIGN(Container container, Container::open(file()));
      ASSERT_OK_AND_ASSIGN(ReaderReport report, container.readers());
      ASSERT_FALSE(lists_pid(report, writer.pid()))
          << "round " << round << ": the killed writer's reader slot was not cleared";
      ASSERT_OK_AND_ASSIGN(Snapshot snapshot, container.snapshot());
      ASSERT_OK_AND_ASSIGN(uint64_t now, counter::read(snapshot));
      ASSERT_TRUE(now == base || now == base + 1)
          << "round " << round << ": the file shows counter " << now << ", the last "
          << (any_ack ? "acknowledged" : "known") << " commit was " << base;
      in_flight += now == base + 1;
      known = now;
    }
    ASSERT_EQ(check_file_sound(file()), "") << "round " << round;
  }
  keeper->close_stdin();
  EXPECT_EQ(keeper->exit_code(), 0);
  EXPECT_GT(stale_slots, 0u) << "no killed writer left a reader slot: the clearing went untested";
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "[ summary  ] " << kills << " kills in " << seconds << " s: " << acked
            << " after acknowledged commits, " << before_first_ack
            << " before the first; the commit in flight had landed " << in_flight
            << " times; " << stale_slots << " stale reader slots cleared; last counter " << known
            << "\n";
}

// A reader process opened on a tiny map keeps reading while the writer grows the map twice.
TEST_F(ProcTest, MapGrowthIsFollowedByAReaderProcess) {
  OpenOptions tiny;
  tiny.map_size = 1 << 20;
  tiny.sync = false;
  ASSERT_OK(counter::create(file(), tiny));
  auto reader = start_child({"reader", file(), std::to_string(1 << 20), "2000"});
  ASSERT_TRUE(reader->ok()) << reader->error();
  ASSERT_EQ(reader->read_line(), "ready");
  uint64_t c = 1;
  {
    ASSERT_OK_AND_ASSIGN(Container container, Container::open(file(), tiny));
    // 1 MiB per commit: the map grows from 1 MiB to 64 MiB, then to 128 MiB past 48 MiB.
    for (; c < 56; ++c) ASSERT_OK(counter::write_with_bulk(container, c + 1, 1024));
  }
  struct stat st;
  ASSERT_EQ(::stat(file().c_str(), &st), 0);
  EXPECT_GT(uint64_t(st.st_size), uint64_t(48) << 20) << "the map did not have to grow twice";
  reader->write_stdin(std::to_string(c));
  reader->close_stdin();
  const auto line = reader->read_line();
  EXPECT_EQ(reader->exit_code(), 0);
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(contains(*line, "snapshots ")) << *line;
  // A writer process that opened before the growth follows it too.
  auto writer = start_child({"write-once", file(), "-1"});
  EXPECT_EQ(writer->read_line(), "committed " + std::to_string(c + 1));
  EXPECT_EQ(writer->exit_code(), 0);
  EXPECT_EQ(check_file_sound(file()), "");
}

// A second writer process waits for the first; with a wait limit it fails with kBusy naming
// the file and the time waited; a killed lock holder frees the lock; nothing is corrupted.
TEST_F(ProcTest, SecondWriterProcessWaitsOrTimesOut) {
  ASSERT_OK(counter::create(file()));
  auto holder = start_child({"hold-write", file()});
  ASSERT_EQ(holder->read_line(), "ready");

  auto impatient = start_child({"write-once", file(), "300"});
  const auto busy = impatient->read_line();
  EXPECT_EQ(impatient->exit_code(), 4);
  ASSERT_TRUE(busy.has_value());
  long waited = -1;
  EXPECT_EQ(std::sscanf(busy->c_str(), "busy %ld", &waited), 1) << *busy;
  EXPECT_GE(waited, 300) << *busy;
  EXPECT_TRUE(contains(*busy, "busy: " + file() + ": another writer holds the write lock (waited"))
      << *busy;

  auto patient = start_child({"write-once", file(), "-1"});
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(patient->running()) << "the second writer did not wait";
  holder->close_stdin();
  EXPECT_EQ(holder->read_line(), "committed 2");
  EXPECT_EQ(holder->exit_code(), 0);
  EXPECT_EQ(patient->read_line(), "committed 3");
  EXPECT_EQ(patient->exit_code(), 0);

  auto doomed = start_child({"hold-write", file()});
  ASSERT_EQ(doomed->read_line(), "ready");
  doomed->kill(SIGKILL);
  EXPECT_EQ(doomed->exit_code(), 128 + SIGKILL);
  auto after = start_child({"write-once", file(), "5000"});
  EXPECT_EQ(after->read_line(), "committed 4") << "the killed holder's write was not dropped";
  EXPECT_EQ(after->exit_code(), 0);

  EXPECT_EQ(counter::read_file(file()).value(), 4u);
  EXPECT_EQ(check_file_sound(file()), "");
}

// Inside one process: another thread, and another Container of the same file, wait for the
// write lock up to write_wait.
TEST_F(ProcTest, SecondWriterInProcessTimesOut) {
  ASSERT_OK(counter::create(file()));
  OpenOptions options;
  options.write_wait = 100ms;
  ASSERT_OK_AND_ASSIGN(Container a, Container::open(file(), options));
  ASSERT_OK_AND_ASSIGN(Container b, Container::open(file(), options));
  ASSERT_OK_AND_ASSIGN(WriteTxn txn, a.begin_write());
  ASSERT_OK(counter::write(txn, 2));

  Status from_thread;
  std::thread other([&] { from_thread = a.begin_write().status(); });
  other.join();
  EXPECT_CODE(from_thread, Code::kBusy);
  EXPECT_TRUE(contains(from_thread.message(), file())) << from_thread.to_string();
  EXPECT_TRUE(contains(from_thread.message(), "waited")) << from_thread.to_string();

  const auto start = Clock::now();
  auto from_b = b.begin_write();
  EXPECT_CODE(from_b, Code::kBusy);
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_CODE(b.write([](WriteTxn&) { return Status::ok(); }), Code::kBusy);

  ASSERT_OK(txn.commit());
  ASSERT_OK(b.write([](WriteTxn& t) { return counter::write(t, 3); }));
  ASSERT_OK_AND_ASSIGN(Snapshot snapshot, a.snapshot());
  EXPECT_EQ(counter::read(snapshot).value(), 3u);
}

// A full disk (the file size limit, EFBIG): the write fails with kNoSpace saying "no space"
// and naming the file, the transaction is aborted, the last commit stays, and once the limit
// is lifted writes succeed again (the checks inside the child: tests/proc/child.cc).
TEST_F(ProcTest, FullDiskFailsCleanlyAndRecovers) {
  ASSERT_OK(counter::create(file()));
  auto child = start_child({"full-disk", file()});
  const std::vector<std::string> lines = child->read_all_lines();
  EXPECT_EQ(child->exit_code(), 0);
  uint64_t acked = 1, after = 0;
  std::string error;
  for (const std::string& line : lines) {
    if (line.rfind("acked ", 0) == 0) acked = std::stoull(line.substr(6));
    if (line.rfind("error ", 0) == 0) error = line.substr(6);
    if (line.rfind("after ", 0) == 0) after = std::stoull(line.substr(6));
  }
  EXPECT_TRUE(contains(error, "no space: " + file() + ": ")) << error;
  EXPECT_TRUE(contains(error, "no space left for the file")) << error;
  EXPECT_EQ(after, acked + 1);
  EXPECT_EQ(counter::read_file(file()).value(), after);
  EXPECT_EQ(check_file_sound(file()), "");
}

// A map that reached OpenOptions::max_map_size: kNoSpace "map size limit N bytes reached",
// the last commit stays; a larger limit lets the write through.
TEST_F(ProcTest, MapSizeLimitFailsCleanly) {
  OpenOptions capped;
  capped.sync = false;
  capped.map_size = 1 << 20;
  capped.max_map_size = 4 << 20;
  ASSERT_OK(counter::create(file(), capped));
  uint64_t c = 1;
  Status s;
  {
    ASSERT_OK_AND_ASSIGN(Container container, Container::open(file(), capped));
    for (int i = 0; i < 200 && s.is_ok(); ++i) {
      s = counter::write_with_bulk(container, c + 1, 256);
      if (s.is_ok()) ++c;
    }
    EXPECT_CODE(s, Code::kNoSpace);
    EXPECT_TRUE(contains(s.message(), file() + ": ")) << s.to_string();
    EXPECT_TRUE(contains(s.message(), "map size limit 4194304 bytes reached")) << s.to_string();
    EXPECT_GT(c, 10u) << "the map did not grow up to its limit";
    ASSERT_OK_AND_ASSIGN(Snapshot snapshot, container.snapshot());
    EXPECT_EQ(counter::read(snapshot).value(), c);
  }
  EXPECT_EQ(counter::read_file(file(), capped).value(), c);
  OpenOptions larger = capped;
  larger.max_map_size = 64 << 20;
  {
    ASSERT_OK_AND_ASSIGN(Container container, Container::open(file(), larger));
    ASSERT_OK(counter::write_with_bulk(container, c + 1, 256));
  }
  EXPECT_EQ(counter::read_file(file()).value(), c + 1);
  EXPECT_EQ(check_file_sound(file()), "");
}

// A snapshot held by another process while the writer commits: begin_write warns through
// on_reader_lag, Container::readers() and `tessera info` report it, and once its process is
// killed its stale slot is cleared by the next process that opens the file.
TEST_F(ProcTest, LongLivedReaderIsReported) {
  ASSERT_OK(counter::create(file()));
  auto holder = start_child({"hold-snapshot", file()});
  ASSERT_EQ(holder->read_line(), "ready 1");

  OpenOptions options;
  options.sync = false;
  options.reader_lag_limit = 20;
  std::vector<ReaderReport> warnings;
  options.on_reader_lag = [&](const ReaderReport& report) { warnings.push_back(report); };
  ASSERT_OK_AND_ASSIGN(Container container, Container::open(file(), options));
  const uint64_t commits = 120;
  for (uint64_t c = 2; c < 2 + commits; ++c)
    ASSERT_OK(container.write([&](WriteTxn& txn) { return counter::write(txn, c); }));

  // Warned before every commit once the snapshot was more than 20 commits old.
  EXPECT_EQ(warnings.size(), commits - 21);
  ASSERT_FALSE(warnings.empty());
  ASSERT_NE(warnings.front().oldest(), nullptr);
  EXPECT_EQ(warnings.front().oldest()->pid, holder->pid());
  EXPECT_EQ(warnings.front().oldest()->age, 21u);
  EXPECT_TRUE(contains(warnings.back().warning(),
                       "the snapshot of process " + std::to_string(holder->pid()) + " is " +
                           std::to_string(commits - 1) + " commits old and keeps "))
      << warnings.back().warning();

  ASSERT_OK_AND_ASSIGN(ReaderReport report, container.readers());
  ASSERT_NE(report.oldest(), nullptr);
  EXPECT_EQ(report.oldest()->pid, holder->pid());
  EXPECT_EQ(report.oldest()->age, commits);
  EXPECT_GT(report.pinned_pages, uint64_t(commits) * 4) << "each commit frees its chunks' pages";
  EXPECT_EQ(report.page_size, 4096u);
  EXPECT_TRUE(report.lagging(100));

  {  // tessera info: a warning line, and the "readers" field in --json
    ChildProcess info(TESSERA_CLI_PATH, {"info", file()});
    const std::vector<std::string> lines = info.read_all_lines();
    EXPECT_EQ(info.exit_code(), 0);
    bool warned = false;
    for (const std::string& line : lines)
      warned |= line.rfind("warning: the snapshot of process " + std::to_string(holder->pid()), 0) == 0;
    EXPECT_TRUE(warned) << "no warning line in tessera info's output";
    ChildProcess json(TESSERA_CLI_PATH, {"info", file(), "--json"});
    std::string text;
    for (const std::string& line : json.read_all_lines()) text += line + "\n";
    EXPECT_EQ(json.exit_code(), 0);
    const auto j = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << text;
    ASSERT_TRUE(j.contains("readers")) << text;
    EXPECT_EQ(j["readers"]["oldest"]["pid"], holder->pid());
    EXPECT_EQ(j["readers"]["oldest"]["age_commits"], commits);
    EXPECT_TRUE(j["readers"]["warning"].is_string());
  }

  holder->kill(SIGKILL);
  EXPECT_EQ(holder->exit_code(), 128 + SIGKILL);
  ASSERT_OK_AND_ASSIGN(ReaderReport stale, container.readers());
  EXPECT_TRUE(lists_pid(stale, holder->pid())) << "the slot of the killed reader went unseen";
  auto opener = start_child({"write-once", file(), "-1"});  // opening clears dead slots
  EXPECT_EQ(opener->read_line(), "committed " + std::to_string(commits + 2));
  EXPECT_EQ(opener->exit_code(), 0);
  ASSERT_OK_AND_ASSIGN(ReaderReport cleared, container.readers());
  EXPECT_FALSE(lists_pid(cleared, holder->pid()));
  EXPECT_FALSE(cleared.lagging(0));
}

}  // namespace
}  // namespace tessera::test
