// A virtualenv whose packages the executors' embedded Python imports (imlane serve --python-env).
#pragma once

#include <string>

#include "imlane/status.h"

namespace imlane {

// A checked virtualenv: its resolved root and the program name the embedded interpreter takes.
struct PythonEnv {
  std::string root;     // realpath of the venv directory (what sys.prefix becomes)
  std::string program;  // root + "/bin/python3"
};

// Checks that dir is a virtualenv of the Python the executors embed (same major.minor), made by
// `python3 -m venv`: its pyvenv.cfg names the version, and bin/python3 is the program name the
// embedded interpreter takes to find the venv's site-packages. Returns its root and that program. A venv of
// another Python version is refused here: its site-packages hold extension modules built for another
// ABI, and its `home` would hand the interpreter another standard library.
Result<PythonEnv> CheckPythonEnv(const std::string& dir);

// The major.minor version of the embedded Python, e.g. "3.11".
const char* EmbeddedPythonVersion();

}  // namespace imlane
