// The coordinator's function registry: versions, ids, replacement and drop.
#include <gtest/gtest.h>

#include "imlane/coordinator/function_registry.h"

namespace imlane {
namespace {

FunctionDefinition Def(const std::string& name, const std::string& source) {
  return FunctionDefinition{name, source, "<inline:" + name + ">", "", {TypeId::kDouble}, {TypeId::kInt32}};
}

TEST(FunctionRegistryTest, PrepareDoesNotStoreUntilCommit) {
  FunctionRegistry reg;
  FunctionVersion v1 = reg.Prepare(Def("f", "a"), "<inline>", json::object());
  EXPECT_EQ(v1.version, 1u);
  EXPECT_FALSE(reg.Find("f").has_value());
  reg.Commit(v1);
  ASSERT_TRUE(reg.Find("f").has_value());
  EXPECT_EQ(reg.Find("f")->fid, v1.fid);
  EXPECT_EQ(reg.FindById(v1.fid)->def.source, "a");
}

TEST(FunctionRegistryTest, TheSameDefinitionKeepsItsVersionAChangeGetsANewOne) {
  FunctionRegistry reg;
  FunctionVersion v1 = reg.Prepare(Def("f", "a"), "<inline>", json::object());
  reg.Commit(v1);
  FunctionVersion same = reg.Prepare(Def("f", "a"), "<inline>", json::object());
  EXPECT_EQ(same.fid, v1.fid);
  EXPECT_EQ(same.version, 1u);
  FunctionVersion v2 = reg.Prepare(Def("f", "b"), "<inline>", json::object());
  EXPECT_NE(v2.fid, v1.fid);
  EXPECT_EQ(v2.version, 2u);
  FunctionDefinition retyped = Def("f", "a");
  retyped.return_types = {TypeId::kDouble};
  EXPECT_NE(reg.Prepare(retyped, "<inline>", json::object()).fid, v1.fid);
  EXPECT_NE(reg.Prepare(Def("f", "a"), "<inline>", json{{"k", 1}}).fid, v1.fid);
  // NULL and exception handling are applied by the executors: another definition, another version.
  FunctionDefinition special = Def("f", "a");
  special.null_handling = NullHandling::kSpecial;
  EXPECT_NE(reg.Prepare(special, "<inline>", json::object()).fid, v1.fid);
  FunctionDefinition return_null = Def("f", "a");
  return_null.exception_handling = ExceptionHandling::kReturnNull;
  EXPECT_NE(reg.Prepare(return_null, "<inline>", json::object()).fid, v1.fid);
  reg.Commit(v2);
  EXPECT_EQ(reg.Find("f")->version, 2u);
  // Old versions stay findable by id: Lanes of other clients may still name them.
  EXPECT_EQ(reg.FindById(v1.fid)->def.source, "a");
}

TEST(FunctionRegistryTest, DropForgetsTheNameNotTheIds) {
  FunctionRegistry reg;
  FunctionVersion v1 = reg.Prepare(Def("f", "a"), "<inline>", json::object());
  reg.Commit(v1);
  reg.Commit(reg.Prepare(Def("g", "x"), "<inline>", json::object()));
  EXPECT_EQ(reg.List().size(), 2u);
  EXPECT_TRUE(reg.Drop("f"));
  EXPECT_FALSE(reg.Drop("f"));
  EXPECT_FALSE(reg.Find("f").has_value());
  EXPECT_TRUE(reg.FindById(v1.fid).has_value());
  EXPECT_EQ(reg.List().size(), 1u);
  // Registered again after a drop: a fresh id.
  FunctionVersion again = reg.Prepare(Def("f", "a"), "<inline>", json::object());
  EXPECT_NE(again.fid, v1.fid);
  EXPECT_EQ(again.version, 1u);
}

}  // namespace
}  // namespace imlane
