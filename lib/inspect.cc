// Inspection (tessera/inspect.h): View::list_tiles, View::dump_tile and View::dump_chunk, what
// `tessera ls` and `tessera dump` print. Every record is checked as a read checks it.
#include <cctype>
#include <charconv>
#include <mutex>

#include "format/chunk_codec.h"
#include "format/keys.h"
#include "raster/request.h"
#include "raster/tile_index.h"
#include "raster/tile_scan.h"
#include "store/chunk_pool.h"
#include "tessera/container.h"
#include "util/bytes.h"

namespace tessera {
namespace {

Status finished(const std::string& path) {
  return Status(Code::kInvalidArgument, path + ": the transaction has finished");
}

// The header and block table of a stored chunk value, checked as a read checks them before
// decoding (CHUNK_HEADER_VALID, the table's checksum and entries).
Result<ChunkSummary> summarize_chunk(const detail::Txn& txn, const detail::ChunkKey& key, MDB_val value) {
  const uint8_t* bytes = detail::bytes_of(value);
  const std::string where = txn.env().path() + ": chunk " + detail::chunk_key_hex(key);
  auto info = detail::parse_chunk_header(bytes, value.mv_size);
  if (!info) return info.status().with_context(where);
  auto blocks = detail::ChunkBlocks::read(bytes, *info);
  if (!blocks) return blocks.status().with_context(where);
  ChunkSummary s;
  s.key = detail::chunk_key_hex(key);
  s.version = info->version;
  s.codec = info->codec;
  s.filter = info->filter;
  s.sample_size = info->sample_size;
  s.raw_size = info->raw_size;
  s.stored_size = info->stored_size;
  s.blocks = info->blocks;
  if (info->version == detail::kChunkVersionWhole && info->filter == Filter::kDelta)
    s.delta_distance = info->delta_distance;
  s.checksum = info->checksum;
  s.value_bytes = value.mv_size;
  if (info->version == detail::kChunkVersionBlocked)
    for (uint32_t i = 0; i < info->blocks; ++i) {
      // The table follows the header (section 4.4.2): ChunkBlocks::read bounded it.
      const uint8_t* entry = bytes + detail::kChunkHeaderSize + i * detail::kBlockEntrySize;
      s.table.push_back({detail::get_le32(entry), detail::get_le64(entry + 4)});
    }
  auto refs = detail::ChunkPool(const_cast<detail::Txn&>(txn)).ref_count(key);
  if (!refs) return refs.status().with_context(where);
  s.references = *refs;
  return s;
}

Result<ChunkSummary> chunk_of(const detail::Txn& txn, const detail::ChunkKey& key) {
  auto value = detail::ChunkPool(const_cast<detail::Txn&>(txn)).get(key);
  if (!value) return value.status();
  return summarize_chunk(txn, key, *value);
}

// A record's kind as inspection names it: a macro block's uniform record is kMacroBlock.
TileKind kind_of(detail::TileKind kind, bool macro) {
  switch (kind) {
    case detail::TileKind::kUniform: return macro ? TileKind::kMacroBlock : TileKind::kUniform;
    case detail::TileKind::kChunk: return TileKind::kChunk;
    case detail::TileKind::kTombstone: break;
  }
  return TileKind::kTombstone;
}

TileRecordDump record_dump(const ImageInfo& image, uint32_t level, detail::TileCoord c,
                           const detail::TileVersion& v) {
  const uint8_t level_byte = v.macro ? detail::macro_level_byte(level) : detail::tile_level_byte(level);
  const detail::TileKeyBytes key = detail::encode_tile_key(detail::TileKey{image.id, level_byte, c, v.frame});
  TileRecordDump d;
  d.key = detail::hex_of(key.data(), key.size());
  d.frame = v.frame;
  d.macro = v.macro;
  d.kind = kind_of(v.value.kind, false);  // as stored: `macro` says whose record it is
  d.uniform = v.value.uniform;
  if (v.value.kind == detail::TileKind::kChunk) d.chunk = detail::chunk_key_hex(v.value.chunk);
  return d;
}

}  // namespace

std::string_view tile_kind_name(TileKind kind) {
  switch (kind) {
    case TileKind::kTombstone: return "tombstone";
    case TileKind::kUniform: return "uniform";
    case TileKind::kChunk: return "chunk";
    case TileKind::kMacroBlock: return "macro";
  }
  return "?";
}

Status View::list_tiles(std::string_view image, const TileListOptions& options,
                        const std::function<Status(const TileEntry&)>& visit) const {
  if (!txn_ || !txn_->active()) return finished(path());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  const ImageInfo& im = **info;
  const Selection sel{options.frame, options.level, {}};
  if (options.region) TESSERA_RETURN_IF_ERROR(check(image, *options.region, sel).status());
  std::lock_guard lock(txn_->lmdb_mutex());
  TESSERA_RETURN_IF_ERROR(detail::check_frame(path(), im, options.frame));
  TESSERA_RETURN_IF_ERROR(detail::check_level(*txn_, im, sel, Access::kRead));
  const detail::TileLayout t(im);
  std::optional<detail::TileRange> range;
  if (options.region) range = detail::tiles_of(t, *options.region);
  return detail::for_each_visible_tile(
      *txn_, im, options.level, options.frame,
      [&](detail::TileCoord c, const detail::TileVersion& v, size_t record_bytes) -> Status {
        if (range && !range->contains(c)) return Status::ok();
        TileEntry e;
        e.x = c.x;
        e.y = c.y;
        e.level = options.level;
        e.frame = v.frame;
        e.record_bytes = record_bytes;
        e.kind = kind_of(v.value.kind, v.macro);
        e.pixel = v.value.uniform;
        if (e.kind != TileKind::kTombstone) e.raw_bytes = t.tile_bytes();
        if (e.kind == TileKind::kChunk) {
          auto chunk = chunk_of(*txn_, v.value.chunk);
          if (!chunk) return chunk.status().with_context(detail::tile_context(im, c, v.frame));
          e.chunk = std::move(chunk).value();
        }
        return visit(e);
      },
      options.tombstones);
}

Result<TileDump> View::dump_tile(std::string_view image, uint32_t frame, uint32_t level, int64_t x,
                                 int64_t y) const {
  if (!txn_ || !txn_->active()) return finished(path());
  auto info = txn_->find_image(image);
  if (!info) return info.status();
  const ImageInfo& im = **info;
  std::lock_guard lock(txn_->lmdb_mutex());
  TESSERA_RETURN_IF_ERROR(detail::check_frame(path(), im, frame));
  TESSERA_RETURN_IF_ERROR(detail::check_level(*txn_, im, Selection{frame, level, {}}, Access::kRead));
  const detail::TileLayout t(im);
  const detail::TileCoord c{x, y};
  detail::TileLookup lookup(*txn_, im, level, frame);
  TESSERA_RETURN_IF_ERROR(lookup.status());
  auto own = lookup.own(c);
  if (!own) return own.status();
  auto block = lookup.macro(t.macro_of(c));
  if (!block) return block.status();
  TileDump d;
  d.image = im.name;
  d.frame = frame;
  d.level = level;
  d.x = x;
  d.y = y;
  if (*own) d.own = record_dump(im, level, c, **own);
  if (*block) d.block = record_dump(im, level, t.macro_of(c), **block);
  const std::optional<detail::TileVersion> shown = detail::shown_version(*own, *block);
  d.block_shown = shown && shown->macro;
  if (shown && shown->value.kind == detail::TileKind::kChunk) {
    auto chunk = chunk_of(*txn_, shown->value.chunk);
    if (!chunk) return chunk.status().with_context(detail::tile_context(im, c, shown->frame));
    d.chunk = std::move(chunk).value();
  }
  return d;
}

Result<ChunkSummary> View::dump_chunk(std::string_view key_hex, std::vector<uint8_t>* raw) const {
  if (!txn_ || !txn_->active()) return finished(path());
  detail::ChunkKey key{};
  bool hex = key_hex.size() == 2 * key.size();
  for (size_t i = 0; hex && i < key.size(); ++i) {
    const char* pair = key_hex.data() + 2 * i;
    hex = std::isxdigit(static_cast<unsigned char>(pair[0])) && std::isxdigit(static_cast<unsigned char>(pair[1])) &&
          std::from_chars(pair, pair + 2, key[i], 16).ptr == pair + 2;
  }
  if (!hex)
    return Status(Code::kInvalidArgument, path() + ": chunk key '" + std::string(key_hex) +
                                              "' is not " + std::to_string(2 * key.size()) + " hex digits");
  std::lock_guard lock(txn_->lmdb_mutex());
  auto value = txn_->get(env_->chunks, key);
  if (!value) return value.status();
  if (!*value) return Status(Code::kNotFound, path() + ": no chunk " + std::string(key_hex));
  auto summary = summarize_chunk(*txn_, key, **value);
  if (!summary) return summary;
  if (raw) {
    raw->resize(summary->raw_size);
    TESSERA_RETURN_IF_ERROR(detail::decode_chunk(detail::bytes_of(**value), (*value)->mv_size, raw->data(),
                                                 raw->size())
                                .with_context(path() + ": chunk " + summary->key));
  }
  return summary;
}

}  // namespace tessera
