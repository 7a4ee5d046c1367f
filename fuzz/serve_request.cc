// Fuzz target: arbitrary bytes as the request target (and If-None-Match header) of `tessera
// serve`, through its parser and router (tools/serve: routes, iiif, service) against a small
// container made once: two images (u8 RGB with a built level and an extent off the origin,
// u16 with two frames and no pyramid), so that Deep Zoom, IIIF, raw tiles, levels made on the
// fly, frames by path and the display ranges are all reachable.
//
// What must hold: no crash, hang, leak or read outside a buffer, whatever the bytes; every
// answer has a status of 200, 303, 304 or 4xx with a short message (a 5xx is a bug here: the
// container is sound); a 200 has a body.
//
// Seeds: fuzz/seeds/serve_request, one request per file: the input's first line is the target,
// the rest the If-None-Match header.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_helpers.h"
#include "service.h"
#include "tessera/tessera.h"

namespace tessera::fuzz {
namespace {

struct Served {
  std::string path;
  std::optional<Container> container;
  std::optional<serve::TileService> service;
};

// Made once, never freed (the service refers to the container).
Served& served() {
  static Served* s = [] {
    Served* made = new Served;
    Served& out = *made;
    const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    out.path = std::string(dir) + "/tessera-fuzz-serve-" + std::to_string(::getpid()) + ".tsr";
    std::filesystem::remove(out.path);
    std::filesystem::remove(out.path + "-lock");
    auto c = Container::create(out.path);
    FUZZ_CHECK(c.is_ok(), c.status().to_string());
    Status st = c->write([](WriteTxn& txn) {
      ImageSpec rgb;
      rgb.bands = 3;
      rgb.tile_size = 64;
      TESSERA_RETURN_IF_ERROR(txn.create_image("scan", rgb));
      const Region r{-70, 30, 400, 300};
      std::vector<uint8_t> px(size_t(r.pixel_count()) * 3);
      for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7 / 5);
      TESSERA_RETURN_IF_ERROR(txn.write("scan", r, {}, px.data(), px.size()));
      TESSERA_RETURN_IF_ERROR(txn.set_attribute("scan", kExtentAttribute, extent_value(r)));
      ImageSpec cube;
      cube.type = DataType::kU16;
      cube.bands = 2;
      cube.tile_size = 32;
      TESSERA_RETURN_IF_ERROR(txn.create_image("cube", cube));
      std::vector<uint16_t> samples(100 * 80 * 2);
      for (uint32_t f = 0; f < 2; ++f) {
        for (size_t i = 0; i < samples.size(); ++i) samples[i] = uint16_t(i * 13 + f * 999);
        TESSERA_RETURN_IF_ERROR(txn.write("cube", Region{0, 0, 100, 80}, Selection{f, 0, {}}, samples.data(),
                                          samples.size() * 2));
      }
      return Status::ok();
    });
    FUZZ_CHECK(st.is_ok(), st.to_string());
    st = c->build_pyramid("scan", PyramidOptions{0, 1, Resampling::kMean, {}});
    FUZZ_CHECK(st.is_ok(), st.to_string());
    out.container.emplace(std::move(c).value());
    serve::ServiceOptions options;
    options.limits = serve::PictureLimits{1024, 1024, 512 * 512};
    options.max_read_bytes = 16 << 20;
    out.service.emplace(*out.container, options, std::span<const serve::EmbeddedFile>());
    return made;
  }();
  return *s;
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  serve::RequestInfo request;
  if (newline != std::string::npos) request.if_none_match = input.substr(newline + 1);
  const serve::Response r = fuzz::served().service->handle(input.substr(0, newline), request);
  FUZZ_CHECK(r.status == 200 || r.status == 303 || r.status == 304 || (r.status >= 400 && r.status < 500),
             std::to_string(r.status) + " " + r.body);
  if (r.status >= 400) FUZZ_CHECK(!r.body.empty() && r.body.size() < 4096, r.body);
  if (r.status == 200) FUZZ_CHECK(!r.body.empty(), "an empty 200");
  return 0;
}
