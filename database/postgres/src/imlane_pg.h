// IMLane's PostgreSQL 15 extension: what its translation units share.
//
// PostgreSQL reports errors with ereport(ERROR), a longjmp. A longjmp must never cross a C++ frame
// that holds objects with destructors, so every function here keeps its C++ objects in inner
// scopes or helpers that return a palloc'd message (or an ErrorData), and raises the PostgreSQL
// error only from a frame with nothing left to destroy.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/elog.h"
}

#include <string>
#include <vector>

#include "imlane/imlane.h"

namespace imlane {
namespace pg {

// GUCs (imlane.*), defined in imlane_pg.cpp.
extern int guc_batch_size;
extern int guc_timeout_ms;
extern int guc_inflight_batches;
extern int guc_cancel_grace_ms;
extern bool guc_enable_batching;

// A function as this backend knows it: its name and Lane signature.
struct FnMeta {
  std::string name;
  std::vector<TypeId> arg_types;
  TypeId return_type = TypeId::kDouble;
  size_t batch_rows = 0;    // imlane_create_function(batch_size => ...); 0: the GUC, then the tuner
  uint64_t generation = 0;  // the backend's context it was looked up with
};

// The backend's DBEndContext, set up at first use; nullptr and *err (palloc'd) when it cannot be.
DBEndContext* Context(char** err);
// The function `name` for this backend: registered with the coordinator again from imlane_registry
// when the coordinator does not know it (it was restarted, or is another one). nullptr and *err on
// failure. `sql_fn` is the SQL function being called: its types must match the Lane signature
// (a definition replaced by another session is looked up again).
const FnMeta* LookupFunction(const char* name, Oid sql_fn, char** err);
// Rows per Lane batch for a function: imlane.batch_size, else its own batch_size, else the tuner.
size_t BatchRows(DBEndContext* ctx, const FnMeta& fn);

// "imlane function "f": <status>" in the current memory context.
char* ErrorText(const Status& st, const char* function);
// Runs CHECK_FOR_INTERRUPTS; returns the error it raised (query cancel, statement_timeout), caught
// and copied, or nullptr. The caller cleans up and then calls ReThrowError.
ErrorData* CatchInterrupts();
// Waits for a ticket's result, looking at PostgreSQL's interrupts between 50 ms waits. Returns
// nullptr when the result is ready (Pull will not block) or the timeout has passed (Pull names it);
// on an interrupt the caught error, and the caller stops its tickets with StopTickets.
ErrorData* WaitForTicket(DBEndContext* ctx, Ticket ticket, char** err, const char* function);
// Ends tickets whose statement was cancelled: each may finish within imlane.cancel_grace_ms (its
// result is dropped); one still running then has its executor replaced, so that a hung function
// stops instead of holding the executor. Ignores further interrupts.
void StopTickets(DBEndContext* ctx, const std::vector<Ticket>& tickets);

// Lane type <-> PostgreSQL type.
Oid PgTypeOf(TypeId type);
const char* PgTypeName(TypeId type);
// Appends one PostgreSQL value (of PgTypeOf(type)) to a Lane column.
Status AppendDatum(ColumnBuilder* out, TypeId type, Datum value, bool isnull);
// One Lane value as a PostgreSQL Datum (text is palloc'd in the current memory context). A VARCHAR
// that is not UTF-8 (or whose offsets left the column) sets *err (naming `function`) and *isnull.
Datum ReadDatum(const ColumnView& in, size_t row, bool* isnull, const char* function, char** err);

// The name of the IMLane function behind pg_proc entry `funcid` (a C function whose symbol is
// imlane_call), or false.
bool IsIMLaneCall(Oid funcid, std::string* name);

// Installs the planner hook that puts IMLane calls of scans into batching CustomScans.
void InstallBatchScan();

}  // namespace pg
}  // namespace imlane
