"""Build hook for racelane's optional C accelerator; everything else is in pyproject.toml.

``tracer.record._speedups`` is the span hot path in C. It is optional: when
no C compiler is available the build goes on without it and racelane runs
its pure-Python hot path (tracer/record/core.py), which behaves the same.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tracer.record._speedups",
            ["tracer/record/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
