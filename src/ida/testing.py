"""What the command-line tests share: ``ida`` run in-process, and the one-line error check."""

from __future__ import annotations

import io
import sys


def run_ida(monkeypatch, capsys, *args, stdin: str = "") -> tuple[int, str, str]:
    """``ida ARGS`` in this process (pytest's ``monkeypatch`` and ``capsys``): its exit code,
    stdout and stderr."""
    from ida.cli import main

    monkeypatch.setattr(sys, "argv", ["ida", *map(str, args)])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, err: str, match: str) -> None:
    """A bad input's answer: exit code 2, one line on stderr, naming ``match``, no traceback."""
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and match in err, err
    assert "Traceback" not in err
