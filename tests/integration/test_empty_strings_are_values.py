"""An empty string is a value: an empty argument, an empty environment variable and an empty
description reach the CRs, the Job and the container as "" (not dropped, not refused as null).

The test cluster's apiserver is built from source with Go >= 1.18; the go-openapi type check it
vendors then took "" for null and refused it ("must be of type string: null") unless the schema
said `nullable`. scripts/cluster/build.sh patches that check, as later go-openapi releases do.
"""

from __future__ import annotations

import pytest

from kubetask.testing.cluster import Cluster, create, python_spec, task, template, wait_task

pytestmark = pytest.mark.usefixtures("operator")

SHOW = "import json, os, sys; open('/dev/termination-log', 'w').write(json.dumps([sys.argv[1:], os.environ.get('E')]))"


def test_empty_argument_and_environment_value_reach_the_container(cluster: Cluster, namespace: str) -> None:
    spec = python_spec(SHOW, args=["", "x"], env=[{"name": "E", "value": ""}])
    created = create(cluster, namespace, "tasks", task("empty", **spec))
    assert created["spec"]["args"] == ["", "x"] and created["spec"]["env"] == [{"name": "E", "value": ""}]

    st = wait_task(cluster, namespace, "empty")["status"]

    assert (st["phase"], st.get("result")) == ("Succeeded", [["", "x"], ""]), st


def test_a_template_with_an_empty_description_is_stored_as_sent(cluster: Cluster, namespace: str) -> None:
    created = create(cluster, namespace, "tasktemplates", template("blank", handler="echo", description=""))
    assert created["spec"]["description"] == ""
