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
// Receives one message; received fds are owned by the caller. timeout_ms < 0 waits forever.
// A peer that closed the connection gives kUnavailable.
Status RecvMessage(int sock, std::string* payload, std::vector<UniqueFd>* fds, int timeout_ms);

Result<UniqueFd> ConnectUnix(const std::string& path);
// Binds and listens at `path` (which must not exist), mode 0600.
Result<UniqueFd> ListenUnix(const std::string& path);
Result<PeerCredentials> GetPeerCredentials(int sock);

}  // namespace imlane
