// tessera/container.h — a Tessera container: one file holding named images over one
// deduplicated chunk pool, with transactions.
//
// Guarantees
//  - A container is one file (an LMDB environment with MDB_NOSUBDIR) plus "FILE-lock" beside it.
//  - Snapshot isolation: a Snapshot sees the container exactly as the last commit before it
//    began left it, for as long as it lives, whatever writers do meanwhile.
//  - One writer at a time across all threads and processes: begin_write() waits for the
//    write lock, as long as it takes or up to OpenOptions::write_wait (then kBusy). Readers
//    never block the writer and the writer never blocks readers.
//  - commit() is atomic: all of a transaction's changes become visible together or none do.
//    With OpenOptions::sync (the default) a commit is durable when it returns; a crash at any
//    instant (kill -9 of the writer included) leaves the last committed state readable, or
//    the commit in flight if it reached the disk.
//  - A full disk (ENOSPC, EDQUOT, EFBIG from the file size limit) or a map that reached
//    OpenOptions::max_map_size fails the write or commit with kNoSpace naming the file; a
//    failed commit aborts its transaction, and the file stays at its last commit.
//  - What a read uses is checked before use: chunks and tile records carry checksums (a tile
//    record's covers the key it is stored under), every FlatBuffers record passes the
//    Verifier and range checks, every length is bounded. A failed check is a Code::kCorrupt
//    status naming the file, image, tile and chunk, never wrong pixels.
//
// Threads and processes
//  - Container is thread-safe. Snapshots may be taken from any thread; one Snapshot may be
//    read from several threads at once. A WriteTxn belongs to the thread that began it.
//  - Keep snapshots short while a writer edits: pages a snapshot still sees cannot be reused,
//    so a long-lived snapshot makes the file grow. Container::readers() reports the open
//    snapshots of every process, and OpenOptions::on_reader_lag warns a writer about them.
//  - Do not use a Container across fork(): open it again in the child.
//  - Reads decode tiles, and writes encode them, on the container's worker pool
//    (OpenOptions::threads); the caller's thread waits for them. No callback of the API runs
//    on a worker: each header says which thread runs its callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/attributes.h"
#include "tessera/export.h"
#include "tessera/inspect.h"
#include "tessera/mapped.h"
#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera {

namespace detail {
class Env;
class Runtime;
class Txn;
struct PreparedTiles;
}  // namespace detail

// Writes made ahead of their transaction (Container::prepare_write): the tiles of each region
// added copied from the caller's buffer (which may be reused at once), classified, hashed and
// compressed on the worker pool with no transaction open, for instance while the last batch
// of an import commits; WriteTxn::write applies them. Keeps its buffers from use to use.
class TESSERA_API PreparedWrite {
 public:
  PreparedWrite();
  PreparedWrite(PreparedWrite&&) noexcept;
  PreparedWrite& operator=(PreparedWrite&&) noexcept;
  ~PreparedWrite();
  bool empty() const;
  void clear();  // drops what it holds, keeping the buffers

 private:
  friend class Container;
  friend class WriteTxn;
  std::unique_ptr<detail::PreparedTiles> tiles_;
};

// One open snapshot (an LMDB reader slot) of any process.
struct OpenReader {
  int64_t pid = 0;      // the process holding it
  uint64_t commit = 0;  // id of the commit it sees
  uint64_t age = 0;     // commits made since: ReaderReport::last_commit - commit
};

// The open snapshots of every process and what the oldest one costs. Pages freed since the
// oldest snapshot began cannot be reused while it stays open, so writes extend the file.
struct TESSERA_API ReaderReport {
  uint64_t last_commit = 0;          // id of the last commit
  std::vector<OpenReader> readers;   // oldest first
  uint64_t pinned_pages = 0;         // free pages the oldest snapshot keeps from reuse
  uint64_t page_size = 0;            // bytes per page
  uint64_t file_pages = 0;           // pages the file uses (its size is about this * page_size)

  // The oldest open snapshot, or nullptr when none is open.
  const OpenReader* oldest() const { return readers.empty() ? nullptr : &readers.front(); }
  // True when the oldest snapshot is more than `commits` commits old.
  bool lagging(uint64_t commits) const { return oldest() && oldest()->age > commits; }
  // One line for people, e.g. "the snapshot of process 4242 is 250 commits old and keeps
  // 1200 pages (4.7 MiB) from reuse: the file grows while it stays open"; "" when none is open.
  std::string warning() const;
};

struct OpenOptions {
  bool read_only = false;
  // Open without the lock file: only for a file that no process writes (e.g. a copy on
  // read-only shared storage). Requires read_only.
  bool no_lock = false;
  // Walk the file's page structure (every branch and leaf page of every database, the free
  // list, the head and end of every overflow run) with pread before liblmdb follows any page,
  // refusing a damaged or truncated file with kCorrupt instead of crashing on it
  // (spec/FORMAT.md 7.9). Off only for a file this process just checked or wrote: it then
  // trusts the bytes as liblmdb does.
  bool check_structure = true;
  // Initial map size (address space, not disk). The map grows by itself when full.
  uint64_t map_size = uint64_t(1) << 40;
  // fsync on every commit. Off (LMDB's MDB_NOSYNC) is safe against a crash of the process,
  // but an operating system crash or power loss may then lose recent commits or corrupt
  // the file. Leave it on for anything you cannot regenerate.
  bool sync = true;
  // Worker threads for tile decoding and compression; 0 = one per core.
  unsigned threads = 0;
  // How long begin_write() (and Container::write) waits for the write lock while another
  // writer of this or another process holds it; nullopt = as long as it takes. When the time
  // runs out the call fails with kBusy, naming the file and the time waited.
  std::optional<std::chrono::milliseconds> write_wait;
  // The largest size the map may grow to, in bytes; 0 = no limit. A write that needs more
  // fails with kNoSpace "map size limit N bytes reached". map_size is clamped to it.
  uint64_t max_map_size = 0;
  // Long-lived snapshots: when on_reader_lag is set, begin_write() calls it (on the thread
  // that calls begin_write(), before the transaction starts) whenever the oldest open snapshot of any process
  // is more than reader_lag_limit commits old. `tessera info` warns at the same limit.
  uint64_t reader_lag_limit = 100;
  std::function<void(const ReaderReport&)> on_reader_lag;
  // Bytes of decoded tiles this open container keeps for reads (0 = no cache). Tiles are
  // keyed by content, so duplicate tiles share an entry; the cache is shared by every
  // snapshot and thread of this Container and never holds stale data (content never changes
  // under a key).
  uint64_t tile_cache_bytes = 0;
  // An opt-in cache of decoded tiles in POSIX shared memory, shared by the processes of this
  // host that open it by the same name (e.g. "/tessera-cache-alice"; empty = off). The first
  // opener creates it with shared_cache_bytes of memory, reserved at once (a full /dev/shm is
  // an error at open, not a crash later), in slots of shared_cache_slot_bytes (larger tiles
  // are not cached); later openers use it as it is. Lock-free: no process waits for another,
  // and a process killed at any point leaves every other entry usable. Entries are keyed by
  // the file (device and inode) and the chunk key, so readers of one file share tiles. It is
  // checked after tile_cache_bytes' cache and before decoding. It outlives every process;
  // remove_shared_cache() deletes the name.
  std::string shared_cache;
  uint64_t shared_cache_bytes = uint64_t(256) << 20;
  uint32_t shared_cache_slot_bytes = 256 << 10;
};

// kInvalidArgument unless `name` can name an image: 1 to 255 bytes without control characters.
TESSERA_API Status check_image_name(std::string_view name);

// What the decoded-tile cache of an open container did so far.
struct TileCacheStats {
  uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0;
  uint64_t bytes = 0, entries = 0;  // held now
};

// What this process's use of the shared-memory cache (OpenOptions::shared_cache) did so far.
struct SharedCacheStats {
  uint64_t hits = 0, misses = 0;
  uint64_t puts = 0;     // tiles this process stored
  uint64_t skipped = 0;  // tiles not stored (larger than a slot, present, or their set busy)
  uint64_t slots = 0, slot_bytes = 0;
  uint64_t stale_recovered = 0;  // slots abandoned by dead processes that this one reused
};

// A request checked against the image it addresses (View::check).
struct Request {
  ImageInfo image;
  std::vector<uint32_t> bands;  // the selection's bands, or every band in order
};

// Operations common to snapshots and write transactions: what images there are, and
// reading pixels. A WriteTxn reads its own uncommitted writes.
class TESSERA_API View {
 public:
  virtual ~View();

  std::vector<ImageInfo> images() const;
  Result<ImageInfo> image(std::string_view name) const;
  // image(name), or with `name` empty the container's only image (an error naming the images
  // when there are several or none): what tools do when the user names no image.
  Result<ImageInfo> image_or_only(std::string_view name) const;

  // Reads `region` of frame sel.frame, level sel.level, bands sel.bands (in that order) into
  // the caller's buffer `dst` of `dst_size` bytes laid out as `interleave` (densely packed)
  // or with explicit `strides`. Pixels of absent tiles read as the image's fill value.
  // Errors: kNotFound (image, frame), kInvalidArgument (empty or overflowing region, band
  // out of range, buffer too small), kCorrupt (a record or chunk failed its check).
  Status read(std::string_view image, const Region& region, const Selection& sel, void* dst,
              size_t dst_size, Interleave interleave = Interleave::kBIP) const;
  Status read(std::string_view image, const Region& region, const Selection& sel, void* dst,
              size_t dst_size, const Strides& strides) const;

  // read() of any level of a frame: a level its pyramid holds is read from it; another is made
  // on the fly from the finest level built below it (level 0 at worst) by the frame's pyramid
  // rule (kMean when it has none), the pixels a build of that level would store. Making level
  // L from level B reads 4^(L-B) times the region's pixels, about 32 MiB at a time, so
  // `max_reduction` bounds L - B: kInvalidArgument naming both levels when more is needed.
  Status read_reduced(std::string_view image, const Region& region, const Selection& sel,
                      uint32_t max_reduction, void* dst, size_t dst_size,
                      Interleave interleave = Interleave::kBIP) const;

  // A digest (32 hex digits) of what read_reduced() of `region` gives, from the tile records it
  // touches alone, no pixel read: chunks are keyed by their content, so equal tags mean equal
  // pixels, in any snapshot or process, while a commit that changes a touched tile changes the
  // tag. An HTTP server's ETag. Errors as read_reduced(), and kInvalidArgument when the region
  // touches more than 2^20 tiles of the level it is made from.
  Result<std::string> content_tag(std::string_view image, const Region& region, const Selection& sel) const;

  // Checks a read or write of `region` of `image` with `sel` as read() and write() do (image,
  // region, level, bands, frame; for a write also no band twice and a frame that exists or
  // comes next), without a buffer: the same error, with the same message, before any work.
  Result<Request> check(std::string_view image, const Region& region, const Selection& sel,
                        Access access = Access::kRead) const;

  // The definition of mapped image `name` (tessera/mapped.h; its fill one value per band).
  // kNotFound when there is no mapped image of that name.
  Result<MappedSpec> mapped(std::string_view name) const;

  // Tile and chunk counts of one frame of an image at one level (scans its tile index).
  // A level not built gives kNotFound as read() does.
  Result<ImageStats> stats(std::string_view image, uint32_t frame = 0, uint32_t level = 0) const;
  // Bounding box of the data of a frame at a precision (see Precision); nullopt when the frame
  // holds no data. O(1) when the frame's cache of that precision is fresh; a stale cache is
  // recomputed (and, in a WriteTxn, stored).
  Result<std::optional<Region>> bounds(std::string_view image, uint32_t frame = 0,
                                       Precision precision = Precision::kExact) const;
  // Every frame of an image with what its own records cost (one scan of its tile index).
  Result<std::vector<FrameInfo>> frames(std::string_view image) const;
  // The chunk pool every image and frame shares: unique chunks, references, bytes dedup saved.
  Result<PoolStats> pool_stats() const;
  // The progress an importer recorded for each frame of an image it imported into (frame
  // order); empty when none did.
  Result<std::vector<ImportProgress>> imports(std::string_view image) const;

  // The attributes of `image` (frame nullopt) or of one of its frames, sorted by name.
  // Errors: kNotFound (image, frame), kCorrupt (a record failed its check).
  Result<Attributes> attributes(std::string_view image,
                                std::optional<uint32_t> frame = std::nullopt) const;
  // What describes frame `frame`: the image's attributes, each replaced by the frame's
  // attribute of the same name, plus the frame's others.
  Result<Attributes> frame_attributes(std::string_view image, uint32_t frame) const;

  // The region frame `frame` of `image` was declared to cover (attribute kExtentAttribute:
  // the frame's, else the image's), fill included; nullopt when none was declared. An import
  // declares the region its raster landed on. Errors: kNotFound (image, frame), kCorrupt (the
  // attribute is not an extent).
  Result<std::optional<Region>> extent(std::string_view image, uint32_t frame = 0) const;

  // The pyramid of frame `frame` of `image` (Container::build_pyramid): PyramidInfo{} when
  // none was built. Errors: kNotFound (image, frame), kCorrupt (the record failed its check).
  Result<PyramidInfo> pyramid(std::string_view image, uint32_t frame = 0) const;

  // Inspection (tessera/inspect.h). Calls `visit` for every tile frame options.frame shows at
  // options.level (in the region's tiles, when given): tiles with their own record in key
  // order, then those of collapsed macro blocks; it streams, holding one entry per macro
  // block. `visit` runs on the calling thread with this view's LMDB lock held: it must not
  // use this view; an error it returns ends the listing and is the result.
  Status list_tiles(std::string_view image, const TileListOptions& options,
                    const std::function<Status(const TileEntry&)>& visit) const;
  // The records a read of tile (x, y) of `frame` at `level` probes, and the chunk it shows.
  Result<TileDump> dump_tile(std::string_view image, uint32_t frame, uint32_t level, int64_t x,
                             int64_t y) const;
  // A chunk by its key (34 hex digits): header, block table, reference count; with `raw`, its
  // decoded bytes (the tile in storage layout, every checksum verified). kNotFound when absent.
  Result<ChunkSummary> dump_chunk(std::string_view key_hex, std::vector<uint8_t>* raw = nullptr) const;

  const std::string& path() const;

 protected:
  View(std::shared_ptr<detail::Env> env, std::shared_ptr<detail::Runtime> runtime,
       std::unique_ptr<detail::Txn> txn);
  View(View&&) noexcept;
  View& operator=(View&&) noexcept;
  std::shared_ptr<detail::Env> env_;
  std::shared_ptr<detail::Runtime> runtime_;
  std::unique_ptr<detail::Txn> txn_;
  friend class WriteTxn;  // WriteTxn::merge reads another container's view
};

// A consistent read-only view of the container as of the moment it was taken.
class TESSERA_API Snapshot : public View {
 public:
  Snapshot(Snapshot&&) noexcept;
  Snapshot& operator=(Snapshot&&) noexcept;
  ~Snapshot() override;

 private:
  friend class Container;
  using View::View;
};

// The one write transaction. Nothing it does is visible to others until commit();
// destroying it without commit() aborts it.
class TESSERA_API WriteTxn : public View {
 public:
  WriteTxn(WriteTxn&&) noexcept;
  WriteTxn& operator=(WriteTxn&&) noexcept;
  ~WriteTxn() override;

  // Creates an image with one empty frame (frame 0). Errors: kAlreadyExists, kInvalidArgument (spec).
  Status create_image(std::string_view name, const ImageSpec& spec);

  // Writes `region` of bands sel.bands from the caller's buffer `src` (laid out as
  // `interleave`, or with `strides`) into frame sel.frame. Writing frame == frames appends a
  // new frame that starts as a copy of the previous one. Tiles only partly covered are
  // read, modified and rewritten; tiles that end up equal to the fill value are removed,
  // uniform tiles are stored inline, identical tiles share one chunk. Later frames that
  // inherited a changed tile keep showing its old content. A write that fails changes
  // nothing (it runs in a nested transaction); the transaction can go on.
  // Errors: as View::read, plus kNoSpace (map or disk full; Container::write() retries after
  // growing the map).
  Status write(std::string_view image, const Region& region, const Selection& sel,
               const void* src, size_t src_size, Interleave interleave = Interleave::kBIP);
  Status write(std::string_view image, const Region& region, const Selection& sel,
               const void* src, size_t src_size, const Strides& strides);
  // Writes what `prepared` holds into frame sel.frame of `image` (sel.level 0 and sel.bands
  // empty: a prepared write is of every band), as write() of each region it was given would,
  // and empties it, whether or not the write succeeds. kInvalidArgument naming the change when
  // the image is not as it was prepared for (another image of that name, another spec or fill).
  Status write(std::string_view image, const Selection& sel, PreparedWrite& prepared);

  // Adopts the tiles that frame `source_frame` of `source_image` in `source` (a view of another
  // container, e.g. a shard a worker process wrote) shows into frame `frame` of `image`, at the
  // same tile coordinates, keeping their stored encoding: nothing is compressed again (each
  // chunk is decoded once, its checksums and content hash checked, and deduplicated like any
  // write). Tiles the source does not show stay as they are. Both images must have the same
  // sample type, bands, tile size, storage layout and fill. Like write(): frame == frames
  // appends a frame, the frame's pyramid levels follow, and a failure changes nothing.
  // Errors: kInvalidArgument (the images differ: the message names how), kNotFound, kCorrupt
  // (a source chunk failed its check), as write().
  Status merge(const View& source, std::string_view source_image, std::string_view image, uint32_t frame = 0,
               uint32_t source_frame = 0);

  // Defines mapped image `name` (tessera/mapped.h), or with `replace` defines it again. Every
  // source must be an image or mapped image of this container with that frame and bands, all of
  // one sample type and band count, each transform invertible, and no cycle or chain deeper
  // than kMaxMappedDepth. The file becomes format 2.4 (3.2) in this transaction.
  // Errors: kAlreadyExists (an image or, without `replace`, a mapped image of that name),
  // kInvalidArgument naming the source or value at fault.
  Status define_mapped(std::string_view name, const MappedSpec& spec, bool replace = false);
  // Deletes mapped image `name` (its sources stay as they are). kNotFound when there is none;
  // kInvalidArgument when another mapped image has it as a source.
  Status remove_mapped(std::string_view name);

  // Records where an import into frame progress.frame of `image` stands (see ImportProgress):
  // call it in the transaction of each batch, so the record and the pixels commit together.
  Status record_import(std::string_view image, const ImportProgress& progress);

  // Sets attribute `name` of `image` (frame nullopt) or of one of its frames to `value`,
  // adding or replacing it. Errors: kNotFound (image, frame), kInvalidArgument (the name, see
  // check_attribute_name; a value over kMaxAttributeValueBytes encoded).
  Status set_attribute(std::string_view image, std::string_view name, const AttributeValue& value,
                       std::optional<uint32_t> frame = std::nullopt);
  // Deletes attribute `name`. kNotFound when the image, frame or attribute does not exist.
  Status delete_attribute(std::string_view image, std::string_view name,
                          std::optional<uint32_t> frame = std::nullopt);

  // Appends a frame that starts as a copy of the last one's pixels (not of its attributes):
  // O(1), nothing is copied. (Writing frame == frames appends one too.)
  Status add_frame(std::string_view image);
  // Removes frame `frame` (and its attributes); later frames are renumbered down by one and
  // show what they showed, attributes included.
  // Chunks only the dropped frame used are released in this transaction. An image keeps at
  // least one frame; a frame is not dropped while a mapped image reads it or a later frame
  // (kInvalidArgument naming it). Cost: one pass over the image's tile index.
  Status drop_frame(std::string_view image, uint32_t frame);

  // Makes every change durable and visible at once. The transaction is finished afterwards
  // whatever the outcome; on error nothing of it was applied. Errors: kIoError, kNoSpace (a
  // write or sync failed; after a failed write of the meta page every later transaction of
  // this Container fails with kIoError until the container is opened again).
  // See spec/FORMAT.md 7.2 for what a power loss during a commit leaves.
  Status commit();
  // Discards every change. Idempotent.
  void abort();

 private:
  friend class Container;
  using View::View;
};

// What Container::build_pyramid builds.
struct PyramidOptions {
  std::optional<uint32_t> frame = 0;  // nullopt: every frame of the image, in order
  uint32_t levels = 0;                // 1 .. kMaxPyramidLevels; 0: until the frame's data fits one tile
  Resampling resampling = Resampling::kMean;  // nearest or mode for labels
  // Level tiles done and in all (the total is estimated from the level below as it goes),
  // after each batch, on the calling thread.
  Progress progress;
};

// What Container::recompress rewrites: the chunks the selected tiles show.
struct RecompressOptions {
  std::optional<Region> region;             // level-0 coordinates (a level: its cover); default everywhere
  uint32_t first_frame = 0, last_frame = UINT32_MAX;  // inclusive, clamped to the image's frames
  uint32_t first_level = 0, last_level = kMaxPyramidLevels;  // inclusive; levels each frame has built
  CodecSpec codec;                          // the codec they get
  Filter filter = Filter::kShuffle;         // what the samples go through before the codec
  Progress progress;                        // chunks done and in all, after each batch
};
struct RecompressReport {
  uint64_t chunks = 0;     // chunks the selection shows
  uint64_t rewritten = 0;  // of which encoded anew (the rest had that encoding already)
  uint64_t bytes_before = 0, bytes_after = 0;  // their stored values
};

// What Container::materialize writes.
struct MaterializeOptions {
  std::optional<Region> region;  // default: the mapped image's extent (its sources', transformed)
  std::optional<CodecSpec> codec;  // default: the first source's codec
  // Rows done and in all, after each committed strip, on the calling thread.
  Progress progress;
};

class TESSERA_API Container {
 public:
  // Creates a new container; kAlreadyExists if `path` exists.
  static Result<Container> create(const std::string& path, const OpenOptions& options = {});
  // Opens an existing container; kNotFound if missing, kCorrupt if it is not a Tessera
  // container, kUnsupported if its format major version is unknown. Clears reader slots
  // left by dead processes.
  static Result<Container> open(const std::string& path, const OpenOptions& options = {});

  Container(Container&&) noexcept;
  Container& operator=(Container&&) noexcept;
  ~Container();

  // Rewrites the container at `path` without free pages or unreferenced chunks, through
  // LMDB's compacting copy: into a new file `out`, or with `out` empty in place of `path`
  // (written beside it, then renamed over it). Pixels, frames and caches are unchanged.
  // In place, the write lock is held throughout; processes that have the old file open keep
  // reading it undisturbed, and their next write transaction fails with kReadOnly (the file
  // was replaced): they must open it again. The old file's space is freed once the last of
  // them closes it. `progress` (on the calling thread, about ten times a second) gets the
  // bytes of the copy written so far and the size of the file's used pages, which the copy
  // does not exceed. Errors: kAlreadyExists (`out` exists), as open() and write.
  static Status compact(const std::string& path, const std::string& out = {},
                        const Progress& progress = {});
  // Deletes the container at `path`: the file and its lock file "FILE-lock". Processes that
  // have it open keep reading what they see until they close it. Errors: kNotFound (no file),
  // kInvalidArgument (the file is not a Tessera container: nothing is deleted), kIoError.
  static Status remove(const std::string& path);

  const std::string& path() const;
  FormatVersion format_version() const;
  // All zero when OpenOptions::tile_cache_bytes is 0.
  TileCacheStats tile_cache_stats() const;
  // All zero when OpenOptions::shared_cache is empty.
  SharedCacheStats shared_cache_stats() const;
  // Deletes the shared-memory cache `name` (processes using it keep their mapping until they
  // close). kNotFound when there is no such cache.
  static Status remove_shared_cache(const std::string& name);
  Result<Snapshot> snapshot() const;
  // Waits for the write lock (held by another WriteTxn in this or another process), up to
  // OpenOptions::write_wait; kBusy "... another writer holds the write lock (waited N ms)"
  // when it runs out.
  Result<WriteTxn> begin_write();
  // Runs `body` (on the calling thread) in a write transaction and commits it. When the map fills up the attempt is
  // aborted, the map is grown and `body` runs again, so `body` must be repeatable. When the
  // map cannot grow (OpenOptions::max_map_size) the result is kNoSpace naming the limit.
  Status write(const std::function<Status(WriteTxn&)>& body);
  // Adds a write of `region` of every band from `src` (`src_size` bytes laid out with `strides`)
  // to `out`, made for `image` as a snapshot or a transaction showed it (View::image): the
  // tiles the region covers whole are encoded here, on the worker pool, without a transaction;
  // the samples of tiles it covers in part are kept, read-modified-written when applied. Holds
  // one image's regions, none sharing a tile with another. Errors: kInvalidArgument (as write()
  // checks region, buffer and image; a region sharing a tile; `out` made for another image).
  Status prepare_write(const ImageInfo& image, const Region& region, const void* src, size_t src_size,
                       const Strides& strides, PreparedWrite& out) const;
  // Builds pyramid levels 1 .. options.levels of a frame of `image` (spec/FORMAT.md 5.6): each
  // level tile the reduction of the 2 x 2 tiles below it by options.resampling, stored as
  // ordinary tiles (deduplicated, uniform tiles inline). Runs in batches of about 256 MiB of
  // level tiles, each committed in its own write transaction (on the worker pool, memory
  // bounded by one batch's tiles), so an interrupted build keeps what it committed, its
  // finished levels readable; run again with the same options it goes on from there. A frame
  // whose levels are built with this rule is left alone: every write of level 0 keeps the
  // levels of its frame in step (the ancestors of the tiles it changed, level by level, in
  // its transaction). Another rule rebuilds every level; fewer levels make the rest
  // unreadable. Frames appended later inherit the levels with the pixels.
  // Errors: kNotFound (image, frame), kInvalidArgument (levels), as write().
  Status build_pyramid(std::string_view image, const PyramidOptions& options = {});
  // Encodes the chunks that the selected tiles of `image` show again with options.codec and
  // options.filter (compression tiers: hot areas LZ4, cold ones zstd). Pixels are unchanged.
  // A chunk is keyed by its content, so every tile that shares it, in any image or frame,
  // selected or not, gets the new encoding. Batches of about 64 MiB of raw bytes, each
  // committed; a run again after an interruption skips the chunks already encoded so. The
  // image's codec for new chunks stays. Errors: kNotFound (image), kInvalidArgument, as write().
  Result<RecompressReport> recompress(std::string_view image, const RecompressOptions& options);
  // Writes mapped image `mapped` out as the new ordinary image `image`: the mapped image's sample
  // type, bands and fill, the first source's tile size, its pixels over options.region (default
  // its extent, declared as the new image's tessera.extent). Streams: strips of whole tile rows,
  // about 64 MiB each, every strip read and written in its own committed transaction, so memory
  // stays bounded by one strip; an interruption leaves the strips committed so far (delete the
  // image's data by writing it again, or materialize under another name). Errors: kNotFound (no
  // mapped image `mapped`), kAlreadyExists (`image` exists), as read() and write().
  Status materialize(std::string_view mapped, std::string_view image, const MaterializeOptions& options = {});
  // The open snapshots of every process (this one's included) and the pages the oldest one
  // keeps from reuse.
  Result<ReaderReport> readers() const;
  // Makes every commit so far durable (fsync of the file): for a container opened with
  // OpenOptions::sync off, whose commits are otherwise only as durable as the operating
  // system's write-back. A no-op for a read-only container. Errors: kIoError, kNoSpace.
  Status flush();

 private:
  Container(std::shared_ptr<detail::Env> env, std::shared_ptr<detail::Runtime> runtime);
  static Result<Container> with_runtime(Result<std::shared_ptr<detail::Env>> env);
  std::shared_ptr<detail::Env> env_;
  std::shared_ptr<detail::Runtime> runtime_;
};

}  // namespace tessera
