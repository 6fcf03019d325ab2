// Small facts about the running system and process: paths, cores, logging.
#pragma once

#include <string>

#include "imlane/status.h"

namespace imlane {

// Default coordinator socket: $IMLANE_SOCKET, else $XDG_RUNTIME_DIR/imlane/imlane.sock, else
// /tmp/imlane-<uid>/imlane.sock.
std::string DefaultSocketPath();
// Creates the socket's directory with mode 0700 if missing; refuses one owned by another user or
// open to others.
Status PrepareSocketDirectory(const std::string& socket_path);
// Cores this process may use: the affinity mask, capped by the cgroup v2 cpu.max quota.
int UsableCores();
// Directory holding the running executable (/proc/self/exe).
std::string ExecutableDirectory();
// Directory holding the shared object or executable that contains `symbol_in_module`.
std::string ModuleDirectory(const void* symbol_in_module);
bool FileExists(const std::string& path);
Result<std::string> ReadFile(const std::string& path);

}  // namespace imlane
