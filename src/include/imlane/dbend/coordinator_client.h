// DBEnd's connection to the coordinator: typed control calls, one per operation of the protocol.
// JSON is spoken here and in the coordinator's handlers only. Starts an embedded coordinator
// (`imlane serve --idle-exit-ms ...`) when none answers, so an engine needs no set-up.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "imlane/common/function_definition.h"
#include "imlane/common/protocol.h"
#include "imlane/common/unix_socket.h"
#include "imlane/lane/lane.h"
#include "imlane/settings.h"
#include "imlane/status.h"

namespace imlane {

// The answer to `acquire`: the function's registered version and signature, the Lanes granted
// (mapped, header checked) and one bell descriptor per executor serving them (not yet mapped:
// a context maps each executor's bell once).
struct LaneGrant {
  uint32_t fid = 0;
  uint32_t version = 0;
  std::vector<TypeId> arg_types;
  std::vector<TypeId> return_types;
  struct GrantedLane {
    uint64_t lane_id = 0;
    int executor = -1;
    Lane lane;
  };
  struct GrantedExecutor {
    int index = -1;
    UniqueFd bell;
  };
  std::vector<GrantedLane> lanes;
  std::vector<GrantedExecutor> executors;
};

struct RegisteredVersion {
  uint32_t fid = 0;
  uint32_t version = 0;
};

class CoordinatorClient {
 public:
  static Result<std::unique_ptr<CoordinatorClient>> Connect(const Settings& settings);
  ~CoordinatorClient();

  // The calls; callers from many threads take turns on the connection.
  Result<RegisteredVersion> Register(const FunctionDefinition& def, const std::string& source_ref);
  Status Drop(const std::string& name);
  // The current version of a function (NotFound when there is none): one short round trip.
  Result<RegisteredVersion> Lookup(const std::string& name);
  Result<LaneGrant> Acquire(const std::string& name, int executors, int slots_per_executor, size_t lane_bytes);
  Status Release(const std::vector<uint64_t>& lane_ids);
  Status KillExecutor(int index, const std::string& reason);
  // These Lanes' batches were given up while running: the coordinator recycles their executor if
  // they do not finish soon (LaneManager::Abandon). Never blocks behind another thread's call (a
  // registration may take as long as a model's initialisation): then it goes out before the next call.
  void Abandon(const std::vector<uint64_t>& lane_ids, const std::string& reason);
  // Empties the executors' inference-context caches (all, or function `name`'s); the objects dropped.
  Result<int> ResetCache(const std::string& name);
  // The coordinator's `imlane status --json` document.
  Result<std::string> StatusDocument();

  pid_t embedded_pid() const { return embedded_pid_; }
  // False once the coordinator has closed the connection (it exited or was killed). Never blocks.
  bool Alive() const;
  const std::string& socket_path() const { return socket_path_; }

 private:
  CoordinatorClient() = default;
  // One request and its reply (and the descriptors that came with it).
  Status Call(const json& request, json* reply, std::vector<UniqueFd>* fds = nullptr, int timeout_ms = 120000);
  std::mutex mu_;
  std::mutex pending_mu_;              // guards pending_abandon_
  std::vector<json> pending_abandon_;  // abandon requests deferred while mu_ was busy
  UniqueFd sock_;
  pid_t embedded_pid_ = -1;
  // Wait (briefly) at close for the embedded coordinator to exit: only when it leaves with its last
  // client; one that stays (embedded_idle_exit_ms > 0) must not hold up the engine's exit.
  bool reap_on_close_ = true;
  std::string socket_path_;
};

// The `imlane` binary that belongs to this library: $IMLANE_COORDINATOR, else ../bin/imlane
// relative to libimlane_dbend (or ../../../bin/imlane from lib/duckdb/extensions/imlane.duckdb_extension).
std::string FindCoordinatorBinary();

}  // namespace imlane
