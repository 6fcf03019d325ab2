// Batch-aware execution: a planner hook that moves IMLane calls out of row-at-a-time expression
// evaluation into an "IMLane Batch" CustomScan, which reads many rows from its child, sends each
// call's arguments as Lane batches (several in flight), and returns the rows with the results.
//
// Two placements, both after standard_planner (so on final, set_plan_references'd plans):
//  (A) a scan or join P whose target list or filter calls IMLane functions becomes
//        IMLaneBatch [tlist and call filters of P]  ->  P' [the Vars they use; P's other quals]
//      so cheap filters run first and only surviving rows reach the model.
//  (B) an Agg / WindowAgg / Group / Result / ProjectSet U whose expressions call IMLane functions on
//      its child's columns (e.g. avg(f(x))) gets IMLaneBatch inserted under it; the calls become
//      extra child columns.
// Calls elsewhere (join conditions, inside sub-plans, over aggregates) stay row-at-a-time
// (imlane_call). The scan tuple of IMLaneBatch is its child's columns followed by one column per
// call; its own target list and qual refer to it as INDEX_VAR.
#include "imlane_pg.h"

extern "C" {
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "utils/memutils.h"
}

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>

namespace imlane {
namespace pg {

namespace {

constexpr const char* kName = "IMLane Batch";

planner_hook_type g_prev_planner = nullptr;

// ---------------------------------------------------------------- planning

bool ContainsUnmovable(Node* node, void*) {
  if (node == nullptr) return false;
  if (IsA(node, Aggref) || IsA(node, WindowFunc) || IsA(node, GroupingFunc) || IsA(node, SubPlan) ||
      IsA(node, AlternativeSubPlan)) {
    return true;
  }
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(ContainsUnmovable), nullptr);
}

bool ContainsSubPlan(Node* node, void*) {
  if (node == nullptr) return false;
  if (IsA(node, SubPlan) || IsA(node, AlternativeSubPlan)) return true;
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(ContainsSubPlan), nullptr);
}

bool OnlyOuterVars(Node* node, void*) {
  if (node == nullptr) return false;
  if (IsA(node, Var)) return reinterpret_cast<Var*>(node)->varno != OUTER_VAR;  // true = not allowed
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(OnlyOuterVars), nullptr);
}

struct Collect {
  List* calls = NIL;        // distinct FuncExprs (equal() ones are computed once)
  bool outer_only = false;  // (B): arguments may use only the child's columns
};

bool CollectCalls(Node* node, Collect* c) {
  if (node == nullptr) return false;
  if (IsA(node, SubPlan) || IsA(node, AlternativeSubPlan)) return false;  // its own context
  if (IsA(node, FuncExpr)) {
    auto* f = reinterpret_cast<FuncExpr*>(node);
    if (!f->funcretset && IsIMLaneCall(f->funcid, nullptr) &&
        !ContainsUnmovable(reinterpret_cast<Node*>(f->args), nullptr) &&
        !(c->outer_only && OnlyOuterVars(reinterpret_cast<Node*>(f->args), nullptr))) {
      if (!list_member(c->calls, f)) c->calls = lappend(c->calls, f);
      return false;
    }
  }
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(CollectCalls), c);
}

bool CollectVars(Node* node, List** vars) {
  if (node == nullptr) return false;
  if (IsA(node, Var)) {
    if (!list_member(*vars, node)) *vars = lappend(*vars, node);
    return false;
  }
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(CollectVars), vars);
}

struct Rewrite {
  List* calls;  // replaced by Var(call_varno, first_call + index)
  int call_varno;
  int first_call;
  List* vars = NIL;  // (A): replaced by Var(var_varno, 1 + index); NIL: Vars stay
  int var_varno = 0;
};

Var* VarFor(int varno, int attno, Node* expr) {
  return makeVar(varno, static_cast<AttrNumber>(attno), exprType(expr), exprTypmod(expr), exprCollation(expr), 0);
}

Node* RewriteExpr(Node* node, Rewrite* r) {
  if (node == nullptr) return nullptr;
  if (IsA(node, FuncExpr)) {
    int i = 0;
    ListCell* lc;
    foreach (lc, r->calls) {
      if (equal(lfirst(lc), node)) return reinterpret_cast<Node*>(VarFor(r->call_varno, r->first_call + i, node));
      i++;
    }
  }
  if (IsA(node, Var) && r->vars != NIL) {
    int i = 1;
    ListCell* lc;
    foreach (lc, r->vars) {
      if (equal(lfirst(lc), node)) return reinterpret_cast<Node*>(VarFor(r->var_varno, i, node));
      i++;
    }
  }
  if (IsA(node, SubPlan) || IsA(node, AlternativeSubPlan)) return reinterpret_cast<Node*>(copyObjectImpl(node));
  return expression_tree_mutator(node, reinterpret_cast<Node* (*)()>(RewriteExpr), r);
}

List* RewriteTlist(List* tlist, Rewrite* r) {
  List* out = NIL;
  ListCell* lc;
  foreach (lc, tlist) {
    TargetEntry* te = flatCopyTargetEntry(static_cast<TargetEntry*>(lfirst(lc)));
    te->expr = reinterpret_cast<Expr*>(RewriteExpr(reinterpret_cast<Node*>(te->expr), r));
    out = lappend(out, te);
  }
  return out;
}

extern CustomScanMethods g_scan_methods;
extern CustomExecMethods g_exec_methods;
int g_next_plan_id = 0;  // plan_node_ids must stay unique (parallel workers and EXPLAIN ANALYZE use them)

// The CustomScan over `child`, whose output columns are `child_cols` (Vars of the child's tlist
// as seen from above: OUTER_VAR) and calls (arguments over OUTER_VAR).
CustomScan* MakeBatchScan(Plan* child, List* child_cols, List* calls, List* tlist, List* qual, Plan* like) {
  CustomScan* cs = makeNode(CustomScan);
  cs->scan.plan.lefttree = child;
  cs->scan.plan.targetlist = tlist;
  cs->scan.plan.qual = qual;
  cs->scan.scanrelid = 0;
  cs->scan.plan.startup_cost = like->startup_cost;
  cs->scan.plan.total_cost = like->total_cost;
  cs->scan.plan.plan_rows = like->plan_rows;
  cs->scan.plan.plan_width = like->plan_width;
  cs->scan.plan.parallel_safe = like->parallel_safe;
  cs->scan.plan.parallel_aware = false;
  cs->flags = 0;
  cs->scan.plan.plan_node_id = g_next_plan_id++;
  List* scan_tlist = NIL;
  int resno = 1;
  ListCell* lc;
  foreach (lc, child_cols) {
    scan_tlist = lappend(scan_tlist, makeTargetEntry(static_cast<Expr*>(lfirst(lc)), resno++, nullptr, false));
  }
  List* names = NIL;
  List* oids = NIL;
  foreach (lc, calls) {
    auto* f = static_cast<FuncExpr*>(lfirst(lc));
    oids = lappend_oid(oids, f->funcid);
    scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr*>(f), resno++, nullptr, false));
    std::string name;
    IsIMLaneCall(f->funcid, &name);
    names = lappend(names, makeString(pstrdup(name.c_str())));
  }
  cs->custom_scan_tlist = scan_tlist;
  cs->custom_private = list_make3(makeInteger(list_length(child_cols)), names, oids);
  cs->methods = &g_scan_methods;
  return cs;
}

// Splits `quals` into those that call IMLane functions (their calls added to c) and the rest.
void SplitQuals(List* quals, Collect* c, List** moved, List** kept) {
  ListCell* lc;
  foreach (lc, quals) {
    Collect q;
    CollectCalls(static_cast<Node*>(lfirst(lc)), &q);
    if (q.calls != NIL) {
      *moved = lappend(*moved, lfirst(lc));
      ListCell* lq;
      foreach (lq, q.calls) {
        if (!list_member(c->calls, lfirst(lq))) c->calls = lappend(c->calls, lfirst(lq));
      }
    } else {
      *kept = lappend(*kept, lfirst(lc));
    }
  }
}

// (A): P computes its target list and filter from its own inputs.
Plan* WrapNode(Plan* p) {
  Collect c;
  CollectCalls(reinterpret_cast<Node*>(p->targetlist), &c);
  List* moved_qual = NIL;
  List* kept_qual = NIL;
  SplitQuals(p->qual, &c, &moved_qual, &kept_qual);
  // An inner join's join filter means the same as a filter above it (not so for outer, semi or
  // anti joins, whose join filter decides which rows are matched): a call there is moved up too.
  List* kept_joinqual = NIL;
  Join* join = (IsA(p, NestLoop) || IsA(p, MergeJoin) || IsA(p, HashJoin)) ? reinterpret_cast<Join*>(p) : nullptr;
  if (join != nullptr) {
    if (join->jointype == JOIN_INNER) {
      SplitQuals(join->joinqual, &c, &moved_qual, &kept_joinqual);
    } else {
      kept_joinqual = join->joinqual;
    }
  }
  ListCell* lc;
  if (c.calls == NIL) return p;
  if (ContainsSubPlan(reinterpret_cast<Node*>(p->targetlist), nullptr) ||
      ContainsSubPlan(reinterpret_cast<Node*>(moved_qual), nullptr)) {
    return p;
  }
  List* vars = NIL;
  CollectVars(reinterpret_cast<Node*>(p->targetlist), &vars);
  CollectVars(reinterpret_cast<Node*>(moved_qual), &vars);

  Plan* child = static_cast<Plan*>(copyObjectImpl(p));
  List* child_tlist = NIL;
  AttrNumber resno = 1;
  foreach (lc, vars) {
    child_tlist =
        lappend(child_tlist, makeTargetEntry(static_cast<Expr*>(copyObjectImpl(lfirst(lc))), resno++, nullptr, false));
  }
  child->targetlist = child_tlist;
  child->qual = kept_qual;
  if (join != nullptr) reinterpret_cast<Join*>(child)->joinqual = kept_joinqual;

  // Above the child: its columns are OUTER_VAR 1..n (for the calls' arguments and EXPLAIN) and
  // INDEX_VAR 1..n in the scan tuple (for the target list and filter).
  const int n = list_length(vars);
  Rewrite args{NIL, 0, 0, vars, OUTER_VAR};
  List* calls = NIL;
  foreach (lc, c.calls) calls = lappend(calls, RewriteExpr(static_cast<Node*>(lfirst(lc)), &args));
  List* child_cols = NIL;
  foreach (lc, vars)
    child_cols = lappend(child_cols, VarFor(OUTER_VAR, foreach_current_index(lc) + 1, static_cast<Node*>(lfirst(lc))));
  Rewrite top{c.calls, INDEX_VAR, n + 1, vars, INDEX_VAR};
  List* tlist = RewriteTlist(p->targetlist, &top);
  List* qual = reinterpret_cast<List*>(RewriteExpr(reinterpret_cast<Node*>(moved_qual), &top));
  return reinterpret_cast<Plan*>(MakeBatchScan(child, child_cols, calls, tlist, qual, p));
}

// (B): U evaluates calls over its child's columns: compute them under U.
void InsertUnder(Plan* u) {
  Plan* child = u->lefttree;
  if (child == nullptr || u->righttree != nullptr) return;
  Collect c;
  c.outer_only = true;
  CollectCalls(reinterpret_cast<Node*>(u->targetlist), &c);
  CollectCalls(reinterpret_cast<Node*>(u->qual), &c);
  if (c.calls == NIL) return;
  List* child_cols = NIL;
  List* tlist = NIL;
  ListCell* lc;
  int resno = 1;
  foreach (lc, child->targetlist) {
    auto* te = static_cast<TargetEntry*>(lfirst(lc));
    child_cols = lappend(child_cols, VarFor(OUTER_VAR, resno, reinterpret_cast<Node*>(te->expr)));
    tlist = lappend(
        tlist, makeTargetEntry(reinterpret_cast<Expr*>(VarFor(INDEX_VAR, resno, reinterpret_cast<Node*>(te->expr))),
                               resno, nullptr, false));
    resno++;
  }
  const int n = list_length(child_cols);
  foreach (lc, c.calls) {
    auto* f = static_cast<Node*>(lfirst(lc));
    tlist =
        lappend(tlist, makeTargetEntry(reinterpret_cast<Expr*>(VarFor(INDEX_VAR, resno, f)), resno, nullptr, false));
    resno++;
  }
  Rewrite up{c.calls, OUTER_VAR, n + 1};
  u->targetlist = RewriteTlist(u->targetlist, &up);
  u->qual = reinterpret_cast<List*>(RewriteExpr(reinterpret_cast<Node*>(u->qual), &up));
  u->lefttree = reinterpret_cast<Plan*>(MakeBatchScan(child, child_cols, c.calls, tlist, NIL, child));
}

Plan* RewritePlan(Plan* p, bool may_wrap);

List* RewriteList(List* plans) {
  ListCell* lc;
  foreach (lc, plans) lfirst(lc) = RewritePlan(static_cast<Plan*>(lfirst(lc)), true);
  return plans;
}

Plan* RewritePlan(Plan* p, bool may_wrap) {
  if (p == nullptr) return nullptr;
  // A merge join marks and restores its inner side, which IMLane Batch cannot.
  p->lefttree = RewritePlan(p->lefttree, true);
  p->righttree = RewritePlan(p->righttree, !IsA(p, MergeJoin));
  switch (nodeTag(p)) {
    case T_Append: RewriteList(reinterpret_cast<Append*>(p)->appendplans); break;
    case T_MergeAppend: RewriteList(reinterpret_cast<MergeAppend*>(p)->mergeplans); break;
    case T_SubqueryScan: {
      auto* s = reinterpret_cast<SubqueryScan*>(p);
      s->subplan = RewritePlan(s->subplan, true);
      break;
    }
    case T_CustomScan: RewriteList(reinterpret_cast<CustomScan*>(p)->custom_plans); break;
    default: break;
  }
  switch (nodeTag(p)) {
    case T_SeqScan:
    case T_SampleScan:
    case T_IndexScan:
    case T_IndexOnlyScan:
    case T_BitmapHeapScan:
    case T_TidScan:
    case T_TidRangeScan:
    case T_SubqueryScan:
    case T_FunctionScan:
    case T_ValuesScan:
    case T_CteScan:
    case T_NestLoop:
    case T_MergeJoin:
    case T_HashJoin: return may_wrap ? WrapNode(p) : p;
    case T_Agg:
    case T_WindowAgg:
    case T_Group:
    case T_Result:
    case T_ProjectSet: InsertUnder(p); return p;
    default: return p;
  }
}

int MaxPlanId(Plan* p) {
  if (p == nullptr) return -1;
  int m = std::max({p->plan_node_id, MaxPlanId(p->lefttree), MaxPlanId(p->righttree)});
  List* kids = NIL;
  switch (nodeTag(p)) {
    case T_Append: kids = reinterpret_cast<Append*>(p)->appendplans; break;
    case T_MergeAppend: kids = reinterpret_cast<MergeAppend*>(p)->mergeplans; break;
    case T_BitmapAnd: kids = reinterpret_cast<BitmapAnd*>(p)->bitmapplans; break;
    case T_BitmapOr: kids = reinterpret_cast<BitmapOr*>(p)->bitmapplans; break;
    case T_CustomScan: kids = reinterpret_cast<CustomScan*>(p)->custom_plans; break;
    case T_SubqueryScan: m = std::max(m, MaxPlanId(reinterpret_cast<SubqueryScan*>(p)->subplan)); break;
    default: break;
  }
  ListCell* lc;
  foreach (lc, kids) m = std::max(m, MaxPlanId(static_cast<Plan*>(lfirst(lc))));
  return m;
}

PlannedStmt* Planner(Query* parse, const char* query_string, int cursor_options, ParamListInfo params) {
  PlannedStmt* stmt = g_prev_planner ? g_prev_planner(parse, query_string, cursor_options, params)
                                     : standard_planner(parse, query_string, cursor_options, params);
  // Only queries (not UPDATE/DELETE with their row re-checks), and no backward-scrolling cursors.
  if (!guc_enable_batching || stmt->commandType != CMD_SELECT || (cursor_options & CURSOR_OPT_SCROLL)) return stmt;
  g_next_plan_id = MaxPlanId(stmt->planTree) + 1;
  ListCell* lc;
  foreach (lc, stmt->subplans) g_next_plan_id = std::max(g_next_plan_id, MaxPlanId(static_cast<Plan*>(lfirst(lc))) + 1);
  stmt->planTree = RewritePlan(stmt->planTree, true);
  foreach (lc, stmt->subplans) lfirst(lc) = RewritePlan(static_cast<Plan*>(lfirst(lc)), true);
  return stmt;
}

// ---------------------------------------------------------------- execution

// One batch of child rows and, per call, its ticket and then its result.
struct Batch {
  MemoryContext mcxt = nullptr;  // the child rows (MinimalTuples)
  std::vector<MinimalTuple> rows;
  std::vector<Ticket> tickets;
  std::vector<PulledBatch> results;
};

struct State {
  DBEndContext* ctx = nullptr;
  std::vector<const FnMeta*> fns;
  std::deque<Batch> inflight;
  std::optional<Batch> current;  // rows being returned
  size_t next_row = 0;
  bool input_done = false;
  MinimalTuple carry = nullptr;  // a row that did not fit the last batch
  size_t max_inflight = 1;

  ~State() {
    // On error the query's memory (the rows) is gone already; only DBEnd's slots are given back.
    for (auto& b : inflight) {
      for (Ticket t : b.tickets) ctx->Discard(t);
    }
  }
};

struct BatchScanState {
  CustomScanState css;
  int n_child = 0;
  List* names = NIL;
  List* oids = NIL;        // the SQL functions called
  List* arg_states = NIL;  // per call: a List of ExprStates over the child's tuple (OUTER_VAR)
  ExprContext* arg_econtext = nullptr;
  TupleTableSlot* row_slot = nullptr;  // a stored child row, read back
  State* state = nullptr;
  MemoryContextCallback cleanup;
};

void DeleteState(void* arg) {
  auto* s = static_cast<BatchScanState*>(arg);
  delete s->state;
  s->state = nullptr;
}

Node* CreateState(CustomScan* cs) {
  auto* s = reinterpret_cast<BatchScanState*>(newNode(sizeof(BatchScanState), T_CustomScanState));
  s->css.methods = &g_exec_methods;
  s->n_child = intVal(linitial(cs->custom_private));
  s->names = static_cast<List*>(lsecond(cs->custom_private));
  s->oids = static_cast<List*>(lthird(cs->custom_private));
  return reinterpret_cast<Node*>(s);
}

void BeginScan(CustomScanState* node, EState* estate, int eflags) {
  auto* s = reinterpret_cast<BatchScanState*>(node);
  auto* cs = reinterpret_cast<CustomScan*>(node->ss.ps.plan);
  outerPlanState(node) = ExecInitNode(outerPlan(cs), estate, eflags);
  // The arguments are evaluated over stored copies of the child's rows (MinimalTuple slots), not
  // over the child's own result slots: tell the expression compiler not to assume their kind.
  node->ss.ps.outeropsset = true;
  node->ss.ps.outeropsfixed = false;
  node->ss.ps.outerops = nullptr;
  ListCell* lc;
  for_each_from(lc, cs->custom_scan_tlist, s->n_child) {
    auto* f = reinterpret_cast<FuncExpr*>(static_cast<TargetEntry*>(lfirst(lc))->expr);
    s->arg_states = lappend(s->arg_states, ExecInitExprList(f->args, &node->ss.ps));
  }
  s->arg_econtext = CreateExprContext(estate);
  s->row_slot = ExecInitExtraTupleSlot(estate, ExecGetResultType(outerPlanState(node)), &TTSOpsMinimalTuple);
  s->cleanup.func = DeleteState;
  s->cleanup.arg = s;
  MemoryContextRegisterResetCallback(estate->es_query_cxt, &s->cleanup);
}

// Connects and looks the functions up at the first row (EXPLAIN alone never reaches the coordinator).
char* Start(BatchScanState* s) {
  char* err = nullptr;
  DBEndContext* ctx = Context(&err);
  if (!ctx) return err;
  std::vector<const FnMeta*> fns;
  ListCell* lc;
  foreach (lc, s->names) {
    const FnMeta* fn = LookupFunction(strVal(lfirst(lc)), list_nth_oid(s->oids, foreach_current_index(lc)), &err);
    if (!fn) return err;
    fns.push_back(fn);
  }
  s->state = new State();
  s->state->ctx = ctx;
  s->state->fns = std::move(fns);
  auto info = ctx->GetFunction(s->state->fns[0]->name);
  const int slots = info.ok() ? info->slots : 1;
  s->state->max_inflight = static_cast<size_t>(std::max(1, std::min(guc_inflight_batches, slots)));
  return nullptr;
}

// Appends one child row's arguments to every call's open batch. C++ work; errors as text.
Status AppendRow(BatchScanState* s, std::vector<OpenBatch>& open, TupleTableSlot* child) {
  ExprContext* ec = s->arg_econtext;
  ResetExprContext(ec);
  ec->ecxt_outertuple = child;
  MemoryContext old = MemoryContextSwitchTo(ec->ecxt_per_tuple_memory);
  int k = 0;
  ListCell* lc;
  Status st;
  foreach (lc, s->arg_states) {
    const FnMeta* fn = s->state->fns[k];
    BatchBuilder& b = open[k].builder();
    int j = 0;
    ListCell* la;
    foreach (la, static_cast<List*>(lfirst(lc))) {
      bool isnull;
      Datum d = ExecEvalExpr(static_cast<ExprState*>(lfirst(la)), ec, &isnull);
      st = AppendDatum(&b.column(j), fn->arg_types[j], d, isnull);
      if (!st.ok()) break;
      j++;
    }
    if (!st.ok()) break;
    k++;
  }
  MemoryContextSwitchTo(old);
  return st;
}

// The next child row (nullptr at the end), copied into `mcxt`, with its arguments appended to
// the open batches (*st). The child and the argument expressions may raise PostgreSQL errors:
// they are caught here and returned, so that the caller can give its Lane slots back first.
ErrorData* FetchRow(BatchScanState* s, MemoryContext mcxt, std::vector<OpenBatch>& open, MinimalTuple* row,
                    Status* st) {
  State* state = s->state;
  MemoryContext caller = CurrentMemoryContext;
  ErrorData* volatile caught = nullptr;
  PG_TRY();
  {
    MinimalTuple r = nullptr;
    if (state->carry != nullptr) {
      MemoryContext old = MemoryContextSwitchTo(mcxt);
      r = heap_copy_minimal_tuple(state->carry);
      MemoryContextSwitchTo(old);
      pfree(state->carry);
      state->carry = nullptr;
    } else if (!state->input_done) {
      TupleTableSlot* slot = ExecProcNode(outerPlanState(&s->css));
      if (TupIsNull(slot)) {
        state->input_done = true;
      } else {
        MemoryContext old = MemoryContextSwitchTo(mcxt);
        r = ExecCopySlotMinimalTuple(slot);
        MemoryContextSwitchTo(old);
      }
    }
    if (r != nullptr) {
      ExecStoreMinimalTuple(r, s->row_slot, false);
      *st = AppendRow(s, open, s->row_slot);
    }
    *row = r;
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller);
    caught = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  return caught;
}

// Fills one batch from the child and submits it. Returns an error text (or *ed), or nullptr.
char* FillBatch(BatchScanState* s, EState* estate, ErrorData** ed) {
  State* st = s->state;
  Batch batch;
  std::vector<OpenBatch> open;
  for (const FnMeta* fn : st->fns) {
    // Asked per batch: the adaptive tuner moves while a long scan runs.
    auto b = st->ctx->BeginBatch(fn->name, std::max<size_t>(1, BatchRows(st->ctx, *fn)));
    if (!b.ok()) return ErrorText(b.status(), fn->name.c_str());
    if (b->builder().num_columns() != fn->arg_types.size()) {
      return psprintf("imlane function \"%s\": the Lane batch has %zu columns, the function %zu arguments",
                      fn->name.c_str(), b->builder().num_columns(), fn->arg_types.size());
    }
    open.push_back(std::move(*b));
  }
  batch.mcxt = AllocSetContextCreate(estate->es_query_cxt, "IMLane batch rows", ALLOCSET_DEFAULT_SIZES);
  size_t capacity = open[0].capacity_rows();
  for (auto& o : open) capacity = std::min(capacity, o.capacity_rows());
  while (batch.rows.size() < capacity) {
    MinimalTuple row = nullptr;
    Status ok;
    if ((*ed = FetchRow(s, batch.mcxt, open, &row, &ok)) != nullptr || row == nullptr) break;
    if (ok.code() == StatusCode::kCapacityExceeded && !batch.rows.empty()) {
      for (auto& o : open) o.builder().Truncate(batch.rows.size());  // long strings: ship what fits
      // Kept in the query's memory: this batch's rows may be gone before the next batch starts.
      MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
      st->carry = heap_copy_minimal_tuple(row);
      MemoryContextSwitchTo(old);
      break;
    }
    if (!ok.ok()) {
      MemoryContextDelete(batch.mcxt);
      return ErrorText(ok, st->fns[0]->name.c_str());
    }
    batch.rows.push_back(row);
  }
  if (*ed) {
    MemoryContextDelete(batch.mcxt);
    return nullptr;  // the open batches give their slots back as they go
  }
  if (batch.rows.empty()) {
    MemoryContextDelete(batch.mcxt);
    return nullptr;  // the open batches give their slots back unused
  }
  for (size_t k = 0; k < open.size(); k++) {
    auto t = st->ctx->Submit(std::move(open[k]));
    if (!t.ok()) {
      for (Ticket done : batch.tickets) st->ctx->Discard(done);
      return ErrorText(t.status(), st->fns[k]->name.c_str());
    }
    batch.tickets.push_back(*t);
  }
  st->inflight.push_back(std::move(batch));
  return nullptr;
}

// Fills the pipeline, then waits for the oldest batch. *eof when there is none left.
ErrorData* NextBatch(BatchScanState* s, EState* estate, char** err, bool* eof) {
  State* st = s->state;
  if (st->current) {
    MemoryContextDelete(st->current->mcxt);
    st->current.reset();
  }
  while (!st->input_done && st->inflight.size() < st->max_inflight) {
    const size_t before = st->inflight.size();
    ErrorData* ed = nullptr;
    if ((*err = FillBatch(s, estate, &ed)) != nullptr) return nullptr;
    if (ed) return ed;
    if (st->inflight.size() == before && st->carry == nullptr) break;
  }
  if (st->inflight.empty()) {
    *eof = true;
    return nullptr;
  }
  Batch& b = st->inflight.front();
  for (size_t k = 0; k < b.tickets.size(); k++) {
    const char* name = st->fns[k]->name.c_str();
    if (ErrorData* ed = WaitForTicket(st->ctx, b.tickets[k], err, name)) {
      // Cancelled: every batch of this scan still out is stopped, not left running.
      std::vector<Ticket> out(b.tickets.begin() + static_cast<long>(k), b.tickets.end());
      b.tickets.clear();
      for (auto& other : st->inflight) {
        out.insert(out.end(), other.tickets.begin(), other.tickets.end());
        other.tickets.clear();
      }
      StopTickets(st->ctx, out);
      return ed;
    }
    if (*err) return nullptr;
    auto pulled = st->ctx->Pull(b.tickets[k], guc_timeout_ms);
    if (!pulled.ok()) {
      b.tickets.erase(b.tickets.begin(), b.tickets.begin() + static_cast<long>(k) + 1);
      *err = ErrorText(pulled.status(), name);
      return nullptr;
    }
    if (pulled->batch().num_rows() != b.rows.size() || pulled->batch().num_columns() < 1) {
      b.tickets.erase(b.tickets.begin(), b.tickets.begin() + static_cast<long>(k) + 1);
      *err =
          psprintf("imlane function \"%s\" returned %zu rows for %zu", name, pulled->batch().num_rows(), b.rows.size());
      return nullptr;
    }
    b.results.push_back(std::move(*pulled));
  }
  b.tickets.clear();
  st->current.emplace(std::move(b));
  st->inflight.pop_front();
  st->next_row = 0;
  return nullptr;
}

// Builds the scan tuple of the next row: the child's columns, then the calls' results.
TupleTableSlot* NextRow(ScanState* ss) {
  auto* s = reinterpret_cast<BatchScanState*>(ss);
  EState* estate = ss->ps.state;
  if (s->state == nullptr) {
    if (char* err = Start(s)) ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("%s", err)));
  }
  State* st = s->state;
  while (!st->current || st->next_row >= st->current->rows.size()) {
    char* err = nullptr;
    bool eof = false;
    ErrorData* ed = NextBatch(s, estate, &err, &eof);
    if (ed) ReThrowError(ed);
    if (err) ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("%s", err)));
    if (eof) return ExecClearTuple(ss->ss_ScanTupleSlot);
  }
  const size_t r = st->next_row++;
  TupleTableSlot* out = ss->ss_ScanTupleSlot;
  ExecClearTuple(out);
  ExecStoreMinimalTuple(st->current->rows[r], s->row_slot, false);
  slot_getallattrs(s->row_slot);
  for (int i = 0; i < s->n_child; i++) {
    out->tts_values[i] = s->row_slot->tts_values[i];
    out->tts_isnull[i] = s->row_slot->tts_isnull[i];
  }
  // Text results live until the next row (ExecScan resets the per-tuple memory first).
  MemoryContext old = MemoryContextSwitchTo(ss->ps.ps_ExprContext->ecxt_per_tuple_memory);
  for (size_t k = 0; k < st->current->results.size(); k++) {
    const int col = s->n_child + static_cast<int>(k);
    char* err = nullptr;
    out->tts_values[col] =
        ReadDatum(st->current->results[k].batch().column(0), r, &out->tts_isnull[col], st->fns[k]->name.c_str(), &err);
    if (err) {
      MemoryContextSwitchTo(old);
      ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("%s", err)));
    }
  }
  MemoryContextSwitchTo(old);
  return ExecStoreVirtualTuple(out);
}

bool Recheck(ScanState*, TupleTableSlot*) { return true; }

TupleTableSlot* ExecBatchScan(CustomScanState* node) { return ExecScan(&node->ss, NextRow, Recheck); }

void EndScan(CustomScanState* node) {
  auto* s = reinterpret_cast<BatchScanState*>(node);
  delete s->state;
  s->state = nullptr;
  ExecEndNode(outerPlanState(node));
}

void ReScan(CustomScanState* node) {
  auto* s = reinterpret_cast<BatchScanState*>(node);
  delete s->state;  // its batch memory goes with the query; a rescan starts over
  s->state = nullptr;
  ExecReScan(outerPlanState(node));
}

void Explain(CustomScanState* node, List*, ExplainState* es) {
  auto* s = reinterpret_cast<BatchScanState*>(node);
  StringInfoData buf;
  initStringInfo(&buf);
  ListCell* lc;
  foreach (lc, s->names) appendStringInfo(&buf, "%s%s", foreach_current_index(lc) ? ", " : "", strVal(lfirst(lc)));
  ExplainPropertyText("IMLane Functions", buf.data, es);
  if (guc_batch_size > 0) ExplainPropertyInteger("Batch Rows", nullptr, guc_batch_size, es);
}

CustomExecMethods g_exec_methods = {kName,   BeginScan, ExecBatchScan, EndScan, ReScan,  nullptr, nullptr,
                                    nullptr, nullptr,   nullptr,       nullptr, nullptr, Explain};

CustomScanMethods g_scan_methods = {kName, CreateState};

}  // namespace

void InstallBatchScan() {
  RegisterCustomScanMethods(&g_scan_methods);
  g_prev_planner = planner_hook;
  planner_hook = Planner;
}

}  // namespace pg
}  // namespace imlane
