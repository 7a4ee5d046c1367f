// Every name and constant of the file that is not a record layout (spec/FORMAT.md sections 1,
// 4 and 7), defined once for the library and the verifier.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::detail {

// The named LMDB databases (section 1). geometry exists from format 1.1 on, attributes from 2.1,
// ref_checks from 2.3 and 3.1.
inline constexpr const char* kMetaDb = "meta";
inline constexpr const char* kImagesDb = "images";
inline constexpr const char* kTilesDb = "tiles";
inline constexpr const char* kChunksDb = "chunks";
inline constexpr const char* kRefsDb = "refs";
inline constexpr const char* kGeometryDb = "geometry";
inline constexpr const char* kAttributesDb = "attributes";  // from format 2.1 on
inline constexpr const char* kRefChecksDb = "ref_checks";  // from format 2.3 and 3.1 on

// Keys of `meta` (section 4.1); import and pyramid records are PREFIX | image | frame.
inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kGenerationKey = "generation";
inline constexpr std::string_view kImportKeyPrefix = "import/";
inline constexpr std::string_view kPyramidKeyPrefix = "pyramid/";  // from format 2.2 on
inline constexpr std::string_view kMappedKeyPrefix = "mapped/";    // PREFIX | name, from format 2.4 and 3.2 on

// The lock file beside the data file (section 7.4).
inline constexpr std::string_view kLockSuffix = "-lock";
inline std::string lock_path_of(const std::string& path) { return path + std::string(kLockSuffix); }

// LMDB's meta page: its magic, after the page header (section 1).
inline constexpr uint32_t kLmdbMagic = 0xBEEFC0DE;
inline constexpr size_t kLmdbPageHeader = 16;

// Image names are 1 to this many bytes of UTF-8 (section 4.2).
inline constexpr size_t kMaxImageNameBytes = 255;

// The byte of the data file whose lock is the Tessera write lock (section 7.5): far past any
// real file size, so that no tool mistakes it for data.
inline constexpr int64_t kWriterLockByte = int64_t(1) << 62;

}  // namespace tessera::detail
