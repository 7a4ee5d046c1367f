// The structural walk of an LMDB file (liblmdb 0.9, data version 1, the 64-bit little-endian
// layout) read with pread, made before liblmdb is allowed near the file: liblmdb trusts every
// page it maps, so a damaged page can make it crash. Reports LMDB_SIGNATURE, LMDB_META_VALID
// and LMDB_PAGE_VALID faults (spec/FORMAT.md sections 6 and 7.1).
//
// Memory: one bit per page of the file (the pages already reached) and one page buffer per
// tree level. It never maps the file and never follows a page number it has not range-checked.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "store/faults.h"

namespace tessera::detail {

struct LmdbWalk {
  bool sound = false;       // no fault: liblmdb may open the file
  uint64_t tree_pages = 0;  // pages reachable from the chosen meta page, the two meta pages included
  uint64_t free_pages = 0;  // pages listed in the free list
};

// The two meta pages alone, what liblmdb reads (and divides by) before anything else: the
// signature, the page size, both pages' magic and version, the chosen page's last_pg within
// the file and its roots within last_pg. True when sound.
bool check_lmdb_metas(int fd, FaultSink& sink);

// Whether every page from the end of the file (open for reading at `fd`) up to the chosen meta
// page's last_pg is on the free list, read with pread. liblmdb does not write the pages a
// commit took and gave back, so a sound file can end before last_pg; such pages are never
// read.
bool pages_past_end_are_free(int fd);

// Walks the file open for reading at `fd`. With `overflow_headers` off, a value on overflow
// pages is checked from its node alone (its pages lie within last_pg and no other page claims
// them) and the runs' headers are not read: what a reader needs, since liblmdb reads a value
// by its node; a writer also needs the headers (it frees a run by the count in its header).
// One pread per value on overflow pages is most of the walk's time on a large file.
//
// `entry_checks` are run on every entry of the named database each names, once its page
// passed (a value on overflow pages is read for it, up to max_value_bytes): a message one
// returns is a fault.
struct EntryCheck {
  std::string_view database, invariant;
  uint64_t max_value_bytes = 0;
  std::function<std::string(std::span<const uint8_t> key, std::span<const uint8_t> value)> check;
};
LmdbWalk walk_lmdb_file(int fd, FaultSink& sink, bool overflow_headers = true,
                        std::span<const EntryCheck> entry_checks = {});

}  // namespace tessera::detail
