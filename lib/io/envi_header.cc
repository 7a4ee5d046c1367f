// ENVI headers (tessera/envi.h): data type codes, finding, parsing and writing header files.
//
// Kept apart from the source and the sink so that the parser builds alone, with the files it
// needs (status, types, POSIX files), into the envi_header fuzz target.
#include <cctype>
#include <charconv>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "io/envi_format.h"
#include "io/staged_file.h"
#include "tessera/envi.h"
#include "util/posix_file.h"

namespace tessera {
namespace {

// ENVI headers are small text files; anything bigger is not one.
constexpr uint64_t kMaxHeaderBytes = uint64_t(16) << 20;

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

// ---------------------------------------------------------------------------------------------
// Header parsing

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n\f\v";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

// Header keys compare case-insensitively with runs of blanks counted as one space.
std::string normalize_key(std::string_view key) {
  std::string out;
  bool blank = false;
  for (char c : trim(key)) {
    if (c == ' ' || c == '\t') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out += ' ';
    blank = false;
    out += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

template <typename T>
bool parse_whole(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

// The key = value pairs of a header (values without their braces), or why it is malformed.
Result<std::map<std::string, std::string>> parse_fields(const std::string& path,
                                                        std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  size_t pos = 0;
  int line_number = 0;
  auto next_line = [&]() -> std::string_view {
    const size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    return line;
  };
  if (trim(next_line()) != "ENVI")
    return Status(Code::kInvalidArgument,
                  path + ": not an ENVI header (the first line must be 'ENVI')");
  std::map<std::string, std::string> fields;
  while (pos < text.size()) {
    std::string_view line = trim(next_line());
    if (line.empty() || line.front() == ';') continue;  // blank or comment
    const size_t eq = line.find('=');
    const std::string key = eq == std::string_view::npos ? "" : normalize_key(line.substr(0, eq));
    if (key.empty())
      return Status(Code::kInvalidArgument, path + ": line " + std::to_string(line_number) + ": " +
                                                in_quotes(line) + " is not 'key = value'");
    std::string value(trim(line.substr(eq + 1)));
    if (value.starts_with("{")) {  // a braced value may span lines
      const int first_line = line_number;
      while (value.find('}') == std::string::npos && pos < text.size())
        value += "\n" + std::string(trim(next_line()));
      const size_t close = value.find('}');
      if (close == std::string::npos)
        return Status(Code::kInvalidArgument,
                      path + ": field '" + key + "' (line " + std::to_string(first_line) +
                          "): '{' without a closing '}'");
      value = std::string(trim(std::string_view(value).substr(1, close - 1)));
    }
    fields[key] = std::move(value);
  }
  return fields;
}

// Typed access to the parsed fields; every error names the header, the field and the value.
class HeaderFields {
 public:
  HeaderFields(std::string path, std::map<std::string, std::string> fields)
      : path_(std::move(path)), fields_(std::move(fields)) {}

  const std::string* find(const std::string& key) const {
    auto it = fields_.find(key);
    return it == fields_.end() ? nullptr : &it->second;
  }
  Status missing(const std::string& key) const {
    return Status(Code::kInvalidArgument, path_ + ": missing required field '" + key + "'");
  }
  Status bad(const std::string& key, const std::string& value, const std::string& why) const {
    return Status(Code::kInvalidArgument,
                  path_ + ": field '" + key + "': " + in_quotes(value) + " " + why);
  }
  // An integer field in [lo, hi]; `fallback` when absent (required when fallback is empty).
  template <typename T>
  Result<T> integer(const std::string& key, T lo, T hi, std::optional<T> fallback = {}) const {
    const std::string* value = find(key);
    if (!value) {
      if (fallback) return *fallback;
      return missing(key);
    }
    T parsed{};
    if (parse_whole(*value, &parsed) && parsed >= lo && parsed <= hi) return parsed;
    return bad(key, *value,
               hi == std::numeric_limits<T>::max()
                   ? "is not a whole number of at least " + std::to_string(lo)
                   : "is not a whole number from " + std::to_string(lo) + " to " +
                         std::to_string(hi));
  }

 private:
  std::string path_;
  std::map<std::string, std::string> fields_;
};

Result<DataType> header_data_type(const HeaderFields& fields) {
  const std::string* text = fields.find("data type");
  if (!text) return fields.missing("data type");
  int code = 0;
  Result<DataType> type = parse_whole(*text, &code) ? envi_code_to_type(code)
                                                     : Result<DataType>(Code::kInvalidArgument, "");
  if (!type)
    return fields.bad("data type", *text,
                      "is not a supported ENVI data type (1, 2, 3, 4, 5, 12, 13, 14 or 15)");
  // Our extension for types ENVI has no code for (i8): the name of the type, of the same size.
  if (const std::string* name = fields.find("tessera data type")) {
    auto named = parse_data_type(*name);
    if (!named) return fields.bad("tessera data type", *name, "is not a sample type");
    if (sample_size(*named) != sample_size(*type))
      return fields.bad("tessera data type", *name,
                        "does not match data type " + *text + " (" +
                            std::string(data_type_name(*type)) + ")");
    type = *named;
  }
  return type;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Data type codes and headers

Result<DataType> envi_code_to_type(int code) {
  switch (code) {
    case 1: return DataType::kU8;
    case 2: return DataType::kI16;
    case 3: return DataType::kI32;
    case 4: return DataType::kF32;
    case 5: return DataType::kF64;
    case 12: return DataType::kU16;
    case 13: return DataType::kU32;
    case 14: return DataType::kI64;
    case 15: return DataType::kU64;
    default: break;
  }
  return Status(Code::kInvalidArgument,
                "ENVI data type " + std::to_string(code) +
                    " is not supported (supported: 1, 2, 3, 4, 5, 12, 13, 14, 15)");
}

int envi_type_to_code(DataType type) {
  switch (type) {
    case DataType::kU8: return 1;
    case DataType::kI8: return 1;  // with "tessera data type = i8" beside it
    case DataType::kI16: return 2;
    case DataType::kI32: return 3;
    case DataType::kF32: return 4;
    case DataType::kF64: return 5;
    case DataType::kU16: return 12;
    case DataType::kU32: return 13;
    case DataType::kI64: return 14;
    case DataType::kU64: return 15;
  }
  return 0;
}

Result<std::string> find_envi_header(const std::string& raw_path) {
  const std::string appended = raw_path + ".hdr";
  if (detail::file_exists(appended)) return appended;
  const std::string replaced = std::filesystem::path(raw_path).replace_extension(".hdr").string();
  if (replaced != appended && detail::file_exists(replaced)) return replaced;
  std::string tried = in_quotes(appended);
  if (replaced != appended) tried += " or " + in_quotes(replaced);
  return Status(Code::kNotFound, raw_path + ": no ENVI header found (tried " + tried + ")");
}

Result<EnviHeader> read_envi_header(const std::string& header_path) {
  auto file = detail::File::open_for_reading(header_path);
  if (!file) return file.status();
  auto stat = file->stat();
  if (!stat) return stat.status();
  const struct stat& st = *stat;
  if (!S_ISREG(st.st_mode))
    return Status(Code::kInvalidArgument, header_path + ": not a regular file");
  if (uint64_t(st.st_size) > kMaxHeaderBytes)
    return Status(Code::kInvalidArgument, header_path + ": " + std::to_string(st.st_size) +
                                              " bytes is too large for an ENVI header");
  std::string text(size_t(st.st_size), '\0');
  TESSERA_RETURN_IF_ERROR(file->read_at(text.data(), text.size(), 0));

  auto parsed = parse_fields(header_path, text);
  if (!parsed) return parsed.status();
  const HeaderFields fields(header_path, std::move(parsed).value());
  constexpr int64_t kMaxSide = std::numeric_limits<int64_t>::max();

  EnviHeader header;
  auto samples = fields.integer<int64_t>("samples", 1, kMaxSide);
  if (!samples) return samples.status();
  auto lines = fields.integer<int64_t>("lines", 1, kMaxSide);
  if (!lines) return lines.status();
  auto bands = fields.integer<uint32_t>("bands", 1, std::numeric_limits<uint32_t>::max());
  if (!bands) return bands.status();
  auto type = header_data_type(fields);
  if (!type) return type.status();
  auto offset = fields.integer<uint64_t>("header offset", 0, std::numeric_limits<uint64_t>::max(),
                                         uint64_t(0));
  if (!offset) return offset.status();
  auto byte_order = fields.integer<int>("byte order", 0, 1, 0);
  if (!byte_order) return byte_order.status();
  header.samples = *samples;
  header.lines = *lines;
  header.bands = *bands;
  header.type = *type;
  header.header_offset = *offset;
  header.big_endian = *byte_order == 1;
  if (const std::string* interleave = fields.find("interleave")) {
    std::string lower;
    for (char c : *interleave) lower += char(std::tolower(static_cast<unsigned char>(c)));
    auto parsed_interleave = parse_interleave(lower);
    if (!parsed_interleave)
      return fields.bad("interleave", *interleave, "is not bsq, bil or bip");
    header.interleave = *parsed_interleave;
  }
  return header;
}

namespace {

// The text of the header Tessera writes: byte order 0, and for i8 the "tessera data type = i8"
// line beside data type 1.
std::string envi_header_text(const EnviHeader& header) {
  std::string text = "ENVI\n";
  text += "description = {written by Tessera}\n";
  text += "samples = " + std::to_string(header.samples) + "\n";
  text += "lines = " + std::to_string(header.lines) + "\n";
  text += "bands = " + std::to_string(header.bands) + "\n";
  text += "header offset = " + std::to_string(header.header_offset) + "\n";
  text += "file type = ENVI Standard\n";
  text += "data type = " + std::to_string(envi_type_to_code(header.type)) + "\n";
  text += "interleave = " + std::string(interleave_name(header.interleave)) + "\n";
  text += "byte order = 0\n";
  if (header.type == DataType::kI8) text += "tessera data type = i8\n";
  return text;
}

}  // namespace

namespace io_detail {

Status write_staged_header(StagedFile& file, const EnviHeader& header) {
  const std::string text = envi_header_text(header);
  TESSERA_RETURN_IF_ERROR(file.file().write_at(text.data(), text.size(), 0));
  return file.seal();
}

}  // namespace io_detail

Status write_envi_header(const std::string& header_path, const EnviHeader& header) {
  auto file = io_detail::StagedFile::create(header_path);
  if (!file) return file.status();
  TESSERA_RETURN_IF_ERROR(io_detail::write_staged_header(*file, header));
  return file->commit();
}

}  // namespace tessera
