"""The project venv (.venv, made by install_deps.sh) is one consistent set of packages.

PyPI packages sit on top of Debian's scientific stack (--system-site-packages), so a wheel that pulled
its own numpy would shadow Debian's and break scikit-learn, scipy and torch. Run with the venv's python.
"""
import importlib
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REQUIREMENTS = os.path.join(REPO, "requirements")
# Distribution name -> import name, where they differ.
IMPORT_NAMES = {"scikit-surprise": "surprise", "scikit-learn": "sklearn", "protobuf": "google.protobuf", "rpds-py": "rpds"}
DEBIAN_STACK = ["numpy", "pandas", "scipy", "sklearn", "xgboost", "torch", "statsmodels", "cloudpickle"]


def _pinned():
    pins = []
    for name in sorted(os.listdir(REQUIREMENTS)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(REQUIREMENTS, name)) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    pins.append((name, line))
    return pins


def test_runs_in_the_project_venv():
    assert sys.prefix == os.path.join(REPO, ".venv"), f"run by {sys.executable}, not the project venv"


def test_every_requirement_is_pinned_exactly():
    for name, line in _pinned():
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.\-+]+", line), f"{name}: '{line}' is not pinned with =="


def test_pip_check_finds_no_broken_requirement():
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("pin", [p for _, p in _pinned()])
def test_every_pinned_package_imports_at_its_pinned_version(pin):
    from importlib.metadata import version

    dist, wanted = pin.split("==")
    dist = re.sub(r"\[.*\]", "", dist)
    assert version(dist) == wanted
    importlib.import_module(IMPORT_NAMES.get(dist, dist.replace("-", "_")))


@pytest.mark.parametrize("module", DEBIAN_STACK)
def test_the_debian_scientific_stack_is_the_one_imported(module):
    m = importlib.import_module(module)
    assert m.__file__.startswith("/usr/lib/python3/dist-packages/"), f"{module} comes from {m.__file__}"
