"""Per-function process state (imlane._runtime.process_state): what one function changes in the process
(cwd, environment, sys.path, signal handlers) stays with that function, without processes."""
import os
import signal
import subprocess
import sys

import numpy as np

from imlane import _runtime as rt


def run(fn):
    (values, _), = fn([np.array([0.0])], 1)
    return values[0]


def load(name, src):
    return rt.load(name, src, f"<{name}>", "", [rt.DOUBLE], [rt.VARCHAR])


PROBE = ("import os, sys, signal\n"
         "def pyfun(x):\n"
         "    h = signal.getsignal(signal.SIGUSR2)\n"
         "    return ['|'.join([os.getcwd(), os.environ.get('IMLANE_PS', '-'), str('/ps/path' in sys.path),\n"
         "                      'default' if h == signal.SIG_DFL else 'changed'])] * len(x)\n")


def test_each_kind_of_change_in_a_batch_stays_with_its_function(tmp_path):
    probe = load("probe", PROBE)
    clean = run(probe)
    assert clean == f"{os.getcwd()}|-|False|default"
    changes = {
        "cwd": f"os.chdir({str(tmp_path)!r})",
        "environ": "os.environ['IMLANE_PS'] = 'x'",
        "environ_del": "os.environ.pop('HOME', None)",
        "sys_path": "sys.path.insert(0, '/ps/path')",
        "signal": "signal.signal(signal.SIGUSR2, signal.SIG_IGN)",
    }
    home = os.environ.get("HOME")
    for kind, change in changes.items():
        fn = load(kind, f"import os, sys, signal\ndef pyfun(x):\n    {change}\n    return ['ok'] * len(x)\n")
        assert run(fn) == "ok"
        assert run(probe) == clean, kind
        # ... and in this process (the executor's state, or run_local's caller's).
        assert os.environ.get("IMLANE_PS") is None and "/ps/path" not in sys.path
        assert os.environ.get("HOME") == home
        assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL


def test_changes_at_load_persist_for_the_function_itself(tmp_path):
    fn = load("c", "import os, sys\n"
                   f"os.chdir({str(tmp_path)!r})\n"
                   "os.environ['IMLANE_PS'] = 'c'\n"
                   "def pyfun(x):\n"
                   "    return ['|'.join([os.getcwd(), os.environ['IMLANE_PS']])] * len(x)\n")
    probe = load("probe", PROBE)
    for _ in range(2):
        assert run(fn) == f"{tmp_path}|c"
        assert run(probe).startswith(f"{os.getcwd()}|-|")
    assert os.getcwd() != str(tmp_path)


def test_children_see_the_functions_environment():
    setter = load("setter", "import os\ndef pyfun(x):\n    os.environ['IMLANE_PS'] = 'mine'\n    return ['ok'] * len(x)\n")
    child = load("child", "import os, subprocess\n"
                          "def pyfun(x):\n"
                          "    out = subprocess.run(['sh', '-c', 'echo ${IMLANE_PS:--}'], capture_output=True, text=True)\n"
                          "    return [out.stdout.strip()] * len(x)\n")
    run(setter)
    assert run(child) == "-"
    out = subprocess.run(["sh", "-c", "echo ${IMLANE_PS:--}"], capture_output=True, text=True)
    assert out.stdout.strip() == "-"


def test_a_failing_batch_still_restores_the_state(tmp_path):
    fn = load("bad", f"import os\ndef pyfun(x):\n    os.chdir({str(tmp_path)!r})\n    raise ValueError('no')\n")
    before = os.getcwd()
    try:
        run(fn)
    except ValueError:
        pass
    assert os.getcwd() == before


def test_modules_stay_shared_as_documented():
    a = load("a", "import json\ndef pyfun(x):\n    json.imlane_ps_marker = 1\n    return ['ok'] * len(x)\n")
    b = load("b", "import json\ndef pyfun(x):\n    return [str(getattr(json, 'imlane_ps_marker', 0))] * len(x)\n")
    run(a)
    assert run(b) == "1"
