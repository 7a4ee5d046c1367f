// tessera/inspect.h — a look at every tile: what View::list_tiles reports for each tile a
// frame shows at a level, and what View::dump_tile and View::dump_chunk read of one record,
// field by field with the names spec/FORMAT.md gives them (sections 4.3 and 4.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tessera/types.h"

namespace tessera {

// Where a tile's content is, as a frame shows it: its own record (tombstone, uniform, chunk)
// or its collapsed macro block's (uniform).
enum class TileKind : uint8_t { kTombstone, kUniform, kChunk, kMacroBlock };
TESSERA_API std::string_view tile_kind_name(TileKind kind);  // "tombstone", "uniform", "chunk", "macro"

// A chunk's header (section 4.4.2) and its block table (version 2), and its reference count.
struct ChunkSummary {
  std::string key;            // 34 hex digits: XXH3-128 of the raw bytes and the collision index
  uint32_t version = 0;       // 1: one block; 2: a block per band plane behind a table
  Codec codec = Codec::kNone;
  Filter filter = Filter::kNone;
  uint32_t sample_size = 0;   // bytes per sample the filter works on
  uint64_t raw_size = 0;      // bytes decoded
  uint64_t stored_size = 0;   // payload bytes after the 24-byte header
  uint32_t blocks = 1;
  uint32_t delta_distance = 0;  // version 1 with the delta filter: samples back (the bands)
  uint64_t checksum = 0;
  struct Block {
    uint32_t stored = 0;      // bytes of the encoded block
    uint64_t sum = 0;         // its XXH3-64
  };
  std::vector<Block> table;   // version 2
  uint64_t value_bytes = 0;   // the whole value: header, payload and any pad byte
  uint64_t references = 0;    // tile records referring to it (refs)
};

// One tile a frame shows at a level.
struct TileEntry {
  int64_t x = 0, y = 0;       // tile coordinates at the level
  uint32_t level = 0;
  uint32_t frame = 0;         // the frame the shown version was written in
  TileKind kind = TileKind::kTombstone;
  std::vector<uint8_t> pixel; // uniform and macro block: the one pixel, as stored
  std::optional<ChunkSummary> chunk;  // kChunk
  uint64_t raw_bytes = 0;     // the tile's bytes decoded (tile bytes; 0 for a tombstone)
  uint64_t record_bytes = 0;  // key and value of the record (a macro block's with its first tile)
};

struct TileListOptions {
  uint32_t frame = 0;
  uint32_t level = 0;
  std::optional<Region> region;  // in the level's coordinates: the tiles it touches
  bool tombstones = true;        // also tiles whose shown version is a tombstone
};

// One tile's records (View::dump_tile): both key groups a read probes (section 5.1), the
// version each holds for the frame, and which one is shown.
struct TileRecordDump {
  std::string key;            // the 25-byte key found, hex
  uint32_t frame = 0;         // its frame (the complement of bytes 21..24)
  TileKind kind = TileKind::kTombstone;  // kind as stored (never kMacroBlock: `macro` says whose)
  std::vector<uint8_t> uniform;
  std::string chunk;          // the 17-byte chunk key, hex
  bool macro = false;         // the macro block's record
};
struct TileDump {
  std::string image;
  uint32_t frame = 0, level = 0;
  int64_t x = 0, y = 0;
  std::optional<TileRecordDump> own, block;  // the newest of each group at or before the frame
  bool block_shown = false;   // the block's record is the one shown
  std::optional<ChunkSummary> chunk;  // the shown version's chunk
};

}  // namespace tessera
