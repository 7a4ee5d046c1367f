// What the ENVI code shares inside lib/io: the syntax of header text and the typing of the
// fields beyond the samples (envi_fields.cc), the header text Tessera writes (envi_header.cc),
// and what the sink needs of both to adapt the fields to its output (envi_sink.cc).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "io/staged_file.h"
#include "tessera/attributes.h"
#include "tessera/envi.h"

namespace tessera::io_detail {

// Attribute names of header fields: this prefix and the key (envi.h).
inline constexpr std::string_view kEnviPrefix = "envi.";

// How a known field beyond the samples is kept (the table in envi.h).
enum class EnviFieldType { kText, kInteger, kReal, kTextList, kIntegerList, kRealList, kRealOrRealList };

struct EnviField {
  std::string_view key;   // as normalize_key gives it
  EnviFieldType type;
  bool braced = false;    // text ENVI writes in braces (description, coordinate system string)
  bool per_band = false;  // a list of one value per band (a real or a list for kRealOrRealList)
};

// The known fields in the order Tessera writes them (ENVI's customary order).
std::span<const EnviField> known_envi_fields();
// The entry of `key` (normalized), or nullptr: an unknown field, kept as text verbatim.
const EnviField* find_envi_field(std::string_view key);
// The keys EnviHeader holds (samples, lines, bands, header offset, data type, interleave,
// byte order, tessera data type): never attributes.
bool describes_samples(std::string_view key);

// Lower case, blanks trimmed, runs of blanks as one space: "Wavelength  Units" -> "wavelength units".
std::string normalize_key(std::string_view key);
// A number as headers write it (with an optional '+'), and as Tessera writes one: the fewest
// digits that read back the same.
std::optional<double> parse_envi_real(std::string_view text);
std::string format_envi_real(double value);
// `text` for a one-line message: quoted, control characters as spaces, long text cut short.
std::string quote_value(std::string_view text);

// One field of a header's text: the value trimmed, braces kept, line ends as "\n".
struct HeaderValue {
  std::string text;
  int line = 0;  // where the key is, from 1
};
// The fields of the text after the "ENVI" line, by normalized key; a key given twice keeps
// its last value. Comments (';' first) and blank lines are skipped; a value starting with '{'
// runs to the end of the line holding the first '}'. `path` and `first_line` for messages.
Result<std::map<std::string, HeaderValue>> split_header_fields(const std::string& path,
                                                               std::string_view body,
                                                               int first_line);
// The text between the braces of a braced value, or the value itself: how the fields that
// describe the samples are read.
std::string_view unbraced(std::string_view value);

// The attribute value of field `key` with text `value` (as split_header_fields gives it),
// typed by the table; kInvalidArgument naming `path`, the field and the value.
Result<AttributeValue> parse_envi_field(const std::string& path, std::string_view key,
                                        std::string_view value);
// What a field must agree with in a header of `bands` bands: per-band lists have one value
// per band, default bands name bands of the file, map info has a numeric reference pixel,
// geo points come in fours.
Status check_envi_field(const std::string& path, std::string_view key, const AttributeValue& value,
                        uint32_t bands);
// The text after "key = " that writes `value` so that it reads back as the same value (an
// integer where the table has a real is written as that real); kInvalidArgument saying why
// not (a '}' in a braced text, a ',' in a list item, a type the field cannot have, ...).
Result<std::string> format_envi_field(std::string_view key, const AttributeValue& value);

// The header text of `header`, its attributes in the table's order and then the unknown ones
// by name; kInvalidArgument naming `path` and the attribute that cannot be written.
Result<std::string> envi_header_text(const std::string& path, const EnviHeader& header);
// Writes `text` into `file`, a fresh StagedFile, and seals it. The caller commits.
Status write_staged_header(StagedFile& file, const std::string& text);

}  // namespace tessera::io_detail
