#include "format/attribute_record.h"

#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <span>

#include "format/flatbuffer_read.h"
#include "format/names.h"
#include "tessera_generated.h"
#include "util/bytes.h"
#include "util/xxhash.h"

namespace tessera::detail {
namespace {

Status corrupt(std::string what) { return Status(Code::kCorrupt, "attribute record: " + std::move(what)); }

void append_le32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4];
  put_le32(b, v);
  out.insert(out.end(), b, b + 4);
}
void append_le64(std::vector<uint8_t>& out, uint64_t v) {
  uint8_t b[8];
  put_le64(b, v);
  out.insert(out.end(), b, b + 8);
}
void append_text(std::vector<uint8_t>& out, std::string_view text) {
  append_le32(out, uint32_t(text.size()));
  out.insert(out.end(), text.begin(), text.end());
}

// The canonical bytes the checksum covers (spec 4.7): the key, the type byte, then the value:
// text as its bytes; integers and reals as a count (u32 LE) and 8 bytes LE each; a text list as
// a count and, per element, its length (u32 LE) and bytes.
uint64_t attribute_check(std::span<const uint8_t> key, const AttributeValue& value) {
  std::vector<uint8_t> bytes(key.begin(), key.end());
  bytes.push_back(uint8_t(value.index()));
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          bytes.insert(bytes.end(), v.begin(), v.end());
        } else if constexpr (std::is_same_v<T, int64_t>) {
          append_le32(bytes, 1), append_le64(bytes, uint64_t(v));
        } else if constexpr (std::is_same_v<T, double>) {
          append_le32(bytes, 1), append_le64(bytes, std::bit_cast<uint64_t>(v));
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          append_le32(bytes, uint32_t(v.size()));
          for (const std::string& s : v) append_text(bytes, s);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          append_le32(bytes, uint32_t(v.size()));
          for (int64_t x : v) append_le64(bytes, uint64_t(x));
        } else {
          append_le32(bytes, uint32_t(v.size()));
          for (double x : v) append_le64(bytes, std::bit_cast<uint64_t>(x));
        }
      },
      value);
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace

std::vector<uint8_t> attribute_scope_prefix(uint32_t image, uint32_t scope) {
  std::vector<uint8_t> key(8);
  put_be32(key.data(), image);
  put_be32(key.data() + 4, scope);
  return key;
}

std::vector<uint8_t> attribute_key(uint32_t image, uint32_t scope, std::string_view name) {
  std::vector<uint8_t> key(8 + name.size());
  put_be32(key.data(), image);
  put_be32(key.data() + 4, scope);
  if (!name.empty()) std::memcpy(key.data() + 8, name.data(), name.size());
  return key;
}

Result<AttributeKey> parse_attribute_key(const uint8_t* data, size_t size) {
  if (size < 9 || size > 8 + kMaxAttributeNameBytes)
    return Status(Code::kCorrupt, "attribute key of " + std::to_string(size) +
                                      " bytes (9 to 263 expected)");
  return AttributeKey{get_be32(data), get_be32(data + 4),
                      std::string(reinterpret_cast<const char*>(data + 8), size - 8)};
}

size_t attribute_value_bytes(const AttributeValue& value) {
  return std::visit(
      [](const auto& v) -> size_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) return v.size();
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          size_t n = 0;
          for (const std::string& s : v) n += s.size() + 8;
          return n;
        } else if constexpr (std::is_arithmetic_v<T>) return 8;
        else return v.size() * 8;
      },
      value);
}

std::vector<uint8_t> build_attribute_record(std::span<const uint8_t> key, const AttributeValue& value) {
  flatbuffers::FlatBufferBuilder fbb(64 + attribute_value_bytes(value));
  flatbuffers::Offset<flatbuffers::String> text;
  flatbuffers::Offset<flatbuffers::Vector<int64_t>> integers;
  flatbuffers::Offset<flatbuffers::Vector<double>> reals;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> texts;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) text = fbb.CreateString(v);
        else if constexpr (std::is_same_v<T, int64_t>) integers = fbb.CreateVector(&v, 1);
        else if constexpr (std::is_same_v<T, double>) reals = fbb.CreateVector(&v, 1);
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) texts = fbb.CreateVectorOfStrings(v);
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>) integers = fbb.CreateVector(v);
        else reals = fbb.CreateVector(v);
      },
      value);
  fbb.Finish(fb::CreateAttribute(fbb, fb::AttributeType(value.index()), text, integers, reals, texts,
                                 attribute_check(key, value)));
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Result<AttributeValue> parse_attribute_record(std::span<const uint8_t> key, const uint8_t* data,
                                              size_t size) {
  const fb::Attribute* r = verified_root<fb::Attribute>(data, size);
  if (!r) return corrupt("fails verification");
  const unsigned type = unsigned(r->type());
  // Exactly the field of the type is present.
  const bool text = r->text(), integers = r->integers(), reals = r->reals(), texts = r->texts();
  const bool shape_ok = (type == 0 && text && !integers && !reals && !texts) ||
                        ((type == 1 || type == 4) && !text && integers && !reals && !texts) ||
                        ((type == 2 || type == 5) && !text && !integers && reals && !texts) ||
                        (type == 3 && !text && !integers && !reals && texts);
  if (type > 5) return corrupt("type " + std::to_string(type) + " is unknown");
  if (!shape_ok) return corrupt("its fields do not match its type " + std::to_string(type));
  AttributeValue value;
  switch (type) {
    case 0: value = std::string(r->text()->string_view()); break;
    case 1:
    case 2:
      if ((type == 1 ? r->integers()->size() : r->reals()->size()) != 1)
        return corrupt("a single value holds a list");
      if (type == 1) value = copy_vector(*r->integers())[0];
      else value = copy_vector(*r->reals())[0];
      break;
    case 3: {
      std::vector<std::string> list;
      list.reserve(r->texts()->size());
      for (const auto* s : *r->texts()) list.emplace_back(s->string_view());
      value = std::move(list);
      break;
    }
    case 4: value = copy_vector(*r->integers()); break;
    case 5: value = copy_vector(*r->reals()); break;
  }
  if (attribute_check(key, value) != r->check()) return corrupt("checksum mismatch");
  return value;
}

}  // namespace tessera::detail
