// hdf5.cc — HDF5 peer (Debian's serial libhdf5): one chunked dataset, written and read with
// hyperslab selections as HDF5's users do. Chunky: dataset [height][width][bands] in chunks of
// 256 x 256 x bands; planar: [bands][height][width] in chunks of 1 x 256 x 256. Compression
// none, or shuffle + deflate level 1 (HDF5's built-in filters). The chunk cache stays at
// HDF5's default (1 MiB per dataset).
#include <hdf5.h>

#include <cstring>
#include <memory>
#include <vector>

#include "../peer.h"

namespace tessera::bench {
namespace {

Status h5_error(const std::string& path, const char* what) {
  return Status(Code::kIoError, path + ": hdf5: " + what);
}

hid_t mem_type(const Shape& sh) { return sh.sample_bytes == 1 ? H5T_NATIVE_UINT8 : H5T_NATIVE_UINT16; }

// The file and its dataset, closed together.
struct H5Handles {
  hid_t file = -1, dset = -1;
  ~H5Handles() {
    if (dset >= 0) H5Dclose(dset);
    if (file >= 0) H5Fclose(file);
  }
};

// Reads (or writes) the hyperslab start/count of the dataset from (to) `buf`, whose layout is
// the dataspace `mem_dims` with the selection mem_start/mem_count (or all of it).
template <size_t N, size_t M>
herr_t transfer(bool write, hid_t dset, const Shape& sh, const hsize_t (&start)[N], const hsize_t (&count)[N],
                const hsize_t (&mem_dims)[M], const hsize_t* mem_start, const hsize_t* mem_count, void* buf) {
  hid_t fspace = H5Dget_space(dset);
  hid_t mspace = H5Screate_simple(int(M), mem_dims, nullptr);
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr);
  if (mem_start) H5Sselect_hyperslab(mspace, H5S_SELECT_SET, mem_start, nullptr, mem_count, nullptr);
  herr_t rc = write ? H5Dwrite(dset, mem_type(sh), mspace, fspace, H5P_DEFAULT, buf)
                    : H5Dread(dset, mem_type(sh), mspace, fspace, H5P_DEFAULT, buf);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return rc;
}

class H5Writer : public PeerWriter {
 public:
  H5Writer(std::unique_ptr<H5Handles> h, std::string path, Shape sh, bool planar)
      : h_(std::move(h)), path_(std::move(path)), sh_(sh), planar_(planar) {}
  Status write_strip(int64_t y, int64_t rows, const uint8_t* bip) override {
    const hsize_t W = hsize_t(sh_.width), R = hsize_t(rows), B = sh_.bands;
    if (!planar_) {
      const hsize_t start[3] = {hsize_t(y), 0, 0}, count[3] = {R, W, B}, dims[3] = {R, W, B};
      if (transfer(true, h_->dset, sh_, start, count, dims, nullptr, nullptr, const_cast<uint8_t*>(bip)) < 0)
        return h5_error(path_, "H5Dwrite failed");
      return Status::ok();
    }
    // A plane at a time, copied out of the BIP strip first (HDF5's own strided memory selection
    // is several times slower).
    const size_t s = sh_.sample_bytes, px = sh_.pixel_bytes(), n = size_t(R * W);
    plane_.resize(n * s);
    for (hsize_t b = 0; b < B; ++b) {
      for (size_t i = 0; i < n; ++i) std::memcpy(plane_.data() + i * s, bip + i * px + b * s, s);
      const hsize_t start[3] = {b, hsize_t(y), 0}, count[3] = {1, R, W}, dims[2] = {R, W};
      if (transfer(true, h_->dset, sh_, start, count, dims, nullptr, nullptr, plane_.data()) < 0)
        return h5_error(path_, "H5Dwrite failed");
    }
    return Status::ok();
  }
  Status finish() override {
    h_.reset();
    return Status::ok();
  }

 private:
  std::unique_ptr<H5Handles> h_;
  std::string path_;
  Shape sh_;
  bool planar_;
  std::vector<uint8_t> plane_;
};

class H5Reader : public PeerReader {
 public:
  H5Reader(std::unique_ptr<H5Handles> h, std::string path, Shape sh, bool planar)
      : h_(std::move(h)), path_(std::move(path)), planar_(planar) {
    shape_ = sh;
  }
  Status read_region(const Region& r, uint8_t* dst) override {
    const hsize_t X = hsize_t(r.x), Y = hsize_t(r.y), w = hsize_t(r.width), h = hsize_t(r.height), B = shape_.bands;
    const hsize_t dims[3] = {h, w, B};
    if (!planar_) {
      const hsize_t start[3] = {Y, X, 0}, count[3] = {h, w, B};
      return check(transfer(false, h_->dset, shape_, start, count, dims, nullptr, nullptr, dst));
    }
    for (hsize_t b = 0; b < B; ++b) {
      const hsize_t start[3] = {b, Y, X}, count[3] = {1, h, w};
      const hsize_t mstart[3] = {0, 0, b}, mcount[3] = {h, w, 1};
      TESSERA_RETURN_IF_ERROR(check(transfer(false, h_->dset, shape_, start, count, dims, mstart, mcount, dst)));
    }
    return Status::ok();
  }
  Status read_band(const Region& r, uint32_t band, uint8_t* dst) override {
    const hsize_t X = hsize_t(r.x), Y = hsize_t(r.y), w = hsize_t(r.width), h = hsize_t(r.height);
    const hsize_t dims[2] = {h, w};
    if (!planar_) {
      const hsize_t start[3] = {Y, X, band}, count[3] = {h, w, 1};
      return check(transfer(false, h_->dset, shape_, start, count, dims, nullptr, nullptr, dst));
    }
    const hsize_t start[3] = {band, Y, X}, count[3] = {1, h, w};
    return check(transfer(false, h_->dset, shape_, start, count, dims, nullptr, nullptr, dst));
  }
  Status read_bsq(const Region& r, uint8_t* dst) override {
    if (!planar_) return PeerReader::read_bsq(r, dst);
    const hsize_t w = hsize_t(r.width), h = hsize_t(r.height), B = shape_.bands;
    const hsize_t start[3] = {0, hsize_t(r.y), hsize_t(r.x)}, count[3] = {B, h, w}, dims[3] = {B, h, w};
    return check(transfer(false, h_->dset, shape_, start, count, dims, nullptr, nullptr, dst));
  }

 private:
  Status check(herr_t rc) { return rc < 0 ? h5_error(path_, "H5Dread failed") : Status::ok(); }
  std::unique_ptr<H5Handles> h_;
  std::string path_;
  bool planar_;
};

class H5Peer : public Peer {
 public:
  H5Peer(bool deflate, Layout layout) : deflate_(deflate), layout_(layout) {}
  std::string name() const override {
    return std::string("hdf5 ") + (deflate_ ? "deflate:1" : "none") + (layout_ == Layout::kPlanar ? " planar" : "");
  }
  std::string suffix() const override { return ".h5"; }
  Layout layout() const override { return layout_; }

  Result<std::unique_ptr<PeerWriter>> create(const std::string& path, const Shape& sh, unsigned) override {
    auto h = std::make_unique<H5Handles>();
    h->file = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (h->file < 0) return h5_error(path, "H5Fcreate failed");
    const bool planar = layout_ == Layout::kPlanar;
    const hsize_t W = hsize_t(sh.width), H = hsize_t(sh.height), B = sh.bands, T = sh.tile;
    const hsize_t chunky_dims[3] = {H, W, B}, planar_dims[3] = {B, H, W};
    const hsize_t chunky_chunk[3] = {T, T, B}, planar_chunk[3] = {1, T, T};
    hid_t space = H5Screate_simple(3, planar ? planar_dims : chunky_dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, planar ? planar_chunk : chunky_chunk);
    if (deflate_) {
      if (sh.sample_bytes > 1) H5Pset_shuffle(dcpl);
      H5Pset_deflate(dcpl, 1);
    }
    h->dset = H5Dcreate2(h->file, "image", mem_type(sh), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (h->dset < 0) return h5_error(path, "H5Dcreate2 failed");
    return std::unique_ptr<PeerWriter>(new H5Writer(std::move(h), path, sh, planar));
  }

  Result<std::unique_ptr<PeerReader>> open(const std::string& path, const Shape& sh,
                                           const ReadOptions& options) override {
    if (options.any_cache()) return Status(Code::kUnsupported, "not measured for HDF5");
    auto h = std::make_unique<H5Handles>();
    h->file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h->file < 0) return h5_error(path, "H5Fopen failed");
    h->dset = H5Dopen2(h->file, "image", H5P_DEFAULT);
    if (h->dset < 0) return h5_error(path, "H5Dopen2 failed");
    return std::unique_ptr<PeerReader>(new H5Reader(std::move(h), path, sh, layout_ == Layout::kPlanar));
  }

 private:
  bool deflate_;
  Layout layout_;
};

}  // namespace

std::unique_ptr<Peer> make_hdf5_peer(bool deflate, Layout layout) {
  return std::make_unique<H5Peer>(deflate, layout);
}

}  // namespace tessera::bench
