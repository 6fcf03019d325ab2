"""Installs the imlane package; `pip install --no-build-isolation .` works without network.

Installed from a source checkout, the package records that checkout's build tree (or
$IMLANE_BUILD_DIR) in imlane/_build_tree.py, so imlane.connect() finds imlane.duckdb_extension and
the coordinator there without extension= or $IMLANE_EXTENSION.
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class build_py_with_build_tree(build_py):
    def run(self):
        super().run()
        tree = os.environ.get("IMLANE_BUILD_DIR") or os.path.join(HERE, "..", "..", "build")
        target = os.path.join(self.build_lib, "imlane", "_build_tree.py")
        with open(target, "w") as f:
            f.write('"""Written by setup.py: the build tree of the checkout this copy was installed from."""\n')
            f.write(f"BUILD_TREE = {os.path.abspath(tree)!r}\n")


setup(
    name="imlane",
    version="0.1.0",
    description="Write and locally test AI functions for IMLane (Python UDFs run by database engines)",
    # imlane._runtime is the executor's own runtime, so run_local checks exactly as executors do.
    packages=["imlane", "imlane._runtime"],
    python_requires=">=3.9",
    install_requires=["numpy"],
    cmdclass={"build_py": build_py_with_build_tree},
)
