// AI Function Scheduler: which executors (compute resource units) serve a request for a function,
// and how many Lanes each gets. Stateless policy over the Lane Manager's current load.
#pragma once

#include <cstddef>
#include <vector>

namespace imlane {

struct ExecutorLoad {
  int index;
  bool available;  // alive and not restarting
  size_t lanes_in_use;
  bool has_function;  // already warm for this function
};

struct SchedulingRequest {
  int executors_wanted = 0;    // 0: all available
  int slots_per_executor = 2;  // in-flight batches per executor: one running, one being written
};

// Executors to use, best first: warm ones, then the least loaded. Empty when none is available.
std::vector<int> ChooseExecutors(const std::vector<ExecutorLoad>& loads, const SchedulingRequest& request);

}  // namespace imlane
