#include "store/attribute_table.h"

#include <cstring>

#include "util/bytes.h"

namespace tessera::detail {
namespace {

std::string where(const Txn& txn, const ImageInfo& image, uint32_t scope) {
  std::string s = txn.env().path() + ": image '" + image.name + "'";
  if (scope != kImageScope) s += " frame " + std::to_string(scope);
  return s;
}

// Calls `visit(key, value)` for every record of one scope of an image, in key order.
template <typename Visit>
Status for_each_record(const Txn& txn, uint32_t image, uint32_t scope, Visit&& visit) {
  if (!txn.env().has_attributes) return Status::ok();
  const std::vector<uint8_t> prefix = attribute_scope_prefix(image, scope);
  Cursor cursor(txn, txn.env().attributes);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  MDB_val k = to_val(prefix), v;
  for (auto r = cursor.get(&k, &v, MDB_SET_RANGE);; r = cursor.get(&k, &v, MDB_NEXT)) {
    if (!r) return r.status();
    if (!*r || k.mv_size < prefix.size() || std::memcmp(k.mv_data, prefix.data(), prefix.size()) != 0)
      return Status::ok();
    TESSERA_RETURN_IF_ERROR(visit(k, v));
  }
}

Status writable(const Txn& txn) {
  if (txn.env().has_attributes) return Status::ok();
  return txn.env().error(Code::kInternal, "the attributes database is missing in a writable file");
}

}  // namespace

Result<Attributes> read_attributes(const Txn& txn, const ImageInfo& image, uint32_t scope) {
  Attributes found;
  TESSERA_RETURN_IF_ERROR(for_each_record(txn, image.id, scope, [&](const MDB_val& k, const MDB_val& v) {
    auto key = parse_attribute_key(bytes_of(k), k.mv_size);
    if (!key) return key.status().with_context(where(txn, image, scope));
    auto value = parse_attribute_record({bytes_of(k), k.mv_size}, bytes_of(v), v.mv_size);
    if (!value)
      return value.status().with_context(where(txn, image, scope) + " attribute '" + key->name + "'");
    found.push_back({std::move(key->name), std::move(*value)});
    return Status::ok();
  }));
  return found;
}

Status put_attribute(Txn& txn, const ImageInfo& image, uint32_t scope, std::string_view name,
                     const AttributeValue& value) {
  TESSERA_RETURN_IF_ERROR(writable(txn));
  Status named = check_attribute_name(name);
  if (!named) return named.with_context(where(txn, image, scope));
  Status known = check_tessera_attribute(name, value);
  if (!known) return known.with_context(where(txn, image, scope));
  if (attribute_value_bytes(value) > kMaxAttributeValueBytes)
    return Status(Code::kInvalidArgument,
                  where(txn, image, scope) + ": attribute '" + std::string(name) + "' holds " +
                      std::to_string(attribute_value_bytes(value)) + " bytes (at most " +
                      std::to_string(kMaxAttributeValueBytes) + ")");
  const std::vector<uint8_t> key = attribute_key(image.id, scope, name);
  return txn.put(txn.env().attributes, key, build_attribute_record(key, value));
}

Status delete_attribute(Txn& txn, const ImageInfo& image, uint32_t scope, std::string_view name) {
  const std::vector<uint8_t> key = attribute_key(image.id, scope, name);
  auto found = txn.env().has_attributes ? txn.get(txn.env().attributes, key)
                                         : Result<std::optional<MDB_val>>(std::nullopt);
  if (!found) return found.status();
  if (!*found)
    return Status(Code::kNotFound,
                  where(txn, image, scope) + " has no attribute '" + std::string(name) + "'");
  return txn.del(txn.env().attributes, key);
}

Status drop_frame_attributes(Txn& txn, const ImageInfo& image, uint32_t frame) {
  TESSERA_RETURN_IF_ERROR(writable(txn));
  for (uint32_t scope = frame; scope < image.frames; ++scope) {
    // Collected first: the cursor must not run over keys this loop writes.
    std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> records;
    TESSERA_RETURN_IF_ERROR(for_each_record(txn, image.id, scope, [&](const MDB_val& k, const MDB_val& v) {
      records.emplace_back(std::vector<uint8_t>(bytes_of(k), bytes_of(k) + k.mv_size),
                           std::vector<uint8_t>(bytes_of(v), bytes_of(v) + v.mv_size));
      return Status::ok();
    }));
    for (auto& [key, value] : records) {
      TESSERA_RETURN_IF_ERROR(txn.del(txn.env().attributes, key));
      if (scope == frame) continue;
      // The checksum covers the key: the record is rebuilt under its new scope.
      auto parsed = parse_attribute_record(key, value.data(), value.size());
      if (!parsed) return parsed.status().with_context(where(txn, image, scope));
      put_be32(key.data() + 4, scope - 1);
      TESSERA_RETURN_IF_ERROR(txn.put(txn.env().attributes, key, build_attribute_record(key, *parsed)));
    }
  }
  return Status::ok();
}

}  // namespace tessera::detail
