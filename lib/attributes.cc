// Attribute values (tessera/attributes.h): names, the text syntax, sorted lists.
#include "tessera/attributes.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

namespace tessera {
namespace {

// The length of the UTF-8 sequence at s[i] (1..4), or 0 when it is not a valid one (overlong
// forms, surrogates and code points past U+10FFFF are invalid).
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return uint8_t(s[k]); };
  const uint8_t c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kSmallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool is_integer_text(std::string_view t, int64_t* out) {
  if (t.empty()) return false;
  const size_t digits = t[0] == '-' ? 1 : 0;
  if (t.size() == digits) return false;
  for (size_t i = digits; i < t.size(); ++i)
    if (t[i] < '0' || t[i] > '9') return false;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  return ec == std::errc() && end == t.data() + t.size();
}

bool is_real_text(std::string_view t, double* out) {
  if (t == "nan") return *out = std::nan(""), true;
  if (t == "inf") return *out = HUGE_VAL, true;
  if (t == "-inf") return *out = -HUGE_VAL, true;
  if (t.find_first_of(".eE") == std::string_view::npos) return false;
  if (t.find_first_of("nNiIxXpP") != std::string_view::npos) return false;  // no specials, no hex
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  return ec == std::errc() && end == t.data() + t.size();
}

std::string format_real(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  std::string text(buffer, end);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string quoted(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> unquoted(std::string_view t) {
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') return std::nullopt;
  auto parsed = nlohmann::json::parse(t, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_string()) return std::nullopt;
  return parsed.get<std::string>();
}

std::string_view trimmed(std::string_view t) {
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return t;
}

// The elements of "[a, b, ...]" split at commas outside quotes; nullopt for an unclosed quote.
std::optional<std::vector<std::string_view>> list_elements(std::string_view inner) {
  std::vector<std::string_view> elements;
  if (trimmed(inner).empty()) return elements;
  size_t start = 0;
  bool in_quote = false;
  for (size_t i = 0; i <= inner.size(); ++i) {
    if (i < inner.size() && in_quote) {
      if (inner[i] == '\\') ++i;
      else if (inner[i] == '"') in_quote = false;
      continue;
    }
    if (i == inner.size() || inner[i] == ',') {
      elements.push_back(trimmed(inner.substr(start, i - start)));
      start = i + 1;
    } else if (inner[i] == '"') {
      in_quote = true;
    }
  }
  if (in_quote) return std::nullopt;
  return elements;
}

}  // namespace

std::string_view attribute_type_name(const AttributeValue& value) {
  static constexpr std::string_view kNames[] = {"text", "integer", "real",
                                                "text list", "integer list", "real list"};
  return kNames[value.index()];
}

const AttributeValue* find_attribute(const Attributes& attributes, std::string_view name) {
  auto it = std::lower_bound(attributes.begin(), attributes.end(), name,
                             [](const Attribute& a, std::string_view n) { return a.name < n; });
  return it != attributes.end() && it->name == name ? &it->value : nullptr;
}

void set_attribute(Attributes& attributes, std::string name, AttributeValue value) {
  auto it = std::lower_bound(attributes.begin(), attributes.end(), name,
                             [](const Attribute& a, const std::string& n) { return a.name < n; });
  if (it != attributes.end() && it->name == name) it->value = std::move(value);
  else attributes.insert(it, Attribute{std::move(name), std::move(value)});
}

Status check_attribute_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxAttributeNameBytes)
    return Status(Code::kInvalidArgument, "attribute name '" + std::string(name) + "' must be 1 to " +
                                              std::to_string(kMaxAttributeNameBytes) + " bytes long");
  for (size_t i = 0; i < name.size();) {
    const size_t n = utf8_sequence(name, i);
    if (n == 0)
      return Status(Code::kInvalidArgument, "attribute name '" + std::string(name) +
                                                "' is not valid UTF-8 (at byte " + std::to_string(i) + ")");
    if (n == 1 && (uint8_t(name[i]) < 0x20 || name[i] == 0x7F))
      return Status(Code::kInvalidArgument, "attribute name " + quoted(std::string(name)) +
                                                " holds a control character (at byte " +
                                                std::to_string(i) + ")");
    i += n;
  }
  return Status::ok();
}

AttributeValue extent_value(const Region& extent) {
  return std::vector<int64_t>{extent.x, extent.y, extent.width, extent.height};
}

Result<Region> parse_extent(const AttributeValue& value) {
  const auto* list = std::get_if<std::vector<int64_t>>(&value);
  const auto bad = [&] {
    return Status(Code::kInvalidArgument,
                  "attribute '" + std::string(kExtentAttribute) + "' is " + format_attribute_value(value) +
                      ": it must be [x, y, width, height], width and height at least 1, the end "
                      "within 64-bit coordinates");
  };
  if (!list || list->size() != 4) return bad();
  const Region extent{(*list)[0], (*list)[1], (*list)[2], (*list)[3]};
  if (!extent.is_valid()) return bad();
  return extent;
}

Status check_tessera_attribute(std::string_view name, const AttributeValue& value) {
  if (!name.starts_with(kTesseraAttributePrefix)) return Status::ok();
  if (name == kExtentAttribute) return parse_extent(value).status();
  return Status(Code::kInvalidArgument, "attribute name '" + std::string(name) + "': names beginning '" +
                                            std::string(kTesseraAttributePrefix) +
                                            "' are Tessera's, and it knows no such attribute");
}

Result<AttributeValue> parse_attribute_value(std::string_view text) {
  int64_t integer = 0;
  double real = 0;
  if (is_integer_text(text, &integer)) return AttributeValue(integer);
  if (is_real_text(text, &real)) return AttributeValue(real);
  if (auto s = unquoted(text)) return AttributeValue(std::move(*s));
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    if (!text.empty() && text.front() == '"')
      return Status(Code::kInvalidArgument, "attribute value " + std::string(text) +
                                                ": a quoted text must be one JSON string");
    return AttributeValue(std::string(text));
  }
  auto elements = list_elements(text.substr(1, text.size() - 2));
  if (!elements)
    return Status(Code::kInvalidArgument, "attribute value " + std::string(text) + ": a quote is not closed");
  std::vector<int64_t> integers;
  std::vector<double> reals;
  bool all_integers = !elements->empty(), all_numbers = !elements->empty();
  for (std::string_view e : *elements) {
    if (is_integer_text(e, &integer)) {
      integers.push_back(integer);
      reals.push_back(double(integer));
    } else if (is_real_text(e, &real)) {
      all_integers = false;
      reals.push_back(real);
    } else {
      all_integers = all_numbers = false;
      break;
    }
  }
  if (all_integers) return AttributeValue(std::move(integers));
  if (all_numbers) return AttributeValue(std::move(reals));
  std::vector<std::string> texts;
  for (std::string_view e : *elements) {
    if (!e.empty() && e.front() == '"') {
      auto s = unquoted(e);
      if (!s)
        return Status(Code::kInvalidArgument, "attribute value " + std::string(text) + ": element " +
                                                  std::string(e) + " is not one JSON string");
      texts.push_back(std::move(*s));
    } else {
      texts.emplace_back(e);
    }
  }
  return AttributeValue(std::move(texts));
}

std::string format_attribute_value(const AttributeValue& value) {
  auto join = [](const auto& list, auto&& one) {
    std::string out = "[";
    for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + one(list[i]);
    return out + "]";
  };
  switch (value.index()) {
    case 0: {
      const std::string& text = std::get<0>(value);
      auto back = parse_attribute_value(text);
      return back && *back == value ? text : quoted(text);
    }
    case 1: return std::to_string(std::get<1>(value));
    case 2: return format_real(std::get<2>(value));
    case 3: return join(std::get<3>(value), quoted);
    case 4: return join(std::get<4>(value), [](int64_t v) { return std::to_string(v); });
    default: return join(std::get<5>(value), format_real);
  }
}

}  // namespace tessera
