// The syntax of ENVI header text and the fields beyond the samples as attributes, both ways
// (tessera/envi.h has the table). The header reader and writer (envi_header.cc) and the sink
// (envi_sink.cc) share it; it builds alone with status, types and attributes into the
// envi_header fuzz target.
//
// Writing never trusts itself: format_envi_field reads the text it made back through the
// same splitter and parser and refuses a value that would come back different, so a header
// Tessera writes always reads back as the attributes it was written from.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "io/envi_format.h"

namespace tessera::io_detail {
namespace {

using Type = EnviFieldType;

constexpr EnviField kKnownFields[] = {
    {"description", Type::kText, /*braced=*/true},
    {"file type", Type::kText},
    {"sensor type", Type::kText},
    {"acquisition time", Type::kText},
    {"x start", Type::kInteger},
    {"y start", Type::kInteger},
    {"map info", Type::kTextList},
    {"projection info", Type::kTextList},
    {"coordinate system string", Type::kText, /*braced=*/true},
    {"geo points", Type::kRealList},
    {"default bands", Type::kIntegerList},
    {"wavelength units", Type::kText},
    {"z plot titles", Type::kTextList},
    {"reflectance scale factor", Type::kReal},
    {"data ignore value", Type::kRealOrRealList, false, /*per_band=*/true},
    {"data gain values", Type::kRealList, false, true},
    {"data offset values", Type::kRealList, false, true},
    {"data reflectance gain values", Type::kRealList, false, true},
    {"data reflectance offset values", Type::kRealList, false, true},
    {"solar irradiance", Type::kRealList, false, true},
    {"classes", Type::kInteger},
    {"class lookup", Type::kIntegerList},
    {"class names", Type::kTextList},
    {"band names", Type::kTextList, false, true},
    {"wavelength", Type::kRealList, false, true},
    {"fwhm", Type::kRealList, false, true},
    {"bbl", Type::kIntegerList, false, true},
};

constexpr std::string_view kSampleKeys[] = {"samples",   "lines",      "bands",
                                            "header offset", "data type", "interleave",
                                            "byte order", "tessera data type"};

constexpr std::string_view kBlanks = " \t\r\n\f\v";

std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kBlanks) - first + 1);
}

Status bad_field(const std::string& path, std::string_view key, std::string_view value,
                 const std::string& why) {
  return Status(Code::kInvalidArgument,
                path + ": field '" + std::string(key) + "': " + quote_value(value) + " " + why);
}

// Numbers as ENVI writers spell them: from_chars, and a leading '+' some writers put.
std::string_view without_plus(std::string_view t) {
  if (t.size() > 1 && t[0] == '+' && t[1] != '-' && t[1] != '+') t.remove_prefix(1);
  return t;
}

}  // namespace

std::optional<double> parse_envi_real(std::string_view t) {
  t = without_plus(t);
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return v;
}

std::string format_envi_real(double v) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);  // shortest that round-trips
  return std::string(buffer, end);
}

namespace {

std::optional<double> parse_real(std::string_view t) { return parse_envi_real(t); }
std::string format_real(double v) { return format_envi_real(v); }

// A whole number, also when written as a real with nothing after the point ("1.0").
std::optional<int64_t> parse_integer(std::string_view t) {
  t = without_plus(t);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (!t.empty() && ec == std::errc() && end == t.data() + t.size()) return v;
  const std::optional<double> real = parse_real(t);
  // 2^63 is the first double past int64; -2^63 is exact.
  if (!real || std::trunc(*real) != *real || *real < -0x1p63 || *real >= 0x1p63)
    return std::nullopt;
  return int64_t(*real);
}

// The items of a list's content, split at commas and trimmed; none for empty content.
std::vector<std::string_view> list_items(std::string_view content) {
  std::vector<std::string_view> items;
  if (trim(content).empty()) return items;
  for (size_t start = 0;;) {
    const size_t comma = content.find(',', start);
    items.push_back(trim(content.substr(start, comma - start)));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

template <typename T>
Result<std::vector<T>> parse_numbers(const std::string& path, std::string_view key,
                                     std::string_view content) {
  std::vector<T> out;
  for (std::string_view item : list_items(content)) {
    std::optional<T> v;
    if constexpr (std::is_same_v<T, double>) v = parse_real(item);
    else v = parse_integer(item);
    if (!v)
      return bad_field(path, key, content,
                       "has item " + std::to_string(out.size() + 1) + " " + quote_value(item) +
                           (std::is_same_v<T, double> ? " that is not a number"
                                                      : " that is not a whole number"));
    out.push_back(*v);
  }
  return out;
}

// Equal values, NaN equal to NaN (a header keeps no NaN payload).
bool same_real(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }
bool same_value(const AttributeValue& a, const AttributeValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<double>(&a)) return same_real(*x, std::get<double>(b));
  if (const auto* x = std::get_if<std::vector<double>>(&a)) {
    const auto& y = std::get<std::vector<double>>(b);
    return std::equal(x->begin(), x->end(), y.begin(), y.end(), same_real);
  }
  return a == b;
}

std::optional<size_t> list_size(const AttributeValue& value) {
  if (const auto* l = std::get_if<std::vector<std::string>>(&value)) return l->size();
  if (const auto* l = std::get_if<std::vector<int64_t>>(&value)) return l->size();
  if (const auto* l = std::get_if<std::vector<double>>(&value)) return l->size();
  return std::nullopt;
}

template <typename T, typename F>
std::string braced_list(const std::vector<T>& list, F&& one) {
  std::string out = "{";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + one(list[i]);
  return out + "}";
}

// The spellings of `value` to try, best first.
std::vector<std::string> spellings(const EnviField* field, const AttributeValue& value) {
  const auto text = [](const std::string& s) { return s; };
  const auto integer = [](int64_t v) { return std::to_string(v); };
  switch (value.index()) {
    case 0: {
      const std::string& s = std::get<0>(value);
      if (!field) return {s};  // an unknown field: as it was written
      if (field->braced) return {"{" + s + "}", s};
      return {s, "{" + s + "}"};
    }
    case 1: return {integer(std::get<1>(value))};
    case 2: return {format_real(std::get<2>(value))};
    case 3: return {braced_list(std::get<3>(value), text)};
    case 4: return {braced_list(std::get<4>(value), integer)};
    default: return {braced_list(std::get<5>(value), format_real)};
  }
}

// Whether a field may hold a value of this type: what parse_envi_field gives for it.
bool type_fits(const EnviField& field, const AttributeValue& value) {
  switch (field.type) {
    case Type::kText: return std::holds_alternative<std::string>(value);
    case Type::kInteger: return std::holds_alternative<int64_t>(value);
    case Type::kReal: return std::holds_alternative<double>(value);
    case Type::kTextList: return std::holds_alternative<std::vector<std::string>>(value);
    case Type::kIntegerList: return std::holds_alternative<std::vector<int64_t>>(value);
    case Type::kRealList: return std::holds_alternative<std::vector<double>>(value);
    case Type::kRealOrRealList:
      return std::holds_alternative<double>(value) ||
             std::holds_alternative<std::vector<double>>(value);
  }
  return false;
}

// Integers where the field holds reals (set by hand: "--set 'envi.fwhm=[10, 12]'") as reals.
AttributeValue as_field_type(const EnviField* field, const AttributeValue& value) {
  if (!field) return value;
  const bool reals = field->type == Type::kReal || field->type == Type::kRealList ||
                     field->type == Type::kRealOrRealList;
  if (!reals) return value;
  if (const auto* v = std::get_if<int64_t>(&value)) return double(*v);
  if (const auto* list = std::get_if<std::vector<int64_t>>(&value))
    return std::vector<double>(list->begin(), list->end());
  return value;
}

// A value for a message: text as it is, others in the attribute syntax.
std::string shown(const AttributeValue& value) {
  const auto* text = std::get_if<std::string>(&value);
  return quote_value(text ? *text : format_attribute_value(value));
}

}  // namespace

std::span<const EnviField> known_envi_fields() { return kKnownFields; }

const EnviField* find_envi_field(std::string_view key) {
  for (const EnviField& field : kKnownFields)
    if (field.key == key) return &field;
  return nullptr;
}

bool describes_samples(std::string_view key) {
  return std::find(std::begin(kSampleKeys), std::end(kSampleKeys), key) != std::end(kSampleKeys);
}

std::string normalize_key(std::string_view key) {
  std::string out;
  bool blank = false;
  for (char c : trim(key)) {
    if (c == ' ' || c == '\t') {
      blank = true;
      continue;
    }
    if (blank) out += ' ';
    blank = false;
    out += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string quote_value(std::string_view text) {
  constexpr size_t kShown = 80;
  std::string out = "'";
  for (char c : text.substr(0, kShown)) out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  if (text.size() > kShown) out += "...";
  return out + "'";
}

Result<std::map<std::string, HeaderValue>> split_header_fields(const std::string& path,
                                                               std::string_view body,
                                                               int first_line) {
  size_t pos = 0;
  int line_number = first_line - 1;
  // A line without its end ("\n", "\r\n", or more '\r's before the '\n').
  auto next_line = [&]() -> std::string_view {
    const size_t end = std::min(body.find('\n', pos), body.size());
    std::string_view line = body.substr(pos, end - pos);
    while (line.ends_with('\r')) line.remove_suffix(1);
    pos = end + 1;
    ++line_number;
    return line;
  };
  std::map<std::string, HeaderValue> fields;
  while (pos < body.size()) {
    const std::string_view line = next_line();
    const std::string_view content = trim(line);
    if (content.empty() || content.front() == ';') continue;  // blank or comment
    const size_t eq = content.find('=');
    const std::string key = eq == std::string_view::npos ? "" : normalize_key(content.substr(0, eq));
    if (key.empty())
      return Status(Code::kInvalidArgument, path + ": line " + std::to_string(line_number) + ": " +
                                                quote_value(content) + " is not 'key = value'");
    // The value as written: from after '=' to the end of its last line, trimmed at both ends.
    const std::string_view after = line.substr(line.find('=') + 1);
    HeaderValue value{std::string(after.substr(std::min(after.find_first_not_of(kBlanks), after.size()))),
                      line_number};
    if (value.text.starts_with('{')) {  // a braced value may span lines
      while (value.text.find('}') == std::string::npos && pos < body.size()) {
        value.text += '\n';
        value.text += next_line();
      }
      if (value.text.find('}') == std::string::npos)
        return Status(Code::kInvalidArgument,
                      path + ": field '" + key + "' (line " + std::to_string(value.line) +
                          "): '{' without a closing '}'");
    }
    value.text = std::string(trim(value.text));
    fields[key] = std::move(value);  // the last of duplicates wins, as in ENVI and GDAL
  }
  return fields;
}

std::string_view unbraced(std::string_view value) {
  if (!value.starts_with('{')) return value;
  const size_t close = value.find('}');
  return trim(value.substr(1, (close == std::string_view::npos ? value.size() : close) - 1));
}

Result<AttributeValue> parse_envi_field(const std::string& path, std::string_view key,
                                        std::string_view value) {
  const EnviField* field = find_envi_field(key);
  if (!field) return AttributeValue(std::string(value));
  const bool braced = value.starts_with('{');
  std::string_view content = value;
  if (braced) {
    const size_t close = value.find('}');
    if (close == std::string_view::npos) return bad_field(path, key, value, "has no closing '}'");
    if (!trim(value.substr(close + 1)).empty())
      return bad_field(path, key, value, "has text after its closing '}'");
    content = trim(value.substr(1, close - 1));
  }
  switch (field->type) {
    case Type::kText: return AttributeValue(std::string(content));
    case Type::kInteger: {
      if (auto v = parse_integer(content)) return AttributeValue(*v);
      return bad_field(path, key, value, "is not a whole number");
    }
    case Type::kReal: {
      if (auto v = parse_real(content)) return AttributeValue(*v);
      return bad_field(path, key, value, "is not a number");
    }
    case Type::kRealOrRealList: {
      if (braced) break;
      if (auto v = parse_real(content)) return AttributeValue(*v);
      return bad_field(path, key, value, "is not a number or a list of numbers in braces");
    }
    case Type::kTextList: {
      std::vector<std::string> items;
      for (std::string_view item : list_items(content)) {
        // Only an unbraced list can hold one; written in braces it would end the list.
        if (item.find('}') != std::string_view::npos)
          return bad_field(path, key, value, "has a '}' inside item " + quote_value(item));
        items.emplace_back(item);
      }
      return AttributeValue(std::move(items));
    }
    case Type::kIntegerList: {
      auto list = parse_numbers<int64_t>(path, key, content);
      if (!list) return list.status();
      return AttributeValue(std::move(list).value());
    }
    case Type::kRealList: break;
  }
  auto list = parse_numbers<double>(path, key, content);
  if (!list) return list.status();
  return AttributeValue(std::move(list).value());
}

Status check_envi_field(const std::string& path, std::string_view key, const AttributeValue& value,
                        uint32_t bands) {
  const EnviField* field = find_envi_field(key);
  if (!field) return Status::ok();
  const auto fail = [&](const std::string& why) {
    return Status(Code::kInvalidArgument, path + ": field '" + std::string(key) + "': " + why);
  };
  if (const std::optional<size_t> n = list_size(value); field->per_band && n && *n != bands)
    return fail(std::to_string(*n) + " values for " + std::to_string(bands) + " bands");
  if (const auto* list = std::get_if<std::vector<int64_t>>(&value); list && key == "default bands")
    for (int64_t band : *list)
      if (band < 1 || band > int64_t(bands))
        return fail("band " + std::to_string(band) + " is not one of the bands 1 to " +
                    std::to_string(bands));
  if (const auto* items = std::get_if<std::vector<std::string>>(&value); items && key == "map info")
    for (size_t i : {1, 2})
      if (items->size() <= i || !parse_real((*items)[i]))
        return fail(std::string("the reference pixel ") + (i == 1 ? "x" : "y") + " (item " +
                    std::to_string(i + 1) + ") " +
                    (items->size() <= i ? "is missing"
                                        : quote_value((*items)[i]) + " is not a number"));
  if (const auto* list = std::get_if<std::vector<double>>(&value);
      list && key == "geo points" && list->size() % 4 != 0)
    return fail(std::to_string(list->size()) +
                " values are not groups of four (pixel x, pixel y, latitude, longitude)");
  return Status::ok();
}

Result<std::string> format_envi_field(std::string_view key, const AttributeValue& given) {
  const EnviField* field = find_envi_field(key);
  if (describes_samples(key))
    return Status(Code::kInvalidArgument, "'" + std::string(key) +
                                              "' describes the samples: the export writes it");
  const AttributeValue value = as_field_type(field, given);
  if (field && !type_fits(*field, value))
    return Status(Code::kInvalidArgument,
                  "a " + std::string(attribute_type_name(given)) + " does not fit the field (" +
                      shown(given) + ")");
  // The first spelling the reader takes back as this key and this text, and for a known
  // field as this value (an unknown field reads back as its text).
  for (const std::string& text : spellings(field, value)) {
    const std::string line = std::string(key) + " = " + text + "\n";
    auto fields = split_header_fields("", line, 1);
    if (!fields || fields->size() != 1 || fields->begin()->first != key ||
        fields->begin()->second.text != text)
      continue;
    if (!field) return text;
    auto back = parse_envi_field("", key, text);
    if (back && same_value(*back, value)) return text;
  }
  return Status(Code::kInvalidArgument,
                "cannot be written as a header field that reads back the same (" + shown(given) +
                    ")");
}

}  // namespace tessera::io_detail
