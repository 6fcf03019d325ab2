// DBEnd's connection to the coordinator: control requests only. Starts an embedded coordinator
// (`imlane serve --idle-exit-ms ...`) when none answers, so an engine needs no set-up.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "imlane/common/protocol.h"
#include "imlane/dbend.h"

namespace imlane {

class CoordinatorClient {
 public:
  static Result<std::unique_ptr<CoordinatorClient>> Connect(const Settings& settings);
  ~CoordinatorClient();

  // One request and its reply; callers from many threads take turns.
  Status Call(const json& request, json* reply, std::vector<UniqueFd>* fds = nullptr, int timeout_ms = 120000);
  pid_t embedded_pid() const { return embedded_pid_; }
  // False once the coordinator has closed the connection (it exited or was killed). Never blocks.
  bool Alive() const;
  const std::string& socket_path() const { return socket_path_; }

 private:
  CoordinatorClient() = default;
  std::mutex mu_;
  UniqueFd sock_;
  pid_t embedded_pid_ = -1;
  std::string socket_path_;
};

// The `imlane` binary that belongs to this library: $IMLANE_COORDINATOR, else ../bin/imlane
// relative to libimlane_dbend.
std::string FindCoordinatorBinary();

}  // namespace imlane
