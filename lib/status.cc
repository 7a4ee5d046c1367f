// The one table that turns status codes into words.
#include "tessera/status.h"

#include <cstdio>
#include <cstdlib>

namespace tessera {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kCorrupt: return "corrupt";
    case Code::kUnsupported: return "unsupported";
    case Code::kIoError: return "I/O error";
    case Code::kNoSpace: return "no space";
    case Code::kBusy: return "busy";
    case Code::kReadOnly: return "read-only";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

Status Status::with_context(std::string_view context) const {
  if (is_ok() || context.empty()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

namespace detail {

void result_has_no_value(const Status& status) {
  std::fprintf(stderr, "tessera: value() of a Result that holds an error: %s\n", status.to_string().c_str());
  std::abort();
}

}  // namespace detail

}  // namespace tessera
