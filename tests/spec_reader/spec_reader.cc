// spec_reader.cc — see spec_reader.h. Every step names the section of spec/FORMAT.md it
// follows; nothing here comes from lib/.
#include "spec_reader/spec_reader.h"

#include <fcntl.h>
#include <flatbuffers/flatbuffers.h>
#include <lmdb.h>
#include <lz4.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "tessera_generated.h"

namespace spec_reader {
namespace {

// ---- bytes (section 1: values are only 2-byte aligned in the map, so assemble integers)

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t le64(const uint8_t* p) {
  return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32;
}
void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (24 - 8 * i));
}
void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (56 - 8 * i));
}

const uint8_t* bytes_of(const MDB_val& v) { return static_cast<const uint8_t*>(v.mv_data); }

Status fail(Outcome outcome, std::string message) { return Status{outcome, std::move(message)}; }
Status corrupt(std::string message) { return fail(Outcome::kCorrupt, std::move(message)); }
Status lmdb_failure(int rc, const std::string& what) {
  const Outcome outcome = rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID
                              ? Outcome::kCorrupt
                              : Outcome::kIoError;
  return fail(outcome, what + ": " + mdb_strerror(rc));
}

// A FlatBuffers record copied to aligned memory (section 1) and run through the Verifier
// (section 2) as table T.
template <typename T>
class Record {
 public:
  Record(const uint8_t* data, size_t size) : words_((size + 7) / 8 + 1) {
    if (size) std::memcpy(words_.data(), data, size);
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(words_.data()), size);
    valid_ = verifier.VerifyBuffer<T>(nullptr);
  }
  bool valid() const { return valid_; }
  const T* get() const { return flatbuffers::GetRoot<T>(words_.data()); }

 private:
  std::vector<uint64_t> words_;
  bool valid_ = false;
};

std::vector<uint8_t> bytes_of(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::vector<uint8_t>(v->begin(), v->end()) : std::vector<uint8_t>{};
}

// Section 4.2: sample sizes of the DataType values 0..9.
size_t sample_size_of(uint8_t dtype) {
  static const size_t sizes[] = {1, 2, 4, 8, 1, 2, 4, 8, 4, 8};
  return dtype < 10 ? sizes[dtype] : 0;
}

// Section 4.2: an image record and its key, checked; `check_required` from 2.3 and 3.1 on.
Status parse_image(const MDB_val& k, const MDB_val& v, bool check_required, Image* out) {
  Record<tessera::fb::Image> record(bytes_of(v), v.mv_size);
  if (!record.valid()) return corrupt("an images record fails the FlatBuffers Verifier");
  const tessera::fb::Image* r = record.get();
  Image image;
  image.id = r->id();
  image.name = r->name()->str();  // required: the Verifier refuses a record without it
  const std::string where = "image '" + image.name + "': ";
  if (r->check().has_value()) {
    const std::vector<uint8_t> fill = bytes_of(r->fill());
    if (*r->check() != image_record_check(r->id(), image.name, uint8_t(r->dtype()), r->bands(), r->tile_size_log2(),
                                          r->macro_tiles_log2(), fill, uint8_t(r->storage()), uint8_t(r->codec()),
                                          r->codec_level(), r->shuffle(), r->frames(), r->delta()))
      return corrupt(where + "its check does not match");
  } else if (check_required) {
    return corrupt(where + "no check, which 2.3 and 3.1 require");
  }
  if (k.mv_size != 4 || be32(bytes_of(k)) != image.id)
    return corrupt(where + "its key is not its id, 4 bytes BE");
  image.dtype = static_cast<uint8_t>(r->dtype());
  image.sample_size = sample_size_of(image.dtype);
  if (image.sample_size == 0) return corrupt(where + "unknown dtype " + std::to_string(image.dtype));
  image.bands = r->bands();
  if (image.bands < 1 || image.bands > 1024) return corrupt(where + "bands out of 1..1024");
  image.tile_size_log2 = r->tile_size_log2();
  if (image.tile_size_log2 < 4 || image.tile_size_log2 > 12) return corrupt(where + "tile_size_log2 out of 4..12");
  image.macro_tiles_log2 = r->macro_tiles_log2();
  if (image.macro_tiles_log2 > 8) return corrupt(where + "macro_tiles_log2 out of 0..8");
  image.storage = static_cast<uint8_t>(r->storage());
  if (image.storage > 1) return corrupt(where + "unknown storage");
  const auto codec = static_cast<uint8_t>(r->codec());
  if (codec > 2) return corrupt(where + "unknown codec");
  const int level = r->codec_level();
  if (codec == 2 ? (level < 0 || level > 22) : level != 0) return corrupt(where + "codec_level out of range");
  image.fill = bytes_of(r->fill());
  if (image.fill.size() != image.pixel_bytes()) return corrupt(where + "fill is not one pixel");
  if (image.tile_bytes() > (uint64_t(1) << 28)) return corrupt(where + "tile bytes exceed 2^28");
  image.frames = r->frames();
  *out = std::move(image);
  return Status{};
}

// Section 4.4.3: the byte shuffle's inverse over `size` bytes of samples of `s` bytes.
void unshuffle(const uint8_t* in, uint8_t* out, size_t size, size_t s) {
  const size_t n = size / s;
  for (size_t i = 0; i < n; ++i)
    for (size_t b = 0; b < s; ++b) out[i * s + b] = in[b * n + i];
  std::memcpy(out + n * s, in + n * s, size - n * s);
}

// Section 4.4.3: the delta filter's inverse: unshuffle (samples wider than a byte), then add
// to each sample the one `distance` samples before it (already restored), modulo 2^(8s).
void undelta(const uint8_t* in, uint8_t* out, size_t size, size_t s, size_t distance) {
  if (s > 1) unshuffle(in, out, size, s);
  else std::memcpy(out, in, size);
  const size_t n = size / s;
  for (size_t i = distance; i < n; ++i) {
    unsigned carry = 0;
    for (size_t b = 0; b < s; ++b) {
      const unsigned sum = unsigned(out[i * s + b]) + out[(i - distance) * s + b] + carry;
      out[i * s + b] = uint8_t(sum);
      carry = sum >> 8;
    }
  }
}

// Undoes filter 1 (shuffle) or 2 (delta).
void unfilter(uint8_t filter, const uint8_t* in, uint8_t* out, size_t size, size_t s, size_t distance) {
  if (filter == 1) unshuffle(in, out, size, s);
  else undelta(in, out, size, s, distance);
}

// The visible version's record (section 4.3.2), or a block record (4.3.3).
struct Version {
  uint32_t frame = 0;
  uint8_t kind = 0;  // 0 tombstone, 1 uniform, 2 chunk
  std::vector<uint8_t> uniform, chunk;
};

}  // namespace

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kNotFound: return "not found";
    case Outcome::kInvalidArgument: return "invalid argument";
    case Outcome::kCorrupt: return "corrupt";
    case Outcome::kUnsupported: return "unsupported";
    case Outcome::kIoError: return "I/O error";
  }
  return "?";
}

std::vector<uint8_t> tile_key(uint32_t image, uint8_t level, int64_t tx, int64_t ty, uint32_t frame) {
  // Section 4.3.1: flip the sign bits, interleave (bit 2i of M = bit i of ux, bit 2i+1 = bit i
  // of uy), store M big-endian, then ~frame big-endian.
  const uint64_t ux = uint64_t(tx) ^ (uint64_t(1) << 63), uy = uint64_t(ty) ^ (uint64_t(1) << 63);
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 64; ++i) {
    const uint64_t bx = (ux >> i) & 1, by = (uy >> i) & 1;
    const int m = 2 * i;  // bit m of M gets bx, bit m + 1 gets by
    if (m < 64) lo |= bx << m | by << (m + 1);
    else hi |= bx << (m - 64) | by << (m - 63);
  }
  std::vector<uint8_t> key(25);
  put_be32(key.data(), image);
  key[4] = level;
  put_be64(key.data() + 5, hi);
  put_be64(key.data() + 13, lo);
  put_be32(key.data() + 21, ~frame);
  return key;
}

uint64_t tile_record_check(const std::vector<uint8_t>& key, uint8_t kind,
                           const std::vector<uint8_t>& uniform, const std::vector<uint8_t>& chunk) {
  // Section 4.3.2: XXH3-64 of key || kind, then of uniform seeded with it, then of chunk.
  std::vector<uint8_t> head(key);
  head.push_back(kind);
  uint64_t h = XXH3_64bits(head.data(), head.size());
  h = XXH3_64bits_withSeed(uniform.data(), uniform.size(), h);
  return XXH3_64bits_withSeed(chunk.data(), chunk.size(), h);
}

uint64_t chunk_seed(const uint8_t* header) { return XXH3_64bits(header, 16); }

uint64_t image_record_check(uint32_t id, const std::string& name, uint8_t dtype, uint16_t bands,
                            uint8_t tile_size_log2, uint8_t macro_tiles_log2, const std::vector<uint8_t>& fill,
                            uint8_t storage, uint8_t codec, int8_t codec_level, bool shuffle, uint32_t frames,
                            bool delta) {
  // Section 4.2: XXH3-64 of the fields in order, fixed widths LE, name and fill after a u32 length.
  std::vector<uint8_t> b;
  const auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(uint8_t(v >> (8 * i)));
  };
  le(id, 4);
  le(name.size(), 4);
  b.insert(b.end(), name.begin(), name.end());
  le(dtype, 1);
  le(bands, 2);
  le(tile_size_log2, 1);
  le(macro_tiles_log2, 1);
  le(fill.size(), 4);
  b.insert(b.end(), fill.begin(), fill.end());
  le(storage, 1);
  le(codec, 1);
  le(uint8_t(codec_level), 1);
  le(shuffle, 1);
  le(frames, 4);
  le(delta, 1);
  return XXH3_64bits(b.data(), b.size());
}

struct Reader::Impl {
  MDB_env* env = nullptr;
  MDB_dbi meta = 0, images = 0, tiles = 0, chunks = 0;
  MDB_dbi attributes = 0;
  bool has_attributes = false;
  ZSTD_DCtx* zstd = nullptr;
  ~Impl() {
    if (zstd) ZSTD_freeDCtx(zstd);
    if (env) mdb_env_close(env);
  }
};

Reader::~Reader() = default;

Status Reader::open(const std::string& path, std::unique_ptr<Reader>* out) {
  // Section 1 (a): a regular file whose bytes 16..19 are de c0 ef be, before liblmdb sees it.
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Outcome::kNotFound, path + ": cannot open");
    struct stat st;
    uint8_t head[20] = {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    const ssize_t n = ::pread(fd, head, sizeof head, 0);
    ::close(fd);
    if (!regular) return fail(Outcome::kInvalidArgument, path + ": not a regular file");
    static const uint8_t magic[4] = {0xde, 0xc0, 0xef, 0xbe};
    if (n != ssize_t(sizeof head) || std::memcmp(head + 16, magic, 4) != 0)
      return corrupt(path + ": not an LMDB file");
  }
  std::unique_ptr<Reader> reader(new Reader);
  reader->impl_ = std::make_unique<Impl>();
  Impl& impl = *reader->impl_;
  int rc = mdb_env_create(&impl.env);
  if (rc == 0) rc = mdb_env_set_maxdbs(impl.env, 8);
  if (rc == 0) rc = mdb_env_open(impl.env, path.c_str(), MDB_NOSUBDIR | MDB_RDONLY, 0644);
  if (rc != 0) {
    if (impl.env) mdb_env_close(impl.env);
    impl.env = nullptr;
    return lmdb_failure(rc, path + ": open");
  }
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(impl.env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return lmdb_failure(rc, path + ": begin");
  // Section 1: the five databases (and geometry from 1.1 on) are named in the main database.
  struct Named {
    const char* name;
    MDB_dbi* dbi;
  } named[] = {{"meta", &impl.meta}, {"images", &impl.images}, {"tiles", &impl.tiles}, {"chunks", &impl.chunks}};
  MDB_dbi refs = 0, geometry = 0;
  for (const Named& db : named) {
    rc = mdb_dbi_open(txn, db.name, 0, db.dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return rc == MDB_NOTFOUND ? corrupt(path + ": no database '" + db.name + "': not a container")
                                : lmdb_failure(rc, path + ": open database");
    }
  }
  if (mdb_dbi_open(txn, "refs", 0, &refs) != 0) {
    mdb_txn_abort(txn);
    return corrupt(path + ": no database 'refs': not a container");
  }
  // Section 3: meta["format"], a FormatHeader with magic "tessera" and a known major.
  MDB_val key{6, const_cast<char*>("format")}, value;
  rc = mdb_get(txn, impl.meta, &key, &value);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? corrupt(path + ": no meta[\"format\"]: not a container")
                              : lmdb_failure(rc, path + ": read the format header");
  }
  {
    Record<tessera::fb::FormatHeader> header(bytes_of(value), value.mv_size);
    if (!header.valid() || !header.get()->magic() || header.get()->magic()->str() != "tessera") {
      mdb_txn_abort(txn);
      return corrupt(path + ": meta[\"format\"] is not a Tessera format header");
    }
    reader->major_ = header.get()->major();
    reader->minor_ = header.get()->minor();
  }
  if (reader->major_ < 1 || reader->major_ > 3) {
    mdb_txn_abort(txn);
    return fail(Outcome::kUnsupported, path + ": format version " + std::to_string(reader->major_) +
                                           "." + std::to_string(reader->minor_) + " is not supported");
  }
  rc = mdb_dbi_open(txn, "geometry", 0, &geometry);
  if (rc == MDB_NOTFOUND && !(reader->major_ == 1 && reader->minor_ == 0)) {
    mdb_txn_abort(txn);
    return corrupt(path + ": database 'geometry' is missing");
  }
  // Section 1: from 2.1 on, the attributes database.
  rc = mdb_dbi_open(txn, "attributes", 0, &impl.attributes);
  impl.has_attributes = rc == 0;
  if (rc == MDB_NOTFOUND && (reader->major_ == 3 || (reader->major_ == 2 && reader->minor_ >= 1))) {
    mdb_txn_abort(txn);
    return corrupt(path + ": database 'attributes' is missing");
  }
  // Handles opened in a read-only transaction are usable in later ones once it commits.
  rc = mdb_txn_commit(txn);
  if (rc != 0) return lmdb_failure(rc, path + ": commit");
  impl.zstd = ZSTD_createDCtx();
  *out = std::move(reader);
  return Status{};
}

namespace {

// A read-only transaction, aborted on scope exit.
struct ReadTxn {
  MDB_txn* txn = nullptr;
  ~ReadTxn() {
    if (txn) mdb_txn_abort(txn);
  }
};

Status load_images(MDB_txn* txn, MDB_dbi dbi, bool check_required, std::vector<Image>* out) {
  out->clear();
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cursor);
  if (rc != 0) return lmdb_failure(rc, "images cursor");
  MDB_val k, v;
  Status status;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    Image image;
    status = parse_image(k, v, check_required, &image);
    if (!status.ok()) break;
    out->push_back(std::move(image));
  }
  mdb_cursor_close(cursor);
  if (!status.ok()) return status;
  if (rc != MDB_NOTFOUND) return lmdb_failure(rc, "images");
  return Status{};
}

// Section 5.1 step 3/4: the newest record of one key group (a tile at level byte L, or a
// macro block at 0x80 | L) of frame <= f.
Status probe(MDB_cursor* cursor, const Image& image, uint8_t level, int64_t cx, int64_t cy,
             uint32_t frame, std::optional<Version>* out) {
  out->reset();
  const std::vector<uint8_t> key = tile_key(image.id, level, cx, cy, frame);
  MDB_val k{key.size(), const_cast<uint8_t*>(key.data())}, v;
  const int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) return Status{};
  if (rc != 0) return lmdb_failure(rc, "tiles");
  const std::string where = "image '" + image.name + "' " + (level & 0x80 ? "macro block (" : "tile (") +
                            std::to_string(cx) + "," + std::to_string(cy) + ") frame " + std::to_string(frame);
  if (k.mv_size < 21 || std::memcmp(k.mv_data, key.data(), 21) != 0) return Status{};
  if (k.mv_size != 25) return corrupt(where + ": a tiles key of " + std::to_string(k.mv_size) + " bytes");
  const std::vector<uint8_t> found(bytes_of(k), bytes_of(k) + 25);
  Version version;
  version.frame = ~be32(found.data() + 21);
  Record<tessera::fb::TileRecord> record(bytes_of(v), v.mv_size);
  if (!record.valid()) return corrupt(where + ": the record fails the FlatBuffers Verifier");
  const tessera::fb::TileRecord* r = record.get();
  version.kind = static_cast<uint8_t>(r->kind());
  version.uniform = bytes_of(r->uniform());
  version.chunk = bytes_of(r->chunk());
  if (tile_record_check(found, version.kind, version.uniform, version.chunk) != r->check())
    return corrupt(where + ": the record's check does not match (TILE_RECORD_CHECKSUM)");
  if (version.kind > 2) return corrupt(where + ": unknown kind " + std::to_string(version.kind));
  if (version.kind == 1 && version.uniform.size() != image.pixel_bytes())
    return corrupt(where + ": a uniform pixel of " + std::to_string(version.uniform.size()) + " bytes");
  if (version.kind == 2 && version.chunk.size() != 17)
    return corrupt(where + ": a chunk key of " + std::to_string(version.chunk.size()) + " bytes");
  *out = std::move(version);
  return Status{};
}

// Decodes `stored` bytes with `codec` into exactly `n` bytes at dst (section 4.4.3).
Status decode_codec(ZSTD_DCtx* zstd, uint8_t codec, const uint8_t* src, size_t stored, uint8_t* dst, size_t n) {
  if (stored > size_t(std::numeric_limits<int32_t>::max()))
    return corrupt("a block of more than 2^31 - 1 stored bytes");
  size_t produced = SIZE_MAX;
  if (codec == 0) {
    if (stored == n) std::memcpy(dst, src, n), produced = n;
  } else if (codec == 1) {
    const int r = LZ4_decompress_safe(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(dst),
                                      int(stored), int(n));
    if (r >= 0) produced = size_t(r);
  } else {
    const size_t r = ZSTD_decompressDCtx(zstd, dst, n, src, stored);
    if (!ZSTD_isError(r)) produced = r;
  }
  if (produced != n) return corrupt("the payload does not decode to exactly " + std::to_string(n) + " bytes");
  return Status{};
}

}  // namespace

namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(char(v >> (8 * i)));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char(v >> (8 * i)));
}

// Section 4.7: key, record, the one field of its type, the check over the canonical bytes.
Status parse_attribute(const MDB_val& k, const MDB_val& v, Attribute* a) {
  const auto* key = static_cast<const uint8_t*>(k.mv_data);
  if (k.mv_size < 9 || k.mv_size > 8 + 255) return corrupt("attribute key of " + std::to_string(k.mv_size) + " bytes");
  a->image = uint32_t(key[0]) << 24 | uint32_t(key[1]) << 16 | uint32_t(key[2]) << 8 | key[3];
  a->scope = uint32_t(key[4]) << 24 | uint32_t(key[5]) << 16 | uint32_t(key[6]) << 8 | key[7];
  a->name.assign(reinterpret_cast<const char*>(key + 8), k.mv_size - 8);
  const std::string where = "attribute '" + a->name + "' of image " + std::to_string(a->image);
  Record<tessera::fb::Attribute> record(bytes_of(v), v.mv_size);
  if (!record.valid()) return corrupt(where + ": not an Attribute");
  const tessera::fb::Attribute* r = record.get();
  a->type = uint8_t(r->type());
  const bool present[4] = {r->text() != nullptr, r->integers() != nullptr, r->reals() != nullptr,
                           r->texts() != nullptr};
  static const int kField[6] = {0, 1, 2, 3, 1, 2};  // the field each type keeps
  if (a->type > 5) return corrupt(where + ": unknown type");
  for (int f = 0; f < 4; ++f)
    if (present[f] != (f == kField[a->type])) return corrupt(where + ": fields do not match the type");
  std::string canonical(reinterpret_cast<const char*>(key), k.mv_size);
  canonical.push_back(char(a->type));
  if (a->type == 0) {
    a->text = r->text()->str();
    canonical += a->text;
  } else if (kField[a->type] == 1) {
    a->integers.assign(r->integers()->begin(), r->integers()->end());
    if (a->type == 1 && a->integers.size() != 1) return corrupt(where + ": an integer holds a list");
    put_u32(canonical, uint32_t(a->integers.size()));
    for (int64_t x : a->integers) put_u64(canonical, uint64_t(x));
  } else if (kField[a->type] == 2) {
    a->reals.assign(r->reals()->begin(), r->reals()->end());
    if (a->type == 2 && a->reals.size() != 1) return corrupt(where + ": a real holds a list");
    put_u32(canonical, uint32_t(a->reals.size()));
    for (double x : a->reals) {
      uint64_t bits;
      std::memcpy(&bits, &x, 8);
      put_u64(canonical, bits);
    }
  } else {
    put_u32(canonical, r->texts()->size());
    for (const auto* t : *r->texts()) {
      a->texts.push_back(t->str());
      put_u32(canonical, t->size());
      canonical += t->str();
    }
  }
  if (XXH3_64bits(canonical.data(), canonical.size()) != r->check()) return corrupt(where + ": check mismatch");
  return Status{};
}

}  // namespace

Status Reader::attributes(std::vector<Attribute>* out) const {
  out->clear();
  if (!impl_->has_attributes) return Status{};
  ReadTxn txn;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn.txn);
  if (rc != 0) return lmdb_failure(rc, "begin");
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn.txn, impl_->attributes, &cursor);
  if (rc != 0) return lmdb_failure(rc, "attributes cursor");
  MDB_val k, v;
  Status status;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0 && status.ok();
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    Attribute a;
    status = parse_attribute(k, v, &a);
    if (status.ok()) out->push_back(std::move(a));
  }
  mdb_cursor_close(cursor);
  if (!status.ok()) return status;
  if (rc != MDB_NOTFOUND) return lmdb_failure(rc, "attributes");
  return Status{};
}

Status Reader::images(std::vector<Image>* out) const {
  ReadTxn txn;
  const int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn.txn);
  if (rc != 0) return lmdb_failure(rc, "begin");
  return load_images(txn.txn, impl_->images, image_checks(), out);
}

// Section 4.1: the levels built for frame `frame` of `image` by its pyramid record (0 when
// there is none), the record checked (Verifier, ranges, check).
Status built_levels(MDB_txn* txn, MDB_dbi meta, const Image& image, uint32_t frame, uint32_t* levels) {
  std::vector<uint8_t> key = {'p', 'y', 'r', 'a', 'm', 'i', 'd', '/'};
  for (uint32_t v : {image.id, frame})
    for (int shift = 24; shift >= 0; shift -= 8) key.push_back(uint8_t(v >> shift));
  MDB_val k{key.size(), key.data()}, v;
  *levels = 0;
  const int rc = mdb_get(txn, meta, &k, &v);
  if (rc == MDB_NOTFOUND) return Status{};
  if (rc != 0) return lmdb_failure(rc, "meta");
  const std::string where = "image '" + image.name + "' frame " + std::to_string(frame) + " pyramid record";
  Record<tessera::fb::PyramidRecord> record(bytes_of(v), v.mv_size);
  if (!record.valid()) return corrupt(where + ": fails the FlatBuffers Verifier");
  const tessera::fb::PyramidRecord* r = record.get();
  std::vector<uint8_t> canonical = key;
  canonical.push_back(r->levels());
  canonical.push_back(uint8_t(r->resampling()));
  canonical.push_back(r->target());
  for (uint64_t n : {r->next_hi(), r->next_lo()})
    for (int i = 0; i < 8; ++i) canonical.push_back(uint8_t(n >> (8 * i)));
  if (XXH3_64bits(canonical.data(), canonical.size()) != r->check()) return corrupt(where + ": check mismatch");
  if (r->levels() > 62 || r->target() > 62 || uint8_t(r->resampling()) > 4 ||
      (r->target() != 0 && r->target() <= r->levels()))
    return corrupt(where + ": a field out of range");
  *levels = r->levels();
  return Status{};
}

Status Reader::read(const std::string& name, int64_t x0, int64_t y0, int64_t width, int64_t height,
                    uint32_t frame, const std::vector<uint32_t>& band_list, std::vector<uint8_t>* out,
                    uint32_t level) {
  ReadTxn txn;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn.txn);
  if (rc != 0) return lmdb_failure(rc, "begin");
  std::vector<Image> images;
  Status status = load_images(txn.txn, impl_->images, image_checks(), &images);
  if (!status.ok()) return status;
  // Section 4.2: the first record in key order (smallest id) with that name.
  const Image* found = nullptr;
  for (const Image& image : images)
    if (image.name == name) {
      found = &image;
      break;
    }
  if (!found) return fail(Outcome::kNotFound, "no image named '" + name + "'");
  const Image& image = *found;
  // Section 4.3.1: regions end at 2^63 - 1 at most.
  int64_t x_end = 0, y_end = 0;
  if (width <= 0 || height <= 0 || __builtin_add_overflow(x0, width, &x_end) ||
      __builtin_add_overflow(y0, height, &y_end))
    return fail(Outcome::kInvalidArgument, "region is empty or ends past 2^63 - 1");
  std::vector<uint32_t> bands = band_list;
  if (bands.empty())
    for (uint32_t b = 0; b < image.bands; ++b) bands.push_back(b);
  for (uint32_t b : bands)
    if (b >= image.bands) return fail(Outcome::kInvalidArgument, "band " + std::to_string(b) + " out of range");
  if (frame >= image.frames) return fail(Outcome::kNotFound, "no frame " + std::to_string(frame));
  if (level > 0) {
    uint32_t levels = 0;
    status = built_levels(txn.txn, impl_->meta, image, frame, &levels);
    if (!status.ok()) return status;
    if (level > levels) return fail(Outcome::kNotFound, "level " + std::to_string(level) + " is not built");
  }

  const size_t s = image.sample_size, nb = bands.size();
  const int shift = int(image.tile_size_log2), mshift = int(image.macro_tiles_log2);
  const int64_t T = int64_t(1) << shift;
  const bool planar = image.storage == 1;
  out->assign(size_t(width) * size_t(height) * nb * s, 0);
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn.txn, impl_->tiles, &cursor);
  if (rc != 0) return lmdb_failure(rc, "tiles cursor");
  struct CursorCloser {
    MDB_cursor* c;
    ~CursorCloser() { mdb_cursor_close(c); }
  } closer{cursor};
  std::vector<uint8_t> tile, scratch;

  for (int64_t ty = y0 >> shift; ty <= (y_end - 1) >> shift; ++ty)
    for (int64_t tx = x0 >> shift; tx <= (x_end - 1) >> shift; ++tx) {
      ++counters_.tiles;
      const std::string where = "image '" + name + "' tile (" + std::to_string(tx) + "," + std::to_string(ty) + ")";
      // Section 5.1 steps 3 and 4: the tile's own version and its macro block's, both probed.
      std::optional<Version> own, block;
      status = probe(cursor, image, uint8_t(level), tx, ty, frame, &own);
      if (!status.ok()) return status;
      status = probe(cursor, image, uint8_t(0x80 | level), tx >> mshift, ty >> mshift, frame, &block);
      if (!status.ok()) return status;
      if (block && block->kind != 1)
        return corrupt(where + ": its macro block's record is of kind " + std::to_string(block->kind) +
                       ", not uniform (MACRO_RECORD_UNIFORM)");
      const Version* visible = nullptr;
      const bool from_block = block && (!own || block->frame > own->frame);
      if (from_block) {
        visible = &*block;
        ++counters_.macro;
      } else {
        if (block) ++counters_.macro_hidden;
        if (own) visible = &*own;
      }
      if (visible && visible->frame < frame) ++counters_.inherited;

      // The part of the region this tile covers.
      const int64_t px0 = std::max(x0, tx * T), py0 = std::max(y0, ty * T);
      const int64_t px1 = std::min(x_end - 1, tx * T + (T - 1)), py1 = std::min(y_end - 1, ty * T + (T - 1));
      auto put = [&](int64_t px, int64_t py, size_t k, const uint8_t* sample) {
        std::memcpy(out->data() + ((size_t(py - y0) * size_t(width) + size_t(px - x0)) * nb + k) * s, sample, s);
      };
      if (!visible || visible->kind != 2) {
        const uint8_t* pixel = image.fill.data();
        if (!visible) ++counters_.absent;
        else if (visible->kind == 0) ++counters_.tombstones;
        else if (!from_block) ++counters_.uniform;
        if (visible && visible->kind == 1) pixel = visible->uniform.data();
        for (int64_t py = py0; py <= py1; ++py)
          for (int64_t px = px0; px <= px1; ++px)
            for (size_t k = 0; k < nb; ++k) put(px, py, k, pixel + bands[k] * s);
        continue;
      }

      // Section 4.4: the chunk.
      const std::string cwhere = where + " chunk";
      MDB_val ck{17, const_cast<uint8_t*>(visible->chunk.data())}, cv;
      rc = mdb_get(txn.txn, impl_->chunks, &ck, &cv);
      if (rc == MDB_NOTFOUND) return corrupt(cwhere + ": missing (CHUNK_EXISTS)");
      if (rc != 0) return lmdb_failure(rc, "chunks");
      const uint8_t* value = bytes_of(cv);
      const size_t size = cv.mv_size;
      // Section 4.4.2: the header, and the value's size.
      if (size < 24) return corrupt(cwhere + ": shorter than its header");
      const uint8_t version = value[0], codec = value[1], filter = value[2], sample = value[3];
      const uint32_t raw_size = le32(value + 4), stored_size = le32(value + 8), blocks = le32(value + 12);
      const uint64_t checksum = le64(value + 16);
      if (version != 1 && version != 2) return corrupt(cwhere + ": version " + std::to_string(version));
      if (codec > 2) return corrupt(cwhere + ": codec " + std::to_string(codec));
      if (filter > 2) return corrupt(cwhere + ": filter " + std::to_string(filter));
      if (filter == 1 && sample != 2 && sample != 4 && sample != 8)
        return corrupt(cwhere + ": shuffle with sample size " + std::to_string(sample));
      if (filter == 2 && sample != 1 && sample != 2 && sample != 4 && sample != 8)
        return corrupt(cwhere + ": delta with sample size " + std::to_string(sample));
      if (raw_size == 0) return corrupt(cwhere + ": raw size 0");
      // Version 1 with delta: bytes 12..15 are the distance, 1 .. raw_size / sample_size.
      const uint32_t distance = version == 1 && filter == 2 ? blocks : 1;
      if (distance == 0 || distance > raw_size / sample)
        return corrupt(cwhere + ": delta distance " + std::to_string(distance));
      if (version == 2 && (blocks < 2 || raw_size % blocks != 0))
        return corrupt(cwhere + ": " + std::to_string(blocks) + " blocks");
      if (version == 2 && uint64_t(stored_size) < 12 * uint64_t(blocks))
        return corrupt(cwhere + ": payload shorter than its block table");
      const uint64_t unpadded = 24 + uint64_t(stored_size);
      const bool padded = unpadded % 4096 == 0;
      if (size != unpadded + (padded ? 1 : 0)) return corrupt(cwhere + ": value size does not follow the header");
      if (padded && value[unpadded] != 0) return corrupt(cwhere + ": pad byte not zero");
      if (version == 1 && codec == 0 && stored_size != raw_size)
        return corrupt(cwhere + ": codec none with stored size != raw size");
      if (raw_size != image.tile_bytes()) return corrupt(cwhere + ": raw size is not the image's tile bytes");
      const uint64_t seed = chunk_seed(value);
      tile.assign(raw_size, 0);
      if (version == 1) {
        if (XXH3_64bits_withSeed(value + 24, stored_size, seed) != checksum)
          return corrupt(cwhere + ": checksum mismatch (CHUNK_CHECKSUM)");
        ++counters_.chunk_v1;
        ++(codec == 0 ? counters_.codec_none : codec == 1 ? counters_.codec_lz4 : counters_.codec_zstd);
        if (codec == 0 && filter == 0) ++counters_.raw_blocks;
        uint8_t* x = filter ? (scratch.assign(raw_size, 0), scratch.data()) : tile.data();
        status = decode_codec(impl_->zstd, codec, value + 24, stored_size, x, raw_size);
        if (!status.ok()) return corrupt(cwhere + ": " + status.message);
        if (filter) ++counters_.filtered, unfilter(filter, x, tile.data(), raw_size, sample, distance);
      } else {
        const uint8_t* table = value + 24;
        const uint64_t table_bytes = 12 * uint64_t(blocks);
        if (XXH3_64bits_withSeed(table, table_bytes, seed) != checksum)
          return corrupt(cwhere + ": block table checksum mismatch (CHUNK_CHECKSUM)");
        const uint32_t B = raw_size / blocks;
        std::vector<uint64_t> offsets;  // of each block, from the start of the value
        uint64_t offset = 24 + table_bytes;
        for (uint32_t i = 0; i < blocks; ++i) {
          const uint32_t stored = le32(table + 12 * i);
          if (stored < 1 || stored > B || (codec == 0 && stored != B))
            return corrupt(cwhere + ": block " + std::to_string(i) + " stores " + std::to_string(stored) + " bytes");
          offsets.push_back(offset);
          offset += stored;
        }
        if (offset != unpadded) return corrupt(cwhere + ": blocks do not add up to the payload");
        offsets.push_back(offset);
        // Section 5.1: block by block only for a planar image of several bands with blocks = bands.
        std::vector<uint32_t> wanted;
        if (planar && image.bands > 1 && blocks == image.bands) {
          ++counters_.chunk_v2_by_band;
          for (uint32_t b : bands)
            if (std::find(wanted.begin(), wanted.end(), b) == wanted.end()) wanted.push_back(b);
        } else {
          ++counters_.chunk_v2_whole;
          for (uint32_t i = 0; i < blocks; ++i) wanted.push_back(i);
        }
        for (uint32_t i : wanted) {
          const uint8_t* block = value + offsets[i];
          const uint32_t stored = uint32_t(offsets[i + 1] - offsets[i]);
          if (XXH3_64bits_withSeed(block, stored, seed + i) != le64(table + 12 * i + 4))
            return corrupt(cwhere + ": block " + std::to_string(i) + " checksum mismatch (CHUNK_CHECKSUM)");
          uint8_t* dst = tile.data() + size_t(i) * B;
          if (stored == B) {  // stored raw, unfiltered, whatever the header says
            ++counters_.raw_blocks;
            std::memcpy(dst, block, B);
            continue;
          }
          ++(codec == 1 ? counters_.codec_lz4 : counters_.codec_zstd);
          uint8_t* x = filter ? (scratch.assign(B, 0), scratch.data()) : dst;
          status = decode_codec(impl_->zstd, codec, block, stored, x, B);
          if (!status.ok()) return corrupt(cwhere + ": block " + std::to_string(i) + ": " + status.message);
          if (filter) ++counters_.filtered, unfilter(filter, x, dst, B, sample, 1);
        }
      }
      // Section 4.4.4: sample (x, y, b) of the raw tile.
      for (int64_t py = py0; py <= py1; ++py)
        for (int64_t px = px0; px <= px1; ++px) {
          const uint64_t lx = uint64_t(px) & uint64_t(T - 1), ly = uint64_t(py) & uint64_t(T - 1);
          for (size_t k = 0; k < nb; ++k) {
            const uint64_t b = bands[k];
            const uint64_t offset = planar ? ((b * T + ly) * T + lx) * s : ((ly * T + lx) * image.bands + b) * s;
            put(px, py, k, tile.data() + offset);
          }
        }
    }
  return Status{};
}

}  // namespace spec_reader
