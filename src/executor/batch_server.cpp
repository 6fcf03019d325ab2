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

struct OpenedRequest {
  BatchView view;
  const FunctionDefinition* def = nullptr;
  uint64_t result_offset = 0;
};

// Everything the client wrote is checked before use: placement, batch, signature, room for the result.
Result<OpenedRequest> OpenRequest(PythonRuntime* python, uint8_t* region, size_t region_bytes, uint64_t arena_offset,
                                  uint32_t function_id, uint64_t request_offset, uint64_t request_bytes) {
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
  return OpenedRequest{view, def, result_offset};
}

// Starts the result behind the request, lets `write` fill it, and finishes it.
template <typename Write>
Result<uint64_t> WriteResult(uint8_t* region, size_t region_bytes, uint64_t result_offset, const std::string& name,
                             const std::vector<TypeId>& return_types, size_t rows, Write&& write) {
  BatchBuilder out;
  Status st =
      BatchLayout::Start(&out, region, region_bytes, result_offset, region_bytes - result_offset, return_types, rows);
  if (st.ok()) st = write(&out);
  Result<uint64_t> total = st.ok() ? out.Finish() : Result<uint64_t>(st);
  if (!total.ok() && total.status().code() == StatusCode::kCapacityExceeded) {
    return total.status().WithContext("result of '" + name + "' does not fit the Lane");
  }
  return total;
}

}  // namespace

Result<ServedBatch> ServeBatch(PythonRuntime* python, uint8_t* region, size_t region_bytes, uint64_t arena_offset,
                               uint32_t function_id, uint64_t request_offset, uint64_t request_bytes) {
  const int64_t start = MonotonicNanos();
  IMLANE_ASSIGN_OR_RETURN(OpenedRequest req, OpenRequest(python, region, region_bytes, arena_offset, function_id,
                                                         request_offset, request_bytes));
  IMLANE_ASSIGN_OR_RETURN(
      uint64_t total,
      WriteResult(region, region_bytes, req.result_offset, req.def->name, req.def->return_types, req.view.num_rows(),
                  [&](BatchBuilder* out) { return python->Run(function_id, req.view, out); }));
  ServedBatch served;
  served.result = ResponsePlacement{req.result_offset, total, static_cast<uint64_t>(MonotonicNanos() - start)};
  served.rows = req.view.num_rows();
  return served;
}

Result<RemoteBatch> SubmitRemoteBatch(PythonRuntime* python, uint8_t* region, size_t region_bytes,
                                      uint64_t arena_offset, uint32_t function_id, uint64_t request_offset,
                                      uint64_t request_bytes) {
  RemoteBatch batch;
  batch.start_ns = MonotonicNanos();
  IMLANE_ASSIGN_OR_RETURN(OpenedRequest req, OpenRequest(python, region, region_bytes, arena_offset, function_id,
                                                         request_offset, request_bytes));
  IMLANE_ASSIGN_OR_RETURN(batch.token, python->Submit(function_id, req.view));
  batch.function_id = function_id;
  batch.result_offset = req.result_offset;
  batch.rows = req.view.num_rows();
  batch.name = req.def->name;
  batch.return_types = req.def->return_types;
  return batch;
}

Result<ServedBatch> FinishRemoteBatch(PythonRuntime* python, uint8_t* region, size_t region_bytes,
                                      const RemoteBatch& batch) {
  IMLANE_ASSIGN_OR_RETURN(uint64_t total, WriteResult(region, region_bytes, batch.result_offset, batch.name,
                                                      batch.return_types, batch.rows, [&](BatchBuilder* out) {
                                                        return python->FinishRemote(batch.function_id, batch.token,
                                                                                    batch.rows, out);
                                                      }));
  ServedBatch served;
  served.result =
      ResponsePlacement{batch.result_offset, total, static_cast<uint64_t>(MonotonicNanos() - batch.start_ns)};
  served.rows = batch.rows;
  return served;
}

}  // namespace imlane
