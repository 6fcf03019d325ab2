// Serving one request batch: the executor's unit of work, also used by the benchmark's in-process
// system so that both run exactly the same steps. The request is validated as input from another
// process, checked against the function's signature, run through the Python runtime, and the
// result is written once, right after the request (BatchLayout::ResultOffset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "imlane/executor/python_runtime.h"
#include "imlane/lane/lane_protocol.h"

namespace imlane {

struct ServedBatch {
  ResponsePlacement result;
  size_t rows = 0;
};

// `region` holds the request at [request_offset, request_offset + request_bytes), which must lie
// inside [arena_offset, region_bytes); the result goes behind it, in the rest of the region.
Result<ServedBatch> ServeBatch(PythonRuntime* python, uint8_t* region, size_t region_bytes, uint64_t arena_offset,
                               uint32_t function_id, uint64_t request_offset, uint64_t request_bytes);

// The Ray bridge's two halves of ServeBatch: the request is checked and sent to an actor (its columns
// leave the Lane before this returns), and later the actor's result is written behind the request.
struct RemoteBatch {
  uint32_t function_id = 0;
  uint64_t token = 0;  // the bridge's handle for the batch (PythonRuntime::Submit)
  uint64_t result_offset = 0;
  size_t rows = 0;
  int64_t start_ns = 0;  // exec_ns counts the whole round trip, transfer included, for the engine's tuner
  std::string name;
  std::vector<TypeId> return_types;
};
Result<RemoteBatch> SubmitRemoteBatch(PythonRuntime* python, uint8_t* region, size_t region_bytes,
                                      uint64_t arena_offset, uint32_t function_id, uint64_t request_offset,
                                      uint64_t request_bytes);
Result<ServedBatch> FinishRemoteBatch(PythonRuntime* python, uint8_t* region, size_t region_bytes,
                                      const RemoteBatch& batch);

}  // namespace imlane
