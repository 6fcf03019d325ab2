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
  auto grown = [&](size_t rows) {
    size_t next = static_cast<size_t>(static_cast<double>(rows) * options_.growth);
    return std::min(std::max(next, rows + 1), options_.max_rows);
  };
  if (reading > best_ * (1.0 + options_.improvement)) {
    best_ = reading;
    best_rows_ = current_;
    flat_ = 0;
    retries_ = 0;
    current_ = grown(current_);
    return;
  }
  flat_++;
  if (current_ == best_rows_) {
    // The best size measured again: average its readings rather than keep the luckiest one, which
    // would make every later step look worse than it is.
    best_ = 0.5 * (best_ + reading);
    if (retries_ < options_.step_retries && grown(best_rows_) != best_rows_) {
      retries_++;
      current_ = grown(best_rows_);  // give the larger size another chance
    }
  } else {
    current_ = best_rows_;  // larger batches did not pay: back to the best size (shrinking is allowed)
  }
  if (flat_ >= options_.freeze_after) {
    frozen_ = true;
    current_ = best_rows_;
  }
}

}  // namespace imlane
