// Shared fixture for tests that run a real coordinator and real executors on a private socket.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "imlane/batch_accumulator.h"
#include "imlane/dbend_context.h"

namespace imlane::testing {

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/imlane-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    settings_.socket_path = dir_ + "/imlane.sock";
    settings_.n_executors = 2;
    settings_.lane_bytes = 8u << 20;
    settings_.timeout_ms = 30000;
  }
  void TearDown() override {
    ctx_.reset();
    std::filesystem::remove_all(dir_);
  }
  DBEndContext& ctx() {
    if (!ctx_) {
      auto c = DBEndContext::Setup(settings_);
      // A throw, not an abort: gtest records the failure and the test's destructors still stop what it started.
      if (!c.ok()) throw std::runtime_error("DBEndContext::Setup failed: " + c.status().ToString());
      ctx_ = c.MoveValue();
    }
    return *ctx_;
  }
  // Registers inline code; fails the test on error.
  void Register(const std::string& name, const std::string& code, const std::string& args, const std::string& rets,
                const std::string& entry = "") {
    auto spec = FunctionSpec::Make(name, code, args, rets, entry);
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    Status st = ctx().RegisterFunction(*spec);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  Status TryRegister(const std::string& name, const std::string& code, const std::string& args,
                     const std::string& rets) {
    auto spec = FunctionSpec::Make(name, code, args, rets);
    if (!spec.ok()) return spec.status();
    return ctx().RegisterFunction(*spec);
  }
  nlohmann::json StatusJson() {
    auto s = ctx().CoordinatorStatus();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return nlohmann::json::parse(s.ok() ? *s : std::string("{}"));
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
  Settings settings_;
  std::unique_ptr<DBEndContext> ctx_;
};

inline ColumnBatch Doubles(const std::vector<double>& v) {
  ColumnBatch b;
  b.columns.push_back(Column::FromValues<double>(v));
  return b;
}

}  // namespace imlane::testing
