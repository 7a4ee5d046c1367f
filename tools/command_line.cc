// command_line.cc — the parser, the usage and --help texts, and run() (see command_line.h).
#include "command_line.h"

#include <algorithm>
#include <cstdio>
#include <exception>

namespace tessera::cli {
namespace {

constexpr size_t kWidth = 92;  // the texts are wrapped to this many columns

// "--image NAME", "--json".
std::string option_form(const Option& option) {
  std::string form(option.name);
  if (!option.value.empty()) form += " " + std::string(option.value);
  return form;
}

// `words` after `lead` (a space between them unless `lead` is empty or ends with one), those
// that do not fit in kWidth columns continued on lines indented by `indent` spaces.
std::string wrap(std::string lead, const std::vector<std::string>& words, size_t indent) {
  std::string out;
  std::string line = std::move(lead);
  bool line_has_word = false;
  for (const std::string& word : words) {
    if (line_has_word && line.size() + 1 + word.size() > kWidth) {
      out += line + "\n";
      line = std::string(indent, ' ');
      line_has_word = false;
    }
    if (line_has_word || (!line.empty() && line.back() != ' ')) line += ' ';
    line += word;
    line_has_word = true;
  }
  return out + line + "\n";
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find(' ', start), text.size());
    if (end > start) words.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// The synopsis after `prefix` ("usage: tessera "), the options continued under the first one.
std::string wrapped_synopsis(std::string_view prefix, const Command& command) {
  std::string lead = std::string(prefix) + std::string(command.name);
  for (size_t i = 0; i < command.positionals.size(); ++i) {
    const bool optional = i >= command.positionals.size() - command.optional;
    lead += " " + std::string(optional ? "[" : "") + std::string(command.positionals[i]) +
            (optional ? "]" : "");
  }
  std::vector<std::string> options;
  for (const Option& option : command.options)
    options.push_back("[" + option_form(option) + "]" + (option.repeatable ? "..." : ""));
  return wrap(lead, options, lead.size() + 1);
}

const Option* find_option(const Command& command, std::string_view name) {
  for (const Option& option : command.options)
    if (option.name == name) return &option;
  return nullptr;
}

int dispatch(const Program& program, int argc, char** argv) {
  const std::string name(program.name);
  if (argc < 2) {
    const std::string text = usage(program);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    throw UsageError{"no command given (see " + name + " --help)"};
  }
  const std::string_view wanted = std::string_view(argv[1]) == "--version" ? "version" : argv[1];
  if (wanted == "--help" || wanted == "-h" || wanted == "help") {
    const std::string text = usage(program);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  for (const Command& command : program.commands) {
    if (command.name != wanted) continue;
    std::optional<Args> args;
    try {
      args.emplace(parse_args(command, std::span<char* const>(argv + 2, size_t(argc - 2))));
    } catch (const HelpRequested&) {
      const std::string text = help(program, command);
      std::fwrite(text.data(), 1, text.size(), stdout);
      return 0;
    }
    return command.run(*args);
  }
  std::string expected;
  for (size_t i = 0; i < program.commands.size(); ++i) {
    if (i > 0) expected += i + 1 == program.commands.size() ? " or " : ", ";
    expected += program.commands[i].name;
  }
  throw UsageError{"unknown command '" + std::string(wanted) + "' (expected " + expected +
                   "; see " + name + " --help)"};
}

}  // namespace

std::optional<std::string> Args::value(std::string_view option) const {
  auto it = options_.find(std::string(option));
  if (it == options_.end()) return std::nullopt;
  return it->second.front();
}

std::vector<std::string> Args::values(std::string_view option) const {
  auto it = options_.find(std::string(option));
  return it == options_.end() ? std::vector<std::string>{} : it->second;
}

Args parse_args(const Command& command, std::span<char* const> argv) {
  const std::string name(command.name);
  Args args;
  bool options_ended = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string_view token = argv[i];
    if (options_ended || token.size() < 2 || token[0] != '-') {
      args.positional_.emplace_back(token);
      continue;
    }
    if (token == "--") {
      options_ended = true;
      continue;
    }
    if (token == "--help" || token == "-h") throw HelpRequested{};
    const size_t eq = token.find('=');
    const std::string option_name(token.substr(0, eq));
    const Option* option = find_option(command, option_name);
    std::string value;
    if (option != nullptr && !option->value.empty()) {
      if (eq != std::string_view::npos) {
        value = std::string(token.substr(eq + 1));
      } else if (i + 1 < argv.size()) {
        value = argv[++i];  // whatever it looks like: "--origin -5,3"
      } else {
        throw UsageError{name + ": option " + option_name + " needs a value"};
      }
    } else if (option == nullptr || eq != std::string_view::npos) {  // unknown, or "--json=1"
      throw UsageError{name + ": unknown option '" + std::string(token) + "'"};
    }
    auto& given = args.options_[option_name];
    if (!given.empty() && !option->repeatable)
      throw UsageError{name + ": option " + option_name + " given twice"};
    given.push_back(value);
    args.sequence_.emplace_back(option_name, std::move(value));
  }
  const size_t required = command.positionals.size() - command.optional;
  if (args.positional_.size() < required)
    throw UsageError{name + ": missing argument " +
                     std::string(command.positionals[args.positional_.size()])};
  if (args.positional_.size() > command.positionals.size())
    throw UsageError{name + ": unexpected argument '" +
                     args.positional_[command.positionals.size()] + "'"};
  return args;
}

std::string usage(const Program& program) {
  const std::string name(program.name);
  std::string out = "usage: " + name + " <command> [arguments]\n\ncommands:\n";
  for (const Command& command : program.commands) {
    out += wrapped_synopsis("  ", command);
    out += wrap("      ", words_of(command.summary), 6) + "\n";
  }
  out += name + " <command> --help describes a command and each of its options.\n";
  return out + std::string(program.exit_status) + "\n";
}

std::string help(const Program& program, const Command& command) {
  std::string out = wrapped_synopsis("usage: " + std::string(program.name) + " ", command) + "\n";
  out += wrap("", words_of(command.summary), 0);
  if (!command.details.empty()) out += "\n" + wrap("", words_of(command.details), 0);
  if (!command.options.empty()) {
    size_t column = 0;
    for (const Option& option : command.options)
      column = std::max(column, option_form(option).size());
    column += 4;  // two spaces before the option, two after the widest
    out += "\noptions:\n";
    for (const Option& option : command.options) {
      std::string lead = "  " + option_form(option);
      lead.resize(column, ' ');
      out += wrap(lead, words_of(option.help), column);
    }
  }
  return out + "\n" + std::string(program.exit_status) + "\n";
}

std::string required_text(const Args& args, std::string_view option) {
  std::optional<std::string> value = args.value(option);
  if (value && value->empty())
    throw UsageError{"option " + std::string(option) + " needs a non-empty value"};
  return value.value_or("");
}

int run(const Program& program, int argc, char** argv) {
  const std::string name(program.name);
  int code = 0;
  try {
    code = dispatch(program, argc, argv);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), error.message.c_str());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: internal error: %s\n", name.c_str(), error.what());
    return 1;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "%s: cannot write to standard output\n", name.c_str());
    return 1;
  }
  return code;
}

}  // namespace tessera::cli
