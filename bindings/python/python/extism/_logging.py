"""Process-wide settings: where plugin logs go (a file, or the native log
buffer that a ``CustomLogger`` drains), and the runtime's version."""

from typing import Any, Callable, Literal, Optional

from . import _extism
from ._extism import Error


def set_log_file(file: str, level: Optional[Literal["debug", "error", "trace", "warn", "info"]] = None) -> None:
    """
    Send plugin log messages to ``file`` (a path, ``"stdout"`` or ``"stderr"``).
    This is a process-wide setting; only the first logger of a process is
    installed, and, as in the official SDK, failures are ignored.

    :param file: the log file path, ``"stdout"`` or ``"stderr"``.
    :param level: ``trace``, ``debug``, ``info``, ``warn`` or ``error`` (the
                  default), or a filter such as ``extism=trace``.
    """
    try:
        _extism.set_log_file(file, level)
    except Error:
        pass


class CustomLogger:
    """
    Buffered plugin logs (see :py:func:`set_log_custom`): ``drain()`` hands each
    buffered line (text, with its trailing newline) to the callback. The logger
    also drains when it is garbage collected.
    """

    def __init__(self, f: Callable[[str], Any]):
        self.callback: Optional[Callable[[str], Any]] = None
        self.set_callback(f)

    def set_callback(self, f: Callable[[str], Any]) -> None:
        """Use ``f`` for the lines drained from now on."""
        self.callback = f

    def drain(self) -> None:
        """Call the callback for every buffered line, oldest first, and empty the buffer."""
        if self.callback is not None:
            _extism.drain_logs(self.callback)

    def __del__(self) -> None:
        try:
            self.drain()
        except Exception:  # pylint: disable=broad-except
            # A finalizer must not raise (it may run at interpreter exit).
            pass


def set_log_custom(
    f: Callable[[str], Any], level: Optional[Literal["debug", "error", "trace", "warn", "info"]] = None
) -> CustomLogger:
    """
    Buffer plugin log messages in memory (a process-wide setting) and return a
    :py:class:`CustomLogger` whose ``drain()`` hands them to ``f``.

    :param f: called with each line, a ``str`` ending in ``\\n``.
    :param level: as for :py:func:`set_log_file`.
    :returns: the logger; call its ``drain()`` to receive the buffered lines.
    """
    try:
        _extism.set_log_buffer(level)
    except Error:
        pass
    return CustomLogger(f)


def extism_version() -> str:
    """
    The version of this runtime.

    :returns: the version string (this project's own, not libextism's).
    """
    return _extism.extism_version()
