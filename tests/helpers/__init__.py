"""Builders and runners shared by the test modules and the benchmarks (never imported from a test module's file).

* :mod:`helpers.wheel_writer`: the one wheel writer (METADATA, WHEEL, hashed
  RECORD); standard library only, copied beside the build backends of the
  projects the tests generate.
* :mod:`helpers.processes`: waiting for a process's stderr line, killing a
  process group, failures of a batch of results.
* :mod:`helpers.hatch_project`, :mod:`helpers.nox_project`,
  :mod:`helpers.tox_project`: one test project per tool and ways to run it.

``tests/support.py`` holds the rest: wheels and wheelhouses, real venvs, the
offline environment, the install probe, the gated and editable projects.
``tests/conftest.py`` holds only fixtures and the guard that fails the run when
a test changed the interpreter running pytest.
"""
