// SharedTileCache — an opt-in cache of decoded tiles in POSIX shared memory that the reader
// processes of one host share (decoded tiles keyed as cache/cache_keys.h says, so
// duplicate tiles anywhere share one entry).
//
// Layout. One named segment (Boost.Interprocess shared_memory_object + mapped_region): a
// header (magic, version, geometry), then `slot_count` slot descriptors of one cache line
// each, then `slot_count` data slots of `slot_bytes` (rounded up to 64). The slots form a
// set-associative table: the key's hash picks a set of kWays slots. Nothing is ever
// allocated inside the segment, so there is no allocator whose lock a dead process could hold.
//
// No locks. Every slot carries a 64-bit state word (sequence << 32 | writer pid), a seqlock:
//   - put() claims a victim slot by one CAS of its state from (even seq, 0) to (odd seq, own
//     pid), writes key, size and bytes, and publishes (seq + 1, 0) with a release store. If
//     every slot of the set is being written by someone else, the tile is simply not cached:
//     put() never waits for another thread or process.
//   - get() reads the state (even), the key, the size and the bytes, then re-reads the state:
//     if it changed (a writer came in between), the copy is discarded and the get is a miss.
//     The bytes are copied with memcpy while a writer may be changing them: that race is
//     inherent in a seqlock and harmless because the re-check rejects the copy (the code is
//     clean under AddressSanitizer and UBSan; ThreadSanitizer would report it). Key and size
//     are relaxed atomics.
//
// What survives a process death. A process killed anywhere (SIGKILL included) leaves at most
// the slots it was writing in the odd "being written" state, tagged with its pid. Readers
// never return such a slot (it is odd). A later put() into the same set that finds an odd
// slot whose writer no longer exists (kill(pid, 0) fails with ESRCH) takes it over with a
// CAS and reuses it (Stats::stale_recovered). Every other slot stays valid; the segment
// itself lives until remove() and the last unmap, whoever dies. Rules that follow:
//   - all processes sharing a cache must see one another's pids (one PID namespace);
//   - a killed process that is a zombie (not yet reaped) still counts as alive: its slot is
//     recovered once its parent has waited for it;
//   - if the pid is reused by a new process before recovery, the slot stays unused until that
//     process exits too (one slot lost for a while, never wrong bytes). There is no timeout:
//     a live writer that is merely slow is never overrun.
//
// What a hit costs: hashing the key to a set, one cache line per way scanned until the key is
// found (at most kWays), one memcpy of the tile from shared memory, and no write to shared
// memory except an occasional relaxed store of the slot's recency stamp. A miss costs the
// scan. A put costs the scan, one CAS, the memcpy into the slot and one store.
//
// Sizing. `bytes` is the whole segment: open() fits as many slots as it can (a multiple of
// kWays, at least one set) and never maps more than `bytes`. Memory is reserved when the
// segment is created (posix_fallocate), so a full /dev/shm gives an error at open() instead of
// SIGBUS later. Tiles larger than `slot_bytes` are not cached. Eviction is approximately LRU
// within a set: an empty slot first, else the one with the oldest stamp (the stamp is the
// segment's put clock at the last put or, refreshed lazily, hit).
//
// Opening rules. The process that finds no segment creates it with the caller's `bytes` and
// `slot_bytes`; later openers use the existing geometry whatever they pass. A segment with
// another magic or layout version is refused (kUnsupported: remove() it). The creator writes
// its pid into the header before reserving the memory and the magic last; an opener waits for
// the magic while that creator lives (at most a minute: then kBusy), and removes and creates
// the segment again when, one second on, the creator is gone or left no pid (it died while
// creating). Two openers racing on an abandoned segment may end up on two segments: both
// work, the cache is just not shared between them until they reopen.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "format/keys.h"
#include "tessera/status.h"

namespace boost::interprocess {
class shared_memory_object;
class mapped_region;
}  // namespace boost::interprocess

namespace tessera::detail {

class SharedTileCache {
 public:
  static constexpr uint32_t kWays = 8;  // slots per set

  // Opens the cache segment `name` (a POSIX shared memory name, e.g. "/tessera-cache-<user>"),
  // creating it with `bytes` of capacity (slots of `slot_bytes` each: tiles larger than that
  // are not cached) when it does not exist. Several processes open the same name and share it.
  static Result<std::unique_ptr<SharedTileCache>> open(const std::string& name, uint64_t bytes,
                                                       uint32_t slot_bytes);
  // Removes the segment name (processes that have it mapped keep using it). kNotFound if there
  // is no such segment.
  static Status remove(const std::string& name);

  ~SharedTileCache();
  SharedTileCache(const SharedTileCache&) = delete;
  SharedTileCache& operator=(const SharedTileCache&) = delete;

  // Copies the decoded tile cached under `key` into `out` (exactly `size` bytes): true on a
  // hit. An entry of another size is a miss. Thread-safe; never blocks.
  bool get(const ChunkKey& key, uint8_t* out, size_t size);
  // Caches a decoded tile (replacing some older entry of its set); never blocks on another
  // thread or process. Does nothing if the tile is larger than a slot, empty, already cached,
  // or if every slot of its set is being written at that moment.
  void put(const ChunkKey& key, const uint8_t* data, size_t size);

  struct Stats {
    uint64_t hits = 0, misses = 0;  // get() results of this handle
    uint64_t puts = 0;              // tiles this handle stored
    uint64_t skipped = 0;           // put() calls that stored nothing (too large, present, busy)
    uint64_t slots = 0;             // slots in the segment
    uint64_t stale_recovered = 0;   // abandoned slots of dead writers this handle took over
  };
  Stats stats() const;

  uint32_t slot_bytes() const { return slot_bytes_; }
  uint64_t segment_bytes() const;
  // Slots currently left "being written" by a writer that no longer exists (a scan of every
  // slot and one kill(pid, 0) per odd slot: for tests and tools, not for the read path).
  uint64_t abandoned_slots() const;

 private:
  struct Header;
  struct SlotMeta;
  SharedTileCache() = default;

  static Result<std::unique_ptr<SharedTileCache>> try_create(const std::string& name,
                                                            uint64_t bytes, uint32_t slot_bytes);
  static Result<std::unique_ptr<SharedTileCache>> try_open(const std::string& name, bool* retry);
  Status attach(const std::string& name);  // validates the header, sets the pointers below
  uint64_t set_of(const ChunkKey& key) const;
  uint8_t* data_of(uint64_t slot) const;

  std::string name_;
  std::unique_ptr<boost::interprocess::shared_memory_object> shm_;
  std::unique_ptr<boost::interprocess::mapped_region> region_;
  Header* header_ = nullptr;
  SlotMeta* metas_ = nullptr;
  uint8_t* data_ = nullptr;
  uint64_t slot_count_ = 0, set_count_ = 0;
  uint32_t slot_bytes_ = 0, slot_stride_ = 0;

  // Per-handle counters (relaxed).
  std::atomic<uint64_t> hits_{0}, misses_{0}, puts_{0}, skipped_{0}, stale_recovered_{0};
};

}  // namespace tessera::detail
