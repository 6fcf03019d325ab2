// The handles an engine holds on DBEnd's in-flight slots: OpenBatch (a batch being written into a
// slot's Lane) and PulledBatch (a finished result, read in place). Both hold their slot through a
// SlotLease, which gives it back to its context when it goes away.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "imlane/batch_builder.h"
#include "imlane/batch_view.h"

namespace imlane {

class DBEndContext;
class Slot;  // DBEnd-internal: one Lane of one function on one executor

class SlotLease {
 public:
  SlotLease() = default;
  SlotLease(SlotLease&& other) noexcept;
  SlotLease& operator=(SlotLease&& other) noexcept;
  SlotLease(const SlotLease&) = delete;
  SlotLease& operator=(const SlotLease&) = delete;
  ~SlotLease();

  explicit operator bool() const { return slot_ != nullptr; }

 private:
  friend class DBEndContext;
  SlotLease(DBEndContext* owner, Slot* slot) : owner_(owner), slot_(slot) {}
  // Gives the slot up without returning it (a submitted batch's ticket owns it then).
  Slot* Take();
  void Reset();

  DBEndContext* owner_ = nullptr;
  Slot* slot_ = nullptr;
};

// A batch being written straight into a slot's Lane; DBEndContext::Submit posts it. An
// unsubmitted batch gives its slot back when destroyed.
class OpenBatch {
 public:
  OpenBatch() = default;

  BatchBuilder& builder() { return *builder_; }
  size_t capacity_rows() const { return builder_->capacity_rows(); }
  size_t num_rows() const { return builder_->num_rows(); }

 private:
  friend class DBEndContext;
  SlotLease lease_;
  std::unique_ptr<BatchBuilder> builder_;
};

// A finished batch: a validated view of the result inside the Lane (no copy). Its slot stays
// reserved until this object goes away.
class PulledBatch {
 public:
  PulledBatch() = default;

  const BatchView& batch() const { return view_; }
  // Time the executor spent on this batch (validation, the function, writing the result).
  uint64_t model_ns() const { return model_ns_; }

 private:
  friend class DBEndContext;
  SlotLease lease_;
  BatchView view_;
  uint64_t model_ns_ = 0;
};

}  // namespace imlane
