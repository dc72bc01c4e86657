"""venvlock for nox: concurrent sessions that never clobber their venv, and installs skipped when satisfied.

In a noxfile, replace ``nox.session`` with this module's :func:`session`::

    from venvlock.plugins.nox import session

    @session(python=["3.12", "3.13"])
    def tests(session):
        session.install("-r", "requirements-test.txt")
        session.run("pytest")

or protect every session of the noxfile at once with :func:`protect_all`.

Importing this module patches nox's ``SessionRunner.execute`` once (see
:mod:`venvlock.plugins.nox._patch`); sessions that did not ask for protection
are not touched.  Covered backends: ``virtualenv``, ``venv``, ``uv``.
"""

from __future__ import annotations

from venvlock.plugins.nox._patch import apply_patch
from venvlock.plugins.nox._state import VenvlockNoxWarning, protect_all
from venvlock.plugins.nox.proxy import Session, protect, session

__all__ = ["Session", "VenvlockNoxWarning", "apply_patch", "protect", "protect_all", "session"]

apply_patch()
