"""Build hook for racelane's optional C accelerators; everything else is in pyproject.toml.

``tracer.record._speedups`` is the span hot path in C, and
``tracer.analysis._scanrows`` reads the rows of ``spans`` lines in C. Both are
optional: when no C compiler is available the build goes on without them and
racelane runs its pure-Python hot path (tracer/record/core.py) and its numpy
row reader (tracer/analysis/_scan.py), which behave the same.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tracer.record._speedups",
            ["tracer/record/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        Extension(
            "tracer.analysis._scanrows",
            ["tracer/analysis/_scanrows.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ]
)
