// Serving one request batch: the executor's unit of work, also used by the benchmark's in-process
// system so that both run exactly the same steps. The request is validated as input from another
// process, checked against the function's signature, run through the Python runtime, and the
// result is written once, right after the request (BatchLayout::ResultOffset).
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace imlane
