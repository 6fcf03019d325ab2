// BatchAccumulator: batches at the model's size, not the engine's. Engine batches (e.g. DuckDB's
// 2048-row vectors) are appended straight into an open Lane batch until it holds the recommended
// number of rows (the adaptive tuner's choice, or the pinned batch_rows); then it is submitted and
// the next one opened. Tickets come out in input order; results are re-sliced by the engine with
// TableConverter::ReadColumn(view, offset, count, ...).
//
// An engine that keeps its input until the results are back (to splice them into its own batches)
// asks Append for Placements: where each run of appended rows went. Lane batches are numbered 0, 1,
// 2, ... in the order they are submitted, which is the order their tickets come out: the k-th
// ticket this accumulator hands out is batch k.
//
// Options let the engine choose each batch's size (BatchRowsFn, called once per batch, never per
// row) and bound how many Lane batches one engine batch spans (rest_of_engine_batch).
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "imlane/dbend_context.h"

namespace imlane {

// Rows [input_offset, input_offset + count) of an appended engine batch went to rows
// [batch_offset, batch_offset + count) of Lane batch number `batch`.
struct Placement {
  size_t batch;
  size_t batch_offset;
  size_t count;
  size_t input_offset;
};

struct BatchAccumulatorOptions {
  // Rows of the next Lane batch; empty: DBEndContext::RecommendedBatchRows(function).
  std::function<size_t()> batch_rows;
  // A Lane batch begun inside an engine batch takes at least the rest of that engine batch, so an
  // engine batch spans at most two Lane batches (unless long strings overflow a Lane), whatever
  // the size: an engine that holds its input until all its batches are back then never needs more
  // slots than it can get.
  bool rest_of_engine_batch = false;
  SchedHint hint;
};

template <typename EngineBatch, typename EngineVector = Column>
class BatchAccumulator {
 public:
  using Converter = TableConverter<EngineBatch, EngineVector>;

  BatchAccumulator(DBEndContext* ctx, std::string function, SchedHint hint = {})
      : ctx_(ctx), function_(std::move(function)) {
    options_.hint = hint;
  }
  BatchAccumulator(DBEndContext* ctx, std::string function, BatchAccumulatorOptions options)
      : ctx_(ctx), function_(std::move(function)), options_(std::move(options)) {}
  // Every batch runs the version `pin` holds (a query's version; see FunctionPin), which must
  // outlive the accumulator.
  BatchAccumulator(DBEndContext* ctx, const FunctionPin* pin, BatchAccumulatorOptions options)
      : ctx_(ctx), function_(pin->name()), pin_(pin), options_(std::move(options)) {}

  // Appends every row of `batch`; each batch that fills up is submitted and its ticket appended to
  // `submitted`. With `placements`, one Placement per run of rows is appended to it as well.
  Status Append(const EngineBatch& batch, std::vector<Ticket>* submitted,
                std::vector<Placement>* placements = nullptr) {
    const size_t n = Converter::NumRows(batch);
    size_t offset = 0;
    while (offset < n) {
      if (!open_) {
        size_t rows = options_.batch_rows ? options_.batch_rows()
                      : pin_              ? ctx_->RecommendedBatchRows(*pin_)
                                          : ctx_->RecommendedBatchRows(function_);
        if (options_.rest_of_engine_batch && offset > 0) rows = std::max(rows, n - offset);
        IMLANE_ASSIGN_OR_RETURN(OpenBatch open, pin_ ? ctx_->BeginBatch(*pin_, rows, options_.hint)
                                                     : ctx_->BeginBatch(function_, rows, options_.hint));
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
      if (placements) placements->push_back(Placement{next_batch_, before, take, offset});
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
    if (open.num_rows() == 0) return Status::OK();  // the slot goes back unused; the number stays
    IMLANE_ASSIGN_OR_RETURN(Ticket t, ctx_->Submit(std::move(open)));
    next_batch_++;
    submitted->push_back(t);
    return Status::OK();
  }

  size_t buffered_rows() const { return open_ ? open_->num_rows() : 0; }
  // Number of the open batch, or of the next one to open: every batch below it has been submitted.
  size_t next_batch() const { return next_batch_; }

 private:
  DBEndContext* ctx_;
  std::string function_;
  const FunctionPin* pin_ = nullptr;  // null: each batch runs the function's current version
  BatchAccumulatorOptions options_;
  std::optional<OpenBatch> open_;
  size_t next_batch_ = 0;
};

}  // namespace imlane
