// A pulled result as Arrow, without a copy: a struct array with one child per result column whose
// buffers point into the Lane. The slot stays reserved until the last of the exported arrays (the
// parent, or a child moved out of it) is released, and is freed then.
#pragma once

#include "imlane/arrow_c_abi.h"
#include "imlane/batch_lease.h"
#include "imlane/status.h"

namespace imlane {

// Fills `array` and `schema` (format "+s", children named c0, c1, ... with the formats of
// ArrowFormat). Both must be released by the consumer, as the spec says; on error neither is set.
Status ExportToArrow(PulledBatch batch, ArrowArray* array, ArrowSchema* schema);

}  // namespace imlane
