// tessera.cc — Tessera as the benchmark sees it: the public API, as its users call it.
//
// Writes: one image per container, strips written with WriteTxn::write and committed every
// 64 MB of raw pixels (what `tessera import` does by default), sync off (no peer syncs).
// Reads: one Snapshot per reader, View::read into the caller's buffer (BIP, one band, BSQ).
#include <memory>
#include <optional>

#include "../peer.h"
#include "tessera/tessera.h"

namespace tessera::bench {
namespace {

constexpr const char* kImage = "img";
constexpr uint64_t kCommitBytes = uint64_t(64) << 20;

DataType type_of(const Shape& shape) { return shape.sample_bytes == 1 ? DataType::kU8 : DataType::kU16; }

// "cache on" (and the shared cache): large enough for every tile the regions touch.
constexpr uint64_t kTileCacheBytes = uint64_t(1) << 30;

class TesseraWriter : public PeerWriter {
 public:
  TesseraWriter(Container c, Shape shape) : container_(std::move(c)), shape_(shape) {}
  Status write_strip(int64_t y, int64_t rows, const uint8_t* bip) override {
    if (!txn_) {
      auto t = container_.begin_write();
      if (!t) return t.status();
      txn_.emplace(std::move(t).value());
    }
    const size_t bytes = size_t(rows) * size_t(shape_.width) * shape_.pixel_bytes();
    TESSERA_RETURN_IF_ERROR(txn_->write(kImage, Region{0, y, shape_.width, rows}, Selection{}, bip, bytes));
    pending_ += bytes;
    if (pending_ >= kCommitBytes) return commit();
    return Status::ok();
  }
  Status finish() override { return txn_ ? commit() : Status::ok(); }

 private:
  Status commit() {
    Status s = txn_->commit();
    txn_.reset();
    pending_ = 0;
    return s;
  }
  Container container_;
  Shape shape_;
  std::optional<WriteTxn> txn_;
  uint64_t pending_ = 0;
};

class TesseraReader : public PeerReader {
 public:
  TesseraReader(Container c, Snapshot s, Shape shape) : container_(std::move(c)), snap_(std::move(s)) {
    shape_ = shape;
  }
  Status read_region(const Region& r, uint8_t* dst) override {
    return snap_.read(kImage, r, Selection{}, dst, size_t(r.pixel_count()) * shape_.pixel_bytes());
  }
  Status read_band(const Region& r, uint32_t band, uint8_t* dst) override {
    Selection sel;
    sel.bands = {band};
    return snap_.read(kImage, r, sel, dst, size_t(r.pixel_count()) * shape_.sample_bytes);
  }
  Status read_bsq(const Region& r, uint8_t* dst) override {
    return snap_.read(kImage, r, Selection{}, dst, size_t(r.pixel_count()) * shape_.pixel_bytes(),
                      Interleave::kBSQ);
  }

 private:
  Container container_;
  Snapshot snap_;
};

class TesseraPeer : public Peer {
 public:
  TesseraPeer(CodecSpec codec, Layout layout, Filter filter) : codec_(codec), layout_(layout), filter_(filter) {}
  std::string name() const override {
    return "tessera " + codec_spec_name(codec_) + (filter_ == Filter::kDelta ? " delta" : "") +
           (layout_ == Layout::kPlanar ? " planar" : "");
  }
  std::string suffix() const override { return ".tsr"; }
  Layout layout() const override { return layout_; }

  Result<std::unique_ptr<PeerWriter>> create(const std::string& path, const Shape& shape,
                                             unsigned threads) override {
    OpenOptions o;
    o.sync = false;
    o.threads = threads;
    auto c = Container::create(path, o);
    if (!c) return c.status();
    ImageSpec spec;
    spec.type = type_of(shape);
    spec.bands = shape.bands;
    spec.tile_size = shape.tile;
    spec.storage = layout_ == Layout::kPlanar ? StorageLayout::kPlanar : StorageLayout::kChunky;
    spec.codec = codec_;
    spec.filter = filter_;
    TESSERA_RETURN_IF_ERROR(c->write([&](WriteTxn& txn) { return txn.create_image(kImage, spec); }));
    return std::unique_ptr<PeerWriter>(new TesseraWriter(std::move(c).value(), shape));
  }

  Result<std::unique_ptr<PeerReader>> open(const std::string& path, const Shape& shape,
                                           const ReadOptions& options) override {
    OpenOptions o;
    o.read_only = true;
    o.threads = options.threads;
    if (options.tile_cache) o.tile_cache_bytes = kTileCacheBytes;
    if (!options.shared_cache.empty()) {
      o.shared_cache = options.shared_cache;
      o.shared_cache_bytes = kTileCacheBytes;
    }
    auto c = Container::open(path, o);
    if (!c) return c.status();
    auto s = c->snapshot();
    if (!s) return s.status();
    return std::unique_ptr<PeerReader>(new TesseraReader(std::move(c).value(), std::move(s).value(), shape));
  }

 private:
  CodecSpec codec_;
  Layout layout_;
  Filter filter_;
};

}  // namespace

std::unique_ptr<Peer> make_tessera_peer(const CodecSpec& codec, Layout layout, Filter filter) {
  return std::make_unique<TesseraPeer>(codec, layout, filter);
}

}  // namespace tessera::bench
