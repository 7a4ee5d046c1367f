// envi_attributes_test.cc — ENVI header fields beyond the samples as attributes (tessera/envi.h):
// the parser on crafted headers (comments, braces over lines, CRLF, case, duplicates, unknown
// fields byte for byte), the sink fitting per-band lists and coordinates to a cut, and round
// trips of headers written by GDAL and by Spectral Python, read back by them.
//
// GDAL and Spectral Python are the independent references: one Python script per test, run
// once to write the inputs and once to read the outputs (printing what it read as JSON, and
// comparing pixels with numpy against the arrays it started from). They run in the Debian
// interpreter, where python3-gdal and python3-spectral are installed.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessera/convert.h"
#include "tessera/envi.h"
#include "tessera/io.h"
#include "tessera/tessera.h"
#include "test_util.h"

extern char** environ;

namespace tessera {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::write_file;
using nlohmann::json;
using test::TempDirTest;
using Texts = std::vector<std::string>;
using Integers = std::vector<int64_t>;
using Reals = std::vector<double>;

OpenOptions fast() {
  OpenOptions options;
  options.sync = false;
  return options;
}

// The value of `name` in `attributes`, or "(absent)" as text for messages.
AttributeValue value_of(const Attributes& attributes, const std::string& name) {
  const AttributeValue* v = find_attribute(attributes, name);
  return v ? *v : AttributeValue(std::string("(absent)"));
}

std::string describe(const Attributes& attributes) {
  std::string out;
  for (const Attribute& a : attributes)
    out += "  " + a.name + " = " + format_attribute_value(a.value) + "\n";
  return out;
}

// The keys of a header's text, in order (the first line, "ENVI", and continuation lines aside).
Texts header_keys(const std::string& text) {
  Texts keys;
  size_t pos = text.find('\n') + 1;
  bool in_braces = false;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    if (!in_braces) keys.push_back(line.substr(0, line.find(" = ")));
    const size_t open = line.find(" = {");
    if (!in_braces && open != std::string::npos) in_braces = true;
    if (in_braces && line.find('}') != std::string::npos) in_braces = false;
  }
  return keys;
}

// A raw u8 raster of `bands` x `lines` x `samples` with the header `fields` (after the samples'
// own fields), written as RAW and RAW.hdr; returns RAW's bytes.
std::string write_u8_envi(const std::string& raw, int64_t samples, int64_t lines, uint32_t bands,
                          const std::string& fields, uint64_t seed) {
  test::Rng rng(seed);
  const std::vector<uint8_t> bytes = rng.bytes(size_t(samples * lines * bands));
  const std::string data(bytes.begin(), bytes.end());
  write_file(raw, data);
  write_file(raw + ".hdr", "ENVI\nsamples = " + std::to_string(samples) + "\nlines = " +
                               std::to_string(lines) + "\nbands = " + std::to_string(bands) +
                               "\nheader offset = 0\ndata type = 1\ninterleave = bsq\n"
                               "byte order = 0\n" + fields);
  return data;
}

// ---------------------------------------------------------------------------------------------
// Python

struct PythonRun {
  int code = -1;  // exit code, or 128 + signal
  std::string out, err;
};

// Runs `script` (its text) with `args` in the Debian interpreter; stdout and stderr are
// captured through files in `dir`.
PythonRun run_python(const std::string& dir, const std::string& name, const std::string& script,
                     const Texts& args) {
  // Not NAME.py: a script named like the module it imports (spectral) would import itself.
  const std::string script_path = dir + "/run_" + name + ".py", out = dir + "/" + name + ".out",
                    err = dir + "/" + name + ".err";
  write_file(script_path, script);
  // python3-gdal and python3-spectral install into /usr/bin/python3, which a python3 found
  // first on PATH (a virtualenv, pyenv) may not see.
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::vector<std::string> all = {python, script_path};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  PythonRun run;
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    run.err = "cannot run " + python + ": " + std::strerror(rc);
    return run;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = read_file(out);
  run.err = read_file(err);
  return run;
}

// Runs the script and parses what it printed as JSON; a failed run fails the test.
json python_json(const std::string& dir, const std::string& name, const std::string& script,
                 const Texts& args) {
  const PythonRun run = run_python(dir, name, script, args);
  EXPECT_EQ(run.code, 0) << name << ".py " << (args.empty() ? "" : args[0]) << ":\n" << run.err;
  if (run.code != 0) return json();
  json parsed = json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(parsed.is_discarded()) << name << ".py printed no JSON:\n" << run.out;
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// The header parser on crafted headers

class EnviAttributesHeaderTest : public TempDirTest {};

// What real headers hold: CRLF, comments, keys in any case and spacing, braces over lines,
// a key twice (the last wins), and fields typed by the table or kept verbatim.
const std::string kCraftedFields =
    "; a comment, = and all\r\n"
    "Wavelength  Units = Micrometers\r\n"
    "wavelength = {\r\n 0.45,\r\n +0.55 }\r\n"
    "fwhm = {1, 2}\r\n"
    "FWHM = {0.01, 0.02}\r\n"
    "band names = { Blue , Green band }\r\n"
    "bbl = {1.0, 0}\r\n"
    "default bands = {2}\r\n"
    "data ignore value = -9999\r\n"
    "map info = {UTM, 1.5, 2.5, 500000.0, 4100000.0, 30, 30, 33, North, WGS-84, units=Meters}\r\n"
    "x start = 11\r\n"
    "data gain values = {2, 4}\r\n"
    "sensor type = Unknown\r\n"
    "My  Field = {  a ,b,  \r\n   c  }\r\n"
    "other thing = plain value = with sign \r\n"
    "empty =\r\n";

std::string crafted_header() {
  return "ENVI\r\n"
         "Description = {\r\n  A scene,\r\n  two lines }\r\n"
         "SAMPLES = 4\r\nLines   =   3\r\n  bands=2\r\n"
         "header offset = 0\r\n"
         "Data Type = 1\r\n"
         "INTERLEAVE = BSQ\r\n"
         "byte order = 0\r\n" +
         kCraftedFields;
}

const Attributes kCraftedAttributes = {
    {"envi.band names", Texts{"Blue", "Green band"}},
    {"envi.bbl", Integers{1, 0}},
    {"envi.data gain values", Reals{2, 4}},
    {"envi.data ignore value", -9999.0},
    {"envi.default bands", Integers{2}},
    {"envi.description", std::string("A scene,\n  two lines")},
    {"envi.empty", std::string("")},
    {"envi.fwhm", Reals{0.01, 0.02}},
    {"envi.map info", Texts{"UTM", "1.5", "2.5", "500000.0", "4100000.0", "30", "30", "33",
                            "North", "WGS-84", "units=Meters"}},
    {"envi.my field", std::string("{  a ,b,  \n   c  }")},
    {"envi.other thing", std::string("plain value = with sign")},
    {"envi.sensor type", std::string("Unknown")},
    {"envi.wavelength", Reals{0.45, 0.55}},
    {"envi.wavelength units", std::string("Micrometers")},
    {"envi.x start", int64_t(11)},
};

TEST_F(EnviAttributesHeaderTest, ReadsRealWorldSyntax) {
  write_file(path("h.hdr"), crafted_header());
  ASSERT_OK_AND_ASSIGN(EnviHeader header, read_envi_header(path("h.hdr")));
  EXPECT_EQ(header.samples, 4);
  EXPECT_EQ(header.lines, 3);
  EXPECT_EQ(header.bands, 2u);
  EXPECT_EQ(header.type, DataType::kU8);
  EXPECT_EQ(header.interleave, Interleave::kBSQ);
  EXPECT_EQ(header.attributes, kCraftedAttributes) << describe(header.attributes);
}

// Import keeps every field; export writes them back, unknown ones byte for byte, in a stable
// order; what it writes reads back as the same attributes and writes the same text again.
TEST_F(EnviAttributesHeaderTest, FieldsRoundTripThroughImportAndExport) {
  const std::string src = path("scene.raw");
  write_file(src, std::string(4 * 3 * 2, '\x07'));
  write_file(src + ".hdr", crafted_header());
  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("c.tsr"), fast()));
  ImportOptions import;
  import.tile_size = 16;
  ASSERT_OK(import_envi(container, src, import));
  {
    ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
    ASSERT_OK_AND_ASSIGN(Attributes stored, snap.attributes("scene"));
    EXPECT_EQ(stored, kCraftedAttributes) << describe(stored);
  }
  const std::string out = path("out.raw");
  ExportOptions exp;
  exp.interleave = Interleave::kBSQ;
  ASSERT_OK(export_envi(container, out, exp));
  const std::string text = read_file(out + ".hdr");
  for (const char* line : {"my field = {  a ,b,  \n   c  }\n",
                                  "other thing = plain value = with sign\n", "empty = \n",
                                  "description = {A scene,\n  two lines}\n",
                                  "band names = {Blue, Green band}\n", "wavelength = {0.45, 0.55}\n"})
    EXPECT_NE(text.find(line), std::string::npos) << "no '" << line << "' in\n" << text;
  const Texts expected_order = {
      "description", "samples", "lines", "bands", "header offset", "file type", "data type",
      "interleave", "sensor type", "byte order", "x start", "map info", "default bands",
      "wavelength units", "data ignore value", "data gain values", "band names", "wavelength",
      "fwhm", "bbl", "empty", "my field", "other thing"};
  EXPECT_EQ(header_keys(text), expected_order) << text;

  ASSERT_OK_AND_ASSIGN(EnviHeader back, read_envi_header(out + ".hdr"));
  Attributes expected = kCraftedAttributes;
  set_attribute(expected, "envi.file type", std::string("ENVI Standard"));  // the default
  EXPECT_EQ(back.attributes, expected) << describe(back.attributes);

  ImportOptions again;
  again.tile_size = 16;
  again.image = "again";
  ASSERT_OK(import_envi(container, out, again));
  exp.image = "again";
  ASSERT_OK(export_envi(container, path("again.raw"), exp));
  EXPECT_EQ(read_file(path("again.raw.hdr")), text);
  EXPECT_EQ(read_file(path("again.raw")), read_file(src));
}

// Wrong values are errors of one line naming the header, the field and the value.
TEST_F(EnviAttributesHeaderTest, ErrorsNameHeaderFieldAndValue) {
  struct Case {
    std::string line;
    Texts mentions;
  };
  const Case cases[] = {
      {"wavelength = {1, two}\n", {"'wavelength'", "two"}},
      {"wavelength = {\n1,\nx y}\n", {"'wavelength'", "x y"}},
      {"fwhm = {1, 2, 3}\n", {"'fwhm'", "3 values for 2 bands"}},
      {"bbl = {1, 0.5}\n", {"'bbl'", "0.5"}},
      {"default bands = {3}\n", {"'default bands'", "3"}},
      {"map info = {UTM, x, 1, 500000, 0}\n", {"'map info'", "'x'"}},
      {"map info = {UTM}\n", {"'map info'", "missing"}},
      {"data ignore value = none\n", {"'data ignore value'", "none"}},
      {"data ignore value = {1, 2, 3}\n", {"'data ignore value'", "3 values"}},
      {"x start = 1.5\n", {"'x start'", "1.5"}},
      {"reflectance scale factor = 1e999\n", {"'reflectance scale factor'", "1e999"}},
      {"fwhm = {1, 2} 3\n", {"'fwhm'", "after its closing"}},
      {"band names = {a, b\n", {"'band names'", "}"}},
      {"geo points = {1, 2, 3}\n", {"'geo points'", "four"}},
      {"bad\x01key = 1\n", {"line 9", "bad key"}},
      {"interleave = diagonal\n", {"'interleave'", "diagonal"}},
  };
  const std::string hdr = path("bad.hdr");
  for (const Case& c : cases) {
    write_file(hdr, "ENVI\nsamples = 2\nlines = 2\nbands = 2\ndata type = 1\ninterleave = bsq\n"
                    "byte order = 0\n; the field\n" + c.line);
    const Result<EnviHeader> header = read_envi_header(hdr);
    EXPECT_CODE(header, Code::kInvalidArgument);
    const std::string& message = header.status().message();
    EXPECT_TRUE(message.starts_with(hdr + ": ")) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const std::string& m : c.mentions)
      EXPECT_NE(message.find(m), std::string::npos) << c.line << " -> " << message;
  }
}

// As GDAL looks: RAW.hdr, RAW.HDR, RAW with its extension replaced by .hdr or .HDR.
TEST_F(EnviAttributesHeaderTest, FindsHeadersByEveryName) {
  const Texts names = {"scene.img.hdr", "scene.img.HDR", "scene.hdr", "scene.HDR"};
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string dir = path("d" + std::to_string(i));
    fs::create_directory(dir);
    write_u8_envi(dir + "/scene.img", 3, 2, 1, "", 5);
    fs::rename(dir + "/scene.img.hdr", dir + "/" + names[i]);
    ASSERT_OK_AND_ASSIGN(std::string found, find_envi_header(dir + "/scene.img"));
    EXPECT_EQ(found, dir + "/" + names[i]);
  }
  const Result<std::string> none = find_envi_header(path("none.img"));
  EXPECT_CODE(none, Code::kNotFound);
  for (const char* tried : {"none.img.hdr", "none.img.HDR", "none.hdr", "none.HDR"})
    EXPECT_NE(none.status().message().find(tried), std::string::npos) << none.status().message();
}

// ---------------------------------------------------------------------------------------------
// The sink: fields fitted to the output's bands and place

class EnviAttributesExportTest : public TempDirTest {
 protected:
  // A 10 x 8 u8 raster of 4 bands with every kind of field, imported at (100, 200).
  void SetUp() override {
    write_u8_envi(path("cube.raw"), 10, 8, 4,
                  "wavelength = {400, 500, 600, 700}\n"
                  "fwhm = {10, 11, 12, 13}\n"
                  "band names = {a, b, c, d}\n"
                  "bbl = {1, 0, 1, 1}\n"
                  "data gain values = {1, 2, 3, 4}\n"
                  "data offset values = {5, 6, 7, 8}\n"
                  "data ignore value = {-1, -2, -3, -4}\n"
                  "default bands = {3, 2, 1}\n"
                  "map info = {UTM, 1, 1, 500000, 4100000, 30, 30, 33, North, WGS-84}\n"
                  "x start = 5\ny start = 7\n"
                  "geo points = {1, 1, 40.0, 15.0, 10.5, 8.5, 39.9, 15.1}\n"
                  "pixel size = {30, 30}\n",
                  9);
    auto container = Container::create(path("c.tsr"), fast());
    ASSERT_OK(container);
    container_.emplace(std::move(container).value());
    ImportOptions import;
    import.tile_size = 16;
    import.origin_x = 100;
    import.origin_y = 200;
    ASSERT_OK(import_envi(*container_, path("cube.raw"), import));
  }

  // The attributes of the header an export of `region` and `bands` writes.
  Attributes exported(const Region& region, const std::vector<uint32_t>& bands) {
    ExportOptions exp;
    exp.region = region;
    exp.bands = bands;
    const std::string out = path("out" + std::to_string(exports_++) + ".raw");
    const Status status = export_envi(*container_, out, exp);
    EXPECT_OK(status);
    if (!status) return {};
    auto header = read_envi_header(out + ".hdr");
    EXPECT_OK(header);
    return header ? header->attributes : Attributes{};
  }

  std::optional<Container> container_;
  int exports_ = 0;
};

TEST_F(EnviAttributesExportTest, CutKeepsItsBandsAndPlace) {
  // Output pixel (0,0) is the raster's pixel (3, 2); image bands 3 and 1.
  const Attributes cut = exported({103, 202, 5, 4}, {3, 1});
  EXPECT_EQ(value_of(cut, "envi.wavelength"), AttributeValue(Reals{700, 500}));
  EXPECT_EQ(value_of(cut, "envi.fwhm"), AttributeValue(Reals{13, 11}));
  EXPECT_EQ(value_of(cut, "envi.band names"), AttributeValue(Texts{"d", "b"}));
  EXPECT_EQ(value_of(cut, "envi.bbl"), AttributeValue(Integers{1, 0}));
  EXPECT_EQ(value_of(cut, "envi.data gain values"), AttributeValue(Reals{4, 2}));
  EXPECT_EQ(value_of(cut, "envi.data offset values"), AttributeValue(Reals{8, 6}));
  EXPECT_EQ(value_of(cut, "envi.data ignore value"), AttributeValue(Reals{-4, -2}));
  EXPECT_EQ(find_attribute(cut, "envi.default bands"), nullptr) << "band 3 is not exported";
  EXPECT_EQ(value_of(cut, "envi.map info"),
            AttributeValue(Texts{"UTM", "-2", "-1", "500000", "4100000", "30", "30", "33",
                                 "North", "WGS-84"}));
  EXPECT_EQ(value_of(cut, "envi.x start"), AttributeValue(int64_t(8)));
  EXPECT_EQ(value_of(cut, "envi.y start"), AttributeValue(int64_t(9)));
  EXPECT_EQ(value_of(cut, "envi.geo points"),
            AttributeValue(Reals{-2, -1, 40.0, 15.0, 7.5, 6.5, 39.9, 15.1}));
  EXPECT_EQ(value_of(cut, "envi.pixel size"), AttributeValue(std::string("{30, 30}")));

  // Every display band exported: renumbered. The whole raster: everything as imported.
  const Attributes reversed = exported({100, 200, 10, 8}, {2, 1, 0});
  EXPECT_EQ(value_of(reversed, "envi.default bands"), AttributeValue(Integers{1, 2, 3}));
  EXPECT_EQ(value_of(reversed, "envi.wavelength"), AttributeValue(Reals{600, 500, 400}));
  ASSERT_OK_AND_ASSIGN(EnviHeader source, read_envi_header(path("cube.raw.hdr")));
  Attributes whole = exported({100, 200, 10, 8}, {});
  EXPECT_EQ(whole.size(), source.attributes.size() + 1) << describe(whole);  // + file type
  EXPECT_TRUE(std::includes(whole.begin(), whole.end(), source.attributes.begin(),
                            source.attributes.end(),
                            [](const Attribute& a, const Attribute& b) { return a.name < b.name; }));
  for (const Attribute& a : source.attributes) EXPECT_EQ(value_of(whole, a.name), a.value) << a.name;
}

// Attributes set by hand and by other formats: what ENVI can hold is written, what it cannot
// hold stops the export (envi.*) before any file exists, or is left out (other formats).
TEST_F(EnviAttributesExportTest, AttributesSetByHandAndByOtherFormats) {
  auto set = [&](const std::string& name, const AttributeValue& value) {
    return container_->write([&](WriteTxn& t) { return t.set_attribute("cube", name, value); });
  };
  auto drop = [&](const std::string& name) {
    return container_->write([&](WriteTxn& t) { return t.delete_attribute("cube", name); });
  };
  ASSERT_OK(drop("envi.data ignore value"));
  ASSERT_OK(set("envi.fwhm", Integers{10, 20, 30, 40}));
  ASSERT_OK(set("envi.reflectance scale factor", int64_t(10000)));
  ASSERT_OK(set("envi.custom count", int64_t(12)));
  ASSERT_OK(set("tiff.GDAL_NODATA", std::string("-32768")));
  ASSERT_OK(set("tiff.ImageDescription", std::string("From a TIFF")));
  ASSERT_OK(set("envi.samples", int64_t(99)));  // the export's own shape says this
  Attributes written = exported({100, 200, 10, 8}, {1});
  EXPECT_EQ(value_of(written, "envi.fwhm"), AttributeValue(Reals{20}));
  EXPECT_EQ(value_of(written, "envi.reflectance scale factor"), AttributeValue(10000.0));
  EXPECT_EQ(value_of(written, "envi.custom count"), AttributeValue(std::string("12")));
  EXPECT_EQ(value_of(written, "envi.data ignore value"), AttributeValue(-32768.0));
  EXPECT_EQ(value_of(written, "envi.description"), AttributeValue(std::string("From a TIFF")));
  EXPECT_EQ(find_attribute(written, "envi.samples"), nullptr);

  // ENVI's own fields win over the other formats'; a TIFF value ENVI cannot hold is left out.
  ASSERT_OK(set("envi.data ignore value", 7.5));
  ASSERT_OK(set("tiff.GDAL_NODATA", std::string("not a number")));
  ASSERT_OK(set("tiff.ImageDescription", std::string("a } and\na line")));
  written = exported({100, 200, 10, 8}, {1});
  EXPECT_EQ(value_of(written, "envi.data ignore value"), AttributeValue(7.5));
  EXPECT_EQ(find_attribute(written, "envi.description"), nullptr);

  struct Case {
    std::string name;
    AttributeValue value;
    Texts mentions;
  };
  const Case cases[] = {
      {"envi.description", std::string("a } and\na line"), {"a } and a line"}},
      {"envi.band names", Texts{"a,b", "c", "d", "e"}, {"a,b"}},
      {"envi.wavelength", Reals{1, 2, 3}, {"3 values", "4 bands"}},
      {"envi.wavelength", std::string("{1, 2, 3, 4}"), {"text"}},
      {"envi.Upper Case", std::string("x"), {"read"}},
      {"envi.map info", Texts{"UTM", "one", "1"}, {"reference pixel"}},
  };
  for (const Case& c : cases) {
    const AttributeValue* had = nullptr;
    ASSERT_OK_AND_ASSIGN(Snapshot snap, container_->snapshot());
    ASSERT_OK_AND_ASSIGN(Attributes before, snap.attributes("cube"));
    had = find_attribute(before, c.name);
    ASSERT_OK(set(c.name, c.value));
    const std::string out = path("refused.raw");
    ExportOptions exp;
    exp.region = Region{103, 202, 5, 4};
    const Status status = export_envi(*container_, out, exp);
    EXPECT_CODE(status, Code::kInvalidArgument);
    EXPECT_NE(status.message().find(out + ".hdr: attribute '" + c.name + "'"), std::string::npos)
        << status.message();
    EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.message();
    for (const std::string& m : c.mentions)
      EXPECT_NE(status.message().find(m), std::string::npos) << status.message();
    for (const char* suffix : {"", ".part", ".hdr", ".hdr.part"})
      EXPECT_FALSE(fs::exists(out + suffix)) << out + suffix;
    ASSERT_OK(had ? set(c.name, *had) : drop(c.name));
  }
}

// ---------------------------------------------------------------------------------------------
// Headers written by GDAL, read back by GDAL

// make DIR: a GeoTIFF (UTM 33N, nodata 0, band descriptions) through gdal.Translate to ENVI
// (scene.img, scene.hdr) with wavelengths in GDAL's ENVI metadata domain.
// check DIR SPEC: what GDAL reads of each output of SPEC, its pixels against the GeoTIFF's.
const char* const kGdalScript = R"PY(
import json, sys
import numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
gdal.SetConfigOption('GDAL_PAM_ENABLED', 'NO')  # nothing but the header speaks
mode, d = sys.argv[1], sys.argv[2]
utm33 = osr.SpatialReference()
utm33.ImportFromEPSG(32633)
if mode == 'make':
    ds = gdal.GetDriverByName('GTiff').Create(d + '/src.tif', 64, 48, 3, gdal.GDT_UInt16)
    ds.SetGeoTransform([500000.0, 30.0, 0.0, 4100000.0, 0.0, -30.0])
    ds.SetProjection(utm33.ExportToWkt())
    rng = np.random.default_rng(20240611)
    for b, name in enumerate(['Blue', 'Green', 'Red']):
        band = ds.GetRasterBand(b + 1)
        band.WriteArray(rng.integers(1, 65535, (48, 64), dtype=np.uint16))
        band.SetNoDataValue(0)
        band.SetDescription(name)
    ds = None
    out = gdal.Translate(d + '/scene.img', d + '/src.tif', format='ENVI')
    out.SetMetadataItem('wavelength', '{450.5, 550, 650}', 'ENVI')
    out.SetMetadataItem('fwhm', '{10, 11, 12}', 'ENVI')
    out.SetMetadataItem('wavelength units', 'Nanometers', 'ENVI')
    out = None
    print(json.dumps({}))
else:
    spec = json.loads(sys.argv[3])
    src = gdal.Open(d + '/src.tif').ReadAsArray()
    # What GDAL reads of the header it wrote itself: band descriptions, wavelengths.
    ds = gdal.Open(d + '/scene.img')
    bands = [ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]
    report = {'scene': {'descriptions': [b.GetDescription() for b in bands],
                        'wavelengths': [b.GetMetadataItem('wavelength') for b in bands]}}
    for o in spec['outputs']:
        ds = gdal.Open(o['path'])
        srs = osr.SpatialReference(wkt=ds.GetProjection())
        bands = [ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]
        got = ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)
        x, y = o['x'], o['y']
        want = src[o['bands'], y:y + ds.RasterYSize, x:x + ds.RasterXSize]
        report[o['name']] = {
            'size': [ds.RasterXSize, ds.RasterYSize, ds.RasterCount],
            'type': gdal.GetDataTypeName(bands[0].DataType),
            'geotransform': list(ds.GetGeoTransform()),
            'utm33': bool(srs.IsSame(utm33)),
            'nodata': [b.GetNoDataValue() for b in bands],
            'descriptions': [b.GetDescription() for b in bands],
            'wavelengths': [b.GetMetadataItem('wavelength') for b in bands],
            'pixels_equal': bool(np.array_equal(got, want)),
        }
    # i8 goes to TIFF: GDAL 3.7+ reads Int8, GDAL 3.6 Byte marked PIXELTYPE=SIGNEDBYTE.
    i8 = spec['i8']
    ds = gdal.Open(i8['path'])
    raw = np.fromfile(i8['source'], dtype=np.uint8).reshape(i8['shape'])
    report['i8'] = {'type': gdal.GetDataTypeName(ds.GetRasterBand(1).DataType),
                    'pixeltype': ds.GetRasterBand(1).GetMetadataItem('PIXELTYPE', 'IMAGE_STRUCTURE'),
                    'pixels_equal': bool(np.array_equal(ds.ReadAsArray().view(np.uint8), raw))}
    print(json.dumps(report))
)PY";

class EnviAttributesGdalTest : public TempDirTest {};

TEST_F(EnviAttributesGdalTest, GdalHeadersRoundTrip) {
  const std::string dir = tmp_.dir().string();
  python_json(dir, "gdal", kGdalScript, {"make", dir});
  if (HasFailure()) return;

  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("g.tsr"), fast()));
  ImportOptions import;
  import.tile_size = 16;
  ASSERT_OK(import_envi(container, path("scene.img"), import));  // its header: scene.hdr
  {
    ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
    ASSERT_OK_AND_ASSIGN(Attributes a, snap.attributes("scene"));
    EXPECT_EQ(value_of(a, "envi.map info"),
              AttributeValue(Texts{"UTM", "1", "1", "500000", "4100000", "30", "30", "33",
                                   "North", "WGS-84"}))
        << describe(a);
    const auto* wkt = std::get_if<std::string>(find_attribute(a, "envi.coordinate system string"));
    ASSERT_NE(wkt, nullptr) << describe(a);
    EXPECT_TRUE(wkt->starts_with("PROJCS[")) << *wkt;
    EXPECT_NE(wkt->find("UTM_Zone_33N"), std::string::npos) << *wkt;
    EXPECT_EQ(value_of(a, "envi.band names"), AttributeValue(Texts{"Blue", "Green", "Red"}));
    EXPECT_EQ(value_of(a, "envi.data ignore value"), AttributeValue(0.0));
    EXPECT_EQ(value_of(a, "envi.wavelength"), AttributeValue(Reals{450.5, 550, 650}));
    EXPECT_EQ(value_of(a, "envi.fwhm"), AttributeValue(Reals{10, 11, 12}));
    EXPECT_EQ(value_of(a, "envi.wavelength units"), AttributeValue(std::string("Nanometers")));
    EXPECT_EQ(value_of(a, "envi.file type"), AttributeValue(std::string("ENVI Standard")));
    EXPECT_TRUE(std::holds_alternative<std::string>(value_of(a, "envi.description")));
  }

  // The whole scene in BSQ; a cut over (9, 5) of bands Red, Blue in BIL; and i8 samples.
  ExportOptions whole;
  whole.interleave = Interleave::kBSQ;
  ASSERT_OK(export_envi(container, path("whole.raw"), whole));
  ExportOptions cut;
  cut.region = Region{9, 5, 30, 20};
  cut.bands = {2, 0};
  cut.interleave = Interleave::kBIL;
  ASSERT_OK(export_envi(container, path("cut.raw"), cut));
  write_u8_envi(path("signed.raw"), 6, 5, 2, "tessera data type = i8\n", 3);
  ImportOptions signed_import;
  signed_import.tile_size = 16;
  ASSERT_OK(import_envi(container, path("signed.raw"), signed_import));
  ExportOptions signed_export;
  signed_export.image = "signed";
  signed_export.interleave = Interleave::kBSQ;
  const Status refused = export_envi(container, path("signed_out.raw"), signed_export);
  EXPECT_EQ(refused.code(), Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("TIFF"), std::string::npos) << refused.message();
  FileExportOptions signed_tiff;
  signed_tiff.export_options.image = "signed";
  ASSERT_OK(export_file(container, path("signed_out.tif"), signed_tiff));

  const json spec = {
      {"outputs",
       {{{"name", "whole"}, {"path", path("whole.raw")}, {"x", 0}, {"y", 0}, {"bands", {0, 1, 2}}},
        {{"name", "cut"}, {"path", path("cut.raw")}, {"x", 9}, {"y", 5}, {"bands", {2, 0}}}}},
      {"i8", {{"path", path("signed_out.tif")}, {"source", path("signed.raw")}, {"shape", {2, 5, 6}}}}};
  const json got = python_json(dir, "gdal", kGdalScript, {"check", dir, spec.dump()});
  if (HasFailure()) return;
  // GDAL names a band "NAME (WAVELENGTH UNITS)" when the header has wavelengths, for its own
  // header as for ours.
  const json& scene = got["scene"];
  EXPECT_EQ(scene["descriptions"],
            json({"Blue (450.5 Nanometers)", "Green (550 Nanometers)", "Red (650 Nanometers)"}));
  EXPECT_EQ(scene["wavelengths"], json({"450.5", "550", "650"}));
  const json& w = got["whole"];
  EXPECT_EQ(w["size"], json({64, 48, 3}));
  EXPECT_EQ(w["type"], "UInt16");
  EXPECT_EQ(w["geotransform"], json({500000.0, 30.0, 0.0, 4100000.0, 0.0, -30.0}));
  EXPECT_TRUE(w["utm33"].get<bool>());
  EXPECT_EQ(w["nodata"], json({0.0, 0.0, 0.0}));
  EXPECT_EQ(w["descriptions"], scene["descriptions"]);
  EXPECT_EQ(w["wavelengths"], json({"450.5", "550", "650"}));
  EXPECT_TRUE(w["pixels_equal"].get<bool>());
  const json& c = got["cut"];
  EXPECT_EQ(c["size"], json({30, 20, 2}));
  EXPECT_EQ(c["geotransform"], json({500000.0 + 9 * 30, 30.0, 0.0, 4100000.0 - 5 * 30, 0.0, -30.0}));
  EXPECT_TRUE(c["utm33"].get<bool>());
  EXPECT_EQ(c["nodata"], json({0.0, 0.0}));
  EXPECT_EQ(c["descriptions"], json({scene["descriptions"][2], scene["descriptions"][0]}));
  EXPECT_EQ(c["wavelengths"], json({"650", "450.5"}));
  EXPECT_TRUE(c["pixels_equal"].get<bool>());
  const json& i8 = got["i8"];
  EXPECT_TRUE(i8["type"] == "Int8" || (i8["type"] == "Byte" && i8["pixeltype"] == "SIGNEDBYTE")) << i8.dump();
  EXPECT_TRUE(i8["pixels_equal"].get<bool>());
}

// ---------------------------------------------------------------------------------------------
// Headers written by Spectral Python, read back by it

// make DIR: a float32 cube through spectral.envi.save_image (scene.hdr, scene.img) with
// metadata; the cube itself in src.npy. check DIR SPEC: what spectral.envi.open reads of each
// output of SPEC, its pixels against the cube's.
const char* const kSpectralScript = R"PY(
import json, sys
import numpy as np
from spectral.io import envi
mode, d = sys.argv[1], sys.argv[2]
if mode == 'make':
    rng = np.random.default_rng(611)
    cube = rng.standard_normal((18, 24, 4)).astype(np.float32)  # lines, samples, bands
    np.save(d + '/src.npy', cube)
    metadata = {
        'description': 'Spectral test scene',
        'wavelength': [412.5, 443.0, 490.25, 510.0],
        'fwhm': [9.5, 10.0, 10.5, 11.0],
        'band names': ['violet', 'deep blue', 'blue', 'cyan'],
        'map info': ['UTM', '1', '1', '500000', '4100000', '30', '30', '33', 'North', 'WGS-84'],
        'default bands': [3, 2, 1],
        'bbl': [1, 1, 0, 1],
        'sensor type': 'Hand made',
        'my custom field': '{alpha, beta}',
    }
    envi.save_image(d + '/scene.hdr', cube, metadata=metadata, interleave='bil', ext='.img')
    print(json.dumps({}))
else:
    spec = json.loads(sys.argv[3])
    cube = np.load(d + '/src.npy')
    report = {}
    for o in spec['outputs']:
        img = envi.open(o['path'] + '.hdr', o['path'])
        m = img.metadata
        x, y = o['x'], o['y']
        got = np.asarray(img.load())
        want = cube[y:y + img.nrows, x:x + img.ncols, :][:, :, o['bands']]
        report[o['name']] = {
            'shape': [img.nrows, img.ncols, img.nbands],
            'dtype': np.dtype(img.dtype).name,
            'wavelength': img.bands.centers,
            'fwhm': img.bands.bandwidths,
            'band names': m.get('band names'),
            'map info': m.get('map info'),
            'description': m.get('description'),
            'default bands': m.get('default bands'),
            'bbl': [int(v) for v in m.get('bbl', [])],
            'sensor type': m.get('sensor type'),
            'my custom field': m.get('my custom field'),
            'pixels_equal': bool(np.array_equal(got, want)),
        }
    print(json.dumps(report))
)PY";

class EnviAttributesSpectralTest : public TempDirTest {};

TEST_F(EnviAttributesSpectralTest, SpectralHeadersRoundTrip) {
  const std::string dir = tmp_.dir().string();
  python_json(dir, "spectral", kSpectralScript, {"make", dir});
  if (HasFailure()) return;

  ASSERT_OK_AND_ASSIGN(Container container, Container::create(path("s.tsr"), fast()));
  ImportOptions import;
  import.tile_size = 16;
  ASSERT_OK(import_envi(container, path("scene.img"), import));
  {
    ASSERT_OK_AND_ASSIGN(Snapshot snap, container.snapshot());
    ASSERT_OK_AND_ASSIGN(Attributes a, snap.attributes("scene"));
    EXPECT_EQ(value_of(a, "envi.description"), AttributeValue(std::string("Spectral test scene")))
        << describe(a);
    EXPECT_EQ(value_of(a, "envi.wavelength"), AttributeValue(Reals{412.5, 443.0, 490.25, 510.0}));
    EXPECT_EQ(value_of(a, "envi.fwhm"), AttributeValue(Reals{9.5, 10.0, 10.5, 11.0}));
    EXPECT_EQ(value_of(a, "envi.band names"),
              AttributeValue(Texts{"violet", "deep blue", "blue", "cyan"}));
    EXPECT_EQ(value_of(a, "envi.map info"),
              AttributeValue(Texts{"UTM", "1", "1", "500000", "4100000", "30", "30", "33",
                                   "North", "WGS-84"}));
    EXPECT_EQ(value_of(a, "envi.default bands"), AttributeValue(Integers{3, 2, 1}));
    EXPECT_EQ(value_of(a, "envi.bbl"), AttributeValue(Integers{1, 1, 0, 1}));
    EXPECT_EQ(value_of(a, "envi.sensor type"), AttributeValue(std::string("Hand made")));
    EXPECT_EQ(value_of(a, "envi.my custom field"), AttributeValue(std::string("{alpha, beta}")));
  }

  ExportOptions whole;  // BIP
  ASSERT_OK(export_envi(container, path("whole.raw"), whole));
  ExportOptions cut;
  cut.region = Region{5, 3, 12, 10};
  cut.bands = {3, 1, 0};
  cut.interleave = Interleave::kBSQ;
  ASSERT_OK(export_envi(container, path("cut.raw"), cut));

  const json spec = {
      {"outputs",
       {{{"name", "whole"}, {"path", path("whole.raw")}, {"x", 0}, {"y", 0}, {"bands", {0, 1, 2, 3}}},
        {{"name", "cut"}, {"path", path("cut.raw")}, {"x", 5}, {"y", 3}, {"bands", {3, 1, 0}}}}}};
  const json got = python_json(dir, "spectral", kSpectralScript, {"check", dir, spec.dump()});
  if (HasFailure()) return;
  const json& w = got["whole"];
  EXPECT_EQ(w["shape"], json({18, 24, 4}));
  EXPECT_EQ(w["dtype"], "float32");
  EXPECT_EQ(w["wavelength"], json({412.5, 443.0, 490.25, 510.0}));
  EXPECT_EQ(w["fwhm"], json({9.5, 10.0, 10.5, 11.0}));
  EXPECT_EQ(w["band names"], json({"violet", "deep blue", "blue", "cyan"}));
  EXPECT_EQ(w["map info"], json({"UTM", "1", "1", "500000", "4100000", "30", "30", "33", "North", "WGS-84"}));
  EXPECT_EQ(w["description"], "Spectral test scene");
  EXPECT_EQ(w["default bands"], json({"3", "2", "1"}));
  EXPECT_EQ(w["bbl"], json({1, 1, 0, 1}));
  EXPECT_EQ(w["sensor type"], "Hand made");
  EXPECT_EQ(w["my custom field"], json({"alpha", "beta"}));  // Spectral splits braces itself
  EXPECT_TRUE(w["pixels_equal"].get<bool>());
  const json& c = got["cut"];
  EXPECT_EQ(c["shape"], json({10, 12, 3}));
  EXPECT_EQ(c["wavelength"], json({510.0, 443.0, 412.5}));
  EXPECT_EQ(c["fwhm"], json({11.0, 10.0, 9.5}));
  EXPECT_EQ(c["band names"], json({"cyan", "deep blue", "violet"}));
  EXPECT_EQ(c["map info"], json({"UTM", "-4", "-2", "500000", "4100000", "30", "30", "33", "North", "WGS-84"}));
  EXPECT_EQ(c["default bands"], json(nullptr)) << "band 3 (blue) is not exported";
  EXPECT_EQ(c["bbl"], json({1, 1, 1}));
  EXPECT_EQ(c["my custom field"], json({"alpha", "beta"}));
  EXPECT_TRUE(c["pixels_equal"].get<bool>());
}

}  // namespace
}  // namespace tessera
