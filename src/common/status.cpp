#include "imlane/status.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace imlane {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kCapacityExceeded: return "CapacityExceeded";
    case StatusCode::kTimedOut: return "TimedOut";
    case StatusCode::kPythonError: return "PythonError";
    case StatusCode::kExecutorFailed: return "ExecutorFailed";
    case StatusCode::kIOError: return "IOError";
    case StatusCode::kProtocolError: return "ProtocolError";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

namespace internal {
void DieWithStatus(const char* what, const std::string& status) {
  std::fprintf(stderr, "imlane: %s: %s\n", what, status.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal

void Status::Abort() const {
  if (!ok()) internal::DieWithStatus("unexpected error", ToString());
}

Status::Status(StatusCode code, std::string message) {
  if (code != StatusCode::kOk) state_ = std::make_shared<const State>(State{code, std::move(message)});
}

Status Status::FromErrno(const std::string& what, int errnum) {
  return Status(StatusCode::kIOError, what + ": " + std::strerror(errnum));
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return state_ ? state_->message : kEmpty;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code())) + ": " + message();
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code(), context + ": " + message());
}

}  // namespace imlane
