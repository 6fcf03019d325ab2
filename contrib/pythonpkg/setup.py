"""Installs the imlane package; `pip install --no-build-isolation .` works without network."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.join(HERE, "..", "..", "src", "executor", "python", "imlane_executor_runtime.py")


class BuildWithRuntime(build_py):
    """Ships the executor's runtime inside the package, so run_local checks exactly as executors do."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "imlane", "_executor_runtime.py")
        shutil.copyfile(RUNTIME, target)


setup(
    name="imlane",
    version="0.1.0",
    description="Write and locally test AI functions for IMLane (Python UDFs run by database engines)",
    packages=["imlane"],
    python_requires=">=3.9",
    install_requires=["numpy"],
    cmdclass={"build_py": BuildWithRuntime},
)
