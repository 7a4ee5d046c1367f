#include "format/names.h"
#include "store/lmdb_pages.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/posix_file.h"

namespace tessera::detail {
namespace {

// liblmdb 0.9's on-disk layout (mdb.c), 64-bit build. Offsets from the start of a page.
constexpr size_t kPageHeaderSize = kLmdbPageHeader;  // pgno u64 @0, pad u16 @8, flags u16 @10, lower/upper u16 @12/@14
constexpr size_t kNodeHeaderSize = 8;   // lo u16, hi u16, flags u16, ksize u16, then key, then data
constexpr uint16_t kPageBranch = 0x01, kPageLeaf = 0x02, kPageOverflow = 0x04, kPageMeta = 0x08,
                   kPageLeaf2 = 0x20, kPageSub = 0x40;
constexpr uint16_t kPageTypeBits =
    kPageBranch | kPageLeaf | kPageOverflow | kPageMeta | kPageLeaf2 | kPageSub;
constexpr uint16_t kNodeBigData = 0x01, kNodeSubData = 0x02, kNodeDupData = 0x04;
// MDB_REVERSEKEY, MDB_DUPSORT, MDB_INTEGERKEY, MDB_DUPFIXED, MDB_INTEGERDUP, MDB_REVERSEDUP:
// a named database of Tessera has none of them (spec/FORMAT.md section 1).
constexpr uint16_t kDbKeyOrderFlags = 0x7e;
constexpr uint32_t kLmdbDataVersion = 1;
constexpr uint64_t kNoPage = ~uint64_t(0);  // P_INVALID: the root of an empty database
constexpr size_t kDbRecordSize = 48;
constexpr size_t kMetaSize = 152;  // the meta ends at @152 (spec/FORMAT.md section 7.1)
constexpr size_t kFreeDbAt = 40, kMainDbAt = 88, kLastPageAt = 136, kTxnIdAt = 144;
constexpr int kMaxDepth = 64;  // far beyond any real tree (a 4 KiB page holds 2+ keys)

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) { return uint32_t(le16(p)) | (uint32_t(le16(p + 2)) << 16); }
uint64_t le64(const uint8_t* p) { return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32); }

// MDB_db: a database's descriptor, in the meta page and in F_SUBDATA nodes of the main db.
struct DbRecord {
  uint32_t pad = 0;  // the page size, in the free-list descriptor of a meta page
  uint16_t flags = 0, depth = 0;
  uint64_t branch_pages = 0, leaf_pages = 0, overflow_pages = 0, entries = 0, root = kNoPage;
};
DbRecord parse_db_record(const uint8_t* p) {
  DbRecord db;
  db.pad = le32(p);
  db.flags = le16(p + 4);
  db.depth = le16(p + 6);
  db.branch_pages = le64(p + 8);
  db.leaf_pages = le64(p + 16);
  db.overflow_pages = le64(p + 24);
  db.entries = le64(p + 32);
  db.root = le64(p + 40);
  return db;
}

struct Meta {
  uint16_t flags = 0;
  uint32_t magic = 0, version = 0;
  DbRecord free_db, main_db;
  uint64_t last_page = 0, txnid = 0;
};
Meta parse_meta(const uint8_t* page) {
  Meta m;
  m.flags = le16(page + 10);
  m.magic = le32(page + kLmdbPageHeader);
  m.version = le32(page + 20);
  m.free_db = parse_db_record(page + kFreeDbAt);
  m.main_db = parse_db_record(page + kMainDbAt);
  m.last_page = le64(page + kLastPageAt);
  m.txnid = le64(page + kTxnIdAt);
  return m;
}

// A read error and the end of the file are both "not there" to the walk, which reports it.
bool read_exact(int fd, uint64_t offset, uint8_t* dst, size_t size) {
  return pread_fully(fd, dst, size, offset) == 0;
}

// A key with its bytes; absent = no bound.
struct KeyRef {
  const uint8_t* data = nullptr;
  size_t size = 0;
  bool present = false;
};

// What one leaf node holds, for the visitors of the main and free-list databases.
struct LeafNode {
  KeyRef key;
  uint16_t flags = 0;
  uint64_t value_size = 0;
  const uint8_t* inline_value = nullptr;  // when not F_BIGDATA
  uint64_t overflow_page = kNoPage;       // when F_BIGDATA: the value starts there at +16
};

// The counts a walk of one tree finds, compared with its descriptor at the end.
struct Tally {
  uint64_t branch_pages = 0, leaf_pages = 0, overflow_pages = 0, entries = 0;
  int leaf_depth = -1;
  bool depth_reported = false;
};

class PageWalker {
 public:
  PageWalker(int fd, uint32_t page_size, uint64_t last_page, uint64_t file_pages, bool overflow_headers,
             FaultSink& sink)
      : fd_(fd), page_size_(page_size), last_page_(last_page), file_pages_(file_pages),
        overflow_headers_(overflow_headers), sink_(sink), reached_((last_page + 64) / 64, 0),
        levels_(kMaxDepth + 2) {}

  void fault(const std::string& message) { sink_.add("LMDB_PAGE_VALID", message); }

  // Marks pages first .. first+count-1 as reached; false (and a fault) when one lies past
  // last_pg or was reached before, or is in use (not free) and lies past the end of the file.
  // `what()` names them, only for a fault: the walk runs at every open and must not build
  // strings for pages that pass.
  template <typename What>
  bool mark(uint64_t first, uint64_t count, const What& what, uint64_t* counter) {
    if (count == 0 || first > last_page_ || count - 1 > last_page_ - first) {
      fault(what() + ": page " + std::to_string(first) +
            (count > 1 ? " (+" + std::to_string(count - 1) + ")" : "") + " lies beyond last_pg " +
            std::to_string(last_page_));
      return false;
    }
    // liblmdb does not write the pages a commit took and gave back (they go on the free list),
    // so last_pg may lie past the end of the file: only pages in use must lie within it.
    if (counter != &free_pages && first + count > file_pages_) {
      fault(what() + ": page " + std::to_string(first) +
            (count > 1 ? " (+" + std::to_string(count - 1) + ")" : "") + " lies beyond the end of the file (" +
            std::to_string(file_pages_) + " pages): the file was cut short");
      return false;
    }
    for (uint64_t p = first; p < first + count; ++p) {
      uint64_t& word = reached_[p / 64];
      const uint64_t bit = uint64_t(1) << (p % 64);
      if (word & bit) {
        fault(what() + ": page " + std::to_string(p) +
              " is reached twice (or is both in use and on the free list)");
        return false;
      }
      word |= bit;
      ++*counter;
    }
    return true;
  }

  using LeafVisitor = std::function<void(const LeafNode&)>;

  // Walks the tree of `db` and checks the descriptor's counts against what it found.
  void walk_tree(const std::string& name, const DbRecord& db, bool integer_keys,
                 const LeafVisitor& visit) {
    Tally tally;
    if (db.root != kNoPage) {
      Context ctx{name, integer_keys, visit, tally};
      walk_page(ctx, db.root, 1, KeyRef{}, KeyRef{});
    }
    auto compare = [&](const char* what, uint64_t recorded, uint64_t found) {
      if (recorded != found)
        fault("database '" + name + "': its descriptor records " + std::to_string(recorded) +
              " " + what + ", the walk found " + std::to_string(found));
    };
    compare("entries", db.entries, tally.entries);
    compare("branch pages", db.branch_pages, tally.branch_pages);
    compare("leaf pages", db.leaf_pages, tally.leaf_pages);
    // Without the headers the walk knows the pages each value needs, not the runs it holds.
    if (overflow_headers_) compare("overflow pages", db.overflow_pages, tally.overflow_pages);
    if (!tally.depth_reported)
      compare("levels", db.depth, tally.leaf_depth < 0 ? 0 : uint64_t(tally.leaf_depth));
  }

  // Reads `size` bytes of a value stored on overflow pages, `block` bytes at a time.
  bool read_overflow(uint64_t page, uint64_t offset, uint8_t* dst, size_t size) {
    return read_exact(fd_, page * page_size_ + kPageHeaderSize + offset, dst, size);
  }

  uint64_t tree_pages = 0, free_pages = 0;
  bool reached(uint64_t page) const { return page <= last_page_ && (reached_[page / 64] >> (page % 64)) & 1; }

 private:
  struct Context {
    const std::string& name;
    bool integer_keys;
    const LeafVisitor& visit;
    Tally& tally;
  };

  // memcmp order then the shorter key first (LMDB's default), or u64 order for integer keys.
  static int compare_keys(const Context& ctx, const KeyRef& a, const KeyRef& b) {
    if (ctx.integer_keys && a.size == 8 && b.size == 8) {
      const uint64_t x = le64(a.data), y = le64(b.data);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const int c = std::memcmp(a.data, b.data, std::min(a.size, b.size));
    if (c != 0) return c;
    return a.size < b.size ? -1 : a.size > b.size ? 1 : 0;
  }

  std::string where(const Context& ctx, uint64_t page) const {
    return "database '" + ctx.name + "' page " + std::to_string(page);
  }

  // Checks the run of overflow pages holding a value of `size` bytes.
  bool check_overflow(Context& ctx, uint64_t page, uint64_t size) {
    const auto what = [&] { return where(ctx, page) + " (overflow)"; };
    if (page > last_page_) {
      fault(what() + " lies beyond last_pg " + std::to_string(last_page_));
      return false;
    }
    const uint64_t needed = (kPageHeaderSize - 1 + size) / page_size_ + 1;  // OVPAGES
    if (!overflow_headers_) return mark(page, needed, what, &tree_pages);
    uint8_t header[kPageHeaderSize];
    if (!read_exact(fd_, page * page_size_, header, sizeof header)) {
      fault(what() + " lies beyond the end of the file");
      return false;
    }
    const uint32_t pages = le32(header + 12);
    if (le64(header) != page || (le16(header + 10) & kPageTypeBits) != kPageOverflow ||
        pages < needed) {
      fault(what() + ": not an overflow page of at least " + std::to_string(needed) +
            " pages (header: pgno " + std::to_string(le64(header)) + ", flags " +
            std::to_string(le16(header + 10)) + ", pages " + std::to_string(pages) + ")");
      return false;
    }
    if (!mark(page, pages, what, &tree_pages)) return false;
    ctx.tally.overflow_pages += pages;
    return true;
  }

  void walk_page(Context& ctx, uint64_t page, int depth, KeyRef low, KeyRef high) {
    if (depth > kMaxDepth) {
      fault(where(ctx, page) + ": the tree is deeper than " + std::to_string(kMaxDepth) + " levels");
      return;
    }
    if (!mark(page, 1, [&] { return where(ctx, page); }, &tree_pages)) return;
    std::vector<uint8_t>& buf = levels_[size_t(depth)];
    buf.resize(page_size_);
    if (!read_exact(fd_, page * page_size_, buf.data(), page_size_)) {
      fault(where(ctx, page) + " lies beyond the end of the file");
      return;
    }
    const uint8_t* p = buf.data();
    const uint16_t type = le16(p + 10) & kPageTypeBits;
    const uint16_t lower = le16(p + 12), upper = le16(p + 14);
    if (le64(p) != page) {
      fault(where(ctx, page) + ": its header names page " + std::to_string(le64(p)));
      return;
    }
    if (type != kPageBranch && type != kPageLeaf) {
      fault(where(ctx, page) + ": page type flags " + std::to_string(le16(p + 10)) +
            " are neither branch nor leaf");
      return;
    }
    if (lower < kPageHeaderSize || lower % 2 != 0 || lower > upper || upper > page_size_ ||
        lower == kPageHeaderSize) {
      fault(where(ctx, page) + ": bounds lower " + std::to_string(lower) + " upper " +
            std::to_string(upper) + " are inconsistent or leave no node");
      return;
    }
    const bool branch = type == kPageBranch;
    const size_t count = (lower - kPageHeaderSize) / 2;
    // Check every node before descending: children are read only from a sound page.
    KeyRef previous;
    for (size_t i = 0; i < count; ++i) {
      const size_t at = le16(p + kPageHeaderSize + 2 * i);
      const auto node = [&] { return where(ctx, page) + " node " + std::to_string(i); };
      if (at < upper || at + kNodeHeaderSize > page_size_) {
        fault(node() + ": offset " + std::to_string(at) + " lies outside the node area");
        return;
      }
      const uint16_t flags = le16(p + at + 4);
      KeyRef key{p + at + kNodeHeaderSize, le16(p + at + 6), true};
      if (at + kNodeHeaderSize + key.size > page_size_) {
        fault(node() + ": its key of " + std::to_string(key.size) + " bytes overruns the page");
        return;
      }
      if (!branch || i > 0) {  // a branch page's first key is not used
        if (ctx.integer_keys && key.size != 8) {
          fault(node() + ": an integer key of " + std::to_string(key.size) + " bytes");
          return;
        }
        if ((previous.present && compare_keys(ctx, previous, key) >= 0) ||
            (low.present && compare_keys(ctx, key, low) < 0) ||
            (high.present && compare_keys(ctx, key, high) >= 0)) {
          fault(node() + ": keys out of order");
          return;
        }
        previous = key;
      }
      if (branch) continue;
      LeafNode leaf;
      leaf.key = key;
      leaf.flags = flags;
      leaf.value_size = uint64_t(le16(p + at)) | (uint64_t(le16(p + at + 2)) << 16);
      const size_t value_at = at + kNodeHeaderSize + key.size;
      if (flags & kNodeDupData) {
        fault(node() + ": duplicate data (MDB_DUPSORT), which Tessera never uses");
        return;
      }
      if (flags & kNodeBigData) {
        if (value_at + 8 > page_size_) {
          fault(node() + ": its overflow page number overruns the page");
          return;
        }
        leaf.overflow_page = le64(p + value_at);
        if (!check_overflow(ctx, leaf.overflow_page, leaf.value_size)) return;
      } else {
        if (value_at + leaf.value_size > page_size_) {
          fault(node() + ": its value of " + std::to_string(leaf.value_size) +
                " bytes overruns the page");
          return;
        }
        leaf.inline_value = p + value_at;
      }
      ++ctx.tally.entries;
      ctx.visit(leaf);
    }
    if (!branch) {
      ++ctx.tally.leaf_pages;
      if (ctx.tally.leaf_depth < 0) ctx.tally.leaf_depth = depth;
      if (ctx.tally.leaf_depth != depth && !ctx.tally.depth_reported) {
        ctx.tally.depth_reported = true;
        fault(where(ctx, page) + ": a leaf at depth " + std::to_string(depth) +
              " while others are at depth " + std::to_string(ctx.tally.leaf_depth));
      }
      return;
    }
    ++ctx.tally.branch_pages;
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* n = p + le16(p + kPageHeaderSize + 2 * i);
      const uint64_t child =
          uint64_t(le16(n)) | (uint64_t(le16(n + 2)) << 16) | (uint64_t(le16(n + 4)) << 32);
      KeyRef child_low = low, child_high = high;
      if (i > 0) child_low = KeyRef{n + kNodeHeaderSize, le16(n + 6), true};
      if (i + 1 < count) {
        const uint8_t* next = p + le16(p + kPageHeaderSize + 2 * (i + 1));
        child_high = KeyRef{next + kNodeHeaderSize, le16(next + 6), true};
      }
      walk_page(ctx, child, depth + 1, child_low, child_high);
    }
  }

  int fd_;
  uint64_t page_size_;
  uint64_t last_page_;
  uint64_t file_pages_;  // whole pages the file holds
  bool overflow_headers_;
  FaultSink& sink_;
  std::vector<uint64_t> reached_;             // one bit per page
  std::vector<std::vector<uint8_t>> levels_;  // one page buffer per tree level
};

// The pages one free-list entry lists: a u64 count, then that many page numbers.
void mark_free_pages(PageWalker& walker, const LeafNode& leaf) {
  const std::string what = "free list entry of transaction " +
                           (leaf.key.size == 8 ? std::to_string(le64(leaf.key.data)) : "?");
  if (leaf.value_size < 8 || leaf.value_size % 8 != 0) {
    walker.fault(what + ": a value of " + std::to_string(leaf.value_size) +
                 " bytes is not a list of page numbers");
    return;
  }
  constexpr size_t kBlock = 8192;
  uint8_t block[kBlock];
  uint64_t listed = 0;
  for (uint64_t offset = 0; offset < leaf.value_size; offset += kBlock) {
    const size_t n = size_t(std::min<uint64_t>(kBlock, leaf.value_size - offset));
    const uint8_t* data = leaf.inline_value ? leaf.inline_value + offset : block;
    if (!leaf.inline_value && !walker.read_overflow(leaf.overflow_page, offset, block, n)) {
      walker.fault(what + ": cannot read its overflow pages");
      return;
    }
    for (size_t i = 0; i < n; i += 8) {
      const uint64_t item = le64(data + i);
      if (offset + i == 0) {
        listed = item;
        if (listed > leaf.value_size / 8 - 1) {
          walker.fault(what + ": lists " + std::to_string(listed) + " pages in a value of " +
                       std::to_string(leaf.value_size) + " bytes");
          return;
        }
        continue;
      }
      if ((offset + i) / 8 > listed) return;
      if (!walker.mark(item, 1, [&] { return what; }, &walker.free_pages)) return;
    }
  }
}

bool power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

// Pages a commit may leave unwritten past the end of the file (taken and given back): 4 GiB of
// 4 KiB pages, far more than a commit's own.
constexpr uint64_t kMaxPagesPastEnd = uint64_t(1) << 20;

// The chosen meta page and the page size, once both meta pages passed; nullopt after a fault.
struct ChosenMeta {
  Meta meta;
  uint64_t page_size = 0;
  uint64_t file_pages = 0;  // whole pages the file holds
};
std::optional<ChosenMeta> read_metas(int fd, FaultSink& sink) {
  const uint64_t faults_before = sink.count();
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    sink.add("LMDB_SIGNATURE", "not a regular file");
    return std::nullopt;
  }
  const uint64_t file_size = uint64_t(st.st_size);
  uint8_t first[kMetaSize];
  if (!read_exact(fd, 0, first, sizeof first) || le32(first + 16) != kLmdbMagic) {
    sink.add("LMDB_SIGNATURE", "bytes 16..19 are not de c0 ef be: not an LMDB file");
    return std::nullopt;
  }

  // Both meta pages; the page size comes from page 0, as liblmdb reads it.
  const uint64_t page_size = parse_meta(first).free_db.pad;
  auto meta_fault = [&](const std::string& message) { sink.add("LMDB_META_VALID", message); };
  if (!power_of_two(page_size) || page_size < 512 || page_size > 65536) {
    meta_fault("meta page 0 records a page size of " + std::to_string(page_size));
    return std::nullopt;
  }
  Meta metas[2];
  // liblmdb writes commit T to meta page T % 2, so the pages hold consecutive commits, the even
  // one on page 0 (a file never committed to holds 0 and 0). Any other pair is a damaged
  // transaction id, which would make liblmdb show an older commit than the last, silently. A
  // writer that commits twice between the two reads below makes a pair that only looks so:
  // the pages are read again before that is called a fault.
  const auto consecutive = [&] {
    const uint64_t t0 = metas[0].txnid, t1 = metas[1].txnid;
    return (t0 == 0 && t1 == 0) || (t0 % 2 == 0 && t1 % 2 == 1 && (t0 == t1 + 1 || t1 == t0 + 1));
  };
  for (int attempt = 0; attempt < 3; ++attempt) {
    for (int i = 0; i < 2; ++i) {
      uint8_t page[kMetaSize];
      if (!read_exact(fd, uint64_t(i) * page_size, page, sizeof page)) {
        meta_fault("meta page " + std::to_string(i) + " lies beyond the end of the file");
        return std::nullopt;
      }
      metas[i] = parse_meta(page);
    }
    if (consecutive()) break;
    ::usleep(1000);
  }
  for (int i = 0; i < 2; ++i) {
    const Meta& m = metas[i];
    const std::string name = "meta page " + std::to_string(i);
    if ((m.flags & kPageTypeBits) != kPageMeta)
      meta_fault(name + ": page flags " + std::to_string(m.flags) + " lack the meta flag");
    else if (m.magic != kLmdbMagic)
      meta_fault(name + ": magic is not 0xBEEFC0DE");
    else if (m.version != kLmdbDataVersion)
      meta_fault(name + ": LMDB data version " + std::to_string(m.version) + ", not 1");
    else if (m.free_db.pad != page_size)
      meta_fault(name + ": page size " + std::to_string(m.free_db.pad) + " differs from page 0's " +
                 std::to_string(page_size));
  }
  if (sink.count() != faults_before) return std::nullopt;
  if (!consecutive()) {
    meta_fault("meta pages 0 and 1 hold transactions " + std::to_string(metas[0].txnid) + " and " +
               std::to_string(metas[1].txnid) + ", not consecutive ones (even on page 0): a damaged "
               "transaction id would show another commit than the last");
    return std::nullopt;
  }
  const int chosen = metas[1].txnid > metas[0].txnid ? 1 : 0;
  const Meta& meta = metas[chosen];
  const std::string name = "meta page " + std::to_string(chosen) + " (txnid " +
                           std::to_string(meta.txnid) + ")";
  if (meta.last_page < 1) {
    meta_fault(name + ": last_pg " + std::to_string(meta.last_page) + " leaves no page for data");
    return std::nullopt;
  }
  // A last_pg past the end of the file is fine when the pages past it are not in use (the walk
  // checks): the pages a commit took and gave back, which liblmdb does not write. Far past it,
  // it is a cut (and would size the walk's map of pages by a damaged field).
  const uint64_t file_pages = file_size / page_size;
  if (meta.last_page >= file_pages + kMaxPagesPastEnd) {
    meta_fault("truncated: the file has " + std::to_string(file_size) + " bytes, its last commit (" + name +
               ") has " + std::to_string(meta.last_page + 1) + " pages, more than " +
               std::to_string(kMaxPagesPastEnd) + " past the end of the file");
    return std::nullopt;
  }
  for (const DbRecord* db : {&meta.free_db, &meta.main_db})
    if (db->root != kNoPage && (db->root < 2 || db->root > meta.last_page)) {
      meta_fault(name + ": a database root " + std::to_string(db->root) + " is not a page in 2.." +
                 std::to_string(meta.last_page));
      return std::nullopt;
    }

  return ChosenMeta{meta, page_size, file_pages};
}

}  // namespace

bool check_lmdb_metas(int fd, FaultSink& sink) { return read_metas(fd, sink).has_value(); }

bool pages_past_end_are_free(int fd) {
  VerifyReport report;
  FaultSink sink(report, 1);
  const std::optional<ChosenMeta> chosen = read_metas(fd, sink);
  if (!chosen) return false;
  const Meta& meta = chosen->meta;
  PageWalker walker(fd, uint32_t(chosen->page_size), meta.last_page, chosen->file_pages, false, sink);
  walker.walk_tree("(free list)", meta.free_db, true, [&](const LeafNode& leaf) { mark_free_pages(walker, leaf); });
  if (sink.count() != 0) return false;
  for (uint64_t page = chosen->file_pages; page <= meta.last_page; ++page)
    if (!walker.reached(page)) return false;
  return true;
}

LmdbWalk walk_lmdb_file(int fd, FaultSink& sink, bool overflow_headers, std::span<const EntryCheck> entry_checks) {
  LmdbWalk result;
  const uint64_t faults_before = sink.count();
  const std::optional<ChosenMeta> chosen = read_metas(fd, sink);
  if (!chosen) return result;
  const Meta& meta = chosen->meta;
  const uint64_t page_size = chosen->page_size;
  PageWalker walker(fd, uint32_t(page_size), meta.last_page, chosen->file_pages, overflow_headers, sink);
  (void)walker.mark(0, 2, [] { return std::string("meta pages"); }, &walker.tree_pages);
  // The free list: its tree, and the pages it lists (marked now, so that a page both free
  // and in a tree is reported as reached twice whichever comes second).
  walker.walk_tree("(free list)", meta.free_db, true,
                   [&](const LeafNode& leaf) { mark_free_pages(walker, leaf); });
  // The main database: its F_SUBDATA nodes are the named databases, walked after it.
  std::vector<std::pair<std::string, DbRecord>> named;
  walker.walk_tree("(main)", meta.main_db, false, [&](const LeafNode& leaf) {
    if (!(leaf.flags & kNodeSubData)) return;  // a plain value: not Tessera's, but valid LMDB
    const std::string db_name(reinterpret_cast<const char*>(leaf.key.data), leaf.key.size);
    if (leaf.inline_value == nullptr || leaf.value_size != kDbRecordSize) {
      walker.fault("database '" + db_name + "': its descriptor is " +
                   std::to_string(leaf.value_size) + " bytes, not 48");
      return;
    }
    if (named.size() >= 256) {
      walker.fault("the main database names more than 256 databases");
      return;
    }
    named.emplace_back(db_name, parse_db_record(leaf.inline_value));
  });
  for (const auto& entry : named) {
    const std::string& db_name = entry.first;  // named, not bound: lambdas below capture it
    const DbRecord& db = entry.second;
    if (db.flags & kDbKeyOrderFlags) {
      // liblmdb would compare keys or duplicates differently from what this walk checks.
      walker.fault("database '" + db_name + "' has flags " + std::to_string(db.flags) +
                   " (MDB_DUPSORT, MDB_INTEGERKEY or another key order), which Tessera never uses");
      continue;
    }
    const EntryCheck* entry_check = nullptr;
    for (const EntryCheck& c : entry_checks)
      if (db_name == c.database) entry_check = &c;
    std::vector<uint8_t> value;
    walker.walk_tree(db_name, db, false, [&](const LeafNode& leaf) {
      if (!entry_check) return;
      const auto fault = [&](const std::string& what) {
        sink.add(std::string(entry_check->invariant), "database '" + db_name + "': " + what);
      };
      std::span<const uint8_t> bytes(leaf.inline_value, size_t(leaf.value_size));
      if (!leaf.inline_value) {  // rare: a value too large for its leaf page, read here
        if (leaf.value_size > entry_check->max_value_bytes)
          return fault("a value of " + std::to_string(leaf.value_size) + " bytes");
        value.resize(size_t(leaf.value_size));
        if (!walker.read_overflow(leaf.overflow_page, 0, value.data(), value.size()))
          return fault("cannot read a value's overflow pages");
        bytes = value;
      }
      const std::string what = entry_check->check({leaf.key.data, leaf.key.size}, bytes);
      if (!what.empty()) fault(what);
    });
  }
  result.tree_pages = walker.tree_pages;
  result.free_pages = walker.free_pages;
  result.sound = sink.count() == faults_before;
  return result;
}

}  // namespace tessera::detail
