// Issue 16, items 3, 12 and 13 end to end: Lane caps and the pool returning memory to the system,
// functions sharing an executor without disturbing each other (process state, children, stdout), and
// the executor memory budget counting the function rather than the Lanes mapped into it.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "imlane/common/protocol.h"
#include "imlane/common/unix_socket.h"
#include "test_support.h"

namespace imlane::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

bool Gone(int pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(st, line);
  size_t p = line.rfind(')');
  return p != std::string::npos && p + 2 < line.size() && line[p + 2] == 'Z';
}

// Waits (generously) until pred() holds.
template <typename Pred>
bool Eventually(Pred pred, int timeout_ms = 20000) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

// kB of shared memory (memfd pages) resident in a process.
int64_t RssShmemKb(int pid) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (st >> key) {
    if (key == "RssShmem:") {
      int64_t kb = 0;
      st >> kb;
      return kb;
    }
  }
  return -1;
}

// Lanes a process maps (memfd regions named imlane-lane-<id>).
int MappedLanes(int pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::set<std::string> names;
  std::string line;
  while (std::getline(maps, line)) {
    size_t at = line.find("/memfd:imlane-lane-");
    if (at != std::string::npos) names.insert(line.substr(at));
  }
  return static_cast<int>(names.size());
}

std::string Bin(const std::string& name) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  return (std::filesystem::path(std::string(exe, n > 0 ? static_cast<size_t>(n) : 0)).parent_path() / name).string();
}

// A coordinator started by hand with options; contexts join it.
class ServedTest : public CoordinatorTest {
 protected:
  void Serve(std::vector<std::string> flags) {
    std::vector<std::string> args = {Bin("imlane"), "serve", "--socket", settings_.socket_path};
    args.insert(args.end(), flags.begin(), flags.end());
    coordinator_ = fork();
    if (coordinator_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // an aborting test must not leave its coordinator behind
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(settings_.socket_path); }));
    settings_.start_embedded = false;
  }
  void TearDown() override {
    ctx_.reset();
    if (coordinator_ > 0) {
      kill(coordinator_, SIGTERM);
      waitpid(coordinator_, nullptr, 0);
    }
    CoordinatorTest::TearDown();
  }
  // The status document over a connection of its own (holds no Lanes).
  json Status() {
    auto sock = ConnectUnix(settings_.socket_path);
    EXPECT_TRUE(sock.ok()) << sock.status().ToString();
    json reply;
    if (sock.ok()) {
      imlane::Status st = CallJson(sock->get(), json{{"op", "status"}}, &reply, nullptr, 10000);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    return reply;
  }
  std::vector<int> ExecutorPids() {
    std::vector<int> pids;
    const json status = Status();  // not a temporary: the loop holds a reference into it
    for (const auto& e : status["executors"]) pids.push_back(e["pid"]);
    return pids;
  }
  std::unique_ptr<DBEndContext> Client(size_t lane_bytes, int slots) {
    Settings s = settings_;
    s.lane_bytes = lane_bytes;
    s.slots_per_executor = slots;
    auto c = DBEndContext::Setup(s);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c.MoveValue() : nullptr;
  }
  pid_t coordinator_ = -1;
};

const char* kIdentity = "def pyfun(x):\n    return x\n";

Status RunIdentity(DBEndContext* c, const std::string& name) {
  ColumnBatch out;
  return c->ExecuteFunction(name, Doubles({1, 2}), &out);
}

void ExpectCapError(const imlane::Status& st, const std::string& cap, const std::string& option) {
  EXPECT_EQ(st.code(), StatusCode::kCapacityExceeded) << st.ToString();
  EXPECT_NE(st.message().find(cap), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(option), std::string::npos) << st.message();
}

// ---- Item 3: Lane caps --------------------------------------------------------------------------

TEST_F(ServedTest, EachLaneCapGivesAnErrorNamingTheCapTheValueAndTheOption) {
  Serve({"--executors", "1", "--max-lane-bytes", "16777216", "--max-slots-per-executor", "4", "--client-lane-memory-mb",
         "64", "--lane-memory-mb", "96"});
  Register("f1", kIdentity, "DOUBLE", "DOUBLE");
  Register("f2", kIdentity, "DOUBLE", "DOUBLE");
  // Per Lane.
  auto big = Client(32u << 20, 2);
  ASSERT_TRUE(big);
  imlane::Status st = RunIdentity(big.get(), "f1");
  ExpectCapError(st, "per-Lane cap of 16777216 bytes", "--max-lane-bytes");
  EXPECT_NE(st.message().find("33554432 bytes"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("imlane_lane_bytes"), std::string::npos) << st.message();
  // Slots per executor.
  auto many = Client(1u << 20, 8);
  ASSERT_TRUE(many);
  ExpectCapError(RunIdentity(many.get(), "f1"), "8 slots per executor is over the cap of 4",
                 "--max-slots-per-executor");
  // Per client: 4 x 16 MiB fills this client's 64 MiB; a second function would need as much again.
  auto hoarder = Client(16u << 20, 4);
  ASSERT_TRUE(hoarder);
  ASSERT_TRUE(RunIdentity(hoarder.get(), "f1").ok());
  ExpectCapError(RunIdentity(hoarder.get(), "f2"), "per-client cap of 67108864 bytes", "--client-lane-memory-mb");
  // Total: another client's 64 MiB would make 128 MiB, over the 96 MiB of all Lanes.
  auto other = Client(16u << 20, 4);
  ASSERT_TRUE(other);
  st = RunIdentity(other.get(), "f2");
  ExpectCapError(st, "total cap of 100663296 bytes", "--lane-memory-mb");
  EXPECT_NE(st.message().find("all clients' Lanes would take"), std::string::npos) << st.message();
  // Nothing was lost: the hoarder still works, and once it is gone its Lanes serve the other client.
  ASSERT_TRUE(RunIdentity(hoarder.get(), "f1").ok());
  hoarder.reset();
  ASSERT_TRUE(Eventually([&] { return RunIdentity(other.get(), "f2").ok(); }, 5000));
  json lanes = Status()["lanes"];
  EXPECT_LE(lanes["bytes"].get<uint64_t>(), 96u << 20);
  EXPECT_EQ(lanes["cap_bytes"], 96u << 20);
  EXPECT_EQ(lanes["client_cap_bytes"], 64u << 20);
  EXPECT_EQ(lanes["max_lane_bytes"], 16u << 20);
}

TEST_F(ServedTest, AtTheClientCapMoreThreadsWaitForSlotsInsteadOfFailing) {
  // 2 x 16 MiB fill the client's 32 MiB: DBEnd's usual growth (more Lanes when every slot is busy) is
  // refused, and the four threads share the two slots.
  Serve({"--executors", "1", "--client-lane-memory-mb", "32"});
  Register("slow", "import time\ndef pyfun(x):\n    time.sleep(0.05)\n    return x + 1\n", "DOUBLE", "DOUBLE");
  auto c = Client(16u << 20, 2);
  ASSERT_TRUE(c);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::string first_error;
  std::mutex mu;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; i++) {
        ColumnBatch out;
        imlane::Status st = c->ExecuteFunction("slow", Doubles({static_cast<double>(t), 1}), &out);
        if (!st.ok() || out.columns[0].Get<double>(0) != t + 1) {
          std::lock_guard<std::mutex> lock(mu);
          if (failures++ == 0) first_error = st.ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0) << first_error;
  EXPECT_EQ(Status()["lanes"]["total"], 2);
}

TEST_F(ServedTest, DefaultCapsComeFromRamAndBoundWhatOneClientMayAsk) {
  Serve({"--executors", "1"});
  json lanes = Status()["lanes"];
  const uint64_t ram = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  EXPECT_LE(lanes["cap_bytes"].get<uint64_t>(), ram / 4 + (1u << 20));
  EXPECT_LE(lanes["client_cap_bytes"].get<uint64_t>(), lanes["cap_bytes"].get<uint64_t>() / 2);
  EXPECT_LE(lanes["max_lane_bytes"].get<uint64_t>(), 1u << 30);
  Register("f", kIdentity, "DOUBLE", "DOUBLE");
  // 1 GiB Lanes x 4 slots (4 GiB pre-faulted before) are refused up front, nothing is created.
  auto c = Client((1u << 30) + 4096, 4);
  ASSERT_TRUE(c);
  ExpectCapError(RunIdentity(c.get(), "f"), "per-Lane cap", "--max-lane-bytes");
  EXPECT_EQ(Status()["lanes"]["total"], 0);
}

TEST_F(ServedTest, AClientsLanesGoBackToTheSystemAfterItDisconnects) {
  Serve({"--executors", "1", "--lane-idle-ms", "300"});
  Register("f", kIdentity, "DOUBLE", "DOUBLE");
  const int coordinator = coordinator_;
  const int executor = ExecutorPids().at(0);
  const int64_t coordinator_before = RssShmemKb(coordinator), executor_before = RssShmemKb(executor);
  {
    auto c = Client(64u << 20, 2);
    ASSERT_TRUE(c);
    ASSERT_TRUE(RunIdentity(c.get(), "f").ok());
    EXPECT_GE(Status()["lanes"]["bytes"].get<uint64_t>(), 128u << 20);
    // Pre-faulted: 128 MiB resident in the coordinator and in the executor.
    EXPECT_GE(RssShmemKb(coordinator) - coordinator_before, 120 * 1024);
    EXPECT_GE(RssShmemKb(executor) - executor_before, 120 * 1024);
  }
  // Pooled first, then after 300 ms unused returned: no Lane left, the memory back down.
  ASSERT_TRUE(Eventually([&] { return Status()["lanes"]["total"] == 0; })) << Status().dump();
  EXPECT_EQ(Status()["lanes"]["bytes"], 0);
  EXPECT_TRUE(Eventually([&] { return RssShmemKb(coordinator) - coordinator_before < 8 * 1024; }))
      << RssShmemKb(coordinator) << " kB vs " << coordinator_before;
  EXPECT_TRUE(Eventually([&] { return RssShmemKb(executor) - executor_before < 8 * 1024; }))
      << RssShmemKb(executor) << " kB vs " << executor_before;
  EXPECT_TRUE(Eventually([&] { return MappedLanes(executor) == 0 && MappedLanes(coordinator) == 0; }))
      << MappedLanes(executor) << " " << MappedLanes(coordinator);
  // A new client gets fresh Lanes and works.
  auto again = Client(8u << 20, 2);
  ASSERT_TRUE(again);
  ASSERT_TRUE(RunIdentity(again.get(), "f").ok());
}

TEST_F(ServedTest, ThePoolBoundReturnsLanesAtOnceWhateverTheIdleTime) {
  Serve({"--executors", "1", "--lane-idle-ms", "-1", "--lane-pool-mb", "16"});
  Register("f", kIdentity, "DOUBLE", "DOUBLE");
  {
    auto c = Client(8u << 20, 4);  // 32 MiB, twice the pool's bound
    ASSERT_TRUE(c);
    ASSERT_TRUE(RunIdentity(c.get(), "f").ok());
    EXPECT_EQ(Status()["lanes"]["total"], 4);
  }
  // Kept without an idle limit, but only up to 16 MiB: two of the four Lanes go back at once.
  ASSERT_TRUE(Eventually([&] { return Status()["lanes"]["bytes"].get<uint64_t>() <= (16u << 20); })) << Status().dump();
  EXPECT_EQ(Status()["lanes"]["total"], 2);
  EXPECT_EQ(Status()["lanes"]["in_use"], 0);
  auto again = Client(8u << 20, 4);  // two pooled Lanes reused, two created
  ASSERT_TRUE(again);
  ASSERT_TRUE(RunIdentity(again.get(), "f").ok());
  EXPECT_EQ(Status()["lanes"]["total"], 4);
}

TEST_F(ServedTest, LanesReturnedWhileTheirExecutorIsBusyLeaveItsOtherWorkAlone) {
  Serve({"--executors", "1", "--lane-idle-ms", "-1", "--lane-pool-mb", "0"});
  Register("slow", "import time\ndef pyfun(x):\n    time.sleep(3)\n    return x + 1\n", "DOUBLE", "DOUBLE");
  Register("f", kIdentity, "DOUBLE", "DOUBLE");
  auto gone = Client(8u << 20, 2);
  ASSERT_TRUE(gone);
  ASSERT_TRUE(gone->GetFunction("f").ok());  // two Lanes mapped into the executor
  auto busy = Client(8u << 20, 1);
  ASSERT_TRUE(busy);
  auto ticket = busy->Push("slow", Doubles({41}));
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  std::this_thread::sleep_for(milliseconds(200));  // the executor is inside the 3 s batch
  gone.reset();
  // The leaving client's Lanes are out of the books (their pages freed) while the executor is busy;
  // it is told to unmap them once it is idle again.
  ASSERT_TRUE(Eventually([&] { return Status()["lanes"]["total"] == 1; })) << Status().dump();
  auto pulled = busy->Pull(*ticket);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(pulled->batch().column(0).Get<double>(0), 42.0);
  // The executor unmapped them once idle, and its control channel is in step: status answers and the
  // function still runs.
  const int executor = ExecutorPids().at(0);
  EXPECT_TRUE(Eventually([&] { return MappedLanes(executor) == 1; })) << MappedLanes(executor);
  EXPECT_EQ(Status()["executors"][0]["state"], "running");
  ASSERT_TRUE(RunIdentity(busy.get(), "f").ok());
}

// ---- Item 13: the memory budget counts the function ---------------------------------------------

TEST_F(ServedTest, MemoryBudgetCountsTheFunctionNotTheLanesOfOtherClients) {
  Serve({"--executors", "1", "--executor-memory-mb", "1536"});
  Register("id", kIdentity, "DOUBLE", "DOUBLE");
  // Four other clients map 4 x 2 x 128 MiB = 1 GiB of Lanes into the one executor and stay.
  std::vector<std::unique_ptr<DBEndContext>> others;
  for (int i = 0; i < 4; i++) {
    others.push_back(Client(128u << 20, 2));
    ASSERT_TRUE(others.back());
    imlane::Status st = RunIdentity(others.back().get(), "id");
    ASSERT_TRUE(st.ok()) << "client " << i << ": " << st.ToString();
  }
  // About 900 MiB, touched: fits the 1.5 GiB budget beside Python and numpy, but not beside 1 GiB of Lanes
  // as well.
  Register("big",
           "import numpy as np\n"
           "def pyfun(x):\n"
           "    block = np.ones(900 * 1024 * 1024 // 8)\n"
           "    return x + block[:1].sum() - 1\n",
           "DOUBLE", "DOUBLE");
  ColumnBatch out;
  imlane::Status st = ctx().ExecuteFunction("big", Doubles({1, 2}), &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out.columns[0].Get<double>(1), 2.0);
  // Twice as often, and it still fits each time (the block is freed after each batch).
  ASSERT_TRUE(ctx().ExecuteFunction("big", Doubles({3}), &out).ok());
  // A leak still gets MemoryError, and the executor keeps serving.
  Register("leak",
           "import numpy as np\n"
           "hoard = []\n"
           "def pyfun(x):\n"
           "    for _ in range(64):\n"
           "        hoard.append(np.ones(64 * 1024 * 1024 // 8))\n"
           "    return x\n",
           "DOUBLE", "DOUBLE");
  st = ctx().ExecuteFunction("leak", Doubles({1}), &out);
  EXPECT_EQ(st.code(), StatusCode::kPythonError) << st.ToString();
  EXPECT_NE(st.message().find("MemoryError"), std::string::npos) << st.message();
  for (auto& c : others) EXPECT_TRUE(RunIdentity(c.get(), "id").ok());
}

TEST_F(ServedTest, DefaultExecutorBudgetLeavesTheEngineHalfTheRam) {
  Serve({"--executors", "2"});
  json s = Status();
  const int64_t ram_mb = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE) >> 20;
  const int64_t budget = s["executor_memory_mb"];
  const int64_t lanes_mb = s["lanes"]["cap_bytes"].get<int64_t>() >> 20;
  EXPECT_TRUE(budget == 2048 || 2 * budget + lanes_mb <= ram_mb / 2) << budget << " MiB x 2 + " << lanes_mb;
}

// ---- Item 12: functions sharing an executor ------------------------------------------------------

TEST_F(CoordinatorTest, ProcessStateChangesOfOneFunctionDoNotReachAnother) {
  settings_.n_executors = 1;  // every function on the same executor
  const std::string elsewhere = dir_ + "/elsewhere";
  std::filesystem::create_directories(elsewhere);
  // What B sees of the process: cwd | an environment variable | a sys.path entry | SIGUSR1's handler.
  const std::string probe =
      "import os, sys, signal\n"
      "def pyfun(x):\n"
      "    h = signal.getsignal(signal.SIGUSR1)\n"
      "    state = '|'.join([os.getcwd(), os.environ.get('IMLANE_ISO', '-'), str('/iso/path' in sys.path),\n"
      "                      'default' if h == signal.SIG_DFL else 'changed'])\n"
      "    return [state] * len(x)\n";
  Register("probe", probe, "DOUBLE", "VARCHAR");
  ColumnBatch out;
  ASSERT_TRUE(ctx().ExecuteFunction("probe", Doubles({0}), &out).ok());
  const std::string clean = std::string(out.columns[0].GetString(0));
  ASSERT_EQ(clean.substr(clean.find('|')), "|-|False|default") << clean;
  // A changes every kind of state in a batch; C its cwd, environment and sys.path in its module
  // code (loads run on a thread of their own, where Python refuses signal.signal).
  Register("a",
           "import os, sys, signal\n"
           "def pyfun(x):\n"
           "    os.chdir('" +
               elsewhere +
               "')\n"
               "    os.environ['IMLANE_ISO'] = 'a'\n"
               "    sys.path.insert(0, '/iso/path')\n"
               "    signal.signal(signal.SIGUSR1, lambda *a: None)\n"
               "    return [os.getcwd()] * len(x)\n",
           "DOUBLE", "VARCHAR");
  Register("c",
           "import os, sys, signal\n"
           "os.chdir('" +
               elsewhere +
               "')\n"
               "os.environ['IMLANE_ISO'] = 'c'\n"
               "sys.path.append('/iso/path')\n"
               "def pyfun(x):\n"
               "    return ['|'.join([os.getcwd(), os.environ['IMLANE_ISO']])] * len(x)\n",
           "DOUBLE", "VARCHAR");
  for (int round = 0; round < 2; round++) {
    ASSERT_TRUE(ctx().ExecuteFunction("a", Doubles({0}), &out).ok());
    EXPECT_EQ(out.columns[0].GetString(0), elsewhere);
    ASSERT_TRUE(ctx().ExecuteFunction("probe", Doubles({0}), &out).ok());
    EXPECT_EQ(out.columns[0].GetString(0), clean) << "after a, round " << round;
    // C keeps what its own load set up, on every batch.
    ASSERT_TRUE(ctx().ExecuteFunction("c", Doubles({0}), &out).ok());
    EXPECT_EQ(out.columns[0].GetString(0), elsewhere + "|c");
    ASSERT_TRUE(ctx().ExecuteFunction("probe", Doubles({0}), &out).ok());
    EXPECT_EQ(out.columns[0].GetString(0), clean) << "after c, round " << round;
  }
  // A subprocess of the probe sees the probe's environment, not a's (the C environment follows).
  Register("env_child",
           "import subprocess\n"
           "def pyfun(x):\n"
           "    r = subprocess.run(['sh', '-c', 'echo ${IMLANE_ISO:--}'], capture_output=True, text=True)\n"
           "    return [r.stdout.strip()] * len(x)\n",
           "DOUBLE", "VARCHAR");
  ASSERT_TRUE(ctx().ExecuteFunction("a", Doubles({0}), &out).ok());
  ASSERT_TRUE(ctx().ExecuteFunction("env_child", Doubles({0}), &out).ok());
  EXPECT_EQ(out.columns[0].GetString(0), "-");
  // Documented as shared: modules (sys.modules) and their globals.
  Register("set_module", "import json\ndef pyfun(x):\n    json.imlane_marker = 7\n    return x\n", "DOUBLE", "DOUBLE");
  Register("get_module", "import json\ndef pyfun(x):\n    return x * 0 + getattr(json, 'imlane_marker', 0)\n", "DOUBLE",
           "DOUBLE");
  ASSERT_TRUE(ctx().ExecuteFunction("set_module", Doubles({0}), &out).ok());
  ASSERT_TRUE(ctx().ExecuteFunction("get_module", Doubles({0}), &out).ok());
  EXPECT_EQ(out.columns[0].Get<double>(0), 7.0);
}

// A function that starts `sleep 1000` children (directly, and as a shell's background job) and
// returns their pids.
const char* kSpawner =
    "import subprocess, time\n"
    "def pyfun(x):\n"
    "    p = subprocess.Popen(['sleep', '1000'])\n"
    "    sh = subprocess.run(['sh', '-c', 'sleep 1000 >/dev/null 2>&1 & echo $!'], capture_output=True, text=True)\n"
    "    return [float(p.pid), float(sh.stdout.strip())][:len(x)]\n";

std::vector<int> SpawnSleepers(DBEndContext* c) {
  ColumnBatch out;
  imlane::Status st = c->ExecuteFunction("spawner", Doubles({0, 0}), &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  if (!st.ok()) return {};
  std::vector<int> pids = {static_cast<int>(out.columns[0].Get<double>(0)),
                           static_cast<int>(out.columns[0].Get<double>(1))};
  for (int pid : pids) EXPECT_FALSE(Gone(pid)) << "sleep " << pid << " should run until its executor goes";
  return pids;
}

TEST_F(ServedTest, ChildrenOfAFunctionDieWithTheirExecutorAndWithTheCoordinator) {
  Serve({"--executors", "1"});
  Register("spawner", kSpawner, "DOUBLE", "DOUBLE");
  // 1. The executor killed from outside (not by the coordinator).
  std::vector<int> pids = SpawnSleepers(&ctx());
  const int executor = ExecutorPids().at(0);
  kill(executor, SIGKILL);
  for (int pid : pids) EXPECT_TRUE(Eventually([&] { return Gone(pid); })) << "sleep " << pid << " survived";
  // 2. The executor replaced by the coordinator (kill_executor, as after a timeout).
  ASSERT_TRUE(Eventually([&] {
    json s = Status();
    return s["executors"][0]["state"] == "running" && s["executors"][0]["pid"] != executor;
  }));
  pids = SpawnSleepers(&ctx());
  {
    auto sock = ConnectUnix(settings_.socket_path);
    ASSERT_TRUE(sock.ok());
    json reply;
    ASSERT_TRUE(
        CallJson(sock->get(), json{{"op", "kill_executor"}, {"index", 0}, {"reason", "test"}}, &reply, nullptr, 10000)
            .ok());
  }
  for (int pid : pids) EXPECT_TRUE(Eventually([&] { return Gone(pid); })) << "sleep " << pid << " survived";
  // 3. The coordinator stops (SIGTERM).
  ASSERT_TRUE(Eventually([&] { return Status()["executors"][0]["state"] == "running"; }));
  pids = SpawnSleepers(&ctx());
  ctx_.reset();
  kill(coordinator_, SIGTERM);
  waitpid(coordinator_, nullptr, 0);
  coordinator_ = -1;
  for (int pid : pids) EXPECT_TRUE(Eventually([&] { return Gone(pid); })) << "sleep " << pid << " survived";
  // 4. The coordinator SIGKILLed: its executors die (parent-death signal), and their children with them.
  std::filesystem::remove(settings_.socket_path);
  Serve({"--executors", "1"});
  Register("spawner", kSpawner, "DOUBLE", "DOUBLE");
  pids = SpawnSleepers(&ctx());
  kill(coordinator_, SIGKILL);
  waitpid(coordinator_, nullptr, 0);
  coordinator_ = -1;
  for (int pid : pids) EXPECT_TRUE(Eventually([&] { return Gone(pid); })) << "sleep " << pid << " survived";
}

TEST_F(CoordinatorTest, EngineStdoutSeesEofWhenTheEngineExitsThoughAFunctionStartedAChild) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  pid_t engine = fork();
  if (engine == 0) {
    // The engine: its stdout is the pipe; it starts an embedded coordinator, runs a function that
    // leaves a `sleep 1000` behind (inheriting stdio), prints, and exits without cleaning up.
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    settings_.n_executors = 1;
    auto c = DBEndContext::Setup(settings_);
    if (!c.ok()) _exit(2);
    auto spec = FunctionSpec::Make("spawner", kSpawner, "DOUBLE", "DOUBLE");
    if (!spec.ok() || !(*c)->RegisterFunction(*spec).ok()) _exit(3);
    ColumnBatch result;
    if (!(*c)->ExecuteFunction("spawner", Doubles({0, 0}), &result).ok()) _exit(4);
    std::printf("sleepers %d %d\n", static_cast<int>(result.columns[0].Get<double>(0)),
                static_cast<int>(result.columns[0].Get<double>(1)));
    std::fflush(stdout);
    _exit(0);
  }
  close(out[1]);
  std::string text;
  bool eof = false;
  for (int waited = 0; waited < 60000 && !eof;) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) {
      waited += 100;
      continue;
    }
    char buf[256];
    ssize_t n = read(out[0], buf, sizeof(buf));
    if (n <= 0) {
      eof = true;
    } else {
      text.append(buf, static_cast<size_t>(n));
    }
  }
  close(out[0]);
  int ws = 0;
  ASSERT_EQ(waitpid(engine, &ws, 0), engine);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
  EXPECT_TRUE(eof) << "the engine's stdout stayed open after it exited; read: " << text;
  int a = 0, b = 0;
  // Only the function's line: the engine is a fork of this test, which may have printed before.
  const size_t line = text.find("sleepers ");
  ASSERT_NE(line, std::string::npos) << text;
  ASSERT_EQ(std::sscanf(text.c_str() + line, "sleepers %d %d", &a, &b), 2) << text;
  // And the children go too, with the embedded coordinator (no client left) and its executors.
  EXPECT_TRUE(Eventually([&] { return Gone(a) && Gone(b); })) << a << " " << b;
}

}  // namespace
}  // namespace imlane::testing
