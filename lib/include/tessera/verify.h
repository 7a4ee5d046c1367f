// tessera/verify.h — checking a container file against spec/FORMAT.md.
//
// verify() examines a file without trusting it: first LMDB's own page structure, read with
// pread (liblmdb has no page checksums and can crash on a damaged page), then, only when that
// structure is sound, every record through liblmdb opened read-only. Each fault is reported by
// the name of the invariant it breaks (spec/FORMAT.md section 6) with the image, frame, tile
// and chunk at fault. Memory stays bounded whatever the file's size: a bitmap of one bit per
// page, one page buffer per tree level, the image table, one decoded tile (--deep) and a
// fixed budget for counting references (spilled to temporary files beyond it).
//
// verify does not lock out writers: run it on a file no process is writing, or expect a
// concurrent commit to show up as LMDB_PAGE_VALID faults.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/export.h"
#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera {

struct VerifyOptions {
  // Also decode every chunk and check its content hash (and that its tile is not uniform).
  bool deep = false;
  // Faults kept in the report; further ones are only counted (VerifyReport::faults_omitted).
  size_t max_faults = 1000;
  // Memory for sorting chunk references before they are counted; beyond it sorted runs go to
  // temporary files (in TMPDIR) and are merged.
  size_t sort_memory_bytes = size_t(64) << 20;
  // Called with the records checked so far and the file's records in all, on the thread that
  // called verify(), every few thousand records and once at the end (not during the page walk
  // that comes first, which reads only LMDB's tree pages).
  Progress progress;
};

// One broken invariant and where.
struct Fault {
  std::string invariant;  // a name from spec/FORMAT.md section 6, e.g. "CHUNK_CHECKSUM"
  std::string message;    // what is wrong, naming the image, frame, tile, chunk or page
  std::optional<std::string> image;                  // image name (or "#id" when unknown)
  std::optional<uint32_t> frame;
  std::optional<std::pair<int64_t, int64_t>> tile;   // tile (or macro block) coordinate
  std::optional<std::string> chunk_hex;              // 34 hex digits
};

struct VerifyReport {
  std::vector<Fault> faults;
  uint64_t faults_omitted = 0;  // faults beyond max_faults, counted but not kept
  uint64_t images = 0;          // records in `images`
  uint64_t tile_records = 0;    // records in `tiles`, macro-block records included
  uint64_t macro_records = 0;   // of which macro-block records (level byte 0x80 | level)
  uint64_t geometry_records = 0;  // cached bounding boxes
  uint64_t attribute_records = 0; // attributes of images and frames
  uint64_t pyramid_records = 0;   // frames' pyramid records
  uint64_t mapped_images = 0;     // mapped image records
  uint64_t level_tiles_checked = 0;  // --deep: level tiles compared with the reduction of the level below
  uint64_t chunks = 0;          // records in `chunks`
  uint64_t references = 0;      // tile records that reference a chunk
  uint64_t pages = 0;           // LMDB pages reachable from the meta page (meta pages included)
  // What is not damage but a reader should know: each import that did not finish (its frame
  // holds only the blocks that arrived), with the command that completes it.
  std::vector<std::string> notices;
  bool clean() const { return faults.empty() && faults_omitted == 0; }
};

// Checks the file at `path`. An error only when it cannot be examined at all (missing,
// unreadable, no space for temporary files); damage is reported as faults.
TESSERA_API Result<VerifyReport> verify(const std::string& path, const VerifyOptions& options = {});

}  // namespace tessera
