"""The executor masks the values of the env vars the operator names as Secrets in everything it leaves:
stdout and stderr (print, logging, the traceback), the report's failure message, progress frames and
the result."""

# print is what the handler does: its output is what gets masked
# ruff: noqa: T201
from __future__ import annotations

import io
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kubetask.executor import Context, PermanentError, Registry
from kubetask.executor._streams import RedactingStream
from kubetask.executor.frames import FrameReader
from kubetask.executor.redaction import MASK, SECRET_ENV
from kubetask.executor.report import decode
from kubetask.executor.runtime import run

TOKEN = "tok-3f9a1c"  # noqa: S105  (a test value)
PEM = "-----BEGIN KEY-----\nMIIBOgIBAAJBAK\n-----END KEY-----\n"


def _env(term: Path, handler: str) -> dict[str, str]:
    return {
        "KUBETASK_TERMINATION_PATH": str(term),
        "KUBETASK_HANDLER": handler,
        SECRET_ENV: "TOKEN,PEM",
        "TOKEN": TOKEN,
        "PEM": PEM,
    }


def _leaky() -> Registry:
    reg = Registry()

    @reg.handler("leak")
    def leak(_params: Any, ctx: Context) -> Any:
        print(f"token={TOKEN}")
        print("split:", TOKEN[:3], end="", flush=True)
        print(TOKEN[3:])
        print(f"key:\n{PEM}", file=sys.stderr)
        log = logging.getLogger("leak")
        to_stderr = logging.StreamHandler()  # sys.stderr as the handler finds it (pytest captures the root's)
        log.addHandler(to_stderr)
        log.warning("logged %r", TOKEN)
        log.removeHandler(to_stderr)
        ctx.progress(1, 2, f"using {TOKEN}", force=True)
        raise RuntimeError(f"login refused for {TOKEN} with\n{PEM}")

    @reg.handler("permanent")
    def permanent(_params: Any) -> Any:
        raise PermanentError(f"bad token {TOKEN!r}")

    @reg.handler("returns")
    def returns(_params: Any) -> Any:
        return {"token": TOKEN, "note": f"pem {json.dumps(PEM)}", "n": 1}

    return reg


def test_what_a_failing_handler_prints_logs_and_raises_is_masked(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    term = tmp_path / "termination-log"
    assert run([], _env(term, "leak"), registry=_leaky()) == 1
    captured = capsysbinary.readouterr()
    out, err = captured.out.decode(), captured.err.decode()
    for text in (out, err, term.read_text()):
        assert TOKEN not in text and "MIIBOgIBAAJBAK" not in text and TOKEN[3:] not in text
    assert "token=[redacted]\n" in out and "split: [redacted]\n" in out
    assert (
        "key:\n[redacted]" in err
        and "logged '[redacted]'" in err
        and f"RuntimeError: login refused for {MASK} with" in err
    )
    reader = FrameReader(0)
    reader.feed(captured.out)
    assert reader.progress is not None and reader.progress.message == f"using {MASK}"
    report = decode(term.read_text())
    assert report is not None and report.failure is not None
    assert report.failure.message == f"login refused for {MASK} with {MASK}"


def test_a_classified_failure_is_masked_in_its_report_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    term = tmp_path / "termination-log"
    assert run([], _env(term, "permanent"), registry=_leaky()) == 1
    report = decode(term.read_text())
    assert report is not None and report.failure is not None
    assert report.failure.message == f"bad token '{MASK}'"
    assert capsys.readouterr().err == f"PermanentError: bad token '{MASK}'\n"


def test_the_strings_of_a_result_are_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    term = tmp_path / "termination-log"
    assert run([], _env(term, "returns"), registry=_leaky()) == 0
    report = decode(term.read_text())
    assert report is not None and report.result == {"token": MASK, "note": f'pem "{MASK}"', "n": 1}
    assert TOKEN not in capsys.readouterr().out


def test_without_secrets_nothing_is_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    term = tmp_path / "termination-log"
    env = {k: v for k, v in _env(term, "returns").items() if k != SECRET_ENV}
    assert run([], env, registry=_leaky()) == 0
    assert TOKEN in capsys.readouterr().out
    assert sys.stdout.__class__.__name__ != "RedactingStream"  # the streams are given back


def test_threads_printing_at_once_lose_no_line_and_leak_no_value() -> None:
    target = io.StringIO()
    stream = RedactingStream(target, {TOKEN})

    def printer(n: int) -> None:
        for i in range(200):
            stream.write(f"thread {n} line {i} {TOKEN[:4]}")
            stream.write(f"{TOKEN[4:]}\n")

    threads = [threading.Thread(target=printer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stream.finish()
    text = target.getvalue()
    assert TOKEN not in text and TOKEN[4:] not in text.replace(MASK, "")
    assert len(text.splitlines()) == 8 * 200
