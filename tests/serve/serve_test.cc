// `tessera serve` over loopback: the real server, started as a process of its own
// (`tessera serve FILE --port 0`), asked with cpp-httplib's client. Deep Zoom and IIIF tiles
// against `tessera export` and the API's reads of the same region and level (PNG exactly, JPEG
// within its loss), raw tiles byte for byte, ETags and 304 across a commit of another process,
// an IIIF Image API 3.0 subset, frames, bad requests and 64 clients at once. The request parser
// and the IIIF arithmetic are tested on their own at the end.
#include <gtest/gtest.h>
#include <png.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "iiif.h"
#include "routes.h"
#include "tessera/tessera.h"

namespace tessera::serve {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// The scan: u8 RGB, its extent at an origin no level aligns (-300, 200), 2500 x 1700.
constexpr Region kScan{-300, 200, 2500, 1700};
uint8_t scan_sample(int64_t x, int64_t y, int c) {
  switch (c) {
    case 0: return uint8_t(((x + 300) / 9) & 255);
    case 1: return uint8_t(((y - 200) / 6) & 255);
    default: return uint8_t(((x * 3 + y * 5) / 17) & 255);
  }
}
std::vector<uint8_t> scan_pixels(const Region& r) {
  std::vector<uint8_t> px(size_t(r.pixel_count()) * 3);
  for (int64_t y = 0; y < r.height; ++y)
    for (int64_t x = 0; x < r.width; ++x)
      for (int c = 0; c < 3; ++c) px[size_t((y * r.width + x) * 3 + c)] = scan_sample(r.x + x, r.y + y, c);
  return px;
}

Status status_of(const Status& s) { return s; }
template <typename T>
Status status_of(const Result<T>& r) { return r.status(); }
#define ASSERT_OK(expr)                                                  \
  do {                                                                   \
    const Status status_ = status_of(expr);                              \
    ASSERT_TRUE(status_.is_ok()) << status_.message();                   \
  } while (0)

Status write_scan(Container& c, uint32_t levels) {
  TESSERA_RETURN_IF_ERROR(c.write([&](WriteTxn& txn) {
    ImageSpec spec;
    spec.bands = 3;
    TESSERA_RETURN_IF_ERROR(txn.create_image("scan", spec));
    const std::vector<uint8_t> px = scan_pixels(kScan);
    TESSERA_RETURN_IF_ERROR(txn.write("scan", kScan, {}, px.data(), px.size()));
    TESSERA_RETURN_IF_ERROR(txn.set_attribute("scan", kExtentAttribute, extent_value(kScan)));
    // A scale: 0.25 micrometres per pixel, as OpenSlide says it.
    return txn.set_attribute("scan", "openslide.mpp-x", std::string("0.25"));
  }));
  return c.build_pyramid("scan", PyramidOptions{0, levels, Resampling::kMean, {}});
}

// u16, 2 bands, 2 frames, tiles of 64, no pyramid.
uint16_t cube_sample(uint32_t frame, int64_t x, int64_t y, int band) {
  return uint16_t((x * 97 + y * 31 + band * 1000 + frame * 20000) & 0xffff);
}
Status write_cube(Container& c) {
  return c.write([&](WriteTxn& txn) {
    ImageSpec spec;
    spec.type = DataType::kU16;
    spec.bands = 2;
    spec.tile_size = 64;
    TESSERA_RETURN_IF_ERROR(txn.create_image("cube", spec));
    const Region r{0, 0, 300, 200};
    for (uint32_t f = 0; f < 2; ++f) {
      std::vector<uint16_t> px(size_t(r.pixel_count()) * 2);
      for (int64_t y = 0; y < r.height; ++y)
        for (int64_t x = 0; x < r.width; ++x)
          for (int b = 0; b < 2; ++b) px[size_t((y * r.width + x) * 2 + b)] = cube_sample(f, x, y, b);
      TESSERA_RETURN_IF_ERROR(txn.write("cube", r, Selection{f, 0, {}}, px.data(), px.size() * 2));
    }
    return Status::ok();
  });
}

struct Pixels {
  int64_t width = 0, height = 0;
  int channels = 0;
  std::vector<uint8_t> data;
};

Pixels decode_png(const std::string& body, bool gray = false) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  Pixels p;
  if (!png_image_begin_read_from_memory(&image, body.data(), body.size())) {
    ADD_FAILURE() << "not a PNG: " << image.message;
    return p;
  }
  image.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  p.width = image.width, p.height = image.height, p.channels = gray ? 1 : 3;
  p.data.resize(PNG_IMAGE_SIZE(image));
  EXPECT_TRUE(png_image_finish_read(&image, nullptr, p.data.data(), 0, nullptr)) << image.message;
  return p;
}

Pixels decode_jpeg(const std::string& body) {
  tjhandle h = tjInitDecompress();
  int w = 0, hgt = 0, sub = 0, space = 0;
  Pixels p;
  auto* data = reinterpret_cast<const unsigned char*>(body.data());
  if (tjDecompressHeader3(h, data, body.size(), &w, &hgt, &sub, &space) != 0) {
    ADD_FAILURE() << "not a JPEG: " << tjGetErrorStr2(h);
    tjDestroy(h);
    return p;
  }
  p.width = w, p.height = hgt, p.channels = 3;
  p.data.resize(size_t(w) * size_t(hgt) * 3);
  EXPECT_EQ(tjDecompress2(h, data, body.size(), p.data.data(), w, 0, hgt, TJPF_RGB, 0), 0);
  tjDestroy(h);
  return p;
}

// The server, its files and a client, shared by the suite (one process for all tests).
class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (fs::temp_directory_path() / "tessera-serve-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    {
      auto served = Container::create(file());
      ASSERT_OK(served);
      ASSERT_OK(write_scan(*served, 2));  // levels 1..2 built; 3..5 made on the fly
      ASSERT_OK(write_cube(*served));
      // The scan moved by (1000, -700): a mapped image, served through its source.
      MappedSpec moved;
      moved.sources = {MappedSource{"scan", 0, {}, Affine::translation(1000, -700)}};
      ASSERT_OK(served->write([&](WriteTxn& txn) { return txn.define_mapped("moved", moved); }));
      auto full = Container::create(dir_ + "/full.tsr");
      ASSERT_OK(full);
      ASSERT_OK(write_scan(*full, 6));  // every level built: what export reads
    }
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    fs::create_directory(dir_ + "/static");
    std::ofstream(dir_ + "/static/hello.txt") << "hello\n";
    std::vector<std::string> args = {TESSERA_CLI_PATH, "serve", file(), "--port", "0", "--stop-after", "900",
                                     "--static", "/files=" + dir_ + "/static"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(::posix_spawn(&server_, TESSERA_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    // "tessera serve: FILE on http://127.0.0.1:PORT/ (ctrl-C stops)"
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(out[0]);
    const size_t at = line.rfind(':'), slash = line.find('/', at);
    ASSERT_NE(at, std::string::npos) << line;
    port_ = std::stoi(line.substr(at + 1, slash - at - 1));
  }
  static void TearDownTestSuite() {
    if (server_ > 0) {
      ::kill(server_, SIGTERM);
      int status = 0;
      ::waitpid(server_, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the server did not stop cleanly: " << status;
    }
    if (!std::getenv("TESSERA_KEEP_TEST_DIRS")) fs::remove_all(dir_);
  }
  static std::string file() { return dir_ + "/served.tsr"; }

  static httplib::Result get(const std::string& target, const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(60, 0);
    return client.Get(target.c_str(), headers);
  }
  // The body of a 200 answer to `target`.
  static std::string body(const std::string& target) {
    auto r = get(target);
    if (!r) {
      ADD_FAILURE() << target << ": no answer";
      return {};
    }
    EXPECT_EQ(r->status, 200) << target << ": " << r->body;
    return r->body;
  }
  // Samples of `region` of level `level` as the API reads them from the fully built copy.
  static std::vector<uint8_t> reference(const Region& region, uint32_t level) {
    auto c = Container::open(dir_ + "/full.tsr", OpenOptions{.read_only = true});
    auto snap = c->snapshot();
    std::vector<uint8_t> px(size_t(region.pixel_count()) * 3);
    EXPECT_TRUE(snap->read("scan", region, Selection{0, level, {}}, px.data(), px.size()).is_ok());
    return px;
  }
  // The same from `tessera export` (raw ENVI) of the fully built copy.
  static std::vector<uint8_t> exported(const Region& region, uint32_t level) {
    const std::string out = dir_ + "/export.raw";
    fs::remove(out);
    fs::remove(out + ".hdr");
    const std::string command = std::string(TESSERA_CLI_PATH) + " export " + dir_ + "/full.tsr " + out +
                                " --quiet --format envi --level " + std::to_string(level) + " --region " +
                                std::to_string(region.x) + "," + std::to_string(region.y) + "," +
                                std::to_string(region.width) + "," + std::to_string(region.height);
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::ifstream in(out, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }

  static std::string dir_;
  static pid_t server_;
  static int port_;
};
std::string ServeTest::dir_;
pid_t ServeTest::server_ = 0;
int ServeTest::port_ = 0;

// Deep Zoom level `dzi` of the scan (top level 12: 2500 fits 4096) is pyramid level 12 - dzi;
// its tile (col, row) is the level's region from the extent's origin rounded down.
Region dzi_region(uint32_t dzi, int64_t col, int64_t row) {
  const uint32_t level = 12 - dzi;
  const Region r = level_region(kScan, level);
  const int64_t w = (kScan.width + (int64_t(1) << level) - 1) >> level;
  const int64_t h = (kScan.height + (int64_t(1) << level) - 1) >> level;
  return Region{r.x + col * 256, r.y + row * 256, std::min<int64_t>(256, w - col * 256),
                std::min<int64_t>(256, h - row * 256)};
}

TEST_F(ServeTest, DeepZoomTilesAreTheExportedPixels) {
  const std::string dzi = body("/dzi/scan.dzi");
  EXPECT_NE(dzi.find("TileSize=\"256\""), std::string::npos) << dzi;
  EXPECT_NE(dzi.find("<Size Width=\"2500\" Height=\"1700\"/>"), std::string::npos) << dzi;
  // Built levels (12, 11, 10: pyramid 0..2) and levels made on the fly (9..7: 3..5); edge tiles.
  struct Case { uint32_t dzi; int64_t col, row; };
  for (const Case& t : {Case{12, 0, 0}, Case{12, 9, 6}, Case{12, 4, 3}, Case{11, 2, 1}, Case{10, 2, 1},
                        Case{9, 0, 0}, Case{8, 0, 0}, Case{7, 0, 0}}) {
    const Region r = dzi_region(t.dzi, t.col, t.row);
    const std::string target = "/dzi/scan_files/" + std::to_string(t.dzi) + "/" + std::to_string(t.col) + "_" +
                               std::to_string(t.row);
    const Pixels png = decode_png(body(target + ".png"));
    ASSERT_EQ(png.width, r.width) << target;
    ASSERT_EQ(png.height, r.height) << target;
    const std::vector<uint8_t> want = t.dzi >= 10 ? exported(r, 12 - t.dzi) : reference(r, 12 - t.dzi);
    EXPECT_EQ(png.data, want) << target << " region " << to_string(r);
    const Pixels jpeg = decode_jpeg(body(target + ".jpg"));
    ASSERT_EQ(jpeg.data.size(), want.size()) << target;
    double error = 0;
    for (size_t i = 0; i < want.size(); ++i) error += std::abs(int(jpeg.data[i]) - int(want[i]));
    EXPECT_LT(error / double(want.size()), 8.0) << target << ": mean error of the JPEG";
  }
  // Levels not served: above the top, and more than 3 above the built ones.
  auto top = get("/dzi/scan_files/13/0_0.jpg");
  EXPECT_EQ(top->status, 404);
  EXPECT_NE(top->body.find("Deep Zoom levels 0..12"), std::string::npos) << top->body;
  auto coarse = get("/dzi/scan_files/6/0_0.jpg");
  EXPECT_EQ(coarse->status, 404);
  EXPECT_NE(coarse->body.find("tessera pyramid"), std::string::npos) << coarse->body;
  EXPECT_EQ(get("/dzi/scan_files/12/10_0.jpg")->status, 404);  // 2500 wide: columns 0..9
  EXPECT_EQ(get("/dzi/scan_files/12/0_7.jpg")->status, 404);
}

TEST_F(ServeTest, MappedImagesAreServedThroughTheirSources) {
  const std::string dzi = body("/dzi/moved.dzi");
  EXPECT_NE(dzi.find("<Size Width=\"2500\" Height=\"1700\"/>"), std::string::npos) << dzi;
  // Deep Zoom tiles of the built levels and one made on the fly: the scan's, moved.
  struct Case { uint32_t dzi; int64_t col, row; };
  for (const Case& t : {Case{12, 0, 0}, Case{12, 9, 6}, Case{11, 2, 1}, Case{9, 0, 0}}) {
    const Region r = dzi_region(t.dzi, t.col, t.row);
    const std::string target = "/dzi/moved_files/" + std::to_string(t.dzi) + "/" + std::to_string(t.col) + "_" +
                               std::to_string(t.row) + ".png";
    const Pixels png = decode_png(body(target));
    ASSERT_EQ(png.width, r.width) << target;
    EXPECT_EQ(png.data, reference(r, 12 - t.dzi)) << target;
  }
  // A raw tile of level 1: pixels 500.., -350.. of the scan's level 1 moved by (500, -350).
  auto raw = get("/tiles/moved/0/1/1/-1");
  ASSERT_EQ(raw->status, 200) << raw->body;
  EXPECT_EQ(std::vector<uint8_t>(raw->body.begin(), raw->body.end()), reference(Region{256 - 500, -256 + 350, 256, 256}, 1));
  // Its ETag comes from the source's tiles: a second request is answered 304.
  auto again = get("/tiles/moved/0/1/1/-1", {{"If-None-Match", raw->get_header_value("ETag")}});
  EXPECT_EQ(again->status, 304);
  const Json images = Json::parse(body("/api/images"));
  bool listed = false;
  for (const Json& image : images["images"]) listed = listed || image["name"] == "moved";
  EXPECT_TRUE(listed) << images.dump();
}

TEST_F(ServeTest, RawTilesAreTheStoredSamples) {
  // Tile (-2, 1) at level 0: pixels -512.., 256..; at level 3 (made from level 2).
  for (uint32_t level : {0u, 3u}) {
    const std::string target = "/tiles/scan/0/" + std::to_string(level) + "/-1/1";
    auto r = get(target);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/octet-stream");
    EXPECT_EQ(r->get_header_value("X-Tessera-Dtype"), "u8");
    EXPECT_EQ(r->get_header_value("X-Tessera-Bands"), "[0,1,2]");
    EXPECT_EQ(r->get_header_value("X-Tessera-Region"), "-256,256,256x256");
    const std::vector<uint8_t> want = reference(Region{-256, 256, 256, 256}, level);
    EXPECT_EQ(std::vector<uint8_t>(r->body.begin(), r->body.end()), want) << target;
  }
  const Json description = Json::parse(body("/tiles/scan/0/0/-1/1.json?bands=2,0"));
  EXPECT_EQ(description["bands"], Json::array({2, 0}));
  EXPECT_EQ(description["bytes"], 256 * 256 * 2);
  EXPECT_EQ(description["dtype"], "u8");
  const std::string two = body("/tiles/scan/0/0/-1/1?bands=2,0");
  const std::vector<uint8_t> all = reference(Region{-256, 256, 256, 256}, 0);
  ASSERT_EQ(two.size(), size_t(256 * 256 * 2));
  for (size_t i = 0; i < 256 * 256; ++i) {
    ASSERT_EQ(uint8_t(two[2 * i]), all[3 * i + 2]);
    ASSERT_EQ(uint8_t(two[2 * i + 1]), all[3 * i]);
  }
  // Far outside the data: the fill; outside the level's 64-bit space: an error.
  const std::string far = body("/tiles/scan/0/0/100000/100000");
  EXPECT_EQ(far, std::string(256 * 256 * 3, '\0'));
  EXPECT_EQ(get("/tiles/scan/0/0/36028797018963967/0")->status, 400);
  EXPECT_EQ(get("/tiles/scan/0/7/0/0")->status, 404);  // level 7: more than 3 above level 2
  EXPECT_EQ(get("/tiles/scan/0/0/0/0?bands=3")->status, 400);
}

TEST_F(ServeTest, EtagsFollowTheTilesAcrossACommitOfAnotherProcess) {
  // Deep Zoom tile 12/4_3 covers pixels (724.., 968..); 12/0_0 is elsewhere.
  const std::string changed = "/dzi/scan_files/12/4_3.png", kept = "/dzi/scan_files/12/0_0.png",
                    above = "/dzi/scan_files/10/1_0.png", raw = "/tiles/scan/0/0/3/3";
  std::map<std::string, std::string> etags;
  for (const std::string& t : {changed, kept, above, raw}) {
    auto r = get(t);
    ASSERT_EQ(r->status, 200);
    etags[t] = r->get_header_value("ETag");
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
    ASSERT_FALSE(etags[t].empty());
    auto again = get(t, {{"If-None-Match", etags[t]}});
    EXPECT_EQ(again->status, 304) << t;
    EXPECT_TRUE(again->body.empty());
    EXPECT_EQ(get(t, {{"If-None-Match", "\"other\", " + etags[t]}})->status, 304) << t;
    EXPECT_EQ(get(t, {{"If-None-Match", "\"other\""}})->status, 200) << t;
  }
  // Another process writes a white 40 x 40 square at (800, 1000) through the CLI.
  const std::string patch = dir_ + "/patch.raw";
  {
    std::ofstream raw_file(patch, std::ios::binary);
    const std::string white(40 * 40 * 3, '\xff');
    raw_file << white;
    std::ofstream hdr(patch + ".hdr");
    hdr << "ENVI\nsamples = 40\nlines = 40\nbands = 3\nheader offset = 0\nfile type = ENVI Standard\n"
           "data type = 1\ninterleave = bip\nbyte order = 0\n";
  }
  const std::string command = std::string(TESSERA_CLI_PATH) + " import " + file() + " " + patch +
                              " --image scan --update --origin 800,1000 --quiet";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  {  // The same in the copy the other tests compare with.
    auto full = Container::open(dir_ + "/full.tsr");
    ASSERT_OK(full);
    const std::string white(40 * 40 * 3, '\xff');
    ASSERT_OK(full->write([&](WriteTxn& txn) { return txn.write("scan", Region{800, 1000, 40, 40}, {}, white.data(), white.size()); }));
  }
  for (const std::string& t : {changed, above, raw}) {
    auto r = get(t, {{"If-None-Match", etags[t]}});
    EXPECT_EQ(r->status, 200) << t << ": the commit changed its tiles";
    EXPECT_NE(r->get_header_value("ETag"), etags[t]) << t;
  }
  EXPECT_EQ(get(kept, {{"If-None-Match", etags[kept]}})->status, 304) << "a tile the commit left alone";
  const Pixels now = decode_png(body(changed));
  const Region r = dzi_region(12, 4, 3);
  const size_t at = size_t(((1000 - r.y) * r.width + (800 - r.x)) * 3);
  EXPECT_EQ(now.data[at], 255);
  EXPECT_EQ(now.data[at + 2], 255);
}

TEST_F(ServeTest, IiifImageApi) {
  const Json info = Json::parse(body("/iiif/scan/info.json"));
  EXPECT_EQ(info["@context"], "http://iiif.io/api/image/3/context.json");
  EXPECT_EQ(info["id"], "http://127.0.0.1:" + std::to_string(port_) + "/iiif/scan");
  EXPECT_EQ(info["type"], "ImageService3");
  EXPECT_EQ(info["protocol"], "http://iiif.io/api/image");
  EXPECT_EQ(info["profile"], "level1");
  EXPECT_EQ(info["width"], 2500);
  EXPECT_EQ(info["height"], 1700);
  EXPECT_EQ(info["tiles"][0]["scaleFactors"], Json::array({1, 2, 4, 8, 16, 32}));
  auto base = get("/iiif/scan");
  EXPECT_EQ(base->status, 303);
  EXPECT_EQ(base->get_header_value("Location"), "/iiif/scan/info.json");
  EXPECT_NE(get("/iiif/scan/info.json")->get_header_value("Content-Type").find("application/ld+json"), std::string::npos);

  // A region at full size: the pixels exactly.
  const Pixels px = decode_png(body("/iiif/scan/100,200,300,150/max/0/default.png"));
  ASSERT_EQ(px.width, 300);
  ASSERT_EQ(px.height, 150);
  EXPECT_EQ(px.data, exported(Region{kScan.x + 100, kScan.y + 200, 300, 150}, 0));
  // A tile at scale factor 4: level 2's pixels.
  const Pixels tile = decode_png(body("/iiif/scan/1024,0,1024,1024/256,/0/default.png"));
  ASSERT_EQ(tile.width, 256);
  ASSERT_EQ(tile.height, 256);
  EXPECT_EQ(tile.data, reference(level_region(Region{kScan.x + 1024, kScan.y, 1024, 1024}, 2), 2));
  // Sizes.
  struct SizeCase { std::string region, size; int64_t w, h; };
  for (const SizeCase& c : {SizeCase{"full", "max", 2500, 1700}, SizeCase{"full", "625,", 625, 425},
                            SizeCase{"full", ",170", 250, 170}, SizeCase{"full", "pct:10", 250, 170},
                            SizeCase{"full", "!100,100", 100, 68}, SizeCase{"full", "200,50", 200, 50},
                            SizeCase{"square", "max", 1700, 1700}, SizeCase{"pct:50,50,50,50", "max", 1250, 850},
                            SizeCase{"0,0,10,10", "^40,", 40, 40}, SizeCase{"2400,1600,500,500", "max", 100, 100}}) {
    const std::string target = "/iiif/scan/" + c.region + "/" + c.size + "/0/default.png";
    const Pixels p = decode_png(body(target));
    EXPECT_EQ(p.width, c.w) << target;
    EXPECT_EQ(p.height, c.h) << target;
  }
  const Pixels gray = decode_png(body("/iiif/scan/0,0,64,64/max/0/gray.png"), true);
  EXPECT_EQ(gray.width, 64);
  EXPECT_EQ(decode_jpeg(body("/iiif/scan/full/100,/0/color.jpg")).width, 100);
  // Errors: 400 naming the parameter.
  struct Bad { std::string target, says; };
  for (const Bad& b : {Bad{"/iiif/scan/0,0,x,10/max/0/default.jpg", "region"},
                       Bad{"/iiif/scan/3000,0,10,10/max/0/default.jpg", "outside the image"},
                       Bad{"/iiif/scan/0,0,0,10/max/0/default.jpg", "no area"},
                       Bad{"/iiif/scan/0,0,10,10/20,/0/default.jpg", "prefix it with ^"},
                       Bad{"/iiif/scan/full/max/90/default.jpg", "rotation"},
                       Bad{"/iiif/scan/full/max/0/bitonal.jpg", "quality"},
                       Bad{"/iiif/scan/full/max/0/default.gif", "format"},
                       Bad{"/iiif/scan/full/0,/0/default.jpg", "size"},
                       Bad{"/iiif/scan/full/^100000,/0/default.jpg", "maxWidth 8192"},
                       Bad{"/iiif/scan/full/pct:0/0/default.jpg", "size"}}) {
    auto r = get(b.target);
    EXPECT_EQ(r->status, 400) << b.target;
    EXPECT_NE(r->body.find(b.says), std::string::npos) << b.target << ": " << r->body;
  }
}

TEST_F(ServeTest, FramesByQueryOrPathAndDisplayRanges) {
  // Frame 1 of the u16 cube, three ways.
  std::vector<uint8_t> want(64 * 64 * 4);
  for (int64_t y = 0; y < 64; ++y)
    for (int64_t x = 0; x < 64; ++x)
      for (int b = 0; b < 2; ++b) {
        const uint16_t v = cube_sample(1, 64 + x, y, b);
        std::memcpy(&want[size_t((y * 64 + x) * 4 + b * 2)], &v, 2);
      }
  const std::string raw = body("/tiles/cube/1/0/1/0");
  EXPECT_EQ(std::vector<uint8_t>(raw.begin(), raw.end()), want);
  EXPECT_EQ(get("/tiles/cube/2/0/1/0")->status, 404);
  // Rendered with a range: v -> round(v * 255 / 65535), grey from band 1.
  const std::string q = "bands=1&range=0:65535";
  const Pixels by_query = decode_png(body("/dzi/cube_files/9/0_0.png?frame=1&" + q));
  const Pixels by_path = decode_png(body("/dzi/cube@1_files/9/0_0.png?" + q));
  EXPECT_EQ(by_query.data, by_path.data);
  ASSERT_EQ(by_query.width, 256);  // 300 wide: Deep Zoom tiles 0_0 and 1_0 at the top level, 9
  ASSERT_EQ(by_query.height, 256);  // no extent: the tiles holding data (200 rows of 4 tiles of 64)
  const uint16_t v = cube_sample(1, 70, 5, 1);
  EXPECT_EQ(by_query.data[size_t((5 * 256 + 70) * 3)], uint8_t(std::lround(v * 255.0 / 65535)));
  EXPECT_NE(decode_png(body("/dzi/cube_files/9/0_0.png?frame=0&" + q)).data, by_query.data);
  EXPECT_EQ(get("/dzi/cube@7.dzi")->status, 404);
  EXPECT_EQ(get("/iiif/cube@1/info.json")->status, 200);
  // The display range the viewer asks for: percentiles of what the frame holds.
  const Json range = Json::parse(body("/api/range/cube?frame=1&bands=0"));
  EXPECT_EQ(range["bands"], Json::array({0}));
  EXPECT_LT(range["ranges"][0][0].get<double>(), range["ranges"][0][1].get<double>());
  const Json images = Json::parse(body("/api/images"));
  ASSERT_EQ(images["images"].size(), 3u);  // with the mapped image
  std::map<std::string, Json> by_name;
  for (const Json& image : images["images"]) by_name[image["name"].get<std::string>()] = image;
  const Json& cube = by_name["cube"];
  const Json& scan = by_name["scan"];
  EXPECT_EQ(cube["frames"], 2);
  EXPECT_EQ(cube["dtype"], "u16");
  EXPECT_EQ(scan["dzi_levels"], 13);
  EXPECT_EQ(scan["dzi_min_level"], 7);
  EXPECT_DOUBLE_EQ(scan["metres_per_pixel"].get<double>(), 0.25e-6);
}

TEST_F(ServeTest, BadRequestsGetShortErrors) {
  struct Bad { std::string target; int status; std::string says; };
  for (const Bad& b : {Bad{"/dzi/nope.dzi", 404, "nope"}, Bad{"/dzi/scan_files/x/0_0.jpg", 400, "level"},
                       Bad{"/dzi/scan_files/12/0-0.jpg", 400, "COLUMN_ROW"},
                       Bad{"/dzi/scan_files/12/0_0.bmp", 400, "format"},
                       Bad{"/tiles/scan/0/99/0/0", 400, "level"}, Bad{"/tiles/scan/x/0/0/0", 400, "frame"},
                       Bad{"/viewer/../../etc/passwd", 400, "leaves the served tree"},
                       Bad{"/dzi/%2e%2e/x.dzi", 400, "leaves the served tree"},
                       Bad{"/dzi/a%zz.dzi", 400, "escape"}, Bad{"/dzi/a%00.dzi", 400, "control"},
                       Bad{"/dzi/scan.dzi?frame=-1", 400, "frame"}, Bad{"/dzi/scan.dzi?bands=0,1", 400, "bands"},
                       Bad{"/dzi/scan_files/12/0_0.jpg?range=5:1", 400, "range"},
                       Bad{"/nothing/here", 404, "no such resource"}, Bad{"/viewer/nope.js", 404, "viewer"}}) {
    auto r = get(b.target);
    ASSERT_TRUE(r) << b.target;
    EXPECT_EQ(r->status, b.status) << b.target << ": " << r->body;
    EXPECT_NE(r->body.find(b.says), std::string::npos) << b.target << ": " << r->body;
    EXPECT_LT(r->body.size(), 600u) << b.target;
  }
  // The static route serves its directory and nothing beside it.
  EXPECT_EQ(body("/files/hello.txt"), "hello\n");
  for (const char* out : {"/files/../served.tsr", "/files/%2e%2e/served.tsr", "/files/../../etc/passwd"}) {
    auto r = get(out);
    ASSERT_TRUE(r) << out;
    EXPECT_GE(r->status, 400) << out;
    EXPECT_LT(r->status, 500) << out;
    EXPECT_EQ(r->body.find("SQLite"), std::string::npos);
  }
  httplib::Client client("127.0.0.1", port_);
  auto post = client.Post("/dzi/scan.dzi", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST_F(ServeTest, SixtyFourClientsAtOnce) {
  std::atomic<int> failures{0}, answers{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 64; ++c)
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port_);
      client.set_read_timeout(60, 0);
      for (int i = 0; i < 12; ++i) {
        const int k = (c * 12 + i) % 6;
        const std::string target = k == 0   ? "/dzi/scan_files/12/" + std::to_string(c % 10) + "_" + std::to_string(i % 7) + ".jpg"
                                   : k == 1 ? "/dzi/scan_files/9/0_0.png"
                                   : k == 2 ? "/iiif/scan/full/200,/0/default.jpg"
                                   : k == 3 ? "/tiles/scan/0/1/" + std::to_string(c % 5) + "/0"
                                   : k == 4 ? "/dzi/scan_files/99/0_0.jpg"
                                            : "/api/images";
        auto r = client.Get(target.c_str());
        if (!r || (r->status != 200 && !(k == 4 && r->status == 400))) ++failures;
        ++answers;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(answers.load(), 64 * 12);
  EXPECT_EQ(get("/api/images")->status, 200);
}

TEST_F(ServeTest, TheViewerIsServed) {
  auto page = get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page->body.find("/viewer/openseadragon.min.js"), std::string::npos);
  const std::string osd = body("/viewer/openseadragon.min.js");
  EXPECT_NE(osd.find("OpenSeadragon"), std::string::npos);
  EXPECT_GT(osd.size(), 100000u);
  EXPECT_EQ(get("/viewer/images/zoomin_rest.png")->status, 200);
  EXPECT_NE(body("/viewer/viewer.js").find("getTileUrl"), std::string::npos);
}

// ---- the parser and the IIIF arithmetic on their own

TEST(RoutesTest, ParsesEveryRouteAndRefusesTheMalformed) {
  auto tile = parse_route("/dzi/a%2Fb_files/12/3_4.jpg?frame=2&bands=2,1,0&range=0:4095&quality=80");
  ASSERT_TRUE(tile.is_ok()) << tile.status().message();
  const auto& t = std::get<DziTile>(*tile);
  EXPECT_EQ(t.image, "a/b");
  EXPECT_EQ(t.frame, 2u);
  EXPECT_EQ(t.level, 12u);
  EXPECT_EQ(t.column, 3);
  EXPECT_EQ(t.row, 4);
  EXPECT_EQ(t.display.bands, (std::vector<uint32_t>{2, 1, 0}));
  EXPECT_EQ(t.display.ranges.size(), 1u);
  EXPECT_EQ(t.display.quality, 80);
  auto raw = parse_route("/tiles/x/1/2/-3/4.json");
  ASSERT_TRUE(raw.is_ok());
  EXPECT_TRUE(std::get<RawTile>(*raw).description);
  EXPECT_EQ(std::get<RawTile>(*raw).x, -3);
  auto iiif = parse_route("/iiif/x/pct:1,2,3,4/!10,10/0/gray.png");
  ASSERT_TRUE(iiif.is_ok());
  EXPECT_EQ(std::get<IiifImage>(*iiif).region, "pct:1,2,3,4");
  EXPECT_EQ(std::get<IiifImage>(*iiif).format, Format::kPng);
  EXPECT_TRUE(std::holds_alternative<ViewerFile>(*parse_route("/")));
  EXPECT_TRUE(std::holds_alternative<ImageList>(*parse_route("/api/images")));
  for (const char* bad : {"", "x", "/dzi/a%", "/dzi/a%4", "/dzi/a%4g.dzi", "/tiles/x/0/0/1/99999999999999999999",
                          "/dzi/x_files/65/0_0.jpg", "/dzi/x_files/1/-1_0.jpg", "/dzi/x.dzi?format=gif"})
    EXPECT_EQ(parse_route(bad).status().code(), Code::kInvalidArgument) << bad;
  for (const char* none : {"/dzi", "/dzi/x.xml", "/iiif", "/tiles/x/0/0/0", "/api/nope", "/favicon.ico"})
    EXPECT_EQ(parse_route(none).status().code(), Code::kNotFound) << none;
  EXPECT_EQ(percent_decode("a%20b%2F"), "a b/");
  EXPECT_FALSE(percent_decode("%0a"));
}

TEST(IiifPlanTest, RegionsAndSizes) {
  const PictureLimits limits;
  auto plan = [&](const char* region, const char* size) {
    return plan_iiif(region, size, "0", "default", 1000, 600, limits);
  };
  EXPECT_EQ(plan("full", "max")->region, (Region{0, 0, 1000, 600}));
  EXPECT_EQ(plan("square", "max")->region, (Region{200, 0, 600, 600}));
  EXPECT_EQ(plan("pct:10,10,50,50", "max")->region, (Region{100, 60, 500, 300}));
  EXPECT_EQ(plan("900,500,500,500", "max")->region, (Region{900, 500, 100, 100}));  // clipped
  EXPECT_EQ(plan("full", "!500,500")->width, 500);
  EXPECT_EQ(plan("full", "!500,500")->height, 300);
  EXPECT_EQ(plan("full", ",300")->width, 500);
  EXPECT_EQ(plan("full", "^2000,")->height, 1200);
  EXPECT_FALSE(plan("full", "2000,").is_ok());
  EXPECT_FALSE(plan("full", "^!0,5").is_ok());
  EXPECT_FALSE(plan("full", "^pct:1e300").is_ok());  // over the limits, named
  EXPECT_FALSE(plan("1000,0,1,1", "max").is_ok());
  EXPECT_FALSE(plan("pct:0,0,0,10", "max").is_ok());
  EXPECT_FALSE(plan("-1,0,1,1", "max").is_ok());
  EXPECT_FALSE(plan_iiif("full", "max", "180", "default", 10, 10, limits).is_ok());
  // max keeps within maxArea.
  const auto big = plan_iiif("full", "max", "0", "default", 100000, 50000, limits);
  ASSERT_TRUE(big.is_ok());
  EXPECT_LE(big->width * big->height, limits.max_area);
  EXPECT_EQ(big->width, 5792);
}

}  // namespace
}  // namespace tessera::serve
