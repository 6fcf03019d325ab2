// The scalar function every registered AI function becomes in DuckDB's system catalog, and how the
// rest of the integration recognises its calls in bound expressions.
//
// One type names the IMLane function of a call: IMLaneFunctionInfo, the ScalarFunctionInfo of the
// catalog's ScalarFunction. DuckDB copies the ScalarFunction (with its info) into every
// BoundFunctionExpression, so the fallback execution and the optimizer both read the name there;
// no bind data is needed. Calls are recognised by this info, never by the function's name (an alias
// or a DuckDB function of the same name must not count).
//
// Executing the scalar function is the fallback path: one Lane batch per DuckDB vector. Projections
// and filters are normally planned into the prediction operator instead (operator/physical_predict),
// which batches beyond the vector size; the fallback runs where it cannot (e.g. below a LIMIT).
#pragma once

#include <string>

#include "duckdb.hpp"
#include "duckdb/function/scalar_function.hpp"
#include "duckdb/planner/expression/bound_function_expression.hpp"
#include "imlane/dbend_context.h"

namespace imlane {
namespace duckdb_integration {

struct IMLaneFunctionInfo : public duckdb::ScalarFunctionInfo {
  explicit IMLaneFunctionInfo(std::string name_p) : name(std::move(name_p)) {}
  std::string name;  // the IMLane (coordinator) name of the function
};

struct IMLaneScalarFunction {
  // The DuckDB function for a registered AI function (exactly one return type); `side_effects`
  // makes it VOLATILE: evaluated for every row, never constant-folded or shared between calls.
  static duckdb::ScalarFunction GetFunction(const FunctionSpec &spec, bool side_effects);
};

bool IsIMLaneFunction(const duckdb::BoundFunctionExpression &expr);
// The IMLane function a call refers to; `expr` must be one (IsIMLaneFunction).
const std::string &IMLaneFunctionName(const duckdb::BoundFunctionExpression &expr);
// True when `expr` (or one of `exprs`) calls an IMLane function anywhere inside.
bool ContainsIMLane(const duckdb::Expression &expr);
bool ContainsIMLane(const duckdb::vector<duckdb::unique_ptr<duckdb::Expression>> &exprs);

}  // namespace duckdb_integration
}  // namespace imlane
