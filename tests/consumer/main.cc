// A consumer of the installed libraries: creates a container in a fresh temporary directory,
// writes a region across tile boundaries at negative coordinates, reads it back in another
// interleave and checks every sample; then exports it with libtessera-io (export_envi) and
// checks the header and the raw file it wrote. Exits 0 on success, 1 with a message otherwise.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <tessera/envi.h>
#include <tessera/tessera.h>

namespace {

int fail(const std::string& what, const tessera::Status& status) {
  std::fprintf(stderr, "consumer: %s: %s\n", what.c_str(), status.to_string().c_str());
  return 1;
}

}  // namespace

int main() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "tessera-consumer-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "consumer: mkdtemp failed\n");
    return 1;
  }
  const std::filesystem::path dir = pattern;
  const std::string file = (dir / "consumer.tsr").string();
  int rc = 0;
  {
    tessera::Result<tessera::Container> container = tessera::Container::create(file);
    if (!container) return fail("create " + file, container.status());

    tessera::ImageSpec spec;
    spec.type = tessera::DataType::kU16;
    spec.bands = 3;
    spec.tile_size = 16;
    spec.fill = {0.0};
    const tessera::Region region{-20, -5, 37, 23};
    const size_t samples = size_t(region.pixel_count()) * spec.bands;
    std::vector<uint16_t> bip(samples);
    for (size_t i = 0; i < samples; ++i) bip[i] = uint16_t(i * 2654435761u >> 7);

    tessera::Status st = container->write([&](tessera::WriteTxn& txn) {
      TESSERA_RETURN_IF_ERROR(txn.create_image("picture", spec));
      return txn.write("picture", region, {}, bip.data(), bip.size() * 2);
    });
    if (!st) return fail("write", st);

    tessera::Result<tessera::Snapshot> snap = container->snapshot();
    if (!snap) return fail("snapshot", snap.status());
    std::vector<uint16_t> bsq(samples, 0xFFFF);
    st = snap->read("picture", region, {}, bsq.data(), bsq.size() * 2, tessera::Interleave::kBSQ);
    if (!st) return fail("read", st);
    const size_t w = size_t(region.width), h = size_t(region.height);
    for (size_t b = 0; b < spec.bands && rc == 0; ++b)
      for (size_t y = 0; y < h && rc == 0; ++y)
        for (size_t x = 0; x < w; ++x)
          if (bsq[(b * h + y) * w + x] != bip[(y * w + x) * spec.bands + b]) {
            std::fprintf(stderr, "consumer: band %zu pixel (%zu,%zu) differs\n", b, x, y);
            rc = 1;
            break;
          }

    // The converters: the same region as an ENVI file in BSQ, which must hold those samples
    // (little-endian, as this host is).
    const std::string raw = (dir / "picture.raw").string();
    if (rc == 0) {
      tessera::ExportOptions options;
      options.region = region;
      options.interleave = tessera::Interleave::kBSQ;
      st = tessera::export_envi(*container, raw, options);
      if (!st) rc = fail("export_envi " + raw, st);
    }
    if (rc == 0) {
      tessera::Result<tessera::EnviHeader> header = tessera::read_envi_header(raw + ".hdr");
      if (!header) {
        rc = fail("read_envi_header", header.status());
      } else if (header->samples != region.width || header->lines != region.height ||
                 header->bands != spec.bands || header->type != spec.type ||
                 header->interleave != tessera::Interleave::kBSQ) {
        std::fprintf(stderr, "consumer: the exported header does not describe the region\n");
        rc = 1;
      }
    }
    if (rc == 0) {
      std::ifstream in(raw, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (bytes.size() != bsq.size() * 2 || std::memcmp(bytes.data(), bsq.data(), bytes.size()) != 0) {
        std::fprintf(stderr, "consumer: the exported samples differ from the ones read\n");
        rc = 1;
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (rc == 0) std::printf("consumer: ok\n");
  return rc;
}
