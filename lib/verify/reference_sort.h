// Counting chunk references in bounded memory. The tile walk emits one (chunk key, layout)
// pair per tile record that references a chunk; they are sorted in batches of a fixed memory
// budget, batches beyond the first are spilled to unlinked temporary files as sorted runs,
// and next() merges the runs back in key order. The chunk check then walks `chunks`, `refs`
// and this stream together in key order, so no map over all chunks is ever held.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "format/keys.h"
#include "tessera/status.h"

namespace tessera::detail {

struct ChunkReference {
  ChunkKey key{};
  uint32_t layout = 0;  // which tile layout references it (for the deep uniformity check)
  auto operator<=>(const ChunkReference&) const = default;
};

class ReferenceSorter {
 public:
  explicit ReferenceSorter(size_t memory_bytes);
  ~ReferenceSorter();
  ReferenceSorter(const ReferenceSorter&) = delete;
  ReferenceSorter& operator=(const ReferenceSorter&) = delete;

  Status add(const ChunkReference& reference);
  // Ends the additions; next() then returns them all in order.
  Status finish();
  // The next reference in (key, layout) order; false at the end.
  Result<bool> next(ChunkReference* out);
  size_t runs() const { return runs_.size(); }

 private:
  struct Run {
    std::FILE* file = nullptr;
    std::vector<ChunkReference> buffer;
    size_t pos = 0;
  };
  Status spill();
  Status refill(Run& run);

  size_t capacity_;  // references per batch
  std::vector<ChunkReference> batch_;
  size_t batch_pos_ = 0;
  std::vector<Run> runs_;
  std::vector<size_t> heap_;  // indexes of runs with a current reference, min-heap by it
};

}  // namespace tessera::detail
