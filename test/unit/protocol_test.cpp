// The control-message decoder: every field a peer sends is checked for presence, type and range.
#include <gtest/gtest.h>

#include "imlane/common/protocol.h"

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

}  // namespace
}  // namespace imlane
