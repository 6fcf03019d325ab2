// bench_duckdb: runs one prediction query on DuckDB for the Q1-Q8 benchmark (bench/run.py), as one of
// two systems that share the database file, the SQL and the UDF file:
//
//   imlane  IMLane loaded exactly as imlane-duckdb loads it (LoadIMLane): the UDF runs in executor
//           processes, batched by the prediction operator and the adaptive tuner.
//   inproc  What DuckDB's own Python UDFs do: a scalar function that calls the UDF in this process,
//           once per DuckDB vector (at most 2048 rows), under the GIL. It uses the executor's own
//           Python runtime (same argument conversion, zero-copy numeric views, same result checks),
//           so the only differences to `imlane` are the process boundary, the GIL and the batch size.
//
// Prints one JSON object: {"status": "ok"|"timeout"|"error", "times_s": [...], "rows": N,
// "batches": B, "rows_udf": R, "mean_batch_rows": M, "error": "..."}. Counters are per timed run.
#include <Python.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "duckdb.hpp"
#include "duckdb/catalog/catalog.hpp"
#include "duckdb/main/client_context.hpp"
#include "duckdb/parser/parsed_data/create_scalar_function_info.hpp"
#include "duckdb_table_converter.hpp"
#include "imlane/batch_view.h"
#include "imlane/executor/batch_server.h"
#include "imlane/executor/python_runtime.h"
#include "imlane/lane/batch_layout.h"
#include "imlane/types.h"
#include "imlane_duckdb.hpp"
#include "query_runner.hpp"

namespace {

using json = nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string ExeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

// ---- inproc: the UDF in this process, one call per DuckDB vector ---------------------------------------

struct InProcess {
  imlane::PythonRuntime python;
  imlane::FunctionDefinition def;
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> rows{0};
};
InProcess* g_inproc = nullptr;

// One call per DuckDB vector. The vector is laid out in the Lane format in a thread-local buffer
// (the same one write IMLane does into shared memory) and run through the executor's runtime.
void InProcessExecute(duckdb::DataChunk& args, duckdb::ExpressionState&, duckdb::Vector& result) {
  thread_local std::vector<uint64_t> buffer;  // uint64_t: 8-byte alignment for the Arrow buffers
  const size_t n = args.size();
  // The builder shares string space equally among VARCHAR columns: give each one room for the
  // bytes of all of them.
  uint64_t string_bytes = 0, varchar_columns = 0;
  for (size_t c = 0; c < args.ColumnCount(); c++) {
    if (args.data[c].GetType().id() != duckdb::LogicalTypeId::VARCHAR) continue;
    varchar_columns++;
    duckdb::UnifiedVectorFormat f;
    args.data[c].ToUnifiedFormat(n, f);
    auto* s = duckdb::UnifiedVectorFormat::GetData<duckdb::string_t>(f);
    for (size_t i = 0; i < n; i++) string_bytes += s[f.sel->get_index(i)].GetSize();
  }
  const auto& def = g_inproc->def;
  const uint64_t in_bytes = imlane::BatchLayout::RequiredBytes(def.arg_types, n, string_bytes * varchar_columns);
  // Result room: fixed-width results need little; VARCHAR results get generous space.
  const uint64_t out_bytes = imlane::BatchLayout::RequiredBytes(def.return_types, n, 256 * n + (1 << 20));
  const uint64_t total = in_bytes + out_bytes + 4096;
  if (buffer.size() * 8 < total) buffer.assign(total / 8 + 1, 0);
  auto* region = reinterpret_cast<uint8_t*>(buffer.data());
  const size_t region_bytes = buffer.size() * 8;

  imlane::BatchBuilder in;
  imlane::Status st = imlane::BatchLayout::Start(&in, region, region_bytes, 0, in_bytes + 64, def.arg_types, n);
  if (st.ok()) st = imlane::DuckDBConverter::Write(args, 0, n, &in);
  auto in_size = st.ok() ? in.Finish() : imlane::Result<uint64_t>(st);
  if (!in_size.ok()) throw duckdb::InvalidInputException(in_size.status().ToString());
  // DuckDB's threads take turns on the GIL. Each thread keeps its Python thread state for its
  // whole life (the first Ensure is never released), so a call costs a GIL hand-over only.
  thread_local bool pinned = [] {
    PyGILState_Ensure();
    PyEval_SaveThread();
    return true;
  }();
  (void)pinned;
  PyGILState_STATE gil = PyGILState_Ensure();
  // Exactly what an executor does with a request in its Lane.
  auto served = imlane::ServeBatch(&g_inproc->python, region, region_bytes, 0, 1, 0, *in_size);
  PyGILState_Release(gil);
  if (!served.ok()) throw duckdb::InvalidInputException(served.status().ToString());
  auto result_view = imlane::BatchLayout::Open(region, region_bytes, served->result.offset, served->result.bytes);
  if (!result_view.ok()) throw duckdb::InvalidInputException(result_view.status().ToString());
  st = imlane::DuckDBConverter::ReadColumn(result_view->column(0), 0, n, &result);
  if (!st.ok()) throw duckdb::InvalidInputException(st.ToString());
  g_inproc->batches++;
  g_inproc->rows += n;
}

void RegisterInProcess(duckdb::Connection& con, const std::string& name, const std::string& file,
                       const std::string& args, const std::string& returns, const std::string& python_env) {
  auto arg_types = imlane::ParseTypeList(args);
  auto ret_types = imlane::ParseTypeList(returns);
  if (!arg_types.ok()) throw std::runtime_error(arg_types.status().ToString());
  if (!ret_types.ok()) throw std::runtime_error(ret_types.status().ToString());
  g_inproc = new InProcess();  // lives as long as the process: DuckDB's threads may still hold it
  g_inproc->def = imlane::FunctionDefinition{name, ReadFile(file), file, "", *arg_types, *ret_types};
  // No loader cache (DuckDB's own UDF path); the same virtualenv as imlane's executors get.
  imlane::Status st = g_inproc->python.Start(ExeDir() + "/../share/imlane/python", 0, python_env);
  if (st.ok()) st = g_inproc->python.Load(1, g_inproc->def);  // pyinitial() once, like a staged UDF
  if (!st.ok()) throw std::runtime_error(st.ToString());
  PyEval_SaveThread();  // from here on every caller takes the GIL itself

  duckdb::vector<duckdb::LogicalType> duck_args;
  for (auto t : *arg_types) duck_args.push_back(imlane::DuckDBTypeOf(t));
  duckdb::ScalarFunction fn(name, duck_args, imlane::DuckDBTypeOf((*ret_types)[0]), InProcessExecute);
  fn.stability = duckdb::FunctionStability::VOLATILE;  // a model call: never folded or deduplicated
  duckdb::CreateScalarFunctionInfo info(fn);
  auto& context = *con.context;
  context.RunFunctionInTransaction([&]() { duckdb::Catalog::GetSystemCatalog(context).CreateFunction(context, info); });
}

// ---- common ------------------------------------------------------------------------------------------

std::string CsvField(const duckdb::Value& v) {
  if (v.IsNull()) return "";
  std::string s = v.ToString();
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

void WriteCsv(duckdb::MaterializedQueryResult& result, const std::string& path) {
  std::ofstream out(path);
  for (size_t c = 0; c < result.ColumnCount(); c++) out << (c ? "," : "") << result.ColumnName(c);
  out << "\n";
  for (size_t r = 0; r < result.RowCount(); r++) {
    for (size_t c = 0; c < result.ColumnCount(); c++) out << (c ? "," : "") << CsvField(result.GetValue(c, r));
    out << "\n";
  }
}

// (batches, rows) the executors have run for `name` so far.
std::pair<uint64_t, uint64_t> IMLaneCounters(duckdb::Connection& con, const std::string& name) {
  auto r = con.Query("SELECT batches, rows FROM imlane_functions() WHERE name = '" + name + "'");
  if (r->HasError() || r->RowCount() == 0) return {0, 0};
  return {r->GetValue(0, 0).GetValue<uint64_t>(), r->GetValue(1, 0).GetValue<uint64_t>()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runs one prediction query of the Q1-Q8 benchmark on DuckDB (see bench/README.md)"};
  std::string system, db_path, name, file, args, returns, query, result_csv, python_env;
  int repeat = 3, warmup = 1, threads = 0;
  double time_limit = 60;
  std::vector<std::string> settings;
  app.add_option("--system", system, "imlane or inproc")->required()->check(CLI::IsMember({"imlane", "inproc"}));
  app.add_option("--db", db_path, "DuckDB database file")->required();
  app.add_option("--udf-name", name, "SQL name of the function")->required();
  app.add_option("--udf-file", file, "Python file of the function")->required();
  app.add_option("--args", args, "argument types, e.g. 'DOUBLE, VARCHAR'")->required();
  app.add_option("--returns", returns, "return type")->required();
  app.add_option("--query", query, "the prediction query")->required();
  app.add_option("--repeat", repeat, "timed runs")->capture_default_str();
  app.add_option("--warmup", warmup, "untimed runs first")->capture_default_str();
  app.add_option("--threads", threads, "DuckDB threads (0 = DuckDB's default: all cores)");
  app.add_option("--time-limit", time_limit, "seconds one run may take before it is interrupted")
      ->capture_default_str();
  app.add_option("--set", settings, "a setting applied before the query, e.g. imlane_batch_size=4096");
  app.add_option("--result-csv", result_csv, "write the last run's rows here");
  std::string backend = "local";
  app.add_option("--backend", backend,
                 "imlane only: the function's backend (local, ray, both); ray needs $IMLANE_RAY_ADDRESS")
      ->check(CLI::IsMember({"local", "ray", "both"}));
  app.add_option("--python-env", python_env,
                 "inproc: virtualenv whose packages the in-process Python imports (imlane: SET imlane_python_env)");
  CLI11_PARSE(app, argc, argv);

  json out = {{"status", "ok"}, {"times_s", json::array()}};
  try {
    duckdb::DBConfig config;
    if (threads > 0) config.options.maximum_threads = static_cast<idx_t>(threads);
    duckdb::DuckDB db(db_path, &config);
    duckdb::Connection con(db);
    auto check = [&](duckdb::unique_ptr<duckdb::MaterializedQueryResult> r) {
      if (r->HasError()) throw std::runtime_error(r->GetError());
      return r;
    };
    if (system == "imlane") imlane::duckdb_integration::LoadIMLane(*db.instance);  // before its settings
    for (auto& s : settings) {
      auto eq = s.find('=');
      if (eq == std::string::npos) throw std::runtime_error("--set wants name=value, got " + s);
      check(con.Query("SET " + s.substr(0, eq) + " = " + s.substr(eq + 1)));
    }
    if (system == "imlane") {
      check(con.Query("CALL imlane_create_function('" + name + "', '" + file + "', '" + args + "', '" + returns +
                      "', backend := '" + backend + "')"));
    } else {
      RegisterInProcess(con, name, file, args, returns, python_env);
    }

    // One run, interrupted by a watchdog after time_limit seconds.
    auto run = [&](bool* timed_out) {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      *timed_out = false;
      std::thread watchdog([&]() {
        std::unique_lock<std::mutex> lock(mu);
        if (!cv.wait_for(lock, std::chrono::duration<double>(time_limit), [&] { return done; })) {
          *timed_out = true;
          con.Interrupt();
        }
      });
      auto start = std::chrono::steady_clock::now();
      // Both systems run the query the same way: the client thread sleeps while it has no task.
      auto r = imlane::duckdb_integration::RunQuery(con, query);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      {
        std::lock_guard<std::mutex> lock(mu);
        done = true;
      }
      cv.notify_all();
      watchdog.join();
      return std::make_pair(std::move(r), secs);
    };

    duckdb::unique_ptr<duckdb::MaterializedQueryResult> last;
    uint64_t batches = 0, rows_udf = 0;
    for (int i = 0; i < warmup + repeat; i++) {
      auto before = system == "imlane" ? IMLaneCounters(con, name)
                                       : std::pair<uint64_t, uint64_t>{g_inproc->batches.load(), g_inproc->rows.load()};
      bool timed_out = false;
      auto [r, secs] = run(&timed_out);
      if (timed_out) {
        out["status"] = "timeout";
        out["error"] = "stopped after " + std::to_string(time_limit) + " s";
        break;
      }
      if (r->HasError()) throw std::runtime_error(r->GetError());
      auto after = system == "imlane" ? IMLaneCounters(con, name)
                                      : std::pair<uint64_t, uint64_t>{g_inproc->batches.load(), g_inproc->rows.load()};
      // A slow system's warm-up is its only run (its time counts): a run that takes a tenth of the
      // time limit already says what it needs to, and repeating it would dominate the benchmark.
      const bool only_run = i < warmup && secs > time_limit / 10;
      if (i >= warmup || only_run) {
        out["times_s"].push_back(secs);
        batches = after.first - before.first;
        rows_udf = after.second - before.second;
      }
      last = std::move(r);
      if (only_run) break;
    }
    if (last) {
      out["rows"] = last->RowCount();
      if (!result_csv.empty()) WriteCsv(*last, result_csv);
    }
    out["batches"] = batches;
    out["rows_udf"] = rows_udf;
    out["mean_batch_rows"] = batches ? static_cast<double>(rows_udf) / static_cast<double>(batches) : 0.0;
  } catch (std::exception& e) {
    out["status"] = "error";
    out["error"] = duckdb::ErrorData(e).Message();
  }
  std::printf("%s\n", out.dump().c_str());
  std::fflush(stdout);
  // The in-process interpreter is never finalised: DuckDB's worker threads may still exist.
  _exit(out["status"] == "error" ? 1 : 0);
}
