#include "imlane/executor/batch_server.h"

#include "imlane/lane/batch_layout.h"
#include "imlane/lane/futex.h"

namespace imlane {

namespace {

Status CheckSignature(const FunctionDefinition& def, const BatchView& view) {
  if (view.num_columns() != def.arg_types.size()) {
    return Status::InvalidArgument("imlane function '", def.name, "' takes ", def.arg_types.size(), " arguments (",
                                   TypeListToString(def.arg_types), "), the batch has ", view.num_columns(),
                                   " columns");
  }
  for (size_t c = 0; c < view.num_columns(); c++) {
    if (view.column(c).type() != def.arg_types[c]) {
      return Status::InvalidArgument("imlane function '", def.name, "' argument ", c + 1, " is ",
                                     TypeName(def.arg_types[c]), ", the batch column is ",
                                     TypeName(view.column(c).type()));
    }
  }
  return Status::OK();
}

}  // namespace

Result<ServedBatch> ServeBatch(PythonRuntime* python, uint8_t* region, size_t region_bytes, uint64_t arena_offset,
                               uint32_t function_id, uint64_t request_offset, uint64_t request_bytes) {
  const int64_t start = MonotonicNanos();
  // Everything the client wrote is checked before use.
  if (request_offset < arena_offset || request_offset > region_bytes || request_bytes > region_bytes - request_offset) {
    return Status::ProtocolError("request placement outside the Lane");
  }
  IMLANE_ASSIGN_OR_RETURN(BatchView view, BatchLayout::Open(region, region_bytes, request_offset, request_bytes));
  const FunctionDefinition* def = python->Definition(function_id);
  if (def == nullptr) {
    return Status::NotFound("function id ", function_id,
                            " is not loaded in this executor (it was dropped or replaced)");
  }
  IMLANE_RETURN_NOT_OK(CheckSignature(*def, view));
  const uint64_t result_offset = BatchLayout::ResultOffset(request_offset, view.total_bytes());
  if (result_offset >= region_bytes) {
    return Status::CapacityExceeded("no room left in the Lane for the result of '", def->name, "'");
  }
  BatchBuilder out;
  Status st = BatchLayout::Start(&out, region, region_bytes, result_offset, region_bytes - result_offset,
                                 def->return_types, view.num_rows());
  if (st.ok()) st = python->Run(function_id, view, &out);
  Result<uint64_t> total = st.ok() ? out.Finish() : Result<uint64_t>(st);
  if (!total.ok()) {
    if (total.status().code() == StatusCode::kCapacityExceeded) {
      return total.status().WithContext("result of '" + def->name + "' does not fit the Lane");
    }
    return total.status();
  }
  ServedBatch served;
  served.result = ResponsePlacement{result_offset, *total, static_cast<uint64_t>(MonotonicNanos() - start)};
  served.rows = view.num_rows();
  return served;
}

}  // namespace imlane
