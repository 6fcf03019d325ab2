// The prediction operator: projections and filters that call IMLane functions are planned into
// PhysicalPredict, which batches at the model's size instead of DuckDB's 2048-row vectors. It
// buffers input chunks, writes the function arguments straight into Lane batches of the tuned size,
// keeps several batches in flight across executors while DuckDB keeps producing input, and then
// evaluates the projection (or filter) over each buffered chunk with the results spliced in.
#pragma once

#include "duckdb.hpp"
#include "duckdb/planner/expression/bound_function_expression.hpp"

namespace imlane {
namespace duckdb_integration {

bool IsIMLaneFunction(const duckdb::BoundFunctionExpression &expr);
const std::string &IMLaneFunctionName(const duckdb::BoundFunctionExpression &expr);

// Adds the optimizer extension that plans IMLane calls into the prediction operator.
void RegisterPredictionOptimizer(duckdb::DatabaseInstance &db);

}  // namespace duckdb_integration
}  // namespace imlane
