#include "imlane/common/system.h"

#include <dlfcn.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

namespace imlane {

std::string DefaultSocketPath() {
  if (const char* env = std::getenv("IMLANE_SOCKET"); env != nullptr && *env) return env;
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg) {
    return std::string(xdg) + "/imlane/imlane.sock";
  }
  return "/tmp/imlane-" + std::to_string(getuid()) + "/imlane.sock";
}

Status PrepareSocketDirectory(const std::string& socket_path) {
  size_t slash = socket_path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status::OK();
  std::string dir = socket_path.substr(0, slash);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno("mkdir " + dir, errno);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return Status::FromErrno("stat " + dir, errno);
  if (st.st_uid != getuid()) {
    return Status::InvalidArgument("socket directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
                                   ", not to this user");
  }
  if ((st.st_mode & 077) != 0 && dir.rfind("/tmp/imlane-", 0) == 0) {
    // Our own default directory must not be open to others; tighten it.
    chmod(dir.c_str(), 0700);
  }
  return Status::OK();
}

int UsableCores() {
  cpu_set_t set;
  int cores = 1;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (f >> quota >> period && quota != "max") {
    double q = std::atof(quota.c_str()), p = std::atof(period.c_str());
    if (q > 0 && p > 0) {
      int limit = static_cast<int>((q + p - 1) / p);
      if (limit >= 1 && limit < cores) cores = limit;
    }
  }
  return cores < 1 ? 1 : cores;
}

std::string ExecutableDirectory() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

std::string ModuleDirectory(const void* symbol_in_module) {
  Dl_info info;
  if (dladdr(symbol_in_module, &info) == 0 || info.dli_fname == nullptr) return ExecutableDirectory();
  char resolved[4096];
  std::string p = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? ExecutableDirectory() : p.substr(0, slash);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace imlane
