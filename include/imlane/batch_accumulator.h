// BatchAccumulator: batches at the model's size, not the engine's. Engine batches (e.g. DuckDB's
// 2048-row vectors) are appended straight into an open Lane batch until it holds the recommended
// number of rows (the adaptive tuner's choice, or the pinned batch_rows); then it is submitted and
// the next one opened. Tickets come out in input order; results are re-sliced by the engine with
// TableConverter::ReadColumn(view, offset, count, ...).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "imlane/dbend_context.h"

namespace imlane {

template <typename EngineBatch, typename EngineVector = Column>
class BatchAccumulator {
 public:
  using Converter = TableConverter<EngineBatch, EngineVector>;

  BatchAccumulator(DBEndContext* ctx, std::string function, SchedHint hint = {})
      : ctx_(ctx), function_(std::move(function)), hint_(hint) {}

  // Appends every row of `batch`; each batch that fills up is submitted and its ticket appended to
  // `submitted`.
  Status Append(const EngineBatch& batch, std::vector<Ticket>* submitted) {
    const size_t n = Converter::NumRows(batch);
    size_t offset = 0;
    while (offset < n) {
      if (!open_) {
        IMLANE_ASSIGN_OR_RETURN(OpenBatch open, ctx_->BeginBatch(function_, ctx_->RecommendedBatchRows(function_), hint_));
        open_.emplace(std::move(open));
      }
      const size_t before = open_->num_rows();
      size_t take = std::min(n - offset, open_->capacity_rows() - before);
      Status st = Converter::Write(batch, offset, take, &open_->builder());
      while (st.code() == StatusCode::kCapacityExceeded && before == 0 && take > 1) {
        // Long strings filled the Lane first: try fewer rows.
        open_->builder().Truncate(0);
        take /= 2;
        st = Converter::Write(batch, offset, take, &open_->builder());
      }
      if (st.code() == StatusCode::kCapacityExceeded && before > 0) {
        open_->builder().Truncate(before);  // ship what fits, retry the rest in a fresh batch
        IMLANE_RETURN_NOT_OK(Flush(submitted));
        continue;
      }
      IMLANE_RETURN_NOT_OK(st);
      offset += take;
      if (open_->num_rows() == open_->capacity_rows()) IMLANE_RETURN_NOT_OK(Flush(submitted));
    }
    return Status::OK();
  }

  // Submits the partly filled batch, if any (end of input).
  Status Flush(std::vector<Ticket>* submitted) {
    if (!open_) return Status::OK();
    OpenBatch open = std::move(*open_);
    open_.reset();
    if (open.num_rows() == 0) return Status::OK();  // the slot goes back unused
    IMLANE_ASSIGN_OR_RETURN(Ticket t, ctx_->Submit(std::move(open)));
    submitted->push_back(t);
    return Status::OK();
  }

  size_t buffered_rows() const { return open_ ? open_->num_rows() : 0; }

 private:
  DBEndContext* ctx_;
  std::string function_;
  SchedHint hint_;
  std::optional<OpenBatch> open_;
};

}  // namespace imlane
