// Status and Result<T>: IMLane's error handling, in the style of Apache Arrow C++.
// Every fallible call returns one of these; nothing in the public API throws. Both are
// [[nodiscard]]: an error is handled, returned, or dropped on purpose with IgnoreError().
#pragma once

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace imlane {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // the caller passed something malformed (type name, batch, option)
  kNotFound = 2,         // unknown function, file, ticket
  kAlreadyExists = 3,
  kCapacityExceeded = 4,  // a batch or value does not fit the Lane
  kTimedOut = 5,
  kPythonError = 6,     // the AI function raised, or returned something unusable
  kExecutorFailed = 7,  // the executor process died or was killed
  kIOError = 8,         // sockets, shared memory, files
  kProtocolError = 9,   // a peer sent something that fails validation
  kUnavailable = 10,    // no coordinator, no executor
  kCancelled = 11,
  kInternal = 12,
};

const char* StatusCodeName(StatusCode code);

namespace internal {
// Concatenates the message parts with operator<<, as Arrow's Status::FromArgs does.
template <typename... Args>
std::string StringBuilder(Args&&... args) {
  if constexpr (sizeof...(Args) == 1 && (std::is_convertible_v<Args, std::string> && ...)) {
    return std::string(std::forward<Args>(args)...);
  } else {
    std::ostringstream out;
    (out << ... << std::forward<Args>(args));
    return out.str();
  }
}
// Prints the message and aborts: what ValueOrDie and friends do with an error.
[[noreturn]] void DieWithStatus(const char* what, const std::string& status);
}  // namespace internal

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status OK() { return Status(); }
  template <typename... Args>
  static Status FromArgs(StatusCode code, Args&&... args) {
    return Status(code, internal::StringBuilder(std::forward<Args>(args)...));
  }
  // Message factories take any number of parts: Status::NotFound("function '", name, "'").
  template <typename... Args>
  static Status InvalidArgument(Args&&... a) {
    return FromArgs(StatusCode::kInvalidArgument, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status NotFound(Args&&... a) {
    return FromArgs(StatusCode::kNotFound, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status AlreadyExists(Args&&... a) {
    return FromArgs(StatusCode::kAlreadyExists, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status CapacityExceeded(Args&&... a) {
    return FromArgs(StatusCode::kCapacityExceeded, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status TimedOut(Args&&... a) {
    return FromArgs(StatusCode::kTimedOut, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status PythonError(Args&&... a) {
    return FromArgs(StatusCode::kPythonError, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status ExecutorFailed(Args&&... a) {
    return FromArgs(StatusCode::kExecutorFailed, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status IOError(Args&&... a) {
    return FromArgs(StatusCode::kIOError, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status ProtocolError(Args&&... a) {
    return FromArgs(StatusCode::kProtocolError, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status Unavailable(Args&&... a) {
    return FromArgs(StatusCode::kUnavailable, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status Cancelled(Args&&... a) {
    return FromArgs(StatusCode::kCancelled, std::forward<Args>(a)...);
  }
  template <typename... Args>
  static Status Internal(Args&&... a) {
    return FromArgs(StatusCode::kInternal, std::forward<Args>(a)...);
  }
  // errno-based I/O error: "<what>: <strerror(errnum)>".
  static Status FromErrno(const std::string& what, int errnum);

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  const std::string& message() const;
  // "PythonError: ..." or "OK".
  std::string ToString() const;
  // The same status with "context: " put in front of the message.
  Status WithContext(const std::string& context) const;
  // Aborts with the message unless OK: for errors that would be a bug.
  void Abort() const;
  // Drops the status on purpose (best-effort calls whose failure changes nothing).
  void IgnoreError() const {}

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  // Shared so that copying an error is cheap; OK carries no allocation.
  std::shared_ptr<const State> state_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor): like arrow::Result
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status::Internal("Result constructed from OK status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // Checked access: an error aborts with its message (in every build type, not only with asserts).
  T& operator*() & { return ValueUnsafeChecked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->ValueUnsafeChecked(); }
  T* operator->() { return &ValueUnsafeChecked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->ValueUnsafeChecked(); }
  T ValueOrDie() && { return std::move(ValueUnsafeChecked()); }
  const T& ValueOrDie() const& { return const_cast<Result*>(this)->ValueUnsafeChecked(); }
  T ValueOr(T fallback) && { return ok() ? std::move(*value_) : std::move(fallback); }
  // Moves the value out; checked like ValueOrDie.
  T MoveValue() { return std::move(ValueUnsafeChecked()); }

 private:
  T& ValueUnsafeChecked() {
    if (!status_.ok()) internal::DieWithStatus("Result accessed without a value", status_.ToString());
    return *value_;
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace imlane

#define IMLANE_CONCAT_INNER(a, b) a##b
#define IMLANE_CONCAT(a, b) IMLANE_CONCAT_INNER(a, b)

// Return early with the status when it is an error.
#define IMLANE_RETURN_NOT_OK(expr) \
  do {                             \
    ::imlane::Status _st = (expr); \
    if (!_st.ok()) return _st;     \
  } while (0)

// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` may be a declaration, which parentheses would break.
#define IMLANE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = tmp.MoveValue();
// NOLINTEND(bugprone-macro-parentheses)

// Assign the value of a Result to lhs, or return its error.
#define IMLANE_ASSIGN_OR_RETURN(lhs, rexpr) IMLANE_ASSIGN_OR_RETURN_IMPL(IMLANE_CONCAT(_res_, __LINE__), lhs, rexpr)
