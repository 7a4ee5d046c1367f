#include "store/chunk_pool.h"

#include <cstring>

#include "util/bytes.h"

namespace tessera::detail {

Result<MDB_val> ChunkPool::get(const ChunkKey& key) const {
  auto value = txn_.get(txn_.env().chunks, key);
  if (!value) return value.status();
  if (!*value)
    return txn_.env().error(Code::kCorrupt, "chunk " + chunk_key_hex(key) + " is missing");
  return **value;
}

Result<uint64_t> ChunkPool::ref_count(const ChunkKey& key) const {
  auto value = txn_.get(txn_.env().refs, key);
  if (!value) return value.status();
  if (!*value) return uint64_t(0);
  if ((*value)->mv_size != 8)
    return txn_.env().error(Code::kCorrupt, "reference count of chunk " + chunk_key_hex(key) +
                                                " is " + std::to_string((*value)->mv_size) +
                                                " bytes, not 8");
  const uint64_t count = get_le64(bytes_of(**value));
  TESSERA_RETURN_IF_ERROR(check_count(key, count));
  return count;
}

Status ChunkPool::check_count(const ChunkKey& key, uint64_t count) const {
  if (!txn_.env().has_ref_checks) return Status::ok();  // a file older than 2.3 (3.1)
  auto check = txn_.get(txn_.env().ref_checks, key);
  if (!check) return check.status();
  if (!*check || (*check)->mv_size != 8 || get_le64(bytes_of(**check)) != ref_count_check(key, count))
    return txn_.env().error(Code::kCorrupt, "reference count " + std::to_string(count) + " of chunk " +
                                                chunk_key_hex(key) + " fails its check in 'ref_checks'");
  return Status::ok();
}

Status ChunkPool::set_ref_count(const ChunkKey& key, uint64_t count) {
  uint8_t bytes[8];
  put_le64(bytes, count);
  TESSERA_RETURN_IF_ERROR(txn_.put(txn_.env().refs, key, bytes));
  put_le64(bytes, ref_count_check(key, count));
  return txn_.put(txn_.env().ref_checks, key, bytes);
}

Status ChunkPool::add_checks() {
  std::vector<std::pair<ChunkKey, uint64_t>> counts;
  {
    Cursor refs(txn_, txn_.env().refs);
    TESSERA_RETURN_IF_ERROR(refs.status());
    MDB_val k, v;
    for (auto r = refs.get(&k, &v, MDB_FIRST);; r = refs.get(&k, &v, MDB_NEXT)) {
      if (!r) return r.status();
      if (!*r) break;
      if (k.mv_size != kChunkKeySize || v.mv_size != 8)
        return txn_.env().error(Code::kCorrupt, "a reference count of " + std::to_string(v.mv_size) +
                                                    " bytes under a key of " + std::to_string(k.mv_size));
      ChunkKey key;
      std::memcpy(key.data(), k.mv_data, kChunkKeySize);
      counts.emplace_back(key, get_le64(bytes_of(v)));
    }
  }
  for (const auto& [key, count] : counts) TESSERA_RETURN_IF_ERROR(set_ref_count(key, count));
  return Status::ok();
}

Status ChunkPool::put_value(const ChunkKey& key, std::span<const uint8_t> encoded) {
  // The header's filter byte (spec/FORMAT.md 4.4.2): a delta chunk needs format 3.0.
  if (encoded.size() > 2 && encoded[2] == uint8_t(Filter::kDelta))
    TESSERA_RETURN_IF_ERROR(txn_.require_format(delta_version_of));
  return txn_.put(txn_.env().chunks, key, encoded);
}

Status ChunkPool::replace_encoding(const ChunkKey& key, std::span<const uint8_t> encoded) {
  TESSERA_RETURN_IF_ERROR(get(key).status());
  return put_value(key, encoded);
}

Status ChunkPool::add_ref(const ChunkKey& key) {
  auto count = ref_count(key);
  if (!count) return count.status();
  if (*count == 0)
    return txn_.env().error(Code::kCorrupt, "chunk " + chunk_key_hex(key) +
                                                " is referenced but has no reference count");
  return set_ref_count(key, *count + 1);
}

Status ChunkPool::release(const ChunkKey& key) {
  auto count = ref_count(key);
  if (!count) return count.status();
  if (*count <= 1) {
    TESSERA_RETURN_IF_ERROR(txn_.del(txn_.env().chunks, key));
    TESSERA_RETURN_IF_ERROR(txn_.del(txn_.env().ref_checks, key));
    return txn_.del(txn_.env().refs, key);
  }
  return set_ref_count(key, *count - 1);
}

Result<ChunkKey> ChunkPool::put_deduplicated(size_t raw_size, ContentHash hash,
                                             std::span<const uint8_t> encoded,
                                             const SameBytes& same_bytes) {
  for (unsigned collision = 0; collision < 256; ++collision) {
    const ChunkKey key = make_chunk_key(hash.hi, hash.lo, uint8_t(collision));
    auto stored = txn_.get(txn_.env().chunks, key);
    if (!stored) return stored.status();
    if (!*stored) {
      TESSERA_RETURN_IF_ERROR(put_value(key, encoded));
      TESSERA_RETURN_IF_ERROR(set_ref_count(key, 1));
      return key;
    }
    // Same hash: share the chunk only if its bytes are the same. A damaged chunk is reported,
    // not papered over with a second copy.
    auto info = parse_chunk_header(bytes_of(**stored), (*stored)->mv_size);
    if (!info)
      return info.status().with_context(txn_.env().path() + ": chunk " + chunk_key_hex(key));
    if (info->raw_size != raw_size) continue;
    auto same = same_bytes(key, {bytes_of(**stored), (*stored)->mv_size});
    if (!same) return same.status();
    if (*same) {
      TESSERA_RETURN_IF_ERROR(add_ref(key));
      return key;
    }
  }
  return txn_.env().error(Code::kInternal, "256 different tiles share content hash " +
                                               chunk_key_hex(make_chunk_key(hash.hi, hash.lo, 0)));
}

Result<PoolStats> ChunkPool::stats() const {
  PoolStats stats;
  Cursor chunks(txn_, txn_.env().chunks), refs(txn_, txn_.env().refs);
  TESSERA_RETURN_IF_ERROR(chunks.status());
  TESSERA_RETURN_IF_ERROR(refs.status());
  MDB_val ck, cv, rk, rv;
  auto c = chunks.get(&ck, &cv, MDB_FIRST);
  auto r = refs.get(&rk, &rv, MDB_FIRST);
  for (; c && *c; c = chunks.get(&ck, &cv, MDB_NEXT)) {
    ++stats.chunks;
    stats.bytes_stored += cv.mv_size;
    // refs holds the same keys as chunks: step it to this chunk's key.
    while (r && *r && (rk.mv_size != ck.mv_size || std::memcmp(rk.mv_data, ck.mv_data, ck.mv_size) < 0))
      r = refs.get(&rk, &rv, MDB_NEXT);
    if (!r) return r.status();
    if (!*r || rk.mv_size != ck.mv_size || std::memcmp(rk.mv_data, ck.mv_data, ck.mv_size) != 0 ||
        rv.mv_size != 8)
      return txn_.env().error(Code::kCorrupt, "a chunk of " + std::to_string(cv.mv_size) +
                                                  " bytes has no valid reference count");
    const uint64_t count = get_le64(bytes_of(rv));
    ChunkKey key{};
    std::memcpy(key.data(), ck.mv_data, std::min(ck.mv_size, kChunkKeySize));
    TESSERA_RETURN_IF_ERROR(check_count(key, count));
    stats.references += count;
    if (count > 1) stats.bytes_saved += (count - 1) * cv.mv_size;
  }
  if (!c) return c.status();
  return stats;
}

}  // namespace tessera::detail
