"""Markers: files beside or inside an environment that say "half-built" or "provisioned", one spelling for all tools.

Part of the adapter layer (:mod:`venvlock.adapter` re-exports :class:`Marker`).
"""

from __future__ import annotations

import os

from venvlock.errors import VenvlockError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core import Environment


class HalfBuilt:
    """A half-built marker found (:meth:`Marker.read_incomplete`): where, and who left it, as far as it says.

    *tool* is None when the marker does not say; *pid* and *command* (``""``)
    the process that wrote it, when it says.
    """

    __slots__ = ("command", "path", "pid", "tool")

    def __init__(self, path: str, tool: str | None, pid: int | None, command: str) -> None:
        self.path, self.tool, self.pid, self.command = path, tool, pid, command


#: the half-built marker's suffix: ``.<name>.incomplete`` beside the environment folder
INCOMPLETE_SUFFIX = ".incomplete"


class Marker:
    """A file whose presence says something about an environment ("half-built", "provisioned").

    Written atomically and never through a symbolic link (nor through a link
    among the folders below *below*, see :meth:`in_records`); a write error
    raises :class:`VenvlockError` (one clear line for the adapter to report)
    and leaves no file behind.

    :param path: the marker file.
    :param below: the folder the marker's own folders hang from (they are
        made and opened without following links); None: only the file itself
        is protected.
    :param text: what :meth:`set` writes when given nothing.
    """

    __slots__ = ("below", "path", "text")

    def __init__(self, path: str, *, below: str | None = None, text: str = "") -> None:
        self.path = path
        self.below = below
        self.text = text

    def __repr__(self) -> str:
        return f"Marker({self.path!r})"

    @classmethod
    def incomplete(
        cls, environment_path: str | os.PathLike[str], *, tool: str, holder: tuple[int, str] | None = None
    ) -> Marker:
        """``.<name>.incomplete`` beside the environment folder: *tool* started building or removing it.

        Set it before the folder changes and clear it once the change is
        complete; a marker still there means the change never finished.
        :meth:`set` writes *tool*'s name in it, and *holder* ``(pid, command
        line)`` when given (the command line as the holder files carry it:
        credentials redacted), so that :meth:`read_incomplete` (``venvlock
        status``) can say who left it.
        """
        from venvlock.core._environment import hidden_sibling

        path = hidden_sibling(os.path.abspath(os.fspath(environment_path)), INCOMPLETE_SUFFIX)  # as .venv.create.lock
        text = f"incomplete\ntool = {tool}\n"
        if holder is not None:
            pid, command = holder
            text += f"pid = {pid}\ncommand = {' '.join(command.splitlines())}\n"
        return cls(path, text=text)

    @staticmethod
    def read_incomplete(environment_path: str | os.PathLike[str]) -> HalfBuilt | None:
        """The half-built marker beside the environment folder, and who left it; None when there is none.

        The one reader of that marker.  Its ``tool =``, ``pid =`` and
        ``command =`` lines say who; a marker of an older venvlock names no
        tool: its tox plugin wrote ``<pid>\\n<command line>`` (and keeps
        environments in ``.tox/``), its hatch plugin ``incomplete``.  Read
        without following a link, only if it is a regular file.
        """
        from venvlock.core._files import read_file

        path = Marker.incomplete(environment_path, tool="").path
        if not os.path.lexists(path):
            return None
        lines = (read_file(path) or "").splitlines()
        fields = {key.strip(): value.strip() for key, sep, value in (line.partition("=") for line in lines) if sep}
        tool, pid, command = fields.get("tool") or None, fields.get("pid", ""), fields.get("command", "")
        if tool is None and lines[:1] and lines[0].strip().isdigit():  # an older plugin's "<pid>\n<command line>"
            pid, command = lines[0].strip(), (lines[1] if len(lines) > 1 else "")
            program = os.path.basename(command.split(" ", 1)[0]).removesuffix(".exe")
            tool = program if program in ("tox", "hatch", "nox") else None
        if tool is None and os.path.basename(os.path.dirname(path)) == ".tox":
            tool = "tox"
        elif tool is None and lines[:1] == ["incomplete"]:
            tool = "hatch"
        return HalfBuilt(path, tool, int(pid) if pid.isdigit() else None, command)

    @staticmethod
    def find_incomplete(environment_path: str | os.PathLike[str]) -> tuple[str | None, str] | None:
        """``(tool, marker path)`` when the environment has a half-built marker, else None (:meth:`read_incomplete`)."""
        found = Marker.read_incomplete(environment_path)
        return None if found is None else (found.tool, found.path)

    @classmethod
    def in_records(cls, environment: Environment, name: str, *, text: str = "") -> Marker:
        """The marker *name* in *environment*'s record folder (``<env>/.venvlock/<name>``).

        ``<env>/.venvlock`` is venvlock's own: made and opened without
        following links, so a link planted there is refused, never written through.
        """
        folder = environment.record_dir()
        return cls(os.path.join(folder, name), below=os.path.dirname(folder), text=text)

    def present(self) -> bool:
        return os.path.lexists(self.path)

    def set(self, text: str | None = None) -> None:
        """Create or rewrite the marker (*text*, default its own); a write error is a :class:`VenvlockError`.

        Nothing is left behind when the write fails: no empty marker, no temporary file.
        """
        from venvlock._faults import inject_fault
        from venvlock.core._files import write_file

        try:
            inject_fault("marker", errors=True)  # test-only: the fault matrix's marker write
            write_file(self.path, self.text if text is None else text, make_folder=True, below=self.below)
        except OSError as error:
            raise VenvlockError(f"cannot write {self.path} ({error.strerror or error})") from None

    def clear(self) -> None:
        from venvlock.core._files import remove_file

        remove_file(self.path, below=self.below)
