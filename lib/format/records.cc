#include "format/records.h"

#include <flatbuffers/flatbuffers.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "format/flatbuffer_read.h"
#include "tessera_generated.h"
#include "util/bytes.h"
#include "util/xxhash.h"

namespace tessera::detail {
namespace {

Status corrupt(std::string what) { return Status(Code::kCorrupt, std::move(what)); }

template <typename T>
std::vector<uint8_t> finish(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<T> root) {
  fbb.Finish(root);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

bool is_power_of_two(uint32_t v) { return v && !(v & (v - 1)); }

template <typename T>
bool store_exact(double v, uint8_t* out) {
  T t;
  if constexpr (std::is_floating_point_v<T>) {
    t = T(v);
    if (!std::isnan(v) && double(t) != v) return false;
  } else {
    // [min, 2^digits): the upper end exclusive, so that no out-of-range cast can happen.
    const double end = std::ldexp(1.0, std::numeric_limits<T>::digits);
    if (!(v >= double(std::numeric_limits<T>::min()) && v < end)) return false;
    t = T(v);
    if (double(t) != v) return false;
  }
  std::memcpy(out, &t, sizeof t);  // little-endian host (checked at build time in bytes.h users)
  return true;
}

double sample_to_double(DataType type, const uint8_t* p) {
  switch (type) {
    case DataType::kU8: return load_sample<uint8_t>(p);
    case DataType::kU16: return load_sample<uint16_t>(p);
    case DataType::kU32: return load_sample<uint32_t>(p);
    case DataType::kU64: return load_sample<uint64_t>(p);
    case DataType::kI8: return load_sample<int8_t>(p);
    case DataType::kI16: return load_sample<int16_t>(p);
    case DataType::kI32: return load_sample<int32_t>(p);
    case DataType::kI64: return load_sample<int64_t>(p);
    case DataType::kF32: return load_sample<float>(p);
    case DataType::kF64: return load_sample<double>(p);
  }
  return 0;
}

bool double_to_sample(DataType type, double v, uint8_t* out) {
  switch (type) {
    case DataType::kU8: return store_exact<uint8_t>(v, out);
    case DataType::kU16: return store_exact<uint16_t>(v, out);
    case DataType::kU32: return store_exact<uint32_t>(v, out);
    case DataType::kU64: return store_exact<uint64_t>(v, out);
    case DataType::kI8: return store_exact<int8_t>(v, out);
    case DataType::kI16: return store_exact<int16_t>(v, out);
    case DataType::kI32: return store_exact<int32_t>(v, out);
    case DataType::kI64: return store_exact<int64_t>(v, out);
    case DataType::kF32: return store_exact<float>(v, out);
    case DataType::kF64: return store_exact<double>(v, out);
  }
  return false;
}

}  // namespace

static_assert(std::endian::native == std::endian::little,
              "Tessera stores samples little-endian and supports little-endian hosts only");

std::vector<uint8_t> build_format_header(const FormatHeader& header) {
  flatbuffers::FlatBufferBuilder fbb(128);
  auto magic = fbb.CreateString(kFormatMagic);
  auto creator = fbb.CreateString(header.creator);
  return finish(fbb, fb::CreateFormatHeader(fbb, magic, header.major, header.minor, creator,
                                            header.created_unix));
}

Result<FormatHeader> read_format_header(const uint8_t* data, size_t size) {
  const fb::FormatHeader* h = verified_root<fb::FormatHeader>(data, size);
  if (!h) return corrupt("format header fails verification");
  FormatHeader out;
  out.magic = h->magic() ? h->magic()->str() : "";
  out.major = h->major();
  out.minor = h->minor();
  out.creator = h->creator() ? h->creator()->str() : "";
  out.created_unix = h->created_unix();
  return out;
}

Result<FormatHeader> parse_format_header(const uint8_t* data, size_t size) {
  auto header = read_format_header(data, size);
  if (header && header->magic != kFormatMagic) return corrupt("format header magic is not 'tessera'");
  return header;
}

namespace {
Status validate_structure(const ImageSpec& spec) {
  auto invalid = [](std::string what) { return Status(Code::kInvalidArgument, std::move(what)); };
  if (sample_size(spec.type) == 0) return invalid("unknown sample type");
  if (spec.bands < 1 || spec.bands > kMaxBands)
    return invalid("band count " + std::to_string(spec.bands) + " is not within 1.." +
                   std::to_string(kMaxBands));
  if (!is_power_of_two(spec.tile_size) || spec.tile_size < 16 || spec.tile_size > 4096)
    return invalid("tile size " + std::to_string(spec.tile_size) +
                   " is not a power of two from 16 to 4096");
  if (!is_power_of_two(spec.macro_tiles) || spec.macro_tiles > 256)
    return invalid("macro block size " + std::to_string(spec.macro_tiles) +
                   " tiles is not a power of two from 1 to 256");
  const uint64_t tile_bytes =
      uint64_t(spec.tile_size) * spec.tile_size * spec.bands * sample_size(spec.type);
  if (tile_bytes > kMaxTileBytes)
    return invalid("a tile of " + std::to_string(tile_bytes) + " bytes exceeds the limit of " +
                   std::to_string(kMaxTileBytes));
  if (spec.codec.codec == Codec::kZstd && (spec.codec.level < 0 || spec.codec.level > 22))
    return invalid("zstd level " + std::to_string(spec.codec.level) + " is not within 0..22");
  if (spec.codec.codec != Codec::kZstd && spec.codec.level != 0)
    return invalid("codec " + codec_spec_name(spec.codec) + " takes no level");
  return Status::ok();
}
}  // namespace

Status validate_image_spec(const ImageSpec& spec) {
  TESSERA_RETURN_IF_ERROR(validate_structure(spec));
  if (spec.fill.size() != 1 && spec.fill.size() != spec.bands)
    return Status(Code::kInvalidArgument,
                  "fill has " + std::to_string(spec.fill.size()) + " values; expected 1 or one per band (" +
                      std::to_string(spec.bands) + ")");
  auto fill = fill_pixel(spec);
  return fill ? Status::ok() : fill.status();
}

Result<std::vector<uint8_t>> fill_pixel(const ImageSpec& spec) {
  const size_t s = sample_size(spec.type);
  std::vector<uint8_t> pixel(s * spec.bands);
  for (uint32_t b = 0; b < spec.bands; ++b) {
    const double v = spec.fill.size() == 1 ? spec.fill[0] : spec.fill[b];
    if (!double_to_sample(spec.type, v, pixel.data() + b * s))
      return Status(Code::kInvalidArgument, "fill value " + std::to_string(v) + " of band " +
                                                std::to_string(b) + " is not representable as " +
                                                std::string(data_type_name(spec.type)));
  }
  return pixel;
}

std::vector<double> pixel_values(DataType type, std::span<const uint8_t> pixel) {
  const size_t s = sample_size(type);
  std::vector<double> values;
  for (size_t at = 0; at + s <= pixel.size(); at += s) values.push_back(sample_to_double(type, pixel.data() + at));
  return values;
}

uint64_t ref_count_check(const ChunkKey& key, uint64_t count) {
  uint8_t bytes[kChunkKeySize + 8];
  std::memcpy(bytes, key.data(), kChunkKeySize);
  put_le64(bytes + kChunkKeySize, count);
  return XXH3_64bits(bytes, sizeof bytes);
}

namespace {

// The checksum of an image record (spec/FORMAT.md 4.2): XXH3_64bits of the fields as stored,
// each in a fixed width, little-endian, strings and vectors after their length.
uint64_t image_record_check(const fb::Image& r) {
  std::vector<uint8_t> bytes;
  const auto put = [&](uint64_t v, int width) {
    for (int i = 0; i < width; ++i) bytes.push_back(uint8_t(v >> (8 * i)));
  };
  const auto put_bytes = [&](const uint8_t* data, size_t size) {
    put(size, 4);
    bytes.insert(bytes.end(), data, data + size);
  };
  put(r.id(), 4);
  put_bytes(reinterpret_cast<const uint8_t*>(r.name()->data()), r.name()->size());
  put(uint8_t(r.dtype()), 1);
  put(r.bands(), 2);
  put(r.tile_size_log2(), 1);
  put(r.macro_tiles_log2(), 1);
  if (r.fill()) put_bytes(r.fill()->data(), r.fill()->size());
  else put(0, 4);
  put(uint8_t(r.storage()), 1);
  put(uint8_t(r.codec()), 1);
  put(uint8_t(r.codec_level()), 1);
  put(r.shuffle(), 1);
  put(r.frames(), 4);
  put(r.delta(), 1);
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace

std::vector<uint8_t> build_image_record(const ImageInfo& info) {
  const ImageSpec& s = info.spec;
  const auto build = [&](std::optional<uint64_t> check) {
    flatbuffers::FlatBufferBuilder fbb(256);
    auto name = fbb.CreateString(info.name);
    auto fill = fbb.CreateVector(info.fill_pixel);
    return finish(fbb, fb::CreateImage(fbb, info.id, name, static_cast<fb::DataType>(s.type),
                                       uint16_t(s.bands), uint8_t(std::countr_zero(s.tile_size)),
                                       uint8_t(std::countr_zero(s.macro_tiles)), fill,
                                       static_cast<fb::StorageLayout>(s.storage),
                                       static_cast<fb::Codec>(s.codec.codec), int8_t(s.codec.level),
                                       s.filter == Filter::kShuffle, info.frames,
                                       s.filter == Filter::kDelta,
                                       check ? flatbuffers::Optional<uint64_t>(*check) : flatbuffers::nullopt));
  };
  // The record without its checksum gives the fields as they will be stored.
  const std::vector<uint8_t> fields = build(std::nullopt);
  return build(image_record_check(*flatbuffers::GetRoot<fb::Image>(fields.data())));
}

Result<ImageInfo> parse_image_record(const uint8_t* data, size_t size, bool check_required) {
  const fb::Image* r = verified_root<fb::Image>(data, size);
  if (!r) return corrupt("image record fails verification");
  ImageInfo info;
  info.id = r->id();
  info.name = r->name()->str();
  if (r->check().has_value()) {
    if (*r->check() != image_record_check(*r))
      return corrupt("image '" + info.name + "' (id " + std::to_string(info.id) + ") record fails its checksum");
  } else if (check_required) {
    return corrupt("image '" + info.name + "' (id " + std::to_string(info.id) +
                   ") record has no checksum, which its file's version requires");
  }
  info.frames = r->frames();
  ImageSpec& s = info.spec;
  const auto dtype = static_cast<uint8_t>(r->dtype());
  if (dtype > static_cast<uint8_t>(fb::DataType::MAX))
    return corrupt("image '" + info.name + "' has unknown sample type " + std::to_string(dtype));
  s.type = static_cast<DataType>(dtype);
  s.bands = r->bands();
  if (r->tile_size_log2() < 4 || r->tile_size_log2() > 12 || r->macro_tiles_log2() > 8)
    return corrupt("image '" + info.name + "' has tile size 2^" +
                   std::to_string(r->tile_size_log2()) + " and macro size 2^" +
                   std::to_string(r->macro_tiles_log2()) + " tiles, out of range");
  s.tile_size = 1u << r->tile_size_log2();
  s.macro_tiles = 1u << r->macro_tiles_log2();
  if (static_cast<uint8_t>(r->storage()) > static_cast<uint8_t>(fb::StorageLayout::MAX) ||
      static_cast<uint8_t>(r->codec()) > static_cast<uint8_t>(fb::Codec::MAX))
    return corrupt("image '" + info.name + "' has an unknown storage layout or codec");
  s.storage = static_cast<StorageLayout>(r->storage());
  s.codec = CodecSpec{static_cast<Codec>(r->codec()), r->codec_level()};
  s.filter = r->delta() ? Filter::kDelta : r->shuffle() ? Filter::kShuffle : Filter::kNone;
  const size_t sample = sample_size(s.type);
  if (!r->fill() || r->fill()->size() != sample * s.bands)
    return corrupt("image '" + info.name + "' fill pixel is not " +
                   std::to_string(sample * s.bands) + " bytes");
  // The stored bytes are the fill value; the doubles only describe it (an i64 above 2^53 or a
  // signalling NaN may not survive a trip through double).
  info.fill_pixel.assign(r->fill()->begin(), r->fill()->end());
  s.fill.resize(s.bands);
  for (uint32_t b = 0; b < s.bands; ++b)
    s.fill[b] = sample_to_double(s.type, r->fill()->data() + b * sample);
  Status valid = validate_structure(s);
  if (!valid.is_ok()) return corrupt("image '" + info.name + "': " + valid.message());
  return info;
}

namespace {
uint64_t tile_record_check(const TileKeyBytes& key, TileKind kind, const uint8_t* uniform,
                           size_t uniform_size, const uint8_t* chunk, size_t chunk_size) {
  uint8_t head[kTileKeySize + 1];
  std::memcpy(head, key.data(), kTileKeySize);
  head[kTileKeySize] = static_cast<uint8_t>(kind);
  uint64_t h = XXH3_64bits(head, sizeof head);
  h = XXH3_64bits_withSeed(uniform, uniform_size, h);
  return XXH3_64bits_withSeed(chunk, chunk_size, h);
}
}  // namespace

uint64_t tile_record_check(const TileKeyBytes& key, const TileRecordFields& fields) {
  return tile_record_check(key, static_cast<TileKind>(fields.kind), fields.uniform.data(),
                           fields.uniform.size(), fields.chunk.data(), fields.chunk.size());
}

std::vector<uint8_t> build_tile_record(const TileKeyBytes& key, const TileValue& value) {
  flatbuffers::FlatBufferBuilder fbb(64);
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> uniform, chunk;
  const bool is_uniform = value.kind == TileKind::kUniform, is_chunk = value.kind == TileKind::kChunk;
  if (is_uniform) uniform = fbb.CreateVector(value.uniform);
  if (is_chunk) chunk = fbb.CreateVector(value.chunk.data(), value.chunk.size());
  const uint64_t check =
      tile_record_check(key, value.kind, is_uniform ? value.uniform.data() : nullptr,
                        is_uniform ? value.uniform.size() : 0, is_chunk ? value.chunk.data() : nullptr,
                        is_chunk ? value.chunk.size() : 0);
  return finish(fbb, fb::CreateTileRecord(fbb, static_cast<fb::TileKind>(value.kind), uniform,
                                          chunk, check));
}

Result<TileRecordFields> read_tile_record(const uint8_t* data, size_t size) {
  const fb::TileRecord* r = verified_root<fb::TileRecord>(data, size);
  if (!r) return corrupt("tile record fails verification");
  TileRecordFields fields;
  fields.kind = static_cast<uint8_t>(r->kind());
  if (const auto* u = r->uniform()) fields.uniform.assign(u->begin(), u->end());
  if (const auto* c = r->chunk()) fields.chunk.assign(c->begin(), c->end());
  fields.check = r->check();
  return fields;
}

Result<TileValue> parse_tile_record(const TileKeyBytes& key, const uint8_t* data, size_t size,
                                    size_t pixel_bytes) {
  auto fields = read_tile_record(data, size);
  if (!fields) return fields.status();
  if (tile_record_check(key, *fields) != fields->check) return corrupt("tile record checksum mismatch");
  TileValue v;
  switch (static_cast<TileKind>(fields->kind)) {
    case TileKind::kTombstone: v.kind = TileKind::kTombstone; break;
    case TileKind::kUniform:
      if (fields->uniform.size() != pixel_bytes)
        return corrupt("uniform tile record holds " + std::to_string(fields->uniform.size()) +
                       " bytes for a pixel of " + std::to_string(pixel_bytes));
      v.kind = TileKind::kUniform;
      v.uniform = std::move(fields->uniform);
      break;
    case TileKind::kChunk:
      if (fields->chunk.size() != kChunkKeySize)
        return corrupt("chunk tile record has a chunk key of " +
                       std::to_string(fields->chunk.size()) + " bytes, not 17");
      v.kind = TileKind::kChunk;
      std::memcpy(v.chunk.data(), fields->chunk.data(), kChunkKeySize);
      break;
    default:
      return corrupt("tile record kind " + std::to_string(static_cast<int>(fields->kind)) +
                     " is unknown");
  }
  return v;
}

namespace {

uint64_t geometry_check(const GeometryKey& key, uint64_t generation, bool empty, int64_t x,
                        int64_t y, int64_t width, int64_t height) {
  uint8_t bytes[kGeometryKeySize + 8 + 1 + 32];
  uint8_t* p = bytes;
  std::memcpy(p, key.data(), kGeometryKeySize);
  p += kGeometryKeySize;
  put_le64(p, generation);
  p[8] = empty ? 1 : 0;
  p += 9;
  for (int64_t v : {x, y, width, height}) {
    put_le64(p, uint64_t(v));
    p += 8;
  }
  return XXH3_64bits(bytes, sizeof bytes);
}

}  // namespace

std::vector<uint8_t> build_geometry_record(const GeometryKey& key, const GeometryValue& value) {
  const Region box = value.box.value_or(Region{});
  flatbuffers::FlatBufferBuilder fbb(96);
  const uint64_t check = geometry_check(key, value.generation, !value.box, box.x, box.y,
                                        box.width, box.height);
  return finish(fbb, fb::CreateGeometryRecord(fbb, value.generation, !value.box, box.x, box.y,
                                              box.width, box.height, check));
}

Result<GeometryValue> parse_geometry_record(const GeometryKey& key, const uint8_t* data, size_t size) {
  const fb::GeometryRecord* r = verified_root<fb::GeometryRecord>(data, size);
  if (!r)
    return corrupt("geometry record fails verification");
  if (geometry_check(key, r->generation(), r->empty(), r->x(), r->y(), r->width(), r->height()) !=
      r->check())
    return corrupt("geometry record checksum mismatch");
  GeometryValue value;
  value.generation = r->generation();
  if (r->empty()) return value;
  const Region box{r->x(), r->y(), r->width(), r->height()};
  if (!box.is_valid()) return corrupt("geometry record holds an invalid box " + to_string(box));
  value.box = box;
  return value;
}

std::vector<uint8_t> import_record_key(uint32_t image, uint32_t frame) {
  std::vector<uint8_t> key(kImportKeyPrefix.begin(), kImportKeyPrefix.end());
  key.resize(kImportKeyPrefixSize + 8);
  put_be32(key.data() + kImportKeyPrefixSize, image);
  put_be32(key.data() + kImportKeyPrefixSize + 4, frame);
  return key;
}

std::vector<uint8_t> build_import_record(const ImportProgress& p) {
  flatbuffers::FlatBufferBuilder fbb(256);
  const auto source = fbb.CreateString(p.source);
  const auto description = fbb.CreateString(p.description);
  return finish(fbb, fb::CreateImportRecord(fbb, source, p.source_size, p.source_mtime_ns, description,
                                            p.origin_x, p.origin_y, p.blocks_done, p.blocks_total,
                                            p.bytes_done, p.bytes_total));
}

Result<ImportProgress> parse_import_record(const uint8_t* data, size_t size) {
  const fb::ImportRecord* r = verified_root<fb::ImportRecord>(data, size);
  if (!r) return corrupt("import record fails verification");
  ImportProgress p;
  p.source = r->source() ? r->source()->str() : "";
  p.source_size = r->source_size();
  p.source_mtime_ns = r->source_mtime_ns();
  p.description = r->description() ? r->description()->str() : "";
  p.origin_x = r->origin_x();
  p.origin_y = r->origin_y();
  p.blocks_done = r->blocks_done();
  p.blocks_total = r->blocks_total();
  p.bytes_done = r->bytes_done();
  p.bytes_total = r->bytes_total();
  if (p.blocks_done > p.blocks_total || p.bytes_done > p.bytes_total)
    return corrupt("import record counts more done than there is");
  return p;
}

}  // namespace tessera::detail
