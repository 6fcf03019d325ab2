// Framed messages over Unix-domain stream sockets, with file descriptors passed alongside
// (SCM_RIGHTS). Each message is a 4-byte length (native byte order: both ends are on this machine)
// followed by the payload.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "imlane/status.h"

namespace imlane {

constexpr size_t kMaxMessageBytes = 64u << 20;
constexpr size_t kMaxFdsPerMessage = 64;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct PeerCredentials {
  pid_t pid;
  uid_t uid;
  gid_t gid;
};

// Sends one message; fds are borrowed (the caller keeps them).
Status SendMessage(int sock, const std::string& payload, const std::vector<int>& fds = {});
// Bounds on what one peer may send (RecvMessage never trusts an announced length).
struct RecvLimits {
  size_t max_bytes = kMaxMessageBytes;  // a longer message is refused
  // Once a message's first byte has arrived, all of it must arrive within this time (< 0: only
  // the per-read timeout applies), so that a peer that sends a length and stops holds nothing.
  int message_timeout_ms = -1;
  // For errors: who the peer is ("client", "executor 2"), and the option that changes max_bytes.
  const char* peer = "peer";
  const char* option = nullptr;
};

// Receives one message; received fds are owned by the caller. timeout_ms < 0 waits forever for
// the first byte. A peer that closed the connection gives kUnavailable. The payload grows as bytes
// arrive (an announced length reserves nothing). A message longer than limits.max_bytes is read
// and discarded (within the message timeout) and gives kCapacityExceeded: the stream is still in
// step, so the caller may answer it. Any other error leaves the stream unusable.
Status RecvMessage(int sock, std::string* payload, std::vector<UniqueFd>* fds, int timeout_ms,
                   const RecvLimits& limits = RecvLimits());

Result<UniqueFd> ConnectUnix(const std::string& path);
// Binds and listens at `path` (which must not exist), mode 0600.
Result<UniqueFd> ListenUnix(const std::string& path);
Result<PeerCredentials> GetPeerCredentials(int sock);

}  // namespace imlane
