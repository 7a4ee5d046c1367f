// command_line.h — the command lines of `tessera` and `tessera-demo`: one table of subcommands
// (Program) gives the top-level usage, the dispatch and each subcommand's --help, and one
// parser reads every subcommand's arguments.
//
// The contract scripts rely on: PROGRAM COMMAND [POSITIONAL...] [--option VALUE | --option=VALUE
// | --flag ...] ("--" ends the options, so that a positional may begin with '-'; a value may
// begin with '-' anyway: "--origin -5,3"); exit code 0 on success, 1 when the operation failed, 2 when the command
// line is wrong; every error is exactly one line "PROGRAM: message" on stderr; `PROGRAM --help`
// and `PROGRAM COMMAND --help` print to stdout and exit 0.
//
// Hand-written rather than CLI11 (Debian's libcli11-dev 2.1.2), which was tried against
// tests/cli_test.cc and cannot keep that contract without rewriting its errors: an unknown
// command gives "A subcommand is required" (not naming it), a surplus positional "The following
// argument was not expected: y" (the tests ask for "unexpected"), "--json=1" "json was given a
// disallowed flag override" (not naming --json) while "--json=true" is accepted, its messages do
// not name the subcommand, and its help has its own layout ("Usage:", TEXT placeholders). Bending
// it would mean catching each error type, rewriting its text and replacing its formatter: more
// code than this parser (command_line.cc, about 200 lines).
#pragma once

#include <charconv>
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace tessera::cli {

// A mistake in the command line: one line "PROGRAM: message" on stderr and exit code 2. Thrown
// by the parser and by a subcommand's run function when a value is malformed.
struct UsageError {
  std::string message;
};

// One --option of a subcommand.
struct Option {
  std::string_view name;   // "--image"
  std::string_view value;  // what it takes, as the synopsis shows it ("NAME"); empty for a flag
  std::string_view help;   // one line for --help
  bool repeatable = false; // may be given several times (Args::values)
};

class Args;

// One subcommand: a row of the table.
struct Command {
  std::string_view name;                      // "import"
  std::vector<std::string_view> positionals;  // "FILE", "SRC": names for the synopsis and errors
  size_t optional = 0;                        // how many of the last positionals may be left out
  std::vector<Option> options;
  std::string_view summary;  // one line: under the synopsis in the usage, and atop its --help
  std::string_view details;  // a paragraph more for its --help (may be empty)
  int (*run)(const Args& args);  // returns the exit code; may throw UsageError
};

// A program: its name (the "usage:" lines and the prefix of every error line), its subcommands
// and the line on exit codes that ends the usage and every --help.
struct Program {
  std::string_view name;
  std::vector<Command> commands;
  std::string_view exit_status;
};

// The arguments of one subcommand, parsed.
class Args {
 public:
  const std::string& positional(size_t i) const { return positional_.at(i); }
  size_t positional_count() const { return positional_.size(); }
  // The value given to a valued option ("--image"), or nullopt.
  std::optional<std::string> value(std::string_view option) const;
  // Every value given to a repeatable option, in command-line order.
  std::vector<std::string> values(std::string_view option) const;
  // Whether a flag ("--json") was given.
  bool flag(std::string_view option) const { return options_.count(std::string(option)) != 0; }
  // Every option given, with its value ("" for a flag), in command-line order: for options
  // that apply to the one before them (tessera map's --translate after its --source).
  const std::vector<std::pair<std::string, std::string>>& sequence() const { return sequence_; }

 private:
  friend Args parse_args(const Command& command, std::span<char* const> argv);
  std::vector<std::string> positional_;
  std::map<std::string, std::vector<std::string>> options_;
  std::vector<std::pair<std::string, std::string>> sequence_;
};

// --help or -h among a subcommand's arguments.
struct HelpRequested {};

// Parses the arguments that follow the subcommand's name. Throws UsageError for an unknown
// option, a flag given a value, an option not repeatable given twice, an option without its value, and too few or too
// many positionals; throws HelpRequested for --help or -h.
Args parse_args(const Command& command, std::span<char* const> argv);

// What `PROGRAM --help` prints: every subcommand's synopsis and summary.
std::string usage(const Program& program);
// What `PROGRAM COMMAND --help` prints: its synopsis, summary, details and options.
std::string help(const Program& program, const Command& command);

// The whole of main(): runs the subcommand argv[1] and returns the exit code (see the contract
// above). Prints the usage when there is no subcommand (then exit 2) or for --help, -h or help.
int run(const Program& program, int argc, char** argv);

// ---------------------------------------------------------------------------------------------
// Values: each throws UsageError naming the option (`what`) and the text.

// True when the entire text is a whole number of type T (no sign for unsigned types, no spaces).
template <typename T>
bool whole_number(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

template <typename T>
T parse_number(std::string_view text, std::string_view what) {
  T value{};
  if (!whole_number(text, &value))
    throw UsageError{"malformed " + std::string(what) + " '" + std::string(text) +
                     "': expected a whole number" +
                     (std::is_signed_v<T> ? "" : " of at least 0")};
  return value;
}

// A comma-separated list of whole numbers; exactly `count` of them unless count is 0. `form`
// says what was expected: "X,Y".
template <typename T>
std::vector<T> parse_number_list(std::string_view text, size_t count, std::string_view what,
                                 std::string_view form) {
  const auto malformed = [&] {
    return UsageError{"malformed " + std::string(what) + " '" + std::string(text) +
                      "': expected " + std::string(form)};
  };
  std::vector<T> values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : comma - start);
    T value{};
    if (!whole_number(item, &value)) throw malformed();
    values.push_back(value);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (count != 0 && values.size() != count) throw malformed();
  return values;
}

// The value of a valued option, "" when it was not given; refused when given empty.
std::string required_text(const Args& args, std::string_view option);

}  // namespace tessera::cli
