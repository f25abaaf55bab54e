"""The C extensions; everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup


def _extension(name: str) -> Extension:
    return Extension(
        f"tracer_scan._{name}",
        sources=[f"src/tracer_scan/_{name}.c"],
        extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
        # Without a C compiler the package installs without them: each scanner's Python
        # module then hands its work to the pure-Python path (slower), and the processor
        # says so when it starts.
        optional=True,
    )


setup(ext_modules=[_extension("otlp"), _extension("records")])
