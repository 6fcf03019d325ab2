// The decoded form of every control message and reply, and the one place that decodes them from
// JSON (through protocol.h's checked Field/OptionalField). The coordinator, the executors, DBEnd
// and the fuzzer all call these: a field of the wrong type or shape is a ProtocolError naming the
// field, never an exception.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "imlane/common/function_definition.h"
#include "imlane/common/protocol.h"

namespace imlane {

// --- requests to the coordinator ---

// Every request's "op" (required, a string).
Result<std::string> DecodeOp(const json& msg);

struct RegisterRequest {
  FunctionDefinition def;
  std::string source_ref;
  json options = json::object();
};
Result<RegisterRequest> DecodeRegisterRequest(const json& req);

struct AcquireRequest {
  std::string name;
  int executors = 0;
  int slots_per_executor = 2;
  size_t lane_bytes = 0;
};
Result<AcquireRequest> DecodeAcquireRequest(const json& req);

// drop: the function's name (required).
Result<std::string> DecodeDropRequest(const json& req);
// abandon: Lanes whose running batch nobody waits for any more (as release), and why (optional).
struct AbandonRequest {
  std::vector<uint64_t> lane_ids;
  std::string reason;
};
Result<AbandonRequest> DecodeAbandonRequest(const json& req);
// lookup: the function's name (required); the reply has a register reply's fields (fid, version).
Result<std::string> DecodeLookupRequest(const json& req);
// release: the Lane ids (a missing list is none).
Result<std::vector<uint64_t>> DecodeReleaseRequest(const json& req);

struct KillExecutorRequest {
  int index = -1;
  std::string reason = "requested";
};
Result<KillExecutorRequest> DecodeKillExecutorRequest(const json& req);
// reset_cache (coordinator and executor): the function's name, "" for all.
Result<std::string> DecodeResetCacheRequest(const json& req);

// --- requests to an executor ---

struct LoadRequest {
  uint32_t fid = 0;
  FunctionDefinition def;
};
Result<LoadRequest> DecodeLoadRequest(const json& msg);
// unload: the fid (required).
Result<uint32_t> DecodeUnloadRequest(const json& msg);
// remove_lane: the Lane id (required).
Result<uint64_t> DecodeRemoveLaneRequest(const json& msg);
// An executor's first message: {"op": "ready", "pid": ...}; its pid.
Result<int64_t> DecodeReadyMessage(const json& msg);

// --- replies ---

struct HelloReply {
  int protocol = 0;
  std::string python_env;
};
Result<HelloReply> DecodeHelloReply(const json& reply);

struct RegisterReply {
  uint32_t fid = 0;
  uint32_t version = 0;
};
Result<RegisterReply> DecodeRegisterReply(const json& reply);

struct AcquireReply {
  struct GrantedLane {
    uint64_t lane_id = 0;
    int executor = 0;
  };
  uint32_t fid = 0;
  uint32_t version = 0;
  std::vector<TypeId> arg_types, return_types;
  std::vector<GrantedLane> lanes;
  std::vector<int> executors;
};
Result<AcquireReply> DecodeAcquireReply(const json& reply);

// reset_cache's reply: how many cached contexts were dropped.
Result<int> DecodeResetCacheReply(const json& reply);

// An executor's stats reply: one object per function, each with its fid and integer counters.
Result<std::vector<json>> DecodeStatsReply(const json& reply);

// One function of the coordinator's status document (imlane status, imlane_functions()).
struct FunctionStatus {
  std::string name;
  uint32_t version = 0;
  std::vector<std::string> arg_types, return_types;
  std::string source, null_handling = "default", exception_handling = "default";
  int64_t executors_used = 0, executors_loaded = 0, loads = 0, batches = 0, rows = 0, errors = 0;
  int64_t cache_hits = 0, cache_misses = 0, cache_bytes = 0;
  double mean_batch_rows = 0, busy_s = 0, cache_saved_s = 0;
  std::string backend = "local";
  int64_t actors = 0, nodes = 0;    // live Ray actors and the nodes they are on
  json ray_actors = json::array();  // per actor: node, node_ip, pid, state, batches, rows
};
Result<std::vector<FunctionStatus>> DecodeStatusFunctions(const json& status);
Result<FunctionStatus> DecodeFunctionStatus(const json& function);

// Decodes `msg` as every request and reply it could be (by its op, and as each reply): what the
// fuzzer drives. Never throws; returns how many decoders accepted it.
int DecodeAllForFuzzing(const json& msg);

}  // namespace imlane
