#include "imlane/coordinator/scheduler.h"

#include <algorithm>

namespace imlane {

std::vector<int> ChooseExecutors(const std::vector<ExecutorLoad>& loads, const SchedulingRequest& request) {
  std::vector<ExecutorLoad> candidates;
  for (const auto& l : loads) {
    if (l.available) candidates.push_back(l);
  }
  // A warm executor skips the model load; among equals, spread clients over the least loaded.
  std::stable_sort(candidates.begin(), candidates.end(), [](const ExecutorLoad& a, const ExecutorLoad& b) {
    if (a.has_function != b.has_function) return a.has_function;
    return a.lanes_in_use < b.lanes_in_use;
  });
  size_t n = candidates.size();
  if (request.executors_wanted > 0) n = std::min(n, static_cast<size_t>(request.executors_wanted));
  std::vector<int> out;
  for (size_t i = 0; i < n; i++) out.push_back(candidates[i].index);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace imlane
