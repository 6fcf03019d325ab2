// Engine-side fault classes through DBEnd (real coordinator, executors and Python): results are
// validated as the engine reads them, never as the executor claims them; re-registration is atomic
// per query; a context notices its coordinator's death.
#include <signal.h>

#include <cstring>
#include <thread>

#include "imlane/utf8.h"
#include "test_support.h"

namespace imlane::testing {
namespace {

Result<ColumnBatch> Read(PulledBatch& pulled) {
  ColumnBatch out;
  const BatchView& view = pulled.batch();
  for (size_t c = 0; c < view.num_columns(); c++) {
    out.columns.emplace_back(view.column(c).type());
    IMLANE_RETURN_NOT_OK(
        (TableConverter<ColumnBatch, Column>::ReadColumn(view.column(c), 0, view.num_rows(), &out.columns.back())));
  }
  return out;
}

Result<PulledBatch> RunBatch(DBEndContext& ctx, const std::string& fn, const ColumnBatch& in) {
  IMLANE_ASSIGN_OR_RETURN(Ticket t, (ctx.Push<ColumnBatch, Column>(fn, in)));
  return ctx.Pull(t);
}

// ---- Results: what the engine reads is checked ---------------------------------------------------

TEST_F(CoordinatorTest, ResultBytesThatAreNotUtf8AreAnErrorNamingTheRow) {
  struct Case {
    const char* fn;
    const char* body;
    const char* text;
  };
  for (const Case& c : {
           Case{"raw_ff", "    return [b'ok', b'\\xff\\xfe', b'x'][:len(x)]\n", "row 1 is not valid UTF-8 (byte 0xff"},
           Case{"overlong", "    return [b'ok', b'\\xc0\\xaf', b'x'][:len(x)]\n",
                "row 1 is not valid UTF-8 (byte 0xc0"},
           Case{"surrogate_bytes", "    return [b'ok', b'x', b'\\xed\\xa0\\x80'][:len(x)]\n",
                "row 2 is not valid UTF-8 (byte 0xed"},
           Case{"cut", "    return [b'ok', b'\\xe2\\x82', b'x'][:len(x)]\n", "row 1 is not valid UTF-8"},
           Case{"lone_surrogate", "    return ['ok', 'a\\udcff', 'x'][:len(x)]\n",
                "row 1 is a str that is not encodable"},
       }) {
    Register(c.fn, std::string("def pyfun(x):\n") + c.body, "DOUBLE", "VARCHAR");
    ColumnBatch out;
    Status st = ctx().ExecuteFunction(c.fn, Doubles({1, 2, 3}), &out);
    EXPECT_FALSE(st.ok()) << c.fn;
    EXPECT_NE(st.message().find(c.text), std::string::npos) << c.fn << ": " << st.ToString();
    EXPECT_NE(st.message().find(std::string("'") + c.fn + "'"), std::string::npos) << st.ToString();
  }
  // Valid UTF-8 bytes are text; the executor and the context go on serving.
  Register("good_bytes", "def pyfun(x):\n    return [b'caf\\xc3\\xa9'] * len(x)\n", "DOUBLE", "VARCHAR");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("good_bytes", Doubles({1, 2}), &out).ok());
  EXPECT_EQ(out.columns[0].GetString(1), "caf\xc3\xa9");
}

// A UDF can write its own Lane after it published a result: the reader must validate the bytes it
// copies out, not trust the check the executor made. Here the test plays the scribbler.
TEST_F(CoordinatorTest, AResultChangedInTheLaneAfterPublishingIsCaughtByTheReader) {
  Register("words", "def pyfun(x):\n    return ['alpha', 'beta', 'gamma'][:len(x)]\n", "DOUBLE", "VARCHAR");
  {
    auto pulled = RunBatch(ctx(), "words", Doubles({1, 2, 3}));
    ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
    const ColumnView& col = pulled->batch().column(0);
    auto* bytes = const_cast<uint8_t*>(col.data());
    bytes[col.offsets()[1] + 2] = 0xff;  // "be\xffa"
    auto read = Read(*pulled);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(read.status().message().find("row 1 is not valid UTF-8 (byte 0xff at offset 2 of 4 bytes)"),
              std::string::npos)
        << read.status().ToString();
  }
  {
    auto pulled = RunBatch(ctx(), "words", Doubles({1, 2, 3}));
    ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
    const ColumnView& col = pulled->batch().column(0);
    auto* offsets = const_cast<int32_t*>(col.offsets());
    offsets[2] = 1 << 30;  // row 1 now ends far outside the column
    auto read = Read(*pulled);
    ASSERT_FALSE(read.ok());
    EXPECT_NE(read.status().message().find("row 1 has string offsets outside its column"), std::string::npos)
        << read.status().ToString();
    offsets[2] = -5;
    read = Read(*pulled);
    ASSERT_FALSE(read.ok());
    EXPECT_NE(read.status().message().find("outside its column"), std::string::npos) << read.status().ToString();
  }
  // Untouched results read as written.
  auto pulled = RunBatch(ctx(), "words", Doubles({1, 2, 3}));
  ASSERT_TRUE(pulled.ok());
  auto read = Read(*pulled);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->columns[0].GetString(2), "gamma");
}

TEST_F(CoordinatorTest, ValuesOutOfTheDeclaredTypeAreErrorsWhateverTheContainer) {
  struct Case {
    const char* fn;
    const char* body;
    const char* rets;
    const char* text;
  };
  for (const Case& c : {
           Case{"big_list", "    return [1.0, 2.0**63, 3.0][:len(x)]\n", "BIGINT",
                "value 9.223372036854776e+18 at row 1 is out of range for BIGINT"},
           Case{"big_array", "    import numpy as np\n    return np.array([1.0, 2.0**63, 3.0])[:len(x)]\n", "BIGINT",
                "value 9.223372036854776e+18 at row 1 is out of range for BIGINT"},
           Case{"big_series", "    import pandas as pd\n    return pd.Series([1.0, 2.0**63, 3.0])[:len(x)]\n", "BIGINT",
                "value 9.223372036854776e+18 at row 1 is out of range for BIGINT"},
           Case{"far_date",
                "    import numpy as np\n    return np.array(['2020-01-01', '9999999-01-01', '2020-01-02'], "
                "dtype='datetime64[D]')[:len(x)]\n",
                "DATE", "at row 1 is out of range for DATE"},
           Case{"complex", "    return [1.0, 1+2j, 3.0][:len(x)]\n", "DOUBLE",
                "complex value (1+2j) at row 1 cannot be converted to DOUBLE"},
           Case{"huge_float", "    return [1.0, 1e300, 3.0][:len(x)]\n", "FLOAT",
                "value 1e+300 at row 1 is out of range"},
           Case{"numeric_strings", "    import pandas as pd\n    return pd.Series(['1', '2', '3'])[:len(x)]\n",
                "DOUBLE", "expected DOUBLE values, got strings, e.g. '1' at row 0"},
       }) {
    Register(c.fn, std::string("def pyfun(x):\n") + c.body, "DOUBLE", c.rets);
    ColumnBatch out;
    Status st = ctx().ExecuteFunction(c.fn, Doubles({1, 2, 3}), &out);
    EXPECT_FALSE(st.ok()) << c.fn;
    EXPECT_NE(st.message().find(c.text), std::string::npos) << c.fn << ": " << st.ToString();
  }
}

// ---- Re-registration: a running query keeps its version, later ones get the new one -------------

TEST_F(CoordinatorTest, ReRegistrationTakesEffectForQueriesStartedAfterItWhileRunningOnesFinishOnTheirs) {
  Register("f", "def pyfun(x):\n    return x + 1\n", "DOUBLE", "DOUBLE");
  auto old_pin = ctx().Pin("f");  // a query that started before the re-registration
  ASSERT_TRUE(old_pin.ok()) << old_pin.status().ToString();
  // A batch of the old query is in flight while the function is replaced, with a new signature.
  auto open = ctx().BeginBatch(*old_pin, 3);
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  ASSERT_TRUE((TableConverter<ColumnBatch, Column>::Write(Doubles({1, 2, 3}), 0, 3, &open->builder())).ok());
  auto in_flight = ctx().Submit(std::move(*open));
  ASSERT_TRUE(in_flight.ok());

  Register("f", "def pyfun(x, y):\n    return [f'{a}:{b}' for a, b in zip(x, y)]\n", "DOUBLE, BIGINT", "VARCHAR");
  auto info = ctx().GetFunction("f");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->version, 2u) << "the call reports the new version";
  EXPECT_EQ(info->return_types, std::vector<TypeId>{TypeId::kVarchar});

  // The old query finishes on version 1: its in-flight batch and a new batch of it.
  ColumnBatch out;
  ASSERT_TRUE((ctx().Pull<ColumnBatch, Column>(*in_flight, &out.columns)).ok());
  EXPECT_EQ(out.columns[0].Get<double>(2), 4.0);
  open = ctx().BeginBatch(*old_pin, 2);
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  ASSERT_TRUE((TableConverter<ColumnBatch, Column>::Write(Doubles({10, 20}), 0, 2, &open->builder())).ok());
  auto later = ctx().Submit(std::move(*open));
  ASSERT_TRUE(later.ok());
  ASSERT_TRUE((ctx().Pull<ColumnBatch, Column>(*later, &out.columns)).ok());
  EXPECT_EQ(out.columns[0].Get<double>(1), 21.0);
  EXPECT_EQ(old_pin->version(), 1u);

  // A query that starts now runs version 2 with its signature, by name or pinned.
  ColumnBatch in = Doubles({1.5});
  in.columns.push_back(Column::FromValues<int64_t>({7}));
  ASSERT_TRUE(ctx().ExecuteFunction("f", in, &out).ok());
  EXPECT_EQ(out.columns[0].GetString(0), "1.5:7");
  auto new_pin = ctx().Pin("f");
  ASSERT_TRUE(new_pin.ok());
  EXPECT_EQ(new_pin->version(), 2u);
  EXPECT_EQ(new_pin->arg_types().size(), 2u);

  // The old version's Lanes go back once its last query is done.
  const size_t lanes_before = StatusJson()["lanes"]["in_use"].get<size_t>();
  *old_pin = FunctionPin();
  const size_t lanes_after = StatusJson()["lanes"]["in_use"].get<size_t>();
  EXPECT_LT(lanes_after, lanes_before);
}

TEST_F(CoordinatorTest, AnotherContextsReRegistrationReachesThisContextsNextQuery) {
  Register("g", "def pyfun(x):\n    return x * 2\n", "DOUBLE", "DOUBLE");
  auto run_pinned = [&](double x) -> double {
    auto pin = ctx().Pin("g");  // how an engine starts a query
    EXPECT_TRUE(pin.ok()) << pin.status().ToString();
    if (!pin.ok()) return -1;
    auto open = ctx().BeginBatch(*pin, 1);
    EXPECT_TRUE(open.ok());
    EXPECT_TRUE((TableConverter<ColumnBatch, Column>::Write(Doubles({x}), 0, 1, &open->builder())).ok());
    auto t = ctx().Submit(std::move(*open));
    ColumnBatch out;
    EXPECT_TRUE((ctx().Pull<ColumnBatch, Column>(*t, &out.columns)).ok());
    return out.columns.empty() ? -1 : out.columns[0].Get<double>(0);
  };
  EXPECT_EQ(run_pinned(1), 2.0);  // this context now holds Lanes of version 1
  auto other = DBEndContext::Setup(settings_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto spec = FunctionSpec::Make("g", "def pyfun(x):\n    return x * 3\n", "DOUBLE", "DOUBLE");
  ASSERT_TRUE((*other)->RegisterFunction(*spec).ok());
  // This context's next query runs the other client's new version.
  EXPECT_EQ(run_pinned(1), 3.0);
  EXPECT_EQ(ctx().Pin("g")->version(), 2u);
  // Dropped elsewhere: the next query says so instead of running the old Lanes.
  ASSERT_TRUE((*other)->DropFunction("g").ok());
  auto pin = ctx().Pin("g");
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.status().code(), StatusCode::kNotFound) << pin.status().ToString();
}

// ---- Coordinator loss: noticed, and a query in flight fails cleanly ------------------------------

TEST_F(CoordinatorTest, ContextNoticesItsCoordinatorsDeathAndANewContextWorks) {
  Register("slow", "import time\ndef pyfun(x):\n    time.sleep(1.0)\n    return x\n", "DOUBLE", "DOUBLE");
  Register("fast", "def pyfun(x):\n    return x + 1\n", "DOUBLE", "DOUBLE");
  EXPECT_TRUE(ctx().Connected());
  const int pid = StatusJson()["pid"].get<int>();
  auto t = (ctx().Push<ColumnBatch, Column>("slow", Doubles({1})));
  ASSERT_TRUE(t.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  auto pulled = ctx().Pull(*t);
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(pulled.status().message().find("the coordinator went away"), std::string::npos)
      << pulled.status().ToString();
  for (int i = 0; i < 100 && ctx().Connected(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(ctx().Connected());
  ColumnBatch out;
  Status st = ctx().ExecuteFunction("fast", Doubles({1}), &out);
  EXPECT_FALSE(st.ok());
  // A new context starts a coordinator again (embedded); the functions must be registered again.
  ctx_.reset();
  Register("fast", "def pyfun(x):\n    return x + 1\n", "DOUBLE", "DOUBLE");
  ASSERT_TRUE(ctx().ExecuteFunction("fast", Doubles({41}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 42.0);
}

}  // namespace
}  // namespace imlane::testing
