// The tessera._tessera extension: the public C++ API (tessera/tessera.h, tessera/convert.h)
// for the Python package in python/tessera/, which gives it its numpy face. Nothing here
// knows the format: every call goes through the library, and every Status that is not OK
// becomes the tessera.TesseraError subclass of its code (python/tessera/_errors.py).
//
// The GIL is released around everything that touches the file (reads, writes, commits,
// imports, exports, pyramids, verify); callbacks (progress) take it back.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <type_traits>
#include <string>
#include <vector>

#include "tessera/convert.h"
#include "tessera/tessera.h"

namespace py = pybind11;
using namespace tessera;

namespace {

// Raises the exception class of `status`'s code, with the library's message.
[[noreturn]] void raise(const Status& status) {
  static const char* const kClasses[] = {"TesseraError", "InvalidArgument", "NotFound", "AlreadyExists",
                                         "Corrupt",      "Unsupported",     "IoError",  "NoSpace",
                                         "Busy",         "ReadOnly",        "InternalError"};
  const size_t code = size_t(status.code());
  py::gil_scoped_acquire gil;
  py::object errors = py::module_::import("tessera._errors");
  py::object cls = errors.attr(code < std::size(kClasses) ? kClasses[code] : "TesseraError");
  PyErr_SetString(cls.ptr(), status.message().c_str());
  throw py::error_already_set();
}
void check(const Status& status) {
  if (!status.is_ok()) raise(status);
}
template <typename T>
T value(Result<T> result) {
  if (!result) raise(result.status());
  return std::move(result).value();
}

// Runs `work` with the GIL released (it must not touch Python objects) and returns what it
// returns: a Status is raised when not OK, a Result's value returned or its error raised.
template <typename Work>
auto released(Work&& work) {
  using R = decltype(work());
  std::optional<R> result;
  {
    py::gil_scoped_release release;
    result.emplace(work());
  }
  if constexpr (std::is_same_v<R, Status>) {
    check(*result);
  } else {
    return value(std::move(*result));
  }
}

// A closed container, or a finished transaction, used again.
[[noreturn]] void raise_closed(const std::string& what) {
  raise(Status(Code::kInvalidArgument, what));
}

py::dtype numpy_dtype(DataType type) {
  switch (type) {
    case DataType::kU8: return py::dtype::of<uint8_t>();
    case DataType::kU16: return py::dtype::of<uint16_t>();
    case DataType::kU32: return py::dtype::of<uint32_t>();
    case DataType::kU64: return py::dtype::of<uint64_t>();
    case DataType::kI8: return py::dtype::of<int8_t>();
    case DataType::kI16: return py::dtype::of<int16_t>();
    case DataType::kI32: return py::dtype::of<int32_t>();
    case DataType::kI64: return py::dtype::of<int64_t>();
    case DataType::kF32: return py::dtype::of<float>();
    case DataType::kF64: return py::dtype::of<double>();
  }
  return py::dtype::of<uint8_t>();
}

py::object attribute_value(const AttributeValue& v) {
  return std::visit([](const auto& x) -> py::object { return py::cast(x); }, v);
}

py::dict image_dict(const View& view, const ImageInfo& info) {
  py::dict d;
  d["name"] = info.name;
  d["dtype"] = numpy_dtype(info.spec.type);
  d["bands"] = info.spec.bands;
  d["tile_size"] = info.spec.tile_size;
  d["fill"] = info.spec.fill;
  d["frames"] = info.frames;
  d["storage"] = std::string(storage_layout_name(info.spec.storage));
  d["codec"] = codec_spec_name(info.spec.codec);
  d["filter"] = std::string(filter_name(info.spec.filter));
  d["mapped"] = py::none();
  if (info.mapped) {  // its definition: sources as dicts, the affine as its 6 coefficients
    const MappedSpec spec = value(view.mapped(info.name));
    py::list sources;
    for (const MappedSource& s : spec.sources) {
      py::dict source;
      source["image"] = s.image;
      source["frame"] = s.frame;
      source["bands"] = s.bands.empty() ? py::object(py::none()) : py::cast(s.bands);
      const Affine& t = s.transform;
      source["affine"] = py::make_tuple(t.a, t.b, t.c, t.d, t.e, t.f);
      sources.append(source);
    }
    py::dict mapped;
    mapped["sources"] = sources;
    mapped["blend"] = std::string(blend_name(spec.blend));
    mapped["resampling"] = std::string(interpolation_name(spec.interpolation));
    d["mapped"] = mapped;
  }
  return d;
}

// The byte strides of `array` as a (rows, columns, bands) block, whatever its memory order:
// `axes` names which axis of the array is y, x and band (interleave). Negative strides are
// refused (the library takes non-negative ones).
Strides array_strides(const py::array& array, const int axes[3]) {
  Strides s;
  int64_t* out[3] = {&s.line, &s.pixel, &s.band};
  for (int i = 0; i < 3; ++i) {
    const py::ssize_t stride = array.strides(axes[i]);
    if (stride < 0)
      raise(Status(Code::kInvalidArgument, "the array has a negative stride (a reversed view): copy it first"));
    *out[i] = int64_t(stride);
  }
  return s;
}

// The axes of y, x and band in an array laid out as `interleave`.
const int* interleave_axes(Interleave interleave) {
  static const int kBip[3] = {0, 1, 2}, kBil[3] = {0, 2, 1}, kBsq[3] = {1, 2, 0};
  return interleave == Interleave::kBIP ? kBip : interleave == Interleave::kBIL ? kBil : kBsq;
}

// Checks `array` for a read or write of `region` with `bands` bands of `info`: dtype, three
// dimensions of the interleave's shape. Returns its strides.
Strides checked_strides(const py::array& array, const ImageInfo& info, const Region& region, size_t bands,
                        Interleave interleave, bool writable) {
  if (!array.dtype().is(numpy_dtype(info.spec.type)))
    raise(Status(Code::kInvalidArgument, "the array's dtype " + std::string(py::str(array.dtype())) +
                                             " is not image '" + info.name + "''s " +
                                             std::string(data_type_name(info.spec.type))));
  if (array.ndim() != 3)
    raise(Status(Code::kInvalidArgument, "the array has " + std::to_string(array.ndim()) +
                                             " dimensions, not 3"));
  const int* axes = interleave_axes(interleave);
  const py::ssize_t want[3] = {py::ssize_t(region.height), py::ssize_t(region.width), py::ssize_t(bands)};
  for (int i = 0; i < 3; ++i)
    if (array.shape(axes[i]) != want[i])
      raise(Status(Code::kInvalidArgument,
                   "the array's shape does not match a region of " + std::to_string(region.width) + " x " +
                       std::to_string(region.height) + " pixels of " + std::to_string(bands) + " bands as " +
                       std::string(interleave_name(interleave))));
  if (writable && !array.writeable())
    raise(Status(Code::kInvalidArgument, "the output array is read-only"));
  return array_strides(array, axes);
}

Selection selection(uint32_t frame, uint32_t level, const std::vector<uint32_t>& bands) {
  Selection sel;
  sel.frame = frame;
  sel.level = level;
  sel.bands = bands;
  return sel;
}

// The container as Python holds it: closing it makes every later use raise.
class PyContainer {
 public:
  explicit PyContainer(Container c) : container_(std::move(c)) {}
  Container& get() {
    if (!container_) raise_closed("the container is closed");
    return *container_;
  }
  void close() { container_.reset(); }
  bool closed() const { return !container_; }

 private:
  std::optional<Container> container_;
};

// A snapshot or a write transaction; a finished transaction raises when used again.
class PyView {
 public:
  virtual ~PyView() = default;
  virtual const View& view() const = 0;

  py::list images() const {
    py::list out;
    for (const ImageInfo& info : view().images()) out.append(image_dict(view(), info));
    return out;
  }
  py::dict image(const std::string& name) const { return image_dict(view(), value(view().image(name))); }

  // Reads into `out` (which the caller allocated, any memory order) without a copy.
  void read(const std::string& image, int64_t x, int64_t y, int64_t width, int64_t height, uint32_t frame,
            uint32_t level, const std::vector<uint32_t>& bands, const std::string& interleave, py::array out) const {
    const View& v = view();
    const Region region{x, y, width, height};
    const Selection sel = selection(frame, level, bands);
    const Request request = value(v.check(image, region, sel));
    const Interleave il = value(parse_interleave(interleave));
    const Strides strides = checked_strides(out, request.image, region, request.bands.size(), il, true);
    void* data = out.mutable_data();
    const size_t bytes = size_t(required_bytes(strides, width, height, request.bands.size(),
                                               sample_size(request.image.spec.type)));
    released([&] { return v.read(image, region, sel, data, bytes, strides); });
  }

  py::object bounds(const std::string& image, uint32_t frame, const std::string& precision) const {
    const Precision p = value(parse_precision(precision));
    const std::optional<Region> box = released([&] { return view().bounds(image, frame, p); });
    if (!box) return py::none();
    return py::make_tuple(box->x, box->y, box->width, box->height);
  }

  py::object extent(const std::string& image, uint32_t frame) const {
    const std::optional<Region> box = value(view().extent(image, frame));
    if (!box) return py::none();
    return py::make_tuple(box->x, box->y, box->width, box->height);
  }

  py::dict attributes(const std::string& image, std::optional<uint32_t> frame) const {
    const Attributes attrs = frame ? value(view().frame_attributes(image, *frame)) : value(view().attributes(image));
    py::dict d;
    for (const Attribute& a : attrs) d[py::str(a.name)] = attribute_value(a.value);
    return d;
  }

  uint32_t levels(const std::string& image, uint32_t frame) const { return value(view().pyramid(image, frame)).levels; }

  py::dict stats(const std::string& image, uint32_t frame, uint32_t level) const {
    const ImageStats st = released([&] { return view().stats(image, frame, level); });
    py::dict d;
    d["tiles_uniform"] = st.tiles_uniform;
    d["tiles_chunk"] = st.tiles_chunk;
    d["chunks_unique"] = st.chunks_unique;
    d["bytes_raw"] = st.bytes_raw;
    d["bytes_stored"] = st.bytes_stored;
    return d;
  }
};

class PySnapshot : public PyView {
 public:
  explicit PySnapshot(Snapshot s) : snapshot_(std::move(s)) {}
  const View& view() const override { return snapshot_; }

 private:
  Snapshot snapshot_;
};

class PyWriteTxn : public PyView {
 public:
  explicit PyWriteTxn(WriteTxn t) : txn_(std::move(t)) {}
  const View& view() const override { return get(); }
  WriteTxn& get() const {
    if (!txn_) raise_closed("the transaction is finished (committed or aborted)");
    return const_cast<WriteTxn&>(*txn_);
  }
  bool active() const { return txn_.has_value(); }

  // sources: (image, frame, bands or None, (a, b, c, d, e, f)) each.
  using SourceTuple = std::tuple<std::string, uint32_t, std::optional<std::vector<uint32_t>>, std::array<double, 6>>;
  void define_mapped(const std::string& name, const std::vector<SourceTuple>& sources, const std::string& blend,
                     const std::string& resampling, const std::vector<double>& fill, bool replace) {
    MappedSpec spec;
    for (const auto& [image, frame, bands, t] : sources)
      spec.sources.push_back(MappedSource{image, frame, bands.value_or(std::vector<uint32_t>{}),
                                          Affine{t[0], t[1], t[2], t[3], t[4], t[5]}});
    spec.blend = value(parse_blend(blend));
    spec.interpolation = value(parse_interpolation(resampling));
    spec.fill = fill;
    WriteTxn& txn = get();
    released([&] { return txn.define_mapped(name, spec, replace); });
  }
  void remove_mapped(const std::string& name) {
    WriteTxn& txn = get();
    released([&] { return txn.remove_mapped(name); });
  }

  void create_image(const std::string& name, const std::string& dtype, uint32_t bands, uint32_t tile_size,
                    const std::vector<double>& fill, const std::string& codec, const std::string& filter,
                    const std::string& storage) {
    ImageSpec spec;
    spec.type = value(parse_data_type(dtype));
    spec.bands = bands;
    spec.tile_size = tile_size;
    spec.fill = fill;
    spec.codec = value(parse_codec_spec(codec));
    spec.filter = value(parse_filter(filter));
    spec.storage = value(parse_storage_layout(storage));
    check(get().create_image(name, spec));
  }

  void write(const std::string& image, int64_t x, int64_t y, uint32_t frame, const std::vector<uint32_t>& bands,
             py::array src) {
    WriteTxn& t = get();
    if (src.ndim() != 3) raise(Status(Code::kInvalidArgument, "the array must have 3 dimensions"));
    const Region region{x, y, int64_t(src.shape(1)), int64_t(src.shape(0))};
    const Selection sel = selection(frame, 0, bands);
    const Request request = value(t.check(image, region, sel, Access::kWrite));
    const Strides strides = checked_strides(src, request.image, region, request.bands.size(), Interleave::kBIP, false);
    const size_t bytes = size_t(required_bytes(strides, region.width, region.height, request.bands.size(),
                                               sample_size(request.image.spec.type)));
    const void* data = src.data();
    released([&] { return t.write(image, region, sel, data, bytes, strides); });
  }

  // Merges image `source_image` of the container at `source` (opened read-only without its lock
  // file: a shard nobody writes) into `image` (WriteTxn::merge).
  void merge(const std::string& source, const std::string& source_image, const std::string& image, uint32_t frame,
             uint32_t source_frame) {
    WriteTxn& t = get();
    OpenOptions o;
    o.read_only = true;
    o.no_lock = true;
    released([&]() -> Status {
      auto c = Container::open(source, o);
      if (!c) return c.status();
      auto snapshot = c->snapshot();
      if (!snapshot) return snapshot.status();
      return t.merge(*snapshot, source_image, image, frame, source_frame);
    });
  }

  void set_attribute(const std::string& image, const std::string& name, const AttributeValue& v,
                     std::optional<uint32_t> frame) {
    check(get().set_attribute(image, name, v, frame));
  }

  void commit() {
    WriteTxn& t = get();
    Status s;
    {
      py::gil_scoped_release release;
      s = t.commit();
    }
    txn_.reset();  // finished whatever the outcome
    check(s);
  }
  void abort() {
    if (txn_) txn_->abort();
    txn_.reset();
  }

 private:
  std::optional<WriteTxn> txn_;
};

std::shared_ptr<PyContainer> open_container(const std::string& path, bool create, bool read_only, bool no_lock,
                                            unsigned threads, uint64_t tile_cache_bytes) {
  OpenOptions o;
  o.read_only = read_only;
  o.no_lock = no_lock;
  o.threads = threads;
  o.tile_cache_bytes = tile_cache_bytes;
  return std::make_shared<PyContainer>(
      released([&] { return create ? Container::create(path, o) : Container::open(path, o); }));
}

// A progress callback for the library, which calls it on the calling thread (GIL released):
// it takes the GIL back for the Python callable.
Progress progress_of(const py::object& callback) {
  if (callback.is_none()) return {};
  return [callback](uint64_t done, uint64_t total) {
    py::gil_scoped_acquire gil;
    callback(done, total);
  };
}

void materialize(PyContainer& c, const std::string& mapped, const std::string& image,
                 std::optional<std::tuple<int64_t, int64_t, int64_t, int64_t>> region, std::optional<std::string> codec,
                 const py::object& progress) {
  MaterializeOptions o;
  if (region) o.region = Region{std::get<0>(*region), std::get<1>(*region), std::get<2>(*region), std::get<3>(*region)};
  if (codec) o.codec = value(parse_codec_spec(*codec));
  o.progress = progress_of(progress);
  Container& container = c.get();
  released([&] { return container.materialize(mapped, image, o); });
}

void build_pyramid(PyContainer& c, const std::string& image, std::optional<uint32_t> frame, uint32_t levels,
                   const std::string& resampling, const py::object& progress) {
  PyramidOptions o;
  o.frame = frame;
  o.levels = levels;
  o.resampling = value(parse_resampling(resampling));
  o.progress = progress_of(progress);
  Container& container = c.get();
  released([&] { return container.build_pyramid(image, o); });
}

py::dict run_verify(const std::string& path, bool deep) {
  VerifyOptions o;
  o.deep = deep;
  const VerifyReport report = released([&] { return verify(path, o); });
  py::dict d;
  d["clean"] = report.clean();
  py::list faults;
  for (const Fault& f : report.faults) faults.append(py::make_tuple(f.invariant, f.message));
  d["faults"] = faults;
  d["notices"] = report.notices;
  return d;
}

void import_file(PyContainer& c, const std::string& src, const std::string& image, uint32_t frame,
                 std::optional<std::string> codec, std::optional<std::string> filter, uint32_t tile_size,
                 int64_t origin_x, int64_t origin_y, const py::object& progress) {
  FileImportOptions o;
  o.import.image = image;
  o.import.new_image_only = image.empty();  // a name Python's caller did not choose
  o.import.frame = frame;
  if (codec) o.import.codec = value(parse_codec_spec(*codec));
  if (filter) o.import.filter = value(parse_filter(*filter));
  o.import.tile_size = tile_size;
  o.import.origin_x = origin_x;
  o.import.origin_y = origin_y;
  o.import.progress = progress_of(progress);
  Container& container = c.get();
  released([&]() -> Status {
    auto plan = plan_import(src, o);
    if (!plan) return plan.status();
    for (ImportJob& job : plan->jobs) {
      job.options.progress = o.import.progress;
      TESSERA_RETURN_IF_ERROR(import_raster(container, *job.source, job.options).status());
    }
    return Status::ok();
  });
}

void export_file_py(PyContainer& c, const std::string& out, const std::string& image, uint32_t frame,
                    uint32_t level, const py::object& progress) {
  FileExportOptions o;
  o.export_options.image = image;
  o.export_options.frame = frame;
  o.export_options.level = level;
  o.export_options.progress = progress_of(progress);
  Container& container = c.get();
  released([&] { return export_file(container, out, o); });
}

}  // namespace

PYBIND11_MODULE(_tessera, m) {
  m.doc() = "The C++ core of the tessera package (use the tessera module, not this one).";

  py::class_<PyContainer, std::shared_ptr<PyContainer>>(m, "Container")
      .def_static("open", &open_container, py::arg("path"), py::arg("create"), py::arg("read_only"),
                  py::arg("no_lock"), py::arg("threads"), py::arg("tile_cache_bytes"))
      .def("close", &PyContainer::close)
      .def_property_readonly("closed", &PyContainer::closed)
      .def_property_readonly("path", [](PyContainer& c) { return c.get().path(); })
      .def_property_readonly("format_version", [](PyContainer& c) { return to_string(c.get().format_version()); })
      .def("snapshot",
           [](PyContainer& c) {
             Container& container = c.get();
             return std::make_unique<PySnapshot>(released([&] { return container.snapshot(); }));
           })
      .def("begin_write",
           [](PyContainer& c) {
             Container& container = c.get();  // begin_write waits for the write lock
             return std::make_unique<PyWriteTxn>(released([&] { return container.begin_write(); }));
           })
      .def("materialize", &materialize, py::arg("mapped"), py::arg("image"), py::arg("region"), py::arg("codec"),
           py::arg("progress"))
      .def("build_pyramid", &build_pyramid, py::arg("image"), py::arg("frame"), py::arg("levels"),
           py::arg("resampling"), py::arg("progress"))
      .def("import_file", &import_file, py::arg("src"), py::arg("image"), py::arg("frame"), py::arg("codec"),
           py::arg("filter"), py::arg("tile_size"), py::arg("origin_x"), py::arg("origin_y"), py::arg("progress"))
      .def("export_file", &export_file_py, py::arg("out"), py::arg("image"), py::arg("frame"), py::arg("level"),
           py::arg("progress"));

  py::class_<PyView>(m, "View")
      .def("images", &PyView::images)
      .def("image", &PyView::image)
      .def("read", &PyView::read, py::arg("image"), py::arg("x"), py::arg("y"), py::arg("width"), py::arg("height"),
           py::arg("frame"), py::arg("level"), py::arg("bands"), py::arg("interleave"), py::arg("out"))
      .def("bounds", &PyView::bounds)
      .def("extent", &PyView::extent)
      .def("attributes", &PyView::attributes)
      .def("levels", &PyView::levels)
      .def("stats", &PyView::stats);
  py::class_<PySnapshot, PyView>(m, "Snapshot");
  py::class_<PyWriteTxn, PyView>(m, "WriteTxn")
      .def_property_readonly("active", &PyWriteTxn::active)
      .def("create_image", &PyWriteTxn::create_image)
      .def("write", &PyWriteTxn::write)
      .def("set_attribute", &PyWriteTxn::set_attribute)
      .def("merge", &PyWriteTxn::merge)
      .def("define_mapped", &PyWriteTxn::define_mapped)
      .def("remove_mapped", &PyWriteTxn::remove_mapped)
      .def("commit", &PyWriteTxn::commit)
      .def("abort", &PyWriteTxn::abort);

  m.def("verify", &run_verify, py::arg("path"), py::arg("deep") = false);
  m.def("version", [] { return std::string(tessera::version()); });
}
