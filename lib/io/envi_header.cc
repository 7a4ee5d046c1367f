// ENVI headers (tessera/envi.h): data type codes, finding, reading and writing header files,
// the fields that describe the samples. The other fields, and the syntax of the text, are
// envi_fields.cc's.
//
// Kept apart from the source and the sink so that the parser builds alone, with the files it
// needs (status, types, attributes, POSIX files), into the envi_header fuzz target.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/envi_format.h"
#include "io/staged_file.h"
#include "tessera/envi.h"
#include "util/posix_file.h"

namespace tessera {
namespace {

// ENVI headers are small text files; anything bigger is not one.
constexpr uint64_t kMaxHeaderBytes = uint64_t(16) << 20;

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

using io_detail::HeaderValue;
using io_detail::kEnviPrefix;
using io_detail::quote_value;

template <typename T>
bool parse_whole(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

// Typed access to the parsed fields; every error names the header, the field and the value.
class HeaderFields {
 public:
  HeaderFields(std::string path, const std::map<std::string, HeaderValue>& fields)
      : path_(std::move(path)) {
    // What describes the samples is read without braces, as ENVI does ("bands = {4}").
    for (const auto& [key, value] : fields)
      if (io_detail::describes_samples(key))
        fields_.emplace(key, std::string(io_detail::unbraced(value.text)));
  }

  const std::string* find(const std::string& key) const {
    auto it = fields_.find(key);
    return it == fields_.end() ? nullptr : &it->second;
  }
  Status missing(const std::string& key) const {
    return Status(Code::kInvalidArgument, path_ + ": missing required field '" + key + "'");
  }
  Status bad(const std::string& key, const std::string& value, const std::string& why) const {
    return Status(Code::kInvalidArgument,
                  path_ + ": field '" + key + "': " + quote_value(value) + " " + why);
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
  // As GDAL looks: RAW.hdr, RAW.HDR, then RAW with its extension replaced by either.
  const std::filesystem::path raw(raw_path);
  std::vector<std::string> candidates;
  for (const std::string& name :
       {raw_path + ".hdr", raw_path + ".HDR", std::filesystem::path(raw).replace_extension(".hdr").string(),
        std::filesystem::path(raw).replace_extension(".HDR").string()})
    if (std::find(candidates.begin(), candidates.end(), name) == candidates.end())
      candidates.push_back(name);
  std::string tried;
  for (const std::string& name : candidates) {
    if (detail::file_exists(name)) return name;
    tried += (tried.empty() ? "" : ", ") + in_quotes(name);
  }
  return Status(Code::kNotFound, raw_path + ": no ENVI header found (tried " + tried + ")");
}

namespace {

// The header of `text`, read from `path` (for messages).
Result<EnviHeader> parse_envi_header(const std::string& path, std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  const size_t first_end = std::min(text.find('\n'), text.size());
  if (io_detail::normalize_key(text.substr(0, first_end)) != "envi")
    return Status(Code::kInvalidArgument,
                  path + ": not an ENVI header (the first line must be 'ENVI')");
  auto split = io_detail::split_header_fields(path, text.substr(std::min(first_end + 1, text.size())), 2);
  if (!split) return split.status();
  const HeaderFields fields(path, *split);
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
    auto parsed_interleave = parse_interleave(io_detail::normalize_key(*interleave));
    if (!parsed_interleave)
      return fields.bad("interleave", *interleave, "is not bsq, bil or bip");
    header.interleave = *parsed_interleave;
  }

  // Everything else, as attributes (sorted: the map is, and the prefix keeps the order).
  for (const auto& [key, value] : *split) {
    if (io_detail::describes_samples(key)) continue;
    std::string name = std::string(kEnviPrefix) + key;
    if (Status named = check_attribute_name(name); !named)
      return Status(Code::kInvalidArgument, path + ": line " + std::to_string(value.line) +
                                                ": field " + quote_value(key) +
                                                " cannot be an attribute: " + named.message());
    auto parsed = io_detail::parse_envi_field(path, key, value.text);
    if (!parsed) return parsed.status();
    TESSERA_RETURN_IF_ERROR(io_detail::check_envi_field(path, key, *parsed, header.bands));
    header.attributes.push_back(Attribute{std::move(name), std::move(parsed).value()});
  }
  return header;
}

}  // namespace

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
  return parse_envi_header(header_path, text);
}

namespace io_detail {

Result<std::string> envi_header_text(const std::string& path, const EnviHeader& header) {
  const auto& attributes = header.attributes;
  if (std::adjacent_find(attributes.begin(), attributes.end(), [](const Attribute& a, const Attribute& b) {
        return !(a.name < b.name);
      }) != attributes.end())
    return Status(Code::kInvalidArgument, path + ": attributes not sorted by name, or a name twice");
  for (const Attribute& a : attributes)
    if (!a.name.starts_with(kEnviPrefix) || describes_samples(a.name.substr(kEnviPrefix.size())))
      return Status(Code::kInvalidArgument,
                    path + ": attribute '" + a.name + "' is not a header field beyond the samples");
  std::vector<bool> written(attributes.size(), false);
  std::string text = "ENVI\n";
  // The field of attribute envi.KEY, when there is one.
  auto field = [&](std::string_view key) -> Status {
    const std::string name = std::string(kEnviPrefix) + std::string(key);
    const auto it = std::lower_bound(attributes.begin(), attributes.end(), name,
                                     [](const Attribute& a, const std::string& n) { return a.name < n; });
    if (it == attributes.end() || it->name != name) return Status::ok();
    const size_t index = size_t(it - attributes.begin());
    if (written[index]) return Status::ok();
    auto value = format_envi_field(key, it->value);
    if (!value) return value.status().with_context(path + ": attribute '" + name + "'");
    // What the reader would refuse in a header of these bands (a per-band list too short).
    TESSERA_RETURN_IF_ERROR(check_envi_field(path, key, it->value, header.bands));
    text += std::string(key) + " = " + *value + "\n";
    written[index] = true;
    return Status::ok();
  };
  auto line = [&](std::string_view key, const std::string& value) {
    text += std::string(key) + " = " + value + "\n";
  };
  // ENVI's customary order: the samples between description and the rest.
  TESSERA_RETURN_IF_ERROR(field("description"));
  line("samples", std::to_string(header.samples));
  line("lines", std::to_string(header.lines));
  line("bands", std::to_string(header.bands));
  line("header offset", std::to_string(header.header_offset));
  TESSERA_RETURN_IF_ERROR(field("file type"));
  line("data type", std::to_string(envi_type_to_code(header.type)));
  line("interleave", std::string(interleave_name(header.interleave)));
  TESSERA_RETURN_IF_ERROR(field("sensor type"));
  line("byte order", "0");
  if (header.type == DataType::kI8) line("tessera data type", "i8");
  for (const EnviField& known : known_envi_fields())
    TESSERA_RETURN_IF_ERROR(field(known.key));
  for (const Attribute& a : attributes)  // the unknown ones, by name
    TESSERA_RETURN_IF_ERROR(field(std::string_view(a.name).substr(kEnviPrefix.size())));
  return text;
}

Status write_staged_header(StagedFile& file, const std::string& text) {
  TESSERA_RETURN_IF_ERROR(file.file().write_at(text.data(), text.size(), 0));
  return file.seal();
}

}  // namespace io_detail

Status write_envi_header(const std::string& header_path, const EnviHeader& header) {
  auto text = io_detail::envi_header_text(header_path, header);
  if (!text) return text.status();
  auto file = io_detail::StagedFile::create(header_path);
  if (!file) return file.status();
  TESSERA_RETURN_IF_ERROR(io_detail::write_staged_header(*file, *text));
  return file->commit();
}

}  // namespace tessera
