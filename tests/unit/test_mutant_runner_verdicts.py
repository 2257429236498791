"""scripts/mutants.py decides "caught" from a patch header and a JUnit report; both read by hand here.

The JUnit snippets are the shapes pytest 8 writes (seen in a throwaway run): a failure's text ends
with `path:line: ExceptionType`, set-up errors and collection failures are <error> elements.
"""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _runner() -> ModuleType:
    # scripts/ is not a package: load the file itself (registered, so dataclasses can resolve it)
    spec = importlib.util.spec_from_file_location("mutants_runner", ROOT / "scripts" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


runner = _runner()

DIFF = """diff --git a/kubetask/retry.py b/kubetask/retry.py
--- a/kubetask/retry.py
+++ b/kubetask/retry.py
@@ -1 +1 @@
-a
+b
"""


def test_header_with_two_tests_and_a_continued_why(tmp_path: Path) -> None:
    p = tmp_path / "cap-dropped.patch"
    p.write_text(
        "Item: 4\nTest: tests/unit/a.py::test_x[one]\nTest: tests/integration/b.py::test_y\n"
        "Why: the cap is dropped;\n  both must see it.\n\n" + DIFF
    )
    m = runner.parse(p)
    assert (m.name, m.item, m.tests, m.why) == (
        "cap-dropped",
        4,
        ("tests/unit/a.py::test_x[one]", "tests/integration/b.py::test_y"),
        "the cap is dropped; both must see it.",
    )
    assert m.needs_cluster is True


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        pytest.param("Item: 4\nTest: tests/unit/a.py::t\n\n", "Why", id="no Why"),
        pytest.param("Item: four\nTest: tests/unit/a.py::t\nWhy: w\n\n", "Item", id="Item not a number"),
        pytest.param("Item: 4\nWhy: w\n\n", "Test", id="no Test"),
        pytest.param("Item: 4\nTests: tests/unit/a.py::t\nWhy: w\n\n", "unexpected header line", id="misspelt key"),
        pytest.param("Item: 4\nTest: a.py::t\nWhy: w\n\n", "Test", id="test outside tests/"),
    ],
)
def test_a_malformed_header_is_refused(tmp_path: Path, header: str, complaint: str) -> None:
    p = tmp_path / "m.patch"
    p.write_text(header + DIFF)
    with pytest.raises(runner.HeaderError, match=complaint):
        runner.parse(p)


def test_a_patch_without_a_diff_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "m.patch"
    p.write_text("Item: 4\nTest: tests/unit/a.py::t\nWhy: w\n")
    with pytest.raises(runner.HeaderError, match="diff --git"):
        runner.parse(p)


def _case(inner: str) -> ET.Element:
    return ET.fromstring(f'<testcase classname="tests.unit.test_a" name="test_x" time="0.1">{inner}</testcase>')


@pytest.mark.parametrize(
    ("inner", "outcome"),
    [
        pytest.param("", "passed", id="passed"),
        pytest.param(
            '<failure message="assert 1 == 2">def test_x():\n&gt;  assert 1 == 2\nE  assert 1 == 2\n\n'
            "tests/unit/test_a.py:3: AssertionError</failure>",
            "assertion",
            id="assert",
        ),
        pytest.param(
            '<failure message="Failed: nope">E   Failed: nope\n\ntests/unit/test_a.py:5: Failed</failure>',
            "assertion",
            id="pytest.fail",
        ),
        pytest.param(
            '<failure message="Failed: Timeout (&gt;2.0s) from pytest-timeout.">E   Failed: Timeout\n\n'
            "tests/unit/test_a.py:9: Failed</failure>",
            "other",
            id="timeout is not an assertion",
        ),
        pytest.param(
            "<failure message=\"KeyError: 'a'\">E   KeyError: 'a'\n\ntests/unit/test_a.py:7: KeyError</failure>",
            "other",
            id="KeyError",
        ),
        pytest.param(
            "<failure message=\"ModuleNotFoundError: No module named 'x'\">E  ModuleNotFoundError\n\n"
            "tests/unit/test_a.py:1: ModuleNotFoundError</failure>",
            "other",
            id="import error in the call",
        ),
        pytest.param(
            '<error message="failed on setup with &quot;RuntimeError: setup&quot;">E  RuntimeError\n\n'
            "tests/unit/test_a.py:10: RuntimeError</error>",
            "error",
            id="set-up error",
        ),
        pytest.param('<skipped type="pytest.skip" message="no">skipped</skipped>', "skipped", id="skipped"),
    ],
)
def test_only_a_call_phase_assertion_counts_as_caught(inner: str, outcome: str) -> None:
    assert runner.classify(_case(inner))[0] == outcome


REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="3" skipped="0" tests="5">
<testcase classname="tests.unit.test_a" name="test_y[one]" time="0.1"><failure message="assert 0">
tests/unit/test_a.py:3: AssertionError</failure></testcase>
<testcase classname="tests.unit.test_a" name="test_y[two]" time="0.1"/>
<testcase classname="tests.unit.test_a" name="test_y_other" time="0.1"><failure message="assert 0">
tests/unit/test_a.py:9: AssertionError</failure></testcase>
<testcase classname="tests.unit.test_a.TestGroup" name="test_z" time="0.1"><failure message="assert 0">
tests/unit/test_a.py:12: AssertionError</failure></testcase>
<testcase classname="tests.integration.api.test_b" name="test_w" time="0.1"/>
</testsuite></testsuites>
"""


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        pytest.param(
            "tests/unit/test_a.py::test_y",
            [("tests/unit/test_a.py::test_y[one]", "assertion"), ("tests/unit/test_a.py::test_y[two]", "passed")],
            id="every parameter of a name, not a longer name",
        ),
        pytest.param(
            "tests/unit/test_a.py::test_y[one]", [("tests/unit/test_a.py::test_y[one]", "assertion")], id="one id"
        ),
        pytest.param(
            "tests/unit/test_a.py::TestGroup::test_z",
            [("tests/unit/test_a.py::TestGroup::test_z", "assertion")],
            id="in a class",
        ),
        pytest.param(
            "tests/integration/api/test_b.py::test_w",
            [("tests/integration/api/test_b.py::test_w", "passed")],
            id="in a sub-folder",
        ),
        pytest.param("tests/unit/test_a.py::test_v", [], id="absent"),
    ],
)
def test_a_named_test_finds_exactly_its_cases(tmp_path: Path, test: str, expected: list[tuple[str, str]]) -> None:
    report = tmp_path / "r.xml"
    report.write_text(REPORT)
    assert [(c.nodeid, c.outcome) for c in runner.cases(report, test)] == expected
