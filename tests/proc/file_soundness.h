// file_soundness.h — check_file_sound(path): the one place where the process tests decide
// that a container file left behind by a killed or failed writer is sound. Today it recounts
// from the raw LMDB databases (FORMAT.md section 6: every tile record parses and its chunk
// exists, every chunk decodes and has a refs entry equal to the number of tile records naming
// it, no refs entry without its chunk); tessera::verify(path, options) can take its place
// here once it exists, and every caller follows.
//
// The file must not be open in this process (raw LMDB access, see test_util.h).
#pragma once

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "format/chunk_codec.h"
#include "format/keys.h"
#include "format/records.h"
#include "test_util.h"

namespace tessera::test {

// "" when the file is sound, else what is wrong (the first few faults).
inline std::string check_file_sound(const std::string& path) {
  std::string error;
  std::vector<std::pair<std::string, std::string>> images, tiles, chunks, refs;
  if (!lmdb_entries(path, "images", &images, &error) ||
      !lmdb_entries(path, "tiles", &tiles, &error) ||
      !lmdb_entries(path, "chunks", &chunks, &error) || !lmdb_entries(path, "refs", &refs, &error))
    return error;
  std::vector<std::string> faults;
  auto fault = [&](const std::string& what) {
    if (faults.size() < 5) faults.push_back(what);
  };
  auto bytes = [](const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); };

  std::map<uint32_t, ImageInfo> image_by_id;
  for (const auto& [key, value] : images) {
    auto info = detail::parse_image_record(bytes(value), value.size());
    if (!info) fault("image record: " + info.status().to_string());
    else image_by_id[info->id] = *info;
  }

  std::map<std::string, uint64_t> counted;  // chunk key -> tile records naming it
  for (const auto& [key, value] : tiles) {
    if (key.size() != detail::kTileKeySize) {
      fault("tile key of " + std::to_string(key.size()) + " bytes");
      continue;
    }
    detail::TileKeyBytes key_bytes;
    std::memcpy(key_bytes.data(), key.data(), key_bytes.size());
    const detail::TileKey tile = detail::decode_tile_key(key_bytes.data());
    auto image = image_by_id.find(tile.image);
    if (image == image_by_id.end()) {
      fault("tile of unknown image " + std::to_string(tile.image));
      continue;
    }
    auto record = detail::parse_tile_record(key_bytes, bytes(value), value.size(),
                                            image->second.pixel_bytes());
    if (!record) fault("tile record: " + record.status().to_string());
    else if (record->kind == detail::TileKind::kChunk)
      ++counted[std::string(reinterpret_cast<const char*>(record->chunk.data()),
                            record->chunk.size())];
  }

  std::map<std::string, uint64_t> stored_refs;
  for (const auto& [key, value] : refs) {
    uint64_t n = 0;
    if (value.size() != 8) fault("refs value of " + std::to_string(value.size()) + " bytes");
    else std::memcpy(&n, value.data(), 8);
    stored_refs[key] = n;
  }
  std::map<std::string, bool> chunk_keys;
  for (const auto& [key, value] : chunks) {
    chunk_keys[key] = true;
    auto header = detail::parse_chunk_header(bytes(value), value.size());
    if (!header) {
      fault("chunk " + hex(bytes(key), key.size()) + ": " + header.status().to_string());
      continue;
    }
    std::vector<uint8_t> raw(header->raw_size);
    Status decoded = detail::decode_chunk(bytes(value), value.size(), raw.data(), raw.size());
    if (!decoded.is_ok()) fault("chunk " + hex(bytes(key), key.size()) + ": " + decoded.to_string());
    auto ref = stored_refs.find(key);
    const uint64_t expected = counted.count(key) ? counted[key] : 0;
    if (ref == stored_refs.end())
      fault("chunk " + hex(bytes(key), key.size()) + " has no refs entry");
    else if (ref->second != expected)
      fault("chunk " + hex(bytes(key), key.size()) + ": refs says " + std::to_string(ref->second) +
            ", " + std::to_string(expected) + " tile records name it");
  }
  for (const auto& [key, n] : stored_refs)
    if (!chunk_keys.count(key)) fault("refs entry " + hex(bytes(key), key.size()) + " without chunk");
  for (const auto& [key, n] : counted)
    if (!chunk_keys.count(key))
      fault(std::to_string(n) + " tile records name the missing chunk " + hex(bytes(key), key.size()));

  std::string out;
  for (const auto& f : faults) out += (out.empty() ? "" : "; ") + f;
  return out.empty() ? "" : path + ": " + out;
}

}  // namespace tessera::test
