// cpp_example: what an engine does with DBEnd. It registers a Python model from a file, streams
// rows through it in batches with push/pull (several batches in flight across the executors),
// checks every result against the same formula computed here, and prints the throughput.
#include <imlane/dbend_context.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>

using imlane::Column;
using imlane::ColumnBatch;
using imlane::TypeId;

namespace {

double X1(size_t r) { return static_cast<double>(r % 1000) * 0.01; }
double X2(size_t r) { return static_cast<double>(r % 777) * -0.02; }
double X3(size_t r) { return static_cast<double>(r % 13) - 6.0; }
double Expected(size_t r) { return 0.5 * X1(r) - 0.25 * X2(r) + 2.0 * X3(r) + 1.0; }

int Die(const std::string& what, const imlane::Status& st) {
  std::fprintf(stderr, "cpp_example: %s: %s\n", what.c_str(), st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  size_t total_rows = 1000000, batch_rows = 0;
  int executors = 2;
  std::string model = "model.py";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows"))
      total_rows = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--batch-rows"))
      batch_rows = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--executors"))
      executors = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--model"))
      model = argv[i + 1];
  }

  imlane::Settings settings;
  settings.n_executors = executors;  // used if this program has to start the coordinator itself
  settings.batch_rows = batch_rows;  // 0: adaptive
  auto t0 = std::chrono::steady_clock::now();
  auto ctx = imlane::DBEndContext::Setup(settings);
  if (!ctx.ok()) return Die("setup", ctx.status());
  auto spec = imlane::FunctionSpec::Make("linear_score", model, "DOUBLE, DOUBLE, DOUBLE", "DOUBLE, INTEGER");
  if (!spec.ok()) return Die("spec", spec.status());
  if (auto st = (*ctx)->RegisterFunction(*spec); !st.ok()) return Die("register", st);
  auto info = (*ctx)->GetFunction("linear_score");
  if (!info.ok()) return Die("function", info.status());
  auto t1 = std::chrono::steady_clock::now();
  std::printf("registered linear_score v%u from %s: %d executor(s), %d in-flight slots (set-up %.0f ms)\n",
              info->version, model.c_str(), info->executors, info->slots,
              std::chrono::duration<double, std::milli>(t1 - t0).count());

  struct InFlight {
    imlane::Ticket ticket;
    size_t first_row, rows;
  };
  std::deque<InFlight> inflight;
  size_t next_row = 0, checked = 0, batches = 0, bad = 0;
  double batch_sum = 0;

  auto pull_one = [&]() -> imlane::Status {
    InFlight f = inflight.front();
    inflight.pop_front();
    auto result = (*ctx)->Pull(f.ticket);
    if (!result.ok()) return result.status();
    const imlane::BatchView& out = result->batch();
    const imlane::ColumnView& score = out.column(0);
    const imlane::ColumnView& label = out.column(1);
    for (size_t i = 0; i < f.rows; i++) {
      double want = Expected(f.first_row + i);
      // The label is the model's own `score > 0`: checked against the score it returned, since a
      // score of exactly 0 may come back as +-1 ulp (BLAS rounding) and flip a label computed from want.
      const double got = score.Get<double>(i);
      if (std::fabs(got - want) > 1e-9 * (1 + std::fabs(want)) || label.Get<int32_t>(i) != (got > 0 ? 1 : 0)) {
        if (bad++ < 5) std::fprintf(stderr, "row %zu: got %g, want %g\n", f.first_row + i, score.Get<double>(i), want);
      }
    }
    checked += f.rows;
    return imlane::Status::OK();
  };

  while (next_row < total_rows) {
    size_t rows = std::min((*ctx)->RecommendedBatchRows("linear_score"), total_rows - next_row);
    // Write the batch straight into a Lane: no intermediate copy.
    auto open = (*ctx)->BeginBatch("linear_score", rows);
    if (!open.ok()) return Die("begin batch", open.status());
    imlane::BatchBuilder& b = open->builder();
    auto c1 = b.column(0).ReserveValues(rows), c2 = b.column(1).ReserveValues(rows),
         c3 = b.column(2).ReserveValues(rows);
    if (!c1.ok() || !c2.ok() || !c3.ok()) return Die("reserve", c1.status());
    auto* x1 = reinterpret_cast<double*>(*c1);
    auto* x2 = reinterpret_cast<double*>(*c2);
    auto* x3 = reinterpret_cast<double*>(*c3);
    for (size_t i = 0; i < rows; i++) {
      x1[i] = X1(next_row + i);
      x2[i] = X2(next_row + i);
      x3[i] = X3(next_row + i);
    }
    auto ticket = (*ctx)->Submit(std::move(*open));
    if (!ticket.ok()) return Die("submit", ticket.status());
    inflight.push_back({*ticket, next_row, rows});
    next_row += rows;
    batches++;
    batch_sum += static_cast<double>(rows);
    // Keep every slot busy; pull the oldest once all are in flight (results come back in order).
    if (inflight.size() >= static_cast<size_t>(info->slots)) {
      if (auto st = pull_one(); !st.ok()) return Die("pull", st);
    }
  }
  while (!inflight.empty()) {
    if (auto st = pull_one(); !st.ok()) return Die("pull", st);
  }
  auto t2 = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(t2 - t1).count();
  std::printf("processed %zu rows in %zu batches (mean %.0f rows) in %.3f s: %.2f M rows/s\n", checked, batches,
              batch_sum / static_cast<double>(batches), secs, static_cast<double>(checked) / secs / 1e6);
  if (bad != 0 || checked != total_rows) {
    std::printf("FAILED: %zu wrong results, %zu of %zu rows checked\n", bad, checked, total_rows);
    return 1;
  }
  std::printf("all %zu results checked: OK\n", checked);
  return 0;
}
