// DBEnd's typed coordinator calls against a scripted coordinator on a real Unix socket: what goes
// out, how replies (and their descriptors) are decoded, and that malformed replies are errors.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <thread>

#include "imlane/dbend/coordinator_client.h"
#include "imlane/lane/executor_bell.h"
#include "imlane/lane/lane.h"
#include "message_cases.h"

namespace imlane {
namespace {

// A coordinator that answers hello, then each request with `answer` (which may attach descriptors).
class ScriptedCoordinator {
 public:
  using Answer = std::function<json(const json& request, std::vector<int>* fds)>;
  explicit ScriptedCoordinator(Answer answer, int protocol = kProtocolVersion)
      : ScriptedCoordinator(std::move(answer), json{{"ok", true}, {"protocol", protocol}}) {}
  // `hello`: the reply to the client's hello.
  ScriptedCoordinator(Answer answer, json hello) {
    char dir[] = "/tmp/imlane-client-test-XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/s.sock";
    listen_ = ListenUnix(path_).ValueOrDie();
    thread_ = std::thread([this, answer, hello] {
      UniqueFd peer(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      while (true) {
        json req;
        std::vector<UniqueFd> ignored;
        if (!RecvJson(peer.get(), &req, &ignored, 5000).ok()) return;
        requests_.push_back(req);
        std::vector<int> fds;
        json reply = req.value("op", "") == "hello" ? hello : answer(req, &fds);
        if (reply.is_null()) return;  // hang up
        if (!SendJson(peer.get(), ReplyTo(req, reply), fds).ok()) return;
      }
    });
  }
  ~ScriptedCoordinator() {
    listen_.Reset();
    if (thread_.joinable()) thread_.join();
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  Settings settings() const {
    Settings s;
    s.socket_path = path_;
    s.start_embedded = false;
    return s;
  }
  // Valid once the client is gone (the thread has ended).
  const std::vector<json>& requests() {
    if (thread_.joinable()) thread_.join();
    return requests_;
  }

 private:
  std::string dir_, path_;
  UniqueFd listen_;
  std::thread thread_;
  std::vector<json> requests_;
};

TEST(CoordinatorClientTest, AcquireMapsTheLanesAndHandsOverOneBellPerExecutor) {
  Lane a = Lane::Create(11, 1 << 20).ValueOrDie(), b = Lane::Create(12, 1 << 20).ValueOrDie();
  SharedRegion bell = SharedRegion::Create("bell", kBellBytes, true).ValueOrDie();
  ExecutorBell::Initialize(bell.data());
  ScriptedCoordinator coordinator([&](const json& req, std::vector<int>* fds) {
    *fds = {a.fd(), b.fd(), bell.fd()};
    return json{{"ok", true},
                {"fid", 5},
                {"version", 2},
                {"arg_types", {"DOUBLE"}},
                {"return_types", {"INTEGER"}},
                {"lanes", {{{"lane_id", 11}, {"executor", 0}}, {{"lane_id", 12}, {"executor", 0}}}},
                {"executors", {{{"index", 0}, {"pid", 1}}}}};
  });
  {
    auto client = CoordinatorClient::Connect(coordinator.settings());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto grant = (*client)->Acquire("f", 0, 2, 1 << 20);
    ASSERT_TRUE(grant.ok()) << grant.status().ToString();
    EXPECT_EQ(grant->fid, 5u);
    EXPECT_EQ(grant->version, 2u);
    EXPECT_EQ(grant->arg_types, std::vector<TypeId>{TypeId::kDouble});
    EXPECT_EQ(grant->return_types, std::vector<TypeId>{TypeId::kInt32});
    ASSERT_EQ(grant->lanes.size(), 2u);
    EXPECT_EQ(grant->lanes[1].lane_id, 12u);
    EXPECT_EQ(grant->lanes[1].lane.id(), 12u);  // really mapped: the header says so
    a.region()[a.arena_offset()] = 9;
    EXPECT_EQ(grant->lanes[0].lane.region()[grant->lanes[0].lane.arena_offset()], 9);
    ASSERT_EQ(grant->executors.size(), 1u);
    EXPECT_TRUE(grant->executors[0].bell.valid());
  }
  const json& acquire = coordinator.requests().at(1);
  EXPECT_EQ(acquire["op"], "acquire");
  EXPECT_EQ(acquire["name"], "f");
  EXPECT_EQ(acquire["slots_per_executor"], 2);
}

TEST(CoordinatorClientTest, MalformedAcquireRepliesAreProtocolErrors) {
  Lane a = Lane::Create(1, 1 << 20).ValueOrDie();
  int round = 0;
  ScriptedCoordinator coordinator([&](const json&, std::vector<int>* fds) -> json {
    json good = {{"ok", true},
                 {"fid", 1},
                 {"version", 1},
                 {"arg_types", {}},
                 {"return_types", {"DOUBLE"}},
                 {"lanes", {{{"lane_id", 1}, {"executor", 0}}}},
                 {"executors", json::array()}};
    switch (round++) {
      case 0:
        *fds = {a.fd()};
        good["fid"] = "five";
        return good;  // wrong type
      case 1:
        *fds = {a.fd()};
        good["version"] = -1;
        return good;        // out of range
      case 2: return good;  // descriptors missing
      case 3:
        *fds = {a.fd()};
        good["lanes"] = "many";
        return good;  // wrong shape
      case 4:
        *fds = {a.fd()};
        good.erase("return_types");
        return good;  // field missing
      default: return json();
    }
  });
  auto client = CoordinatorClient::Connect(coordinator.settings());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  for (int i = 0; i < 5; i++) {
    auto grant = (*client)->Acquire("f", 0, 1, 1 << 20);
    EXPECT_EQ(grant.status().code(), StatusCode::kProtocolError) << i << ": " << grant.status().ToString();
  }
}

TEST(CoordinatorClientTest, RegisterSendsTheDefinitionAndErrorsKeepTheirCode) {
  int round = 0;
  ScriptedCoordinator coordinator([&](const json&, std::vector<int>*) -> json {
    if (round++ == 0) return json{{"ok", true}, {"fid", 3}, {"version", 1}};
    return json{{"ok", false}, {"code", static_cast<int>(StatusCode::kPythonError)}, {"error", "bad code"}};
  });
  FunctionDefinition def{"f", "def pyfun(x): return x", "<inline:f>", "pyfun", {TypeId::kDouble}, {TypeId::kDouble}};
  {
    auto client = CoordinatorClient::Connect(coordinator.settings());
    ASSERT_TRUE(client.ok());
    auto v = (*client)->Register(def, "<inline>");
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(v->fid, 3u);
    auto bad = (*client)->Register(def, "<inline>");
    EXPECT_EQ(bad.status().code(), StatusCode::kPythonError);
    EXPECT_EQ(bad.status().message(), "bad code");
  }
  const json& reg = coordinator.requests().at(1);
  EXPECT_EQ(reg["op"], "register");
  EXPECT_FALSE(reg.contains("source")) << "code travels as bytes (base64), never as JSON text";
  EXPECT_EQ(*SourceFromJson(reg), def.source);
  EXPECT_EQ(reg["entry"], "pyfun");
  EXPECT_EQ(reg["arg_types"], json::array({"DOUBLE"}));
}

TEST(CoordinatorClientTest, ProtocolMismatchAndAVanishedCoordinatorAreClearErrors) {
  {
    ScriptedCoordinator old([](const json&, std::vector<int>*) { return json{{"ok", true}}; }, 99);
    auto client = CoordinatorClient::Connect(old.settings());
    EXPECT_EQ(client.status().code(), StatusCode::kProtocolError);
    EXPECT_NE(client.status().message().find("99"), std::string::npos) << client.status().message();
  }
  ScriptedCoordinator gone([](const json&, std::vector<int>*) { return json(); });  // hangs up
  auto client = CoordinatorClient::Connect(gone.settings());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Drop("f").code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*client)->Alive());
  EXPECT_EQ((*client)->KillExecutor(0, "x").code(), StatusCode::kUnavailable);
}

// Every reply DBEnd decodes, with each field of the wrong type or shape: a ProtocolError naming the
// field from the call that got it, never an exception.
TEST(CoordinatorClientTest, EveryFieldOfEveryReplyOfTheWrongTypeIsAProtocolErrorNamingIt) {
  Lane lane = Lane::Create(1, 1 << 20).ValueOrDie();
  SharedRegion bell = SharedRegion::Create("bell", kBellBytes, true).ValueOrDie();
  size_t checked = 0;
  for (const auto& c : testing::Replies()) {
    if (c.kind == "stats reply") continue;  // an executor's, decoded by the coordinator
    for (const auto& m : testing::Mutations(c)) {
      const bool hello = c.kind == "hello reply";
      ScriptedCoordinator coordinator(
          [&](const json&, std::vector<int>* fds) {
            *fds = {lane.fd(), bell.fd()};
            return m.message;
          },
          hello ? m.message : json{{"ok", true}, {"protocol", kProtocolVersion}});
      auto call = [&]() -> Status {
        auto client = CoordinatorClient::Connect(coordinator.settings());
        if (hello || !client.ok()) return client.status();
        if (c.kind == "register reply") {
          FunctionDefinition def{"f", "def pyfun(x): return x", "<inline:f>", "", {TypeId::kDouble}, {TypeId::kDouble}};
          return (*client)->Register(def, "<inline>").status();
        }
        if (c.kind == "acquire reply") return (*client)->Acquire("f", 0, 1, 1 << 20).status();
        if (c.kind == "reset_cache reply") return (*client)->ResetCache("f").status();
        return (*client)->StatusDocument().status();
      };
      Status st;
      EXPECT_NO_THROW(st = call()) << c.kind << " " << m.where;
      EXPECT_EQ(st.code(), StatusCode::kProtocolError) << c.kind << " " << m.where << ": " << st.ToString();
      EXPECT_NE(st.message().find("'" + m.field + "'"), std::string::npos)
          << c.kind << " " << m.where << ": " << st.message();
      checked++;
    }
  }
  EXPECT_GT(checked, 100u);
}

}  // namespace
}  // namespace imlane
