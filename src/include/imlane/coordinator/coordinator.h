// The coordinator daemon (`imlane serve`): the control plane. It accepts DBEnd clients on a
// Unix socket (same uid only), keeps the function registry, and runs the Lane Manager and the AI
// Function Scheduler. It is never on the data path: batches flow through Lanes.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "imlane/common/protocol.h"
#include "imlane/coordinator/function_registry.h"
#include "imlane/coordinator/lane_manager.h"
#include "imlane/coordinator/options.h"

namespace imlane {

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator();

  // Takes the socket's lock (one coordinator per socket), listens, starts the executors.
  Status Start();
  // Accepts clients until stopped (signal, `shutdown` request, or idle exit); cleans everything up.
  int Serve();
  // Safe from any thread and from signal handlers.
  void RequestStop();

 private:
  void ServeClient(int client_id, UniqueFd sock, PeerCredentials peer);
  // Why a new connection from `peer` is refused (a connection cap), or "" to accept it; counts it
  // when accepted. Called with clients_mu_ held.
  std::string AdmitLocked(const PeerCredentials& peer);
  json Dispatch(int client_id, const json& request, std::vector<int>* fds);
  json Register(const json& request);
  json Status_();
  void Cleanup();

  CoordinatorOptions options_;
  FunctionRegistry registry_;
  std::unique_ptr<LaneManager> lanes_;
  UniqueFd listen_;
  UniqueFd lock_;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<int> clients_{0};
  std::atomic<bool> stop_{false};
  std::mutex clients_mu_;
  std::map<int, int> client_socks_;  // id -> fd, to unblock them at shutdown
  std::map<pid_t, int> per_process_;  // open connections per peer pid and uid (the caps)
  std::map<uid_t, int> per_uid_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace imlane
