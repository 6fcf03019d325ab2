// The data conversion interface: how an engine's batches become Lane batches and results come back.
//
// An engine specialises TableConverter<EngineBatch, EngineVector> with:
//   static size_t NumRows(const EngineBatch& in);
//   // Appends rows [offset, offset + count) of `in` to `out`, writing each value once, into the Lane.
//   static Status Write(const EngineBatch& in, size_t offset, size_t count, BatchBuilder* out);
//   // Appends rows [offset, offset + count) of one result column to an engine vector.
//   static Status ReadColumn(const ColumnView& in, size_t offset, size_t count, EngineVector* out);
// DBEndContext::Push / Pull and BatchAccumulator work with any such specialisation.
#pragma once

#include "imlane/batch_builder.h"
#include "imlane/batch_view.h"
#include "imlane/column_batch.h"
#include "imlane/status.h"

namespace imlane {

template <typename EngineBatch, typename EngineVector>
struct TableConverter;  // no generic definition: an engine must say how its data looks

// Ready-made: plain C++ columns.
template <>
struct TableConverter<ColumnBatch, Column> {
  static size_t NumRows(const ColumnBatch& in) { return in.num_rows(); }
  static Status Write(const ColumnBatch& in, size_t offset, size_t count, BatchBuilder* out);
  static Status ReadColumn(const ColumnView& in, size_t offset, size_t count, Column* out);
};

using ColumnConverter = TableConverter<ColumnBatch, Column>;

}  // namespace imlane
