// Writes the seed corpora of the fuzz targets (fuzz/seeds/<target>/): small valid inputs built
// with the library's own encoders, so that the fuzzers start from values a real file holds.
// Deterministic: running it again gives the same files.
//
//   build-fuzz/fuzz/fuzz_make_seeds fuzz/seeds
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "format/chunk_codec.h"
#include "format/keys.h"
#include "format/mapped_record.h"
#include "format/records.h"

namespace tessera::fuzz {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

fs::path g_root;

void write_seed(const std::string& target, const std::string& name, const Bytes& bytes) {
  const fs::path dir = g_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

void write_seed(const std::string& target, const std::string& name, const std::string& text) {
  write_seed(target, name, Bytes(text.begin(), text.end()));
}

// xorshift64: incompressible bytes that are the same on every run.
Bytes noise(size_t size, uint64_t seed) {
  Bytes out(size);
  uint64_t x = seed | 1;
  for (auto& b : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = uint8_t(x >> 32);
  }
  return out;
}

// A smooth ramp of `count` little-endian samples of `sample_size` bytes: compressible, and
// much more so once shuffled.
Bytes ramp(size_t count, size_t sample_size, uint64_t step) {
  Bytes out(count * sample_size);
  for (size_t i = 0; i < count; ++i) {
    uint64_t v = 1000 + i * step;
    for (size_t b = 0; b < sample_size; ++b, v >>= 8) out[i * sample_size + b] = uint8_t(v);
  }
  return out;
}

struct ChunkCase {
  const char* name;
  Bytes raw;
  size_t sample_size;
  CodecSpec codec;
  Filter filter;
  uint32_t blocks = 1;
  uint32_t delta_distance = 1;
};

std::vector<ChunkCase> chunk_cases() {
  return {
      {"u8_none", ramp(256, 1, 1), 1, {Codec::kNone, 0}, Filter::kNone},
      {"u8_lz4", ramp(512, 1, 0), 1, {Codec::kLz4, 0}, Filter::kNone},
      {"u8_zstd", ramp(512, 1, 1), 1, {Codec::kZstd, 3}, Filter::kNone},
      {"u16_lz4_shuffle", ramp(256, 2, 3), 2, {Codec::kLz4, 0}, Filter::kShuffle},
      {"u32_zstd_shuffle", ramp(128, 4, 7), 4, {Codec::kZstd, 1}, Filter::kShuffle},
      {"f64_zstd_shuffle", ramp(64, 8, 1 << 20), 8, {Codec::kZstd, 19}, Filter::kShuffle},
      {"rgb_lz4", ramp(300, 3, 1), 3, {Codec::kLz4, 0}, Filter::kNone},
      {"noise_lz4_stored_raw", noise(200, 1), 1, {Codec::kLz4, 0}, Filter::kNone},
      // 24 + 4072 = 4096 bytes: the value gets its one pad byte.
      {"noise_none_padded", noise(4072, 2), 1, {Codec::kNone, 0}, Filter::kNone},
      // The delta filter: version 1 chunks record the distance (the bands), version 2 blocks use 1.
      {"u16_rgb_lz4_delta", ramp(300, 2, 2), 2, {Codec::kLz4, 0}, Filter::kDelta, 1, 3},
      {"u8_zstd_delta", ramp(512, 1, 1), 1, {Codec::kZstd, 1}, Filter::kDelta, 1, 1},
      {"u16_4planes_zstd_delta", ramp(512, 2, 5), 2, {Codec::kZstd, 1}, Filter::kDelta, 4},
      // Version 2: planar tiles of several bands, a block per band plane.
      {"u16_4planes_lz4_shuffle", ramp(512, 2, 5), 2, {Codec::kLz4, 0}, Filter::kShuffle, 4},
      {"u8_3planes_none", ramp(300, 1, 1), 1, {Codec::kNone, 0}, Filter::kNone, 3},
      {"mixed_2planes_zstd", []{ Bytes b = ramp(256, 1, 1); Bytes n = noise(256, 3);
                                 b.insert(b.end(), n.begin(), n.end()); return b; }(),
       1, {Codec::kZstd, 1}, Filter::kNone, 2},
  };
}

void chunk_seeds() {
  for (const ChunkCase& c : chunk_cases()) {
    detail::AlignedBuffer value;
    detail::encode_chunk(c.raw.data(), c.raw.size(), {c.codec, c.filter, c.sample_size, c.blocks, c.delta_distance},
                         value);
    write_seed("chunk_decode", c.name, Bytes(value.data(), value.data() + value.size()));

    // chunk_round_trip: [sample size | (blocks - 1) << 2][codec | (distance - 1) << 2 | filter][level][raw...]
    static constexpr size_t kSampleSizes[] = {1, 2, 4, 8};
    uint8_t size_byte = 0x80 | uint8_t(c.sample_size);
    for (uint8_t i = 0; i < 4; ++i)
      if (kSampleSizes[i] == c.sample_size) size_byte = uint8_t(i | (c.blocks - 1) << 2);
    const uint8_t filter = c.filter == Filter::kShuffle ? 0x80 : c.filter == Filter::kDelta ? 0x40 : 0;
    Bytes input = {size_byte, uint8_t(uint8_t(c.codec.codec) | (c.delta_distance - 1) << 2 | filter),
                   uint8_t(int8_t(c.codec.level))};
    input.insert(input.end(), c.raw.begin(), c.raw.end());
    write_seed("chunk_round_trip", c.name, input);
  }
}

// records: [pixel bytes][25-byte tile key][record...]
const detail::TileKeyBytes kRecordKey = detail::encode_tile_key({1, 0, {5, -9}, 2});

void record_seed(const std::string& name, uint8_t pixel_bytes, const Bytes& record) {
  Bytes input = {pixel_bytes};
  input.insert(input.end(), kRecordKey.begin(), kRecordKey.end());
  input.insert(input.end(), record.begin(), record.end());
  write_seed("records", name, input);
}

Bytes image_record(ImageInfo info) {
  auto fill = detail::fill_pixel(info.spec);
  if (!fill.is_ok()) {
    std::fprintf(stderr, "seed image '%s': %s\n", info.name.c_str(),
                 fill.status().to_string().c_str());
    std::exit(1);
  }
  info.fill_pixel = *fill;
  return detail::build_image_record(info);
}

void record_seeds() {
  record_seed("format_header", 1,
              detail::build_format_header({detail::kFormatMagic, 1, 0, "tessera 0.1.0", 1700000000}));

  ImageInfo gray;
  gray.name = "slide";
  gray.id = 1;
  gray.frames = 1;
  record_seed("image_u8", 1, image_record(gray));

  ImageInfo rgb;
  rgb.name = "rgb f32";
  rgb.id = 7;
  rgb.frames = 3;
  rgb.spec.type = DataType::kF32;
  rgb.spec.bands = 3;
  rgb.spec.tile_size = 512;
  rgb.spec.macro_tiles = 8;
  rgb.spec.fill = {std::numeric_limits<double>::quiet_NaN(), -1.5, 0.0};
  rgb.spec.codec = {Codec::kZstd, 9};
  record_seed("image_f32_nan_fill", 12, image_record(rgb));

  ImageInfo planar;
  planar.name = "planar";
  planar.id = 0xFFFFFFFF;
  planar.spec.type = DataType::kI16;
  planar.spec.bands = 4;
  planar.spec.tile_size = 16;
  planar.spec.macro_tiles = 1;
  planar.spec.fill = {-32768};
  planar.spec.storage = StorageLayout::kPlanar;
  planar.spec.codec = {Codec::kNone, 0};
  planar.spec.filter = Filter::kNone;
  record_seed("image_i16_planar", 8, image_record(planar));

  ImageInfo wide;
  wide.name = "u64 near max";
  wide.id = 3;
  wide.spec.type = DataType::kU64;
  wide.spec.bands = 2;
  wide.spec.fill = {0x1p63, 0x1p53};
  record_seed("image_u64_fill", 16, image_record(wide));
  wide.spec.filter = Filter::kDelta;
  record_seed("image_u64_delta", 16, image_record(wide));

  ImageInfo real;
  real.name = "f64";
  real.id = 4;
  real.spec.type = DataType::kF64;
  real.spec.fill = {-0.0};
  real.spec.codec = {Codec::kZstd, 0};
  record_seed("image_f64_fill", 8, image_record(real));

  // Refused by the reader: 4096 x 4096 tiles of 64 bands are over the tile size limit.
  ImageInfo huge;
  huge.name = "too big";
  huge.spec.bands = 64;
  huge.spec.tile_size = 4096;
  huge.spec.fill = {0};
  record_seed("image_tile_over_limit", 64, image_record(huge));

  record_seed("tile_tombstone", 3, detail::build_tile_record(kRecordKey, {}));
  detail::TileValue uniform{detail::TileKind::kUniform, {10, 20, 30}, {}};
  record_seed("tile_uniform", 3, detail::build_tile_record(kRecordKey, uniform));
  const Bytes raw = ramp(64, 1, 1);
  const detail::ContentHash h = detail::content_hash(raw.data(), raw.size());
  detail::TileValue chunk{detail::TileKind::kChunk, {}, detail::make_chunk_key(h.hi, h.lo, 0)};
  record_seed("tile_chunk", 3, detail::build_tile_record(kRecordKey, chunk));
}

// tile_key: [25 key bytes][key A][frame g][key B][k], keys as image u32, level u8, x i64,
// y i64, frame u32, all little-endian.
void put_le(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i, v >>= 8) out.push_back(uint8_t(v));
}
void put_key(Bytes& out, const detail::TileKey& k) {
  put_le(out, k.image, 4);
  put_le(out, k.level, 1);
  put_le(out, uint64_t(k.tile.x), 8);
  put_le(out, uint64_t(k.tile.y), 8);
  put_le(out, k.frame, 4);
}
void tile_key_seed(const std::string& name, const detail::TileKey& a, uint32_t g,
                   const detail::TileKey& b, uint8_t k) {
  const detail::TileKeyBytes bytes = detail::encode_tile_key(a);
  Bytes input(bytes.begin(), bytes.end());
  put_key(input, a);
  put_le(input, g, 4);
  put_key(input, b);
  input.push_back(k);
  write_seed("tile_key", name, input);
}

void tile_key_seeds() {
  tile_key_seed("neighbours", {1, 0, {5, -9}, 0}, 1, {1, 0, {6, -9}, 0}, 1);
  tile_key_seed("same_block", {3, 2, {-4, -4}, 7}, 2, {3, 2, {-1, -3}, 7}, 2);
  tile_key_seed("extremes", {0xFFFFFFFF, 255, {INT64_MIN, INT64_MAX}, 0xFFFFFFFF}, 0,
                {0, 0, {INT64_MAX, INT64_MIN}, 0}, 62);
  tile_key_seed("levels", {9, 0, {1000, 2000}, 5}, 6, {9, 1, {500, 1000}, 5}, 10);
}

void envi_seeds() {
  write_seed("envi_header", "minimal",
             "ENVI\nsamples = 640\nlines = 480\nbands = 3\ndata type = 1\ninterleave = bip\n");
  write_seed("envi_header", "full",
             "ENVI\n"
             "description = {\n  written by a scanner,\n  two lines}\n"
             "samples = 1024\nlines = 768\nbands = 4\nheader offset = 512\n"
             "file type = ENVI Standard\ndata type = 12\ninterleave = BSQ\nbyte order = 1\n"
             "band names = { red, green, blue,\n nir }\n"
             "wavelength units = Nanometers\n");
  write_seed("envi_header", "i8_extension",
             "ENVI\r\nsamples=16\r\nlines=16\r\nbands=1\r\ndata type=1\r\n"
             "tessera data type = i8\r\ninterleave=bil\r\n");
  write_seed("envi_header", "bom_comments",
             "\xEF\xBB\xBF" "ENVI\n; a comment\n\nSamples   =  7\nLINES = 9\nbands = 2\n"
             "data  type = 5\n");
  write_seed("envi_header", "written_by_tessera",
             "ENVI\ndescription = {written by Tessera}\nsamples = 256\nlines = 256\nbands = 1\n"
             "header offset = 0\nfile type = ENVI Standard\ndata type = 4\ninterleave = bip\n"
             "byte order = 0\n");
  write_seed("envi_header", "attributes",
             "ENVI\r\nsamples = 4\r\nlines = 3\r\nbands = 2\r\ndata type = 2\r\n"
             "Wavelength  Units = Micrometers\r\nwavelength = {\r\n 0.45,\r\n +0.55 }\r\n"
             "fwhm = {1, 2}\r\nFWHM = {0.01, 0.02}\r\nband names = { Blue , Green }\r\n"
             "bbl = {1.0, 0}\r\ndefault bands = {2}\r\ndata ignore value = {-1, nan}\r\n"
             "map info = {UTM, 1.5, 2.5, 500000.0, 4100000.0, 30, 30, 33, North}\r\n"
             "x start = 11\r\ngeo points = {1, 1, 40, 15}\r\nreflectance scale factor = 1e4\r\n"
             "coordinate system string = {PROJCS[\"x\",UNIT[\"Meter\",1.0]]}\r\n"
             "My  Field = {  a ,b,  \r\n   c  }\r\nother = plain = sign\r\n");
}

}  // namespace
// mapped_record: [name length][name][MappedImage record]
void mapped_seeds() {
  const auto seed = [](const std::string& file, const std::string& name, const detail::MappedValue& value) {
    const std::vector<uint8_t> key = detail::mapped_record_key(name);
    const std::vector<uint8_t> record = detail::build_mapped_record(key, value);
    Bytes input = {uint8_t(name.size())};
    input.insert(input.end(), name.begin(), name.end());
    input.insert(input.end(), record.begin(), record.end());
    write_seed("mapped_record", file, input);
  };
  seed("translation", "mosaic",
       {{MappedSource{"a", 0, {}, Affine::translation(-13, 25)}, MappedSource{"b", 2, {2, 0}, Affine::translation(4, 4)}},
        Blend::kFirst, Interpolation::kNearest, {0, 0}});
  seed("rotation_bilinear_mean", "turned",
       {{MappedSource{"scan", 0, {}, Affine{0.92, -0.39, 10.25, 0.39, 0.92, -3.5}}}, Blend::kMean,
        Interpolation::kBilinear, {255, 255, 255}});
  seed("u16_max", "m", {{MappedSource{"cube", 1, {7}, Affine{2, 0, 0, 0, 2, 0}}}, Blend::kMax, Interpolation::kNearest, {0, 0}});
}

}  // namespace tessera::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEED_DIR (e.g. fuzz/seeds)\n", argv[0]);
    return 2;
  }
  tessera::fuzz::g_root = argv[1];
  tessera::fuzz::chunk_seeds();
  tessera::fuzz::record_seeds();
  tessera::fuzz::tile_key_seeds();
  tessera::fuzz::envi_seeds();
  tessera::fuzz::mapped_seeds();
  return 0;
}
