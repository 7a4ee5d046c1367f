// The `attributes` database (spec/FORMAT.md 4.7, format 2.1): keys and records of named,
// typed values of an image or of one of its frames.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/attributes.h"
#include "tessera/status.h"

namespace tessera::detail {

// The scope of an image's own attributes; a frame's scope is the frame number.
inline constexpr uint32_t kImageScope = 0xFFFFFFFF;

// image id u32 BE | scope u32 BE | name (1..255 bytes).
std::vector<uint8_t> attribute_key(uint32_t image, uint32_t scope, std::string_view name);
// The 8-byte prefix every attribute of one scope of one image shares.
std::vector<uint8_t> attribute_scope_prefix(uint32_t image, uint32_t scope);
struct AttributeKey {
  uint32_t image = 0, scope = 0;
  std::string name;
};
// kCorrupt when the key is shorter than 9 bytes or longer than 8 + 255.
Result<AttributeKey> parse_attribute_key(const uint8_t* data, size_t size);

// The record of a value, with its checksum over `key` and the value.
std::vector<uint8_t> build_attribute_record(std::span<const uint8_t> key, const AttributeValue& value);
// kCorrupt when the bytes fail the Verifier, the type is unknown, the fields do not match the
// type, or the checksum does not match the key and value.
Result<AttributeValue> parse_attribute_record(std::span<const uint8_t> key, const uint8_t* data,
                                              size_t size);
// The bytes a value's record would take (checked against kMaxAttributeValueBytes).
size_t attribute_value_bytes(const AttributeValue& value);

}  // namespace tessera::detail
