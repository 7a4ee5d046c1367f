// SharedTileCache: the segment layout, opening and validation, and the lock-free slot protocol
// (see shared_tile_cache.h). Nothing here may wait on another process: a put that cannot
// claim a slot at once gives up, and a get that sees a writer reports a miss.
#include "cache/shared_tile_cache.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>

#include "util/posix_file.h"

namespace tessera::detail {

namespace bip = boost::interprocess;

namespace {

constexpr uint64_t kMagic = 0x3145484341435354ull;  // "TSCACHE1" little-endian
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 4096;
constexpr uint64_t kLine = 64;
constexpr uint32_t kMaxSlotBytes = 1u << 30;
// An opener waits this long for a creator that left no pid (it died before writing one) or
// whose pid is gone, and at most kInitLimit for a live one (posix_fallocate of a large segment).
constexpr auto kInitWait = std::chrono::seconds(1);
constexpr auto kInitLimit = std::chrono::seconds(60);

static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "the shared cache needs lock-free 64-bit atomics (address-free across processes)");

// The state word: sequence (high 32 bits, odd while the slot is being written) | writer pid.
constexpr uint64_t seq_of(uint64_t state) { return state >> 32; }
constexpr bool writing(uint64_t state) { return (seq_of(state) & 1) != 0; }
constexpr uint32_t pid_of(uint64_t state) { return uint32_t(state); }
constexpr uint64_t make_state(uint64_t seq, uint32_t pid) { return (seq << 32) | pid; }

// The part of the key and the size kept in one word: size | collision byte << 32 | valid bit.
constexpr uint64_t kValid = 1ull << 40;
uint64_t tail_of(const ChunkKey& key, size_t size) {
  return uint64_t(size) | uint64_t(key[16]) << 32 | kValid;
}
uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

uint64_t fmix64(uint64_t h) {  // MurmurHash3's finaliser
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

bool process_exists(uint32_t pid) {
  if (pid == 0) return true;  // not a pid we could judge: leave the slot alone
  return ::kill(pid_t(pid), 0) == 0 || errno != ESRCH;
}

std::string ipc_message(const bip::interprocess_exception& e) { return e.what(); }

}  // namespace

struct alignas(kLine) SharedTileCache::Header {
  std::atomic<uint64_t> magic;  // stored last by the creator (release): the rest is then valid
  uint32_t version;
  uint32_t ways;
  uint32_t slot_bytes;
  uint32_t slot_stride;
  uint64_t slot_count;
  uint64_t segment_bytes;
  uint64_t meta_offset;
  uint64_t data_offset;
  std::atomic<int32_t> creator_pid;  // stored first: openers can tell a slow creator from a dead one
  alignas(kLine) std::atomic<uint64_t> clock;  // advanced by every put: recency stamps
};

struct alignas(kLine) SharedTileCache::SlotMeta {
  std::atomic<uint64_t> state;   // seqlock word, see make_state()
  std::atomic<uint64_t> key_lo;  // key bytes 0..7
  std::atomic<uint64_t> key_hi;  // key bytes 8..15
  std::atomic<uint64_t> tail;    // size | key byte 16 | valid; 0 for an empty slot
  std::atomic<uint64_t> stamp;   // clock at the last put or (lazily) hit
};

SharedTileCache::~SharedTileCache() = default;

uint64_t SharedTileCache::segment_bytes() const { return header_->segment_bytes; }

uint8_t* SharedTileCache::data_of(uint64_t slot) const { return data_ + slot * slot_stride_; }

uint64_t SharedTileCache::set_of(const ChunkKey& key) const {
  // The key is already a hash; mixing both halves keeps structured keys (tests, tools) spread.
  const uint64_t hi = load64(key.data() + 8) + (uint64_t(key[16]) << 56);
  const uint64_t h = fmix64(load64(key.data()) ^ fmix64(hi + 0x9e3779b97f4a7c15ull));
  return uint64_t((unsigned __int128)h * set_count_ >> 64);
}

Result<std::unique_ptr<SharedTileCache>> SharedTileCache::try_create(const std::string& name,
                                                                    uint64_t bytes,
                                                                    uint32_t slot_bytes) {
  const uint64_t stride = (uint64_t(slot_bytes) + kLine - 1) / kLine * kLine;
  const uint64_t per_slot = kLine + stride;
  const uint64_t fit = bytes > kHeaderBytes ? (bytes - kHeaderBytes) / per_slot : 0;
  const uint64_t slots = fit / kWays * kWays;
  if (slots == 0)
    return Status(Code::kInvalidArgument,
                  "shared tile cache " + name + ": " + std::to_string(bytes) +
                      " bytes hold no set of " + std::to_string(kWays) + " slots of " +
                      std::to_string(slot_bytes) + " bytes (at least " +
                      std::to_string(kHeaderBytes + kWays * per_slot) + " needed)");
  const uint64_t used = kHeaderBytes + slots * per_slot;

  auto cache = std::unique_ptr<SharedTileCache>(new SharedTileCache());
  try {
    cache->shm_ = std::make_unique<bip::shared_memory_object>(bip::create_only, name.c_str(),
                                                              bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::already_exists_error)
      return Status(Code::kAlreadyExists, "shared tile cache " + name + ": exists");
    return Status(Code::kIoError, "shared tile cache " + name + ": create: " + ipc_message(e));
  }
  try {
    cache->shm_->truncate(bip::offset_t(used));
    // Reserve the memory now: a full /dev/shm must fail here, not SIGBUS a reader later. The
    // header page first, to publish our pid in it before the (possibly long) rest.
    const int fd = cache->shm_->get_mapping_handle().handle;
    int err = ::posix_fallocate(fd, 0, off_t(kHeaderBytes));
    if (err == 0) {
      cache->region_ = std::make_unique<bip::mapped_region>(*cache->shm_, bip::read_write);
      auto* header = new (cache->region_->get_address()) Header{};
      header->creator_pid.store(int32_t(::getpid()), std::memory_order_release);
      err = ::posix_fallocate(fd, 0, off_t(used));
    }
    if (err != 0) {
      bip::shared_memory_object::remove(name.c_str());
      return os_error("shared tile cache " + name, "reserving " + std::to_string(used) + " bytes",
                      err);
    }
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(name.c_str());
    return Status(Code::kIoError, "shared tile cache " + name + ": size/map: " + ipc_message(e));
  }

  auto* base = static_cast<uint8_t*>(cache->region_->get_address());
  auto* header = static_cast<Header*>(cache->region_->get_address());
  header->version = kVersion;
  header->ways = kWays;
  header->slot_bytes = slot_bytes;
  header->slot_stride = uint32_t(stride);
  header->slot_count = slots;
  header->segment_bytes = used;
  header->meta_offset = kHeaderBytes;
  header->data_offset = kHeaderBytes + slots * kLine;
  for (uint64_t i = 0; i < slots; ++i) new (base + kHeaderBytes + i * kLine) SlotMeta{};
  header->magic.store(kMagic, std::memory_order_release);

  TESSERA_RETURN_IF_ERROR(cache->attach(name));
  return cache;
}

Result<std::unique_ptr<SharedTileCache>> SharedTileCache::try_open(const std::string& name,
                                                                  bool* retry) {
  *retry = false;
  auto cache = std::unique_ptr<SharedTileCache>(new SharedTileCache());
  try {
    cache->shm_ = std::make_unique<bip::shared_memory_object>(bip::open_only, name.c_str(),
                                                              bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error)
      return Status(Code::kNotFound, "shared tile cache " + name + ": not found");
    return Status(Code::kIoError, "shared tile cache " + name + ": open: " + ipc_message(e));
  }
  // The creator sizes the segment, stores its pid, reserves the memory, and stores the magic
  // last: wait for it while it lives (up to kInitLimit), else kInitWait.
  const auto start = std::chrono::steady_clock::now();
  uint32_t creator = 0;
  try {
    for (;;) {
      bip::offset_t size = 0;
      if (!cache->shm_->get_size(size))
        return Status(Code::kIoError, "shared tile cache " + name + ": cannot stat");
      if (uint64_t(size) >= kHeaderBytes) {
        if (!cache->region_)
          cache->region_ = std::make_unique<bip::mapped_region>(*cache->shm_, bip::read_write);
        auto* header = static_cast<Header*>(cache->region_->get_address());
        if (header->magic.load(std::memory_order_acquire) != 0) break;
        creator = uint32_t(header->creator_pid.load(std::memory_order_acquire));
      }
      const auto waited = std::chrono::steady_clock::now() - start;
      if (waited > kInitLimit)
        return Status(Code::kBusy, "shared tile cache " + name + ": process " +
                                       std::to_string(creator) + " has been creating it for " +
                                       std::to_string(kInitLimit.count()) + " s");
      if (waited > kInitWait && (creator == 0 || !process_exists(creator))) {
        // Its creator died half-way: start again from a fresh segment.
        bip::shared_memory_object::remove(name.c_str());
        *retry = true;
        return Status(Code::kBusy, "shared tile cache " + name + ": never initialised");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  } catch (const bip::interprocess_exception& e) {
    return Status(Code::kIoError, "shared tile cache " + name + ": map: " + ipc_message(e));
  }
  TESSERA_RETURN_IF_ERROR(cache->attach(name));
  return cache;
}

Status SharedTileCache::attach(const std::string& name) {
  static_assert(sizeof(Header) <= kHeaderBytes);
  static_assert(sizeof(SlotMeta) == kLine);
  name_ = name;
  const uint64_t mapped = region_->get_size();
  auto* base = static_cast<uint8_t*>(region_->get_address());
  auto* header = reinterpret_cast<Header*>(base);
  const std::string what = "shared tile cache " + name + ": ";
  const uint64_t magic = header->magic.load(std::memory_order_acquire);
  if (magic != kMagic)
    return Status(Code::kUnsupported, what + "not a Tessera cache segment (magic " +
                                          std::to_string(magic) + "): remove it");
  if (header->version != kVersion)
    return Status(Code::kUnsupported, what + "layout version " + std::to_string(header->version) +
                                          ", this build knows " + std::to_string(kVersion) +
                                          ": remove it (tessera cache users must agree)");
  const uint64_t stride = (uint64_t(header->slot_bytes) + kLine - 1) / kLine * kLine;
  const uint64_t slots = header->slot_count;
  const bool sane = header->ways == kWays && header->slot_bytes > 0 &&
                    header->slot_bytes <= kMaxSlotBytes && header->slot_stride == stride &&
                    slots > 0 && slots % kWays == 0 && slots < (1ull << 40) &&
                    header->meta_offset == kHeaderBytes &&
                    header->data_offset == kHeaderBytes + slots * kLine &&
                    header->segment_bytes == header->data_offset + slots * stride &&
                    header->segment_bytes <= mapped;
  if (!sane)
    return Status(Code::kCorrupt, what + "inconsistent header (" + std::to_string(slots) +
                                      " slots of " + std::to_string(header->slot_bytes) +
                                      " bytes in " + std::to_string(mapped) + "): remove it");
  header_ = header;
  metas_ = reinterpret_cast<SlotMeta*>(base + header->meta_offset);
  data_ = base + header->data_offset;
  slot_count_ = slots;
  set_count_ = slots / kWays;
  slot_bytes_ = header->slot_bytes;
  slot_stride_ = uint32_t(stride);
  return Status::ok();
}

Result<std::unique_ptr<SharedTileCache>> SharedTileCache::open(const std::string& name,
                                                              uint64_t bytes,
                                                              uint32_t slot_bytes) {
  if (name.size() < 2 || name[0] != '/' || name.find('/', 1) != std::string::npos)
    return Status(Code::kInvalidArgument,
                  "shared tile cache name '" + name + "': want '/' and a name without '/'");
  if (slot_bytes == 0 || slot_bytes > kMaxSlotBytes)
    return Status(Code::kInvalidArgument, "shared tile cache " + name + ": slot size " +
                                              std::to_string(slot_bytes) + " out of range");
  Status last;
  for (int attempt = 0; attempt < 4; ++attempt) {
    bool retry = false;
    auto opened = try_open(name, &retry);
    if (opened || (!retry && opened.status().code() != Code::kNotFound)) return opened;
    last = opened.status();
    if (retry) continue;
    auto created = try_create(name, bytes, slot_bytes);
    if (created || created.status().code() != Code::kAlreadyExists) return created;
    last = created.status();  // another process created it first: open theirs
  }
  return last;
}

Status SharedTileCache::remove(const std::string& name) {
  try {
    if (bip::shared_memory_object::remove(name.c_str())) return Status::ok();
  } catch (const bip::interprocess_exception& e) {
    return Status(Code::kIoError, "shared tile cache " + name + ": remove: " + ipc_message(e));
  }
  return Status(Code::kNotFound, "shared tile cache " + name + ": not found");
}

bool SharedTileCache::get(const ChunkKey& key, uint8_t* out, size_t size) {
  if (size == 0 || size > slot_bytes_) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const uint64_t lo = load64(key.data()), hi = load64(key.data() + 8), tail = tail_of(key, size);
  const uint64_t first = set_of(key) * kWays;
  for (uint64_t slot = first; slot < first + kWays; ++slot) {
    SlotMeta& meta = metas_[slot];
    const uint64_t before = meta.state.load(std::memory_order_acquire);
    if (writing(before)) continue;
    if (meta.key_lo.load(std::memory_order_relaxed) != lo ||
        meta.key_hi.load(std::memory_order_relaxed) != hi ||
        meta.tail.load(std::memory_order_relaxed) != tail)
      continue;
    // May race with a writer that claimed the slot after `before`: the re-check below
    // rejects such a copy (seqlock read side; see the header).
    std::memcpy(out, data_of(slot), size);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (meta.state.load(std::memory_order_relaxed) != before) break;  // replaced meanwhile
    // Refresh the recency stamp only when it has aged: hits rarely write shared memory.
    const uint64_t now = header_->clock.load(std::memory_order_relaxed);
    if (now - meta.stamp.load(std::memory_order_relaxed) > slot_count_ / 4)
      meta.stamp.store(now, std::memory_order_relaxed);
    hits_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void SharedTileCache::put(const ChunkKey& key, const uint8_t* data, size_t size) {
  if (size == 0 || size > slot_bytes_) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t lo = load64(key.data()), hi = load64(key.data() + 8), tail = tail_of(key, size);
  const uint32_t self = uint32_t(::getpid());
  const uint64_t first = set_of(key) * kWays;

  // Pick a victim: an abandoned slot of a dead writer, else an empty slot, else the oldest.
  uint64_t victim = ~0ull, victim_state = 0, oldest = ~0ull;
  bool stale = false;
  for (uint64_t slot = first; slot < first + kWays; ++slot) {
    SlotMeta& meta = metas_[slot];
    const uint64_t state = meta.state.load(std::memory_order_acquire);
    if (writing(state)) {
      if (!stale && pid_of(state) != self && !process_exists(pid_of(state))) {
        stale = true;
        victim = slot;
        victim_state = state;
      }
      continue;
    }
    if (meta.key_lo.load(std::memory_order_relaxed) == lo &&
        meta.key_hi.load(std::memory_order_relaxed) == hi &&
        meta.tail.load(std::memory_order_relaxed) == tail) {
      skipped_.fetch_add(1, std::memory_order_relaxed);  // already cached
      return;
    }
    if (stale) continue;
    const uint64_t age = meta.tail.load(std::memory_order_relaxed) == 0
                             ? 0
                             : meta.stamp.load(std::memory_order_relaxed) + 1;
    if (age < oldest) {
      oldest = age;
      victim = slot;
      victim_state = state;
    }
  }
  if (victim == ~0ull) {
    skipped_.fetch_add(1, std::memory_order_relaxed);  // every slot busy
    return;
  }
  // Claim: an even slot goes to seq + 1 (odd); an abandoned odd one to seq + 2 (still odd),
  // both tagged with our pid. One attempt: a lost race means someone else is using it.
  SlotMeta& meta = metas_[victim];
  const uint64_t claimed = make_state(seq_of(victim_state) + (stale ? 2 : 1), self);
  if (!meta.state.compare_exchange_strong(victim_state, claimed, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::atomic_thread_fence(std::memory_order_release);
  if (stale) stale_recovered_.fetch_add(1, std::memory_order_relaxed);
  meta.tail.store(0, std::memory_order_relaxed);
  meta.key_lo.store(lo, std::memory_order_relaxed);
  meta.key_hi.store(hi, std::memory_order_relaxed);
  std::memcpy(data_of(victim), data, size);
  meta.tail.store(tail, std::memory_order_relaxed);
  meta.stamp.store(header_->clock.fetch_add(1, std::memory_order_relaxed) + 1,
                   std::memory_order_relaxed);
  meta.state.store(make_state(seq_of(claimed) + 1, 0), std::memory_order_release);
  puts_.fetch_add(1, std::memory_order_relaxed);
}

SharedTileCache::Stats SharedTileCache::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.puts = puts_.load(std::memory_order_relaxed);
  s.skipped = skipped_.load(std::memory_order_relaxed);
  s.slots = slot_count_;
  s.stale_recovered = stale_recovered_.load(std::memory_order_relaxed);
  return s;
}

uint64_t SharedTileCache::abandoned_slots() const {
  const uint32_t self = uint32_t(::getpid());
  uint64_t count = 0;
  for (uint64_t slot = 0; slot < slot_count_; ++slot) {
    const uint64_t state = metas_[slot].state.load(std::memory_order_acquire);
    if (writing(state) && pid_of(state) != self && !process_exists(pid_of(state))) ++count;
  }
  return count;
}

}  // namespace tessera::detail
