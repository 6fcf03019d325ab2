// The DuckDB specialisation of IMLane's data conversion interface: DataChunk -> Lane batch and
// Lane column -> DuckDB Vector. Flat, constant and dictionary vectors are read through DuckDB's
// unified format; flat fixed-width columns are copied in bulk with their validity masks (DuckDB's
// validity words have Arrow's bit order).
#pragma once

#include "duckdb.hpp"
#include "imlane/table_converter.h"

namespace imlane {

// DuckDB type -> Lane type; InvalidArgument naming the type when IMLane cannot carry it.
Result<TypeId> LaneTypeOf(const duckdb::LogicalType &type);
duckdb::LogicalType DuckDBTypeOf(TypeId type);

template <>
struct TableConverter<duckdb::DataChunk, duckdb::Vector> {
  static size_t NumRows(const duckdb::DataChunk &in) { return in.size(); }
  static Status Write(const duckdb::DataChunk &in, size_t offset, size_t count, BatchBuilder *out);
  // Writes rows [offset, offset + count) of `in` at positions [0, count) of `out` (made flat).
  static Status ReadColumn(const ColumnView &in, size_t offset, size_t count, duckdb::Vector *out);
};

using DuckDBConverter = TableConverter<duckdb::DataChunk, duckdb::Vector>;

// Writes rows [offset, offset + count) of `in` at positions [out_offset, out_offset + count) of the
// flat vector `out`: how the prediction operator re-slices a large result into DuckDB chunks.
Status ReadColumnAt(const ColumnView &in, size_t offset, size_t count, duckdb::Vector *out, size_t out_offset);

}  // namespace imlane
