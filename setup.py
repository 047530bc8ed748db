"""Build the Cython kernels, once per instruction set, with OpenMP when available.

``src/leakyrelu/_kernels.pyx.tp`` is rendered to ``_kernels_<isa>.pyx`` for
each instruction set the target architecture has (baseline everywhere; AVX2
and AVX-512 on x86-64), and each copy is compiled with that set's flags. The
package picks one at import time, so a wheel stays portable without
``-march=native``.

Environment:
    LEAKYRELU_DISABLE_OPENMP=1   build serial kernels even if OpenMP works.
"""
import os
import platform
import shlex
import shutil
import sys
import tempfile

import numpy
from Cython import Tempita
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PACKAGE_DIR = os.path.join("src", "leakyrelu")
TEMPLATE = os.path.join(PACKAGE_DIR, "_kernels.pyx.tp")
SERIAL_THRESHOLD_BYTES = 393216  # bytes moved at the crossover of 1 and 2 threads: docs/performance.md

# Flags that let GCC/Clang turn the selects of the kernels into vector blends
# without changing any result: no FP traps and no errno are ever observed.
# No contraction of a*b+c into FMA behind our back: results (rrelu's slopes
# among them) must not depend on the instruction set; _vexp.h asks for FMA
# explicitly where it is only a matter of speed.
UNIX_FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=off"]
DEBUG_INFO = os.environ.get("LEAKYRELU_DEBUG_INFO", "") not in ("", "0")
UNIX_ISA_FLAGS = {
    "baseline": [],
    "avx2": ["-mavx2", "-mfma", "-mf16c"],
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma",
               "-mf16c", "-mprefer-vector-width=512"],
}
MSVC_FLAGS = ["/O2", "/fp:precise"]
MSVC_ISA_FLAGS = {"baseline": [], "avx2": ["/arch:AVX2"], "avx512": ["/arch:AVX512"]}

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def instruction_sets():
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "x64"):
        return ["baseline", "avx2", "avx512"]
    return ["baseline"]


def render_kernels():
    with open(TEMPLATE) as f:
        template = f.read()
    sources = {}
    for isa in instruction_sets():
        path = os.path.join(PACKAGE_DIR, f"_kernels_{isa}.pyx")
        text = Tempita.sub(template, isa=isa, serial_threshold_bytes=SERIAL_THRESHOLD_BYTES)
        text = f"# Rendered by setup.py from _kernels.pyx.tp; edit the template.\n{text}"
        if not os.path.exists(path) or open(path).read() != text:
            with open(path, "w") as f:
                f.write(text)
        sources[isa] = path
    return sources


def openmp_flags(compiler):
    """Compile and link flags that give working OpenMP, or None."""
    if os.environ.get("LEAKYRELU_DISABLE_OPENMP", "") not in ("", "0"):
        return None
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    tmp = tempfile.mkdtemp()
    try:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as f:
            f.write(OPENMP_PROBE)
        # The user's flags too: they may say where libomp lives (macOS, brew).
        user_compile = shlex.split(os.environ.get("CFLAGS", "") + " " + os.environ.get("CPPFLAGS", ""))
        user_link = shlex.split(os.environ.get("LDFLAGS", ""))
        for compile_args, link_args in candidates:
            try:
                objects = compiler.compile([source], output_dir=tmp,
                                           extra_postargs=user_compile + compile_args)
                compiler.link_executable(objects, "probe", output_dir=tmp,
                                         extra_postargs=user_link + link_args)
            except Exception:
                continue
            return compile_args, link_args
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        openmp = openmp_flags(self.compiler)
        print(f"leakyrelu: OpenMP {'enabled' if openmp else 'disabled'}")
        for ext in self.extensions:
            isa = ext.name.rsplit("_", 1)[-1]
            isa_flags = (MSVC_ISA_FLAGS if msvc else UNIX_ISA_FLAGS).get(isa, [])
            ext.extra_compile_args = (MSVC_FLAGS if msvc else UNIX_FLAGS) + isa_flags
            if not msvc and not DEBUG_INFO:
                # No debug info in wheels (it triples their size); the sanitizer and
                # valgrind scripts ask for it with LEAKYRELU_DEBUG_INFO=1.
                ext.extra_compile_args.append("-g0")
            ext.extra_link_args = []
            if openmp:
                ext.extra_compile_args += openmp[0]
                ext.extra_link_args += openmp[1]
        super().build_extensions()


extensions = [
    Extension(f"leakyrelu._kernels_{isa}", [path], include_dirs=[PACKAGE_DIR, numpy.get_include()],
              # NumPy 2.0's C API in full (PyDataMem_SetHandler among it), whatever
              # NumPy builds it: older headers default to less.
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION"),
                             ("NPY_TARGET_VERSION", "NPY_2_0_API_VERSION")])
    for isa, path in render_kernels().items()
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
