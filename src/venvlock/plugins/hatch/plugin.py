# mypy: disable-error-code="no-untyped-call"
# (hatch ships py.typed but leaves most of its environment interface unannotated)
"""The hatch environment type ``venvlock`` and the collector that selects it.

:class:`VenvlockEnvironment` is hatch's ``virtual`` type (every option keeps
working) whose preparation is one critical section.  Hatch prepares an
environment in ``Project.prepare_environment``: existence check, creation,
pre-install commands, project install, post-install commands, dependency
check, sync, and the write of its dependency-hash metadata.  That function
belongs to hatch's project, not to the environment, and the metadata write is
its last step, after the last call into the environment; so the environment
wraps it, once per project object, for environments of this type only:

1. *Fast path*, no lock and no import of venvlock's core: the folder is there,
   no ``.<name>.incomplete`` marker lies beside it, and the stored dependency
   hash equals the current one.  Hatch would do nothing else either.
2. Otherwise hatch's own preparation runs under the core's *creation lock*
   (beside the folder), and is released when it returns, before the command.
   Installs inside it also hold the *environment lock* ``<env>/.lock``, so
   ``pip-locked`` and uv on the same folder wait for hatch and hatch for them.

Completeness: ``.<name>.incomplete`` beside the folder is written before a
creation or removal touches the folder and deleted once creation finished
(before the dependency sync, which hatch tracks by its hash).  A folder with
the marker and nobody holding the creation lock is what a killed or failed
preparation left: it does not "exist", and is removed under the lock and
built again (kept, as hatch keeps it, while ``HATCH_KEEP_ENV`` is set).  A
folder without the marker counts as complete, as in hatch, so an existing
``.venv`` made by another tool is adopted, never deleted.

Settings made for type ``virtual`` hold for this type too, unless made for
``venvlock``: the folder ``dirs.env.virtual`` of hatch's configuration and the
``HATCH_ENV_TYPE_VIRTUAL_<OPTION>`` variables.

The dependency check (when the hash differs) is the core's in-process check
(``venvlock_check``): recursive, markers, extras, damage; local projects are
compared by hatch's own ``direct_url.json`` test against the environment's
folders.  Whatever the core cannot judge falls back to hatch's check.

Hatch's methods may also be called outside a preparation (``hatch env
remove``/``prune``, the build environment's extra dependencies, or a hatch
that no longer calls ``prepare_environment``): each step then takes the
creation lock itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hatch.env.collectors.plugin.interface import EnvironmentCollectorInterface
from hatch.env.virtual import VirtualEnvironment

from venvlock.adapter import Adapter, Marker, ToolInstall, VenvlockError, fault_point

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from hatch.dep.core import Dependency

    from venvlock.core import Environment, LockHold, Verdict

#: the name of the environment type and of the collector
PLUGIN_NAME = "venvlock"
#: the attribute marking our wrapper of ``Project.prepare_environment``
_GUARD_ATTRIBUTE = "_venvlock_guard"


class VenvlockEnvironment(VirtualEnvironment):
    """Hatch's ``virtual`` environment, prepared under venvlock's creation lock (see the module docstring)."""

    PLUGIN_NAME = PLUGIN_NAME

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*_with_virtual_data_directory(args), **kwargs)
        self._hold: LockHold | None = None
        self._creating = False
        self._verdict: Verdict | None = None
        guard_preparation(self.app)

    def get_env_var_option(self, option: str) -> str:
        """``HATCH_ENV_TYPE_VENVLOCK_<OPTION>``, else ``HATCH_ENV_TYPE_VIRTUAL_<OPTION>`` (type ``virtual``'s)."""
        from hatch.env.utils import get_env_var_option

        value: str = super().get_env_var_option(option)
        return value or get_env_var_option(plugin_name=VirtualEnvironment.PLUGIN_NAME, option=option)

    # ---------------------------------------------------------------------------------------------
    # the preparation: fast path, else hatch's own under the creation lock
    # ---------------------------------------------------------------------------------------------
    def prepare(self, original: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run hatch's *original* ``prepare_environment`` for this environment as one critical section."""
        if self._fast_path():
            return
        keep_env = bool(kwargs.get("keep_env", False))
        with self._reporting(), self._critical_section():
            try:
                original(self, *args, **kwargs)
            except BaseException:  # SystemExit too: a failing pre-install command aborts hatch
                if self._creating:
                    self._creating = False
                    if not keep_env:
                        self._discard()
                raise
            if self._creating:
                self._finish_creation()

    def _fast_path(self) -> bool:
        """Whether the environment is complete and in sync by hatch's own record: nothing to do, no lock."""
        if self.locked or not self._complete():
            return False
        with self.app_status_dependency_state_check():
            new_hash = self.dependency_hash()
        try:
            current_hash = self.app.project.env_metadata.dependency_hash(self)
        except (OSError, ValueError):  # being rewritten in place by a locked preparation: look under the lock
            return False
        return bool(new_hash) and new_hash == current_hash

    @contextmanager
    def _critical_section(self) -> Iterator[LockHold | None]:
        """Hold the creation lock of this environment while inside (re-entrant on this object).

        The usual wait (``VENVLOCK_TIMEOUT``): it is held around the preparation only, never a command.
        """
        if self._hold is not None:
            yield self._hold
            return
        with self._adapter.creation_lock(self._core_environment) as hold:
            self._hold = hold
            try:
                yield hold
            finally:
                self._hold = None

    @contextmanager
    def _environment_lock(self, *, lend_to_uv: bool = True) -> Iterator[None]:
        """Hold the environment lock; while hatch's uv runs inside, ``<env>/.lock`` is lent to uv (it takes it)."""
        with self._adapter.environment_lock(self._core_environment) as hold:
            if hold is not None and lend_to_uv and self._uses_uv:
                with hold.lend():
                    yield
            else:
                yield

    @contextmanager
    def _reporting(self) -> Iterator[None]:
        """Report venvlock's errors (lock timeout, settings, an unlockable lock) the way hatch reports errors."""
        try:
            yield
        except VenvlockError as error:
            self.app.abort(f"venvlock: {error}")

    @cached_property
    def _adapter(self) -> Adapter:
        """hatch's way into venvlock; waiting processes name this holder by the hatch command line."""
        return Adapter("hatch", quiet=bool(self.verbosity < 0))

    @cached_property
    def _core_environment(self) -> Environment:
        return Adapter.environment(str(self.virtual_env_path))

    @property
    def _uses_uv(self) -> bool:
        """Whether hatch installs with uv (``installer = "uv"``), which takes ``<env>/.lock`` itself."""
        return bool(getattr(self, "use_uv", False))

    # ---------------------------------------------------------------------------------------------
    # completeness
    # ---------------------------------------------------------------------------------------------
    @cached_property
    def _incomplete(self) -> Marker:
        """``.<name>.incomplete`` beside the folder: a creation or removal has started and not finished."""
        return Marker.incomplete(str(self.virtual_env_path), tool="hatch")

    def _complete(self) -> bool:
        return os.path.isdir(self.virtual_env_path) and not self._incomplete.present()

    def _mark_incomplete(self) -> None:
        """Write the marker (the tool's name, no command line); a write error ends hatch in one line."""
        try:
            self._incomplete.set()
        except VenvlockError as error:
            self.app.abort(f"venvlock: {error}; environment `{self.name}` left as it was")

    def _finish_creation(self) -> None:
        self._creating = False
        self._incomplete.clear()

    def _remove_folder(self, remove: Callable[[], Any]) -> None:
        """Delete the folder with *remove* holding the environment lock too: no installer (uv, pip-locked) is in it.

        A removal that fails (a linked ``path``, a file it may not delete) ends hatch in one line.
        """
        if not os.path.isdir(self.virtual_env_path):
            self._remove_or_abort(remove)
            return
        with self._environment_lock(lend_to_uv=False):
            self._remove_or_abort(remove)

    def _remove_or_abort(self, remove: Callable[[], Any]) -> None:
        """Run *remove*; an error of the file system ends hatch in one line (lock errors are reported as such)."""
        try:
            remove()
        except OSError as error:
            path = self.virtual_env_path
            message = f"venvlock: cannot remove environment `{self.name}` at {path}: {error}"
            if os.path.islink(path):
                message += (
                    f"; hatch does not remove a `path` that is a symbolic link: "
                    f"remove what it points to ({os.path.realpath(path)}) by hand"
                )
            self.app.abort(message)

    def _discard(self) -> None:
        """Remove the folder, creation lock held; marked incomplete first, so that a kill midway shows.

        A ``path`` that is a symbolic link is not marked: hatch's removal
        refuses a link before deleting anything (``shutil.rmtree``), and a
        marker left by that refusal would make the intact environment count as
        half-built for every later run.
        """
        self._creating = False
        linked = os.path.islink(self.virtual_env_path)
        if not linked:
            self._mark_incomplete()
        self._remove_folder(lambda: VirtualEnvironment.remove(self))
        if not linked:
            self._incomplete.clear()

    # ---------------------------------------------------------------------------------------------
    # hatch's environment interface
    # ---------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the environment exists *and its creation completed*.

        A folder marked incomplete is being built by another process (wait for
        it, then look again), is being built by an ancestor process that holds
        the lock (it exists for us), or was left by a killed or failed
        preparation (removed here, under the lock; it does not exist).
        """
        if not self.virtual_env.exists():
            return False
        if not self._incomplete.present() or self._creating:
            return True
        if self._hold is not None:  # inside our preparation
            return self._leftover_exists(self._hold)
        with self._reporting(), self._critical_section() as hold:
            if not self._incomplete.present():
                return bool(self.virtual_env.exists())
            return self._leftover_exists(hold)

    def _leftover_exists(self, hold: LockHold | None) -> bool:
        """Whether a folder marked incomplete exists for us, creation lock held; if not, it is removed.

        It exists while an ancestor process builds it (the lock is nested),
        and while ``HATCH_KEEP_ENV`` is set: hatch's "never remove environments
        on failure" keeps it to look into, as type ``virtual`` does; the marker
        stays, so it is built again once the setting is gone.
        """
        from hatch.config.constants import AppEnvVars

        if (hold is not None and hold.nested) or os.environ.get(AppEnvVars.KEEP_ENV):
            return True
        self._discard()
        return False

    def create(self) -> None:
        with self._reporting(), self._critical_section():
            leftover = self.virtual_env.exists() and self._incomplete.present()
            self._mark_incomplete()
            self._creating = True
            if leftover:
                self._remove_folder(self.virtual_env.remove)
            super().create()
            fault_point("create", errors=True)  # test-only: the folder is there, still marked half-built

    def remove(self) -> None:
        """Remove the environment; waits for a preparation in progress (``hatch env remove``/``prune``)."""
        with self._reporting(), self._critical_section():
            self._discard()

    @contextmanager
    def app_status_dependency_state_check(self) -> Iterator[None]:
        # the first call after hatch's creation steps: the creation is complete
        if self._creating:
            self._finish_creation()
        with super().app_status_dependency_state_check():
            yield

    def install_project(self) -> None:
        with self._reporting(), self._critical_section(), self._environment_lock():
            super().install_project()

    def install_project_dev_mode(self) -> None:
        with self._reporting(), self._critical_section(), self._environment_lock():
            super().install_project_dev_mode()

    def dependencies_in_sync(self) -> bool:
        """The core's in-process check, with hatch's own check for what the core cannot judge."""
        in_sync = self._judge()
        if in_sync is None:
            return bool(super().dependencies_in_sync())
        return in_sync

    @cached_property
    def missing_dependencies(self) -> list[Dependency]:
        """What hatch's sync installs: the whole set when the core found it out of sync, else hatch's list.

        The core's check walks every dependency's own dependencies; hatch's
        looks at the named ones only, so when the core found a lack deeper
        down, the installer gets the whole set to resolve (pip and uv skip
        what is already there).  This also spares hatch's list, which starts
        the environment's interpreter.
        """
        if self._verdict is not None and not self._verdict.satisfied:  # judged, install needed
            return list(self.all_dependencies_complex)
        missing: list[Dependency] = self.distributions.missing_dependencies(self.all_dependencies_complex)
        return missing

    def sync_dependencies(self) -> None:
        """Hatch's sync through the core's double-checked sync, under both locks."""
        with self._reporting(), self._critical_section():
            # hatch ends the process when pip fails (SystemExit): the core sees the exit code, releases
            # the lock and records nothing; then hatch exits as it would have
            install = ToolInstall(
                lambda: VirtualEnvironment.sync_dependencies(self),
                failures=(SystemExit, subprocess.CalledProcessError),
            )
            wanted = self._wanted()
            # the core judges only named requirements; a local project out of date needs the installer anyway
            judge = wanted is not None and bool(wanted[0]) and self._local_missing(wanted[1]) is False
            self._adapter.sync(
                self._core_environment,
                wanted[0] if wanted is not None and judge else [],
                install=install,
                judge=judge,
                installer_takes_lock=self._uses_uv,  # hatch's uv takes <env>/.lock itself
            )
            install.reraise()

    # ---------------------------------------------------------------------------------------------
    # the dependency check
    # ---------------------------------------------------------------------------------------------
    def _wanted(self) -> tuple[list[str], list[Dependency]] | None:
        """``(requirements for the core, local projects)``, or None when only hatch can judge."""
        if self.locked:  # pinned requirements applied by a locker: hatch's check knows them
            return None
        requirements: list[str] = []
        local: list[Dependency] = []
        for dependency in self.all_dependencies_complex:
            if dependency.url is None:
                requirements.append(str(dependency))
                continue
            if dependency.path is None or dependency.marker is not None:  # remote URL, VCS
                return None
            local.append(dependency)
            extras = f"[{','.join(sorted(dependency.extras))}]" if dependency.extras else ""
            requirements.append(f"{dependency.name}{extras}")
        return requirements, local

    def _local_missing(self, local: list[Dependency]) -> bool | None:
        """Whether a local project is not installed as wanted (hatch's own test), None when unknown."""
        if not local:
            return False
        site_dirs = self._core_environment.site_folders_to_judge()
        if site_dirs is None:
            return None
        from hatch.dep.sync import InstalledDistributions

        return bool(InstalledDistributions(sys_path=site_dirs).missing_dependencies(local))

    def _judge(self) -> bool | None:
        """True/False when the core (and hatch's local test) can tell, else None."""
        from venvlock.core import Outcome

        self._verdict = None  # set to a judged verdict only
        wanted = self._wanted()
        if wanted is None:
            return None
        requirements, local = wanted
        if not requirements:
            return True
        verdict = self._adapter.check(self._core_environment, requirements)
        if verdict.outcome is Outcome.CANNOT_JUDGE:
            return None
        self._verdict = verdict
        if verdict.outcome is Outcome.INSTALL_NEEDED:
            return False
        local_missing = self._local_missing(local)
        return None if local_missing is None else not local_missing


def _with_virtual_data_directory(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Hatch's arguments for a new environment, with the folder the user configured for type ``virtual``.

    Hatch places environments in ``dirs.env.<type>`` of its configuration,
    else in ``<data>/env/<type>``.  When the user configured no folder for
    type ``venvlock`` but one for ``virtual``, environments of this type go
    there too, as they would have as ``virtual``.  Hatch's own placements
    (internal environments, scripts) pass unchanged.
    """
    # hatch passes (root, metadata, name, config, matrix_variables, data_directory, isolated_data_directory, ...)
    if len(args) < 10:  # another calling form: hatch's own placement
        return args
    app = args[9]
    try:
        directories = app.config.dirs.env
        if args[5] != app.get_env_directory(PLUGIN_NAME) or PLUGIN_NAME in directories:
            return args
        if VirtualEnvironment.PLUGIN_NAME not in directories:
            return args
        chosen = app.get_env_directory(VirtualEnvironment.PLUGIN_NAME)
    except AttributeError:  # a hatch without these: its own placement
        return args
    return (*args[:5], chosen, *args[6:])


def guard_preparation(app: Any) -> None:
    """Wrap ``app.project.prepare_environment`` once, so that environments of this type prepare as one unit.

    The wrapper lives on the project *object* (not its class), passes other
    environment types through unchanged, and is installed at most once.  A
    hatch without that method still gets each step locked on its own.
    """
    project = getattr(app, "project", None)
    if project is None:
        return
    original = getattr(project, "prepare_environment", None)
    if original is None:
        print(
            "venvlock: warning: this hatch has no Project.prepare_environment; "
            "each step of a preparation is locked on its own",
            file=sys.stderr,
        )
        return
    if getattr(original, _GUARD_ATTRIBUTE, False):
        return

    def prepare_environment(environment: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(environment, VenvlockEnvironment):
            return environment.prepare(original, *args, **kwargs)
        return original(environment, *args, **kwargs)

    setattr(prepare_environment, _GUARD_ATTRIBUTE, True)
    project.prepare_environment = prepare_environment


class VenvlockEnvironmentCollector(EnvironmentCollectorInterface):
    """Give type ``venvlock`` to every environment of type ``virtual``, hatch's internal ones included.

    Enabled with ``[tool.hatch.env.collectors.venvlock]``; ``exclude = [...]``
    there names environments (or matrices, by their base name) to leave alone.
    It runs after templates, overrides and matrices are applied, so it sees
    each environment's final type.
    """

    PLUGIN_NAME = PLUGIN_NAME
    #: the matrices and plain environments :meth:`finalize_config` saw (None: it was not called)
    _matrices: set[str] | None = None
    _plain: frozenset[str] = frozenset()

    def finalize_config(self, config: dict[str, dict[str, Any]]) -> None:
        """Give matrices of type ``virtual`` type ``venvlock`` before hatch expands them.

        Their generated environments get the type in :meth:`finalize_environments`
        anyway; this makes the matrix itself (what ``hatch env show`` lists) say so too.
        Excluded environments of type ``virtual`` get it written out, so that none
        takes ``venvlock`` from a matrix it names as ``template``.
        """
        excluded = self._excluded()
        self._matrices = {name for name, environment in config.items() if _is_matrix(environment)}
        self._plain = frozenset(config) - self._matrices
        virtual = {name for name in config if _resolved_type(config, name) == "virtual"}  # before any change here
        for name, environment in config.items():
            if name not in virtual or not isinstance(environment, dict):
                continue
            if name in excluded:  # its type stays virtual even if its template is a matrix given venvlock here
                environment.setdefault("type", "virtual")
            elif name in self._matrices:
                environment["type"] = PLUGIN_NAME

    def finalize_environments(self, config: dict[str, dict[str, Any]]) -> None:
        excluded = self._excluded()
        for name, environment in config.items():
            if environment.get("type", "virtual") != "virtual":
                continue
            if name in excluded or self._matrix_of(name) in excluded:
                continue
            environment["type"] = PLUGIN_NAME

    def _matrix_of(self, name: str) -> str | None:
        """The matrix that generated environment *name*, as hatch names them, or None for a plain one.

        Hatch names a matrix's environments ``<matrix>.<variables>``, except
        those of ``default``'s matrix: just ``<variables>``.  The names come
        from :meth:`finalize_config`, which hatch calls first.
        """
        base, dot, _ = name.partition(".")
        if self._matrices is None:  # no finalize_config before: the prefix is all there is to go on
            return base if dot else None
        if name in self._plain:
            return None
        if dot and base in self._matrices:
            return base
        return "default" if "default" in self._matrices else None

    def _excluded(self) -> set[str]:
        exclude = self.config.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(name, str) for name in exclude):
            message = f"Field `tool.hatch.env.collectors.{PLUGIN_NAME}.exclude` must be an array of strings"
            raise TypeError(message)
        return set(exclude)


def _is_matrix(environment: Any) -> bool:
    return isinstance(environment, dict) and "matrix" in environment


def _resolved_type(config: dict[str, dict[str, Any]], name: str) -> Any:
    """The type environment *name* gets through its ``template`` chain, as hatch resolves it ("virtual" if none)."""
    seen: set[str] = set()
    current = name
    while current not in seen:
        seen.add(current)
        environment = config.get(current)
        if not isinstance(environment, dict):
            break
        if "type" in environment:
            return environment["type"]
        template = environment.get("template", "default")
        if not isinstance(template, str) or template == current:
            break
        current = template
    return "virtual"
