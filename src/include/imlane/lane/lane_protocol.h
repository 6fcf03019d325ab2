// The Lane protocol: one behaviour type per role, the only writers of a LaneHeader. Each wait and
// its wake-up live together in lane_protocol.cpp.
//
//   client       IDLE ──PostRequest──► REQUEST                      (batch written, bell rung)
//   executor     REQUEST ──BeginServe──► BUSY ──PublishResult──► DONE
//                                           └──PublishError───► ERROR
//   coordinator  REQUEST | BUSY ──Fail──► FAILED                    (executor dead or killed)
//   client       DONE | ERROR | FAILED ──Reset──► IDLE              (result read and released)
//   coordinator  pooled, not REQUEST/BUSY ──Reclaim──► IDLE         (granted to a new client)
//
// Every transition into DONE, ERROR or FAILED wakes a client sleeping on the state word. The
// coordinator fails a Lane only after it has reaped its executor, so two writers never race.
#pragma once

#include <cstdint>
#include <string>

#include "imlane/lane/executor_bell.h"
#include "imlane/lane/futex.h"
#include "imlane/lane/lane.h"

namespace imlane {

// Where a finished request's result lies in the Lane.
struct ResponsePlacement {
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint64_t exec_ns = 0;  // the executor's time for the request
};

class LaneClient {
 public:
  explicit LaneClient(Lane* lane) : lane_(lane) {}

  // IDLE -> REQUEST for the batch at [offset, offset + bytes); rings the executor's bell.
  void PostRequest(uint32_t function_id, uint64_t offset, uint64_t bytes, ExecutorBell* bell);
  bool Finished() const { return IsFinished(lane_->state()); }

  enum class Wait { kFinished, kTimedOut, kPeerGone };
  // Spins up to spin_ns, then sleeps on the state word in slices of at most 100 ms until
  // `deadline_ns` (MonotonicNanos). Between slices `peer_alive()` is asked: without a coordinator
  // nobody would fail the Lane if its executor died.
  template <typename PeerAlive>
  Wait WaitFinished(int64_t deadline_ns, int64_t spin_ns, PeerAlive&& peer_alive);

  // The outcome of a finished request: its result's placement (DONE, with the sequence number
  // checked), or the error the executor or coordinator wrote.
  Result<ResponsePlacement> Outcome() const;
  // DONE | ERROR | FAILED -> IDLE.
  void Reset();

 private:
  bool SleepOnce(int64_t timeout_ns);
  Lane* lane_;
};

class LaneExecutor {
 public:
  explicit LaneExecutor(Lane* lane) : lane_(lane) {}

  bool HasRequest() const { return lane_->state() == LaneState::kRequest; }
  struct Request {
    uint32_t function_id;
    uint64_t offset;
    uint64_t bytes;
  };
  // REQUEST -> BUSY; the request as the client posted it (not yet validated).
  Request BeginServe();
  // BUSY -> DONE, waking the client.
  void PublishResult(const ResponsePlacement& result);
  // BUSY -> ERROR with the message (its tail, if long), waking the client.
  void PublishError(const Status& error);

 private:
  Lane* lane_;
};

class LaneCoordinator {
 public:
  explicit LaneCoordinator(Lane* lane) : lane_(lane) {}

  // REQUEST | BUSY -> FAILED with the message, waking the client. False (nothing written) for a
  // Lane with no request in flight. Only once the Lane's executor is known dead.
  bool Fail(StatusCode code, const std::string& message);
  // A pooled Lane goes to a new client: -> IDLE. False while a request is still in flight there.
  bool Reclaim();

 private:
  Lane* lane_;
};

// ---- implementation of the template ------------------------------------------------------------

template <typename PeerAlive>
LaneClient::Wait LaneClient::WaitFinished(int64_t deadline_ns, int64_t spin_ns, PeerAlive&& peer_alive) {
  if (SpinUntil([&] { return Finished(); }, spin_ns)) return Wait::kFinished;
  while (true) {
    if (Finished()) return Wait::kFinished;
    const int64_t left = deadline_ns - MonotonicNanos();
    if (left <= 0) return Wait::kTimedOut;
    if (!peer_alive()) return Wait::kPeerGone;
    if (SleepOnce(left)) return Wait::kFinished;
  }
}

}  // namespace imlane
