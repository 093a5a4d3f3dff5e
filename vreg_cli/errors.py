"""The errors a user can cause, each mapped by the CLI to one line and an exit code.

Exit codes: 2 = bad input (missing/corrupt file, wrong layout, incompatible checkpoint),
3 = registration refused (too few inliers, implausible transform), 1 = anything unexpected.
"""

from __future__ import annotations

from vreg_cli.provenance import RefusalDetails

__all__ = ["InputError", "OutputError", "RegistrationFailed", "VregError", "first_line"]


class VregError(Exception):
    """A problem the user can fix; the message is shown as one line."""

    exit_code: int = 2


class RegistrationFailed(VregError):
    """A registration result that vreg does not trust (never a silent identity).

    ``details`` (:class:`~vreg_cli.provenance.RefusalDetails`) carries what was measured before giving up (matches,
    inliers, classic's global estimate, the refused result...); fields not measured keep their defaults.
    """

    exit_code = 3

    def __init__(self, message: str, details: RefusalDetails | None = None) -> None:
        super().__init__(message)
        self.details = details if details is not None else RefusalDetails()


class OutputError(VregError):
    """An output that could not be written (a full disk, a read-only folder...); ``errno``: the OS error number of
    the failure (``errno.ENOSPC`` for a full disk), None when the failure carried none."""

    exit_code = 2

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class InputError(VregError, ValueError):
    """An image or option the Python API cannot take (wrong type, dtype, shape or value range); one line."""

    exit_code = 2


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when the message is empty): what a one-line
    error quotes of a third-party library's exception."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
