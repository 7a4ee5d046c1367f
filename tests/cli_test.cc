// cli_test.cc — the `tessera` command-line contract, tested by running the real binary
// (TESSERA_CLI_PATH) the way scripts do: exit codes, the one stderr line on error, nothing
// written on error, and byte-exact ENVI round trips checked against rasters generated here.
//
// Everything expected is computed in this file from the generated source arrays (file
// layouts, byte swapping, region and band selection), independently of the library.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <chrono>
#include <csignal>
#include <random>

#include <nlohmann/json.hpp>
#include <tiffio.h>

#include "tessera/tessera.h"
#include "test_util.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using tessera::test::read_file;
using tessera::test::write_file;

// ---------------------------------------------------------------------------------------------
// Files and processes

struct RunResult {
  int code = -1;  // exit code, or 128 + signal number
  std::string out, err;
};

std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  return os << "exit " << r.code << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err;
}

// Names and contents of the files in a directory ("-lock" files by name only: opening a
// container legitimately updates its lock file's reader table).
std::map<std::string, std::string> directory_state(const std::string& dir) {
  std::map<std::string, std::string> state;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    state[name] = name.ends_with("-lock") || entry.is_directory() ? "" : read_file(entry.path().string());
  }
  return state;
}

std::vector<std::string> names_of(const std::map<std::string, std::string>& state) {
  std::vector<std::string> names;
  for (const auto& [name, bytes] : state) names.push_back(name);
  return names;
}

// A fresh directory per test: work/ holds the files the CLI reads and writes, capture/ its
// stdout and stderr (kept apart so that "nothing written" can compare all of work/).
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "tessera_cli_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern << ": " << std::strerror(errno);
    root_ = pattern;
    fs::create_directory(root_ + "/work");
    fs::create_directory(root_ + "/capture");
  }
  void TearDown() override {
    if (!std::getenv("TESSERA_KEEP_TEST_DIRS")) {
      std::error_code ec;
      fs::remove_all(root_, ec);
    }
  }

  std::string path(const std::string& name) const { return root_ + "/work/" + name; }
  std::string work_dir() const { return root_ + "/work"; }

  RunResult tessera(const std::vector<std::string>& args) {
    const std::string out_path = root_ + "/capture/stdout", err_path = root_ + "/capture/stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all = {TESSERA_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    RunResult result;
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, TESSERA_CLI_PATH, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE() << "cannot run " << TESSERA_CLI_PATH << ": " << std::strerror(rc);
      return result;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = read_file(out_path);
    result.err = read_file(err_path);
    return result;
  }

  // Runs a command that must succeed quietly on stderr.
  RunResult expect_success(const std::vector<std::string>& args) {
    RunResult r = tessera(args);
    EXPECT_EQ(r.code, 0) << join(args) << "\n" << r;
    return r;
  }

  // Runs a command that must fail with `exit_code` (1 or 2), one stderr line naming
  // `mentions`, nothing on stdout and nothing changed in work/.
  RunResult expect_failure(const std::vector<std::string>& args, int exit_code,
                           const std::vector<std::string>& mentions) {
    const auto before = directory_state(work_dir());
    RunResult r = tessera(args);
    const std::string what = join(args);
    EXPECT_EQ(r.code, exit_code) << what << "\n" << r;
    EXPECT_TRUE(r.code >= 1 && r.code <= 127) << what << "\n" << r;
    EXPECT_TRUE(r.err.starts_with("tessera: ")) << what << "\n" << r;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << "\n" << r;
    EXPECT_TRUE(r.err.ends_with("\n")) << what << "\n" << r;
    for (const std::string& m : mentions)
      EXPECT_NE(r.err.find(m), std::string::npos) << what << ": stderr does not name '" << m
                                                   << "'\n" << r;
    if (exit_code != 2 || !r.out.starts_with("usage:")) {  // only a bare `tessera` shows usage
      EXPECT_EQ(r.out, "") << what << "\n" << r;
    }
    const auto after = directory_state(work_dir());
    EXPECT_EQ(names_of(after), names_of(before)) << what << ": files appeared or vanished";
    EXPECT_TRUE(after == before) << what << ": a file changed";
    return r;
  }

  static std::string join(const std::vector<std::string>& args) {
    std::string s = "tessera";
    for (const auto& a : args) s += " " + a;
    return s;
  }

  std::string root_;
};

// ---------------------------------------------------------------------------------------------
// Rasters and their ENVI files

struct EnviType {
  int code;
  const char* name;  // Tessera's name for it
  size_t size;
  bool is_float;
};
const EnviType kEnviTypes[] = {
    {1, "u8", 1, false},  {2, "i16", 2, false},  {3, "i32", 4, false},
    {4, "f32", 4, true},  {5, "f64", 8, true},   {12, "u16", 2, false},
    {13, "u32", 4, false}, {14, "i64", 8, false}, {15, "u64", 8, false},
};
// GoogleTest (and so CTest's test names) show a parameter by its type name.
void PrintTo(const EnviType& type, std::ostream* os) {
  *os << type.name << " (ENVI data type " << type.code << ")";
}
const char* const kInterleaves[] = {"bsq", "bil", "bip"};

uint64_t mix(uint64_t x) {  // splitmix64: deterministic pseudo-random samples
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A width x height x bands raster held as [band][y][x] little-endian samples.
struct Raster {
  size_t sample_bytes = 1;
  int64_t width = 0, height = 0;
  uint32_t bands = 1;
  std::vector<uint8_t> samples;

  Raster(size_t sample_bytes_, int64_t w, int64_t h, uint32_t b)
      : sample_bytes(sample_bytes_), width(w), height(h), bands(b),
        samples(size_t(w * h) * b * sample_bytes_, 0) {}
  uint8_t* at(uint32_t band, int64_t x, int64_t y) {
    return samples.data() + ((size_t(band) * height + y) * width + x) * sample_bytes;
  }
  const uint8_t* at(uint32_t band, int64_t x, int64_t y) const {
    return samples.data() + ((size_t(band) * height + y) * width + x) * sample_bytes;
  }
};

// Every sample non-zero (so the exact bounds are the whole raster) and finite for floats.
Raster random_raster(const EnviType& type, int64_t w, int64_t h, uint32_t bands, uint64_t seed) {
  Raster r(type.size, w, h, bands);
  for (size_t i = 0; i < r.samples.size() / type.size; ++i) {
    uint64_t v = mix(seed * 1000003 + i);
    uint8_t* p = r.samples.data() + i * type.size;
    if (type.is_float && type.size == 4) {
      float f = float(int64_t(v % 2000001) - 1000000) / 8.0f;
      if (f == 0.0f) f = 0.5f;
      std::memcpy(p, &f, 4);
    } else if (type.is_float) {
      double d = double(int64_t(v % 2000000001) - 1000000000) / 1024.0;
      if (d == 0.0) d = 0.25;
      std::memcpy(p, &d, 8);
    } else {
      v |= 1;
      for (size_t k = 0; k < type.size; ++k) p[k] = uint8_t(v >> (8 * k));
    }
  }
  return r;
}

// Offset of sample (band, x, y) in a packed file of w x h x bands in `interleave`.
size_t file_offset(const std::string& interleave, size_t w, size_t h, size_t bands, size_t b,
                   size_t x, size_t y, size_t sample_bytes) {
  if (interleave == "bip") return ((y * w + x) * bands + b) * sample_bytes;
  if (interleave == "bil") return ((y * bands + b) * w + x) * sample_bytes;
  return ((b * h + y) * w + x) * sample_bytes;
}

// The raster's bytes as a raw ENVI file in `interleave` and byte order.
std::string encode(const Raster& r, const std::string& interleave, bool big_endian = false) {
  std::string out(r.samples.size(), '\0');
  for (uint32_t b = 0; b < r.bands; ++b)
    for (int64_t y = 0; y < r.height; ++y)
      for (int64_t x = 0; x < r.width; ++x) {
        const uint8_t* s = r.at(b, x, y);
        char* d = out.data() + file_offset(interleave, size_t(r.width), size_t(r.height), r.bands,
                                           b, size_t(x), size_t(y), r.sample_bytes);
        for (size_t k = 0; k < r.sample_bytes; ++k)
          d[k] = char(s[big_endian ? r.sample_bytes - 1 - k : k]);
      }
  return out;
}

// What `tessera export` must write for `region` (in image coordinates) and `bands` of a
// raster imported at (ox, oy): the raster's samples where it lies, zero (the fill) elsewhere.
std::string expected_export(const Raster& r, int64_t ox, int64_t oy, int64_t rx, int64_t ry,
                            int64_t rw, int64_t rh, const std::vector<uint32_t>& bands,
                            const std::string& interleave) {
  std::string out(size_t(rw * rh) * bands.size() * r.sample_bytes, '\0');
  for (size_t i = 0; i < bands.size(); ++i)
    for (int64_t y = 0; y < rh; ++y)
      for (int64_t x = 0; x < rw; ++x) {
        const int64_t sx = rx + x - ox, sy = ry + y - oy;
        if (sx < 0 || sy < 0 || sx >= r.width || sy >= r.height) continue;
        std::memcpy(out.data() + file_offset(interleave, size_t(rw), size_t(rh), bands.size(), i,
                                             size_t(x), size_t(y), r.sample_bytes),
                    r.at(bands[i], sx, sy), r.sample_bytes);
      }
  return out;
}

std::string envi_header(const Raster& r, int code, const std::string& interleave,
                        int byte_order = 0, const std::string& extra = "") {
  std::ostringstream h;
  h << "ENVI\nsamples = " << r.width << "\nlines = " << r.height << "\nbands = " << r.bands
    << "\nheader offset = 0\nfile type = ENVI Standard\ndata type = " << code
    << "\ninterleave = " << interleave << "\nbyte order = " << byte_order << "\n"
    << extra;
  return h.str();
}

// The key = value lines of an ENVI header written by export (simple values only).
std::map<std::string, std::string> parse_header(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(' '));
      s.erase(s.find_last_not_of(' ') + 1);
      return s;
    };
    fields[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return fields;
}

void expect_header(const std::string& path, int64_t w, int64_t h, size_t bands, int code,
                   const std::string& interleave) {
  const std::string text = read_file(path);
  ASSERT_TRUE(text.starts_with("ENVI\n")) << path << ":\n" << text;
  auto f = parse_header(text);
  EXPECT_EQ(f["samples"], std::to_string(w)) << text;
  EXPECT_EQ(f["lines"], std::to_string(h)) << text;
  EXPECT_EQ(f["bands"], std::to_string(bands)) << text;
  EXPECT_EQ(f["data type"], std::to_string(code)) << text;
  EXPECT_EQ(f["interleave"], interleave) << text;
  EXPECT_EQ(f["byte order"], "0") << text;
  EXPECT_EQ(f.count("header offset") ? f["header offset"] : "0", "0") << text;
}

// Compares two byte strings, reporting the first difference rather than dumping them.
::testing::AssertionResult same_bytes(const std::string& expected, const std::string& actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  if (expected.size() != actual.size())
    return ::testing::AssertionFailure()
           << "size " << actual.size() << ", expected " << expected.size();
  size_t i = 0;
  while (expected[i] == actual[i]) ++i;
  return ::testing::AssertionFailure() << "first difference at byte " << i << ": "
                                       << int(uint8_t(actual[i])) << ", expected "
                                       << int(uint8_t(expected[i]));
}

// ---------------------------------------------------------------------------------------------
// Round trips

class CliRoundTripTest : public CliTest, public ::testing::WithParamInterface<EnviType> {};

// Every ENVI type in every interleave (and big-endian) comes back byte for byte.
TEST_P(CliRoundTripTest, ImportExportIsByteIdentical) {
  const EnviType& type = GetParam();
  const Raster raster = random_raster(type, 37, 29, 3, uint64_t(type.code));
  const std::string file = path("rt.tsr");
  expect_success({"create", file});
  for (const char* name : kInterleaves) {
    const std::string interleave = name;
    const std::string src = path("src_" + interleave + ".raw");
    write_file(src, encode(raster, interleave));
    write_file(src + ".hdr", envi_header(raster, type.code, interleave));
    expect_success({"import", file, src, "--tile", "16"});  // image "src_<interleave>"
    const std::string out = path("out_" + interleave);
    expect_success({"export", file, out, "--image", "src_" + interleave, "--interleave",
                    interleave, "--region", "0,0,37,29"});
    EXPECT_TRUE(same_bytes(encode(raster, interleave), read_file(out))) << interleave;
    expect_header(out + ".hdr", 37, 29, 3, type.code, interleave);
    EXPECT_FALSE(fs::exists(out + ".part"));
    EXPECT_FALSE(fs::exists(out + ".hdr.part"));
  }
  if (type.size > 1) {  // byte order 1 in, little-endian out
    const std::string src = path("big.raw");
    write_file(src, encode(raster, "bil", /*big_endian=*/true));
    write_file(src + ".hdr", envi_header(raster, type.code, "bil", 1));
    expect_success({"import", file, src, "--tile", "16", "--image", "big"});
    const std::string out = path("out_big");
    expect_success({"export", file, out, "--image", "big", "--interleave", "bil"});
    EXPECT_TRUE(same_bytes(encode(raster, "bil"), read_file(out)));
    expect_header(out + ".hdr", 37, 29, 3, type.code, "bil");
  }
  const RunResult info = expect_success({"info", file, "--json"});
  const auto json = nlohmann::json::parse(info.out);
  for (const auto& image : json["images"])
    EXPECT_EQ(image["dtype"], type.name) << image.dump();
}

INSTANTIATE_TEST_SUITE_P(CliEveryEnviType, CliRoundTripTest, ::testing::ValuesIn(kEnviTypes),
                         [](const ::testing::TestParamInfo<EnviType>& info) {
                           return std::string(info.param.name);
                         });

// i8 has no ENVI code: "tessera data type = i8" beside code 1 imports as i8; an export of i8
// to ENVI, which GDAL and Spectral Python would read unsigned, is refused in favour of TIFF.
TEST_F(CliTest, SignedBytesUseTheTesseraDataTypeField) {
  const EnviType i8{1, "i8", 1, false};
  const Raster raster = random_raster(i8, 20, 18, 2, 8);
  const std::string file = path("i8.tsr"), src = path("signed.raw"), out = path("signed_out");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 1, "bip", 0, "tessera data type = i8\n"));
  expect_success({"import", file, src, "--tile", "16"});  // creates the missing FILE
  const auto json = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  ASSERT_EQ(json["images"].size(), 1u);
  EXPECT_EQ(json["images"][0]["name"], "signed");
  EXPECT_EQ(json["images"][0]["dtype"], "i8");
  expect_failure({"export", file, out}, 1, {"ENVI has no signed 8-bit type", "TIFF"});
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".hdr"));
  expect_success({"export", file, out + ".tif"});
  expect_success({"import", file, out + ".tif", "--image", "back"});
  expect_success({"export", file, path("back.tif"), "--image", "back"});
  EXPECT_EQ(read_file(out + ".tif").size(), read_file(path("back.tif")).size());
  const auto back = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(back["images"][0]["dtype"], "i8");
}

// Header syntax: the .hdr found by replacing the extension, case-insensitive keys with
// several spaces, comments, braced values over several lines, a header offset.
TEST_F(CliTest, ImportReadsRealWorldHeaders) {
  const Raster raster = random_raster(kEnviTypes[5], 33, 17, 4, 77);  // u16
  const std::string src = path("scene.img"), file = path("h.tsr"), out = path("scene_out");
  write_file(src, std::string(100, 'H') + encode(raster, "bil", true));
  write_file(path("scene.hdr"),
             "ENVI\r\n"
             "description = {\r\n  A scene, with = signs and\r\n  several lines }\r\n"
             "; a comment\r\n"
             "Samples = 33\r\nLINES=17\r\n  BANDS   =  4\r\n"
             "Header   Offset = 100\r\n"
             "file type = ENVI Standard\r\n"
             "Data Type = 12\r\n"
             "Interleave = BIL\r\n"
             "sensor type = Unknown\r\n"
             "Byte Order = 1\r\n"
             "wavelength = {\r\n 450.0, 550.0,\r\n 650.0, 750.0}\r\n");
  expect_success({"import", file, src, "--tile", "16", "--codec", "zstd:5"});
  expect_success({"export", file, out, "--image", "scene", "--interleave", "bsq"});
  EXPECT_TRUE(same_bytes(encode(raster, "bsq"), read_file(out)));
  const auto json = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(json["images"][0]["codec"], "zstd:5");
  EXPECT_EQ(json["images"][0]["dtype"], "u16");
  EXPECT_EQ(json["images"][0]["bands"], 4);
}

// ---------------------------------------------------------------------------------------------
// Export: regions, bands, interleaves

// A raster imported at a negative origin, read back through regions that cross its edges,
// band subsets in any order and every interleave.
TEST_F(CliTest, ExportRegionBandsAndInterleave) {
  const Raster raster = random_raster(kEnviTypes[5], 50, 40, 4, 5);  // u16
  const std::string file = path("r.tsr"), src = path("img.raw");
  write_file(src, encode(raster, "bsq"));
  write_file(src + ".hdr", envi_header(raster, 12, "bsq"));
  expect_success({"create", file});
  expect_success({"import", file, src, "--tile", "16", "--origin", "-20,-7"});

  struct Case {
    int64_t x, y, w, h;
    std::vector<uint32_t> bands;
    std::string interleave;
  };
  const Case cases[] = {
      {-25, -10, 30, 20, {2, 0}, "bsq"},      // crosses the top-left corner
      {10, 5, 40, 38, {3}, "bil"},            // beyond the bottom-right corner
      {-20, -7, 50, 40, {3, 2, 1, 0}, "bip"}, // exactly the raster, bands reversed
      {0, 0, 1, 1, {1, 3}, "bil"},            // one pixel
      {-3, 1, 17, 33, {0, 1, 2, 3}, "bsq"},   // inside, unaligned
      {100, 100, 8, 8, {0}, "bip"},           // wholly outside: all fill
  };
  for (const Case& c : cases) {
    const std::string out = path("out"), region = std::to_string(c.x) + "," +
                                                  std::to_string(c.y) + "," +
                                                  std::to_string(c.w) + "," + std::to_string(c.h);
    std::string bands;
    for (uint32_t b : c.bands) bands += (bands.empty() ? "" : ",") + std::to_string(b);
    expect_success({"export", file, out, "--region", region, "--bands", bands, "--interleave",
                    c.interleave});
    EXPECT_TRUE(same_bytes(expected_export(raster, -20, -7, c.x, c.y, c.w, c.h, c.bands,
                                           c.interleave),
                           read_file(out)))
        << region << " bands " << bands << " " << c.interleave;
    expect_header(out + ".hdr", c.w, c.h, c.bands.size(), 12, c.interleave);
  }

  // Defaults: the exact bounds of the data, every band, bip.
  const std::string out = path("default_out");
  expect_success({"export", file, out});
  EXPECT_TRUE(same_bytes(expected_export(raster, -20, -7, -20, -7, 50, 40, {0, 1, 2, 3}, "bip"),
                         read_file(out)));
  expect_header(out + ".hdr", 50, 40, 4, 12, "bip");
}

// Without --region the export covers the frame's extent, what the import covered (fill
// included), and writes where it lies; --region data is the exact bounding box of the non-fill
// pixels, whose ENVI header says where it lies in the source's grid (x start, y start).
TEST_F(CliTest, ExportDefaultsToTheExtent) {
  Raster raster(1, 40, 30, 2);
  for (int64_t y = 7; y < 25; ++y)
    for (int64_t x = 5; x < 33; ++x) *raster.at(uint32_t((x + y) % 2), x, y) = uint8_t(1 + (x * y) % 200);
  const std::string file = path("b.tsr"), src = path("sparse.raw"), out = path("sparse_out");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 1, "bip"));
  expect_success({"import", file, src, "--tile", "16", "--origin", "1000,-1000"});
  expect_success({"export", file, out, "--interleave", "bsq"});
  EXPECT_TRUE(same_bytes(encode(raster, "bsq"), read_file(out)));
  expect_header(out + ".hdr", 40, 30, 2, 1, "bsq");
  EXPECT_EQ(parse_header(read_file(out + ".hdr")).count("x start"), 0u);
  expect_success({"export", file, out, "--interleave", "bsq", "--region", "data"});
  EXPECT_TRUE(same_bytes(expected_export(raster, 1000, -1000, 1005, -993, 28, 18, {0, 1}, "bsq"),
                         read_file(out)));
  expect_header(out + ".hdr", 28, 18, 2, 1, "bsq");
  EXPECT_EQ(parse_header(read_file(out + ".hdr"))["x start"], "5");
  EXPECT_EQ(parse_header(read_file(out + ".hdr"))["y start"], "7");
  const auto json = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(json["images"][0]["bounds"],
            (nlohmann::json{{"x", 1005}, {"y", -993}, {"width", 28}, {"height", 18}}));
  EXPECT_EQ(json["images"][0]["extent"],
            (nlohmann::json{{"x", 1000}, {"y", -1000}, {"width", 40}, {"height", 30}}));
  const std::string text = expect_success({"info", file}).out;
  EXPECT_NE(text.find("  extent:       1000,-1000,40x30 (x,y,WxH) (frame 0)\n"), std::string::npos) << text;

  // A second import into the frame elsewhere: the extent grows to hold both.
  expect_success({"import", file, src, "--image", "sparse", "--origin", "1100,-1000"});
  const auto both = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(both["images"][0]["extent"],
            (nlohmann::json{{"x", 1000}, {"y", -1000}, {"width", 140}, {"height", 30}}));
}

// Coordinates far from the origin work end to end.
TEST_F(CliTest, ImportAndExportAtHugeCoordinates) {
  const Raster raster = random_raster(kEnviTypes[2], 21, 19, 2, 9);  // i32
  const std::string file = path("huge.tsr"), src = path("far.raw"), out = path("far_out");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 3, "bip"));
  const int64_t x = int64_t(1) << 62, y = -(int64_t(1) << 62) + 5;
  expect_success({"import", file, src, "--tile", "16", "--origin",
                  std::to_string(x) + "," + std::to_string(y)});
  expect_success({"export", file, out});
  EXPECT_TRUE(same_bytes(encode(raster, "bip"), read_file(out)));
  expect_success({"export", file, out, "--region",
                  std::to_string(x - 3) + "," + std::to_string(y + 2) + ",10,30", "--bands", "1"});
  EXPECT_TRUE(same_bytes(expected_export(raster, x, y, x - 3, y + 2, 10, 30, {1}, "bip"),
                         read_file(out)));
}

// --frame appends a frame to an existing image; each frame exports what was imported into it.
TEST_F(CliTest, ImportIntoFramesExportsEachFrame) {
  const Raster first = random_raster(kEnviTypes[0], 24, 20, 2, 11);
  Raster second = first;
  for (int64_t x = 3; x < 9; ++x) *second.at(1, x, 4) = 0xEE;  // frame 1 edits a few pixels
  const std::string file = path("f.tsr"), a = path("a.raw"), b = path("b.raw");
  write_file(a, encode(first, "bil"));
  write_file(a + ".hdr", envi_header(first, 1, "bil"));
  write_file(b, encode(second, "bil"));
  write_file(b + ".hdr", envi_header(second, 1, "bil"));
  expect_success({"import", file, a, "--tile", "16", "--image", "anim"});
  expect_success({"import", file, b, "--image", "anim", "--frame", "1"});
  const auto json = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(json["images"][0]["frames"], 2);
  const std::pair<std::string, const Raster*> frames[] = {{"0", &first}, {"1", &second}};
  for (const auto& [frame, raster] : frames) {
    const std::string out = path("frame" + frame);
    expect_success({"export", file, out, "--frame", frame, "--interleave", "bil"});
    EXPECT_TRUE(same_bytes(encode(*raster, "bil"), read_file(out))) << "frame " << frame;
  }
}

// ---------------------------------------------------------------------------------------------
// info

// A 64x64 u8 image of 16x16 tiles with a known mix: 4 distinct tiles, 4 copies of one tile,
// 4 uniform tiles (two values) and a row of 4 all-fill tiles (absent).
TEST_F(CliTest, InfoCountsTilesChunksAndBytes) {
  Raster raster(1, 64, 64, 1);
  for (int64_t y = 0; y < 64; ++y)
    for (int64_t x = 0; x < 64; ++x) {
      const int64_t tx = x / 16, ty = y / 16, px = x % 16, py = y % 16;
      uint8_t v = 0;
      if (ty == 0) v = uint8_t(1 + mix(uint64_t(y * 64 + x)) % 255);       // distinct
      if (ty == 1) v = uint8_t(1 + mix(uint64_t(py * 16 + px + 5000)) % 255);  // duplicates
      if (ty == 2) v = tx < 2 ? 7 : 9;                                         // uniform
      *raster.at(0, x, y) = v;
    }
  const std::string file = path("info.tsr"), src = path("known.raw");
  write_file(src, encode(raster, "bsq"));
  write_file(src + ".hdr", envi_header(raster, 1, "bsq"));
  expect_success({"create", file});
  expect_success({"import", file, src, "--tile", "16", "--codec", "none"});

  const RunResult json_run = expect_success({"info", file, "--json"});
  EXPECT_EQ(json_run.err, "");
  const auto json = nlohmann::json::parse(json_run.out);
  EXPECT_EQ(json["file"], file);
  EXPECT_EQ(json["format"], "2.3");
  ASSERT_EQ(json["images"].size(), 1u);
  const auto& image = json["images"][0];
  for (const char* key : {"name", "dtype", "bands", "tile_size", "storage", "frames", "bounds",
                          "codec", "tiles_uniform", "tiles_chunk", "chunks_unique", "bytes_raw",
                          "bytes_stored", "compression_ratio", "dedup_ratio"})
    EXPECT_TRUE(image.contains(key)) << key << " missing from " << image.dump();
  EXPECT_EQ(image["name"], "known");
  EXPECT_EQ(image["dtype"], "u8");
  EXPECT_EQ(image["bands"], 1);
  EXPECT_EQ(image["tile_size"], 16);
  EXPECT_EQ(image["codec"], "none");
  EXPECT_EQ(image["frames"], 1);
  EXPECT_EQ(image["bounds"], (nlohmann::json{{"x", 0}, {"y", 0}, {"width", 64}, {"height", 48}}));
  EXPECT_EQ(image["tiles_uniform"], 4);
  EXPECT_EQ(image["tiles_chunk"], 8);
  EXPECT_EQ(image["chunks_unique"], 5);
  EXPECT_EQ(image["bytes_raw"], 12 * 256);
  const uint64_t stored = image["bytes_stored"].get<uint64_t>();
  EXPECT_GE(stored, 5u * 256) << "5 uncompressed chunks of 256 bytes";
  EXPECT_LT(stored, 12u * 256) << "uniform and duplicate tiles must cost less than raw";
  EXPECT_DOUBLE_EQ(image["compression_ratio"].get<double>(), 3072.0 / double(stored));
  EXPECT_DOUBLE_EQ(image["dedup_ratio"].get<double>(), 8.0 / 5.0);

  const RunResult text = expect_success({"info", file});
  EXPECT_EQ(text.err, "");
  for (const char* needle : {"format: 2.3", "image 'known'", "u8", "4 uniform, 8 chunk", "5 unique",
                             "0,0,64x48", "3072", "1.60"})
    EXPECT_NE(text.out.find(needle), std::string::npos) << needle << " not in:\n" << text.out;
}

TEST_F(CliTest, InfoOfAnEmptyContainer) {
  const std::string file = path("empty.tsr");
  expect_success({"create", file});
  const auto json = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(json["file"], file);
  EXPECT_TRUE(json["images"].is_array());
  EXPECT_TRUE(json["images"].empty());
}

// attr shows, sets and deletes typed attributes in one transaction; info shows them; a bad
// change changes nothing.
TEST_F(CliTest, AttrSetsShowsAndDeletesAttributes) {
  const std::string file = path("a.tsr");
  const Raster r = random_raster(kEnviTypes[0], 20, 10, 1, 5);
  write_file(path("s.raw"), encode(r, "bsq"));
  write_file(path("s.hdr"), envi_header(r, 1, "bsq"));
  expect_success({"import", file, path("s.raw")});
  EXPECT_EQ(expect_success({"attr", file, "--set", "wavelength=[400, 500.5]", "--set", "unit=nm",
                            "--set", "count=\"12\"", "--set", "gain=-3", "--set=names=[red, \"a b\"]"})
                .out,
            "");
  EXPECT_EQ(expect_success({"attr", file}).out,
            "count = \"12\"\nenvi.file type = ENVI Standard\ngain = -3\nnames = [\"red\", \"a b\"]\nunit = nm\nwavelength = [400.0, 500.5]\n");
  const auto json = nlohmann::json::parse(expect_success({"attr", file, "--image", "s", "--json"}).out);
  EXPECT_EQ(json["attributes"]["count"], "12");
  EXPECT_EQ(json["attributes"]["gain"], -3);
  EXPECT_EQ(json["attributes"]["wavelength"][1], 500.5);
  EXPECT_TRUE(json["frame"].is_null());
  // Any failing change: none of them is made.
  expect_failure({"attr", file, "--set", "x=1", "--delete", "absent"}, 1, {"no attribute 'absent'"});
  expect_failure({"attr", file, "--set", "bad=\"open"}, 2, {"--set"});
  expect_failure({"attr", file, "--set", "novalue"}, 2, {"KEY=VALUE"});
  expect_failure({"attr", file, "--frame", "1"}, 1, {"frame 1"});
  expect_success({"attr", file, "--delete", "gain", "--delete", "count"});
  expect_success({"attr", file, "--set", "time=t0", "--frame", "0"});
  EXPECT_EQ(expect_success({"attr", file, "--frame", "0"}).out, "tessera.extent = [0, 0, 20, 10]\ntime = t0\n");
  // Tessera's own names take only what they mean.
  expect_failure({"attr", file, "--set", "tessera.extent=[0, 0, 0, 5]", "--frame", "0"}, 1,
                 {"tessera.extent", "[x, y, width, height]"});
  expect_failure({"attr", file, "--set", "tessera.colour=red"}, 1, {"tessera.colour", "Tessera's"});
  const auto info = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(info["images"][0]["attributes"].size(), 4u);
  EXPECT_EQ(info["images"][0]["attributes"]["unit"], "nm");
  const std::string text = expect_success({"info", file}).out;
  EXPECT_NE(text.find("  attributes:   4\n    envi.file type = ENVI Standard\n    names = [\"red\", \"a b\"]\n"),
            std::string::npos) << text;
  expect_success({"verify", file});
}

// A small RGB u8 TIFF of `pages` pages (page p holds raster r shifted by p), tiled 16x16 and
// deflated; the first page describes itself.
void write_rgb_tiff(const std::string& path, const Raster& r, int pages) {
  TIFF* tif = TIFFOpen(path.c_str(), "w");
  ASSERT_NE(tif, nullptr) << path;
  for (int p = 0; p < pages; ++p) {
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, uint32_t(r.width));
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, uint32_t(r.height));
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, 16);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, 16);
    if (p == 0) TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, "a scan");
    if (pages > 1) TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    std::vector<uint8_t> tile(16 * 16 * 3);
    for (int64_t ty = 0; ty < r.height; ty += 16)
      for (int64_t tx = 0; tx < r.width; tx += 16) {
        std::fill(tile.begin(), tile.end(), 0);
        for (int64_t y = ty; y < std::min(ty + 16, r.height); ++y)
          for (int64_t x = tx; x < std::min(tx + 16, r.width); ++x)
            for (uint32_t b = 0; b < 3; ++b)
              tile[size_t(((y - ty) * 16 + (x - tx)) * 3 + b)] = uint8_t(*r.at(b, x, y) + p);
        ASSERT_GE(TIFFWriteTile(tif, tile.data(), uint32_t(tx), uint32_t(ty), 0, 0), 0);
      }
    ASSERT_TRUE(TIFFWriteDirectory(tif));
  }
  TIFFClose(tif);
}

// import finds a TIFF by its content and keeps its tags; export to .tif writes one that imports
// back to the same pixels; several pages need --pages-as; options of one format are refused
// for the other.
TEST_F(CliTest, TiffInAndOutByContentAndExtension) {
  const Raster r = random_raster(kEnviTypes[0], 37, 21, 3, 9);
  write_rgb_tiff(path("scan.tif"), r, 1);
  const std::string file = path("t.tsr");
  expect_success({"import", file, path("scan.tif")});
  EXPECT_EQ(expect_success({"attr", file}).out, "tiff.ImageDescription = a scan\n");
  expect_success({"export", file, path("back.tif"), "--compression", "zstd", "--tile", "32"});
  expect_success({"import", file, path("back.tif"), "--image", "back"});
  expect_success({"export", file, path("a.raw"), "--image", "scan"});
  expect_success({"export", file, path("b.raw"), "--image", "back"});
  EXPECT_EQ(read_file(path("a.raw")), expected_export(r, 0, 0, 0, 0, 37, 21, {0, 1, 2}, "bip"));
  EXPECT_EQ(read_file(path("b.raw")), read_file(path("a.raw")));
  const auto back = nlohmann::json::parse(expect_success({"attr", file, "--image", "back", "--json"}).out);
  EXPECT_EQ(back["attributes"]["tiff.ImageDescription"], "a scan");

  write_rgb_tiff(path("pages.tif"), r, 3);
  expect_failure({"import", file, path("pages.tif")}, 1, {"3 pages", "--pages-as frames", "--pages-as images"});
  expect_success({"import", file, path("pages.tif"), "--pages-as", "frames", "--image", "seq"});
  const auto frames = nlohmann::json::parse(expect_success({"frames", file, "--image", "seq", "--json"}).out);
  EXPECT_EQ(frames["images"][0]["frames"].size(), 3u);
  expect_success({"export", file, path("f2.raw"), "--image", "seq", "--frame", "2"});
  std::string shifted = read_file(path("a.raw"));
  for (char& c : shifted) c = char(uint8_t(c) + 2);
  EXPECT_EQ(read_file(path("f2.raw")), shifted);

  write_file(path("noise.bin"), "not a raster at all");
  expect_failure({"import", path("new.tsr"), path("noise.bin")}, 1, {"noise.bin", "--format"});
  expect_failure({"export", file, path("x.raw"), "--image", "scan", "--compression", "zstd"}, 2, {"--compression", "TIFF"});
  expect_failure({"export", file, path("x.tif"), "--image", "scan", "--interleave", "bsq"}, 2, {"--interleave"});
  expect_failure({"export", file, path("x.tif"), "--image", "scan", "--compression", "lzma"}, 2, {"--compression"});
  expect_failure({"import", file, path("scan.tif"), "--format", "png"}, 2, {"--format"});
}

// pyramid, then the levels through export --level, ls (text and JSON Lines) and dump of a tile
// and of a chunk, each checked against what the library reads.
TEST_F(CliTest, PyramidLsDumpAndLevelExport) {
  const Raster raster = random_raster(kEnviTypes[5], 50, 40, 4, 21);  // u16
  const std::string file = path("p.tsr"), src = path("img.raw");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 12, "bip"));
  expect_success({"import", file, src, "--tile", "16", "--origin", "-20,-7", "--quiet"});
  expect_failure({"export", file, path("l1"), "--level", "1"}, 1, {"pyramid level 1 has not been built", "tessera pyramid"});
  const RunResult built = expect_success({"pyramid", file, "--levels", "2", "--resampling", "max", "--quiet"});
  EXPECT_EQ(built.out, "image 'img' frame 0: levels 1..2 (max)\n");
  const auto info = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(info["images"][0]["pyramid"]["levels"], 2);
  EXPECT_EQ(info["images"][0]["pyramid"]["resampling"], "max");
  expect_failure({"pyramid", file, "--levels", "0"}, 2, {"--levels"});
  expect_failure({"pyramid", file, "--resampling", "median"}, 2, {"unknown resampling 'median'"});

  // export --level 1: the level's pixels over the level's cover of the data.
  expect_success({"export", file, path("l1"), "--level", "1", "--quiet"});
  std::vector<uint8_t> expected;
  std::vector<tessera::TileEntry> level0;
  {
    tessera::OpenOptions ro;
    ro.read_only = true;
    auto c = tessera::Container::open(file, ro);
    ASSERT_TRUE(c.is_ok());
    auto snap = c->snapshot();
    ASSERT_TRUE(snap.is_ok());
    const tessera::Region r = tessera::level_region(**snap->bounds("img"), 1);
    EXPECT_EQ(r, (tessera::Region{-10, -4, 25, 21}));
    expected.resize(r.pixel_count() * 8);
    ASSERT_TRUE(snap->read("img", r, tessera::Selection{0, 1, {}}, expected.data(), expected.size()).is_ok());
    ASSERT_TRUE(snap->list_tiles("img", {}, [&](const tessera::TileEntry& e) {
                       level0.push_back(e);
                       return tessera::Status::ok();
                     }).is_ok());
  }
  EXPECT_EQ(read_file(path("l1")), std::string(expected.begin(), expected.end()));
  expect_header(path("l1.hdr"), 25, 21, 4, 12, "bip");

  // ls: a line per tile, JSON Lines alike, in the library's order.
  const RunResult text = expect_success({"ls", file});
  EXPECT_EQ(size_t(std::count(text.out.begin(), text.out.end(), '\n')), level0.size());
  EXPECT_TRUE(text.out.starts_with("(" + std::to_string(level0[0].x) + "," + std::to_string(level0[0].y) +
                                   ") level 0 frame 0 "))
      << text.out;
  std::istringstream lines(expect_success({"ls", file, "--json"}).out);
  std::string line, a_chunk;
  size_t n = 0;
  for (; std::getline(lines, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_LT(n, level0.size());
    EXPECT_EQ(j["x"], level0[n].x);
    EXPECT_EQ(j["y"], level0[n].y);
    EXPECT_EQ(j["kind"], std::string(tessera::tile_kind_name(level0[n].kind)));
    if (j["kind"] == "chunk") {
      a_chunk = j["chunk"];
      EXPECT_EQ(j["raw_bytes"], 16 * 16 * 8);
      EXPECT_TRUE(j["codec"] == "lz4" || j["codec"] == "none") << j;  // noise is stored raw
      EXPECT_GE(j["references"], 1);
    }
  }
  EXPECT_EQ(n, level0.size());
  ASSERT_FALSE(a_chunk.empty());
  const RunResult level2 = expect_success({"ls", file, "--level", "2", "--region", "-5,-2,1,1"});
  EXPECT_EQ(level2.out.substr(0, level2.out.find(' ')), "(-1,-1)") << level2.out;
  expect_failure({"ls", file, "--level", "3"}, 1, {"pyramid level 3 has not been built"});

  // dump: a chunk's header, a tile's records, the tile's samples as read.
  const auto chunk = nlohmann::json::parse(expect_success({"dump", file, "--chunk", a_chunk, "--json"}).out);
  EXPECT_EQ(chunk["key"], a_chunk);
  EXPECT_EQ(chunk["raw_size"], 16 * 16 * 8);
  EXPECT_EQ(chunk["version"], 1);
  const auto tile = nlohmann::json::parse(
      expect_success({"dump", file, "--tile", "img/0/1/-1/-1", "--json", "--raw", path("tile.raw")}).out);
  EXPECT_EQ(tile["level"], 1);
  EXPECT_EQ(tile["x"], -1);
  EXPECT_NE(tile["shown"], "none");
  EXPECT_EQ(read_file(path("tile.raw")).size(), 16u * 16 * 8);
  EXPECT_NE(expect_success({"dump", file, "--chunk", a_chunk}).out.find("raw_size: 2048\n"), std::string::npos);
  expect_failure({"dump", file, "--chunk", "12"}, 1, {"is not 34 hex digits"});
  expect_failure({"dump", file, "--chunk", std::string(34, '0')}, 1, {"no chunk"});
  expect_failure({"dump", file, "--tile", "img/0/0"}, 2, {"IMAGE/FRAME/LEVEL/TX/TY"});
  expect_failure({"dump", file}, 2, {"--tile", "--chunk"});
}

// --filter delta on import: the chunks record it (and their distance, the bands), the file
// becomes 3.0; recompress takes the filter too, and a filter it does not know is a usage error.
TEST_F(CliTest, DeltaFilterOnImportAndRecompress) {
  Raster raster(2, 64, 48, 3);  // a smooth u16 ramp per band
  for (uint32_t b = 0; b < 3; ++b)
    for (int64_t y = 0; y < raster.height; ++y)
      for (int64_t x = 0; x < raster.width; ++x) {
        const uint16_t v = uint16_t(1000 * (b + 1) + 3 * x + 2 * y);
        std::memcpy(raster.at(b, x, y), &v, 2);
      }
  const std::string file = path("d.tsr"), src = path("ramp.raw");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 12, "bip"));
  expect_failure({"import", file, src, "--filter", "predictor"}, 2, {"unknown filter 'predictor'"});
  expect_success({"import", file, src, "--codec", "zstd:1", "--filter", "delta", "--tile", "16", "--quiet"});
  const auto info = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  EXPECT_EQ(info["format"], "3.1");
  EXPECT_EQ(info["images"][0]["filter"], "delta");
  std::istringstream lines(expect_success({"ls", file, "--json"}).out);
  std::string line, chunk;
  while (std::getline(lines, line) && chunk.empty()) {
    const auto j = nlohmann::json::parse(line);
    if (j["kind"] == "chunk") {
      EXPECT_EQ(j["filter"], "delta") << j;
      chunk = j["chunk"];
    }
  }
  ASSERT_FALSE(chunk.empty());
  const auto dumped = nlohmann::json::parse(expect_success({"dump", file, "--chunk", chunk, "--json"}).out);
  EXPECT_EQ(dumped["filter"], "delta");
  EXPECT_EQ(dumped["delta_distance"], 3);
  EXPECT_NE(expect_success({"dump", file, "--chunk", chunk}).out.find("delta_distance: 3\n"), std::string::npos);
  expect_success({"export", file, path("back.raw"), "--quiet"});
  EXPECT_EQ(read_file(path("back.raw")), encode(raster, "bip"));
  const RunResult again = expect_success({"recompress", file, "--codec", "lz4", "--filter", "shuffle", "--quiet"});
  EXPECT_NE(again.out.find("as lz4 (shuffle)"), std::string::npos) << again.out;
  expect_success({"verify", file, "--deep", "--quiet"});
  expect_failure({"recompress", file, "--codec", "lz4", "--filter", "bitshuffle"}, 2, {"unknown filter"});
}

// tessera merge: an image of one container into another, with its chunks as they are.
TEST_F(CliTest, MergeCombinesContainers) {
  const Raster raster = random_raster(kEnviTypes[5], 40, 30, 2, 31);  // u16
  const std::string src = path("img.raw"), a = path("a.tsr"), b = path("b.tsr");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 12, "bip"));
  expect_success({"import", a, src, "--tile", "16", "--codec", "zstd", "--quiet"});
  expect_success({"create", b});
  const RunResult merged = expect_success({"merge", b, a});
  EXPECT_EQ(merged.out, "image 'img' -> 'img': 1 frame merged\n");
  expect_success({"export", b, path("back.raw"), "--quiet"});
  EXPECT_EQ(read_file(path("back.raw")), encode(raster, "bip"));
  const auto info = nlohmann::json::parse(expect_success({"info", b, "--json"}).out);
  EXPECT_EQ(info["images"][0]["codec"], "zstd");  // the source's spec
  expect_success({"merge", b, a, "--image", "img", "--into", "again"});
  const auto pool = nlohmann::json::parse(expect_success({"info", b, "--json"}).out);
  EXPECT_EQ(pool["images"].size(), 2u);
  expect_success({"verify", b, "--deep", "--quiet"});
  expect_failure({"merge", b, a, "--into", "x", "--image", "nope"}, 1, {"no image named 'nope'"});
  expect_failure({"merge", b, path("missing.tsr")}, 1, {"missing.tsr"});
}

TEST_F(CliTest, MapPlacesSourcesAndMaterializeWritesThemOut) {
  const Raster raster = random_raster(kEnviTypes[5], 40, 30, 2, 41);  // u16, 2 bands
  const std::string src = path("img.raw"), file = path("m.tsr");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 12, "bip"));
  expect_success({"import", file, src, "--tile", "16", "--quiet"});
  // Moved by (5, -3), band 1 alone: the export is the source's band 1 at the new place.
  expect_success({"map", file, "moved", "--source", "img@0", "--bands", "1", "--translate", "5,-3"});
  const auto info = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  ASSERT_EQ(info["images"].size(), 2u);
  const auto& moved = info["images"][1];
  EXPECT_EQ(moved["name"], "moved");
  EXPECT_EQ(moved["sources"][0]["affine"], "1,0,5,0,1,-3");
  EXPECT_EQ(moved["extent"], (nlohmann::json{{"x", 5}, {"y", -3}, {"width", 40}, {"height", 30}}));
  EXPECT_NE(expect_success({"info", file}).out.find("mapped image 'moved'"), std::string::npos);
  expect_success({"export", file, path("moved.raw"), "--image", "moved", "--quiet"});
  expect_success({"export", file, path("band1.raw"), "--image", "img", "--bands", "1", "--quiet"});
  EXPECT_EQ(read_file(path("moved.raw")), read_file(path("band1.raw")));
  EXPECT_NE(read_file(path("moved.raw.hdr")).find("x start = 5"), std::string::npos) << read_file(path("moved.raw.hdr"));
  // Materialized: the same pixels as an ordinary image, exported alike.
  expect_success({"materialize", file, "moved", "copy", "--quiet"});
  expect_success({"export", file, path("copy.raw"), "--image", "copy", "--quiet"});
  EXPECT_EQ(read_file(path("copy.raw")), read_file(path("moved.raw")));
  expect_success({"verify", file, "--deep", "--quiet"});
  // Writes, a second definition without --replace, bad transforms and misplaced options.
  expect_failure({"attr", file, "--image", "moved", "--set", "a=1"}, 1, {"'moved' is a mapped image"});
  expect_failure({"map", file, "moved", "--source", "img"}, 1, {"exists"});
  expect_success({"map", file, "moved", "--source", "img", "--affine", "0.5,0,0,0,0.5,0", "--replace"});
  expect_failure({"map", file, "bad", "--source", "img", "--affine", "1,2,0,2,4,0"}, 1, {"cannot be inverted"});
  expect_failure({"map", file, "bad", "--translate", "1,2", "--source", "img"}, 2, {"comes before any --source"});
  expect_failure({"map", file, "bad", "--source", "img", "--translate", "1,x"}, 2, {"malformed --translate"});
  expect_failure({"map", file, "bad", "--source", "img", "--translate", "1,2", "--affine", "1,0,0,0,1,0"}, 2,
                 {"two transforms"});
  expect_failure({"map", file, "bad", "--source", "img", "--blend", "median"}, 2, {"unknown blend 'median'"});
  expect_failure({"map", file, "bad"}, 2, {"at least one --source"});
  expect_failure({"materialize", file, "img", "again"}, 1, {"no mapped image named 'img'"});
  expect_success({"map", file, "moved", "--remove"});
  expect_failure({"map", file, "moved", "--remove"}, 1, {"no mapped image named 'moved'"});
}

TEST_F(CliTest, HelpGoesToStdout) {
  const RunResult r = tessera({"--help"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.err, "");
  for (const char* needle : {"usage: tessera", "create FILE", "import FILE SRC", "export FILE OUT",
                             "info FILE", "--json", "--origin X,Y", "--region X,Y,W,H"})
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
  const RunResult sub = tessera({"export", "--help"});
  EXPECT_EQ(sub.code, 0) << sub;
  EXPECT_NE(sub.out.find("usage: tessera"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Errors: exit code 1 (failed) or 2 (command line), one line, nothing written

TEST_F(CliTest, UsageErrors) {
  const std::string file = path("u.tsr"), out = path("u_out"), src = path("u.raw");
  const RunResult none = expect_failure({}, 2, {"command"});
  EXPECT_TRUE(none.out.starts_with("usage: tessera")) << none;
  expect_failure({"frobnicate", file}, 2, {"frobnicate"});
  expect_failure({"create"}, 2, {"FILE"});
  expect_failure({"create", file, "extra"}, 2, {"extra"});
  expect_failure({"import", file}, 2, {"SRC"});
  expect_failure({"info", file, "--bogus"}, 2, {"--bogus"});
  expect_failure({"info", file, "--json=1"}, 2, {"--json"});
  expect_failure({"export", file, out, "--frame"}, 2, {"--frame"});
  expect_failure({"export", file, out, "--frame", "abc"}, 2, {"--frame", "abc"});
  expect_failure({"export", file, out, "--frame", "-1"}, 2, {"--frame", "-1"});
  expect_failure({"export", file, out, "--frame", "1 "}, 2, {"--frame"});
  expect_failure({"export", file, out, "--frame", "99999999999"}, 2, {"--frame"});
  expect_failure({"export", file, out, "--frame", "1", "--frame", "2"}, 2, {"--frame"});
  expect_failure({"export", file, out, "--region", "1,2,3"}, 2, {"--region", "1,2,3"});
  expect_failure({"export", file, out, "--region", "1,2,3,x"}, 2, {"--region"});
  expect_failure({"export", file, out, "--region", "1,2,3,4,"}, 2, {"--region"});
  expect_failure({"export", file, out, "--bands", "1,,2"}, 2, {"--bands", "1,,2"});
  expect_failure({"export", file, out, "--bands", ""}, 2, {"--bands"});
  expect_failure({"export", file, out, "--bands", "0,-1"}, 2, {"--bands"});
  expect_failure({"export", file, out, "--interleave", "bpi"}, 2, {"bpi"});
  expect_failure({"export", file, out, "--image", ""}, 2, {"--image"});
  expect_failure({"import", file, src, "--tile", "16x"}, 2, {"--tile", "16x"});
  expect_failure({"import", file, src, "--origin", "5"}, 2, {"--origin"});
  expect_failure({"import", file, src, "--origin", "5,y"}, 2, {"--origin"});
  expect_failure({"import", file, src, "--codec", "gzip"}, 2, {"gzip"});
  expect_failure({"import", file, src, "--codec", "zstd:99"}, 2, {"99"});
  const RunResult tile = expect_failure({"import", file, src, "--tile", "100"}, 2, {"--tile: 100 is not a power of two"});
  EXPECT_EQ(tile.err.find(src), std::string::npos) << tile.err;  // a usage error, before any file
  expect_failure({"import", file, src, "--storage", "banded"}, 2, {"--storage", "banded"});
}

// Two sources of one base name: the second is refused unless its image is named (or --update).
TEST_F(CliTest, DefaultNamesNeverCollide) {
  const Raster one = random_raster(kEnviTypes[0], 16, 8, 1, 51), two = random_raster(kEnviTypes[0], 16, 8, 1, 52);
  std::filesystem::create_directories(path("slide1"));
  std::filesystem::create_directories(path("slide2"));
  const std::string file = path("c.tsr"), a = path("slide1/image.raw"), b = path("slide2/image.raw");
  write_file(a, encode(one, "bip"));
  write_file(a + ".hdr", envi_header(one, 1, "bip"));
  write_file(b, encode(two, "bip"));
  write_file(b + ".hdr", envi_header(two, 1, "bip"));
  expect_success({"import", file, a, "--quiet"});
  expect_failure({"import", file, b, "--quiet"}, 1, {"has an image 'image' already", "imported from " + a, "--image"});
  expect_success({"export", file, path("o.raw"), "--quiet"});
  EXPECT_EQ(read_file(path("o.raw")), encode(one, "bip"));  // untouched
  expect_success({"import", file, b, "--image", "second", "--quiet"});
  expect_success({"import", file, b, "--update", "--quiet"});
  expect_success({"export", file, path("o.raw"), "--image", "image", "--quiet"});
  EXPECT_EQ(read_file(path("o.raw")), encode(two, "bip"));
}

// An import that did not finish says so: info names it and the command that completes it,
// export warns, and export --strict refuses.
TEST_F(CliTest, UnfinishedImportsSaySo) {
  const std::string file = path("u.tsr");
  {
    auto c = tessera::Container::create(file);
    ASSERT_TRUE(c.is_ok());
    tessera::ImportProgress p;
    p.source = "/data/scan.raw";
    p.blocks_done = 3;
    p.blocks_total = 10;
    std::vector<uint8_t> pixels(16 * 16, 9);
    ASSERT_TRUE(c->write([&](tessera::WriteTxn& t) -> tessera::Status {
                   TESSERA_RETURN_IF_ERROR(t.create_image("scan", tessera::ImageSpec{}));
                   TESSERA_RETURN_IF_ERROR(t.write("scan", tessera::Region{0, 0, 16, 16}, {}, pixels.data(), pixels.size()));
                   return t.record_import("scan", p);
                 }).is_ok());
  }
  const std::string resume = "tessera import " + file + " /data/scan.raw --image scan --frame 0 --resume";
  const auto json = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  ASSERT_EQ(json["images"][0]["unfinished_imports"].size(), 1u);
  EXPECT_EQ(json["images"][0]["unfinished_imports"][0]["blocks_done"], 3);
  EXPECT_EQ(json["images"][0]["unfinished_imports"][0]["resume"], resume);
  EXPECT_NE(expect_success({"info", file}).out.find("unfinished:   frame 0 holds an unfinished import of /data/scan.raw (3 of 10 blocks)"),
            std::string::npos);
  const RunResult warned = expect_success({"export", file, path("o.raw"), "--quiet"});
  EXPECT_NE(warned.err.find("warning: image 'scan' frame 0 holds an unfinished import"), std::string::npos) << warned.err;
  EXPECT_NE(warned.err.find(resume), std::string::npos) << warned.err;
  expect_failure({"export", file, path("s.raw"), "--strict", "--quiet"}, 1, {"not exported (--strict)"});
  // verify: a notice, not a fault.
  const RunResult verified = expect_success({"verify", file, "--quiet"});
  EXPECT_NE(verified.out.find("NOTICE: image 'scan' frame 0: the import of /data/scan.raw stopped at 3 of 10 blocks (" +
                              resume + " completes it)"),
            std::string::npos)
      << verified.out;
  const auto vj = nlohmann::json::parse(expect_success({"verify", file, "--json", "--quiet"}).out);
  EXPECT_EQ(vj["clean"], true);
  EXPECT_EQ(vj["notices"].size(), 1u);
}

// Exports that cannot fit are refused at once, and an interrupted export leaves nothing.
TEST_F(CliTest, ExportsRefuseWhatCannotFitAndCleanUpWhenInterrupted) {
  const Raster raster = random_raster(kEnviTypes[0], 40, 30, 1, 61);
  const std::string file = path("x.tsr"), src = path("x.raw");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 1, "bip"));
  expect_success({"import", file, src, "--quiet"});
  expect_failure({"export", file, path("a.raw"), "--region", "0,0,40000,40000", "--quiet"}, 1,
                 {"1.6 GB, over 4 times the data's bounds (0,0,40x30)", "--force"});
  expect_failure({"export", file, path("b.raw"), "--region", "0,0,100000000,100000000", "--force", "--quiet"}, 1,
                 {"needs 10000000000000000 bytes", "free"});
  expect_failure({"export", file, path("c.raw"), "--region", "0,0,4294967296,4294967296", "--force", "--quiet"}, 1,
                 {"too large to export"});
  // SIGINT while the output is being written: OUT.part goes with the process.
  const std::string out = path("big.raw");
  std::vector<std::string> all = {TESSERA_CLI_PATH, "export", file, out, "--region", "0,0,30000,30000", "--force", "--quiet"};
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, TESSERA_CLI_PATH, nullptr, nullptr, argv.data(), environ), 0);
  for (int i = 0; i < 2000 && !fs::exists(out + ".part"); ++i) ::usleep(5000);
  ASSERT_TRUE(fs::exists(out + ".part"));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
  EXPECT_FALSE(fs::exists(out + ".part"));
  EXPECT_FALSE(fs::exists(out));
}

// A failed first import never removes FILE: a second import that opened it meanwhile and
// waited for the write lock would commit into a removed file and exit 0 (its image lost).
// A (slow: zstd:19, one batch) creates FILE; B opens it and waits; A's source is cut short
// under it, so A fails holding nothing committed; B's image must be in FILE afterwards.
TEST_F(CliTest, FailedFirstImportLeavesTheFileToOthers) {
  const Raster big = random_raster(kEnviTypes[0], 2048, 2048, 2, 51);
  const Raster small = random_raster(kEnviTypes[0], 20, 10, 1, 52);
  const std::string file = path("new.tsr"), a = path("a.raw"), b = path("b.raw");
  write_file(a, encode(big, "bip"));
  write_file(a + ".hdr", envi_header(big, 1, "bip"));
  write_file(b, encode(small, "bip"));
  write_file(b + ".hdr", envi_header(small, 1, "bip"));
  const auto spawn = [](std::vector<std::string> args) {
    args.insert(args.begin(), TESSERA_CLI_PATH);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    EXPECT_EQ(::posix_spawn(&pid, TESSERA_CLI_PATH, nullptr, nullptr, argv.data(), environ), 0);
    return pid;
  };
  const auto wait_exit = [](pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  };
  const pid_t first = spawn({"import", file, a, "--codec", "zstd:19", "--batch", "1073741824", "--quiet"});
  for (int i = 0; i < 4000 && !fs::exists(file); ++i) ::usleep(1000);
  ASSERT_TRUE(fs::exists(file));
  const pid_t second = spawn({"import", file, b, "--image", "b", "--quiet"});
  ::usleep(200 * 1000);  // B opens FILE and waits for A's write lock
  ASSERT_EQ(::truncate(a.c_str(), 0), 0);
  const int a_code = wait_exit(first), b_code = wait_exit(second);
  EXPECT_EQ(b_code, 0);
  ASSERT_TRUE(fs::exists(file)) << "A (exit " << a_code << ") removed FILE";
  const auto json = nlohmann::json::parse(expect_success({"info", file, "--json"}).out);
  ASSERT_GE(json["images"].size(), 1u);
  EXPECT_EQ(json["images"].back()["name"], "b") << "A exit " << a_code;
  expect_success({"verify", file});
}

// What people type: enum values in any case, a header given for its raster, the version,
// names with control characters, planar storage, singular counts, exact fill values.
TEST_F(CliTest, ForgivesWhatPeopleType) {
  const Raster raster = random_raster(kEnviTypes[0], 20, 10, 2, 41);  // u8
  const std::string file = path("f.tsr"), src = path("SCAN.RAW");
  write_file(src, encode(raster, "bip"));
  write_file(path("SCAN.HDR"), envi_header(raster, 1, "bip"));
  expect_failure({"import", file, path("SCAN.HDR")}, 1, {"is an ENVI header: pass the raster file it describes (SCAN.RAW)"});
  expect_failure({"import", file, src, "--image", "two\nlines", "--quiet"}, 1, {"control character"});
  expect_success({"import", file, src, "--codec", "LZ4", "--filter", "Shuffle", "--storage", "Planar", "--quiet"});
  const RunResult info = expect_success({"info", file});
  EXPECT_NE(info.out.find("storage:      planar"), std::string::npos) << info.out;
  EXPECT_EQ(expect_success({"frames", file}).out.substr(0, 23), "image 'SCAN': 1 frame\n ");
  expect_success({"export", file, path("o.raw"), "--interleave", "BSQ", "--quiet"});
  EXPECT_EQ(read_file(path("o.raw")), encode(raster, "bsq"));
  for (const char* command : {"--version", "version"}) {
    const RunResult v = expect_success({command});
    EXPECT_TRUE(v.out.starts_with("tessera 0.")) << v.out;
    EXPECT_NE(v.out.find("file format: writes 2.3"), std::string::npos) << v.out;
  }
  // Fills exactly as stored: a u64 above 2^53 and a negative i8.
  {
    auto c = tessera::Container::create(path("fill.tsr"));
    ASSERT_TRUE(c.is_ok());
    tessera::ImageSpec wide, small;
    wide.type = tessera::DataType::kU64;
    wide.fill = {18446744073709549568.0};  // 2^64 - 2048, a double that is a u64
    small.type = tessera::DataType::kI8;
    small.fill = {-7};
    ASSERT_TRUE(c->write([&](tessera::WriteTxn& t) -> tessera::Status {
                   TESSERA_RETURN_IF_ERROR(t.create_image("wide", wide));
                   return t.create_image("small", small);
                 }).is_ok());
  }
  const auto json = nlohmann::json::parse(expect_success({"info", path("fill.tsr"), "--json"}).out);
  EXPECT_EQ(json["images"][0]["fill"][0].get<uint64_t>(), 18446744073709549568ull) << json.dump();
  EXPECT_EQ(json["images"][1]["fill"][0].get<int64_t>(), -7) << json.dump();
}

TEST_F(CliTest, CreateRefusesAnExistingFile) {
  const std::string file = path("c.tsr"), text = path("notes.txt");
  expect_success({"create", file});
  expect_failure({"create", file}, 1, {file});
  write_file(text, "not a container\n");
  expect_failure({"create", text}, 1, {text});
  expect_failure({"create", path("no/such/dir.tsr")}, 1, {"dir.tsr"});
}

TEST_F(CliTest, NotAContainerIsRefusedWithoutALockFile) {
  const std::string text = path("notes.txt"), missing = path("missing.tsr"), out = path("o");
  write_file(text, std::string(8192, 'x'));
  expect_failure({"info", text}, 1, {text});
  const Raster raster = random_raster(kEnviTypes[0], 4, 4, 1, 1);
  write_file(path("ok.raw"), encode(raster, "bsq"));
  write_file(path("ok.raw.hdr"), envi_header(raster, 1, "bsq"));
  expect_failure({"import", text, path("ok.raw")}, 1, {text});
  expect_failure({"export", text, out}, 1, {text});
  expect_failure({"info", missing}, 1, {missing});
  expect_failure({"export", missing, out}, 1, {missing});
  write_file(path("empty"), "");
  expect_failure({"info", path("empty")}, 1, {path("empty")});
}

// A header that cannot be used must neither create FILE nor touch an existing one.
TEST_F(CliTest, MalformedHeadersAreRefusedBeforeTouchingTheContainer) {
  const Raster raster = random_raster(kEnviTypes[0], 10, 8, 2, 1);
  const std::string src = path("bad.raw"), hdr = src + ".hdr";
  const std::string fresh = path("fresh.tsr"), existing = path("existing.tsr");
  write_file(src, encode(raster, "bsq"));
  expect_success({"create", existing});
  const std::string good = envi_header(raster, 1, "bsq");
  auto replace = [&good](const std::string& from, const std::string& to) {
    std::string h = good;
    h.replace(h.find(from), from.size(), to);
    return h;
  };
  struct Case {
    std::string header;
    std::vector<std::string> mentions;
  };
  const Case cases[] = {
      {"ENVY\n" + good.substr(5), {hdr, "ENVI"}},
      {replace("samples = 10\n", ""), {hdr, "samples"}},
      {replace("samples = 10", "samples = ten"), {hdr, "samples", "ten"}},
      {replace("lines = 8", "lines = 0"), {hdr, "lines", "'0'"}},
      {replace("bands = 2", "bands = -2"), {hdr, "bands", "-2"}},
      {replace("data type = 1", "data type = 6"), {hdr, "data type", "6"}},
      {replace("data type = 1\n", ""), {hdr, "data type"}},
      {replace("interleave = bsq", "interleave = bqs"), {hdr, "interleave", "bqs"}},
      {replace("byte order = 0", "byte order = 2"), {hdr, "byte order", "2"}},
      {replace("header offset = 0", "header offset = x1"), {hdr, "header offset", "x1"}},
      {good + "description = { never closed\n", {hdr, "description", "}"}},
      {good + "this line has no equals sign\n", {hdr, "this line has no equals sign"}},
      {good + "tessera data type = i16\n", {hdr, "tessera data type", "i16"}},
      // The raw file holds 160 bytes; 11 samples need 176.
      {replace("samples = 10", "samples = 11"), {src, "176", "160"}},
      {replace("header offset = 0", "header offset = 1"), {src, "161", "160"}},
  };
  for (const Case& c : cases) {
    write_file(hdr, c.header);
    expect_failure({"import", fresh, src}, 1, c.mentions);
    expect_failure({"import", existing, src}, 1, c.mentions);
  }
  fs::remove(hdr);
  expect_failure({"import", fresh, src}, 1, {src, ".hdr"});
  expect_failure({"import", fresh, path("absent.raw")}, 1, {"absent"});
}

// Import errors found after the container is opened: nothing of the import stays.
TEST_F(CliTest, ImportThatCannotFitTheImageChangesNothing) {
  const Raster bytes = random_raster(kEnviTypes[0], 20, 20, 1, 1);
  const Raster words = random_raster(kEnviTypes[5], 20, 20, 1, 2);
  const std::string file = path("m.tsr"), a = path("a.raw"), b = path("b.raw");
  write_file(a, encode(bytes, "bsq"));
  write_file(a + ".hdr", envi_header(bytes, 1, "bsq"));
  write_file(b, encode(words, "bsq"));
  write_file(b + ".hdr", envi_header(words, 12, "bsq"));
  expect_success({"import", file, a, "--tile", "16", "--image", "same"});
  expect_failure({"import", file, b, "--image", "same"}, 1, {"same", "u16", "u8"});
  expect_failure({"import", file, a, "--image", "same", "--frame", "5"}, 1, {"same", "5"});
  expect_failure({"import", file, a, "--image", "same", "--codec", "zstd"}, 1, {"same", "zstd"});
  // An impossible tile size is a usage error: no file is created for it.
  expect_failure({"import", path("new.tsr"), a, "--tile", "100"}, 2, {"100"});
  EXPECT_FALSE(std::filesystem::exists(path("new.tsr")));
}

TEST_F(CliTest, ExportErrorsWriteNoOutput) {
  const Raster raster = random_raster(kEnviTypes[0], 20, 20, 3, 3);
  const std::string file = path("e.tsr"), src = path("pic.raw"), out = path("out.raw");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 1, "bip"));
  expect_success({"import", file, src, "--tile", "16"});
  expect_failure({"export", file, out, "--image", "nope"}, 1, {"nope"});
  expect_failure({"export", file, out, "--region", "0,0,0,5"}, 1, {"region", "0,0,0x5"});
  expect_failure({"export", file, out, "--region", "0,0,5,-1"}, 1, {"region"});
  expect_failure({"export", file, out, "--bands", "0,3"}, 1, {"band 3", "pic"});
  expect_failure({"export", file, out, "--frame", "1"}, 1, {"frame 1", "pic"});
  expect_failure({"export", file, path("no/such/dir/out.raw")}, 1, {"out.raw"});
  // A failed export leaves an existing OUT as it was.
  write_file(out, "previous contents");
  expect_failure({"export", file, out, "--bands", "9"}, 1, {"band 9"});

  // Two images: the one to export must be named; an image with no data exports as what it is,
  // the fill over its extent; with --region data it has nothing to export.
  Raster zeros(1, 20, 20, 1);
  const std::string blank = path("blank.raw");
  write_file(blank, encode(zeros, "bsq"));
  write_file(blank + ".hdr", envi_header(zeros, 1, "bsq"));
  expect_success({"import", file, blank, "--tile", "16"});
  expect_failure({"export", file, out}, 1, {"pic", "blank"});
  expect_success({"export", file, out, "--image", "blank"});
  EXPECT_EQ(read_file(out), std::string(400, '\0'));
  expect_failure({"export", file, out, "--image", "blank", "--region", "data"}, 1, {"blank", "holds no data"});
  expect_success({"export", file, out, "--image", "blank", "--region", "0,0,4,4"});
  EXPECT_EQ(read_file(out), std::string(16, '\0'));
}

// ---------------------------------------------------------------------------------------------
// frames, geometry, compact

// Three frames of one image: frame 0 a picture at 0,0; frame 1 adds a copy at -100,50 (and
// keeps frame 0's tiles); frame 2 writes that copy again, which changes nothing.
class CliFramesTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    raster_ = random_raster(kEnviTypes[0], 32, 32, 1, 21);
    write_file(path("a.raw"), encode(raster_, "bsq"));
    write_file(path("a.raw.hdr"), envi_header(raster_, 1, "bsq"));
    expect_success({"import", file(), path("a.raw"), "--tile", "16", "--image", "anim"});
    expect_success({"import", file(), path("a.raw"), "--image", "anim", "--frame", "1", "--origin", "-100,50"});
    expect_success({"import", file(), path("a.raw"), "--image", "anim", "--frame", "2", "--origin", "-100,50"});
  }
  std::string file() const { return path("f.tsr"); }
  Raster raster_{1, 1, 1, 1};
};

TEST_F(CliFramesTest, FramesListsOwnRecordsAndBytes) {
  const auto json = nlohmann::json::parse(expect_success({"frames", file(), "--json"}).out);
  const auto& frames = json["images"][0]["frames"];
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0]["tiles"], 4);  // 32x32 of 16x16 tiles
  EXPECT_EQ(frames[1]["tiles"], 9);  // at -100,50 the copy straddles 3 x 3 tiles
  EXPECT_EQ(frames[2]["tiles"], 0);  // the same content again: nothing new
  uint64_t sum = 0;
  for (const auto& f : frames) sum += f["bytes_stored"].get<uint64_t>();
  EXPECT_GT(sum, 0u);
  const RunResult text = expect_success({"frames", file(), "--image", "anim"});
  EXPECT_NE(text.out.find("3 frames"), std::string::npos) << text;
  expect_failure({"frames", file(), "--image", "nope"}, 1, {"nope"});
  expect_failure({"frames"}, 2, {"FILE"});
}

TEST_F(CliFramesTest, GeometryAtEveryPrecision) {
  auto box = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"geometry", file(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return nlohmann::json::parse(expect_success(args).out);
  };
  const auto exact0 = box({});
  EXPECT_EQ(exact0["x"], 0);
  EXPECT_EQ(exact0["width"], 32);
  // Frame 1 holds both copies: x from -100 to 31, y from 0 to 81.
  const auto exact1 = box({"--frame", "1", "--precision", "exact"});
  EXPECT_EQ(exact1["x"], -100);
  EXPECT_EQ(exact1["y"], 0);
  EXPECT_EQ(exact1["width"], 132);
  EXPECT_EQ(exact1["height"], 82);
  const auto leaf1 = box({"--frame", "1", "--precision", "leaf"});
  EXPECT_EQ(leaf1["x"], -112);
  EXPECT_EQ(leaf1["width"], 144);
  const auto root1 = box({"--frame", "1", "--precision", "root"});
  EXPECT_EQ(root1["x"], -256);  // macro blocks of 16 tiles of 16 pixels
  EXPECT_EQ(root1["width"], 512);
  const auto operative1 = box({"--frame", "1", "--precision", "operative"});
  EXPECT_LE(operative1["x"].get<int64_t>(), -100);
  const RunResult text = expect_success({"geometry", file(), "--frame", "1"});
  EXPECT_NE(text.out.find("x -100, y 0, width 132, height 82"), std::string::npos) << text;
  expect_failure({"geometry", file(), "--precision", "fuzzy"}, 2, {"fuzzy"});
  expect_failure({"geometry", file(), "--frame", "3"}, 1, {"frame 3"});
  // An image with no data says so.
  Raster zeros(1, 16, 16, 1);
  write_file(path("z.raw"), encode(zeros, "bsq"));
  write_file(path("z.raw.hdr"), envi_header(zeros, 1, "bsq"));
  expect_success({"import", file(), path("z.raw"), "--image", "blank"});
  EXPECT_NE(expect_success({"geometry", file(), "--image", "blank"}).out.find("no data"), std::string::npos);
  EXPECT_EQ(box({"--image", "blank"})["empty"], true);
  expect_failure({"geometry", file()}, 1, {"anim", "blank"});  // two images: name one
}

TEST_F(CliFramesTest, InfoReportsThePoolAndCompactKeepsPixels) {
  const auto info = nlohmann::json::parse(expect_success({"info", file(), "--json"}).out);
  EXPECT_EQ(info["pool"]["chunks"], 13);      // frame 0's 4 tiles and frame 1's 9 new ones
  EXPECT_EQ(info["pool"]["references"], 13);  // frame 2 added no record
  EXPECT_EQ(info["pool"]["bytes_saved"], 0);
  EXPECT_NE(expect_success({"info", file()}).out.find("saved by dedup"), std::string::npos);

  expect_success({"export", file(), path("before"), "--frame", "1"});
  expect_success({"compact", file(), path("c.tsr")});
  expect_failure({"compact", file(), path("c.tsr")}, 1, {"c.tsr"});
  expect_success({"compact", file()});
  for (const std::string& f : {file(), path("c.tsr")}) {
    expect_success({"export", f, path("after"), "--frame", "1"});
    EXPECT_TRUE(same_bytes(read_file(path("before")), read_file(path("after")))) << f;
  }
  expect_failure({"compact"}, 2, {"FILE"});
  expect_failure({"compact", file(), path("x"), path("y")}, 2, {"unexpected"});
  expect_failure({"compact", path("missing.tsr")}, 1, {"missing.tsr"});
}

// ---------------------------------------------------------------------------------------------
// import --resume

// `tessera import` killed with SIGKILL at random moments: every committed batch stays readable
// (its blocks hold the source's pixels, as the import record says), and `--resume` ends with
// the same pixels as an uninterrupted import; resuming a finished import does nothing.
TEST_F(CliTest, KilledImportResumesToTheSamePixels) {
  const Raster raster = random_raster(kEnviTypes[0], 512, 640, 3, 31);  // 16-row strips of 24 KiB
  const std::string src = path("scan.raw"), file = path("r.tsr"), out = path("out.raw");
  write_file(src, encode(raster, "bip"));
  write_file(src + ".hdr", envi_header(raster, 1, "bip"));
  const std::vector<std::string> import = {"import", file, src, "--tile", "16", "--batch", "30000"};
  // How long a whole import takes here (the machine may be loaded): kills land within that.
  const auto t0 = std::chrono::steady_clock::now();
  expect_success({"import", path("timing.tsr"), src, "--tile", "16", "--batch", "30000"});
  const auto whole = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  std::mt19937_64 rng(2024);
  int resumed = 0;
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    fs::remove(file);
    fs::remove(file + "-lock");
    // Start the import and kill it after a random delay (some rounds before it commits).
    std::vector<std::string> all = {TESSERA_CLI_PATH};
    all.insert(all.end(), import.begin(), import.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    ASSERT_EQ(::posix_spawn(&pid, TESSERA_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::usleep(useconds_t(rng() % uint64_t(whole.count() + 1)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);

    // What committed is readable and right: the recorded blocks are 16-row strips, in order.
    if (fs::exists(file)) {
      auto container = tessera::Container::open(file);
      ASSERT_TRUE(container.is_ok()) << container.status().to_string();
      auto snapshot = container->snapshot();
      ASSERT_TRUE(snapshot.is_ok());
      if (snapshot->image("scan").is_ok()) {
        auto imports = snapshot->imports("scan");
        ASSERT_TRUE(imports.is_ok() && imports->size() == 1u);
        const int64_t rows = std::min<int64_t>(640, int64_t((*imports)[0].blocks_done) * 16);
        if (rows > 0) {
          std::string got(size_t(512 * rows * 3), '\0');
          ASSERT_TRUE(snapshot->read("scan", tessera::Region{0, 0, 512, rows}, tessera::Selection{}, got.data(),
                                     got.size()).is_ok());
          EXPECT_TRUE(same_bytes(encode(raster, "bip").substr(0, got.size()), got));
        }
        resumed += rows > 0 && rows < 640;
      }
    }
    std::vector<std::string> resume = import;
    resume.push_back("--resume");
    const RunResult r = expect_success(resume);
    expect_success({"export", file, out});
    EXPECT_TRUE(same_bytes(encode(raster, "bip"), read_file(out)));
    // Once finished, resuming does nothing and says so.
    const auto before = directory_state(work_dir());
    EXPECT_NE(expect_success(resume).out.find("nothing to do"), std::string::npos);
    EXPECT_TRUE(directory_state(work_dir()) == before);
    fs::remove(out);
    fs::remove(out + ".hdr");
  }
  EXPECT_GT(resumed, 0) << "no kill landed between two batches";
  // Another source cannot resume this import.
  Raster other = raster;
  *other.at(0, 0, 0) ^= 1;
  const std::string src2 = path("scan2.raw");
  write_file(src2, encode(other, "bip"));
  write_file(src2 + ".hdr", envi_header(other, 1, "bip"));
  expect_failure({"import", file, src2, "--image", "scan", "--resume"}, 1, {"scan.raw", "scan2.raw"});
}

}  // namespace
