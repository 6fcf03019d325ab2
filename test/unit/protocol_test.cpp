// The control-message decoder: every field a peer sends is checked for presence, type and range.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "imlane/common/messages.h"
#include "imlane/common/protocol.h"
#include "message_cases.h"

namespace imlane {
namespace {

TEST(ProtocolDecoderTest, FieldChecksPresenceTypeAndRange) {
  json m = json::parse(R"({"fid": 7, "neg": -1, "big": 5000000000, "float": 3e30, "name": "f", "list": [1], "flag": true})");
  EXPECT_EQ(*Field<uint32_t>(m, "fid"), 7u);
  EXPECT_EQ(*Field<int>(m, "neg"), -1);
  EXPECT_EQ(Field<uint32_t>(m, "neg").status().code(), StatusCode::kProtocolError);  // below range
  EXPECT_EQ(Field<uint32_t>(m, "big").status().code(), StatusCode::kProtocolError);  // above range
  EXPECT_EQ(*Field<uint64_t>(m, "big"), 5000000000u);
  EXPECT_EQ(Field<int64_t>(m, "float").status().code(), StatusCode::kProtocolError);  // not an integer
  EXPECT_EQ(Field<int>(m, "name").status().code(), StatusCode::kProtocolError);       // a string
  EXPECT_EQ(*Field<std::string>(m, "name"), "f");
  EXPECT_EQ(Field<std::string>(m, "fid").status().code(), StatusCode::kProtocolError);  // a number
  EXPECT_TRUE(Field<json>(m, "list")->is_array());
  EXPECT_EQ(*Field<double>(m, "float"), 3e30);
  EXPECT_EQ(*Field<double>(m, "fid"), 7.0);
  EXPECT_EQ(Field<double>(m, "flag").status().code(), StatusCode::kProtocolError);  // a bool is no number
  EXPECT_EQ(Field<double>(m, "name").status().code(), StatusCode::kProtocolError);
  auto missing = Field<int>(m, "nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kProtocolError);
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);
  EXPECT_EQ(Field<int>(json::array(), "fid").status().code(), StatusCode::kProtocolError);  // not an object
}

TEST(ProtocolDecoderTest, IntegerOrFallsBackOnAnythingButAnIntegerInRange) {
  json m = json::parse(R"({"a": 3, "b": -3, "c": 1.5, "d": "3", "e": null, "f": 70000})");
  EXPECT_EQ(IntegerOr<int>(m, "a", 0), 3);
  EXPECT_EQ(IntegerOr<uint32_t>(m, "b", 9), 9u);
  EXPECT_EQ(IntegerOr<int>(m, "c", 9), 9);
  EXPECT_EQ(IntegerOr<int>(m, "d", 9), 9);
  EXPECT_EQ(IntegerOr<int>(m, "e", 9), 9);
  EXPECT_EQ(IntegerOr<int16_t>(m, "f", 9), 9);
  EXPECT_EQ(IntegerOr<int>(m, "missing", 9), 9);
  EXPECT_EQ(IntegerOr<int>(json("not an object"), "a", 9), 9);
}

TEST(ProtocolDecoderTest, ReplyStatusNeverTrustsThePeersCode) {
  EXPECT_TRUE(ReplyStatus(json{{"ok", true}}).ok());
  Status st = ReplyStatus(json{{"ok", false}, {"code", 2}, {"error", "no function named 'f'"}});
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "no function named 'f'");
  EXPECT_EQ(ReplyStatus(json{{"ok", false}, {"code", 999}}).code(), StatusCode::kInternal);
  EXPECT_EQ(ReplyStatus(json{{"ok", false}, {"code", 0}}).code(), StatusCode::kInternal);
  EXPECT_EQ(ReplyStatus(json{{"ok", "yes"}, {"code", "2"}}).code(), StatusCode::kInternal);
  EXPECT_EQ(ReplyStatus(json::array()).code(), StatusCode::kProtocolError);
}

TEST(ProtocolDecoderTest, TypeListsRoundTripAndRejectGarbage) {
  std::vector<TypeId> types = {TypeId::kDouble, TypeId::kVarchar, TypeId::kBoolean};
  auto back = TypesFromJson(TypesToJson(types));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, types);
  EXPECT_EQ(TypesFromJson(json("DOUBLE")).status().code(), StatusCode::kProtocolError);
  EXPECT_EQ(TypesFromJson(json::array({1})).status().code(), StatusCode::kProtocolError);
  EXPECT_FALSE(TypesFromJson(json::array({"NOPE"})).ok());
}

TEST(ProtocolDecoderTest, FunctionOptionsRoundTripDefaultWhenAbsentAndRejectUnknownValues) {
  FunctionDefinition def;
  def.null_handling = NullHandling::kSpecial;
  def.exception_handling = ExceptionHandling::kReturnNull;
  json m;
  FunctionOptionsToJson(def, &m);
  EXPECT_EQ(m["null_handling"], "special");
  EXPECT_EQ(m["exception_handling"], "return_null");
  FunctionDefinition back;
  ASSERT_TRUE(FunctionOptionsFromJson(m, &back).ok());
  EXPECT_EQ(back.null_handling, NullHandling::kSpecial);
  EXPECT_EQ(back.exception_handling, ExceptionHandling::kReturnNull);
  FunctionDefinition absent;
  ASSERT_TRUE(FunctionOptionsFromJson(json::object(), &absent).ok());
  EXPECT_EQ(absent.null_handling, NullHandling::kDefault);
  EXPECT_EQ(absent.exception_handling, ExceptionHandling::kDefault);
  Status st = FunctionOptionsFromJson(json{{"null_handling", "sometimes"}}, &absent);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("null_handling must be 'default' or 'special', got 'sometimes'"), std::string::npos);
  EXPECT_FALSE(FunctionOptionsFromJson(json{{"exception_handling", 1}}, &absent).ok());
}

TEST(ProtocolDecoderTest, HandlersTurnLibraryExceptionsIntoErrorReplies) {
  json m = {{"name", 5}};
  json reply = HandleGuarded([&] { return json{{"n", m.at("name").get<std::string>()}}; });
  EXPECT_FALSE(ReplyStatus(reply).ok());
  EXPECT_EQ(ReplyStatus(reply).code(), StatusCode::kProtocolError);
}

TEST(ProtocolDecoderTest, OptionalFieldDefaultsWhenAbsentAndRefusesTheWrongType) {
  json m = json::parse(R"({"n": 3, "s": "x", "b": false, "nul": null, "f": 2.5})");
  EXPECT_EQ(*OptionalField<int>(m, "n", 9), 3);
  EXPECT_EQ(*OptionalField<int>(m, "missing", 9), 9);
  EXPECT_EQ(*OptionalField<int>(m, "nul", 9), 9);  // null is absent
  EXPECT_EQ(*OptionalField<std::string>(m, "s", "d"), "x");
  EXPECT_EQ(*OptionalField<bool>(m, "b", true), false);
  for (const char* name : {"s", "b", "f"}) {
    auto wrong = OptionalField<int>(m, name, 9);
    ASSERT_EQ(wrong.status().code(), StatusCode::kProtocolError) << name;
    EXPECT_NE(wrong.status().message().find(std::string("'") + name + "'"), std::string::npos)
        << wrong.status().message();
  }
  auto s = OptionalField<std::string>(m, "n", "d");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "message field 'n' is not a string (got an integer)");
  EXPECT_FALSE(OptionalField<bool>(m, "n", true).ok());  // 3 is no boolean
  EXPECT_FALSE(OptionalArrayField(m, "s").ok());
  EXPECT_TRUE(OptionalArrayField(m, "missing")->empty());
  EXPECT_FALSE(OptionalObjectField(m, "n").ok());
  EXPECT_FALSE(OptionalField<int>(json::array(), "n", 1).ok());
}

TEST(ProtocolDecoderTest, SourceTravelsAsBase64OfItsBytes) {
  std::string every_byte;
  for (int i = 0; i < 256; i++) every_byte.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= every_byte.size(); n += 1 + n / 3) {
    const std::string bytes = every_byte.substr(0, n);
    json m;
    SourceToJson(bytes, &m);
    EXPECT_EQ(m.dump().find('\\'), std::string::npos) << "plain ASCII, whatever the bytes";
    auto back = SourceFromJson(json::parse(m.dump()));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, bytes) << n;
  }
  EXPECT_EQ(Base64Encode("latin-1 \xe9"), "bGF0aW4tMSDp");
  for (const char* bad : {"abc", "a=bc", "ab=c", "====", "ab!d",
                          "ab\xe9"
                          "d"}) {
    auto st = SourceFromJson(json{{"source_b64", bad}});
    EXPECT_EQ(st.status().code(), StatusCode::kProtocolError) << bad;
    EXPECT_NE(st.status().message().find("'source_b64'"), std::string::npos) << st.status().message();
  }
  EXPECT_EQ(*SourceFromJson(json::object()), "");
  EXPECT_FALSE(SourceFromJson(json{{"source_b64", 5}}).ok());
}

// The decoder of every kind of message, as the coordinator, the executor and DBEnd call it.
std::map<std::string, std::function<Status(const json&)>> Decoders() {
  return {
      {"register", [](const json& m) { return DecodeRegisterRequest(m).status(); }},
      {"acquire", [](const json& m) { return DecodeAcquireRequest(m).status(); }},
      {"drop", [](const json& m) { return DecodeDropRequest(m).status(); }},
      {"lookup", [](const json& m) { return DecodeLookupRequest(m).status(); }},
      {"abandon", [](const json& m) { return DecodeAbandonRequest(m).status(); }},
      {"release", [](const json& m) { return DecodeReleaseRequest(m).status(); }},
      {"kill_executor", [](const json& m) { return DecodeKillExecutorRequest(m).status(); }},
      {"reset_cache", [](const json& m) { return DecodeResetCacheRequest(m).status(); }},
      {"status", [](const json& m) { return DecodeOp(m).status(); }},
      {"hello", [](const json& m) { return DecodeOp(m).status(); }},
      {"load", [](const json& m) { return DecodeLoadRequest(m).status(); }},
      {"unload", [](const json& m) { return DecodeUnloadRequest(m).status(); }},
      {"remove_lane", [](const json& m) { return DecodeRemoveLaneRequest(m).status(); }},
      {"stats", [](const json& m) { return DecodeOp(m).status(); }},
      {"hello reply", [](const json& m) { return DecodeHelloReply(m).status(); }},
      {"register reply", [](const json& m) { return DecodeRegisterReply(m).status(); }},
      {"acquire reply", [](const json& m) { return DecodeAcquireReply(m).status(); }},
      {"reset_cache reply", [](const json& m) { return DecodeResetCacheReply(m).status(); }},
      {"stats reply", [](const json& m) { return DecodeStatsReply(m).status(); }},
      {"status reply", [](const json& m) { return DecodeStatusFunctions(m).status(); }},
  };
}

std::vector<testing::MessageCase> AllCases() {
  std::vector<testing::MessageCase> all = testing::CoordinatorRequests();
  for (auto& c : testing::ExecutorRequests()) all.push_back(c);
  for (auto& c : testing::Replies()) all.push_back(c);
  return all;
}

TEST(ProtocolDecoderTest, EveryValidMessageDecodes) {
  auto decoders = Decoders();
  for (const auto& c : AllCases()) {
    ASSERT_TRUE(decoders.count(c.kind)) << c.kind;
    Status st = decoders[c.kind](c.valid);
    EXPECT_TRUE(st.ok()) << c.kind << ": " << st.ToString();
    EXPECT_TRUE(DecodeOp(c.valid).ok() || c.kind.find("reply") != std::string::npos) << c.kind;
  }
}

TEST(ProtocolDecoderTest, EveryFieldOfTheWrongTypeOrShapeIsAProtocolErrorNamingIt) {
  auto decoders = Decoders();
  size_t checked = 0;
  for (const auto& c : AllCases()) {
    for (const auto& m : testing::Mutations(c, /*include_op=*/false)) {
      Status st;
      EXPECT_NO_THROW(st = decoders[c.kind](m.message)) << c.kind << " " << m.where;
      EXPECT_FALSE(st.ok()) << c.kind << ": " << m.where << " = " << m.message[json::json_pointer(m.where)].dump();
      if (st.ok()) continue;
      // A wrong enumeration value (null_handling 5) is a ProtocolError too: it is the wrong type.
      EXPECT_EQ(st.code(), StatusCode::kProtocolError) << c.kind << " " << m.where << ": " << st.ToString();
      EXPECT_NE(st.message().find("'" + m.field + "'"), std::string::npos)
          << c.kind << " " << m.where << ": " << st.message();
      EXPECT_NO_THROW(DecodeAllForFuzzing(m.message));
      checked++;
    }
  }
  EXPECT_GT(checked, 300u) << "the sweep covers every field of every message";
}

TEST(ProtocolDecoderTest, WrongOpAndHugeNumbersAreProtocolErrors) {
  for (const json& op : testing::JunkValues()) {
    if (op.is_string()) continue;
    auto st = DecodeOp(json{{"op", op}});
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.status().message().find("'op'"), std::string::npos) << st.status().message();
  }
  // Out of range for the field's type, but integers: not truncated, refused.
  EXPECT_FALSE(DecodeUnloadRequest(json{{"op", "unload"}, {"fid", 4294967296ull}}).ok());
  EXPECT_FALSE(DecodeUnloadRequest(json{{"op", "unload"}, {"fid", -1}}).ok());
  EXPECT_FALSE(DecodeRegisterReply(json{{"fid", 1}, {"version", 18446744073709551615ull}}).ok());
  EXPECT_FALSE(DecodeAcquireRequest(json{{"name", "f"}, {"executors", 4294967296ull}}).ok());
  EXPECT_FALSE(DecodeAcquireRequest(json{{"name", "f"}, {"lane_bytes", -1}}).ok());
  EXPECT_FALSE(DecodeAcquireRequest(json{{"name", "f"}, {"slots_per_executor", 1e300}}).ok());
  EXPECT_FALSE(DecodeKillExecutorRequest(json{{"index", INT64_MIN}}).ok());
  EXPECT_FALSE(DecodeReleaseRequest(json{{"lane_ids", {1, -1}}}).ok());
  EXPECT_TRUE(DecodeRemoveLaneRequest(json{{"lane_id", 18446744073709551615ull}}).ok());  // a 64-bit id
  EXPECT_FALSE(DecodeReadyMessage(json{{"op", "stats"}, {"pid", 1}}).ok());
  EXPECT_FALSE(DecodeReadyMessage(json{{"op", "ready"}, {"pid", "1"}}).ok());
}

}  // namespace
}  // namespace imlane
