#include "format/names.h"
#include "raster/geometry.h"

#include <algorithm>
#include <cstring>

#include "raster/tile_fetch.h"
#include "raster/tile_scan.h"
#include "util/bytes.h"

namespace tessera::detail {
namespace {

using Wide = __int128;

// A box from inclusive-exclusive ends, clipped to what a Region holds: x + width and width
// at most 2^63-1 (only data more than 2^63-1 pixels apart, or in the last pixel, loses a part).
Region box_of(Wide x0, Wide y0, Wide x1, Wide y1) {
  x1 = std::min<Wide>({x1, INT64_MAX, x0 + INT64_MAX});
  y1 = std::min<Wide>({y1, INT64_MAX, y0 + INT64_MAX});
  return Region{int64_t(x0), int64_t(y0), int64_t(x1 - x0), int64_t(y1 - y0)};
}

std::optional<Region> unite(const std::optional<Region>& a, const std::optional<Region>& b) {
  if (!a) return b;
  if (!b) return a;
  return a->unite(*b);
}

TileRange unite(const TileRange& a, const TileRange& b) {
  return {std::min(a.x0, b.x0), std::min(a.y0, b.y0), std::max(a.x1, b.x1), std::max(a.y1, b.y1)};
}
void grow(std::optional<TileRange>& range, TileCoord t) {
  range = range ? unite(*range, TileRange{t.x, t.y, t.x, t.y}) : TileRange{t.x, t.y, t.x, t.y};
}

Region pixels_of(const TileLayout& t, const TileRange& r) {
  return box_of(Wide(r.x0) << t.shift, Wide(r.y0) << t.shift, (Wide(r.x1) + 1) << t.shift,
                (Wide(r.y1) + 1) << t.shift);
}

// The macro blocks a tile range touches, as tiles.
TileRange macro_hull(const TileLayout& t, const TileRange& r) {
  const TileRange a = t.tiles_of_macro(t.macro_of({r.x0, r.y0}));
  const TileRange b = t.tiles_of_macro(t.macro_of({r.x1, r.y1}));
  return {a.x0, a.y0, b.x1, b.y1};
}

// Whether `inner` lies in `outer` without touching its edge rows and columns.
bool strictly_inside(const TileRange& inner, const TileRange& outer) {
  return inner.x0 > outer.x0 && inner.x1 < outer.x1 && inner.y0 > outer.y0 && inner.y1 < outer.y1;
}

Result<std::optional<GeometryValue>> get_cached(const Txn& txn, const ImageInfo& image,
                                                uint32_t frame, Precision precision) {
  if (!txn.env().has_geometry) return std::optional<GeometryValue>();
  const GeometryKey key = encode_geometry_key(image.id, frame, uint8_t(precision));
  auto value = txn.get(txn.env().geometry, key);
  if (!value) return value.status();
  if (!*value) return std::optional<GeometryValue>();
  auto parsed = parse_geometry_record(key, bytes_of(**value), (*value)->mv_size);
  if (!parsed)
    return parsed.status().with_context(txn.env().path() + ": image '" + image.name + "' frame " +
                                        std::to_string(frame) + " " +
                                        std::string(precision_name(precision)) + " geometry");
  return std::optional<GeometryValue>(*parsed);
}

Status put_cached(Txn& txn, const ImageInfo& image, uint32_t frame, Precision precision,
                  const GeometryValue& value) {
  const GeometryKey key = encode_geometry_key(image.id, frame, uint8_t(precision));
  return txn.put(txn.env().geometry, key, build_geometry_record(key, value));
}

constexpr Precision kAll[] = {Precision::kOperative, Precision::kRoot, Precision::kLeaf,
                              Precision::kExact};

// The next generation number: one counter for the whole file, so a number never names two
// different states of any frame.
Result<uint64_t> next_generation(Txn& txn) {
  const std::string_view name = kGenerationKey;
  const std::span<const uint8_t> key(reinterpret_cast<const uint8_t*>(name.data()), name.size());
  auto value = txn.get(txn.env().meta, key);
  if (!value) return value.status();
  uint64_t generation = 0;
  if (*value) {
    if ((*value)->mv_size != 8)
      return txn.env().error(Code::kCorrupt, "meta 'generation' is " +
                                                 std::to_string((*value)->mv_size) + " bytes, not 8");
    generation = get_le64(bytes_of(**value));
  }
  uint8_t bytes[8];
  put_le64(bytes, ++generation);
  TESSERA_RETURN_IF_ERROR(txn.put(txn.env().meta, key, bytes));
  return generation;
}

// The tiles a frame shows, as one box (records only, nothing decoded).
Result<std::optional<TileRange>> scan_leaf(const Txn& txn, const ImageInfo& image, uint32_t frame) {
  std::optional<TileRange> leaf;
  Status s = for_each_visible_tile(txn, image, kFullResolution, frame, [&](TileCoord c, const TileVersion&, size_t) {
    grow(leaf, c);
    return Status::ok();
  });
  if (!s.is_ok()) return s;
  return leaf;
}

// The box of the pixels of a tile buffer that differ from the fill tile, in tile coordinates:
// rows by whole-line comparisons, then columns scanned inwards from each side.
std::optional<Region> non_fill_extent(const TileLayout& t, const uint8_t* tile,
                                      const uint8_t* fill_tile) {
  const int64_t T = t.tile_size;
  const size_t line = size_t(t.line_stride());
  auto row_differs = [&](int64_t y) {
    for (uint32_t b = 0; b < (t.storage == StorageLayout::kChunky ? 1u : t.bands); ++b) {
      const size_t at = t.band_offset(b) + size_t(y) * line;
      if (std::memcmp(tile + at, fill_tile + at, line) != 0) return true;
    }
    return false;
  };
  auto pixel_differs = [&](int64_t x, int64_t y) {
    for (uint32_t b = 0; b < t.bands; ++b) {
      const size_t at = t.sample_offset(x, y, b);
      if (std::memcmp(tile + at, fill_tile + at, t.sample) != 0) return true;
    }
    return false;
  };
  int64_t y0 = 0, y1 = T - 1;
  while (y0 < T && !row_differs(y0)) ++y0;
  if (y0 == T) return std::nullopt;
  while (!row_differs(y1)) --y1;
  auto column_differs = [&](int64_t x) {
    for (int64_t y = y0; y <= y1; ++y)
      if (pixel_differs(x, y)) return true;
    return false;
  };
  int64_t x0 = 0, x1 = T - 1;
  while (!column_differs(x0)) ++x0;
  while (!column_differs(x1)) --x1;
  return Region{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

// Builds the exact box from tiles offered one at a time. With `edges` set, only tiles on the
// edge of that leaf box can move a side (every stored tile holds a non-fill pixel, so the
// extreme tile columns and rows bound the data), and a tile is decoded only if it still could.
class ExactBox {
 public:
  ExactBox(const Txn& txn, Runtime& runtime, const ImageInfo& image, std::optional<TileRange> edges)
      : fetcher_(txn, runtime, image), image_(image), t_(image), edges_(edges), buffer_(t_.tile_bytes()),
        fill_tile_(t_.tile_bytes()) {
    fill_tile_with(t_, image.fill_pixel.data(), fill_tile_.data());
  }

  Status offer(TileCoord c, const TileVersion& version) {
    const Wide T = t_.tile_size, ox = Wide(c.x) * T, oy = Wide(c.y) * T;
    if (edges_) {
      const TileRange& e = *edges_;
      const bool can_move = (c.x == e.x0 && x0_ > ox) || (c.x == e.x1 && x1_ < ox + T) ||
                            (c.y == e.y0 && y0_ > oy) || (c.y == e.y1 && y1_ < oy + T);
      if (!can_move) return Status::ok();
    }
    std::optional<Region> local = Region{0, 0, int64_t(T), int64_t(T)};
    if (version.value.kind == TileKind::kChunk) {
      TESSERA_RETURN_IF_ERROR(fetcher_.locate(c, version, false, located_));
      TESSERA_RETURN_IF_ERROR(fetcher_.decode_into(located_, buffer_.data()));
      local = non_fill_extent(t_, buffer_.data(), fill_tile_.data());
    } else if (version.value.kind != TileKind::kUniform || version.value.uniform == image_.fill_pixel) {
      local.reset();
    }
    if (!local) return Status::ok();
    const bool all = !edges_;
    if (all || c.x == edges_->x0) x0_ = std::min(x0_, ox + local->x);
    if (all || c.x == edges_->x1) x1_ = std::max(x1_, ox + local->x_end());
    if (all || c.y == edges_->y0) y0_ = std::min(y0_, oy + local->y);
    if (all || c.y == edges_->y1) y1_ = std::max(y1_, oy + local->y_end());
    return Status::ok();
  }

  std::optional<Region> box() const {
    if (x1_ <= x0_ || y1_ <= y0_) return std::nullopt;
    return box_of(x0_, y0_, x1_, y1_);
  }

 private:
  TileFetcher fetcher_;
  LocatedTile located_;
  const ImageInfo& image_;
  TileLayout t_;
  std::optional<TileRange> edges_;
  AlignedBuffer buffer_, fill_tile_;
  // Pixel ends, exclusive; 128-bit because the last tile of the space ends at 2^63.
  Wide x0_ = Wide(INT64_MAX) + 1, y0_ = Wide(INT64_MAX) + 1, x1_ = Wide(INT64_MIN) - 1,
       y1_ = Wide(INT64_MIN) - 1;
};

// The exact box from the tiles on the edge of the leaf box: looked up one by one when the
// edge is short compared with the tile index, else found by one scan of the index.
Result<std::optional<Region>> exact_from_leaf(const Txn& txn, Runtime& runtime, const ImageInfo& image,
                                              uint32_t frame, const TileRange& leaf) {
  ExactBox exact(txn, runtime, image, leaf);
  const Wide w = Wide(leaf.x1) - leaf.x0 + 1, h = Wide(leaf.y1) - leaf.y0 + 1;
  const Wide perimeter = (w == 1 || h == 1) ? w * h : 2 * (w + h) - 4;
  MDB_stat stat{};
  mdb_stat(txn.handle(), txn.env().tiles, &stat);
  if (perimeter > 4096 && perimeter * 16 > Wide(stat.ms_entries)) {
    Status s = for_each_visible_tile(txn, image, kFullResolution, frame, [&](TileCoord c, const TileVersion& v, size_t) {
      return leaf.contains(c) && (c.x == leaf.x0 || c.x == leaf.x1 || c.y == leaf.y0 || c.y == leaf.y1)
                 ? exact.offer(c, v)
                 : Status::ok();
    });
    if (!s.is_ok()) return s;
    return exact.box();
  }
  TileLookup lookup(txn, image, kFullResolution, frame);
  TESSERA_RETURN_IF_ERROR(lookup.status());
  auto visit = [&](int64_t x, int64_t y) -> Status {
    auto version = lookup.find({x, y});
    if (!version) return version.status();
    if (!*version || (*version)->value.kind == TileKind::kTombstone) return Status::ok();
    return exact.offer({x, y}, **version);
  };
  for (int64_t x = leaf.x0;; ++x) {
    TESSERA_RETURN_IF_ERROR(visit(x, leaf.y0));
    if (leaf.y1 != leaf.y0) TESSERA_RETURN_IF_ERROR(visit(x, leaf.y1));
    if (x == leaf.x1) break;
  }
  for (int64_t y = leaf.y0 + 1; y < leaf.y1; ++y) {
    TESSERA_RETURN_IF_ERROR(visit(leaf.x0, y));
    if (leaf.x1 != leaf.x0) TESSERA_RETURN_IF_ERROR(visit(leaf.x1, y));
  }
  return exact.box();
}

}  // namespace

void FrameChanges::note(TileCoord tile, const Region& part, bool had_data, bool has_data) {
  grow(changed, tile);
  if (has_data) written = unite(written, part);
  if (has_data && !had_data) grow(appeared, tile);
  if (had_data && !has_data) grow(vanished, tile);
}

Status init_geometry(Txn& txn, const ImageInfo& image, uint32_t frame) {
  auto generation = next_generation(txn);
  if (!generation) return generation.status();
  for (Precision p : kAll) TESSERA_RETURN_IF_ERROR(put_cached(txn, image, frame, p, {*generation, {}}));
  return Status::ok();
}

Status copy_geometry(Txn& txn, const ImageInfo& image, uint32_t from, uint32_t to) {
  for (Precision p : kAll) {
    auto value = get_cached(txn, image, from, p);
    if (!value) return value.status();
    if (*value) TESSERA_RETURN_IF_ERROR(put_cached(txn, image, to, p, **value));
  }
  return Status::ok();
}

Status update_geometry(Txn& txn, const ImageInfo& image, uint32_t frame, const FrameChanges& changes) {
  if (!changes.changed) return Status::ok();
  auto state = get_cached(txn, image, frame, Precision::kOperative);
  if (!state) return state.status();
  // No operative record: a frame written before format 1.1; its caches are computed on demand.
  if (!*state) return Status::ok();
  const uint64_t before = (*state)->generation;
  auto generation = next_generation(txn);
  if (!generation) return generation.status();
  TESSERA_RETURN_IF_ERROR(put_cached(txn, image, frame, Precision::kOperative,
                                     {*generation, unite((*state)->box, changes.written)}));

  const TileLayout t(image);
  auto leaf = get_cached(txn, image, frame, Precision::kLeaf);
  if (!leaf) return leaf.status();
  if (!*leaf || (*leaf)->generation != before) return Status::ok();  // stale already
  const std::optional<TileRange> old_tiles =
      (*leaf)->box ? std::optional<TileRange>(tiles_of(t, *(*leaf)->box)) : std::nullopt;
  // Tiles removed on the edge of the leaf box may shrink it: leave it stale.
  if (changes.vanished && !(old_tiles && strictly_inside(*changes.vanished, *old_tiles)))
    return Status::ok();
  std::optional<TileRange> new_tiles = old_tiles;
  if (changes.appeared) new_tiles = new_tiles ? unite(*new_tiles, *changes.appeared) : *changes.appeared;
  const std::optional<Region> new_leaf =
      new_tiles ? std::optional<Region>(pixels_of(t, *new_tiles)) : std::nullopt;
  TESSERA_RETURN_IF_ERROR(put_cached(txn, image, frame, Precision::kLeaf, {*generation, new_leaf}));
  const std::optional<Region> root =
      new_tiles ? std::optional<Region>(pixels_of(t, macro_hull(t, *new_tiles))) : std::nullopt;
  TESSERA_RETURN_IF_ERROR(put_cached(txn, image, frame, Precision::kRoot, {*generation, root}));

  // The exact box depends only on the tiles of the leaf box's edge: unchanged while the leaf
  // box is and no edge tile changed.
  auto exact = get_cached(txn, image, frame, Precision::kExact);
  if (!exact) return exact.status();
  if (*exact && (*exact)->generation == before && new_tiles == old_tiles && old_tiles &&
      strictly_inside(*changes.changed, *old_tiles))
    TESSERA_RETURN_IF_ERROR(
        put_cached(txn, image, frame, Precision::kExact, {*generation, (*exact)->box}));
  return Status::ok();
}

Status drop_geometry(Txn& txn, const ImageInfo& image, uint32_t dropped) {
  if (!txn.env().has_geometry) return Status::ok();
  for (Precision p : kAll)
    TESSERA_RETURN_IF_ERROR(txn.del(txn.env().geometry,
                                    encode_geometry_key(image.id, dropped, uint8_t(p))));
  for (uint32_t frame = dropped + 1; frame < image.frames; ++frame)
    for (Precision p : kAll) {
      auto value = get_cached(txn, image, frame, p);
      if (!value) return value.status();
      if (!*value) continue;
      TESSERA_RETURN_IF_ERROR(txn.del(txn.env().geometry, encode_geometry_key(image.id, frame, uint8_t(p))));
      TESSERA_RETURN_IF_ERROR(put_cached(txn, image, frame - 1, p, **value));
    }
  return Status::ok();
}

Result<std::optional<Region>> frame_geometry(Txn& txn, Runtime& runtime, const ImageInfo& image,
                                             uint32_t frame, Precision precision) {
  auto state = get_cached(txn, image, frame, Precision::kOperative);
  if (!state) return state.status();
  if (*state && precision == Precision::kOperative) return (*state)->box;
  auto fresh = [&](Precision p) -> Result<std::optional<GeometryValue>> {
    if (!*state) return std::optional<GeometryValue>();
    auto cached = get_cached(txn, image, frame, p);
    if (!cached || !*cached || (*cached)->generation == (*state)->generation) return cached;
    return std::optional<GeometryValue>();
  };
  if (precision != Precision::kOperative) {
    auto cached = fresh(precision);
    if (!cached) return cached.status();
    if (*cached) return (*cached)->box;
  }

  // Recompute from the leaf box (cached, or scanned from the tile index).
  const TileLayout t(image);
  std::optional<TileRange> leaf;
  auto cached_leaf = fresh(Precision::kLeaf);
  if (!cached_leaf) return cached_leaf.status();
  if (*cached_leaf) {
    if ((*cached_leaf)->box) leaf = tiles_of(t, *(*cached_leaf)->box);
  } else {
    auto scanned = scan_leaf(txn, image, frame);
    if (!scanned) return scanned.status();
    leaf = *scanned;
  }
  const std::optional<Region> leaf_box = leaf ? std::optional<Region>(pixels_of(t, *leaf)) : std::nullopt;
  std::optional<Region> result = leaf_box;
  if (precision == Precision::kRoot && leaf) result = pixels_of(t, macro_hull(t, *leaf));
  if (precision == Precision::kExact && leaf) {
    auto exact = exact_from_leaf(txn, runtime, image, frame, *leaf);
    if (!exact) return exact.status();
    result = *exact;
  }
  // Remember it when this transaction may write; a failure to store only loses the cache
  // (the nested transaction keeps the caller's transaction usable).
  if (txn.writable() && *state && precision != Precision::kOperative) {
    const uint64_t generation = (*state)->generation;
    (void)txn.nested([&]() -> Status {
      if (!*cached_leaf)
        TESSERA_RETURN_IF_ERROR(put_cached(txn, image, frame, Precision::kLeaf, {generation, leaf_box}));
      if (precision != Precision::kLeaf)
        TESSERA_RETURN_IF_ERROR(put_cached(txn, image, frame, precision, {generation, result}));
      return Status::ok();
    });
  }
  return result;
}

Result<std::optional<Region>> exact_geometry_by_full_scan(const Txn& txn, Runtime& runtime,
                                                          const ImageInfo& image, uint32_t frame) {
  ExactBox exact(txn, runtime, image, std::nullopt);
  Status s = for_each_visible_tile(txn, image, kFullResolution, frame, [&](TileCoord c, const TileVersion& v, size_t) {
    return exact.offer(c, v);
  });
  if (!s.is_ok()) return s;
  return exact.box();
}

}  // namespace tessera::detail
