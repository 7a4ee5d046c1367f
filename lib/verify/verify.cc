// tessera::verify: the LMDB page walk (store/lmdb_pages.cc) and, once it found the structure
// sound, every record checked through liblmdb opened read-only, by the invariants of
// spec/FORMAT.md section 6. Records are parsed with the functions the library reads them
// with (format/records.h, format/chunk_codec.h); what only verify checks is here.
//
// Streaming: each database is read once with a cursor, in key order. The only state kept
// across records is the image table (one entry per image, as every transaction loads it) and
// the chunk references of tile records, which go through a ReferenceSorter (fixed memory,
// sorted runs spilled to temporary files) and are merged with `chunks` and `refs` in key order.
#include "tessera/verify.h"

#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "format/attribute_record.h"
#include "format/names.h"
#include "format/pyramid_record.h"
#include "format/chunk_codec.h"
#include "format/mapped_record.h"
#include "format/keys.h"
#include "format/records.h"
#include "raster/tile_index.h"
#include "util/bytes.h"
#include "util/posix_file.h"
#include "store/faults.h"
#include "store/lmdb_pages.h"
#include "verify/pyramid_levels.h"
#include "verify/reference_sort.h"

namespace tessera {
namespace detail {
namespace {

constexpr uint8_t kMacroLevelBit = kMacroLevelFlag;

const uint8_t* bytes(const MDB_val& v) { return static_cast<const uint8_t*>(v.mv_data); }

// The liblmdb environment and read transaction over the file, closed on scope exit.
class LmdbSession {
 public:
  ~LmdbSession() {
    if (txn_) mdb_txn_abort(txn_);
    if (env_) mdb_env_close(env_);
  }
  Status open(const std::string& path) {
    int rc = mdb_env_create(&env_);
    if (rc == 0) rc = mdb_env_set_maxdbs(env_, 16);
    if (rc == 0)
      rc = mdb_env_open(env_, path.c_str(),
                        MDB_RDONLY | MDB_NOSUBDIR | MDB_NOTLS, 0644);
    if (rc == 0) rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn_);
    if (rc != 0) return Status(Code::kIoError, path + ": liblmdb cannot open it: " + mdb_strerror(rc));
    return Status::ok();
  }
  MDB_txn* txn() const { return txn_; }

 private:
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
};

class RecordChecker {
 public:
  RecordChecker(std::string path, MDB_txn* txn, FaultSink& sink, VerifyReport& report, const VerifyOptions& options)
      : path_(std::move(path)), txn_(txn), sink_(sink), report_(report), options_(options),
        sorter_(options.sort_memory_bytes) {}

  Status run() {
    if (!open_databases() || !check_meta()) return Status::ok();
    for (MDB_dbi dbi : {images_db_, tiles_, chunks_, refs_}) count_entries(dbi);
    if (has_geometry_) count_entries(geometry_);
    if (has_attributes_) count_entries(attributes_);
    if (has_ref_checks_) count_entries(ref_checks_);
    check_images();
    TESSERA_RETURN_IF_ERROR(check_tiles());
    TESSERA_RETURN_IF_ERROR(check_chunks());
    check_ref_checks();
    check_geometry();
    check_attributes();
    check_pyramids();
    check_mapped_images();
    note_unfinished_imports();
    if (options_.progress) options_.progress(records_total_, records_total_);
    return Status::ok();
  }

 private:
  // ---- where a fault is

  struct TileWhere {
    std::string image;  // the name, or "#id" for an id not in `images`
    bool known = false;
    uint32_t frame = 0;
    TileCoord tile;
    bool macro = false;
  };
  void tile_fault(const TileWhere& w, const char* invariant, const std::string& what,
                  const ChunkKey* chunk = nullptr) {
    Fault f;
    f.invariant = invariant;
    f.image = w.image;
    f.frame = w.frame;
    f.tile = std::make_pair(w.tile.x, w.tile.y);
    if (chunk) f.chunk_hex = chunk_key_hex(*chunk);
    f.message = "image " + (w.known ? "'" + w.image + "'" : w.image) + (w.macro ? " macro block (" : " tile (") +
                std::to_string(w.tile.x) + "," + std::to_string(w.tile.y) + ") frame " +
                std::to_string(w.frame) + (chunk ? ": chunk " + *f.chunk_hex : "") + ": " + what;
    sink_.add(std::move(f));
  }
  void chunk_fault(const ChunkKey& key, const char* invariant, const std::string& what) {
    Fault f;
    f.invariant = invariant;
    f.chunk_hex = chunk_key_hex(key);
    f.message = "chunk " + *f.chunk_hex + ": " + what;
    sink_.add(std::move(f));
  }
  // `image`: the name, or nullptr when the record has none that can be read (then `label`).
  void image_fault(const std::string* image, const std::string& label, const char* invariant,
                   const std::string& what) {
    Fault f;
    f.invariant = invariant;
    if (image) f.image = *image;
    f.message = "image " + (image ? "'" + *image + "'" : label) + ": " + what;
    sink_.add(std::move(f));
  }
  // liblmdb failed on a structure the page walk accepted.
  void lmdb_fault(const char* db, int rc) {
    sink_.add("LMDB_PAGE_VALID", std::string("liblmdb failed reading database '") + db +
                                     "': " + mdb_strerror(rc));
  }

  // Calls body(key, value) for every entry of `dbi` in key order; a Status from body stops
  // the scan and is returned (an error examining the file, not a fault).
  template <typename Body>
  Status for_each(MDB_dbi dbi, const char* db, Body body) {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbi, &cursor);
    if (rc != 0) {
      lmdb_fault(db, rc);
      return Status::ok();
    }
    MDB_val k, v;
    Status status;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0 && status.is_ok();
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      status = body(k, v);
      record_checked();
    }
    mdb_cursor_close(cursor);
    if (status.is_ok() && rc != MDB_NOTFOUND) lmdb_fault(db, rc);
    return status;
  }

  void record_checked() {
    if (++records_done_ % 4096 == 0 && options_.progress)
      options_.progress(std::min(records_done_, records_total_), records_total_);
  }
  // For progress: the records a database holds, as its LMDB descriptor says.
  void count_entries(MDB_dbi dbi) {
    MDB_stat stat;
    if (mdb_stat(txn_, dbi, &stat) == 0) records_total_ += stat.ms_entries;
  }

  // ---- DATABASES_PRESENT

  bool open_databases() {
    struct Named {
      const char* name;
      MDB_dbi* dbi;
    } dbs[] = {{kMetaDb, &meta_}, {kImagesDb, &images_db_}, {kTilesDb, &tiles_},
               {kChunksDb, &chunks_}, {kRefsDb, &refs_}};
    bool all = true;
    for (auto& db : dbs) {
      const int rc = mdb_dbi_open(txn_, db.name, 0, db.dbi);
      if (rc == 0) continue;
      all = false;
      sink_.add("DATABASES_PRESENT",
                std::string("database '") + db.name + "' " +
                    (rc == MDB_NOTFOUND ? "is missing" : std::string("cannot be opened: ") + mdb_strerror(rc)));
    }
    has_geometry_ = mdb_dbi_open(txn_, kGeometryDb, 0, &geometry_) == 0;
    has_attributes_ = mdb_dbi_open(txn_, kAttributesDb, 0, &attributes_) == 0;
    has_ref_checks_ = mdb_dbi_open(txn_, kRefChecksDb, 0, &ref_checks_) == 0;
    return all;  // without all five the records cannot be interpreted
  }

  // ---- META_*

  bool check_meta() {
    MDB_val key{kFormatKey.size(), const_cast<char*>(kFormatKey.data())}, value;
    const int rc = mdb_get(txn_, meta_, &key, &value);
    if (rc != 0) {
      sink_.add("META_RECORD_VALID", rc == MDB_NOTFOUND
                                         ? std::string("meta[\"format\"] is missing")
                                         : std::string("meta[\"format\"]: ") + mdb_strerror(rc));
      return false;
    }
    auto header = read_format_header(bytes(value), value.mv_size);
    if (!header) {
      sink_.add("META_RECORD_VALID", "meta[\"format\"]: " + header.status().message());
      return false;
    }
    if (header->magic != kFormatMagic)
      sink_.add("META_MAGIC", "meta[\"format\"] magic is '" + header->magic + "', not 'tessera'");
    version_ = header->version();
    // What open refuses, verify reports: each database the file's version has.
    if (!has_geometry_ && version_ > FormatVersion{1, 0})
      sink_.add("DATABASES_PRESENT", "database 'geometry' is missing (format " +
                                         to_string(version_) + " has one)");
    if (!has_ref_checks_ && format_checks_images_and_counts(version_))
      sink_.add("DATABASES_PRESENT", "database 'ref_checks' is missing (format " + to_string(version_) + " has one)");
    if (!has_attributes_ && version_ >= FormatVersion{2, 1})
      sink_.add("DATABASES_PRESENT", "database 'attributes' is missing (format " +
                                         to_string(version_) + " has one)");
    if (!format_is_known(version_)) {
      sink_.add("META_VERSION", "format version " + to_string(version_) +
                                    " has an unknown major version: records not checked");
      return false;
    }
    return true;
  }

  // ---- IMAGE_*

  void check_images() {
    std::set<std::string> names;
    (void)for_each(images_db_, kImagesDb, [&](const MDB_val& k, const MDB_val& v) {
      ++report_.images;
      const std::string key_hex = hex_of(bytes(k), k.mv_size);
      auto info = parse_image_record(bytes(v), v.mv_size, format_checks_images_and_counts(version_));
      if (!info) {
        image_fault(nullptr, "under key " + key_hex, "IMAGE_RECORD_VALID", info.status().message());
        return Status::ok();
      }
      const std::string* label = &info->name;
      if (k.mv_size != kImageKeySize || get_be32(bytes(k)) != info->id) {
        image_fault(label, "", "IMAGE_KEY_MATCHES_ID",
                    "stored under key " + key_hex + " but its id is " + std::to_string(info->id));
        if (k.mv_size != kImageKeySize) return Status::ok();
      }
      if (info->name.empty() || info->name.size() > kMaxImageNameBytes)
        image_fault(label, "", "IMAGE_NAME_VALID",
                    "a name of " + std::to_string(info->name.size()) + " bytes (1.." + std::to_string(kMaxImageNameBytes) + " allowed)");
      else if (std::any_of(info->name.begin(), info->name.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
        image_fault(label, "", "IMAGE_NAME_VALID", "the name has a control character");
      else if (!names.insert(info->name).second)
        image_fault(label, "", "IMAGE_NAME_VALID", "the name is used by another image too");
      if (!format_holds_filter(version_, info->spec.filter))
        image_fault(label, "", "FORMAT_HOLDS_FILTER",
                    "asks for the delta filter in a file of format version " + to_string(version_));
      images_.emplace(get_be32(bytes(k)), ImageFacts{*info, layout_id(*info)});
      return Status::ok();
    });
  }

  // Layouts for the deep uniformity check, shared by images that tile alike.
  uint32_t layout_id(const ImageInfo& info) {
    const auto key = std::make_tuple(info.spec.storage, sample_size(info.spec.type), info.spec.bands,
                                     info.spec.tile_size);
    auto [it, inserted] = layout_ids_.emplace(key, uint32_t(layouts_.size()));
    if (inserted) layouts_.emplace_back(info);
    return it->second;
  }

  // ---- TILE_*, FRAME_*, CHUNK_EXISTS, CHUNK_RAW_SIZE_MATCHES_IMAGE

  Status check_tiles() {
    return for_each(tiles_, kTilesDb, [&](const MDB_val& k, const MDB_val& v) {
      return check_tile(k, v);
    });
  }

  Status check_tile(const MDB_val& k, const MDB_val& v) {
    ++report_.tile_records;
    if (k.mv_size != kTileKeySize) {
      Fault f;
      f.invariant = "TILE_KEY_SIZE";
      f.message = "tiles key " + hex_of(bytes(k), k.mv_size) + " is " + std::to_string(k.mv_size) +
                  " bytes, not 25";
      sink_.add(std::move(f));
      return Status::ok();
    }
    TileKeyBytes key;
    std::memcpy(key.data(), k.mv_data, kTileKeySize);
    const TileKey tk = decode_tile_key(key.data());
    const auto image = images_.find(tk.image);
    const bool known = image != images_.end();
    TileWhere where{known ? image->second.info.name : "#" + std::to_string(tk.image), known,
                    tk.frame, tk.tile, (tk.level & kMacroLevelBit) != 0};
    if (where.macro) ++report_.macro_records;

    if (image == images_.end())
      tile_fault(where, "TILE_KEY_IMAGE_EXISTS", "no image has id " + std::to_string(tk.image));
    // Pyramid levels 1..kMaxPyramidLevels (and their macro blocks) exist from 2.2 on; before,
    // only level 0. Newer minors may use more: their records are still tile records.
    const uint32_t level = tk.level & ~kMacroLevelBit;
    if (format_is_writable(version_) &&  // a version this build knows all of
        (version_ < FormatVersion{2, 2} ? level != 0 : level > kMaxPyramidLevels))
      tile_fault(where, "TILE_LEVEL_KNOWN", "level byte " + std::to_string(tk.level) +
                                                " in a file of format version " + to_string(version_));
    if (image != images_.end() && tk.frame >= image->second.info.frames)
      tile_fault(where, "FRAME_WITHIN_COUNT",
                 "the image has " + std::to_string(image->second.info.frames) + " frames");

    auto fields = read_tile_record(bytes(v), v.mv_size);
    if (!fields) {
      tile_fault(where, "TILE_RECORD_VALID", fields.status().message());
      return Status::ok();
    }
    if (fields->kind > static_cast<uint8_t>(TileKind::kChunk)) {
      tile_fault(where, "TILE_RECORD_VALID", "kind " + std::to_string(fields->kind) + " is unknown");
      return Status::ok();
    }
    if (tile_record_check(key, *fields) != fields->check)
      tile_fault(where, "TILE_RECORD_CHECKSUM",
                 "check does not match the record and the key it is stored under");
    const auto kind = static_cast<TileKind>(fields->kind);
    if (where.macro && kind != TileKind::kUniform)
      tile_fault(where, "MACRO_RECORD_UNIFORM",
                 "a macro-block record of kind " + std::to_string(fields->kind) + ", not uniform");
    if (kind == TileKind::kUniform && image != images_.end()) {
      const ImageInfo& info = image->second.info;
      if (fields->uniform.size() != info.pixel_bytes())
        tile_fault(where, "TILE_UNIFORM_SIZE",
                   "a uniform pixel of " + std::to_string(fields->uniform.size()) +
                       " bytes; pixels are " + std::to_string(info.pixel_bytes()));
      else if (fields->uniform == info.fill_pixel)
        tile_fault(where, "TILE_NOT_FILL", "the uniform pixel is the fill pixel");
    }
    if (kind != TileKind::kChunk) return Status::ok();
    if (fields->chunk.size() != kChunkKeySize) {
      tile_fault(where, "TILE_CHUNK_KEY_SIZE",
                 "a chunk key of " + std::to_string(fields->chunk.size()) + " bytes, not 17");
      return Status::ok();
    }
    // Counted whatever the checksum says: the count in `refs` counts what is stored.
    ChunkReference reference;
    std::memcpy(reference.key.data(), fields->chunk.data(), kChunkKeySize);
    reference.layout = image == images_.end() ? kNoLayout : image->second.layout;
    ++report_.references;
    TESSERA_RETURN_IF_ERROR(sorter_.add(reference));
    check_chunk_of_tile(where, reference.key, image == images_.end() ? nullptr : &image->second.info);
    return Status::ok();
  }

  void check_chunk_of_tile(const TileWhere& where, const ChunkKey& chunk, const ImageInfo* info) {
    MDB_val key{kChunkKeySize, const_cast<uint8_t*>(chunk.data())}, value;
    const int rc = mdb_get(txn_, chunks_, &key, &value);
    if (rc == MDB_NOTFOUND) {
      tile_fault(where, "CHUNK_EXISTS", "the chunk is not in 'chunks'", &chunk);
      return;
    }
    if (rc != 0) {
      lmdb_fault(kChunksDb, rc);
      return;
    }
    auto header = parse_chunk_header(bytes(value), value.mv_size);
    if (header && info && header->raw_size != info->tile_bytes())  // bad headers: CHUNK_HEADER_VALID
      tile_fault(where, "CHUNK_RAW_SIZE_MATCHES_IMAGE",
                 "raw size " + std::to_string(header->raw_size) + ", but the image's tiles are " +
                     std::to_string(info->tile_bytes()) + " bytes",
                 &chunk);
  }

  // ---- CHUNK_*, REFCOUNT_*: `chunks`, `refs` and the sorted references merged in key order

  // One cursor over `chunks` or `refs`, positioned on its next 17-byte key.
  struct KeyStream {
    MDB_cursor* cursor = nullptr;
    bool valid = false;
    ChunkKey key{};
    MDB_val value{};
  };
  void advance(KeyStream& s, MDB_cursor_op op, const char* db) {
    MDB_val k;
    for (;;) {
      const int rc = mdb_cursor_get(s.cursor, &k, &s.value, op);
      op = MDB_NEXT;
      if (rc == 0) record_checked();
      if (rc != 0) {
        if (rc != MDB_NOTFOUND) lmdb_fault(db, rc);
        s.valid = false;
        return;
      }
      const bool is_chunks = db[0] == 'c';
      if (is_chunks) ++report_.chunks;
      if (k.mv_size == kChunkKeySize) break;
      Fault f;
      f.invariant = is_chunks ? "CHUNK_KEY_SIZE" : "REFCOUNT_HAS_CHUNK";
      f.message = std::string(db) + " key " + hex_of(bytes(k), k.mv_size) + " is " +
                  std::to_string(k.mv_size) + " bytes, not a 17-byte chunk key";
      sink_.add(std::move(f));
    }
    std::memcpy(s.key.data(), k.mv_data, kChunkKeySize);
    s.valid = true;
  }

  Status check_chunks() {
    TESSERA_RETURN_IF_ERROR(sorter_.finish());
    KeyStream chunks, refs;
    int rc = mdb_cursor_open(txn_, chunks_, &chunks.cursor);
    if (rc == 0) rc = mdb_cursor_open(txn_, refs_, &refs.cursor);
    if (rc != 0) {
      lmdb_fault(kChunksDb, rc);
      if (chunks.cursor) mdb_cursor_close(chunks.cursor);
      return Status::ok();
    }
    advance(chunks, MDB_FIRST, kChunksDb);
    advance(refs, MDB_FIRST, kRefsDb);
    ChunkReference pending;
    auto more = sorter_.next(&pending);
    Status status = more.status();
    std::vector<uint32_t> layouts;
    while (status.is_ok() && (chunks.valid || refs.valid || *more)) {
      ChunkKey key{};
      bool first = true;
      for (const ChunkKey* k : {chunks.valid ? &chunks.key : nullptr, refs.valid ? &refs.key : nullptr,
                                *more ? &pending.key : nullptr})
        if (k && (first || *k < key)) key = *k, first = false;
      uint64_t referenced = 0;
      layouts.clear();
      while (*more && pending.key == key) {
        ++referenced;
        if (pending.layout != kNoLayout && (layouts.empty() || layouts.back() != pending.layout))
          layouts.push_back(pending.layout);
        more = sorter_.next(&pending);
        if (!more) status = more.status();
        if (!more) break;
      }
      if (!status.is_ok()) break;
      const bool in_chunks = chunks.valid && chunks.key == key;
      const bool in_refs = refs.valid && refs.key == key;
      if (in_chunks) {
        check_chunk_value(key, chunks.value, layouts);
        if (referenced == 0) chunk_fault(key, "CHUNK_REFERENCED", "no tile record references it");
        if (!in_refs)
          chunk_fault(key, "REFCOUNT_MATCHES",
                      "no count in 'refs'; " + std::to_string(referenced) + " tile records reference it");
      }
      if (in_refs) {
        if (refs.value.mv_size != 8) {
          chunk_fault(key, "REFCOUNT_SIZE",
                      "its count is " + std::to_string(refs.value.mv_size) + " bytes, not 8");
        } else if (has_ref_checks_ && !count_checked(key, get_le64(bytes(refs.value)))) {
          chunk_fault(key, "REFCOUNT_CHECKSUM",
                      "its count " + std::to_string(get_le64(bytes(refs.value))) + " has no matching check in 'ref_checks'");
        } else if (in_chunks && get_le64(bytes(refs.value)) != referenced) {
          chunk_fault(key, "REFCOUNT_MATCHES",
                      "'refs' counts " + std::to_string(get_le64(bytes(refs.value))) + "; " +
                          std::to_string(referenced) + " tile records reference it");
        }
        if (!in_chunks) chunk_fault(key, "REFCOUNT_HAS_CHUNK", "a count in 'refs' for a chunk not in 'chunks'");
      }
      if (in_chunks) advance(chunks, MDB_NEXT, kChunksDb);
      if (in_refs) advance(refs, MDB_NEXT, kRefsDb);
    }
    mdb_cursor_close(chunks.cursor);
    mdb_cursor_close(refs.cursor);
    return status;
  }

  // CHUNK_HEADER_VALID, CHUNK_CHECKSUM; deep: CHUNK_DECODES, CHUNK_CONTENT_HASH, TILE_CHUNK_NOT_UNIFORM.
  void check_chunk_value(const ChunkKey& key, const MDB_val& value,
                         const std::vector<uint32_t>& layouts) {
    auto info = parse_chunk_header(bytes(value), value.mv_size);
    if (!info) {
      chunk_fault(key, "CHUNK_HEADER_VALID", info.status().message());
      return;
    }
    if (info->reserved != 0 || (info->sample_size != 1 && info->sample_size != 2 &&
                                info->sample_size != 4 && info->sample_size != 8)) {
      chunk_fault(key, "CHUNK_HEADER_VALID",
                  "reserved " + std::to_string(info->reserved) + " (must be 0), sample size " +
                      std::to_string(info->sample_size) + " (must be 1, 2, 4 or 8)");
      return;
    }
    if (!format_holds_filter(version_, info->filter))
      chunk_fault(key, "FORMAT_HOLDS_FILTER",
                  std::string(filter_name(info->filter)) + " filter in a file of format version " +
                      to_string(version_));
    if (Status sums = check_chunk_checksums(bytes(value), *info); !sums.is_ok()) {
      chunk_fault(key, "CHUNK_CHECKSUM", sums.message());
      return;
    }
    if (!options_.deep) return;
    if (info->raw_size > kMaxTileBytes) {
      chunk_fault(key, "CHUNK_DECODES", "raw size " + std::to_string(info->raw_size) +
                                            " exceeds the largest tile (2^28 bytes)");
      return;
    }
    tile_.resize(info->raw_size);
    Status decoded = decode_chunk(bytes(value), value.mv_size, tile_.data(), info->raw_size);
    if (!decoded.is_ok()) {
      chunk_fault(key, "CHUNK_DECODES", decoded.message());
      return;
    }
    const ContentHash hash = content_hash(tile_.data(), info->raw_size);
    if (make_chunk_key(hash.hi, hash.lo, key[kChunkKeySize - 1]) != key)
      chunk_fault(key, "CHUNK_CONTENT_HASH",
                  "the decoded bytes hash to " + chunk_key_hex(make_chunk_key(hash.hi, hash.lo, 0))
                                                     .substr(0, 32));
    std::vector<uint8_t> pixel;
    for (uint32_t id : layouts) {
      const TileLayout& layout = layouts_[id];
      if (layout.tile_bytes() == info->raw_size && uniform_pixel(layout, tile_.data(), pixel))
        chunk_fault(key, "TILE_CHUNK_NOT_UNIFORM",
                    "the tile is uniform (pixel " + hex_of(pixel.data(), pixel.size()) +
                        ") for images of " + std::to_string(layout.bands) + " bands, tile size " +
                        std::to_string(layout.tile_size));
    }
  }

  // ---- geometry (minor version 1)

  // GEOMETRY_*: every record is well formed, belongs to a frame that exists, and no cache
  // claims a generation newer than its frame's (the operative record's) or the file's.
  void check_geometry() {
    if (!has_geometry_) return;
    uint64_t file_generation = 0;
    {
      MDB_val key{kGenerationKey.size(), const_cast<char*>(kGenerationKey.data())}, value;
      if (mdb_get(txn_, meta_, &key, &value) == 0) {
        if (value.mv_size == 8) file_generation = get_le64(bytes(value));
        else sink_.add("GEOMETRY_GENERATION", "meta 'generation' is " + std::to_string(value.mv_size) + " bytes, not 8");
      }
    }
    // The operative record of the frame being scanned: (image id, frame) and its generation.
    std::optional<std::pair<uint64_t, uint64_t>> operative;
    (void)for_each(geometry_, kGeometryDb, [&](const MDB_val& k, const MDB_val& v) {
      ++report_.geometry_records;
      if (k.mv_size != kGeometryKeySize) {
        sink_.add("GEOMETRY_KEY_VALID", "a geometry key of " + std::to_string(k.mv_size) + " bytes, not 9");
        return Status::ok();
      }
      GeometryKey key;
      std::memcpy(key.data(), k.mv_data, kGeometryKeySize);
      const uint32_t id = get_be32(key.data()), frame = get_be32(key.data() + 4);
      const uint8_t precision = key[8];
      auto image = images_.find(id);
      const std::string where = "image " + (image != images_.end() ? "'" + image->second.info.name + "'" : "#" + std::to_string(id)) +
                                " frame " + std::to_string(frame) + " geometry " + std::to_string(precision);
      auto fault = [&](const char* invariant, const std::string& what) {
        Fault f;
        f.invariant = invariant;
        if (image != images_.end()) f.image = image->second.info.name;
        f.frame = frame;
        f.message = where + ": " + what;
        sink_.add(std::move(f));
      };
      if (precision > 3) fault("GEOMETRY_KEY_VALID", "unknown precision");
      if (image == images_.end()) fault("GEOMETRY_KEY_VALID", "no image has this id");
      else if (frame >= image->second.info.frames) fault("GEOMETRY_KEY_VALID", "the image has " + std::to_string(image->second.info.frames) + " frames");
      auto value = parse_geometry_record(key, bytes(v), v.mv_size);
      if (!value) {
        fault("GEOMETRY_RECORD_VALID", value.status().message());
        return Status::ok();
      }
      // Keys sort by image, frame, precision: the operative record (0) comes first.
      const uint64_t frame_key = uint64_t(id) << 32 | frame;
      if (precision == 0) {
        operative = std::make_pair(frame_key, value->generation);
        if (value->generation > file_generation)
          fault("GEOMETRY_GENERATION", "generation " + std::to_string(value->generation) +
                                           " is newer than the file's " + std::to_string(file_generation));
      } else if (operative && operative->first == frame_key && value->generation > operative->second) {
        fault("GEOMETRY_GENERATION", "generation " + std::to_string(value->generation) +
                                         " is newer than its frame's " + std::to_string(operative->second));
      }
      return Status::ok();
    });
  }

  // ---- reference count checks (2.3, 3.1)

  // True when 'ref_checks' holds the check of `count` for chunk `key`.
  bool count_checked(const ChunkKey& key, uint64_t count) {
    MDB_val k{key.size(), const_cast<uint8_t*>(key.data())}, v;
    return mdb_get(txn_, ref_checks_, &k, &v) == 0 && v.mv_size == 8 && get_le64(bytes(v)) == ref_count_check(key, count);
  }

  // REFCOUNT_CHECKSUM: every check is of a count that exists (the counts' own checks are made
  // with them, in check_chunks).
  void check_ref_checks() {
    if (!has_ref_checks_) return;
    (void)for_each(ref_checks_, kRefChecksDb, [&](const MDB_val& k, const MDB_val&) {
      MDB_val count;
      MDB_val key = k;
      if (mdb_get(txn_, refs_, &key, &count) != 0)
        sink_.add("REFCOUNT_CHECKSUM", "'ref_checks' holds a check under key " + hex_of(bytes(k), k.mv_size) +
                                           ", which has no count in 'refs'");
      return Status::ok();
    });
  }

  // ---- attributes (format 2.1)

  // ATTRIBUTE_*: every key names an image that exists, the image itself or one of its frames,
  // and a valid name; every record passes its checks (type, fields, checksum); every name of
  // Tessera's ("tessera.") is one it knows, holding a value of its form.
  void check_attributes() {
    if (!has_attributes_) return;
    (void)for_each(attributes_, kAttributesDb, [&](const MDB_val& k, const MDB_val& v) {
      ++report_.attribute_records;
      auto key = parse_attribute_key(bytes(k), k.mv_size);
      if (!key) {
        sink_.add("ATTRIBUTE_KEY_VALID", key.status().message());
        return Status::ok();
      }
      auto image = images_.find(key->image);
      const bool known = image != images_.end();
      std::string where = "image " + (known ? "'" + image->second.info.name + "'" : "#" + std::to_string(key->image));
      if (key->scope != kImageScope) where += " frame " + std::to_string(key->scope);
      const Status named = check_attribute_name(key->name);
      where += " attribute " + (named ? "'" + key->name + "'"
                                      : "(hex) " + hex_of(reinterpret_cast<const uint8_t*>(key->name.data()),
                                                          key->name.size()));
      auto fault = [&](const char* invariant, const std::string& what) {
        Fault f;
        f.invariant = invariant;
        if (known) f.image = image->second.info.name;
        if (key->scope != kImageScope) f.frame = key->scope;
        f.message = where + ": " + what;
        sink_.add(std::move(f));
      };
      if (!known) fault("ATTRIBUTE_KEY_VALID", "no image has this id");
      else if (key->scope != kImageScope && key->scope >= image->second.info.frames)
        fault("ATTRIBUTE_KEY_VALID", "the image has " + std::to_string(image->second.info.frames) + " frames");
      if (!named) fault("ATTRIBUTE_NAME_VALID", named.message());
      auto value = parse_attribute_record({bytes(k), k.mv_size}, bytes(v), v.mv_size);
      if (!value) fault("ATTRIBUTE_RECORD_VALID", value.status().message());
      else if (Status own = check_tessera_attribute(key->name, *value); !own)
        fault("ATTRIBUTE_VALUE_VALID", own.message());
      return Status::ok();
    });
  }

  // ---- pyramid records (format 2.2)

  // PYRAMID_RECORD_VALID: every meta key "pyramid/" | image | frame is 16 bytes, names an image
  // and one of its frames, and holds a record that passes its checks.
  void check_pyramids() {
    (void)for_each(meta_, kMetaDb, [&](const MDB_val& k, const MDB_val& v) {
      const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (!key.starts_with(kPyramidKeyPrefix)) return Status::ok();
      ++report_.pyramid_records;
      auto fault = [&](const std::string& what, std::optional<std::string> image = {},
                       std::optional<uint32_t> frame = {}) {
        Fault f;
        f.invariant = "PYRAMID_RECORD_VALID";
        f.image = image;
        f.frame = frame;
        f.message = "meta key " + hex_of(bytes(k), k.mv_size) + ": " + what;
        sink_.add(std::move(f));
      };
      if (k.mv_size != kPyramidKeySize) {
        fault(std::to_string(k.mv_size) + " bytes, not " + std::to_string(kPyramidKeySize));
        return Status::ok();
      }
      const uint32_t id = get_be32(bytes(k) + kPyramidKeyPrefix.size());
      const uint32_t frame = get_be32(bytes(k) + kPyramidKeyPrefix.size() + 4);
      auto image = images_.find(id);
      if (image == images_.end()) {
        fault("no image has id " + std::to_string(id));
        return Status::ok();
      }
      const std::string& name = image->second.info.name;
      if (frame >= image->second.info.frames)
        fault("image '" + name + "' has " + std::to_string(image->second.info.frames) + " frames, not frame " +
                  std::to_string(frame), name, frame);
      auto value = parse_pyramid_record({bytes(k), k.mv_size}, bytes(v), v.mv_size);
      if (!value) fault("image '" + name + "' frame " + std::to_string(frame) + ": " + value.status().message(),
                        name, frame);
      return Status::ok();
    });
  }

  // ---- mapped images (format 2.4 and 3.2)

  // MAPPED_IMAGE_VALID: every meta key "mapped/" | name holds a record that passes its checks, in a
  // file of a version that has them, under a name no image has; each source is an image (with that
  // frame and bands) or a mapped image (frame 0) of this file; all give one sample type and band
  // count; the fill is one such pixel; and mapped images stand on each other without a cycle, at
  // most kMaxMappedDepth deep.
  void check_mapped_images() {
    struct Shape {
      DataType type;
      size_t bands;
    };
    std::map<std::string, MappedValue> mapped;
    (void)for_each(meta_, kMetaDb, [&](const MDB_val& k, const MDB_val& v) {
      auto name = mapped_name_of_key({bytes(k), k.mv_size});
      const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (!key.starts_with(kMappedKeyPrefix)) return Status::ok();
      ++report_.mapped_images;
      auto fault = [&](const std::string& what) { mapped_fault(name.value_or(""), what); };
      if (!name) return fault("a mapped image record has an empty name"), Status::ok();
      if (!format_holds_mapped(version_)) fault("format " + to_string(version_) + " holds no mapped images (2.4 and 3.2 do)");
      if (name->size() > kMaxImageNameBytes ||
          std::any_of(name->begin(), name->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
        fault("the name is over " + std::to_string(kMaxImageNameBytes) + " bytes or has a control character");
      for (const auto& [id, facts] : images_)
        if (facts.info.name == *name) fault("an image has this name too");
      auto value = parse_mapped_record({bytes(k), k.mv_size}, bytes(v), v.mv_size);
      if (!value) return fault(value.status().message()), Status::ok();
      mapped.emplace(*name, std::move(*value));
      return Status::ok();
    });
    // The shape each mapped image gives, depth first; nullopt for one that is at fault.
    std::map<std::string, std::optional<Shape>> shapes;
    std::vector<std::string> stack;
    std::function<std::optional<Shape>(const std::string&)> shape_of = [&](const std::string& name) -> std::optional<Shape> {
      if (auto known = shapes.find(name); known != shapes.end()) return known->second;
      const MappedValue& value = mapped.at(name);
      stack.push_back(name);
      std::optional<Shape> first;
      bool sound = true;
      for (const MappedSource& s : value.sources) {
        std::optional<Shape> source;
        const ImageInfo* image = nullptr;
        for (const auto& [id, facts] : images_)
          if (facts.info.name == s.image && !image) image = &facts.info;
        if (image) {
          if (s.frame >= image->frames)
            mapped_fault(name, "source '" + s.image + "' has no frame " + std::to_string(s.frame));
          for (uint32_t b : s.bands)
            if (b >= image->spec.bands) mapped_fault(name, "source '" + s.image + "' has no band " + std::to_string(b));
          source = Shape{image->spec.type, s.bands.empty() ? image->spec.bands : s.bands.size()};
        } else if (mapped.count(s.image)) {
          if (std::find(stack.begin(), stack.end(), s.image) != stack.end()) {
            mapped_fault(name, "mapped images stand on each other in a cycle through '" + s.image + "'");
          } else if (stack.size() >= kMaxMappedDepth) {
            mapped_fault(name, "mapped images stand on mapped images more than " + std::to_string(kMaxMappedDepth) + " deep");
          } else if (auto inner = shape_of(s.image)) {
            if (s.frame != 0) mapped_fault(name, "source '" + s.image + "' is a mapped image: frame 0 alone");
            for (uint32_t b : s.bands)
              if (b >= inner->bands) mapped_fault(name, "source '" + s.image + "' has no band " + std::to_string(b));
            source = Shape{inner->type, s.bands.empty() ? inner->bands : s.bands.size()};
          }
        } else {
          mapped_fault(name, "source '" + s.image + "' is not an image of this file");
        }
        if (!source) {
          sound = false;
          continue;
        }
        if (!first) first = source;
        if (source->type != first->type || source->bands != first->bands) {
          mapped_fault(name, "source '" + s.image + "' differs from the first in sample type or bands");
          sound = false;
        }
      }
      stack.pop_back();
      if (first && value.fill.size() != first->bands * sample_size(first->type)) {
        mapped_fault(name, "the fill is " + std::to_string(value.fill.size()) + " bytes, not one pixel");
        sound = false;
      }
      return shapes[name] = sound ? first : std::nullopt;
    };
    for (const auto& [name, value] : mapped) shape_of(name);
  }

  void mapped_fault(const std::string& name, const std::string& what) {
    Fault f;
    f.invariant = "MAPPED_IMAGE_VALID";
    f.image = name;
    f.message = "mapped image '" + name + "': " + what;
    sink_.add(std::move(f));
  }

  // Import records (meta "import/" | image | frame) of imports that did not finish: notices,
  // not faults (the pixels that arrived are as valid as any). Records that do not parse are
  // left alone: readers may ignore them (spec/FORMAT.md 4.1).
  void note_unfinished_imports() {
    (void)for_each(meta_, kMetaDb, [&](const MDB_val& k, const MDB_val& v) {
      const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (!key.starts_with(kImportKeyPrefix) || k.mv_size != kImportKeyPrefix.size() + 8) return Status::ok();
      auto image = images_.find(get_be32(bytes(k) + kImportKeyPrefix.size()));
      auto progress = parse_import_record(bytes(v), v.mv_size);
      if (image == images_.end() || !progress || progress->finished()) return Status::ok();
      const std::string& name = image->second.info.name;
      const uint32_t frame = get_be32(bytes(k) + kImportKeyPrefix.size() + 4);
      report_.notices.push_back("image '" + name + "' frame " + std::to_string(frame) + ": the import of " +
                                progress->source + " stopped at " + std::to_string(progress->blocks_done) + " of " +
                                std::to_string(progress->blocks_total) + " blocks (tessera import " + path_ + " " +
                                progress->source + " --image " + name + " --frame " + std::to_string(frame) +
                                " --resume completes it)");
      return Status::ok();
    });
  }

  static constexpr uint32_t kNoLayout = ~uint32_t(0);
  struct ImageFacts {
    ImageInfo info;
    uint32_t layout;
  };

  const std::string path_;
  MDB_txn* txn_;
  FaultSink& sink_;
  VerifyReport& report_;
  const VerifyOptions& options_;
  ReferenceSorter sorter_;
  MDB_dbi meta_ = 0, images_db_ = 0, tiles_ = 0, chunks_ = 0, refs_ = 0, geometry_ = 0;
  bool has_geometry_ = false;
  MDB_dbi attributes_ = 0, ref_checks_ = 0;
  bool has_ref_checks_ = false;
  bool has_attributes_ = false;
  uint64_t records_done_ = 0, records_total_ = 0;  // for options_.progress
  FormatVersion version_ = kFormatVersion;
  std::map<uint32_t, ImageFacts> images_;
  std::map<std::tuple<StorageLayout, size_t, uint32_t, uint32_t>, uint32_t> layout_ids_;
  std::vector<TileLayout> layouts_;
  AlignedBuffer tile_;  // one decoded tile (deep)
};

}  // namespace
}  // namespace detail

Result<VerifyReport> verify(const std::string& path, const VerifyOptions& options) {
  auto file = detail::File::open_for_reading(path);
  if (!file) return file.status();
  VerifyReport report;
  detail::FaultSink sink(report, options.max_faults);
  const detail::LmdbWalk walk = detail::walk_lmdb_file(file->fd(), sink);
  (void)file->close();  // opened for reading only: its close has nothing to report
  report.pages = walk.tree_pages;
  if (!walk.sound) return report;  // liblmdb must not see a file with a damaged structure

  {
    detail::LmdbSession session;
    TESSERA_RETURN_IF_ERROR(session.open(path));
    detail::RecordChecker checker(path, session.txn(), sink, report, options);
    const Status status = checker.run();
    if (!status.is_ok()) return status.with_context(path);
  }
  // The levels' content is read through the library, which needs sound records (and its own
  // open of the file, once verify's own is closed).
  if (options.deep && report.clean()) {
    const Status levels = detail::check_pyramid_levels(path, sink, report);
    if (!levels.is_ok()) sink.add("LEVEL_TILE_DOWNSAMPLE", levels.message());
  }
  return report;
}

}  // namespace tessera
