// tessera/status.h — errors as values.
//
// Every fallible call in the public API returns a Status or a Result<T>. No exception
// crosses the API. A Status carries a Code a caller can switch on and a message that
// names the file, image, tile, chunk and value at fault, e.g.
//   "scan.tsr: image 'slide': tile (3,-7) frame 0: chunk 3fa1…: payload checksum mismatch".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "tessera/export.h"

namespace tessera {

enum class Code : uint8_t {
  kOk = 0,
  kInvalidArgument,  // the caller passed something out of range (region, band, name, option)
  kNotFound,         // a file, image or frame that does not exist
  kAlreadyExists,    // create() on an existing file, an image name taken
  kCorrupt,          // on-disk bytes failed a check (magic, Verifier, checksum, bounds)
  kUnsupported,      // a format version or feature this build does not know
  kIoError,          // the operating system refused a read, write, sync or map
  kNoSpace,          // the disk or the map is full and could not grow
  kBusy,             // the write lock is held by another transaction or process
  kReadOnly,         // a write on a container opened read-only
  kInternal,         // a broken invariant inside Tessera: a bug, please report it
};

// The fixed name of a code ("corrupt", "not found", ...): the one table of code words.
TESSERA_API std::string_view code_name(Code code);

class [[nodiscard]] TESSERA_API Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "ok".
  std::string to_string() const;
  // The same status with "context: " put in front of the message (e.g. the file name).
  Status with_context(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

namespace detail {
// Stops the process with a message naming `status`: value() of a Result without a value is a
// bug in the caller, and going on would read an empty object.
TESSERA_API [[noreturn]] void result_has_no_value(const Status& status);
}  // namespace detail

// A value or the Status that explains why there is none. A Result made from an OK status
// holds kInternal instead (an OK result must carry its value). value(), * and -> stop the
// process with a message when there is no value: check is_ok() first.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}                  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {           // NOLINT: implicit by design
    if (status_.is_ok()) status_ = Status(Code::kInternal, "a result was made from an OK status without a value");
  }
  Result(Code code, std::string message) : Result(Status(code, std::move(message))) {}

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }
  T& value() & { return checked(); }
  const T& value() const& { return checked(); }
  T&& value() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &checked(); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return checked(); }

 private:
  T& checked() {
    if (!value_) detail::result_has_no_value(status_);
    return *value_;
  }
  const T& checked() const {
    if (!value_) detail::result_has_no_value(status_);
    return *value_;
  }
  std::optional<T> value_;
  Status status_;  // OK when value_ is set
};

}  // namespace tessera

// Propagates a non-OK Status from an expression.
#define TESSERA_RETURN_IF_ERROR(expr)                \
  do {                                               \
    ::tessera::Status tessera_status_ = (expr);      \
    if (!tessera_status_.is_ok()) return tessera_status_; \
  } while (0)

// Evaluates `expr` (a Result<T>); on error returns its Status, else moves the value into `lhs`
// (a declaration such as `auto snapshot` or an existing variable).
#define TESSERA_ASSIGN_OR_RETURN(lhs, expr) \
  TESSERA_ASSIGN_OR_RETURN_IMPL_(TESSERA_CONCAT_(tessera_result_, __LINE__), lhs, expr)
#define TESSERA_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                                   \
  if (!result.is_ok()) return result.status();           \
  lhs = std::move(result).value()
#define TESSERA_CONCAT_(a, b) TESSERA_CONCAT_INNER_(a, b)
#define TESSERA_CONCAT_INNER_(a, b) a##b
