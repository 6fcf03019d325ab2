// The Lane: one shared region per in-flight slot between one client and one executor. A 4 KiB
// header (state machine, futex doorbell, request/response placement, error text) is followed by the
// arena where request and response batches are laid out.
//
// State machine (only the owner of a transition writes it):
//   client:      IDLE -> REQUEST (batch written, executor bell rung)
//   executor:    REQUEST -> BUSY -> DONE | ERROR (response or message written, client woken)
//   coordinator: REQUEST | BUSY -> FAILED (executor died or was killed; message written)
//   client:      DONE | ERROR | FAILED -> IDLE (after reading)
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "imlane/lane/shared_region.h"
#include "imlane/status.h"

namespace imlane {

enum class LaneState : uint32_t { kIdle = 0, kRequest = 1, kBusy = 2, kDone = 3, kError = 4, kFailed = 5 };

constexpr uint64_t kLaneMagic = 0x31304e414c4d49ULL;  // "IMLAN01"
constexpr uint32_t kLaneLayoutVersion = 1;
constexpr uint64_t kLaneHeaderBytes = 4096;
constexpr size_t kLaneMessageBytes = 3584;

struct LaneHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_bytes;
  uint64_t region_bytes;
  uint64_t lane_id;
  alignas(64) std::atomic<uint32_t> state;
  std::atomic<uint32_t> client_waiting;  // set while the client sleeps on `state`
  alignas(64) uint64_t seq;              // request sequence number, echoed in the response
  uint32_t function_id;
  uint32_t response_seq_low;             // low 32 bits of seq, written by the executor
  uint64_t request_offset;
  uint64_t request_bytes;
  uint64_t response_offset;
  uint64_t response_bytes;
  int32_t error_code;                    // StatusCode for ERROR / FAILED
  uint32_t message_bytes;
  int32_t executor_pid;
  uint32_t reserved;
  uint64_t exec_ns;                      // time spent inside the AI function for this request
  alignas(64) char message[kLaneMessageBytes];
};
static_assert(sizeof(LaneHeader) <= kLaneHeaderBytes, "Lane header must fit its page");

// The executor's doorbell: one small shared region per executor, rung by every client of its Lanes.
struct ExecutorBell {
  uint64_t magic;
  alignas(64) std::atomic<uint32_t> ring;      // bumped by clients after posting a request
  std::atomic<uint32_t> sleeping;              // set while the executor sleeps on `ring`
  std::atomic<uint32_t> control_pending;       // the coordinator sent a control message
  alignas(64) std::atomic<int64_t> heartbeat_ns;  // executor's last loop time (CLOCK_MONOTONIC)
};
constexpr uint64_t kBellMagic = 0x4c4c45424d49ULL;
constexpr size_t kBellBytes = 4096;

class Lane {
 public:
  Lane() = default;
  // Coordinator: creates and pre-faults a new Lane of `bytes` in total.
  static Result<Lane> Create(uint64_t lane_id, size_t bytes);
  // Client / executor: maps a Lane received as a descriptor and validates its header.
  static Result<Lane> Attach(int fd);

  LaneHeader* header() const { return reinterpret_cast<LaneHeader*>(region_.data()); }
  uint8_t* region() const { return region_.data(); }
  size_t region_bytes() const { return region_.size(); }
  uint64_t arena_offset() const { return kLaneHeaderBytes; }
  uint64_t arena_bytes() const { return region_.size() - kLaneHeaderBytes; }
  uint64_t id() const { return id_; }
  int fd() const { return region_.fd(); }
  void CloseFd() { region_.CloseFd(); }

  LaneState state() const { return static_cast<LaneState>(header()->state.load(std::memory_order_acquire)); }

  // Writes an error message (tail kept if too long) and moves to `state` (ERROR or FAILED); wakes the
  // client. For FAILED, only if the Lane was in REQUEST or BUSY.
  bool PublishError(LaneState state, StatusCode code, const std::string& message);
  // Wakes a client sleeping on the state word.
  void WakeClient();
  // The error text in the header, bounded by its length field.
  std::string ReadMessage() const;

 private:
  SharedRegion region_;
  uint64_t id_ = 0;
};

// Rings an executor's bell after a Lane moved to REQUEST.
void RingBell(ExecutorBell* bell);

}  // namespace imlane
