"""Executors import a virtualenv's packages (imlane serve --python-env, SET imlane_python_env).

Run with the project venv's python and IMLANE_BUILD_DIR set (ctest executor_python_env). LightGBM is
in the venv only (requirements/models.txt), never in Debian's dist-packages, so a function importing
it tells which packages its executor sees. Every test runs its own coordinator on its own socket.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

BUILD = os.environ.get("IMLANE_BUILD_DIR", "")
IMLANE = os.path.join(BUILD, "bin", "imlane")
VENV = os.path.realpath(sys.prefix)
UDF = """
import numpy as np
def pyfun(x):
    import lightgbm
    return np.full(len(x), float(lightgbm.__version__.split(".")[0]))
"""

pytestmark = pytest.mark.skipif(not os.path.exists(IMLANE), reason="IMLANE_BUILD_DIR/bin/imlane not built")


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="imlane-pyenv-", dir="/tmp")  # short: a socket path has ~100 bytes
    yield d
    subprocess.run([IMLANE, "stop", "--socket", os.path.join(d, "s.sock")], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


def serve(sock, *extra, wait=True):
    proc = subprocess.Popen([IMLANE, "serve", "--socket", sock, "--executors", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        for _ in range(300):
            if os.path.exists(sock):
                break
            if proc.poll() is not None:
                raise AssertionError(f"imlane serve exited: {proc.stderr.read()}")
            subprocess.run(["sleep", "0.05"])
    return proc


def connect(sock, **settings):
    import imlane

    return imlane.connect(socket=sock, executors=1, **settings)


def test_the_project_venv_is_a_venv_of_the_embedded_python():
    assert sys.prefix != sys.base_prefix and os.path.realpath(sys.base_prefix) == "/usr"


@pytest.mark.parametrize("make, message", [
    (lambda d: os.path.join(d, "missing"), "does not exist"),
    (lambda d: d, "is not a virtualenv (no pyvenv.cfg)"),
    (lambda d: _fake_venv(d, "3.12.1"), "is a virtualenv of Python 3.12.1, but executors embed Python 3.11"),
    (lambda d: _fake_venv(d, "3.1"), "is a virtualenv of Python 3.1, but executors embed Python 3.11"),
    (lambda d: _fake_venv(d, None), "of unknown version"),
])
def test_serve_refuses_what_cannot_serve_as_python_env(workdir, make, message):
    sock = os.path.join(workdir, "s.sock")
    proc = serve(sock, "--python-env", make(workdir), wait=False)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and message in err, err
    assert not os.path.exists(sock)


def _fake_venv(d, version):
    root = os.path.join(d, "venv")
    os.makedirs(os.path.join(root, "bin"))
    with open(os.path.join(root, "pyvenv.cfg"), "w") as f:
        f.write("home = /usr/bin\ninclude-system-site-packages = true\n")
        if version:
            f.write(f"version = {version}\n")
    open(os.path.join(root, "bin", "python3"), "w").close()
    return root


def test_executors_of_a_served_venv_import_its_packages(workdir):
    sock = os.path.join(workdir, "s.sock")
    proc = serve(sock, "--python-env", VENV)
    try:
        udf = os.path.join(workdir, "udf.py")
        with open(udf, "w") as f:
            f.write(UDF)
        con = connect(sock, python_env=VENV)
        con.execute(f"CALL imlane_create_function('lgb', '{udf}', 'DOUBLE', 'DOUBLE')")
        assert con.sql("SELECT lgb(range::DOUBLE) FROM range(3)").fetchall() == [(4.0,)] * 3
        status = subprocess.run([IMLANE, "status", "--socket", sock, "--json"], capture_output=True, text=True)
        assert f'"python_env": "{VENV}"' in status.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_embedded_coordinator_takes_the_venv_of_the_python_api_by_default(workdir):
    sock = os.path.join(workdir, "s.sock")
    udf = os.path.join(workdir, "udf.py")
    with open(udf, "w") as f:
        f.write(UDF)
    con = connect(sock)  # no python_env: this interpreter's venv
    con.execute(f"CALL imlane_create_function('lgb', '{udf}', 'DOUBLE', 'DOUBLE')")
    assert con.sql("SELECT lgb(1.0)").fetchall() == [(4.0,)]


def test_without_a_venv_the_executors_see_the_system_packages_only(workdir):
    sock = os.path.join(workdir, "s.sock")
    udf = os.path.join(workdir, "udf.py")
    with open(udf, "w") as f:
        f.write(UDF)
    con = connect(sock, python_env="")
    con.execute(f"CALL imlane_create_function('lgb', '{udf}', 'DOUBLE', 'DOUBLE')")
    with pytest.raises(Exception, match="No module named 'lightgbm'"):
        con.sql("SELECT lgb(1.0)").fetchall()


def test_a_venv_a_running_coordinator_does_not_serve_is_an_error(workdir):
    sock = os.path.join(workdir, "s.sock")
    proc = serve(sock)  # the system Python only
    try:
        con = connect(sock, python_env=VENV)
        with pytest.raises(Exception, match="cannot take effect: the coordinator at .* already runs with the "
                                             "system Python only"):
            con.execute("SELECT * FROM imlane_functions()").fetchall()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_embedded_coordinator_that_cannot_start_fails_fast_with_its_reason(workdir):
    sock = os.path.join(workdir, "s.sock")
    con = connect(sock, python_env=os.path.join(workdir, "nope"))
    with pytest.raises(Exception, match="exited with status 1 before listening"):
        con.execute("SELECT * FROM imlane_functions()").fetchall()
