"""The C extension; everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tracer_otlp_scan._scan",
            sources=["src/tracer_otlp_scan/_scan.c"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
            # Without a C compiler the package installs without it: OTLP/protobuf bodies are
            # then decoded by the protobuf runtime (slower), and the processor says so.
            optional=True,
        )
    ]
)
