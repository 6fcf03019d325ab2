// The Lane: one shared region per in-flight slot between one client and one executor. A 4 KiB
// header (the state machine, whose word is also the client's futex, request/response placement,
// error text) is followed by the arena where request and response batches are laid out.
//
// Lane owns the memory only. Every write to the header goes through one of the three role types
// in lane_protocol.h (LaneClient, LaneExecutor, LaneCoordinator); the protocol is stated there.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "imlane/lane/shared_region.h"
#include "imlane/status.h"

namespace imlane {

enum class LaneState : uint32_t { kIdle = 0, kRequest = 1, kBusy = 2, kDone = 3, kError = 4, kFailed = 5 };

inline bool IsFinished(LaneState s) {
  return s == LaneState::kDone || s == LaneState::kError || s == LaneState::kFailed;
}
inline bool IsInFlight(LaneState s) { return s == LaneState::kRequest || s == LaneState::kBusy; }

constexpr uint64_t kLaneMagic = 0x31304e414c4d49ULL;  // "IMLAN01"
constexpr uint32_t kLaneLayoutVersion = 1;
constexpr uint64_t kLaneHeaderBytes = 4096;
constexpr size_t kLaneMessageBytes = 3584;

// Invariants (each field has one writer per state; `state` orders everything else):
// - The identity fields are written once, by the coordinator at creation, and only read after.
// - Request fields are written by the client while the Lane is IDLE, then published with a
//   release store of REQUEST; the executor reads them after an acquire load of REQUEST.
// - Response and error fields are written by the executor while BUSY (or by the coordinator once
//   the executor is dead), then published with a release store of DONE / ERROR / FAILED; the
//   client reads them after an acquire load of that state.
// - Nobody but the client writes a finished Lane, and the client writes only IDLE into it.
struct LaneHeader {
  // Identity: coordinator, at creation.
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_bytes;
  uint64_t region_bytes;
  uint64_t lane_id;
  // The state machine. Its own cache line: both peers poll it.
  alignas(64) std::atomic<uint32_t> state;
  std::atomic<uint32_t> client_waiting;  // client: set while it sleeps on `state`
  // Request: client.
  alignas(64) uint64_t seq;  // request sequence number, echoed in the response
  uint32_t function_id;
  // Response: executor.
  uint32_t response_seq_low;  // low 32 bits of seq
  // Request: client.
  uint64_t request_offset;
  uint64_t request_bytes;
  // Response: executor.
  uint64_t response_offset;
  uint64_t response_bytes;
  // Error: executor (ERROR) or coordinator (FAILED); cleared by the client with each request.
  int32_t error_code;  // StatusCode
  uint32_t message_bytes;
  // Response: executor.
  int32_t executor_pid;
  uint32_t reserved;
  uint64_t exec_ns;  // time spent serving this request
  alignas(64) char message[kLaneMessageBytes];
};
static_assert(sizeof(LaneHeader) <= kLaneHeaderBytes, "Lane header must fit its page");

class Lane {
 public:
  Lane() = default;
  // Coordinator: creates and pre-faults a new Lane of `bytes` in total, header initialised, IDLE.
  static Result<Lane> Create(uint64_t lane_id, size_t bytes);
  // Client / executor: maps a Lane received as a descriptor and validates its header.
  static Result<Lane> Attach(int fd);

  uint8_t* region() const { return region_.data(); }
  size_t region_bytes() const { return region_.size(); }
  uint64_t arena_offset() const { return kLaneHeaderBytes; }
  uint64_t arena_bytes() const { return region_.size() - kLaneHeaderBytes; }
  uint64_t id() const { return id_; }
  int fd() const { return region_.fd(); }
  void CloseFd() { region_.CloseFd(); }

  LaneState state() const { return static_cast<LaneState>(header()->state.load(std::memory_order_acquire)); }
  // The function id of the last request (for messages).
  uint32_t function_id() const { return header()->function_id; }

 private:
  friend class LaneClient;
  friend class LaneExecutor;
  friend class LaneCoordinator;
  LaneHeader* header() const { return reinterpret_cast<LaneHeader*>(region_.data()); }

  SharedRegion region_;
  uint64_t id_ = 0;
};

}  // namespace imlane
