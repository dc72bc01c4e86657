"""``venvlock verify`` and ``venvlock repair``: is an installed environment whole, and putting it back.

Beside the engine (:mod:`venvlock.core`), for the command line only; it reads
installed distributions through the core's one model
(:mod:`venvlock.core._installed`) and deletes only through its one
containment rule.

* :func:`verify`: what is wrong with an environment, as a :class:`Report` of
  :class:`Problem` (each of a :class:`Kind` and a :class:`Severity`); call it
  under the environment lock.
* :func:`plan_repair`: what ``venvlock repair`` does about a report (a :class:`RepairPlan`).
"""

from __future__ import annotations

from venvlock.audit._problems import Kind, Problem, Report, Severity
from venvlock.audit._repair import RepairPlan, plan_repair
from venvlock.audit._verify import verify_environment as verify

__all__ = ["Kind", "Problem", "RepairPlan", "Report", "Severity", "plan_repair", "verify"]
