// Writes the seed containers of fuzz_container into DIR, with the library as it is built (so
// the seeds follow the format): an empty container; two images, one with two frames and a
// uniform tile, one planar u16 with zstd, with attributes and an extent; an image with the delta
// filter (format 3.1) and pyramid levels.
//
//   fuzz_make_container_seeds DIR
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tessera/tessera.h"

namespace {

using namespace tessera;

int fail(const Status& status) {
  std::fprintf(stderr, "fuzz_make_container_seeds: %s\n", status.to_string().c_str());
  return 1;
}

Status two_images(WriteTxn& t) {
  ImageSpec rgb;
  rgb.bands = 3;
  rgb.tile_size = 16;
  TESSERA_RETURN_IF_ERROR(t.create_image("rgb", rgb));
  std::vector<uint8_t> px(40 * 30 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7 % 251);
  TESSERA_RETURN_IF_ERROR(t.write("rgb", {0, 0, 40, 30}, {}, px.data(), px.size()));
  std::vector<uint8_t> flat(16 * 16 * 3, 9);
  TESSERA_RETURN_IF_ERROR(t.write("rgb", {48, 0, 16, 16}, {}, flat.data(), flat.size()));
  TESSERA_RETURN_IF_ERROR(t.write("rgb", {4, 4, 8, 8}, Selection{1, 0, {}}, flat.data(), 8 * 8 * 3));
  TESSERA_RETURN_IF_ERROR(t.set_attribute("rgb", kExtentAttribute, extent_value({0, 0, 64, 30})));
  ImageSpec cube;
  cube.type = DataType::kU16;
  cube.bands = 4;
  cube.tile_size = 16;
  cube.storage = StorageLayout::kPlanar;
  cube.codec = CodecSpec{Codec::kZstd, 3};
  cube.fill = {7.0};
  TESSERA_RETURN_IF_ERROR(t.create_image("cube", cube));
  std::vector<uint8_t> samples(20 * 20 * 4 * 2);
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = uint8_t(i % 97);
  TESSERA_RETURN_IF_ERROR(t.write("cube", {-10, 5, 20, 20}, {}, samples.data(), samples.size()));
  return t.set_attribute("cube", "wavelength", std::vector<double>{400, 500, 600, 700});
}

Status delta_with_levels(Container& c) {
  TESSERA_RETURN_IF_ERROR(c.write([](WriteTxn& t) {
    ImageSpec spec;
    spec.type = DataType::kU16;
    spec.tile_size = 16;
    spec.filter = Filter::kDelta;
    TESSERA_RETURN_IF_ERROR(t.create_image("smooth", spec));
    std::vector<uint8_t> px(48 * 48 * 2);
    for (size_t i = 0; i < px.size(); i += 2) px[i] = uint8_t(i / 2 % 48), px[i + 1] = 1;
    return t.write("smooth", {0, 0, 48, 48}, {}, px.data(), px.size());
  }));
  PyramidOptions levels;
  return c.build_pyramid("smooth", levels);
}

// two_images' images and mapped images over them (format 2.4): a translation, a rotation read
// bilinear with the mean of overlaps, and one standing on another with a band map.
Status mapped_images(WriteTxn& t) {
  TESSERA_RETURN_IF_ERROR(two_images(t));
  MappedSpec moved;
  moved.sources = {MappedSource{"rgb", 0, {}, Affine::translation(-20, 12)},
                   MappedSource{"rgb", 1, {}, Affine{0.94, -0.34, 30, 0.34, 0.94, -8}}};
  moved.blend = Blend::kMean;
  moved.interpolation = Interpolation::kBilinear;
  TESSERA_RETURN_IF_ERROR(t.define_mapped("moved", moved));
  MappedSpec nested;
  nested.sources = {MappedSource{"moved", 0, {2, 0}, Affine::translation(5, 5)}};
  nested.fill = {3};
  return t.define_mapped("nested", nested);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_container_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::filesystem::create_directories(dir);
  OpenOptions options;
  options.sync = false;
  for (const char* name : {"empty.tsr", "two_images.tsr", "delta_levels.tsr", "mapped.tsr"}) {
    const std::string path = dir + "/" + name;
    std::filesystem::remove(path);
    auto c = Container::create(path, options);
    if (!c) return fail(c.status());
    Status made;
    if (std::string(name) == "two_images.tsr") made = c->write(two_images);
    if (std::string(name) == "delta_levels.tsr") made = delta_with_levels(*c);
    if (std::string(name) == "mapped.tsr") made = c->write(mapped_images);
    if (!made) return fail(made);
  }
  for (const char* name : {"empty.tsr", "two_images.tsr", "delta_levels.tsr", "mapped.tsr"})
    std::filesystem::remove(dir + "/" + std::string(name) + "-lock");
  return 0;
}
