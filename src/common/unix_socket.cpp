#include "imlane/common/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace imlane {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

namespace {

Status FillAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) {
    return Status::InvalidArgument("socket path too long (" + std::to_string(path.size()) + " bytes, max " +
                                   std::to_string(sizeof(addr->sun_path) - 1) + "): " + path);
  }
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return Status::OK();
}

Status WaitReadable(int sock, int timeout_ms) {
  if (timeout_ms < 0) return Status::OK();
  pollfd p{sock, POLLIN, 0};
  while (true) {
    int rc = poll(&p, 1, timeout_ms);
    if (rc > 0) return Status::OK();
    if (rc == 0) return Status::TimedOut("no reply within " + std::to_string(timeout_ms) + " ms");
    if (errno != EINTR) return Status::FromErrno("poll", errno);
  }
}

int64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The time left until `deadline_ns` (0: none), combined with the per-read timeout.
int ReadTimeout(int timeout_ms, int64_t deadline_ns) {
  if (deadline_ns == 0) return timeout_ms;
  const int64_t left_ms = std::max<int64_t>(0, (deadline_ns - NowNanos() + 999999) / 1000000);
  return timeout_ms < 0 ? static_cast<int>(left_ms) : static_cast<int>(std::min<int64_t>(left_ms, timeout_ms));
}

Status MessageTimedOut(const RecvLimits& limits, size_t got, size_t len) {
  return Status::TimedOut("dropped a half-sent control message from ", limits.peer, ": ", got, " of ", len,
                          " bytes within ", limits.message_timeout_ms, " ms");
}

// Reads n bytes, appending them to `out` as they arrive (nullptr: discards them).
Status ReadIncrementally(int sock, std::string* out, size_t n, int timeout_ms, int64_t deadline_ns,
                         const RecvLimits& limits) {
  char chunk[64 * 1024];
  size_t got = 0;
  while (got < n) {
    const int wait_ms = ReadTimeout(timeout_ms, deadline_ns);
    Status ready = WaitReadable(sock, wait_ms);
    if (!ready.ok()) {
      if (ready.code() == StatusCode::kTimedOut && deadline_ns != 0 && NowNanos() >= deadline_ns) {
        return MessageTimedOut(limits, got, n);
      }
      return ready;
    }
    ssize_t r = recv(sock, chunk, std::min(sizeof(chunk), n - got), 0);
    if (r == 0) return Status::Unavailable("peer closed the connection");
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) return Status::Unavailable("peer reset the connection");
      return Status::FromErrno("recv", errno);
    }
    if (out != nullptr) out->append(chunk, static_cast<size_t>(r));
    got += static_cast<size_t>(r);
  }
  return Status::OK();
}

}  // namespace

Status SendMessage(int sock, const std::string& payload, const std::vector<int>& fds) {
  if (payload.size() > kMaxMessageBytes) return Status::InvalidArgument("control message too large");
  if (fds.size() > kMaxFdsPerMessage) return Status::InvalidArgument("too many descriptors in one message");
  uint32_t len = static_cast<uint32_t>(payload.size());
  std::string frame(reinterpret_cast<const char*>(&len), 4);
  frame += payload;
  size_t sent = 0;
  bool fds_sent = fds.empty();
  while (sent < frame.size()) {
    iovec iov{const_cast<char*>(frame.data()) + sent, frame.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control;
    if (!fds_sent) {
      control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t r = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return Status::Unavailable("peer closed the connection");
      return Status::FromErrno("sendmsg", errno);
    }
    fds_sent = true;
    sent += static_cast<size_t>(r);
  }
  return Status::OK();
}

Status RecvMessage(int sock, std::string* payload, std::vector<UniqueFd>* fds, int timeout_ms,
                   const RecvLimits& limits) {
  fds->clear();
  payload->clear();
  IMLANE_RETURN_NOT_OK(WaitReadable(sock, timeout_ms));
  // The whole message is due within the message timeout of its first byte (which is here now).
  const int64_t deadline_ns =
      limits.message_timeout_ms >= 0 ? NowNanos() + static_cast<int64_t>(limits.message_timeout_ms) * 1000000 : 0;
  // The descriptors travel with the first bytes of the frame: read the length with recvmsg.
  uint32_t len = 0;
  char cbuf[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  size_t got = 0;
  while (got < 4) {
    if (got > 0) {
      // The rest of the length: subject to the message's deadline like its payload.
      Status ready = WaitReadable(sock, ReadTimeout(timeout_ms, deadline_ns));
      if (!ready.ok()) {
        if (ready.code() == StatusCode::kTimedOut && deadline_ns != 0) return MessageTimedOut(limits, got, 4);
        return ready;
      }
    }
    iovec iov{reinterpret_cast<char*>(&len) + got, 4 - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    ssize_t r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (r == 0) return Status::Unavailable("peer closed the connection");
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) return Status::Unavailable("peer reset the connection");
      return Status::FromErrno("recvmsg", errno);
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          fds->emplace_back(fd);
        }
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) return Status::ProtocolError("control message descriptors truncated");
    got += static_cast<size_t>(r);
  }
  const size_t max_bytes = std::min(limits.max_bytes, kMaxMessageBytes);
  if (len > max_bytes) {
    // Discarded as it arrives (nothing allocated for it), so the stream stays in step.
    IMLANE_RETURN_NOT_OK(ReadIncrementally(sock, nullptr, len, timeout_ms, deadline_ns, limits));
    return Status::CapacityExceeded("control message of ", len, " bytes from ", limits.peer, " exceeds the limit of ",
                                    max_bytes, " bytes", limits.option ? std::string(" (") + limits.option + ")" : "");
  }
  // Grown as bytes arrive: an announced length alone reserves nothing.
  return ReadIncrementally(sock, payload, len, timeout_ms, deadline_ns, limits);
}

Result<UniqueFd> ConnectUnix(const std::string& path) {
  sockaddr_un addr;
  IMLANE_RETURN_NOT_OK(FillAddress(path, &addr));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket", errno);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED) return Status::Unavailable("no coordinator listening at " + path);
    return Status::FromErrno("connect " + path, e);
  }
  return fd;
}

Result<UniqueFd> ListenUnix(const std::string& path) {
  sockaddr_un addr;
  IMLANE_RETURN_NOT_OK(FillAddress(path, &addr));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket", errno);
  mode_t old = umask(0177);  // the socket file is created 0600
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int e = errno;
  umask(old);
  if (rc != 0) return Status::FromErrno("bind " + path, e);
  if (listen(fd.get(), 128) != 0) return Status::FromErrno("listen " + path, errno);
  return fd;
}

Result<PeerCredentials> GetPeerCredentials(int sock) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return Status::FromErrno("SO_PEERCRED", errno);
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

}  // namespace imlane
