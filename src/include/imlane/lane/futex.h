// Futex doorbells shared between processes: a brief spin while the peer may be running on another
// core, then a timed sleep in the kernel.
#pragma once

#include <atomic>
#include <cstdint>

namespace imlane {

enum class WaitResult { kChanged, kTimedOut };

// Sleeps while *word == expected, at most timeout_ns. Spurious returns are possible: callers re-check.
WaitResult FutexWait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns);
void FutexWakeAll(std::atomic<uint32_t>* word);

// Spins (with a CPU pause) while pred() is false, for at most spin_ns; true if pred() became true.
template <typename Pred>
bool SpinUntil(Pred pred, int64_t spin_ns);

int64_t MonotonicNanos();

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

template <typename Pred>
bool SpinUntil(Pred pred, int64_t spin_ns) {
  if (pred()) return true;
  if (spin_ns <= 0) return false;
  const int64_t deadline = MonotonicNanos() + spin_ns;
  while (true) {
    for (int i = 0; i < 64; i++) {
      CpuRelax();
      if (pred()) return true;
    }
    if (MonotonicNanos() >= deadline) return false;
  }
}

}  // namespace imlane
