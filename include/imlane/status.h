// Status and Result<T>: IMLane's error handling, in the style of Apache Arrow C++.
// Every fallible call returns one of these; nothing in the public API throws.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace imlane {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,   // the caller passed something malformed (type name, batch, option)
  kNotFound = 2,          // unknown function, file, ticket
  kAlreadyExists = 3,
  kCapacityExceeded = 4,  // a batch or value does not fit the Lane
  kTimedOut = 5,
  kPythonError = 6,       // the AI function raised, or returned something unusable
  kExecutorFailed = 7,    // the executor process died or was killed
  kIOError = 8,           // sockets, shared memory, files
  kProtocolError = 9,     // a peer sent something that fails validation
  kUnavailable = 10,      // no coordinator, no executor
  kCancelled = 11,
  kInternal = 12,
};

const char* StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
  static Status AlreadyExists(std::string m) { return Status(StatusCode::kAlreadyExists, std::move(m)); }
  static Status CapacityExceeded(std::string m) { return Status(StatusCode::kCapacityExceeded, std::move(m)); }
  static Status TimedOut(std::string m) { return Status(StatusCode::kTimedOut, std::move(m)); }
  static Status PythonError(std::string m) { return Status(StatusCode::kPythonError, std::move(m)); }
  static Status ExecutorFailed(std::string m) { return Status(StatusCode::kExecutorFailed, std::move(m)); }
  static Status IOError(std::string m) { return Status(StatusCode::kIOError, std::move(m)); }
  static Status ProtocolError(std::string m) { return Status(StatusCode::kProtocolError, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
  static Status Cancelled(std::string m) { return Status(StatusCode::kCancelled, std::move(m)); }
  static Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
  // errno-based I/O error: "<what>: <strerror(errnum)>".
  static Status FromErrno(const std::string& what, int errnum);

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  const std::string& message() const;
  // "PythonError: ..." or "OK".
  std::string ToString() const;
  // The same status with "context: " put in front of the message.
  Status WithContext(const std::string& context) const;

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  // Shared so that copying an error is cheap; OK carries no allocation.
  std::shared_ptr<const State> state_;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit like arrow::Result
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result built from an OK status has no value");
    if (status_.ok()) status_ = Status::Internal("Result constructed from OK status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T ValueOrDie() && {
    assert(ok());
    return std::move(*value_);
  }
  T MoveValue() { return std::move(*value_); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace imlane

#define IMLANE_CONCAT_INNER(a, b) a##b
#define IMLANE_CONCAT(a, b) IMLANE_CONCAT_INNER(a, b)

// Return early with the status when it is an error.
#define IMLANE_RETURN_NOT_OK(expr)           \
  do {                                       \
    ::imlane::Status _st = (expr);           \
    if (!_st.ok()) return _st;               \
  } while (0)

#define IMLANE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = tmp.MoveValue();

// Assign the value of a Result to lhs, or return its error.
#define IMLANE_ASSIGN_OR_RETURN(lhs, rexpr) \
  IMLANE_ASSIGN_OR_RETURN_IMPL(IMLANE_CONCAT(_res_, __LINE__), lhs, rexpr)
