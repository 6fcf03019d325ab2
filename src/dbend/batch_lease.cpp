#include "imlane/batch_lease.h"

#include <utility>

#include "imlane/dbend_context.h"

namespace imlane {

SlotLease::SlotLease(SlotLease&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), slot_(std::exchange(other.slot_, nullptr)) {}

SlotLease& SlotLease::operator=(SlotLease&& other) noexcept {
  if (this != &other) {
    Reset();
    owner_ = std::exchange(other.owner_, nullptr);
    slot_ = std::exchange(other.slot_, nullptr);
  }
  return *this;
}

SlotLease::~SlotLease() { Reset(); }

Slot* SlotLease::Take() {
  owner_ = nullptr;
  return std::exchange(slot_, nullptr);
}

void SlotLease::Reset() {
  if (owner_ != nullptr && slot_ != nullptr) owner_->ReleaseSlot(slot_);
  owner_ = nullptr;
  slot_ = nullptr;
}

}  // namespace imlane
