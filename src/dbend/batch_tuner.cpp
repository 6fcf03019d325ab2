#include "imlane/batch_tuner.h"

#include <algorithm>

namespace imlane {

AdaptiveBatchTuner::AdaptiveBatchTuner() : AdaptiveBatchTuner(Options()) {}

AdaptiveBatchTuner::AdaptiveBatchTuner(Options options)
    : options_(options),
      current_(std::clamp(options.initial_rows, options.min_rows, options.max_rows)),
      best_rows_(current_) {}

void AdaptiveBatchTuner::Report(size_t rows, uint64_t model_ns) {
  if (options_.pinned_rows || rows == 0 || model_ns == 0) return;
  // Only batches built for the size being judged count: a batch still in flight from the previous
  // size, or a short tail at the end of the input, says nothing about the current one.
  if (rows > current_ || rows * 10 < current_ * 9) return;
  samples_.push_back(static_cast<double>(rows) * 1e9 / static_cast<double>(model_ns));
  if (static_cast<int>(samples_.size()) < options_.samples_per_step) return;
  std::nth_element(samples_.begin(), samples_.begin() + samples_.size() / 2, samples_.end());
  double reading = samples_[samples_.size() / 2];
  samples_.clear();
  Judge(reading);
}

void AdaptiveBatchTuner::Judge(double reading) {
  reference_ = reference_ == 0 ? reading : reference_ + options_.reference_move * (reading - reference_);
  if (frozen_) {
    // Thaw when throughput collapses for a while: the data or the model changed.
    collapsed_ = reading < 0.5 * best_ ? collapsed_ + 1 : 0;
    if (collapsed_ >= 3) {
      frozen_ = false;
      collapsed_ = 0;
      flat_ = 0;
      best_ = reading;
      best_rows_ = current_;
    }
    return;
  }
  if (reading > best_ * (1.0 + options_.improvement)) {
    best_ = reading;
    best_rows_ = current_;
    flat_ = 0;
    size_t next = static_cast<size_t>(static_cast<double>(current_) * options_.growth);
    current_ = std::min(std::max(next, current_ + 1), options_.max_rows);
    return;
  }
  flat_++;
  best_ = std::max(best_, reading);
  // Larger batches did not pay: go back to the best size seen (shrinking is allowed).
  if (reading < reference_ || current_ != best_rows_) current_ = best_rows_;
  if (flat_ >= options_.freeze_after) frozen_ = true;
}

}  // namespace imlane
