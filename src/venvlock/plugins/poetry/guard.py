"""The locks and the half-built marker of one poetry command (see :mod:`venvlock.plugins.poetry`).

On COMMAND, before poetry's own listeners:

1. the environment's folder, as poetry's ``EnvManager`` will choose it
   (``VIRTUAL_ENV``, an in-project ``.venv``, the cache's virtualenvs), is
   looked at without creating anything;
2. missing, half-built (``.<name>.incomplete`` beside it) or without its
   python: the creation lock is taken, the folder looked at again, a
   half-built one removed, the marker set, poetry's ``configure_env`` run
   here (it creates the venv; poetry's own listener then finds it set), the
   marker cleared and the lock released;
3. a command that changes the environment takes the environment lock, held
   until TERMINATE (poetry's installer snapshots the installed set right
   after this listener); when ``pyproject.toml`` or ``poetry.lock`` changed
   while it waited, poetry reads them again.

The folder poetry configured is the one locked, never a foreseen one it does
not use.  Throughout the command (``env use`` and ``env remove`` included),
poetry's own ``build_venv`` holds the folder's creation lock and its
``remove_venv`` the creation lock and the environment lock.

A lock busy past ``VENVLOCK_TIMEOUT`` (or any other venvlock error, or a
Ctrl-C while waiting) ends the command before poetry does anything: the
command is disabled and, on TERMINATE, the exit status becomes 75 (2 for a
bad setting, 130 when interrupted).
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from venvlock.adapter import (
    Adapter,
    Marker,
    SettingError,
    VenvlockError,
    describe_command,
    exit_code,
    remove_tree,
    setting_flag,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cleo.events.console_command_event import ConsoleCommandEvent
    from cleo.events.console_error_event import ConsoleErrorEvent
    from cleo.events.console_terminate_event import ConsoleTerminateEvent
    from cleo.events.event import Event
    from cleo.events.event_dispatcher import EventDispatcher
    from cleo.io.io import IO
    from poetry.console.application import Application
    from poetry.console.commands.env_command import EnvCommand
    from poetry.poetry import Poetry

    from venvlock.core import Environment

#: commands that change the installed packages (unless ``--dry-run`` or ``--lock``)
CHANGING_COMMANDS = frozenset({"install", "sync", "add", "remove", "update"})
#: poetry's commands that create or remove a venv without being environment commands
MANAGING_COMMANDS = frozenset({"env use", "env remove"})
#: options with which those commands change nothing in the environment
NOT_CHANGING_OPTIONS = ("dry-run", "lock")
#: the project's setting: ``[tool.venvlock] poetry = false`` turns the plugin off
SETTING = "poetry"


class Guard:
    """What one poetry command holds: taken on COMMAND, released on TERMINATE."""

    def __init__(self, application: Application, switch: str) -> None:
        self.application = application
        self.switch = switch  # the process's on/off variable (``VENVLOCK_POETRY``), read again by each command
        self.held = ExitStack()
        self.failed: int | None = None
        self.journal: Environment | None = None  # the environment whose sync journal this command owns
        self.adapter = Adapter("poetry", purpose="poetry")  # named by its command line once it is an env command

    def on_command(self, event: Event, event_name: str, dispatcher: EventDispatcher) -> None:
        from poetry.console.commands.command import Command as PoetryCommand
        from poetry.console.commands.env_command import EnvCommand
        from poetry.console.commands.self.self_command import SelfCommand

        command_event: ConsoleCommandEvent = event  # type: ignore[assignment]
        command = command_event.command
        if isinstance(command, EnvCommand):
            if isinstance(command, SelfCommand) or command._env is not None:
                return
        elif not (isinstance(command, PoetryCommand) and command.name in MANAGING_COMMANDS):
            return
        try:
            if not enabled_for(command.poetry, self.switch):
                return
            self.adapter.purpose = describe_command(["poetry", *sys.argv[1:]])
            self.held.enter_context(self._locked_builds_and_removals())
            if not isinstance(command, EnvCommand):  # env use, env remove: their builds and removals only
                return
            changing = changes_environment(command, command_event.io)
            project = project_files(command.poetry) if changing else ()  # as poetry read them, before any wait
            folder = environment_folder(command.poetry, command_event.io)
            if folder is None:  # no venv: poetry installs into the interpreter it found, which venvlock leaves alone
                return
            environment = self.adapter.environment(folder)
            marker = Marker.incomplete(folder, tool="poetry", holder=(os.getpid(), self.adapter.purpose))
            if not complete(folder, marker):
                self._create(folder, marker, event, event_name, dispatcher)
            if command._env is not None and os.path.realpath(command._env.path) != os.path.realpath(folder):
                # poetry chose another folder than the one foreseen: only the one it uses is ever locked or judged
                if not command._env.is_venv():
                    return
                environment = self.adapter.environment(str(command._env.path))
            if changing:
                hold = self.held.enter_context(self.adapter.environment_lock(environment))
                if project_files(command.poetry) != project:
                    # another command changed pyproject.toml or poetry.lock while this one waited for a lock (a
                    # ``poetry add``): poetry reads them again, as it would have, run after it
                    self.application.reset_poetry()
                # what an interrupted sync left is removed first, and put back by poetry's installer (from the
                # project's sources and lock file, not pip's), which snapshots what is installed after this;
                # until this command ends with success, a journal says a sync is in progress, so that a poetry
                # killed midway is healed by the next run
                if self.adapter.begin_journal(environment, self.adapter.purpose, hold, reinstall=False):
                    self.journal = environment
        except (VenvlockError, KeyboardInterrupt) as error:  # a Ctrl-C while waiting: 130, as venvlock's other waits
            self.held.close()
            command_event.io.write_error_line(f"<error>venvlock: {str(error) or 'interrupted'}</error>")
            self.failed = exit_code(error)
            command_event.disable_command()
            command_event.stop_propagation()

    @contextmanager
    def _locked_builds_and_removals(self) -> Iterator[None]:
        """While inside, poetry builds a venv (``build_venv``) holding its creation lock, and removes one
        (``remove_venv``: ``env remove``, ``env use`` and a broken venv recreated) holding its creation lock
        and its environment lock, so that never under another process's sync or creation."""
        from poetry.utils.env import EnvManager

        adapter = self.adapter
        build, remove = EnvManager.__dict__["build_venv"], EnvManager.__dict__["remove_venv"]

        def locked_build(cls: type[EnvManager], path: Path, *args: Any, **kwargs: Any) -> Any:
            with adapter.creation_lock(adapter.environment(str(path))):
                return build.__func__(cls, path, *args, **kwargs)

        def locked_remove(cls: type[EnvManager], path: Path) -> None:
            environment = adapter.environment(str(path))
            with adapter.creation_lock(environment), adapter.environment_lock(environment):
                remove.__func__(cls, path)

        EnvManager.build_venv = classmethod(locked_build)  # type: ignore[method-assign,assignment]
        EnvManager.remove_venv = classmethod(locked_remove)  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            EnvManager.build_venv, EnvManager.remove_venv = build, remove  # type: ignore[method-assign]

    def _create(self, folder: str, marker: Marker, event: Event, event_name: str, dispatcher: EventDispatcher) -> None:
        """Create (or rebuild) the environment with poetry's ``configure_env``, creation lock held."""
        environment = self.adapter.environment(folder)
        with self.adapter.creation_lock(environment) as hold:
            if complete(folder, marker) or (hold is not None and hold.nested):
                return  # made while we waited, or being made by the process that started us
            if marker.present() and os.path.lexists(folder):  # what a killed creation left: rebuilt, never reused
                io: IO = event.io  # type: ignore[attr-defined]
                io.write_error_line(f"venvlock: {_shown(folder)} was left half-built; recreating it")
                with self.adapter.environment_lock(environment):
                    remove_tree(folder)
            marker.set()
            try:
                self.application.configure_env(event, event_name, dispatcher)
            except BaseException:
                if not os.path.lexists(folder):  # nothing made: nothing half-built
                    marker.clear()
                raise  # a folder made halfway keeps the marker: the next run rebuilds it
            marker.clear()

    def on_error(self, event: Event) -> None:
        """A lock of poetry's own build or removal of a venv that stayed busy (or another venvlock error) while the
        command ran: said as venvlock's errors are, and the command ends with its exit status (75, 2)."""
        error_event: ConsoleErrorEvent = event  # type: ignore[assignment]
        if not isinstance(error_event.error, VenvlockError):
            return
        error_event.io.write_error_line(f"<error>venvlock: {error_event.error}</error>")
        self.failed = exit_code(error_event.error)
        error_event.set_exit_code(0)  # cleo raises no error ended with 0; on_terminate then sets the status

    def on_terminate(self, event: Event) -> None:
        terminate_event: ConsoleTerminateEvent = event  # type: ignore[assignment]
        if self.journal is not None and self.failed is None and terminate_event.exit_code == 0:
            self.adapter.end_journal(self.journal)
        self.held.close()
        if self.failed is not None:
            terminate_event.set_exit_code(self.failed)


def from_environment(variable: str) -> bool:
    """The process's switch *variable* (``VENVLOCK_POETRY``) as venvlock reads its on/off settings (unset or
    empty: on); SettingError when it is neither."""
    return setting_flag(variable, default=True, on="locked, the default", off="poetry runs unlocked")


def enabled_for(poetry: Poetry, variable: str) -> bool:
    """Whether the switch *variable* (``VENVLOCK_POETRY``) and ``[tool.venvlock] poetry`` in the project's
    ``pyproject.toml`` leave the plugin on (default true); SettingError for either neither on nor off."""
    if not from_environment(variable):
        return False
    tool = poetry.pyproject.data.get("tool")
    section = tool.get("venvlock") if isinstance(tool, dict) else None
    value: Any = section.get(SETTING, True) if isinstance(section, dict) else True
    if not isinstance(value, bool):
        raise SettingError(f"[tool.venvlock] {SETTING} in pyproject.toml must be true or false, not {value!r}")
    return value


def changes_environment(command: EnvCommand, io: IO) -> bool:
    """Whether *command* installs or removes packages (``install``, ``add``...; not ``--dry-run``, ``--lock``)."""
    if command.name not in CHANGING_COMMANDS:
        return False
    definition = command.definition
    return not any(definition.has_option(name) and io.input.option(name) for name in NOT_CHANGING_OPTIONS)


def environment_folder(poetry: Poetry, io: IO) -> str | None:
    """The venv folder the command will use, as poetry's ``EnvManager.create_venv`` chooses it; creates nothing.

    None when poetry will use no venv (``virtualenvs.create = false`` outside one).
    """
    from poetry.utils.env import EnvManager

    manager = EnvManager(poetry, io=io)
    env = manager.get(reload=True)  # VIRTUAL_ENV, the in-project .venv, the cache's venv when they exist
    if env.is_venv():
        return str(env.path)
    if not poetry.config.get("virtualenvs.create", True):
        return None
    if manager.use_in_project_venv():
        return str(manager.in_project_venv)
    from poetry.utils.env.python import Python

    python = Python.get_preferred_python(config=poetry.config, io=io)
    if not poetry.package.python_constraint.allows(python.patch_version):
        # poetry looks for an interpreter the project allows (and says which when it creates the venv)
        python = Python.get_compatible_python(poetry=poetry)
    name = manager.generate_env_name(poetry.package.name, str(poetry.file.path.parent))
    return str(Path(poetry.config.virtualenvs_path) / f"{name}-py{python.minor_version.to_string()}")


def project_files(poetry: Poetry) -> tuple[bytes | None, ...]:
    """The bytes of the project's ``pyproject.toml`` and ``poetry.lock`` (None for one that is missing)."""
    contents: list[bytes | None] = []
    for path in (poetry.file.path, poetry.locker.lock):
        try:
            contents.append(Path(path).read_bytes())
        except OSError:
            contents.append(None)
    return tuple(contents)


def complete(folder: str, marker: Marker) -> bool:
    """Whether *folder* is a finished venv: there (looked at first), not marked half-built, with its python."""
    if not os.path.isdir(folder) or marker.present():
        return False
    from poetry.utils.env import VirtualEnv

    return VirtualEnv(Path(folder)).is_sane()


def _shown(folder: str) -> str:
    from venvlock.adapter import display_path

    return f"environment {display_path(folder)}"
