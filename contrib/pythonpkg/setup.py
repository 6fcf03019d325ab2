"""Installs the imlane package; `pip install --no-build-isolation .` works without network."""
from setuptools import setup

setup(
    name="imlane",
    version="0.1.0",
    description="Write and locally test AI functions for IMLane (Python UDFs run by database engines)",
    # imlane._runtime is the executor's own runtime, so run_local checks exactly as executors do.
    packages=["imlane", "imlane._runtime"],
    python_requires=">=3.9",
    install_requires=["numpy"],
)
