// lmdb.cc — the simplest store a user could build from the same parts as Tessera: plain LMDB,
// one value per 256 x 256 chunky tile holding LZ4_compress_default of the tile's BIP bytes
// ("lmdb lz4"), or the bytes themselves, read zero-copy from the map ("lmdb none"), keyed by
// (tile row, tile column) big-endian. No checksums, no dedup, no shuffle. Written with one
// transaction per strip (MDB_NOSYNC), read through one read transaction.
#include <lmdb.h>
#include <lz4.h>

#include <cstring>
#include <memory>
#include <vector>

#include "../peer.h"

namespace tessera::bench {
namespace {

Status mdb_error(const std::string& path, const char* what, int rc) {
  return Status(Code::kIoError, path + ": lmdb: " + what + ": " + mdb_strerror(rc));
}

void tile_key(int64_t tx, int64_t ty, uint8_t out[8]) {
  const uint32_t a = uint32_t(ty), b = uint32_t(tx);
  for (int i = 0; i < 4; ++i) {
    out[i] = uint8_t(a >> (24 - 8 * i));
    out[4 + i] = uint8_t(b >> (24 - 8 * i));
  }
}

Result<MDB_env*> open_env(const std::string& path, bool read_only) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc == 0) rc = mdb_env_set_mapsize(env, size_t(1) << 40);
  if (rc == 0)
    rc = mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_NOSYNC | (read_only ? MDB_RDONLY : 0), 0644);
  if (rc != 0) {
    if (env) mdb_env_close(env);
    return mdb_error(path, "mdb_env_open", rc);
  }
  return env;
}

class LmdbWriter : public PeerWriter {
 public:
  LmdbWriter(MDB_env* env, std::string path, Shape sh, bool lz4)
      : env_(env), path_(std::move(path)), sh_(sh), lz4_(lz4), tile_(size_t(sh.tile) * sh.tile * sh.pixel_bytes()),
        packed_(size_t(LZ4_compressBound(int(tile_.size())))) {}
  ~LmdbWriter() override {
    if (env_) mdb_env_close(env_);
  }
  Status write_strip(int64_t y, int64_t rows, const uint8_t* bip) override {
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
    if (rc != 0) return mdb_error(path_, "begin", rc);
    const size_t px = sh_.pixel_bytes(), T = sh_.tile, line = size_t(sh_.width) * px;
    for (int64_t tx = 0; tx * int64_t(T) < sh_.width; ++tx) {
      std::memset(tile_.data(), 0, tile_.size());
      const size_t w = size_t(std::min<int64_t>(int64_t(T), sh_.width - tx * int64_t(T)));
      for (int64_t v = 0; v < std::min<int64_t>(int64_t(T), rows); ++v)
        std::memcpy(tile_.data() + size_t(v) * T * px, bip + size_t(v) * line + size_t(tx) * T * px, w * px);
      uint8_t k[8];
      tile_key(tx, y / int64_t(T), k);
      MDB_val key{8, k}, val{tile_.size(), tile_.data()};
      if (lz4_)
        val = {size_t(LZ4_compress_default(reinterpret_cast<const char*>(tile_.data()), packed_.data(),
                                           int(tile_.size()), int(packed_.size()))),
               packed_.data()};
      rc = mdb_put(txn, dbi, &key, &val, 0);
      if (rc != 0) {
        mdb_txn_abort(txn);
        return mdb_error(path_, "mdb_put", rc);
      }
    }
    rc = mdb_txn_commit(txn);
    return rc == 0 ? Status::ok() : mdb_error(path_, "commit", rc);
  }
  Status finish() override {
    mdb_env_close(env_);
    env_ = nullptr;
    return Status::ok();
  }

 private:
  MDB_env* env_;
  std::string path_;
  Shape sh_;
  bool lz4_;
  std::vector<uint8_t> tile_;
  std::vector<char> packed_;
};

class LmdbReader : public PeerReader {
 public:
  LmdbReader(MDB_env* env, MDB_txn* txn, MDB_dbi dbi, std::string path, Shape sh, bool lz4)
      : env_(env), txn_(txn), dbi_(dbi), path_(std::move(path)), lz4_(lz4) {
    shape_ = sh;
    tile_.resize(size_t(sh.tile) * sh.tile * sh.pixel_bytes());
  }
  ~LmdbReader() override {
    mdb_txn_abort(txn_);
    mdb_env_close(env_);
  }
  Status read_region(const Region& r, uint8_t* dst) override {
    return for_tiles(r, [&](const Region& box, const uint8_t* tile) {
      copy_bip_overlap(tile, box, dst, r, shape_.pixel_bytes());
    });
  }
  Status read_band(const Region& r, uint32_t band, uint8_t* dst) override {
    const size_t px = shape_.pixel_bytes(), s = shape_.sample_bytes;
    return for_tiles(r, [&](const Region& box, const uint8_t* tile) {
      const Region o = box.intersect(r);
      for (int64_t y = o.y; y < o.y_end(); ++y) {
        const uint8_t* from = tile + (size_t(y - box.y) * size_t(box.width) + size_t(o.x - box.x)) * px + band * s;
        uint8_t* to = dst + (size_t(y - r.y) * size_t(r.width) + size_t(o.x - r.x)) * s;
        for (int64_t u = 0; u < o.width; ++u) std::memcpy(to + size_t(u) * s, from + size_t(u) * px, s);
      }
    });
  }

 private:
  // Calls f(tile box, tile bytes) for each tile `r` touches: decoded into tile_, or (none) where
  // the value lies in the map.
  template <typename F>
  Status for_tiles(const Region& r, F&& f) {
    const int64_t T = shape_.tile;
    for (int64_t ty = r.y / T; ty <= (r.y_end() - 1) / T; ++ty) {
      for (int64_t tx = r.x / T; tx <= (r.x_end() - 1) / T; ++tx) {
        uint8_t k[8];
        tile_key(tx, ty, k);
        MDB_val key{8, k}, val;
        int rc = mdb_get(txn_, dbi_, &key, &val);
        if (rc != 0) return mdb_error(path_, "mdb_get", rc);
        const uint8_t* tile = static_cast<const uint8_t*>(val.mv_data);
        if (lz4_) {
          const int n = LZ4_decompress_safe(static_cast<const char*>(val.mv_data), reinterpret_cast<char*>(tile_.data()),
                                            int(val.mv_size), int(tile_.size()));
          if (n != int(tile_.size())) return Status(Code::kCorrupt, path_ + ": bad LZ4 tile");
          tile = tile_.data();
        } else if (val.mv_size != tile_.size()) {
          return Status(Code::kCorrupt, path_ + ": a tile of " + std::to_string(val.mv_size) + " bytes");
        }
        f(Region{tx * T, ty * T, T, T}, tile);
      }
    }
    return Status::ok();
  }
  MDB_env* env_;
  MDB_txn* txn_;
  MDB_dbi dbi_;
  std::string path_;
  bool lz4_;
  std::vector<uint8_t> tile_;
};

class LmdbPeer : public Peer {
 public:
  explicit LmdbPeer(bool lz4) : lz4_(lz4) {}
  std::string name() const override { return lz4_ ? "lmdb lz4" : "lmdb none"; }
  std::string suffix() const override { return ".mdb"; }
  Result<std::unique_ptr<PeerWriter>> create(const std::string& path, const Shape& sh, unsigned) override {
    auto env = open_env(path, false);
    if (!env) return env.status();
    return std::unique_ptr<PeerWriter>(new LmdbWriter(*env, path, sh, lz4_));
  }
  Result<std::unique_ptr<PeerReader>> open(const std::string& path, const Shape& sh,
                                           const ReadOptions& options) override {
    if (options.any_cache()) return Status(Code::kUnsupported, "no decoded-tile cache");
    auto env = open_env(path, true);
    if (!env) return env.status();
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    int rc = mdb_txn_begin(*env, nullptr, MDB_RDONLY, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
    if (rc != 0) {
      if (txn) mdb_txn_abort(txn);
      mdb_env_close(*env);
      return mdb_error(path, "read txn", rc);
    }
    return std::unique_ptr<PeerReader>(new LmdbReader(*env, txn, dbi, path, sh, lz4_));
  }
  uint64_t file_bytes(const std::string& path) const override { return Peer::file_bytes(path); }

 private:
  bool lz4_;
};

}  // namespace

std::unique_ptr<Peer> make_lmdb_peer(bool lz4) { return std::make_unique<LmdbPeer>(lz4); }

}  // namespace tessera::bench
