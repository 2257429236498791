"""KUBETASK_OPERATOR_KEEP_LOGS=false: no log keeper, so pods get no finalizer and no log is read; a
result over 4 KiB cannot be kept, so an explicit larger limit is refused at start and one framed by
a pod made before the switch is a lost result naming the setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from kubernetes import client
from pydantic import ValidationError

from kubetask.conditions import REASON_RESULT_LOST
from kubetask.executor.report import Report, ResultRef, encode
from kubetask.models import Phase
from kubetask.operator.kube import Apiserver
from kubetask.operator.main import log_keeper
from kubetask.operator.mirror import Mirror
from kubetask.operator.reconciler import Reconciler
from kubetask.operator.settings import OperatorSettings
from kubetask.reconcile import decide, record_attempt
from kubetask.store import make_engine
from tests.unit.builders import NOW, exited, job, make_task, observed


@pytest.fixture(autouse=True)
def _no_operator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEEP_LOGS", "MIRROR", "RESULT_MAX_BYTES"):
        monkeypatch.delenv(f"KUBETASK_OPERATOR_{name}", raising=False)


def _wiring(tmp_path: Path, settings: OperatorSettings, *, mirror: bool = True) -> tuple[Reconciler, bool]:
    """The reconciler after `log_keeper` (nothing started, nothing connects) and whether a keeper was made."""
    api = client.ApiClient(client.Configuration(host="https://127.0.0.1:1"))
    m = Mirror(make_engine(f"sqlite:///{tmp_path / 'mirror.db'}")) if mirror else None
    reconciler = Reconciler(Apiserver(api), m)
    keeper = log_keeper(settings, reconciler.apiserver, m, reconciler)
    return reconciler, keeper is not None


def test_logs_are_kept_by_default(tmp_path: Path) -> None:
    settings = OperatorSettings()
    assert settings.keep_logs and settings.keeps_logs
    reconciler, made = _wiring(tmp_path, settings)
    assert made and reconciler.keep_logs and reconciler.result_max_bytes == settings.result_max_bytes


def test_keep_logs_false_starts_no_keeper_and_jobs_get_no_finalizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBETASK_OPERATOR_KEEP_LOGS", "false")
    settings = OperatorSettings()
    assert not settings.keep_logs and not settings.keeps_logs
    reconciler, made = _wiring(tmp_path, settings)
    # keep_logs False: build_job gets keep_log=False and result_max_bytes=0 (no finalizer, no large result env)
    assert not made and not reconciler.keep_logs


def test_without_the_mirror_no_keeper_runs_whatever_keep_logs_says(tmp_path: Path) -> None:
    settings = OperatorSettings(mirror=False)
    assert settings.keep_logs and not settings.keeps_logs
    reconciler, made = _wiring(tmp_path, settings, mirror=False)
    assert not made and not reconciler.keep_logs


def test_an_explicit_result_limit_over_4_kib_without_kept_logs_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBETASK_OPERATOR_KEEP_LOGS", "false")
    monkeypatch.setenv("KUBETASK_OPERATOR_RESULT_MAX_BYTES", "1048576")
    with pytest.raises(ValidationError, match="result_max_bytes=1048576 needs keep_logs"):
        OperatorSettings()


@pytest.mark.parametrize("limit", ["0", "4096"], ids=["none", "termination-message"])
def test_a_result_limit_within_the_termination_message_is_accepted_without_kept_logs(
    monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    monkeypatch.setenv("KUBETASK_OPERATOR_KEEP_LOGS", "false")
    monkeypatch.setenv("KUBETASK_OPERATOR_RESULT_MAX_BYTES", limit)
    assert OperatorSettings().result_max_bytes == int(limit)


def test_a_result_framed_before_the_switch_is_lost_with_a_message_naming_it() -> None:
    t = make_task()
    st = record_attempt(decide(observed(t)).status, number=1, job="t-1", now=NOW, gen=1)
    ref = ResultRef(size=614400, sha256="ab" * 32, preview="{")
    pod = dataclasses.replace(exited(0, encode(Report(handler="echo", result_ref=ref))), log_held=False)
    o = dataclasses.replace(observed(make_task(status=st.to_wire()), job(pod)), results_kept=False)
    d = decide(o)
    assert d.status.phase == Phase.FAILED and d.status.reason == REASON_RESULT_LOST
    assert "_KEEP_LOGS=false" in (d.status.message or "")
