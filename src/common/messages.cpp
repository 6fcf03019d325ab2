#include "imlane/common/messages.h"

namespace imlane {

namespace {

// A list of SQL type names; the error names the field.
Result<std::vector<TypeId>> TypeListField(const json& msg, const char* name, bool required) {
  if (required) IMLANE_RETURN_NOT_OK(Field<json>(msg, name).status());
  IMLANE_ASSIGN_OR_RETURN(json list, OptionalArrayField(msg, name));
  auto types = TypesFromJson(list);
  if (!types.ok()) return types.status().WithContext(std::string("message field '") + name + "'");
  return types;
}

Result<json> RequiredArrayField(const json& msg, const char* name) {
  IMLANE_RETURN_NOT_OK(Field<json>(msg, name).status());
  return OptionalArrayField(msg, name);
}

// The fields a register (coordinator) and a load (executor) message share.
Status DecodeDefinition(const json& msg, FunctionDefinition* def) {
  IMLANE_ASSIGN_OR_RETURN(def->name, Field<std::string>(msg, "name"));
  IMLANE_ASSIGN_OR_RETURN(def->source, SourceFromJson(msg));
  IMLANE_ASSIGN_OR_RETURN(def->filename, OptionalField<std::string>(msg, "filename", "<inline:" + def->name + ">"));
  IMLANE_ASSIGN_OR_RETURN(def->entry, OptionalField<std::string>(msg, "entry", std::string()));
  IMLANE_ASSIGN_OR_RETURN(def->arg_types, TypeListField(msg, "arg_types", /*required=*/false));
  IMLANE_ASSIGN_OR_RETURN(def->return_types, TypeListField(msg, "return_types", /*required=*/false));
  return FunctionOptionsFromJson(msg, def);
}

Result<std::vector<std::string>> StringList(const json& j, const char* name) {
  IMLANE_ASSIGN_OR_RETURN(json list, OptionalArrayField(j, name));
  std::vector<std::string> out;
  for (const auto& e : list) {
    IMLANE_ASSIGN_OR_RETURN(std::string s, DecodeValue<std::string>(e, name));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Result<std::string> DecodeOp(const json& msg) { return Field<std::string>(msg, "op"); }

Result<RegisterRequest> DecodeRegisterRequest(const json& req) {
  RegisterRequest out;
  IMLANE_RETURN_NOT_OK(DecodeDefinition(req, &out.def));
  IMLANE_ASSIGN_OR_RETURN(out.source_ref, OptionalField<std::string>(req, "source_ref", out.def.filename));
  IMLANE_ASSIGN_OR_RETURN(out.options, OptionalObjectField(req, "options"));
  return out;
}

Result<AcquireRequest> DecodeAcquireRequest(const json& req) {
  AcquireRequest out;
  IMLANE_ASSIGN_OR_RETURN(out.name, Field<std::string>(req, "name"));
  IMLANE_ASSIGN_OR_RETURN(out.executors, OptionalField<int>(req, "executors", out.executors));
  IMLANE_ASSIGN_OR_RETURN(out.slots_per_executor,
                          OptionalField<int>(req, "slots_per_executor", out.slots_per_executor));
  IMLANE_ASSIGN_OR_RETURN(out.lane_bytes, OptionalField<size_t>(req, "lane_bytes", out.lane_bytes));
  return out;
}

Result<std::string> DecodeDropRequest(const json& req) { return Field<std::string>(req, "name"); }

Result<AbandonRequest> DecodeAbandonRequest(const json& req) {
  AbandonRequest out;
  IMLANE_ASSIGN_OR_RETURN(out.lane_ids, DecodeReleaseRequest(req));
  IMLANE_ASSIGN_OR_RETURN(out.reason, OptionalField<std::string>(req, "reason", std::string()));
  return out;
}

Result<std::string> DecodeLookupRequest(const json& req) { return Field<std::string>(req, "name"); }

Result<std::vector<uint64_t>> DecodeReleaseRequest(const json& req) {
  IMLANE_ASSIGN_OR_RETURN(json list, OptionalArrayField(req, "lane_ids"));
  std::vector<uint64_t> ids;
  for (const auto& v : list) {
    IMLANE_ASSIGN_OR_RETURN(uint64_t id, DecodeValue<uint64_t>(v, "lane_ids"));
    ids.push_back(id);
  }
  return ids;
}

Result<KillExecutorRequest> DecodeKillExecutorRequest(const json& req) {
  KillExecutorRequest out;
  IMLANE_ASSIGN_OR_RETURN(out.index, OptionalField<int>(req, "index", out.index));
  IMLANE_ASSIGN_OR_RETURN(out.reason, OptionalField<std::string>(req, "reason", out.reason));
  return out;
}

Result<std::string> DecodeResetCacheRequest(const json& req) {
  return OptionalField<std::string>(req, "name", std::string());
}

Result<LoadRequest> DecodeLoadRequest(const json& msg) {
  LoadRequest out;
  IMLANE_ASSIGN_OR_RETURN(out.fid, Field<uint32_t>(msg, "fid"));
  IMLANE_RETURN_NOT_OK(DecodeDefinition(msg, &out.def));
  return out;
}

Result<uint32_t> DecodeUnloadRequest(const json& msg) { return Field<uint32_t>(msg, "fid"); }

Result<uint64_t> DecodeRemoveLaneRequest(const json& msg) { return Field<uint64_t>(msg, "lane_id"); }

Result<int64_t> DecodeReadyMessage(const json& msg) {
  IMLANE_ASSIGN_OR_RETURN(std::string op, DecodeOp(msg));
  if (op != "ready") return Status::ProtocolError("expected the executor's 'ready' message, got op '", op, "'");
  return Field<int64_t>(msg, "pid");
}

Result<HelloReply> DecodeHelloReply(const json& reply) {
  HelloReply out;
  IMLANE_ASSIGN_OR_RETURN(out.protocol, OptionalField<int>(reply, "protocol", 0));
  IMLANE_ASSIGN_OR_RETURN(out.python_env, OptionalField<std::string>(reply, "python_env", std::string()));
  return out;
}

Result<RegisterReply> DecodeRegisterReply(const json& reply) {
  RegisterReply out;
  IMLANE_ASSIGN_OR_RETURN(out.fid, Field<uint32_t>(reply, "fid"));
  IMLANE_ASSIGN_OR_RETURN(out.version, Field<uint32_t>(reply, "version"));
  return out;
}

Result<AcquireReply> DecodeAcquireReply(const json& reply) {
  AcquireReply out;
  IMLANE_ASSIGN_OR_RETURN(out.fid, Field<uint32_t>(reply, "fid"));
  IMLANE_ASSIGN_OR_RETURN(out.version, Field<uint32_t>(reply, "version"));
  IMLANE_ASSIGN_OR_RETURN(out.arg_types, TypeListField(reply, "arg_types", /*required=*/true));
  IMLANE_ASSIGN_OR_RETURN(out.return_types, TypeListField(reply, "return_types", /*required=*/true));
  IMLANE_ASSIGN_OR_RETURN(json lanes, RequiredArrayField(reply, "lanes"));
  IMLANE_ASSIGN_OR_RETURN(json execs, RequiredArrayField(reply, "executors"));
  for (const auto& l : lanes) {
    AcquireReply::GrantedLane g;
    auto lane_id = Field<uint64_t>(l, "lane_id");
    auto executor = Field<int>(l, "executor");
    if (!lane_id.ok()) return lane_id.status().WithContext("message field 'lanes'");
    if (!executor.ok()) return executor.status().WithContext("message field 'lanes'");
    g.lane_id = *lane_id;
    g.executor = *executor;
    out.lanes.push_back(g);
  }
  for (const auto& e : execs) {
    auto index = Field<int>(e, "index");
    if (!index.ok()) return index.status().WithContext("message field 'executors'");
    out.executors.push_back(*index);
  }
  return out;
}

Result<int> DecodeResetCacheReply(const json& reply) { return Field<int>(reply, "dropped"); }

Result<std::vector<json>> DecodeStatsReply(const json& reply) {
  IMLANE_ASSIGN_OR_RETURN(json fns, OptionalArrayField(reply, "functions"));
  std::vector<json> out;
  for (const auto& f : fns) {
    Status st = Field<uint32_t>(f, "fid").status();
    for (const char* counter :
         {"batches", "rows", "busy_ns", "errors", "loads", "cache_hits", "cache_misses", "cache_bytes"}) {
      if (st.ok()) st = OptionalField<uint64_t>(f, counter, 0).status();
    }
    if (st.ok()) st = OptionalField<double>(f, "cache_saved_s", 0).status();
    if (!st.ok()) return st.WithContext("message field 'functions'");
    out.push_back(f);
  }
  return out;
}

Result<std::vector<FunctionStatus>> DecodeStatusFunctions(const json& status) {
  IMLANE_ASSIGN_OR_RETURN(json fns, OptionalArrayField(status, "functions"));
  std::vector<FunctionStatus> out;
  for (const auto& f : fns) {
    auto s = DecodeFunctionStatus(f);
    if (!s.ok()) return s.status().WithContext("message field 'functions'");
    out.push_back(s.MoveValue());
  }
  return out;
}

Result<FunctionStatus> DecodeFunctionStatus(const json& f) {
  FunctionStatus s;
  IMLANE_ASSIGN_OR_RETURN(s.name, Field<std::string>(f, "name"));
  IMLANE_ASSIGN_OR_RETURN(s.version, OptionalField<uint32_t>(f, "version", 0));
  IMLANE_ASSIGN_OR_RETURN(s.arg_types, StringList(f, "arg_types"));
  IMLANE_ASSIGN_OR_RETURN(s.return_types, StringList(f, "return_types"));
  IMLANE_ASSIGN_OR_RETURN(s.source, OptionalField<std::string>(f, "source", std::string()));
  IMLANE_ASSIGN_OR_RETURN(s.null_handling, OptionalField<std::string>(f, "null_handling", s.null_handling));
  IMLANE_ASSIGN_OR_RETURN(s.exception_handling,
                          OptionalField<std::string>(f, "exception_handling", s.exception_handling));
  IMLANE_ASSIGN_OR_RETURN(s.executors_used, OptionalField<int64_t>(f, "executors_used", 0));
  IMLANE_ASSIGN_OR_RETURN(s.executors_loaded, OptionalField<int64_t>(f, "executors_loaded", 0));
  IMLANE_ASSIGN_OR_RETURN(s.loads, OptionalField<int64_t>(f, "loads", 0));
  IMLANE_ASSIGN_OR_RETURN(s.batches, OptionalField<int64_t>(f, "batches", 0));
  IMLANE_ASSIGN_OR_RETURN(s.rows, OptionalField<int64_t>(f, "rows", 0));
  IMLANE_ASSIGN_OR_RETURN(s.errors, OptionalField<int64_t>(f, "errors", 0));
  IMLANE_ASSIGN_OR_RETURN(s.cache_hits, OptionalField<int64_t>(f, "cache_hits", 0));
  IMLANE_ASSIGN_OR_RETURN(s.cache_misses, OptionalField<int64_t>(f, "cache_misses", 0));
  IMLANE_ASSIGN_OR_RETURN(s.cache_bytes, OptionalField<int64_t>(f, "cache_bytes", 0));
  IMLANE_ASSIGN_OR_RETURN(s.mean_batch_rows, OptionalField<double>(f, "mean_batch_rows", 0));
  IMLANE_ASSIGN_OR_RETURN(s.busy_s, OptionalField<double>(f, "busy_s", 0));
  IMLANE_ASSIGN_OR_RETURN(s.cache_saved_s, OptionalField<double>(f, "cache_saved_s", 0));
  IMLANE_ASSIGN_OR_RETURN(s.backend, OptionalField<std::string>(f, "backend", s.backend));
  IMLANE_ASSIGN_OR_RETURN(json ray, OptionalObjectField(f, "ray"));
  IMLANE_ASSIGN_OR_RETURN(s.nodes, OptionalField<int64_t>(ray, "nodes", 0));
  IMLANE_ASSIGN_OR_RETURN(s.ray_actors, OptionalArrayField(ray, "actors"));
  for (const auto& a : s.ray_actors) {
    if (!a.is_object()) return Status::ProtocolError("message field 'ray.actors' holds a non-object");
    IMLANE_ASSIGN_OR_RETURN(std::string state, OptionalField<std::string>(a, "state", std::string()));
    s.actors += state == "ready";
  }
  return s;
}

int DecodeAllForFuzzing(const json& msg) {
  int accepted = 0;
  auto count = [&](const Status& st) { accepted += st.ok(); };
  count(ReplyStatus(msg));
  auto op = DecodeOp(msg);
  count(op.status());
  // Every request decoder, whatever the op says: the fuzzer reaches each one from any input.
  count(DecodeRegisterRequest(msg).status());
  count(DecodeAcquireRequest(msg).status());
  count(DecodeDropRequest(msg).status());
  count(DecodeLookupRequest(msg).status());
  count(DecodeAbandonRequest(msg).status());
  count(DecodeReleaseRequest(msg).status());
  count(DecodeKillExecutorRequest(msg).status());
  count(DecodeResetCacheRequest(msg).status());
  count(DecodeLoadRequest(msg).status());
  count(DecodeUnloadRequest(msg).status());
  count(DecodeRemoveLaneRequest(msg).status());
  count(DecodeReadyMessage(msg).status());
  count(DecodeHelloReply(msg).status());
  count(DecodeRegisterReply(msg).status());
  count(DecodeAcquireReply(msg).status());
  count(DecodeResetCacheReply(msg).status());
  count(DecodeStatsReply(msg).status());
  count(DecodeStatusFunctions(msg).status());
  (void)ReplyTo(msg, OkReply());
  return accepted;
}

}  // namespace imlane
