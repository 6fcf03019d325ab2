#include "imlane/executor/python_runtime.h"

#include "imlane/common/python_env.h"

#include <pybind11/embed.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <unordered_map>
#include <vector>

#include "imlane/bit_util.h"
#include "imlane/common/log.h"
#include "imlane/utf8.h"

namespace py = pybind11;
using namespace pybind11::literals;  // NOLINT: "dtype"_a keyword arguments

namespace imlane {

struct PythonRuntime::Impl {
  std::unique_ptr<py::scoped_interpreter> interpreter;
  py::module_ numpy;
  py::module_ runtime;
  py::object adapt_column;
  py::object format_exception;
  py::object numpy_empty;
  py::capsule lane_owner;  // base object of every Lane view, so numpy never copies or frees
  py::object ray_bridge;   // _runtime.ray_bridge once ConfigureRay ran; every load then goes to Ray
  py::object json_dumps;
  std::function<void()> wake;  // rings the executor's bell (SetRemoteWake)
  struct Loaded {
    FunctionDefinition def;
    py::object fn;  // a LoadedFunction, or a RayFunction on a bridge
    bool remote = false;
  };
  std::unordered_map<uint32_t, Loaded> functions;

  py::dtype DtypeOf(TypeId t) {
    switch (t) {
      case TypeId::kInt8: return py::dtype::of<int8_t>();
      case TypeId::kInt16: return py::dtype::of<int16_t>();
      case TypeId::kInt32:
      case TypeId::kDate: return py::dtype::of<int32_t>();
      case TypeId::kInt64:
      case TypeId::kTimestamp: return py::dtype::of<int64_t>();
      case TypeId::kFloat: return py::dtype::of<float>();
      case TypeId::kDouble: return py::dtype::of<double>();
      case TypeId::kBoolean:
      case TypeId::kVarchar: return py::dtype::of<uint8_t>();
    }
    return py::dtype::of<uint8_t>();
  }

  // A read-only numpy array over Lane memory: no copy.
  py::array View(const py::dtype& dt, size_t n, const void* data) {
    py::array a(dt, {static_cast<py::ssize_t>(n)}, {}, data, lane_owner);
    ReadOnly(a);
    return a;
  }
  // Every input array is read-only, views of the Lane or not (columns.py: one form in every batch).
  static void ReadOnly(py::array& a) {
    py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  }

  // `raw`: the caller skips the NULL rows (null_handling 'default'), so a column is passed as if it had
  // no NULLs: a zero-copy view in its own dtype rather than promoted to float / object for NaN / None.
  // `special` (null_handling 'special'): numbers and BOOLEAN are masked arrays in every batch, with or
  // without NULLs, so their form never depends on the batch (columns.py has the table).
  py::object Column(const ColumnView& c, bool raw, bool special) {
    const size_t n = c.length();
    if (c.type() == TypeId::kVarchar) {
      py::array arr = numpy_empty(n, "dtype"_a = "object");  // filled with None
      auto** items = static_cast<PyObject**>(arr.mutable_data());
      for (size_t i = 0; i < n; i++) {
        if (c.IsNull(i)) continue;
        std::string_view s = c.GetString(i);
        PyObject* u = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
        if (u == nullptr) throw py::error_already_set();
        Py_XDECREF(items[i]);
        items[i] = u;
      }
      ReadOnly(arr);
      return std::move(arr);
    }
    const bool no_nulls = raw || c.null_count() == 0;
    const bool masked = special && c.type() != TypeId::kDate && c.type() != TypeId::kTimestamp;
    const bool plain = no_nulls && !masked && c.type() != TypeId::kBoolean && c.type() != TypeId::kDate &&
                       c.type() != TypeId::kTimestamp;
    if (plain) return View(DtypeOf(c.type()), n, c.data());
    size_t data_len = c.type() == TypeId::kBoolean ? bit_util::BytesForBits(n) : n;
    py::array data = View(DtypeOf(c.type()), data_len, c.data());
    py::object validity = !no_nulls && c.validity()
                              ? py::object(View(py::dtype::of<uint8_t>(), bit_util::BytesForBits(n), c.validity()))
                              : py::object(py::none());
    return adapt_column(static_cast<int>(c.type()), data, validity, n, special);
  }

  // null_handling 'default': a bool array, true where every argument of the row is valid, or None
  // when no argument has a NULL (the common case costs nothing).
  py::object ValidRows(const BatchView& in) {
    const size_t n = in.num_rows();
    std::vector<const uint8_t*> bitmaps;
    for (size_t c = 0; c < in.num_columns(); c++) {
      const ColumnView& col = in.column(c);
      if (col.null_count() > 0 && col.validity() != nullptr) bitmaps.push_back(col.validity());
    }
    if (bitmaps.empty()) return py::none();
    std::vector<uint8_t> all(bitmaps[0], bitmaps[0] + bit_util::BytesForBits(n));
    for (size_t b = 1; b < bitmaps.size(); b++) bit_util::AndBits(all.data(), bitmaps[b], n);
    py::array mask = numpy_empty(n, "dtype"_a = "bool");
    bit_util::UnpackBits(all.data(), n, static_cast<uint8_t*>(mask.mutable_data()));
    return std::move(mask);
  }

  Status WriteColumn(const std::string& fname, TypeId type, const py::handle& values, const py::handle& packed,
                     size_t n, ColumnBuilder* out) {
    const uint8_t* validity = nullptr;
    py::array validity_arr;
    if (!packed.is_none()) {
      validity_arr = py::reinterpret_borrow<py::array>(packed);
      validity = static_cast<const uint8_t*>(validity_arr.data());
    }
    py::array arr = py::reinterpret_borrow<py::array>(values);
    if (static_cast<size_t>(arr.size()) != n) {
      return Status::Internal("result conversion produced " + std::to_string(arr.size()) + " values for " +
                              std::to_string(n) + " rows");
    }
    if (type == TypeId::kVarchar) {
      auto** items = static_cast<PyObject**>(const_cast<void*>(arr.data()));
      for (size_t i = 0; i < n; i++) {
        PyObject* o = items[i];
        if ((validity && !bit_util::GetBit(validity, i)) || o == Py_None) {
          IMLANE_RETURN_NOT_OK(out->AppendNull());
          continue;
        }
        if (PyUnicode_Check(o)) {
          Py_ssize_t len = 0;
          const char* s = PyUnicode_AsUTF8AndSize(o, &len);
          if (s == nullptr) {  // a lone surrogate (e.g. from surrogateescape) has no UTF-8 form
            PyErr_Clear();
            return Status::PythonError("imlane function '" + fname + "': VARCHAR result at row " + std::to_string(i) +
                                       " is a str that is not encodable as UTF-8 (it holds a lone surrogate)");
          }
          IMLANE_RETURN_NOT_OK(out->AppendString(std::string_view(s, static_cast<size_t>(len))));
        } else if (PyBytes_Check(o)) {
          // bytes are taken as UTF-8 text; anything else would reach the engine as a corrupt string.
          const std::string_view bytes(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)));
          const size_t bad = FindInvalidUtf8(bytes);
          if (bad != bytes.size()) return InvalidUtf8Result(fname, i, bytes, bad);
          IMLANE_RETURN_NOT_OK(out->AppendString(bytes));
        } else {
          return Status::PythonError("imlane function '" + fname + "': expected VARCHAR (str) values, got " +
                                     Py_TYPE(o)->tp_name + " at row " + std::to_string(i));
        }
      }
      return Status::OK();
    }
    const size_t width = type == TypeId::kBoolean ? 1 : FixedWidth(type);
    if (static_cast<size_t>(arr.nbytes()) != n * width || !(arr.flags() & py::array::c_style)) {
      return Status::Internal("result conversion produced a buffer of the wrong layout");
    }
    if (type == TypeId::kBoolean) {
      return out->AppendBooleanBytes(static_cast<const uint8_t*>(arr.data()), n, validity, 0);
    }
    return out->AppendValues(arr.data(), n, validity, 0);
  }

  // The function's arguments as Run passes them: (columns, valid). Needs the GIL.
  std::pair<py::list, py::object> Inputs(const FunctionDefinition& def, const BatchView& in) {
    py::object valid = def.null_handling == NullHandling::kDefault ? ValidRows(in) : py::none();
    const bool raw = !valid.is_none();
    const bool special = def.null_handling == NullHandling::kSpecial;
    py::list cols(in.num_columns());
    for (size_t c = 0; c < in.num_columns(); c++) cols[c] = Column(in.column(c), raw, special);
    return {std::move(cols), std::move(valid)};
  }

  // What a function returned ([(values, packed validity)] per result column, to_columns) into the Lane.
  Status WriteResult(const FunctionDefinition& def, const py::object& result, size_t n, BatchBuilder* out) {
    py::list parts = result;
    for (size_t c = 0; c < def.return_types.size(); c++) {
      py::tuple part = parts[c];
      IMLANE_RETURN_NOT_OK(WriteColumn(def.name, def.return_types[c], part[0], part[1], n, &out->column(c)));
    }
    return Status::OK();
  }

  Status PythonFailure(const std::string& name, py::error_already_set& e) {
    std::string text;
    try {
      text = format_exception(name, e.value(), e.trace()).cast<std::string>();
    } catch (const std::exception& inner) {
      text = "imlane function '" + name + "': " + e.what();
    }
    return Status::PythonError(text);
  }
};

PythonRuntime::PythonRuntime() : impl_(std::make_unique<Impl>()) {}

PythonRuntime::~PythonRuntime() {
  if (impl_->interpreter) {
    // Python objects must go before the interpreter does.
    impl_->functions.clear();
    impl_->ray_bridge = py::object();
    impl_->json_dumps = py::object();
    impl_->adapt_column = py::object();
    impl_->format_exception = py::object();
    impl_->numpy_empty = py::object();
    impl_->lane_owner = py::capsule();
    impl_->runtime = py::module_();
    impl_->numpy = py::module_();
    impl_->interpreter.reset();
  }
}

Status PythonRuntime::Start(const std::string& runtime_dir, uint64_t context_cache_bytes,
                            const std::string& python_env) {
  // The interpreter finds its standard library and site-packages from its program name, which by
  // default is looked up on PATH: a pyenv or venv `python3` first on PATH would hand the executor
  // another Python's packages. Name the interpreter IMLane was built against, or the chosen venv's
  // python3, whose pyvenv.cfg then puts the venv's site-packages first (as running it would).
  PythonEnv env{"", IMLANE_PYTHON_EXECUTABLE};
  if (!python_env.empty()) {
    auto checked = CheckPythonEnv(python_env);
    if (!checked.ok()) return checked.status();
    env = checked.MoveValue();
  }
  try {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, env.program.c_str());
    if (PyStatus_Exception(status)) {
      PyConfig_Clear(&config);
      return Status::Unavailable("cannot configure Python: " + std::string(status.err_msg ? status.err_msg : ""));
    }
    impl_->interpreter = std::make_unique<py::scoped_interpreter>(&config);
    py::module_ sys = py::module_::import("sys");
    if (!python_env.empty()) {
      // realpath: CheckPythonEnv resolved the directory, and so does Python's getpath.
      std::string prefix = sys.attr("prefix").cast<std::string>();
      if (prefix != env.root) {
        return Status::Unavailable("the embedded Python did not take the virtualenv " + env.root + " (sys.prefix is " +
                                   prefix + ")");
      }
    }
    sys.attr("path").attr("insert")(0, runtime_dir);
    impl_->numpy = py::module_::import("numpy");
    impl_->runtime = py::module_::import("imlane._runtime");
    impl_->adapt_column = impl_->runtime.attr("adapt_column");
    impl_->format_exception = impl_->runtime.attr("format_exception");
    impl_->runtime.attr("install_context_cache")(context_cache_bytes);
    // What functions print goes to the log, a line each, named by function (output.py).
    impl_->runtime.attr("set_output_log")(
        py::cpp_function([](const std::string& line) { Log(LogLevel::kInfo, "executor", line); }));
    impl_->numpy_empty = impl_->numpy.attr("empty");
    impl_->ray_bridge = py::none();
    static int owner_tag = 0;
    impl_->lane_owner = py::capsule(&owner_tag, "imlane.lane");
  } catch (py::error_already_set& e) {
    return Status::Unavailable(std::string("cannot start Python in the executor: ") + e.what());
  }
  return Status::OK();
}

Status PythonRuntime::Load(uint32_t function_id, const FunctionDefinition& def) {
  std::vector<int> args, rets;
  for (TypeId t : def.arg_types) args.push_back(static_cast<int>(t));
  for (TypeId t : def.return_types) rets.push_back(static_cast<int>(t));
  try {
    // The source as bytes: Python decodes it itself, honouring a coding cookie (PEP 263).
    const bool remote = !impl_->ray_bridge.is_none();
    py::object loader = remote ? impl_->ray_bridge.attr("load") : impl_->runtime.attr("load");
    py::object fn = remote ? loader(def.name, py::bytes(def.source), def.filename, def.entry, args, rets,
                                    NullHandlingName(def.null_handling), ExceptionHandlingName(def.exception_handling),
                                    def.context_cache, def.replicas, def.retries)
                           : loader(def.name, py::bytes(def.source), def.filename, def.entry, args, rets,
                                    NullHandlingName(def.null_handling), ExceptionHandlingName(def.exception_handling),
                                    def.context_cache);
    impl_->functions[function_id] = Impl::Loaded{def, std::move(fn), remote};
  } catch (py::error_already_set& e) {
    Status st = impl_->PythonFailure(def.name, e);
    if (!impl_->ray_bridge.is_none() && e.matches(impl_->ray_bridge.attr("ClusterUnreachable"))) {
      return Status::Unavailable(st.message());  // not the function's fault: the coordinator falls back
    }
    return st;
  }
  return Status::OK();
}

void PythonRuntime::Unload(uint32_t function_id) {
  auto it = impl_->functions.find(function_id);
  if (it == impl_->functions.end()) return;
  if (it->second.remote) {
    try {
      it->second.fn.attr("close")();  // its actors go now, not when Ray notices the handle is gone
    } catch (py::error_already_set& e) {
      Log(LogLevel::kWarn, "executor",
          std::string("closing the Ray actors of '") + it->second.def.name + "': " + e.what());
    }
  }
  impl_->functions.erase(it);
}

const FunctionDefinition* PythonRuntime::Definition(uint32_t function_id) const {
  auto it = impl_->functions.find(function_id);
  return it == impl_->functions.end() ? nullptr : &it->second.def;
}

Status PythonRuntime::Run(uint32_t function_id, const BatchView& in, BatchBuilder* out) {
  auto it = impl_->functions.find(function_id);
  if (it == impl_->functions.end()) {
    return Status::NotFound("function id " + std::to_string(function_id) + " is not loaded in this executor");
  }
  const FunctionDefinition& def = it->second.def;
  const size_t n = in.num_rows();
  try {
    auto [cols, valid] = impl_->Inputs(def, in);
    py::object result = it->second.fn(cols, n, valid);
    return impl_->WriteResult(def, result, n, out);
  } catch (py::error_already_set& e) {
    return impl_->PythonFailure(def.name, e);
  } catch (const std::exception& e) {
    return Status::PythonError("imlane function '" + def.name + "': " + e.what());
  }
  return Status::OK();
}

void PythonRuntime::SetRemoteWake(std::function<void()> wake) { impl_->wake = std::move(wake); }

Status PythonRuntime::ConfigureRay(const std::string& address, const std::string& runtime_dir) {
  try {
    impl_->ray_bridge = py::module_::import("imlane._runtime.ray_bridge");
    impl_->json_dumps = py::module_::import("json").attr("dumps");
    Impl* impl = impl_.get();
    impl_->ray_bridge.attr("configure")(address, runtime_dir, py::cpp_function([impl] {
                                          if (impl->wake) impl->wake();
                                        }));
  } catch (py::error_already_set& e) {
    impl_->ray_bridge = py::none();
    return Status::Unavailable(std::string("cannot start the Ray bridge: ") + e.what());
  }
  return Status::OK();
}

bool PythonRuntime::IsRemote(uint32_t function_id) const {
  auto it = impl_->functions.find(function_id);
  return it != impl_->functions.end() && it->second.remote;
}

Result<uint64_t> PythonRuntime::Submit(uint32_t function_id, const BatchView& in) {
  auto it = impl_->functions.find(function_id);
  if (it == impl_->functions.end() || !it->second.remote) {
    return Status::NotFound("function id " + std::to_string(function_id) + " is not loaded on Ray in this executor");
  }
  try {
    auto [cols, valid] = impl_->Inputs(it->second.def, in);
    return it->second.fn.attr("submit")(cols, in.num_rows(), valid).cast<uint64_t>();
  } catch (py::error_already_set& e) {
    return impl_->PythonFailure(it->second.def.name, e);
  }
}

void PythonRuntime::TakeFinished(std::vector<FinishedRemote>* out) {
  for (auto& [fid, loaded] : impl_->functions) {
    if (!loaded.remote) continue;
    try {
      for (auto token : loaded.fn.attr("take_finished")()) out->push_back({fid, token.cast<uint64_t>()});
    } catch (py::error_already_set& e) {
      Log(LogLevel::kError, "executor", "Ray bridge of '" + loaded.def.name + "': " + e.what());
    }
  }
}

Status PythonRuntime::FinishRemote(uint32_t function_id, uint64_t token, size_t rows, BatchBuilder* out) {
  auto it = impl_->functions.find(function_id);
  if (it == impl_->functions.end()) {
    return Status::NotFound("function id " + std::to_string(function_id) + " was dropped while its batch ran on Ray");
  }
  const FunctionDefinition& def = it->second.def;
  try {
    py::object result = it->second.fn.attr("result")(token);
    return impl_->WriteResult(def, result, rows, out);
  } catch (py::error_already_set& e) {
    return impl_->PythonFailure(def.name, e);
  }
}

std::string PythonRuntime::RemoteStats(uint32_t function_id) const {
  auto it = impl_->functions.find(function_id);
  if (it == impl_->functions.end() || !it->second.remote) return "";
  try {
    return impl_->json_dumps(it->second.fn.attr("stats")()).cast<std::string>();
  } catch (py::error_already_set&) {
    return "";  // statistics only
  }
}

ContextCacheStats PythonRuntime::CacheStats(uint32_t function_id) const {
  ContextCacheStats out;
  auto it = impl_->functions.find(function_id);
  if (it == impl_->functions.end()) return out;
  try {
    py::tuple s = impl_->runtime.attr("context_cache_stats")(it->second.def.name);
    out.hits = s[0].cast<uint64_t>();
    out.misses = s[1].cast<uint64_t>();
    out.bytes = s[2].cast<uint64_t>();
    out.saved_s = s[3].cast<double>();
  } catch (py::error_already_set&) {
    // Statistics only: a failure here must not fail the stats call.
  }
  return out;
}

Result<int> PythonRuntime::ResetCache(const std::string& name) {
  try {
    return impl_->runtime.attr("reset_context_cache")(name).cast<int>();
  } catch (py::error_already_set& e) {
    return Status::PythonError(std::string("resetting the context cache: ") + e.what());
  }
}

PythonRuntime::AcquireGil::AcquireGil() : state_(static_cast<int>(PyGILState_Ensure())) {}
PythonRuntime::AcquireGil::~AcquireGil() { PyGILState_Release(static_cast<PyGILState_STATE>(state_)); }

PythonRuntime::ReleaseGil::ReleaseGil() : state_(PyEval_SaveThread()) {}
PythonRuntime::ReleaseGil::~ReleaseGil() { PyEval_RestoreThread(static_cast<PyThreadState*>(state_)); }

}  // namespace imlane
