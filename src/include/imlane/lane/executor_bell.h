// The executor's doorbell: one small shared region per executor position, rung by every client of
// its Lanes and by the coordinator. Ring and the executor's sleep are the two halves of one
// handshake and live together here: the ringer bumps `ring` and wakes only if `sleeping` is set;
// the sleeper sets `sleeping`, re-checks for work, then waits on the value of `ring` it read, so
// no ring between its check and its sleep is lost (both sides use seq_cst).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "imlane/lane/futex.h"

namespace imlane {

constexpr uint64_t kBellMagic = 0x4c4c45424d49ULL;
constexpr size_t kBellBytes = 4096;

struct ExecutorBell {
  uint64_t magic;
  alignas(64) std::atomic<uint32_t> ring;         // bumped by every ringer
  std::atomic<uint32_t> sleeping;                 // executor: set while it sleeps on `ring`
  std::atomic<uint32_t> control_pending;          // coordinator: a control message waits
  alignas(64) std::atomic<int64_t> heartbeat_ns;  // executor: last loop time (CLOCK_MONOTONIC)

  // Coordinator: a fresh bell in `memory` (kBellBytes, zeroed).
  static ExecutorBell* Initialize(void* memory);
  // Coordinator: before a (re)started executor takes the bell over.
  void ResetForNewExecutor();
  // Client, after a Lane moved to REQUEST.
  void Ring();
  // Coordinator, after it sent a control message.
  void RequestControl();

  // Executor side.
  void Beat() { heartbeat_ns.store(MonotonicNanos(), std::memory_order_relaxed); }
  bool TakeControlRequest() { return control_pending.exchange(0, std::memory_order_acq_rel) != 0; }
  bool ControlPending() const { return control_pending.load(std::memory_order_acquire) != 0; }
  // Sleeps until rung or timeout_ns, unless `has_work()` (checked after announcing the sleep).
  template <typename HasWork>
  WaitResult Sleep(HasWork&& has_work, int64_t timeout_ns);
};

template <typename HasWork>
WaitResult ExecutorBell::Sleep(HasWork&& has_work, int64_t timeout_ns) {
  sleeping.store(1, std::memory_order_seq_cst);
  const uint32_t seen = ring.load(std::memory_order_seq_cst);
  WaitResult r = WaitResult::kChanged;
  if (!has_work() && control_pending.load(std::memory_order_seq_cst) == 0) r = FutexWait(&ring, seen, timeout_ns);
  sleeping.store(0, std::memory_order_seq_cst);
  return r;
}

}  // namespace imlane
