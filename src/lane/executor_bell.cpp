#include "imlane/lane/executor_bell.h"

#include <new>

namespace imlane {

ExecutorBell* ExecutorBell::Initialize(void* memory) {
  auto* bell = new (memory) ExecutorBell();
  bell->magic = kBellMagic;
  return bell;
}

void ExecutorBell::ResetForNewExecutor() {
  sleeping.store(0);
  control_pending.store(0);
}

void ExecutorBell::Ring() {
  ring.fetch_add(1, std::memory_order_seq_cst);
  if (sleeping.load(std::memory_order_seq_cst) != 0) FutexWakeAll(&ring);
}

void ExecutorBell::RequestControl() {
  control_pending.store(1, std::memory_order_seq_cst);
  Ring();
}

}  // namespace imlane
