// Adaptive batch-size tuner (after IMBridge): start small, grow while the model's measured rows/s
// improve by more than `improvement` over the best seen, move a reference 25% toward each reading,
// retry a step that did not pay once, freeze after `freeze_after` flat rounds, go back to the best size when larger
// batches hurt, and thaw if throughput later collapses (a different workload). Feed it model time only (the executor's
// time inside the function), never engine-side buffering. Only batches of (nearly) the current size are judged, so
// batches still in flight from an earlier size do not blur a step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace imlane {

class AdaptiveBatchTuner {
 public:
  struct Options {
    size_t initial_rows = 2048;
    size_t min_rows = 256;
    size_t max_rows = 262144;
    double growth = 2.0;  // multiply the batch size by this at each step
    // A step must beat the best seen by this fraction. IMBridge used about 10%; measured here
    // (RandomForest, 50 trees) 8192 -> 16384 rows gains 9.4% model throughput and 7.5% query time, and
    // a step too far costs far less than one too short, so 5% is the default.
    double improvement = 0.05;
    double reference_move = 0.25;  // how far the reference moves toward each reading
    int samples_per_step = 3;      // readings (median) before judging a size
    int freeze_after = 10;         // flat rounds before the size is frozen
    // A larger size that did not pay is tried again this many times, after the best size has been
    // measured once more: readings are noisy (executors share cores with the engine), and one
    // unlucky step would otherwise end the growth for good.
    int step_retries = 1;
    size_t pinned_rows = 0;  // > 0: the user chose; the tuner only reports it
  };

  AdaptiveBatchTuner();
  explicit AdaptiveBatchTuner(Options options);

  // Rows the next batch should have.
  size_t batch_rows() const { return options_.pinned_rows ? options_.pinned_rows : current_; }
  // One finished batch of `rows` rows that spent `model_ns` inside the function.
  void Report(size_t rows, uint64_t model_ns);
  bool frozen() const { return frozen_; }
  double best_rows_per_second() const { return best_; }
  double reference_rows_per_second() const { return reference_; }

 private:
  void Judge(double reading);

  Options options_;
  size_t current_;
  size_t best_rows_;
  double best_ = 0;
  double reference_ = 0;
  int flat_ = 0;
  int collapsed_ = 0;
  int retries_ = 0;
  bool frozen_ = false;
  std::vector<double> samples_;
};

}  // namespace imlane
