// The FlatBuffers records of format v1 (format/tessera.fbs): building them, and reading them
// back only after the Verifier has accepted a copy in aligned memory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "format/names.h"
#include "format/keys.h"
#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera::detail {

// The newest version this build writes (spec/FORMAT.md section 3). It reads every version
// from 1.0 on: major 2 added version 2 chunks, which a 1.x reader would refuse as corrupt;
// 2.1 added the attributes database, 2.2 pyramid levels and their records, 2.3 the checksums
// of image records and counts, 2.4 mapped images; major 3 the delta filter, which a 2.x reader
// would refuse (3.1 and 3.2 are 2.3 and 2.4 with it).
constexpr uint16_t kFormatMajor = 3;
constexpr uint16_t kFormatMinor = 2;
constexpr FormatVersion kFormatVersion{kFormatMajor, kFormatMinor};
// The newest 2.x this build writes: a file with mapped images but no delta filter.
constexpr FormatVersion kNewest2xVersion{2, 4};
// What new files are, and what an older 2.x file becomes when opened for writing: a file stays
// 2.3, readable by every 2.x reader, until a transaction stores what only a newer version holds
// (Txn::require_format): a mapped image makes it 2.4 (3.2), a chunk or an image with the delta
// filter 3.1 (3.2 from 2.4). A 3.0 file opened for writing becomes 3.1.
constexpr FormatVersion kBaseFormatVersion{2, 3};
constexpr uint16_t kOldestFormatMajor = 1;
// True when this build reads files of that version's major (any minor).
constexpr bool format_is_known(FormatVersion v) {
  return v.major >= kOldestFormatMajor && v.major <= kFormatMajor;
}
// True when this build may write a file of that version (an older one after upgrading it):
// not a minor newer than it writes of the file's major.
constexpr bool format_is_writable(FormatVersion v) {
  return v.major == kFormatMajor ? v <= kFormatVersion : v <= kNewest2xVersion;
}
// What a file of version `v` becomes when it first stores the delta filter: 3.1, or 3.2 when
// it holds mapped images (2.4); a 3.x file stays what it is.
constexpr FormatVersion delta_version_of(FormatVersion v) {
  return v.major == kFormatMajor ? v : v >= kNewest2xVersion ? kFormatVersion : FormatVersion{3, 1};
}
// What a file of version `v` becomes when it first stores a mapped image: 2.4, or 3.2.
constexpr FormatVersion mapped_version_of(FormatVersion v) {
  return v.major == kFormatMajor ? kFormatVersion : kNewest2xVersion;
}
// True when a file of version `v` may hold chunks and images of `filter`: delta from 3.0 on.
constexpr bool format_holds_filter(FormatVersion v, Filter filter) {
  return filter != Filter::kDelta || v >= FormatVersion{3, 0};
}
// True when a file of version `v` may hold mapped image records: 2.4 and 3.2 on.
constexpr bool format_holds_mapped(FormatVersion v) {
  return v >= kFormatVersion || (v.major == 2 && v >= kNewest2xVersion);
}
// What an older file becomes when opened for writing: 2.3 (a 3.0 file 3.1), so that its image
// records and counts carry their checksums; a newer one it can write stays as it is.
constexpr FormatVersion writable_version_of(FormatVersion v) {
  const FormatVersion floor = v.major == kFormatMajor ? FormatVersion{3, 1} : kBaseFormatVersion;
  return v < floor ? floor : v;
}
// True when every image record and reference count of a file of version `v` carries its
// checksum (the count's in `ref_checks`): 2.3 and 3.1 on.
constexpr bool format_checks_images_and_counts(FormatVersion v) {
  return v >= FormatVersion{3, 1} || (v.major == 2 && v >= FormatVersion{2, 3});
}
constexpr const char* kFormatMagic = "tessera";
constexpr uint32_t kMaxBands = 1024;
constexpr uint64_t kMaxTileBytes = uint64_t(1) << 28;

struct FormatHeader {
  std::string magic = kFormatMagic;
  uint16_t major = kBaseFormatVersion.major, minor = kBaseFormatVersion.minor;
  std::string creator;
  uint64_t created_unix = 0;
  FormatVersion version() const { return {major, minor}; }
};
std::vector<uint8_t> build_format_header(const FormatHeader& header);
// kCorrupt when the bytes are not a valid header or the magic is wrong.
Result<FormatHeader> parse_format_header(const uint8_t* data, size_t size);
// The header's fields after the Verifier alone (kCorrupt when it fails); the magic is not
// checked, so that verify can tell a broken record from a wrong magic.
Result<FormatHeader> read_format_header(const uint8_t* data, size_t size);

// Checks an ImageSpec for creation; the message names the bad field and value.
Status validate_image_spec(const ImageSpec& spec);
// The fill value as one pixel of raw little-endian samples. kInvalidArgument when a value
// cannot be represented exactly in the sample type.
Result<std::vector<uint8_t>> fill_pixel(const ImageSpec& spec);
// The values of one pixel of `type` (pixel.size() / sample size samples), as doubles.
std::vector<double> pixel_values(DataType type, std::span<const uint8_t> pixel);

std::vector<uint8_t> build_image_record(const ImageInfo& info);
// With `check_required` (format_checks_images_and_counts), a record without its checksum is corrupt; a
// checksum that is there is always checked.
Result<ImageInfo> parse_image_record(const uint8_t* data, size_t size, bool check_required);

enum class TileKind : uint8_t { kTombstone = 0, kUniform = 1, kChunk = 2 };
struct TileValue {
  TileKind kind = TileKind::kTombstone;
  std::vector<uint8_t> uniform;  // kUniform: one pixel
  ChunkKey chunk{};              // kChunk
  bool operator==(const TileValue&) const = default;
};
// A tile record carries a checksum over its content and the key it is stored under, so a
// damaged pixel value or a record under the wrong key is caught on read.
std::vector<uint8_t> build_tile_record(const TileKeyBytes& key, const TileValue& value);
// pixel_bytes: the size a uniform pixel of this image must have.
Result<TileValue> parse_tile_record(const TileKeyBytes& key, const uint8_t* data, size_t size,
                                    size_t pixel_bytes);

// The check of a chunk's reference count in `ref_checks` (spec/FORMAT.md 4.5, 2.3 and 3.1):
// XXH3_64bits of the 17-byte chunk key followed by the count, u64 LE.
uint64_t ref_count_check(const ChunkKey& key, uint64_t count);

// meta key of the import record of one frame of one image: "import/" | id u32 BE | frame u32 BE.
std::vector<uint8_t> import_record_key(uint32_t image, uint32_t frame);
constexpr size_t kImportKeyPrefixSize = kImportKeyPrefix.size();
std::vector<uint8_t> build_import_record(const ImportProgress& progress);
Result<ImportProgress> parse_import_record(const uint8_t* data, size_t size);

// A cached bounding box and the generation of its frame it was computed at.
struct GeometryValue {
  uint64_t generation = 0;
  std::optional<Region> box;  // nullopt: the frame holds no data
  bool operator==(const GeometryValue&) const = default;
};
std::vector<uint8_t> build_geometry_record(const GeometryKey& key, const GeometryValue& value);
Result<GeometryValue> parse_geometry_record(const GeometryKey& key, const uint8_t* data, size_t size);

// A tile record's fields as stored, after the Verifier alone: parse_tile_record's first step,
// exposed so that verify can name which rule a record breaks. Absent vectors are empty.
struct TileRecordFields {
  uint8_t kind = 0;  // as stored: may be an unknown value
  std::vector<uint8_t> uniform, chunk;
  uint64_t check = 0;
};
// kCorrupt when the bytes fail the FlatBuffers Verifier.
Result<TileRecordFields> read_tile_record(const uint8_t* data, size_t size);
// The checksum chain of spec/FORMAT.md section 4.3.2 over the key and the fields.
uint64_t tile_record_check(const TileKeyBytes& key, const TileRecordFields& fields);

}  // namespace tessera::detail
