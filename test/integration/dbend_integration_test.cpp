// End to end through DBEnd: a real coordinator, real executor processes, real Python and numpy.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <deque>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "../unit/message_cases.h"
#include "imlane/common/messages.h"
#include "imlane/common/protocol.h"
#include "imlane/lane/executor_bell.h"
#include "imlane/lane/shared_region.h"
#include "test_support.h"

namespace imlane::testing {
namespace {

using nlohmann::json;

// ---- Function styles ---------------------------------------------------------------------------

TEST_F(CoordinatorTest, StagedStyleInitRunsOncePerExecutorAcrossManyBatches) {
  std::string log = dir_ + "/init.log";
  const std::string code =
      "import os\n"
      "def pyinitial():\n"
      "    global factor\n"
      "    factor = 3.0\n"
      "    with open('" +
      log +
      "', 'a') as f:\n"
      "        f.write(str(os.getpid()) + '\\n')\n"
      "def pyfun(x):\n"
      "    return x * factor\n";
  Register("scale", code, "DOUBLE", "DOUBLE");
  for (int i = 0; i < 60; i++) {
    ColumnBatch out;
    ASSERT_TRUE(ctx().ExecuteFunction("scale", Doubles({1.0, 2.0, static_cast<double>(i)}), &out).ok());
    ASSERT_EQ(out.columns[0].Get<double>(2), 3.0 * i);
  }
  // Registering the same code again is a no-op: same version, nothing reloaded.
  Register("scale", code, "DOUBLE", "DOUBLE");
  std::ifstream in(log);
  std::multiset<std::string> pids;
  for (std::string line; std::getline(in, line);) pids.insert(line);
  EXPECT_EQ(pids.size(), 2u) << "one initialisation per executor";
  EXPECT_EQ(std::set<std::string>(pids.begin(), pids.end()).size(), 2u) << "two different executors";
  json s = StatusJson();
  ASSERT_EQ(s["functions"].size(), 1u);
  EXPECT_EQ(s["functions"][0]["version"], 1);
  EXPECT_EQ(s["functions"][0]["loads"], 2);
  EXPECT_EQ(s["functions"][0]["batches"], 60);
  EXPECT_EQ(s["functions"][0]["rows"], 180);
}

TEST_F(CoordinatorTest, ClassStyleAndPlainCallableRun) {
  Register("offset",
           "class Offset:\n"
           "    def __init__(self):\n"
           "        self.k = 10\n"
           "    def __call__(self, a, b):\n"
           "        return a + b + self.k\n",
           "BIGINT, BIGINT", "BIGINT");
  Register("twice", "def twice(x):\n    return x * 2\n", "INTEGER", "INTEGER");
  ColumnBatch in;
  in.columns.push_back(Column::FromValues<int64_t>({1, 2, 3}));
  in.columns.push_back(Column::FromValues<int64_t>({100, 200, 300}));
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("offset", in, &out).ok());
  EXPECT_EQ(out.columns[0].Get<int64_t>(0), 111);
  EXPECT_EQ(out.columns[0].Get<int64_t>(2), 313);
  ColumnBatch in2;
  in2.columns.push_back(Column::FromValues<int32_t>({7, -4}));
  ASSERT_TRUE(ctx().ExecuteFunction("twice", in2, &out).ok());
  EXPECT_EQ(out.columns[0].Get<int32_t>(0), 14);
  EXPECT_EQ(out.columns[0].Get<int32_t>(1), -8);
}

TEST_F(CoordinatorTest, EntrySelectsOneOfSeveralFunctionsInAFile) {
  std::string path = WriteFile("many.py",
                               "def add_one(x):\n    return x + 1\n"
                               "def add_two(x):\n    return x + 2\n");
  auto spec = FunctionSpec::Make("plus2", path, "DOUBLE", "DOUBLE", "add_two");
  ASSERT_TRUE(ctx().RegisterFunction(*spec).ok());
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("plus2", Doubles({1.5}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 3.5);
}

TEST_F(CoordinatorTest, SeveralResultColumns) {
  Register("split", "import numpy as np\ndef pyfun(x):\n    return x * 2, np.where(x > 1, 'big', 'small')\n", "DOUBLE",
           "DOUBLE, VARCHAR");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("split", Doubles({0.5, 2.5}), &out).ok());
  ASSERT_EQ(out.columns.size(), 2u);
  EXPECT_EQ(out.columns[0].Get<double>(1), 5.0);
  EXPECT_EQ(out.columns[1].GetString(0), "small");
  EXPECT_EQ(out.columns[1].GetString(1), "big");
}

// ---- Every type, with NULLs, through Python and back ------------------------------------------

// Identity that keeps NULLs: NULL numerics arrive as NaN (or NaT) and go back as None.
const char* kIdentity =
    "import numpy as np\n"
    "def pyfun(x):\n"
    "    if x.dtype.kind == 'f':\n"
    "        return [None if v != v else v for v in x.tolist()]\n"
    "    return x\n";

TEST_F(CoordinatorTest, EveryTypeWithNullsRoundTripsThroughPython) {
  const size_t n = 3000;
  struct Case {
    const char* type;
    Column column;
  };
  std::vector<Case> cases;
  auto null_at = [](size_t i) { return i % 7 == 3; };
  {
    std::vector<std::optional<bool>> v;
    for (size_t i = 0; i < n; i++) v.push_back(null_at(i) ? std::nullopt : std::optional<bool>(i % 3 == 0));
    cases.push_back({"BOOLEAN", Column::FromBools(v)});
  }
  auto ints = [&](TypeId t, auto sample) {
    using T = decltype(sample);
    std::vector<std::optional<T>> v;
    for (size_t i = 0; i < n; i++) {
      v.push_back(null_at(i) ? std::nullopt
                             : std::optional<T>(static_cast<T>(static_cast<int64_t>(i * 37) % 100 - 50)));
    }
    return Column::FromOptionals<T>(t, v);
  };
  cases.push_back({"TINYINT", ints(TypeId::kInt8, int8_t{})});
  cases.push_back({"SMALLINT", ints(TypeId::kInt16, int16_t{})});
  cases.push_back({"INTEGER", ints(TypeId::kInt32, int32_t{})});
  cases.push_back({"BIGINT", ints(TypeId::kInt64, int64_t{})});
  cases.push_back({"DATE", ints(TypeId::kDate, int32_t{})});
  cases.push_back({"TIMESTAMP", ints(TypeId::kTimestamp, int64_t{})});
  {
    std::vector<std::optional<float>> f;
    std::vector<std::optional<double>> d;
    for (size_t i = 0; i < n; i++) {
      f.push_back(null_at(i) ? std::nullopt : std::optional<float>(static_cast<float>(i) / 8));
      d.push_back(null_at(i) ? std::nullopt : std::optional<double>(static_cast<double>(i) / 3));
    }
    cases.push_back({"FLOAT", Column::FromOptionals<float>(TypeId::kFloat, f)});
    cases.push_back({"DOUBLE", Column::FromOptionals<double>(TypeId::kDouble, d)});
  }
  {
    std::vector<std::optional<std::string>> v;
    for (size_t i = 0; i < n; i++) {
      v.push_back(null_at(i) ? std::nullopt : std::optional<std::string>("s" + std::to_string(i) + "\xc3\xa9"));
    }
    cases.push_back({"VARCHAR", Column::FromStrings(v)});
  }
  for (auto& c : cases) {
    SCOPED_TRACE(c.type);
    std::string name = std::string("ident_") + c.type;
    Register(name, kIdentity, c.type, c.type);
    ColumnBatch in, out;
    in.columns.push_back(c.column);
    Status st = ctx().ExecuteFunction(name, in, &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    const Column& got = out.columns[0];
    ASSERT_EQ(got.length(), n);
    EXPECT_EQ(got.null_count(), c.column.null_count());
    for (size_t i = 0; i < n; i++) {
      ASSERT_EQ(got.IsNull(i), c.column.IsNull(i)) << "row " << i;
      if (got.IsNull(i)) continue;
      if (c.column.type() == TypeId::kVarchar) {
        ASSERT_EQ(got.GetString(i), c.column.GetString(i));
      } else if (c.column.type() == TypeId::kBoolean) {
        ASSERT_EQ(got.GetBool(i), c.column.GetBool(i));
      } else {
        size_t w = FixedWidth(c.column.type());
        ASSERT_EQ(0, std::memcmp(got.data().data() + i * w, c.column.data().data() + i * w, w)) << "row " << i;
      }
    }
  }
}

// ---- Errors ------------------------------------------------------------------------------------

TEST_F(CoordinatorTest, PythonExceptionCarriesTheTraceback) {
  Register("boom",
           "def helper(x):\n    raise ValueError('bad input ' + str(len(x)))\ndef pyfun(x):\n    return helper(x)\n",
           "DOUBLE", "DOUBLE");
  ColumnBatch out;
  Status st = ctx().ExecuteFunction("boom", Doubles({1, 2, 3}), &out);
  ASSERT_EQ(st.code(), StatusCode::kPythonError);
  EXPECT_NE(st.message().find("imlane function 'boom'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("ValueError: bad input 3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("line 2, in helper"), std::string::npos) << st.message();
  // The function and its executor keep working.
  Register("ok", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  EXPECT_TRUE(ctx().ExecuteFunction("ok", Doubles({1}), &out).ok());
}

TEST_F(CoordinatorTest, WrongResultsGiveClearErrors) {
  Register("short", "def pyfun(x):\n    return x[:-1]\n", "DOUBLE", "DOUBLE");
  Register("text", "def pyfun(x):\n    return ['a'] * len(x)\n", "DOUBLE", "DOUBLE");
  Register("nan_int", "import numpy as np\ndef pyfun(x):\n    return np.full(len(x), np.nan)\n", "DOUBLE", "INTEGER");
  Register("frac_int", "def pyfun(x):\n    return x + 0.5\n", "DOUBLE", "INTEGER");
  Register("scalar", "def pyfun(x):\n    return 1.0\n", "DOUBLE", "DOUBLE");
  Register("none", "def pyfun(x):\n    pass\n", "DOUBLE", "DOUBLE");
  Register("two_for_one", "def pyfun(x):\n    return x, x\n", "DOUBLE", "DOUBLE, DOUBLE, DOUBLE");
  struct Expect {
    const char* fn;
    const char* text;
  };
  for (const Expect& e :
       {Expect{"short", "returned 2 values for 3 input rows"}, Expect{"text", "expected DOUBLE values, got strings"},
        Expect{"nan_int", "NaN at row 0 cannot be converted to INTEGER"},
        Expect{"frac_int", "non-integral value 1.5 at row 0"}, Expect{"scalar", "returned a single float"},
        Expect{"none", "returned None"}, Expect{"two_for_one", "returned 2 result columns, declared 3"}}) {
    ColumnBatch out;
    Status st = ctx().ExecuteFunction(e.fn, Doubles({1, 2, 3}), &out);
    EXPECT_EQ(st.code(), StatusCode::kPythonError) << e.fn;
    EXPECT_NE(st.message().find(e.text), std::string::npos) << e.fn << ": " << st.message();
    EXPECT_NE(st.message().find(std::string("'") + e.fn + "'"), std::string::npos) << st.message();
    EXPECT_TRUE(out.columns.empty()) << "no partial result";
  }
}

TEST_F(CoordinatorTest, BadSourceFailsAtRegistrationAndLeavesTheRegistryUnchanged) {
  Register("f", "def pyfun(x):\n    return x + 1\n", "DOUBLE", "DOUBLE");
  Status st = TryRegister("f", "def pyfun(x)\n    return x\n", "DOUBLE", "DOUBLE");
  EXPECT_EQ(st.code(), StatusCode::kPythonError);
  EXPECT_NE(st.message().find("syntax error"), std::string::npos) << st.message();
  st = TryRegister("g", "import no_such_module_xyz\ndef pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  EXPECT_NE(st.message().find("No module named 'no_such_module_xyz'"), std::string::npos) << st.message();
  st = TryRegister("h", "x = 1\n", "DOUBLE", "DOUBLE");
  EXPECT_NE(st.message().find("no entry point"), std::string::npos) << st.message();
  st = TryRegister("i", "/no/such/model.py", "DOUBLE", "DOUBLE");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("/no/such/model.py"), std::string::npos) << st.message();
  st = TryRegister("j", "def pyinitial():\n    raise RuntimeError('no model')\ndef pyfun(x):\n    return x\n", "DOUBLE",
                   "DOUBLE");
  EXPECT_NE(st.message().find("RuntimeError: no model"), std::string::npos) << st.message();
  st = TryRegister("k", "def pyfun(x):\n    return x\n", "DOUBLE, NOTATYPE", "DOUBLE");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("NOTATYPE"), std::string::npos) << st.message();

  json s = StatusJson();
  ASSERT_EQ(s["functions"].size(), 1u);
  EXPECT_EQ(s["functions"][0]["name"], "f");
  EXPECT_EQ(s["functions"][0]["version"], 1);
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("f", Doubles({1}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 2.0);
}

TEST_F(CoordinatorTest, NewCodeBumpsTheVersion) {
  Register("v", "def pyfun(x):\n    return x + 1\n", "DOUBLE", "DOUBLE");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("v", Doubles({1}), &out).ok());
  Register("v", "def pyfun(x):\n    return x + 100\n", "DOUBLE", "DOUBLE");
  ASSERT_TRUE(ctx().ExecuteFunction("v", Doubles({1}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 101.0);
  EXPECT_EQ(StatusJson()["functions"][0]["version"], 2);
}

TEST_F(CoordinatorTest, UnknownFunctionAndWrongArgumentsAreErrors) {
  ColumnBatch out;
  EXPECT_EQ(ctx().ExecuteFunction("missing", Doubles({1}), &out).code(), StatusCode::kNotFound);
  Register("two_args", "def pyfun(a, b):\n    return a + b\n", "DOUBLE, DOUBLE", "DOUBLE");
  Status st = ctx().ExecuteFunction("two_args", Doubles({1}), &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("1 columns"), std::string::npos) << st.message();
}

TEST_F(CoordinatorTest, BatchLargerThanTheLaneIsAnErrorNamingBothSizes) {
  settings_.lane_bytes = 1u << 20;
  Register("id", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  std::vector<double> big(1u << 18, 1.0);  // 2 MiB of input
  ColumnBatch out;
  Status st = ctx().ExecuteFunction("id", Doubles(big), &out);
  EXPECT_EQ(st.code(), StatusCode::kCapacityExceeded);
  EXPECT_NE(st.message().find("262144 rows"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("lane_bytes"), std::string::npos) << st.message();
  EXPECT_TRUE(ctx().ExecuteFunction("id", Doubles({1, 2}), &out).ok());
}

TEST_F(CoordinatorTest, ExecutorCrashFailsTheBatchAndTheExecutorIsReplaced) {
  Register("crashy", "import os\ndef pyfun(x):\n    if x[0] < 0:\n        os._exit(7)\n    return x\n", "DOUBLE",
           "DOUBLE");
  ColumnBatch out;
  Status st = ctx().ExecuteFunction("crashy", Doubles({-1}), &out, SchedHint{-1, 0});
  EXPECT_EQ(st.code(), StatusCode::kExecutorFailed);
  EXPECT_NE(st.message().find("exited with code 7"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("'crashy'"), std::string::npos) << st.message();
  // The replacement adopts the same Lanes; the next batches run normally.
  for (int i = 0; i < 10; i++) {
    st = ctx().ExecuteFunction("crashy", Doubles({1, 2}), &out, SchedHint{-1, 0});
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  json s = StatusJson();
  EXPECT_EQ(s["executors"][0]["restarts"], 1);
  EXPECT_EQ(s["executors"][0]["state"], "running");
}

TEST_F(CoordinatorTest, HungBatchTimesOutAndItsExecutorIsReplaced) {
  settings_.timeout_ms = 1000;
  Register("sleepy", "import time\ndef pyfun(x):\n    if x[0] < 0:\n        time.sleep(60)\n    return x\n", "DOUBLE",
           "DOUBLE");
  ColumnBatch out;
  auto start = std::chrono::steady_clock::now();
  Status st = ctx().ExecuteFunction("sleepy", Doubles({-1}), &out, SchedHint{-1, 1});
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(st.code(), StatusCode::kTimedOut) << st.ToString();
  EXPECT_LT(waited, std::chrono::seconds(5));
  for (int i = 0; i < 5; i++) {
    st = ctx().ExecuteFunction("sleepy", Doubles({1}), &out, SchedHint{-1, 1});
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
}

// ---- Scheduling primitives ---------------------------------------------------------------------

TEST_F(CoordinatorTest, TryPullNeverBlocks) {
  Register("slow", "import time\ndef pyfun(x):\n    time.sleep(0.3)\n    return x\n", "DOUBLE", "DOUBLE");
  auto ticket = ctx().Push("slow", Doubles({4}));
  ASSERT_TRUE(ticket.ok());
  auto start = std::chrono::steady_clock::now();
  auto first = ctx().TryPull(*ticket);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  std::optional<PulledBatch> done;
  while (!done) {
    auto r = ctx().TryPull(*ticket);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->has_value()) done = std::move(*r);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(done->batch().column(0).Get<double>(0), 4.0);
  EXPECT_EQ(ctx().TryPull(*ticket).status().code(), StatusCode::kNotFound);
}

TEST_F(CoordinatorTest, ParallelPushPullFromEightThreadsReturnsEveryRowInOrder) {
  Register("tag", "def pyfun(thread, row):\n    return thread * 1000000000 + row * 3\n", "BIGINT, BIGINT", "BIGINT");
  std::atomic<size_t> rows_checked{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      int64_t next = 0;
      std::deque<std::pair<Ticket, std::pair<int64_t, size_t>>> pending;
      auto pull = [&]() {
        auto [ticket, span] = pending.front();
        pending.pop_front();
        std::vector<Column> out;
        Status st = ctx().Pull(ticket, &out);
        if (!st.ok()) {
          ADD_FAILURE() << st.ToString();
          failures++;
          return;
        }
        for (size_t i = 0; i < span.second; i++) {
          int64_t want = t * 1000000000LL + (span.first + static_cast<int64_t>(i)) * 3;
          if (out[0].Get<int64_t>(i) != want) {
            failures++;
            return;
          }
        }
        rows_checked += span.second;
      };
      for (int b = 0; b < 40; b++) {
        size_t rows = 1 + rng() % 5000;
        ColumnBatch in;
        std::vector<int64_t> thread_col(rows, t), row_col(rows);
        for (size_t i = 0; i < rows; i++) row_col[i] = next + static_cast<int64_t>(i);
        in.columns.push_back(Column::FromValues<int64_t>(thread_col));
        in.columns.push_back(Column::FromValues<int64_t>(row_col));
        auto ticket = ctx().Push("tag", in, SchedHint{t, -1});
        if (!ticket.ok()) {
          ADD_FAILURE() << ticket.status().ToString();
          failures++;
          return;
        }
        pending.push_back({*ticket, {next, rows}});
        next += static_cast<int64_t>(rows);
        if (pending.size() >= 2) pull();
      }
      while (!pending.empty()) pull();
      EXPECT_EQ(next > 0, true);
    });
  }
  ctx();  // created before the threads race for it
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(rows_checked.load(), 8u * 40u);
}

TEST_F(CoordinatorTest, PullingAnUnknownTicketIsAnError) {
  EXPECT_EQ(ctx().Pull(12345).status().code(), StatusCode::kNotFound);
}

// ---- Embedded coordinator life cycle -------------------------------------------------------------

bool ProcessGone(int pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(st, line);
  size_t p = line.rfind(')');
  return p != std::string::npos && p + 2 < line.size() && line[p + 2] == 'Z';  // zombie: exited
}

std::set<std::string> DevShm() {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) names.insert(e.path().filename());
  return names;
}

TEST_F(CoordinatorTest, EmbeddedCoordinatorStartAndStopLeaveNothingBehind) {
  auto shm_before = DevShm();
  Register("id", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("id", Doubles({1, 2, 3}), &out).ok());
  int coordinator = ctx().embedded_coordinator_pid();
  ASSERT_GT(coordinator, 0);
  std::vector<int> executors;
  json status = StatusJson();
  for (const auto& e : status["executors"]) executors.push_back(e["pid"]);
  ASSERT_EQ(executors.size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(settings_.socket_path));
  EXPECT_EQ(DevShm(), shm_before) << "Lanes are memfd-backed: nothing in /dev/shm";

  ctx_.reset();  // last client gone: the coordinator stops its executors and exits
  for (int i = 0; i < 200 && !(ProcessGone(executors[0]) && ProcessGone(executors[1])); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ProcessGone(coordinator));
  EXPECT_EQ(waitpid(coordinator, nullptr, WNOHANG), -1) << "already reaped by the DBEnd context";
  for (int pid : executors) EXPECT_TRUE(ProcessGone(pid)) << pid;
  EXPECT_FALSE(std::filesystem::exists(settings_.socket_path));
  EXPECT_FALSE(std::filesystem::exists(settings_.socket_path + ".lock"));
  EXPECT_EQ(DevShm(), shm_before);
}

TEST_F(CoordinatorTest, SecondContextJoinsTheRunningCoordinatorAndSharesWarmFunctions) {
  Register("id", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  auto second = DBEndContext::Setup(settings_);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)->embedded_coordinator_pid(), -1) << "joined, did not start another";
  ColumnBatch out;
  ASSERT_TRUE((*second)->ExecuteFunction("id", Doubles({9}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 9.0);
}

TEST_F(CoordinatorTest, AccumulatorBatchesEngineVectorsAtTheModelsSize) {
  settings_.batch_rows = 10000;  // pinned: batches are exactly this size but for the last one
  Register("plus", "def pyfun(x, s):\n    return x + 1\n", "BIGINT, VARCHAR", "BIGINT");
  BatchAccumulator<ColumnBatch> acc(&ctx(), "plus");
  std::vector<Ticket> tickets;
  const size_t vectors = 30, vector_rows = 2048;  // 61440 rows in DuckDB-sized vectors
  for (size_t v = 0; v < vectors; v++) {
    std::vector<int64_t> xs(vector_rows);
    std::vector<std::optional<std::string>> ss(vector_rows, std::string("abc"));
    for (size_t i = 0; i < vector_rows; i++) xs[i] = static_cast<int64_t>(v * vector_rows + i);
    ColumnBatch b;
    b.columns.push_back(Column::FromValues<int64_t>(xs));
    b.columns.push_back(Column::FromStrings(ss));
    ASSERT_TRUE(acc.Append(b, &tickets).ok());
    // Keep the pipeline bounded, as an engine operator would.
  }
  ASSERT_TRUE(acc.Flush(&tickets).ok());
  ASSERT_EQ(tickets.size(), 7u);  // 6 x 10000 + 1440
  int64_t expect = 0;
  for (size_t k = 0; k < tickets.size(); k++) {
    auto r = ctx().Pull(tickets[k]);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const ColumnView& col = r->batch().column(0);
    EXPECT_EQ(col.length(), k + 1 < tickets.size() ? 10000u : 1440u);
    for (size_t i = 0; i < col.length(); i++, expect++) ASSERT_EQ(col.Get<int64_t>(i), expect + 1);
  }
  EXPECT_EQ(expect, static_cast<int64_t>(vectors * vector_rows));
}

TEST_F(CoordinatorTest, SegfaultAndOutsideKillFailTheBatchWithTheSignal) {
  Register("segv", "import ctypes\ndef pyfun(x):\n    if x[0] < 0:\n        ctypes.string_at(0)\n    return x\n",
           "DOUBLE", "DOUBLE");
  ColumnBatch out;
  Status st = ctx().ExecuteFunction("segv", Doubles({-1}), &out, SchedHint{-1, 0});
  EXPECT_EQ(st.code(), StatusCode::kExecutorFailed);
  EXPECT_NE(st.message().find("killed by signal 11"), std::string::npos) << st.message();
  ASSERT_TRUE(ctx().ExecuteFunction("segv", Doubles({1}), &out, SchedHint{-1, 0}).ok());

  // SIGKILL from outside while a batch runs.
  Register("slow", "import time\ndef pyfun(x):\n    time.sleep(2)\n    return x\n", "DOUBLE", "DOUBLE");
  ASSERT_TRUE(ctx().ExecuteFunction("slow", Doubles({1}), &out, SchedHint{-1, 1}).ok());  // warm up
  json status = StatusJson();  // before the batch: a busy executor answers status only afterwards
  int pid = status["executors"][1]["pid"];
  ASSERT_GT(pid, 0);
  auto ticket = ctx().Push("slow", Doubles({1}), SchedHint{-1, 1});
  ASSERT_TRUE(ticket.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGKILL);
  auto start = std::chrono::steady_clock::now();
  auto r = ctx().Pull(*ticket);
  EXPECT_EQ(r.status().code(), StatusCode::kExecutorFailed) << r.status().ToString();
  EXPECT_NE(r.status().message().find("killed by signal 9"), std::string::npos) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_TRUE(ctx().ExecuteFunction("slow", Doubles({5}), &out, SchedHint{-1, 1}).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 5.0);
}

TEST_F(CoordinatorTest, ExecutorsInheritNoDescriptorsAndTheSocketIsPrivate) {
  Register("id", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("id", Doubles({1}), &out).ok());
  json status = StatusJson();
  for (const auto& e : status["executors"]) {
    int pid = e["pid"];
    std::set<std::string> fds;
    for (const auto& f : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
      fds.insert(f.path().filename());
    }
    // stdin/out/err and the control socket; Lanes and the bell are mapped and their fds closed.
    EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", "3"})) << "executor " << pid;
  }
  struct stat st;
  ASSERT_EQ(stat(settings_.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "only the owner may connect";
}

TEST_F(CoordinatorTest, CoordinatorDeathIsNoticedQuicklyAndLeavesNoOrphans) {
  Register("slow", "import time\ndef pyfun(x):\n    time.sleep(5)\n    return x\n", "DOUBLE", "DOUBLE");
  json status = StatusJson();
  std::vector<int> executors;
  for (const auto& e : status["executors"]) executors.push_back(e["pid"]);
  auto ticket = ctx().Push("slow", Doubles({1}));
  ASSERT_TRUE(ticket.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int coordinator = ctx().embedded_coordinator_pid();
  ASSERT_GT(coordinator, 0);
  kill(coordinator, SIGKILL);
  auto start = std::chrono::steady_clock::now();
  auto r = ctx().Pull(*ticket);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("coordinator went away"), std::string::npos) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ctx_.reset();
  for (int i = 0; i < 200; i++) {
    bool all_gone = true;
    for (int pid : executors) all_gone = all_gone && ProcessGone(pid);
    if (all_gone) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int pid : executors) EXPECT_TRUE(ProcessGone(pid)) << "executor " << pid << " orphaned";
  // The next Setup starts a new coordinator (the dead one's socket is stale, its lock released).
  Register("id", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("id", Doubles({3}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 3.0);
}

TEST_F(CoordinatorTest, MultiMegabyteStringValuesWork) {
  settings_.lane_bytes = 32u << 20;
  Register("rev", "def pyfun(s):\n    return [v[::-1] for v in s]\n", "VARCHAR", "VARCHAR");
  std::vector<std::optional<std::string>> values;
  for (int i = 0; i < 3; i++) values.push_back(std::string(4u << 20, static_cast<char>('a' + i)) + "xyz");
  ColumnBatch in, out;
  in.columns.push_back(Column::FromStrings(values));
  Status st = ctx().ExecuteFunction("rev", in, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (int i = 0; i < 3; i++) {
    std::string_view got = out.columns[0].GetString(i);
    ASSERT_EQ(got.size(), (4u << 20) + 3);
    EXPECT_EQ(got.substr(0, 4), "zyx" + std::string(1, static_cast<char>('a' + i)));
  }
  // Too much for the Lane: a clear error naming the sizes, and the next batch works.
  values.assign(1, std::string(40u << 20, 'q'));
  ColumnBatch huge;
  huge.columns.push_back(Column::FromStrings(values));
  st = ctx().ExecuteFunction("rev", huge, &out);
  EXPECT_EQ(st.code(), StatusCode::kCapacityExceeded) << st.ToString();
  EXPECT_NE(st.message().find("41943040 bytes"), std::string::npos) << st.message();
  ASSERT_TRUE(ctx().ExecuteFunction("rev", in, &out).ok());
}

TEST_F(CoordinatorTest, ALeakingFunctionGetsMemoryErrorNotTheMachine) {
  settings_.executor_memory_mb = 1536;
  Register("leak",
           "import numpy as np\n"
           "hoard = []\n"
           "def pyfun(x):\n"
           "    for _ in range(64):\n"
           "        hoard.append(np.ones(64 * 1024 * 1024 // 8))  # 64 MiB at a time, touched\n"
           "    return x\n",
           "DOUBLE", "DOUBLE");
  ColumnBatch out;
  Status st = ctx().ExecuteFunction("leak", Doubles({1}), &out, SchedHint{-1, 0});
  EXPECT_EQ(st.code(), StatusCode::kPythonError) << st.ToString();
  EXPECT_NE(st.message().find("MemoryError"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("'leak'"), std::string::npos) << st.message();
  Register("id", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  Status id_st = ctx().ExecuteFunction("id", Doubles({2}), &out, SchedHint{-1, 1});
  ASSERT_TRUE(id_st.ok()) << id_st.ToString();
}

TEST_F(CoordinatorTest, ExecutorsGetAFilteredEnvironment) {
  setenv("IMLANE_TEST_DB_PASSWORD", "hunter2", 1);
  setenv("PYTHONSTARTUP", "/nonexistent/startup.py", 1);
  setenv("IMLANE_TEST_MODEL_DIR", "/models", 1);
  Register("env",
           "import os\n"
           "def pyfun(x):\n"
           "    keys = ['IMLANE_TEST_DB_PASSWORD', 'PYTHONSTARTUP', 'IMLANE_TEST_MODEL_DIR']\n"
           "    return ['|'.join(os.environ.get(k, '-') for k in keys)] * len(x)\n",
           "DOUBLE", "VARCHAR");
  unsetenv("IMLANE_TEST_DB_PASSWORD");
  unsetenv("PYTHONSTARTUP");
  unsetenv("IMLANE_TEST_MODEL_DIR");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("env", Doubles({0}), &out).ok());
  // Credential-like names and interpreter overrides are dropped; the rest passes through.
  EXPECT_EQ(out.columns[0].GetString(0), "-|-|/models");
}

TEST_F(CoordinatorTest, AnotherPython3FirstOnPathIsIgnored) {
  // A pyenv/venv-like python3 first on PATH, with an empty standard library next to it: an
  // interpreter that took its prefix from PATH would fail to start or miss numpy.
  std::filesystem::create_directories(dir_ + "/otherpython/bin");
  std::filesystem::create_directories(dir_ + "/otherpython/lib/python3.11");
  WriteFile("otherpython/bin/python3", "#!/bin/sh\nexit 1\n");
  WriteFile("otherpython/lib/python3.11/os.py", "");  // the landmark by which Python finds its prefix
  std::filesystem::permissions(dir_ + "/otherpython/bin/python3", std::filesystem::perms::owner_all);
  const std::string old_path = getenv("PATH") ? getenv("PATH") : "";
  setenv("PATH", (dir_ + "/otherpython/bin:" + old_path).c_str(), 1);
  Register("prefix", "import sys, numpy\ndef pyfun(x):\n    return [sys.prefix] * len(x)\n", "DOUBLE", "VARCHAR");
  setenv("PATH", old_path.c_str(), 1);
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("prefix", Doubles({0}), &out).ok());
  EXPECT_EQ(out.columns[0].GetString(0), "/usr");
}

TEST_F(CoordinatorTest, ExecutorResourceLimitsFromOptions) {
  // A coordinator started by hand with limits; the context joins it instead of starting one.
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  ASSERT_GT(n, 0);
  std::string bin = std::filesystem::path(std::string(exe, static_cast<size_t>(n))).parent_path() / "imlane";
  pid_t pid = fork();
  if (pid == 0) {
    execl(bin.c_str(), bin.c_str(), "serve", "--socket", settings_.socket_path.c_str(), "--executors", "1",
          "--executor-cpu-seconds", "1", "--executor-max-files", "64", static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 500 && !std::filesystem::exists(settings_.socket_path); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  settings_.start_embedded = false;
  Register("files", "def pyfun(x):\n    fs = [open('/dev/null') for _ in range(200)]\n    return x\n", "DOUBLE",
           "DOUBLE");
  ColumnBatch out;
  Status st = ctx().ExecuteFunction("files", Doubles({1}), &out);
  EXPECT_EQ(st.code(), StatusCode::kPythonError) << st.ToString();
  EXPECT_NE(st.message().find("Too many open files"), std::string::npos) << st.message();
  Register("spin", "def pyfun(x):\n    while True:\n        pass\n", "DOUBLE", "DOUBLE");
  auto start = std::chrono::steady_clock::now();
  st = ctx().ExecuteFunction("spin", Doubles({1}), &out);
  EXPECT_EQ(st.code(), StatusCode::kExecutorFailed) << st.ToString();
  EXPECT_NE(st.message().find("CPU time limit exceeded"), std::string::npos) << st.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ctx_.reset();
  kill(pid, SIGTERM);
  int ws = 0;
  EXPECT_EQ(waitpid(pid, &ws, 0), pid);
}

// Runs `fn` in a child process as uid/gid 65534 (nobody); returns the child's exit code.
int AsNobody(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(90);
    _exit(fn());
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 99;
}

TEST_F(CoordinatorTest, AnotherUserIsRefused) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to act as a second user";
  Register("id", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  const std::string socket = settings_.socket_path;
  // 1. The socket (0600) in its private directory: another user cannot even connect.
  EXPECT_EQ(AsNobody([&] { return ConnectUnix(socket).ok() ? 1 : 0; }), 0);
  // 2. Even with the file modes opened up, the coordinator checks the peer's uid and refuses.
  chmod(dir_.c_str(), 0755);
  chmod(socket.c_str(), 0666);
  int rc = AsNobody([&] {
    auto sock = ConnectUnix(socket);
    if (!sock.ok()) return 2;
    json reply;
    Status st = CallJson(sock->get(), json{{"op", "status"}}, &reply, nullptr, 5000);
    if (st.ok()) return 3;
    return st.message().find("permission denied") != std::string::npos ? 0 : 4;
  });
  chmod(socket.c_str(), 0600);
  chmod(dir_.c_str(), 0700);
  EXPECT_EQ(rc, 0);
  ColumnBatch out;
  EXPECT_TRUE(ctx().ExecuteFunction("id", Doubles({1}), &out).ok()) << "the owner is still served";
}

// ---- Executors and supervision (issue 16, items 5-8) ------------------------------------------

using Clock = std::chrono::steady_clock;

Status PullInto(DBEndContext& c, Ticket ticket, std::vector<Column>* cols) {
  return c.Pull<ColumnBatch, Column>(ticket, cols);
}

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

json ExecutorEntry(const json& status, int index) {
  for (const auto& e : status["executors"]) {
    if (e["index"] == index) return e;
  }
  return json::object();
}

// A staged function whose pyinitial sleeps `seconds` only while `marker` exists, so that it can be
// registered quickly and reloaded slowly.
std::string SlowInitWhileMarked(const std::string& marker, int seconds) {
  return "import os, time\n"
         "def pyinitial():\n"
         "    if os.path.exists('" +
         marker + "'):\n        time.sleep(" + std::to_string(seconds) +
         ")\n"
         "def pyfun(x):\n"
         "    return x + 1\n";
}

const char* kSleepsWhenPositive =
    "import time\n"
    "def pyfun(x):\n"
    "    if x[0] > 0:\n"
    "        time.sleep(x[0])\n"
    "    return x\n";

// Item 5: a status call that times out (the executor is inside a batch longer than the status
// timeout) must not leave its reply to answer the next call.
TEST_F(CoordinatorTest, StatusTimeoutsDuringALongBatchLeaveLaterRepliesInStep) {
  settings_.n_executors = 1;
  Register("slow", kSleepsWhenPositive, "DOUBLE", "DOUBLE");
  auto ticket = ctx().Push<ColumnBatch, Column>("slow", Doubles({5}));
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  // Two status calls while the batch runs: each times out on the executor (2 s) and says so.
  for (int i = 0; i < 2; i++) {
    json s = StatusJson();
    EXPECT_EQ(ExecutorEntry(s, 0)["state"], "busy") << s.dump();
  }
  std::vector<Column> cols;
  ASSERT_TRUE(PullInto(ctx(), *ticket, &cols).ok());
  // The stale replies are still in the channel: a broken function must get its own (failed) answer.
  Status st =
      TryRegister("broken", "def pyinitial():\n    raise ValueError('no model here')\ndef pyfun(x):\n    return x\n",
                  "DOUBLE", "DOUBLE");
  EXPECT_FALSE(st.ok()) << "registered a function whose pyinitial raises";
  EXPECT_NE(st.message().find("no model here"), std::string::npos) << st.ToString();
  // Several calls in a row, each with its own answer: loads, Lane hand-overs, stats, cache resets.
  for (int i = 0; i < 3; i++) {
    const std::string name = "plus" + std::to_string(i);
    Register(name, "def pyfun(x):\n    return x + " + std::to_string(i) + "\n", "DOUBLE", "DOUBLE");
    ColumnBatch out;
    ASSERT_TRUE(ctx().ExecuteFunction(name, Doubles({10}), &out).ok());
    EXPECT_EQ(out.columns[0].Get<double>(0), 10.0 + i);
    st = TryRegister(
        "broken" + std::to_string(i),
        "def pyinitial():\n    raise KeyError('init " + std::to_string(i) + "')\ndef pyfun(x):\n    return x\n",
        "DOUBLE", "DOUBLE");
    EXPECT_NE(st.message().find("init " + std::to_string(i)), std::string::npos) << st.ToString();
  }
  json s = StatusJson();
  EXPECT_EQ(ExecutorEntry(s, 0)["state"], "running") << s.dump();
  std::set<std::string> names;
  const json executor = ExecutorEntry(s, 0);
  for (const auto& f : executor["functions"]) names.insert(f["name"].get<std::string>());
  for (const char* name : {"slow", "plus0", "plus1", "plus2"}) EXPECT_TRUE(names.count(name)) << name << s.dump();
  EXPECT_FALSE(names.count("broken")) << s.dump();
  auto reset = ctx().ResetContextCache("");
  EXPECT_TRUE(reset.ok()) << reset.status().ToString();
}

// Item 5, with two clients: one client's timed-out status call never answers another client's load.
TEST_F(CoordinatorTest, AnotherClientsTimedOutStatusNeverAnswersALoad) {
  settings_.n_executors = 1;
  Register("slow", kSleepsWhenPositive, "DOUBLE", "DOUBLE");
  auto other = DBEndContext::Setup(settings_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto ticket = ctx().Push<ColumnBatch, Column>("slow", Doubles({4}));
  ASSERT_TRUE(ticket.ok());
  auto doc = (*other)->CoordinatorStatus();  // times out on the busy executor
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  // Sent while the executor is still inside the batch: answered after it, in order.
  auto spec =
      FunctionSpec::Make("broken", "def pyinitial():\n    1 / 0\ndef pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  ASSERT_TRUE(spec.ok());
  Status st = (*other)->RegisterFunction(*spec);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("ZeroDivisionError"), std::string::npos) << st.ToString();
  std::vector<Column> cols;
  EXPECT_TRUE(PullInto(ctx(), *ticket, &cols).ok());
}

// Item 6: a slow one-off initialisation runs on every executor at once.
TEST_F(CoordinatorTest, SlowInitialisationLoadsOnAllExecutorsInParallel) {
  constexpr int kInitSeconds = 6;
  const std::string code =
      "import os, time\n"
      "def pyinitial():\n"
      "    time.sleep(" +
      std::to_string(kInitSeconds) +
      ")\n"
      "def pyfun(x):\n"
      "    return x * 2\n";
  ctx();  // coordinator and executors up before the clock starts
  const auto start = Clock::now();
  Register("slowinit", code, "DOUBLE", "DOUBLE");
  // The first query uses both executors: neither may have to initialise now.
  for (int executor = 0; executor < 2; executor++) {
    ColumnBatch out;
    ASSERT_TRUE(ctx().ExecuteFunction("slowinit", Doubles({21}), &out, SchedHint{-1, executor}).ok());
    EXPECT_EQ(out.columns[0].Get<double>(0), 42.0);
  }
  const double took = SecondsSince(start);
  EXPECT_GE(took, kInitSeconds);
  EXPECT_LT(took, 1.6 * kInitSeconds) << "the executors initialised one after the other";
  json s = StatusJson();
  EXPECT_EQ(s["functions"][0]["loads"], 2) << s.dump();
}

// Item 6: while a slow initialisation runs, status answers and other clients' unrelated functions
// register, acquire and run (on the executors that are loading, too).
TEST_F(CoordinatorTest, StatusAndOtherFunctionsGoOnWhileASlowInitRuns) {
  constexpr int kInitSeconds = 8;
  Register("warm", "def pyfun(x):\n    return x - 1\n", "DOUBLE", "DOUBLE");
  auto other = DBEndContext::Setup(settings_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  std::atomic<bool> slow_done{false};
  Status slow_status;
  std::thread slow([&] {
    auto spec = FunctionSpec::Make("slowinit",
                                   "import time\ndef pyinitial():\n    time.sleep(" + std::to_string(kInitSeconds) +
                                       ")\ndef pyfun(x):\n    return x\n",
                                   "DOUBLE", "DOUBLE");
    slow_status = spec.ok() ? ctx().RegisterFunction(*spec) : spec.status();
    slow_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // the load is under way
  // Status answers without waiting for the load (the executors are idle apart from it).
  auto start = Clock::now();
  auto doc = (*other)->CoordinatorStatus();
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_LT(SecondsSince(start), 3.0);
  json s = json::parse(*doc);
  for (const auto& e : s["executors"]) EXPECT_EQ(e["state"], "running") << s.dump();
  EXPECT_FALSE(slow_done.load()) << "status waited for the load";
  // Another client registers a new function and runs it, and runs an already registered one
  // (acquiring its first Lanes), on both executors.
  auto spec = FunctionSpec::Make("quick", "def pyfun(x):\n    return x * 10\n", "DOUBLE", "DOUBLE");
  ASSERT_TRUE(spec.ok());
  Status st = (*other)->RegisterFunction(*spec);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (int executor = 0; executor < 2; executor++) {
    ColumnBatch out;
    st = (*other)->ExecuteFunction("quick", Doubles({4}), &out, SchedHint{-1, executor});
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(out.columns[0].Get<double>(0), 40.0);
    st = (*other)->ExecuteFunction("warm", Doubles({4}), &out, SchedHint{-1, executor});
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(out.columns[0].Get<double>(0), 3.0);
  }
  EXPECT_FALSE(slow_done.load()) << "the other client's work waited for the slow load";
  slow.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.ToString();
  ColumnBatch out;
  EXPECT_TRUE(ctx().ExecuteFunction("slowinit", Doubles({1}), &out).ok());
}

// Item 6: two clients registering the same slow function share one load per executor.
TEST_F(CoordinatorTest, ConcurrentRegistrationsOfOneSlowFunctionLoadItOncePerExecutor) {
  const std::string code = "import time\ndef pyinitial():\n    time.sleep(3)\ndef pyfun(x):\n    return x\n";
  auto other = DBEndContext::Setup(settings_);
  ASSERT_TRUE(other.ok());
  ctx();
  Status a, b;
  std::thread t([&] {
    auto spec = FunctionSpec::Make("shared", code, "DOUBLE", "DOUBLE");
    a = (*other)->RegisterFunction(*spec);
  });
  auto spec = FunctionSpec::Make("shared", code, "DOUBLE", "DOUBLE");
  b = ctx().RegisterFunction(*spec);
  t.join();
  EXPECT_TRUE(a.ok()) << a.ToString();
  EXPECT_TRUE(b.ok()) << b.ToString();
  json s = StatusJson();
  ASSERT_EQ(s["functions"].size(), 1u);
  EXPECT_EQ(s["functions"][0]["loads"], 2) << s.dump();
}

// Item 7: an executor that dies while the other one is being reloaded is noticed at once.
TEST_F(CoordinatorTest, ExecutorDeathIsNoticedWhileAnotherExecutorReloads) {
  constexpr int kReloadSeconds = 12;
  const std::string marker = dir_ + "/slow";
  Register("slowinit", SlowInitWhileMarked(marker, kReloadSeconds), "DOUBLE", "DOUBLE");
  Register("boom", "import os\ndef pyfun(x):\n    if x[0] > 0:\n        os.kill(os.getpid(), 9)\n    return x\n",
           "DOUBLE", "DOUBLE");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("boom", Doubles({0}), &out, SchedHint{-1, 1}).ok());  // Lanes on executor 1
  std::ofstream(marker) << "1";
  json s = StatusJson();
  const int pid0 = ExecutorEntry(s, 0)["pid"];
  ASSERT_GT(pid0, 0);
  kill(pid0, SIGKILL);  // its replacement now spends kReloadSeconds reloading 'slowinit'
  for (int i = 0; i < 100 && ExecutorEntry(StatusJson(), 0)["state"] != "restarting"; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // Python started, reload under way
  const auto start = Clock::now();
  Status st = ctx().ExecuteFunction("boom", Doubles({1}), &out, SchedHint{-1, 1});
  const double took = SecondsSince(start);
  EXPECT_EQ(st.code(), StatusCode::kExecutorFailed) << st.ToString();
  EXPECT_NE(st.message().find("'boom'"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("signal 9"), std::string::npos) << st.ToString();
  // Noticed while executor 0 was still reloading, not after it.
  EXPECT_EQ(ExecutorEntry(StatusJson(), 0)["state"], "restarting");
  EXPECT_LT(took, kReloadSeconds / 2.0);
  std::remove(marker.c_str());
}

std::vector<int> ChildrenOf(int parent) {
  std::vector<int> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    size_t p = line.rfind(')');
    if (p == std::string::npos) continue;
    std::istringstream rest(line.substr(p + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != "Z") out.push_back(std::stoi(e.path().filename().string()));
  }
  return out;
}

// Item 7: a replacement that dies while it reloads is noticed and replaced in turn; the position
// ends up running with its functions, and the other executor never stopped serving.
TEST_F(CoordinatorTest, AReplacementThatDiesWhileReloadingIsReplacedAgain) {
  const std::string marker = dir_ + "/slow";
  Register("slowinit", SlowInitWhileMarked(marker, 4), "DOUBLE", "DOUBLE");
  const int coordinator = ctx().embedded_coordinator_pid();
  ASSERT_GT(coordinator, 0);
  std::ofstream(marker) << "1";
  json s = StatusJson();
  const int pid0 = ExecutorEntry(s, 0)["pid"], pid1 = ExecutorEntry(s, 1)["pid"];
  kill(pid0, SIGKILL);
  int replacement = -1;
  for (int i = 0; i < 300 && replacement < 0; i++) {
    for (int child : ChildrenOf(coordinator)) {
      if (child != pid0 && child != pid1) replacement = child;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(replacement, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // inside its slow reload
  kill(replacement, SIGKILL);
  // Executor 1 serves meanwhile.
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("slowinit", Doubles({1}), &out, SchedHint{-1, 1}).ok());
  std::remove(marker.c_str());  // the next replacement reloads quickly
  for (int i = 0; i < 600 && ExecutorEntry(StatusJson(), 0)["state"] != "running"; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  s = StatusJson();
  EXPECT_EQ(ExecutorEntry(s, 0)["state"], "running") << s.dump();
  EXPECT_EQ(ExecutorEntry(s, 0)["restarts"], 2) << s.dump();
  // A new client gets Lanes on both executors; the recovered one serves (it has the function).
  auto fresh = DBEndContext::Setup(settings_);
  ASSERT_TRUE(fresh.ok());
  for (int i = 0; i < 5; i++) {
    Status st = (*fresh)->ExecuteFunction("slowinit", Doubles({static_cast<double>(i)}), &out, SchedHint{-1, 0});
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(out.columns[0].Get<double>(0), i + 1.0);
  }
  auto info = (*fresh)->GetFunction("slowinit");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->executors, 2);
}

// Item 7: SIGTERM of the coordinator stops it while a replacement executor is still reloading.
TEST_F(CoordinatorTest, SigtermDoesNotWaitForARunningReload) {
  constexpr int kReloadSeconds = 30;
  const std::string marker = dir_ + "/slow";
  Register("slowinit", SlowInitWhileMarked(marker, kReloadSeconds), "DOUBLE", "DOUBLE");
  std::ofstream(marker) << "1";
  const int coordinator = ctx().embedded_coordinator_pid();
  ASSERT_GT(coordinator, 0);
  json s = StatusJson();
  const int pid0 = ExecutorEntry(s, 0)["pid"], pid1 = ExecutorEntry(s, 1)["pid"];
  kill(pid0, SIGKILL);
  for (int i = 0; i < 100 && ExecutorEntry(StatusJson(), 0)["state"] != "restarting"; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the replacement is reloading
  const auto start = Clock::now();
  kill(coordinator, SIGTERM);
  for (int i = 0; i < 1500 && !ProcessGone(coordinator); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(ProcessGone(coordinator));
  EXPECT_LT(SecondsSince(start), kReloadSeconds / 2.0) << "shutdown waited for the reload";
  for (int i = 0; i < 300 && !ProcessGone(pid1); i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(ProcessGone(pid1));
  // No executor of this coordinator is left, the replacement included.
  EXPECT_EQ(ChildrenOf(coordinator).size(), 0u);
  std::remove(marker.c_str());
}

// Item 8: a batch whose query gave it up while it was stuck in the UDF does not make the next
// query (another function, or another client) wait behind it.
TEST_F(CoordinatorTest, ADiscardedStuckBatchDoesNotPoisonTheNextQuery) {
  settings_.n_executors = 1;
  settings_.timeout_ms = 20000;
  Register("stuck", kSleepsWhenPositive, "DOUBLE", "DOUBLE");
  Register("quick", "def pyfun(x):\n    return x * 3\n", "DOUBLE", "DOUBLE");
  auto other = DBEndContext::Setup(settings_);
  ASSERT_TRUE(other.ok());
  for (int round = 0; round < 2; round++) {
    auto ticket = ctx().Push<ColumnBatch, Column>("stuck", Doubles({600}));
    ASSERT_TRUE(ticket.ok());
    auto finished = ctx().Wait(*ticket, 300);
    ASSERT_TRUE(finished.ok());
    ASSERT_FALSE(*finished) << "the batch is stuck in the UDF";
    ctx().Discard(*ticket);  // its query failed or was cancelled
    // Another function, then another client, then the same function: none waits for the stuck batch.
    ColumnBatch out;
    Status st = ctx().ExecuteFunction("quick", Doubles({2}), &out);
    ASSERT_TRUE(st.ok()) << "round " << round << ": " << st.ToString();
    EXPECT_EQ(out.columns[0].Get<double>(0), 6.0);
    st = (*other)->ExecuteFunction("quick", Doubles({5}), &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(out.columns[0].Get<double>(0), 15.0);
    st = ctx().ExecuteFunction("stuck", Doubles({0}), &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  json s = StatusJson();
  EXPECT_EQ(ExecutorEntry(s, 0)["restarts"], 2) << s.dump();
  EXPECT_NE(ExecutorEntry(s, 0)["last_exit"].get<std::string>().find("discarded"), std::string::npos) << s.dump();
}

// Item 8: a discarded batch that is still queued behind another client's long (legitimate) batch
// does not get that batch killed; it is recycled only once it runs itself.
TEST_F(CoordinatorTest, ADiscardedQueuedBatchNeverKillsAnotherClientsRunningBatch) {
  settings_.n_executors = 1;
  settings_.slots_per_executor = 2;
  Register("sleeps", kSleepsWhenPositive, "DOUBLE", "DOUBLE");
  auto other = DBEndContext::Setup(settings_);
  ASSERT_TRUE(other.ok());
  ColumnBatch warm;
  ASSERT_TRUE(ctx().ExecuteFunction("sleeps", Doubles({0}), &warm).ok());  // this client's Lanes exist
  auto legit = (*other)->Push<ColumnBatch, Column>("sleeps", Doubles({3}));
  ASSERT_TRUE(legit.ok());
  auto finished = (*other)->Wait(*legit, 300);
  ASSERT_TRUE(finished.ok() && !*finished);
  auto queued = ctx().Push<ColumnBatch, Column>("sleeps", Doubles({600}));
  ASSERT_TRUE(queued.ok());
  ctx().Discard(*queued);
  std::vector<Column> cols;
  Status st = PullInto(**other, *legit, &cols);
  EXPECT_TRUE(st.ok()) << "the other client's batch was killed: " << st.ToString();
  // The discarded batch then runs, is stuck, and its executor is recycled: later queries pass.
  ColumnBatch out;
  st = (*other)->ExecuteFunction("sleeps", Doubles({0}), &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

// Item 8: a client that disconnects while its batch is stuck does not poison the others either.
TEST_F(CoordinatorTest, AClientThatLeavesWithAStuckBatchDoesNotPoisonTheOthers) {
  settings_.n_executors = 1;
  settings_.timeout_ms = 20000;
  Register("stuck", kSleepsWhenPositive, "DOUBLE", "DOUBLE");
  {
    auto leaving = DBEndContext::Setup(settings_);
    ASSERT_TRUE(leaving.ok());
    auto ticket = (*leaving)->Push<ColumnBatch, Column>("stuck", Doubles({600}));
    ASSERT_TRUE(ticket.ok());
    auto finished = (*leaving)->Wait(*ticket, 300);
    ASSERT_TRUE(finished.ok() && !*finished);
  }  // gone, with its batch still running
  Register("quick", "def pyfun(x):\n    return x * 3\n", "DOUBLE", "DOUBLE");
  ColumnBatch out;
  Status st = ctx().ExecuteFunction("quick", Doubles({2}), &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out.columns[0].Get<double>(0), 6.0);
  st = ctx().ExecuteFunction("stuck", Doubles({0}), &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

// Item 8: a batch that finishes soon after its query gave it up costs no executor.
TEST_F(CoordinatorTest, ADiscardedBatchThatFinishesSoonKeepsItsExecutor) {
  settings_.n_executors = 1;
  Register("brief", "import time\ndef pyfun(x):\n    time.sleep(0.1)\n    return x\n", "DOUBLE", "DOUBLE");
  auto ticket = ctx().Push<ColumnBatch, Column>("brief", Doubles({1}));
  ASSERT_TRUE(ticket.ok());
  ctx().Discard(*ticket);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("brief", Doubles({1}), &out).ok());
  EXPECT_EQ(ExecutorEntry(StatusJson(), 0)["restarts"], 0);
}

// Item 8: when an executor dies, batches queued behind the one it ran (other clients' too) wait
// for its replacement and run there; only the batch that was running fails.
TEST_F(CoordinatorTest, BatchesQueuedBehindACrashRunOnTheReplacement) {
  settings_.n_executors = 1;
  Register("die_late", "import os, time\ndef pyfun(x):\n    time.sleep(1.0)\n    os._exit(3)\n", "DOUBLE", "DOUBLE");
  Register("fine", "def pyfun(x):\n    return x + 100\n", "DOUBLE", "DOUBLE");
  auto other = DBEndContext::Setup(settings_);
  ASSERT_TRUE(other.ok());
  for (int round = 0; round < 2; round++) {
    auto dying = ctx().Push<ColumnBatch, Column>("die_late", Doubles({1}));
    ASSERT_TRUE(dying.ok());
    auto finished = ctx().Wait(*dying, 300);
    ASSERT_TRUE(finished.ok() && !*finished);
    // Queued behind it: one of this client's, two of another client's.
    auto mine = ctx().Push<ColumnBatch, Column>("fine", Doubles({1, 2}));
    auto theirs1 = (*other)->Push<ColumnBatch, Column>("fine", Doubles({3}));
    auto theirs2 = (*other)->Push<ColumnBatch, Column>("fine", Doubles({4}));
    ASSERT_TRUE(mine.ok() && theirs1.ok() && theirs2.ok());
    std::vector<Column> cols;
    Status st = PullInto(ctx(), *dying, &cols);
    EXPECT_EQ(st.code(), StatusCode::kExecutorFailed) << st.ToString();
    EXPECT_NE(st.message().find("'die_late'"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("exited with code 3"), std::string::npos) << st.ToString();
    st = PullInto(ctx(), *mine, &cols);
    ASSERT_TRUE(st.ok()) << "round " << round << ": " << st.ToString();
    EXPECT_EQ(cols[0].Get<double>(1), 102.0);
    st = PullInto(**other, *theirs1, &cols);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(cols[0].Get<double>(0), 103.0);
    st = PullInto(**other, *theirs2, &cols);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(cols[0].Get<double>(0), 104.0);
  }
  EXPECT_EQ(ExecutorEntry(StatusJson(), 0)["restarts"], 2);
}

// ---- Control plane: a hostile or broken peer hurts nobody else ----------------------------------

std::string BinDir() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  return std::filesystem::path(std::string(exe, n > 0 ? static_cast<size_t>(n) : 0)).parent_path();
}

// `imlane serve` started by hand with `flags`; waits until it answers.
pid_t StartCoordinator(const std::string& socket, const std::vector<std::string>& flags) {
  std::vector<std::string> args = {BinDir() + "/imlane", "serve", "--socket", socket, "--executors", "1"};
  args.insert(args.end(), flags.begin(), flags.end());
  pid_t pid = fork();
  if (pid == 0) {
    // Dies with the test: a test that aborts must not leave a coordinator holding ctest's output open.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 3000; i++) {
    auto sock = ConnectUnix(socket);
    json reply;
    if (sock.ok() && CallJson(sock->get(), json{{"op", "hello"}}, &reply, nullptr, 30000).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

void StopCoordinator(pid_t pid) {
  kill(pid, SIGTERM);
  int ws = 0;
  EXPECT_EQ(waitpid(pid, &ws, 0), pid);
}

int64_t RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// A raw frame: the 4-byte length as announced, then `payload` (which may be shorter).
bool SendRaw(int fd, uint32_t announced, const std::string& payload) {
  std::string frame(reinterpret_cast<const char*>(&announced), 4);
  frame += payload;
  return send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
}

// Waits (generously) until the peer closes `fd`; true if it did.
bool ClosedByPeer(int fd, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[256];
      ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno == ECONNRESET)) return true;
    }
  }
  return false;
}

TEST_F(CoordinatorTest, EveryFieldOfEveryOpOfTheWrongTypeIsAProtocolErrorAndTheCoordinatorStaysUp) {
  Register("f", "def pyfun(x):\n    return x + 1\n", "DOUBLE", "DOUBLE");
  const int coordinator = ctx().embedded_coordinator_pid();
  ASSERT_GT(coordinator, 0);
  auto sock = ConnectUnix(settings_.socket_path);
  ASSERT_TRUE(sock.ok());
  // The example of the issue first: {"op": 5} used to abort the coordinator.
  json reply;
  Status st = CallJson(sock->get(), json{{"op", 5}}, &reply, nullptr, 10000);
  EXPECT_EQ(st.code(), StatusCode::kProtocolError) << st.ToString();
  EXPECT_NE(st.message().find("'op'"), std::string::npos) << st.message();
  size_t sent = 0;
  for (const auto& c : CoordinatorRequests()) {
    for (const auto& m : Mutations(c)) {
      st = CallJson(sock->get(), m.message, &reply, nullptr, 10000);
      ASSERT_NE(st.code(), StatusCode::kUnavailable) << "coordinator gone after " << c.kind << " " << m.where;
      EXPECT_EQ(st.code(), StatusCode::kProtocolError) << c.kind << " " << m.where << ": " << st.ToString();
      EXPECT_NE(st.message().find("'" + m.field + "'"), std::string::npos)
          << c.kind << " " << m.where << ": " << st.message();
      sent++;
    }
  }
  EXPECT_GT(sent, 100u);
  // Frames that are JSON but not objects, or not JSON: that client is dropped, nobody else.
  for (const std::string junk : {"[1, 2]", "\"op\"", "5", "{\"op\": ", "\xff\xfe"}) {
    auto bad = ConnectUnix(settings_.socket_path);
    ASSERT_TRUE(bad.ok());
    ASSERT_TRUE(SendRaw(bad->get(), static_cast<uint32_t>(junk.size()), junk));
    EXPECT_TRUE(ClosedByPeer(bad->get(), 10000)) << junk;
  }
  EXPECT_EQ(kill(coordinator, 0), 0) << "the coordinator survived";
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("f", Doubles({1}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 2.0);
  EXPECT_EQ(StatusJson()["functions"].size(), 1u) << "no malformed register got in";
}

// An executor started directly (as the coordinator starts it), spoken to over its control socket.
class DirectExecutor {
 public:
  DirectExecutor() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    control_ = UniqueFd(sv[0]);
    UniqueFd child_end(sv[1]);
    auto bell = SharedRegion::Create("imlane-test-bell", kBellBytes, false);
    if (!bell.ok()) return;
    bell_ = bell.MoveValue();
    ExecutorBell::Initialize(bell_.data());
    const std::string exe = BinDir() + "/imlane-executor";
    const std::string runtime = BinDir() + "/../share/imlane/python";
    pid_ = fork();
    if (pid_ == 0) {
      int c = fcntl(child_end.get(), F_DUPFD, 100), b = fcntl(bell_.fd(), F_DUPFD, 100);
      if (c < 0 || b < 0 || dup2(c, 3) < 0 || dup2(b, 4) < 0) _exit(121);
      execl(exe.c_str(), exe.c_str(), "--control-fd", "3", "--bell-fd", "4", "--runtime-dir", runtime.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    json ready;
    std::vector<UniqueFd> fds;
    ready_ = RecvJson(control_.get(), &ready, &fds, 60000).ok() && DecodeReadyMessage(ready).ok();
  }
  ~DirectExecutor() {
    control_.Reset();  // EOF: the executor exits
    if (pid_ > 0) {
      int ws = 0;
      for (int i = 0; i < 500 && waitpid(pid_, &ws, WNOHANG) == 0; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      kill(pid_, SIGKILL);
      waitpid(pid_, &ws, 0);
    }
  }
  bool ready() const { return ready_; }
  pid_t pid() const { return pid_; }
  Status Call(const json& request, json* reply) {
    static uint64_t next_id = 1;
    json req = request;
    req["id"] = next_id++;
    IMLANE_RETURN_NOT_OK(SendJson(control_.get(), req));
    reinterpret_cast<ExecutorBell*>(bell_.data())->RequestControl();
    std::vector<UniqueFd> ignored;
    IMLANE_RETURN_NOT_OK(RecvJson(control_.get(), reply, &ignored, 30000));
    return ReplyStatus(*reply);
  }

 private:
  UniqueFd control_;
  SharedRegion bell_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

TEST(ExecutorControlTest, EveryFieldOfEveryOpOfTheWrongTypeIsAProtocolErrorAndTheExecutorStaysUp) {
  DirectExecutor executor;
  ASSERT_TRUE(executor.ready()) << "imlane-executor did not start";
  json reply;
  Status st = executor.Call(json{{"op", json::array({"load"})}}, &reply);
  EXPECT_EQ(st.code(), StatusCode::kProtocolError) << st.ToString();
  size_t sent = 0;
  for (const auto& c : ExecutorRequests()) {
    for (const auto& m : Mutations(c)) {
      st = executor.Call(m.message, &reply);
      ASSERT_NE(st.code(), StatusCode::kUnavailable) << "executor gone after " << c.kind << " " << m.where;
      EXPECT_EQ(st.code(), StatusCode::kProtocolError) << c.kind << " " << m.where << ": " << st.ToString();
      EXPECT_NE(st.message().find("'" + m.field + "'"), std::string::npos)
          << c.kind << " " << m.where << ": " << st.message();
      sent++;
    }
  }
  EXPECT_GT(sent, 50u);
  EXPECT_EQ(kill(executor.pid(), 0), 0);
  // Still serving: the valid messages work.
  for (const auto& c : ExecutorRequests()) {
    st = executor.Call(c.valid, &reply);
    EXPECT_TRUE(st.ok()) << c.kind << ": " << st.ToString();
  }
}

TEST_F(CoordinatorTest, HundredsOfPeersAnnouncingLargeMessagesCostTheCoordinatorNoMemory) {
  constexpr int kPeers = 300;
  const pid_t coordinator =
      StartCoordinator(settings_.socket_path, {"--max-connections", "1000", "--max-connections-per-process", "1000",
                                               "--max-connections-per-uid", "1000", "--message-timeout-ms", "60000"});
  const int64_t before = RssKb(coordinator);
  ASSERT_GT(before, 0);
  std::vector<UniqueFd> peers;
  for (int i = 0; i < kPeers; i++) {
    auto sock = ConnectUnix(settings_.socket_path);
    ASSERT_TRUE(sock.ok()) << i << ": " << sock.status().ToString();
    // Just under the client limit (16 MiB): announced, with a few bytes of it actually sent.
    ASSERT_TRUE(SendRaw(sock->get(), (16u << 20) - 1, "{\"op\": \"status\", "));
    peers.push_back(sock.MoveValue());
  }
  // Every peer is being served (its thread is in its read) by the time a new client is answered.
  auto probe = ConnectUnix(settings_.socket_path);
  ASSERT_TRUE(probe.ok());
  json reply;
  for (int i = 0; i < 100; i++) {
    ASSERT_TRUE(CallJson(probe->get(), json{{"op", "status"}}, &reply, nullptr, 30000).ok());
    if (IntegerOr<int>(reply, "clients", 0) >= kPeers + 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(IntegerOr<int>(reply, "clients", 0), kPeers + 1);
  const int64_t after = RssKb(coordinator);
  // 300 x 16 MiB would be 4.8 GiB; threads' stacks and buffers are a few MiB (more under ASan).
#if defined(__SANITIZE_ADDRESS__)
  constexpr int64_t kBoundKb = 256 * 1024;
#else
  constexpr int64_t kBoundKb = 64 * 1024;
#endif
  EXPECT_LT(after - before, kBoundKb) << "RSS grew from " << before << " kB to " << after << " kB";
  peers.clear();
  StopCoordinator(coordinator);
}

TEST_F(CoordinatorTest, HalfSentMessagesAreDroppedAfterTheTimeoutAndOthersAreServed) {
  const pid_t coordinator = StartCoordinator(settings_.socket_path, {"--message-timeout-ms", "500"});
  // A length and nothing; part of a length; a length and part of its payload; a slow trickle.
  std::vector<UniqueFd> stalled;
  for (int kind = 0; kind < 3; kind++) {
    auto sock = ConnectUnix(settings_.socket_path);
    ASSERT_TRUE(sock.ok());
    if (kind == 0) ASSERT_TRUE(SendRaw(sock->get(), 100, ""));
    if (kind == 1) ASSERT_EQ(send(sock->get(), "\x10\x00", 2, MSG_NOSIGNAL), 2);
    if (kind == 2) ASSERT_TRUE(SendRaw(sock->get(), 100, "{\"op\": \"st"));
    stalled.push_back(sock.MoveValue());
  }
  auto trickle = ConnectUnix(settings_.socket_path);
  ASSERT_TRUE(trickle.ok());
  ASSERT_TRUE(SendRaw(trickle->get(), 1000, "{"));
  // Meanwhile another client is served at once.
  auto other = ConnectUnix(settings_.socket_path);
  ASSERT_TRUE(other.ok());
  json reply;
  EXPECT_TRUE(CallJson(other->get(), json{{"op", "status"}}, &reply, nullptr, 5000).ok());
  // Bytes keep arriving, but the whole message is late: the trickler is dropped too.
  for (int i = 0; i < 10; i++) {
    if (send(trickle->get(), " ", 1, MSG_NOSIGNAL) != 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (size_t i = 0; i < stalled.size(); i++) EXPECT_TRUE(ClosedByPeer(stalled[i].get(), 20000)) << "kind " << i;
  EXPECT_TRUE(ClosedByPeer(trickle->get(), 20000)) << "trickle";
  EXPECT_TRUE(CallJson(other->get(), json{{"op", "status"}}, &reply, nullptr, 5000).ok());
  EXPECT_EQ(IntegerOr<int>(reply, "clients", -1), 1) << "only the well-behaved client is left";
  StopCoordinator(coordinator);
}

TEST_F(CoordinatorTest, AMessageOverTheLimitIsRefusedWithAClearErrorAndTheConnectionKept) {
  const pid_t coordinator = StartCoordinator(settings_.socket_path, {"--max-message-bytes", "65536"});
  auto sock = ConnectUnix(settings_.socket_path);
  ASSERT_TRUE(sock.ok());
  json big = {{"op", "register"}, {"name", "big"}, {"source_b64", std::string(100000, 'A')}};
  json reply;
  Status st = CallJson(sock->get(), big, &reply, nullptr, 10000);
  EXPECT_EQ(st.code(), StatusCode::kCapacityExceeded) << st.ToString();
  EXPECT_NE(st.message().find("exceeds the limit of 65536 bytes"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("--max-message-bytes"), std::string::npos) << st.message();
  // Announced far beyond it (4 GiB - 1): refused the same way, nothing allocated, nothing hangs.
  auto huge = ConnectUnix(settings_.socket_path);
  ASSERT_TRUE(huge.ok());
  ASSERT_TRUE(SendRaw(huge->get(), 0xffffffffu, "{}"));
  EXPECT_TRUE(CallJson(sock->get(), json{{"op", "status"}}, &reply, nullptr, 10000).ok()) << "still in step";
  // Through DBEnd: registering a source over the limit names the limit.
  settings_.start_embedded = false;
  st = TryRegister("big", "def pyfun(x):\n    return x\n" + std::string(100000, '#'), "DOUBLE", "DOUBLE");
  EXPECT_EQ(st.code(), StatusCode::kCapacityExceeded) << st.ToString();
  EXPECT_NE(st.message().find("--max-message-bytes"), std::string::npos) << st.message();
  Register("small", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  ctx_.reset();
  StopCoordinator(coordinator);
}

// Opens n connections that each said hello (so the coordinator counts them), kept in *held. A
// refusal is retried for a while: the coordinator counts a closed connection (StartCoordinator's
// probe) as gone only once its thread has seen the close.
void HoldConnections(const std::string& socket, int n, std::vector<UniqueFd>* held) {
  for (int i = 0; i < n; i++) {
    Status st;
    for (int attempt = 0; attempt < 100; attempt++) {
      auto sock = ConnectUnix(socket);
      ASSERT_TRUE(sock.ok());
      json reply;
      st = CallJson(sock->get(), json{{"op", "hello"}}, &reply, nullptr, 10000);
      if (st.ok()) {
        held->push_back(sock.MoveValue());
        break;
      }
      if (st.code() != StatusCode::kCapacityExceeded) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(st.ok()) << i << ": " << st.ToString();
  }
}

// Stops a coordinator of StartCoordinator when a test ends early (a failed ASSERT), so that no
// process outlives the test and holds its output open.
struct StopAtEnd {
  pid_t pid;
  ~StopAtEnd() {
    if (kill(pid, 0) == 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

TEST_F(CoordinatorTest, ConnectionCapsRefuseWithAClearErrorAndFreeUpWhenPeersLeave) {
  const pid_t coordinator =
      StartCoordinator(settings_.socket_path, {"--max-connections", "4", "--max-connections-per-process", "3"});
  StopAtEnd stop_at_end{coordinator};
  // Per process: the fourth connection of this process is refused, naming the cap.
  std::vector<UniqueFd> held;
  json reply;
  ASSERT_NO_FATAL_FAILURE(HoldConnections(settings_.socket_path, 3, &held));
  auto refused = ConnectUnix(settings_.socket_path);
  ASSERT_TRUE(refused.ok());
  Status st = CallJson(refused->get(), json{{"op", "hello"}}, &reply, nullptr, 10000);
  EXPECT_EQ(st.code(), StatusCode::kCapacityExceeded) << st.ToString();
  EXPECT_NE(st.message().find("process " + std::to_string(getpid())), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("--max-connections-per-process 3"), std::string::npos) << st.message();
  // Another process still gets in (4 of 4), and a fifth connection is refused by the total cap.
  int to_parent[2], to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  pid_t child = fork();
  if (child == 0) {
    close(to_parent[0]);
    close(to_child[1]);
    auto mine = ConnectUnix(settings_.socket_path);
    json r;
    char ok = mine.ok() && CallJson(mine->get(), json{{"op", "hello"}}, &r, nullptr, 10000).ok() ? 'y' : 'n';
    if (write(to_parent[1], &ok, 1) != 1) _exit(2);
    char done;
    if (read(to_child[0], &done, 1) < 0) _exit(3);  // holds its connection until the parent is done
    _exit(0);
  }
  close(to_parent[1]);
  close(to_child[0]);
  char child_ok = 0;
  ASSERT_EQ(read(to_parent[0], &child_ok, 1), 1);
  close(to_parent[0]);
  EXPECT_EQ(child_ok, 'y') << "another process is under its own cap";
  // The DBEnd of a refused client says why.
  settings_.start_embedded = false;
  auto refused_ctx = DBEndContext::Setup(settings_);
  ASSERT_FALSE(refused_ctx.ok());
  EXPECT_EQ(refused_ctx.status().code(), StatusCode::kCapacityExceeded) << refused_ctx.status().ToString();
  EXPECT_NE(refused_ctx.status().message().find("connection refused"), std::string::npos)
      << refused_ctx.status().message();
  close(to_child[1]);  // the child lets go
  int ws = 0;
  ASSERT_EQ(waitpid(child, &ws, 0), child);
  // Peers leave: their places free up (the coordinator notices the hang-ups).
  held.clear();
  bool admitted = false;
  for (int i = 0; i < 200 && !admitted; i++) {
    auto again = ConnectUnix(settings_.socket_path);
    admitted = again.ok() && CallJson(again->get(), json{{"op", "hello"}}, &reply, nullptr, 10000).ok();
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(admitted);
  // The probe just closed may still be counted for a moment; a DBEnd set up now retries like a client would.
  for (int i = 0; i < 200 && !ctx_; i++) {
    auto c = DBEndContext::Setup(settings_);
    if (c.ok()) {
      ctx_ = c.MoveValue();
    } else {
      ASSERT_EQ(c.status().code(), StatusCode::kCapacityExceeded) << c.status().ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_TRUE(ctx_) << "no place freed up after the peers left";
  Register("id", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  ColumnBatch out;
  EXPECT_TRUE(ctx().ExecuteFunction("id", Doubles({1}), &out).ok());
  ctx_.reset();
  StopCoordinator(coordinator);
}

TEST_F(CoordinatorTest, ThePerUserConnectionCapNamesTheUser) {
  const pid_t coordinator = StartCoordinator(settings_.socket_path, {"--max-connections-per-uid", "2"});
  StopAtEnd stop_at_end{coordinator};
  std::vector<UniqueFd> held;
  json reply;
  ASSERT_NO_FATAL_FAILURE(HoldConnections(settings_.socket_path, 2, &held));
  auto refused = ConnectUnix(settings_.socket_path);
  ASSERT_TRUE(refused.ok());
  Status st = CallJson(refused->get(), json{{"op", "status"}}, &reply, nullptr, 10000);
  EXPECT_EQ(st.code(), StatusCode::kCapacityExceeded) << st.ToString();
  EXPECT_NE(st.message().find("uid " + std::to_string(getuid()) + " already has 2 connections"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("--max-connections-per-uid 2"), std::string::npos) << st.message();
  held.clear();
  StopCoordinator(coordinator);
}

// ---- Source that is not UTF-8 -------------------------------------------------------------------

TEST_F(CoordinatorTest, ALatin1FileWithACodingCookieRegistersAndReturnsItsLiteral) {
  // "café" and "naïve" in latin-1 bytes (\xe9, \xef): invalid UTF-8, valid Python with the cookie.
  const std::string path = WriteFile("latin1.py",
                                     "# -*- coding: latin-1 -*-\n"
                                     "WORD = 'caf\xe9'\n"
                                     "def pyfun(x):\n"
                                     "    return [WORD if v > 0 else 'na\xefve' for v in x]\n");
  Register("latin", path, "DOUBLE", "VARCHAR");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("latin", Doubles({1, -1}), &out).ok());
  EXPECT_EQ(out.columns[0].GetString(0), "caf\xc3\xa9");
  EXPECT_EQ(out.columns[0].GetString(1), "na\xc3\xafve");
  // Another cookie spelling, and a UTF-8 file with a BOM: each as Python would run it.
  const std::string cp = WriteFile("cp1252.py",
                                   "# vim: set fileencoding=cp1252 :\ndef pyfun(x):\n"
                                   "    return ['\x80' for v in x]\n");
  Register("euro", cp, "DOUBLE", "VARCHAR");
  ASSERT_TRUE(ctx().ExecuteFunction("euro", Doubles({1}), &out).ok());
  EXPECT_EQ(out.columns[0].GetString(0), "\xe2\x82\xac");
  const std::string bom = WriteFile("bom.py",
                                    "\xef\xbb\xbf"
                                    "def pyfun(x):\n    return ['\xc3\xa9' for v in x]\n");
  Register("bom", bom, "DOUBLE", "VARCHAR");
  ASSERT_TRUE(ctx().ExecuteFunction("bom", Doubles({1}), &out).ok());
  EXPECT_EQ(out.columns[0].GetString(0), "\xc3\xa9");
}

TEST_F(CoordinatorTest, BinaryOrUndecodableSourceIsAClearRegistrationErrorAndTheCoordinatorStaysUp) {
  Register("ok", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  const int coordinator = ctx().embedded_coordinator_pid();
  std::string binary;
  std::mt19937 rng(16);
  for (int i = 0; i < 4096; i++) binary.push_back(static_cast<char>(rng() & 0xff));
  binary[100] = '\0';
  struct Case {
    std::string name, source, expect;
  };
  const std::vector<Case> cases = {
      {"bin", WriteFile("model.bin.py", binary), "null bytes"},
      {"nul", WriteFile("nul.py", std::string("def pyfun(x):\n    return x\n\0\0", 30)), "null bytes"},
      // latin-1 bytes without a cookie: Python itself refuses them (its default is UTF-8).
      {"nocookie", WriteFile("nocookie.py", "def pyfun(x):\n    return ['caf\xe9' for v in x]\n"), "utf-8"},
      {"badcookie", WriteFile("badcookie.py", "# -*- coding: no-such-codec -*-\ndef pyfun(x):\n    return x\n"),
       "no-such-codec"},
      // Inline code is text: it must be UTF-8.
      {"inline", "def pyfun(x):\n    return ['caf\xe9' for v in x]\n", "not UTF-8"},
  };
  for (const auto& c : cases) {
    Status st = TryRegister(c.name, c.source, "DOUBLE", "VARCHAR");
    EXPECT_EQ(st.code(), StatusCode::kPythonError) << c.name << ": " << st.ToString();
    EXPECT_NE(st.message().find("cannot register function '" + c.name + "'"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << c.name << ": " << st.message();
    EXPECT_EQ(st.message().find("json"), std::string::npos) << "no library exception: " << st.message();
  }
  EXPECT_EQ(kill(coordinator, 0), 0);
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("ok", Doubles({4}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 4.0);
  EXPECT_EQ(StatusJson()["functions"].size(), 1u);
}

}  // namespace
}  // namespace imlane::testing
