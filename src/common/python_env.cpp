#include "imlane/common/python_env.h"

#include <limits.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "imlane/common/system.h"

namespace imlane {

const char* EmbeddedPythonVersion() { return IMLANE_PYTHON_VERSION; }

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

Result<PythonEnv> CheckPythonEnv(const std::string& dir) {
  char resolved[PATH_MAX];
  if (dir.empty() || realpath(dir.c_str(), resolved) == nullptr) {
    return Status::InvalidArgument("python env '" + dir + "' does not exist");
  }
  const std::string root = resolved;
  std::ifstream cfg(root + "/pyvenv.cfg");
  if (!cfg) {
    return Status::InvalidArgument("python env '" + root + "' is not a virtualenv (no pyvenv.cfg); make one with `" +
                                   std::string(IMLANE_PYTHON_EXECUTABLE) + " -m venv --system-site-packages DIR`");
  }
  std::string line, version;
  while (std::getline(cfg, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(line.substr(0, eq));
    if (key == "version" || key == "version_info") version = Trim(line.substr(eq + 1));
  }
  const std::string want = IMLANE_PYTHON_VERSION;
  // "3.11.2" matches "3.11"; "3.1" or "3.110" must not.
  if (version.compare(0, want.size(), want) != 0 || (version.size() > want.size() && version[want.size()] != '.')) {
    return Status::InvalidArgument("python env '" + root + "' is a virtualenv of Python " +
                                   (version.empty() ? std::string("of unknown version") : version) +
                                   ", but executors embed Python " + want + " (" + IMLANE_PYTHON_EXECUTABLE +
                                   "): make the venv with `" + IMLANE_PYTHON_EXECUTABLE + " -m venv`");
  }
  const std::string program = root + "/bin/python3";
  if (!FileExists(program)) {
    return Status::InvalidArgument("python env '" + root + "' has no bin/python3");
  }
  return PythonEnv{root, program};
}

}  // namespace imlane
