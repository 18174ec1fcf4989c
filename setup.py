"""Build tinyvision: the Python package plus the native kernels in kernels/.

The top-level kernels/ folder is installed as the subpackage tinyvision.kernels, and each
kernels/<op>/<op>.pyx is compiled into the extension module tinyvision.kernels.<op>._cython.
Metadata and dependencies are in pyproject.toml.

    pip install -e .      # editable: Python edits show at once, the .so is built in place
    pip install .         # a normal install into site-packages

NOTE: an editable install does not rebuild a .pyx you edit.  Run `pip install -e .` again
after changing one; until then tinyvision.kernels.status() reports that Cython build as
stale and the dispatcher does not use it.
"""
import glob
import os
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError, LinkError

CYTHON_DIRECTIVES = {"language_level": 3, "boundscheck": False, "wraparound": False,
                     "cdivision": True, "initializedcheck": False}


def kernel_extensions():
    """One extension per kernels/<op>/<op>.pyx, named tinyvision.kernels.<op>._cython."""
    extensions = []
    for pyx in sorted(glob.glob(os.path.join("kernels", "*", "*.pyx"))):
        op = os.path.basename(os.path.dirname(pyx))
        # No -march=native: a build must not crash on an older CPU than the one it was made on.
        extensions.append(Extension(f"tinyvision.kernels.{op}._cython", [pyx],
                                    include_dirs=[np.get_include()],
                                    extra_compile_args=["-O3"]))
    return cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES)


class BuildExtWithOpenMP(build_ext):
    """Compile with -fopenmp where the compiler can, so prange loops run in parallel.

    Elsewhere (e.g. Apple clang without libomp) the kernels build without it and their
    prange loops run serially: same results, one core.
    """

    def build_extensions(self):
        if self._compiler_has_openmp():
            for ext in self.extensions:
                ext.extra_compile_args.append("-fopenmp")
                ext.extra_link_args.append("-fopenmp")
        super().build_extensions()

    def _compiler_has_openmp(self):
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "probe.c")
            with open(source, "w") as f:
                f.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
            try:
                objects = self.compiler.compile([source], output_dir=tmp,
                                                extra_postargs=["-fopenmp"])
                self.compiler.link_executable(objects, os.path.join(tmp, "probe"),
                                              extra_postargs=["-fopenmp"])
            except (CompileError, LinkError):
                return False
        return True


# tinyvision.kernels and its subpackages come from kernels/, the rest from tinyvision/.
KERNEL_PACKAGES = ["tinyvision.kernels"] + [
    "tinyvision.kernels." + name for name in find_packages("kernels")]

setup(
    packages=find_packages(include=["tinyvision", "tinyvision.*"]) + KERNEL_PACKAGES,
    package_dir={"tinyvision.kernels": "kernels"},
    exclude_package_data={"": ["*.c"]},  # Cython's generated C: a build input, not a package file
    ext_modules=kernel_extensions(),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
