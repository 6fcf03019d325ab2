// PhysicalPredict (IMLANE_PREDICT_PROJECTION / IMLANE_PREDICT_FILTER): a projection or filter whose
// IMLane calls are batched at the model's size instead of DuckDB's 2048-row vectors. Each thread
// buffers its input chunks, appends the calls' arguments straight into Lane batches
// (BatchAccumulator), keeps up to two batches in flight while DuckDB keeps producing input, and
// emits the projection (or the filter's selection) of its oldest chunk once every batch holding
// that chunk's rows is back, with the results spliced in. FinalExecute flushes the partial batch.
//
// Output leaves later than its input, so the operator declares NO_ORDER (as an operator and as a
// source; see IsSource below).
#pragma once

#include <string>

#include "duckdb.hpp"
#include "duckdb/execution/physical_operator.hpp"

namespace imlane {
namespace duckdb_integration {

// One distinct IMLane call of the operator: its function, argument expressions, result type.
struct PredictCall {
  std::string function;
  duckdb::vector<duckdb::unique_ptr<duckdb::Expression>> args;
  duckdb::vector<duckdb::LogicalType> arg_types;
  duckdb::LogicalType return_type;
};

class PhysicalPredict : public duckdb::PhysicalOperator {
 public:
  // For a filter, expressions[num_predicates..] are calls whose results the filter also outputs
  // (after the input columns), so that the projection above reuses them instead of calling again.
  PhysicalPredict(duckdb::PhysicalPlan &plan, duckdb::vector<duckdb::LogicalType> types, duckdb::idx_t cardinality,
                  bool is_filter, duckdb::vector<duckdb::unique_ptr<duckdb::Expression>> expressions,
                  duckdb::idx_t num_predicates, duckdb::vector<duckdb::idx_t> projection_map,
                  duckdb::vector<duckdb::LogicalType> input_types);

  duckdb::string GetName() const override;
  duckdb::InsertionOrderPreservingMap<duckdb::string> ParamsToString() const override;

  bool ParallelOperator() const override { return true; }
  bool RequiresFinalExecute() const override { return true; }
  // Results leave in input order per thread, but later than their input arrived.
  duckdb::OrderPreservationType OperatorOrder() const override { return duckdb::OrderPreservationType::NO_ORDER; }
  // DuckDB 1.4's planner never asks OperatorOrder() when it picks the sink: PreserveInsertionOrder()
  // (OrderPreservationRecursive) only reads SourceOrder() of operators whose IsSource() is true.
  // Without this, with threads > 1 it picks a batch-index sink (PhysicalBatchCollector,
  // PhysicalBatchInsert, PhysicalBatchCopyToFile, PhysicalLimit), and since the pipeline executor
  // gives every thread's FinalExecute output the pipeline's maximum batch index, those sinks fail
  // on the duplicate ("batch index ... is present in both collections"). Declaring NO_ORDER here
  // makes it pick the parallel unordered sinks instead. Nothing else in DuckDB 1.4 reads IsSource()
  // of a non-join operator: pipeline sources are chosen by structure (a leaf or a sink), never by
  // IsSource(), so GetData is never called on this operator.
  bool IsSource() const override { return true; }
  duckdb::OrderPreservationType SourceOrder() const override { return duckdb::OrderPreservationType::NO_ORDER; }

  duckdb::unique_ptr<duckdb::OperatorState> GetOperatorState(duckdb::ExecutionContext &context) const override;
  duckdb::OperatorResultType Execute(duckdb::ExecutionContext &context, duckdb::DataChunk &input,
                                     duckdb::DataChunk &chunk, duckdb::GlobalOperatorState &gstate,
                                     duckdb::OperatorState &state) const override;
  duckdb::OperatorFinalizeResultType FinalExecute(duckdb::ExecutionContext &context, duckdb::DataChunk &chunk,
                                                  duckdb::GlobalOperatorState &gstate,
                                                  duckdb::OperatorState &state) const override;

  bool is_filter;
  duckdb::vector<duckdb::idx_t> projection_map;
  duckdb::vector<duckdb::LogicalType> input_types;
  // The input columns, then one column per call with its result.
  duckdb::vector<duckdb::LogicalType> extended_types;
  duckdb::vector<PredictCall> calls;
  // The projections, or the filter's predicates (one conjunction), over the extended columns.
  duckdb::vector<duckdb::unique_ptr<duckdb::Expression>> expressions;
  duckdb::vector<duckdb::idx_t> exported;  // filter: extended columns also output after the input columns

 private:
  // Replaces each IMLane call in `expr` by a reference to its extended column.
  void ExtractCalls(duckdb::unique_ptr<duckdb::Expression> &expr);
};

}  // namespace duckdb_integration
}  // namespace imlane
