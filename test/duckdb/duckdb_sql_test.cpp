// IMLane in DuckDB, through SQL: a real DuckDB, real executors, real Python.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "duckdb.hpp"
#include "imlane_duckdb.hpp"
#include "query_runner.hpp"

namespace {

class DuckDBTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/imlane-duckdb-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    db_ = std::make_unique<duckdb::DuckDB>(nullptr);
    imlane::duckdb_integration::LoadIMLane(*db_->instance);
    con_ = std::make_unique<duckdb::Connection>(*db_);
    Configure(*con_);
  }
  void TearDown() override {
    con_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Configure(duckdb::Connection& con) {
    Ok(con, "SET imlane_socket = '" + dir_ + "/imlane.sock'");
    Ok(con, "SET imlane_executors = 2");
    Ok(con, "SET imlane_lane_bytes = 16777216");
  }
  duckdb::unique_ptr<duckdb::MaterializedQueryResult> Ok(duckdb::Connection& con, const std::string& sql) {
    auto r = con.Query(sql);
    EXPECT_FALSE(r->HasError()) << sql << "\n" << r->GetError();
    return r;
  }
  duckdb::unique_ptr<duckdb::MaterializedQueryResult> Ok(const std::string& sql) { return Ok(*con_, sql); }
  std::string Error(const std::string& sql) {
    auto r = con_->Query(sql);
    EXPECT_TRUE(r->HasError()) << sql;
    return r->HasError() ? r->GetError() : "";
  }
  duckdb::Value One(const std::string& sql) {
    auto r = Ok(sql);
    return r->HasError() || r->RowCount() == 0 ? duckdb::Value() : r->GetValue(0, 0);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  void Create(const std::string& name, const std::string& source, const std::string& args, const std::string& ret) {
    std::string src = source;
    size_t p = 0;
    while ((p = src.find('\'', p)) != std::string::npos) {  // SQL-quote the code
      src.insert(p, "'");
      p += 2;
    }
    Ok("CALL imlane_create_function('" + name + "', '" + src + "', '" + args + "', '" + ret + "')");
  }
  void MakeTable(int rows) {
    Ok("CREATE TABLE t AS SELECT range AS id, (range % 1000) / 10.0 AS a, (range % 37)::DOUBLE AS b, "
       "'k' || (range % 5) AS s FROM range(" +
       std::to_string(rows) + ")");
  }

  std::string dir_;
  std::unique_ptr<duckdb::DuckDB> db_;
  std::unique_ptr<duckdb::Connection> con_;
};

const char* kLinear = "def pyfun(a, b):\n    return a * 2 + b\n";

const char* kIdentity =
    "import numpy as np\n"
    "def pyfun(x):\n"
    "    if x.dtype.kind == 'f':\n"
    "        return [None if v != v else v for v in x.tolist()]\n"
    "    return x\n";

TEST_F(DuckDBTest, EveryTypeWithNullsRoundTrips) {
  Ok("CREATE TABLE types AS SELECT "
     "CASE WHEN range % 7 = 3 THEN NULL ELSE range % 2 = 0 END AS c_boolean, "
     "CASE WHEN range % 7 = 4 THEN NULL ELSE (range % 100 - 50)::TINYINT END AS c_tinyint, "
     "CASE WHEN range % 7 = 5 THEN NULL ELSE (range * 7 % 30000)::SMALLINT END AS c_smallint, "
     "CASE WHEN range % 7 = 6 THEN NULL ELSE (range * 1000003 % 2000000000)::INTEGER END AS c_integer, "
     "CASE WHEN range % 7 = 0 THEN NULL ELSE range * 10000000007 END AS c_bigint, "
     "CASE WHEN range % 7 = 1 THEN NULL ELSE (range / 8)::FLOAT END AS c_float, "
     "CASE WHEN range % 7 = 2 THEN NULL ELSE range / 3 END AS c_double, "
     "CASE WHEN range % 5 = 1 THEN NULL ELSE 'v' || range || 'é' END AS c_varchar, "
     "CASE WHEN range % 6 = 1 THEN NULL ELSE DATE '2000-01-01' + range::INTEGER END AS c_date, "
     "CASE WHEN range % 4 = 1 THEN NULL ELSE TIMESTAMP '2020-01-01' + INTERVAL (range) SECOND END AS c_timestamp "
     "FROM range(5000)");
  for (const char* type :
       {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "VARCHAR", "DATE", "TIMESTAMP"}) {
    SCOPED_TRACE(type);
    std::string lower = type;
    for (auto& c : lower) c = static_cast<char>(tolower(c));
    std::string fn = "ident_" + lower, col = "c_" + lower;
    Create(fn, kIdentity, type, type);
    EXPECT_EQ(
        One("SELECT count(*) FROM types WHERE " + fn + "(" + col + ") IS NOT DISTINCT FROM " + col).GetValue<int64_t>(),
        5000);
    EXPECT_EQ(One("SELECT count(*) FROM (SELECT " + fn + "(" + col + ") AS v FROM types) WHERE v IS NULL")
                  .GetValue<int64_t>(),
              One("SELECT count(*) FROM types WHERE " + col + " IS NULL").GetValue<int64_t>());
  }
}

TEST_F(DuckDBTest, EveryPlacementAgreesWithPlainSql) {
  MakeTable(50000);
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  EXPECT_EQ(One("SELECT count(*) FROM t WHERE lin(a, b) <> a * 2 + b").GetValue<int64_t>(), 0);
  EXPECT_EQ(One("SELECT count(*) FROM t WHERE lin(a, b) > 150").GetValue<int64_t>(),
            One("SELECT count(*) FROM t WHERE a * 2 + b > 150").GetValue<int64_t>());
  EXPECT_EQ(One("SELECT count(*) FROM t WHERE b > 10 AND lin(a, b) > 150 AND s = 'k1'").GetValue<int64_t>(),
            One("SELECT count(*) FROM t WHERE b > 10 AND a * 2 + b > 150 AND s = 'k1'").GetValue<int64_t>());
  // JOIN condition
  Ok("CREATE TABLE v AS SELECT range::DOUBLE AS x FROM range(300)");
  EXPECT_EQ(One("SELECT count(*) FROM t JOIN v ON lin(t.a, t.b) = v.x").GetValue<int64_t>(),
            One("SELECT count(*) FROM t JOIN v ON t.a * 2 + t.b = v.x").GetValue<int64_t>());
  // CTE and subquery
  EXPECT_EQ(One("WITH p AS (SELECT id, lin(a, b) AS y FROM t) SELECT sum(y) FROM p WHERE y > 20").GetValue<double>(),
            One("SELECT sum(a * 2 + b) FROM t WHERE a * 2 + b > 20").GetValue<double>());
  EXPECT_EQ(One("SELECT max(y) FROM (SELECT lin(a, b) AS y FROM t WHERE id IN (SELECT id FROM t WHERE lin(a, b) < 50))")
                .GetValue<double>(),
            One("SELECT max(a * 2 + b) FROM t WHERE a * 2 + b < 50").GetValue<double>());
  // ORDER BY and LIMIT: the same rows in the same order
  auto got = Ok("SELECT id, lin(a, b) AS y FROM t ORDER BY y DESC, id LIMIT 7");
  auto want = Ok("SELECT id, a * 2 + b AS y FROM t ORDER BY y DESC, id LIMIT 7");
  ASSERT_EQ(got->RowCount(), 7u);
  for (duckdb::idx_t r = 0; r < 7; r++) EXPECT_EQ(got->GetValue(0, r), want->GetValue(0, r)) << r;
  // LIMIT without ORDER BY: any rows, but each one right
  auto some = Ok("SELECT a * 2 + b, lin(a, b) FROM t LIMIT 3000");
  ASSERT_EQ(some->RowCount(), 3000u);
  for (duckdb::idx_t r = 0; r < some->RowCount(); r++) ASSERT_EQ(some->GetValue(0, r), some->GetValue(1, r));
  // Window function
  EXPECT_EQ(One("SELECT count(*) FROM (SELECT id, rank() OVER (ORDER BY lin(a, b), id) AS r1, "
                "rank() OVER (ORDER BY a * 2 + b, id) AS r2 FROM t) WHERE r1 <> r2")
                .GetValue<int64_t>(),
            0);
  // The plan uses the prediction operator for projections and filters
  auto plan = Ok("EXPLAIN SELECT id, lin(a, b) FROM t WHERE lin(a, b) > 3");
  EXPECT_NE(plan->GetValue(1, 0).ToString().find("IMLANE_PREDICT"), std::string::npos);
}

TEST_F(DuckDBTest, ResultsEqualPlainPythonOnAScikitLearnModel) {
  std::string model = dir_ + "/rf.pkl", rows = dir_ + "/rows.csv", expected = dir_ + "/expected.csv";
  std::string train = Write("train.py",
                            "import pickle, numpy as np\n"
                            "from sklearn.ensemble import RandomForestClassifier\n"
                            "rng = np.random.default_rng(1)\n"
                            "x = rng.random((3000, 2)) * [100, 40]\n"
                            "y = (x[:, 0] * 2 + x[:, 1] > 120).astype(int)\n"
                            "m = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(x, y)\n"
                            "pickle.dump(m, open('" +
                                model + "', 'wb'))\n");
  ASSERT_EQ(system(("/usr/bin/python3 " + train).c_str()), 0);
  Create("rf",
         "import pickle, numpy as np\n"
         "def pyinitial():\n"
         "    global m\n"
         "    m = pickle.load(open('" +
             model +
             "', 'rb'))\n"
             "def pyfun(a, b):\n"
             "    return m.predict(np.column_stack([a, b]))\n",
         "DOUBLE, DOUBLE", "INTEGER");
  MakeTable(30000);
  Ok("COPY (SELECT id, a, b FROM t) TO '" + rows + "' (HEADER false)");
  std::string score = Write("score.py",
                            "import pickle, numpy as np\n"
                            "m = pickle.load(open('" +
                                model +
                                "', 'rb'))\n"
                                "d = np.loadtxt('" +
                                rows +
                                "', delimiter=',')\n"
                                "p = m.predict(d[:, 1:3])\n"
                                "np.savetxt('" +
                                expected + "', np.column_stack([d[:, 0], p]), fmt='%d', delimiter=',')\n");
  ASSERT_EQ(system(("/usr/bin/python3 " + score).c_str()), 0);
  Ok("CREATE TABLE expected AS SELECT column0 AS id, column1 AS p FROM read_csv('" + expected + "', header = false)");
  EXPECT_EQ(One("SELECT count(*) FROM t JOIN expected USING (id)").GetValue<int64_t>(), 30000);
  EXPECT_EQ(One("SELECT count(*) FROM t JOIN expected USING (id) WHERE rf(a, b) <> expected.p").GetValue<int64_t>(), 0);
  EXPECT_GT(One("SELECT sum(rf(a, b)) FROM t").GetValue<int64_t>(), 0);
}

TEST_F(DuckDBTest, MultiThreadedDuckDBUsesEveryExecutor) {
  MakeTable(400000);
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  Ok("SET imlane_batch_size = 8192");
  for (int threads : {1, 2, 4}) {
    Ok("SET threads = " + std::to_string(threads));
    EXPECT_EQ(One("SELECT count(*) FROM t WHERE lin(a, b) <> a * 2 + b").GetValue<int64_t>(), 0) << threads;
  }
  auto f = Ok("SELECT batches, rows, mean_batch_rows, executors FROM imlane_functions() WHERE name = 'lin'");
  EXPECT_EQ(f->GetValue(1, 0).GetValue<int64_t>(), 3 * 400000);
  EXPECT_GE(f->GetValue(2, 0).GetValue<double>(), 8000.0) << "batches beyond DuckDB's 2048-row vectors";
  EXPECT_EQ(f->GetValue(3, 0).GetValue<int32_t>(), 2) << "both executors served the function";
}

TEST_F(DuckDBTest, TinyPinnedBatchSizeNeitherHangsNorLosesRows) {
  // 64-row batches would split each DuckDB vector over 32 batches, more than a thread can hold
  // slots for: the operator sends at least one vector per batch instead of waiting forever.
  MakeTable(100000);
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  Ok("SET imlane_batch_size = 64");
  Ok("SET threads = 2");
  EXPECT_EQ(One("SELECT count(*) FROM t WHERE lin(a, b) <> a * 2 + b").GetValue<int64_t>(), 0);
  auto f = Ok("SELECT rows, mean_batch_rows FROM imlane_functions() WHERE name = 'lin'");
  EXPECT_EQ(f->GetValue(0, 0).GetValue<int64_t>(), 100000);
  EXPECT_GE(f->GetValue(1, 0).GetValue<double>(), 2000.0);
}

TEST_F(DuckDBTest, TwoConnectionsAndTwoDatabasesShareOneCoordinator) {
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  duckdb::Connection second(*db_);
  Configure(second);
  EXPECT_EQ(Ok(second, "SELECT lin(1.0, 2.0)")->GetValue(0, 0).GetValue<double>(), 4.0);
  // Another database file, same socket: it joins the running coordinator and sees its registry.
  duckdb::DuckDB other((dir_ + "/other.db").c_str());
  imlane::duckdb_integration::LoadIMLane(*other.instance);
  duckdb::Connection con(other);
  Configure(con);
  auto listed = Ok(con, "SELECT name FROM imlane_functions()");
  ASSERT_EQ(listed->RowCount(), 1u);
  EXPECT_EQ(listed->GetValue(0, 0).ToString(), "lin");
  Ok(con, "CALL imlane_create_function('lin', '" + std::string("def pyfun(a, b):\n    return a * 2 + b\n") +
              "', 'DOUBLE, DOUBLE', 'DOUBLE')");
  EXPECT_EQ(Ok(con, "SELECT lin(2.0, 1.0)")->GetValue(0, 0).GetValue<double>(), 5.0);
  auto versions = Ok(con, "SELECT version FROM imlane_functions() WHERE name = 'lin'");
  EXPECT_EQ(versions->GetValue(0, 0).GetValue<int32_t>(), 1) << "same code: same version, still warm";
}

TEST_F(DuckDBTest, OneOffInitRunsOncePerExecutorAcrossQueries) {
  std::string log = dir_ + "/init.log";
  Create("counted",
         "def pyinitial():\n"
         "    open('" +
             log +
             "', 'a').write('init\\n')\n"
             "def pyfun(a, b):\n"
             "    return a + b\n",
         "DOUBLE, DOUBLE", "DOUBLE");
  MakeTable(100000);
  for (int q = 0; q < 3; q++) {
    EXPECT_EQ(One("SELECT count(*) FROM t WHERE counted(a, b) <> a + b").GetValue<int64_t>(), 0);
  }
  std::ifstream in(log);
  int lines = 0;
  for (std::string l; std::getline(in, l);) lines++;
  EXPECT_EQ(lines, 2) << "one initialisation per executor, none per query";
  // New code: a new version, initialised again.
  Create("counted",
         "def pyinitial():\n"
         "    open('" +
             log +
             "', 'a').write('init v2\\n')\n"
             "def pyfun(a, b):\n"
             "    return a - b\n",
         "DOUBLE, DOUBLE", "DOUBLE");
  EXPECT_EQ(One("SELECT version FROM imlane_functions() WHERE name = 'counted'").GetValue<int32_t>(), 2);
  EXPECT_EQ(One("SELECT count(*) FROM t WHERE counted(a, b) <> a - b").GetValue<int64_t>(), 0);
}

TEST_F(DuckDBTest, ErrorsNameTheFunctionAndTheProblem) {
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  std::string e = Error("SELECT lin(1.0)");
  EXPECT_NE(e.find("lin"), std::string::npos) << e;
  e = Error("SELECT lin('x', [1, 2])");
  EXPECT_NE(e.find("lin"), std::string::npos) << e;
  Create("boom", "def pyfun(x):\n    raise ValueError('model exploded on ' + str(len(x)) + ' rows')\n", "DOUBLE",
         "DOUBLE");
  MakeTable(10);
  e = Error("SELECT boom(a) FROM t");
  EXPECT_NE(e.find("imlane function 'boom'"), std::string::npos) << e;
  EXPECT_NE(e.find("ValueError: model exploded on"), std::string::npos) << e;
  EXPECT_NE(e.find("Traceback"), std::string::npos) << e;
  e = Error("CALL imlane_create_function('missing', '/no/such/file.py', 'DOUBLE', 'DOUBLE')");
  EXPECT_NE(e.find("/no/such/file.py"), std::string::npos) << e;
  e = Error("CALL imlane_create_function('badtype', 'def pyfun(x):\n    return x\n', 'DOUBLE, BLOB', 'DOUBLE')");
  EXPECT_NE(e.find("BLOB"), std::string::npos) << e;
  e = Error("CALL imlane_create_function('abs', 'def pyfun(x):\n    return x\n', 'DOUBLE', 'DOUBLE')");
  EXPECT_NE(e.find("already a DuckDB function"), std::string::npos) << e;
  e = Error("CALL imlane_create_function('syntax', 'def pyfun(x)\n    return x\n', 'DOUBLE', 'DOUBLE')");
  EXPECT_NE(e.find("syntax error"), std::string::npos) << e;
  Error("SELECT syntax(1.0)");  // never registered
  // The database and the working function are unharmed.
  EXPECT_EQ(One("SELECT lin(1.0, 1.0)").GetValue<double>(), 3.0);
}

// imlane-duckdb and the benchmark run queries through RunQuery: an error during execution keeps its
// class and message, exactly as Connection::Query reports it.
TEST_F(DuckDBTest, RunQueryReportsExecutionErrorsAsConnectionQueryDoes) {
  Create("boom", "def pyfun(x):\n    raise ValueError('model exploded')\n", "DOUBLE", "DOUBLE");
  MakeTable(10);
  for (const std::string sql : {"SELECT boom(a) FROM t", "SELECT CAST(s AS INTEGER) FROM (VALUES ('x')) v(s)",
                                "CALL imlane_create_function('missing', '/no/such/file.py', 'DOUBLE', 'DOUBLE')"}) {
    auto expected = con_->Query(sql);
    auto got = imlane::duckdb_integration::RunQuery(*con_, sql);
    ASSERT_TRUE(expected->HasError() && got->HasError()) << sql;
    EXPECT_EQ(got->GetErrorType(), expected->GetErrorType()) << sql << "\n" << got->GetError();
    EXPECT_EQ(got->GetError(), expected->GetError()) << sql;
    EXPECT_EQ(got->GetError().find("Attempting to execute"), std::string::npos) << got->GetError();
  }
}

TEST_F(DuckDBTest, TimeoutErrorNamesTheConfiguredTimeout) {
  Create("stuck", "import time\ndef pyfun(x):\n    time.sleep(4)\n    return x\n", "DOUBLE", "DOUBLE");
  MakeTable(10);
  Ok("SET imlane_timeout_ms = 1500");
  // The prediction operator waits in slices itself; the error names the whole timeout.
  auto start = std::chrono::steady_clock::now();
  std::string e = Error("SELECT stuck(a) FROM t");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_NE(e.find("imlane function 'stuck' did not finish a batch of"), std::string::npos) << e;
  EXPECT_NE(e.find("rows within 1500 ms; its executor is being replaced (imlane_timeout_ms = 1500)"), std::string::npos)
      << e;
  EXPECT_GE(took, std::chrono::milliseconds(1400));
  // The per-vector path (a projection above a LIMIT) says the same.
  e = Error("SELECT stuck(x) FROM (SELECT range::DOUBLE AS x FROM range(10) LIMIT 5)");
  EXPECT_NE(e.find("within 1500 ms; its executor is being replaced (imlane_timeout_ms = 1500)"), std::string::npos)
      << e;
  // The stuck executors were replaced: a quick function still runs.
  Ok("SET imlane_timeout_ms = 60000");
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  EXPECT_EQ(One("SELECT count(*) FROM t WHERE lin(a, b) <> a * 2 + b").GetValue<int64_t>(), 0);
}

TEST_F(DuckDBTest, DropFunction) {
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  Ok("CALL imlane_drop_function('lin')");
  Error("SELECT lin(1.0, 2.0)");
  EXPECT_EQ(One("SELECT count(*) FROM imlane_functions()").GetValue<int64_t>(), 0);
  Error("CALL imlane_drop_function('lin')");
}

TEST_F(DuckDBTest, DecoratedClassFromTheImlanePackage) {
  std::string path = Write("scorer.py",
                           "import imlane\n"
                           "@imlane.function(args=['DOUBLE', 'VARCHAR'], returns='VARCHAR')\n"
                           "class Scorer:\n"
                           "    def __init__(self):\n"
                           "        self.prefix = 'score:'\n"
                           "    def __call__(self, a, s):\n"
                           "        return [self.prefix + t + str(int(x)) for x, t in zip(a, s)]\n");
  Ok("CALL imlane_create_function('scorer', '" + path + "', 'DOUBLE, VARCHAR', 'VARCHAR')");
  MakeTable(5000);
  EXPECT_EQ(One("SELECT count(*) FROM t WHERE scorer(a, s) <> 'score:' || s || floor(a)::BIGINT").GetValue<int64_t>(),
            0);
}

TEST_F(DuckDBTest, CheapPredicatesFirstAndEachRowPredictedOnce) {
  MakeTable(100000);
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  const int64_t passing = One("SELECT count(*) FROM t WHERE b > 20").GetValue<int64_t>();
  // The function in WHERE and in the SELECT list of the same query: the model sees only rows that
  // pass the cheap predicate, and each of them once.
  auto r = Ok("SELECT count(*), sum(y) FROM (SELECT id, lin(a, b) + 1 AS y FROM t WHERE lin(a, b) > 60 AND b > 20)");
  EXPECT_EQ(r->GetValue(0, 0), One("SELECT count(*) FROM t WHERE a * 2 + b > 60 AND b > 20"));
  EXPECT_EQ(r->GetValue(1, 0).GetValue<double>(),
            One("SELECT sum(a * 2 + b + 1) FROM t WHERE a * 2 + b > 60 AND b > 20").GetValue<double>());
  EXPECT_EQ(One("SELECT rows FROM imlane_functions() WHERE name = 'lin'").GetValue<int64_t>(), passing);
  // Aggregates over the function are batched too.
  auto plan = Ok("EXPLAIN SELECT sum(lin(a, b)) FROM t");
  EXPECT_NE(plan->GetValue(1, 0).ToString().find("IMLANE_PREDICT_PROJECTION"), std::string::npos);
  EXPECT_EQ(One("SELECT sum(lin(a, b)) = sum(a * 2 + b) FROM t").GetValue<bool>(), true);
  EXPECT_EQ(One("SELECT count(DISTINCT g) FROM (SELECT lin(a, b) AS g FROM t GROUP BY lin(a, b))"),
            One("SELECT count(DISTINCT a * 2 + b) FROM t"));
}

TEST_F(DuckDBTest, FailedAndStoppedQueriesGiveTheirSlotsBack) {
  Ok("SET imlane_batch_size = 2048");
  MakeTable(200000);
  Create("late_boom",
         "def pyfun(x):\n    if x.max() >= 150000:\n        raise ValueError('late failure')\n    return x\n", "BIGINT",
         "BIGINT");
  Ok("SET threads = 1");
  // Each failing query leaves batches in flight; without giving them back the slots run out.
  for (int i = 0; i < 40; i++) Error("SELECT sum(late_boom(id)) FROM t");
  for (int i = 0; i < 20; i++) EXPECT_EQ(Ok("SELECT late_boom(id) FROM t LIMIT 5")->RowCount(), 5u);
  EXPECT_EQ(One("SELECT sum(late_boom(id)) FROM t WHERE id < 100000").GetValue<int64_t>(), 4999950000LL);
}

TEST_F(DuckDBTest, InterruptCancelsTheQueryWithoutKillingExecutors) {
  Ok("SET imlane_batch_size = 2048");
  MakeTable(100000);
  Create("sleepy", "import time\ndef pyfun(x):\n    time.sleep(0.2)\n    return x\n", "DOUBLE", "DOUBLE");
  std::thread interrupter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    con_->Interrupt();
  });
  auto start = std::chrono::steady_clock::now();
  auto r = con_->Query("SELECT sum(sleepy(a)) FROM t");  // about 50 batches of 0.2 s: 5 s on 2 executors
  auto took = std::chrono::steady_clock::now() - start;
  interrupter.join();
  ASSERT_TRUE(r->HasError());
  EXPECT_NE(r->GetError().find("Interrupt"), std::string::npos) << r->GetError();
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  // The executors were not killed, and the next query runs to the end.
  EXPECT_EQ(One("SELECT sum(sleepy(a)) = sum(a) FROM t WHERE id < 3000").GetValue<bool>(), true);
  auto s = Ok("SELECT errors FROM imlane_functions() WHERE name = 'sleepy'");
  EXPECT_EQ(s->GetValue(0, 0).GetValue<int64_t>(), 0);
}

// Every DuckDB thread holds rows back until the end of its input and emits them in FinalExecute,
// and DuckDB's pipeline executor gives all those flushes the same batch index. The sinks must not
// be order-preserving batch-index sinks, which failed with "batch index ... is present in both
// collections" (and invalidated the database). 3M rows, so that both DuckDB threads flush.
class DuckDBManyRowsTest : public DuckDBTest {
 protected:
  struct Summary {
    int64_t rows = 0, distinct_ids = 0, sum_id = 0, sum_y = 0, wrong = 0;
    bool operator==(const Summary& o) const {
      return rows == o.rows && distinct_ids == o.distinct_ids && sum_id == o.sum_id && sum_y == o.sum_y &&
             wrong == o.wrong;
    }
  };
  struct Case {
    std::string query;  // (id, y) with y = dbl(x): a prediction projection, or a prediction filter
    Summary want;       // of the same query without the function
  };

  void SetUp() override {
    DuckDBTest::SetUp();
    Ok("CREATE TABLE big AS SELECT range AS id, range % 1000 AS x FROM range(3000000)");
    Create("dbl", "def pyfun(x):\n    return x * 2\n", "BIGINT", "BIGINT");
    cases_.push_back({"SELECT id, dbl(x) AS y FROM big WHERE id % 3 <> 0",
                      Of("(SELECT id, x * 2 AS y FROM big WHERE id % 3 <> 0)")});
    cases_.push_back({"SELECT id, dbl(x) AS y FROM big WHERE dbl(x) >= 600",
                      Of("(SELECT id, x * 2 AS y FROM big WHERE x * 2 >= 600)")});
  }
  Summary Of(const std::string& relation) {
    auto r =
        Ok("SELECT count(*), count(DISTINCT id), sum(id)::BIGINT, sum(y)::BIGINT, "
           "count(*) FILTER (WHERE y <> id % 1000 * 2) FROM " +
           relation);
    Summary s;
    if (r->HasError()) return s;
    int64_t* fields[] = {&s.rows, &s.distinct_ids, &s.sum_id, &s.sum_y, &s.wrong};
    for (duckdb::idx_t c = 0; c < 5; c++) *fields[c] = r->GetValue(c, 0).GetValue<int64_t>();
    return s;
  }
  // Adds the rows of a result chunk (id, y) to `s`; `seen` finds duplicated ids.
  static void Tally(duckdb::DataChunk& chunk, std::vector<bool>& seen, Summary& s) {
    chunk.Flatten();
    auto ids = duckdb::FlatVector::GetData<int64_t>(chunk.data[0]);
    auto ys = duckdb::FlatVector::GetData<int64_t>(chunk.data[1]);
    for (duckdb::idx_t i = 0; i < chunk.size(); i++) {
      s.rows++;
      s.distinct_ids += seen[ids[i]] ? 0 : 1;
      seen[ids[i]] = true;
      s.sum_id += ids[i];
      s.sum_y += ys[i];
      s.wrong += ys[i] != ids[i] % 1000 * 2;
    }
  }
  // Runs `check(case)` for each case with each of `threads`, insertion order preserved and not.
  template <class F>
  void ForEachSetting(const std::vector<int>& threads, F check) {
    for (int n : threads) {
      for (const char* preserve : {"true", "false"}) {
        Ok("SET threads = " + std::to_string(n));
        Ok(std::string("SET preserve_insertion_order = ") + preserve);
        for (auto& c : cases_) {
          SCOPED_TRACE(c.query + ", threads=" + std::to_string(n) + ", preserve_insertion_order=" + preserve);
          check(c);
        }
      }
    }
  }

  std::vector<Case> cases_;
};

TEST_F(DuckDBManyRowsTest, MaterializedAndStreamingSelectReturnEveryRowOnce) {
  std::vector<bool> seen(3000000);
  ForEachSetting({2, 1}, [&](const Case& c) {
    auto r = Ok(c.query);
    ASSERT_FALSE(r->HasError());
    std::fill(seen.begin(), seen.end(), false);
    Summary got;
    for (auto& chunk : r->Collection().Chunks()) Tally(chunk, seen, got);
    EXPECT_TRUE(got == c.want) << "materialized: " << got.rows << " rows, " << got.distinct_ids << " distinct";
    auto stream = con_->SendQuery(c.query);
    ASSERT_FALSE(stream->HasError()) << stream->GetError();
    std::fill(seen.begin(), seen.end(), false);
    Summary streamed;
    while (auto chunk = stream->Fetch()) Tally(*chunk, seen, streamed);
    ASSERT_FALSE(stream->HasError()) << stream->GetError();
    EXPECT_TRUE(streamed == c.want) << "streaming: " << streamed.rows << " rows, " << streamed.distinct_ids
                                    << " distinct";
  });
}

TEST_F(DuckDBManyRowsTest, CreateTableAsStoresEveryRowOnce) {
  ForEachSetting({2}, [&](const Case& c) {
    Ok("CREATE OR REPLACE TABLE r AS " + c.query);
    EXPECT_TRUE(Of("r") == c.want) << Of("r").rows << " rows";
  });
  EXPECT_EQ(One("SELECT 42").GetValue<int32_t>(), 42) << "the database is still usable";
}

TEST_F(DuckDBManyRowsTest, InsertSelectStoresEveryRowOnce) {
  ForEachSetting({2}, [&](const Case& c) {
    Ok("CREATE OR REPLACE TABLE r (id BIGINT, y BIGINT)");
    Ok("INSERT INTO r " + c.query);
    EXPECT_TRUE(Of("r") == c.want) << Of("r").rows << " rows";
  });
}

TEST_F(DuckDBManyRowsTest, CopyToFileWritesEveryRowOnce) {
  const std::string path = dir_ + "/out.csv";
  ForEachSetting({2}, [&](const Case& c) {
    Ok("COPY (" + c.query + ") TO '" + path + "' (HEADER true)");
    const std::string file = "read_csv('" + path + "', header = true)";
    EXPECT_TRUE(Of(file) == c.want) << Of(file).rows << " rows";
  });
}

TEST_F(DuckDBManyRowsTest, LimitAboveThePredictionReturnsExactlyThatManyRows) {
  std::vector<bool> seen(3000000);
  ForEachSetting({2}, [&](const Case& c) {
    auto r = Ok(c.query + " LIMIT 1500000");
    ASSERT_FALSE(r->HasError());
    std::fill(seen.begin(), seen.end(), false);
    Summary got;
    for (auto& chunk : r->Collection().Chunks()) Tally(chunk, seen, got);
    EXPECT_EQ(got.rows, 1500000);
    EXPECT_EQ(got.distinct_ids, 1500000);
    EXPECT_EQ(got.wrong, 0);
  });
}

size_t OpenFds() {
  auto it = std::filesystem::directory_iterator("/proc/self/fd");
  return static_cast<size_t>(std::distance(std::filesystem::begin(it), std::filesystem::end(it)));
}

TEST_F(DuckDBTest, SoakWithInjectedCrashesLosesNothingAndLeaksNothing) {
  Ok("CREATE TABLE small AS SELECT range::DOUBLE AS x FROM range(2000)");
  // 1% of batches kill their executor.
  Create("flaky",
         "import os, random\ndef pyfun(x):\n    if random.random() < 0.01:\n        os._exit(3)\n    return x * 2\n",
         "DOUBLE", "DOUBLE");
  // Warm up (the context and both executors ready); the warm-up itself may hit the 1% crash.
  bool warm = false;
  for (int attempt = 0; attempt < 20 && !warm; attempt++) {
    auto r = con_->Query("SELECT sum(flaky(x)) FROM small");
    warm = !r->HasError() && r->GetValue(0, 0).GetValue<double>() == 3998000.0;
  }
  ASSERT_TRUE(warm);
  const size_t fds_before = OpenFds();
  std::set<std::string> shm_before;
  for (auto& e : std::filesystem::directory_iterator("/dev/shm")) shm_before.insert(e.path().filename());
  std::atomic<int> ok{0}, crashed{0}, wrong{0}, other{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&] {
      duckdb::Connection con(*db_);
      Configure(con);
      con.Query("SET threads = 1");
      for (int q = 0; q < 500; q++) {
        auto r = con.Query("SELECT sum(flaky(x)) FROM small");
        if (!r->HasError()) {
          (r->GetValue(0, 0).GetValue<double>() == 3998000.0 ? ok : wrong)++;
        } else if (r->GetError().find("ExecutorFailed") != std::string::npos) {
          crashed++;
        } else {
          other++;
          ADD_FAILURE() << r->GetError();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0) << "a successful query returned a wrong result";
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok + crashed, 2000);
  EXPECT_GT(crashed.load(), 0) << "the injection never fired";
  EXPECT_GT(ok.load(), 1800);
  // Nothing leaked: descriptors of this process, shared memory, executor processes, Lanes.
  EXPECT_LE(OpenFds(), fds_before + 2);
  std::set<std::string> shm_after;
  for (auto& e : std::filesystem::directory_iterator("/dev/shm")) shm_after.insert(e.path().filename());
  EXPECT_EQ(shm_after, shm_before);
}

TEST_F(DuckDBTest, SourceFilesAreCompiledFromTheirBytes) {
  // A latin-1 file with its coding cookie (invalid UTF-8, valid Python) registers and runs.
  const std::string latin = Write("latin1.py",
                                  "# -*- coding: latin-1 -*-\n"
                                  "def pyfun(x):\n"
                                  "    return ['caf\xe9' for v in x]\n");
  Create("latin", latin, "DOUBLE", "VARCHAR");
  EXPECT_EQ(One("SELECT latin(1.0)").ToString(), "caf\xc3\xa9");
  EXPECT_EQ(One("SELECT length(latin(1.0))").GetValue<int64_t>(), 4);
  // Binary content is a clean registration error, and the database keeps working.
  std::string binary;
  for (int i = 0; i < 1024; i++) binary.push_back(static_cast<char>(i * 37 % 256));
  const std::string bin = Write("binary.py", binary);
  std::string err = Error("CALL imlane_create_function('binary_udf', '" + bin + "', 'DOUBLE', 'VARCHAR')");
  EXPECT_NE(err.find("cannot register function 'binary_udf'"), std::string::npos) << err;
  EXPECT_NE(err.find("null bytes"), std::string::npos) << err;
  EXPECT_EQ(One("SELECT latin(2.0)").ToString(), "caf\xc3\xa9");
}

}  // namespace

// ---- Re-registration and coordinator restarts (issue 16) -----------------------------------------

int CoordinatorPid(duckdb::Connection& con) {
  auto r = con.Query("SELECT status FROM imlane_status()");
  if (r->HasError() || r->RowCount() == 0) return -1;
  const std::string doc = r->GetValue(0, 0).ToString();
  const size_t at = doc.rfind("\"pid\":");  // the document's own (keys sorted: after the executors')
  return at == std::string::npos ? -1 : std::atoi(doc.c_str() + at + 6);
}

TEST_F(DuckDBTest, ReRegistrationIsAtomicAcrossConnections) {
  MakeTable(200000);
  Create("f", "def pyfun(a):\n    return a + 1000\n", "DOUBLE", "DOUBLE");
  duckdb::Connection other(*db_);
  Configure(other);
  // A query in this connection is running (streamed, first chunk fetched) when the other
  // connection replaces the function with new code and a new signature.
  auto stream = con_->SendQuery("SELECT a, f(a) AS y FROM t");
  ASSERT_FALSE(stream->HasError()) << stream->GetError();
  auto first = stream->Fetch();
  ASSERT_TRUE(first);
  auto created = Ok(other,
                    "CALL imlane_create_function('f', 'def pyfun(a, b):\n    return [f\"{x}|{y}\" for x, y in "
                    "zip(a, b)]\n', 'DOUBLE, DOUBLE', 'VARCHAR')");
  EXPECT_EQ(created->GetValue(1, 0).GetValue<int32_t>(), 2) << "the call reports the new version";
  // The running query finishes on the version it started with: every row a + 1000.
  size_t rows = 0, wrong = 0;
  auto tally = [&](duckdb::DataChunk& chunk) {
    for (duckdb::idx_t i = 0; i < chunk.size(); i++) {
      rows++;
      wrong += chunk.GetValue(1, i).GetValue<double>() != chunk.GetValue(0, i).GetValue<double>() + 1000;
    }
  };
  tally(*first);
  while (auto chunk = stream->Fetch()) tally(*chunk);
  ASSERT_FALSE(stream->HasError()) << stream->GetError();
  EXPECT_EQ(rows, 200000u);
  EXPECT_EQ(wrong, 0u);
  // Queries started after the call run the new version, in both connections.
  for (duckdb::Connection* con : {con_.get(), &other}) {
    auto r = Ok(*con, "SELECT f(a, b) FROM t WHERE id = 7");
    ASSERT_EQ(r->RowCount(), 1u);
    EXPECT_EQ(r->GetValue(0, 0).ToString(), "0.7|7.0");
    EXPECT_NE(Error("SELECT f(a) FROM t").find("f"), std::string::npos);
  }
  auto listed = Ok("SELECT version, signature FROM imlane_functions() WHERE name = 'f'");
  EXPECT_EQ(listed->GetValue(0, 0).GetValue<int32_t>(), 2);
}

TEST_F(DuckDBTest, TheDatabaseSurvivesACoordinatorRestart) {
  MakeTable(1000);
  Create("lin", kLinear, "DOUBLE, DOUBLE", "DOUBLE");
  Create("nap", "import time\ndef pyfun(a):\n    time.sleep(0.5)\n    return a\n", "DOUBLE", "DOUBLE");
  EXPECT_EQ(One("SELECT sum(lin(a, b)) FROM t").GetValue<double>(),
            One("SELECT sum(a * 2 + b) FROM t").GetValue<double>());
  for (int round = 0; round < 2; round++) {
    const int pid = CoordinatorPid(*con_);
    ASSERT_GT(pid, 0);
    // A query in flight when the coordinator dies fails cleanly.
    std::atomic<bool> done{false};
    std::string in_flight_error;
    std::thread query([&] {
      auto r = con_->Query("SELECT sum(nap(a)) FROM t");
      in_flight_error = r->HasError() ? r->GetError() : "no error";
      done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    query.join();
    EXPECT_NE(in_flight_error.find("coordinator went away"), std::string::npos) << in_flight_error;
    // The next statement connects again (an embedded coordinator starts), registers this
    // database's functions there again, and works.
    EXPECT_EQ(One("SELECT sum(lin(a, b)) FROM t").GetValue<double>(),
              One("SELECT sum(a * 2 + b) FROM t").GetValue<double>());
    EXPECT_NE(CoordinatorPid(*con_), pid);
    auto listed = Ok("SELECT count(*) FROM imlane_functions()");
    EXPECT_EQ(listed->GetValue(0, 0).GetValue<int64_t>(), 2);
  }
}
