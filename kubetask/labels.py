"""The label and annotation keys kubetask puts on the objects it creates, and label-value trimming.

One home for each key: the Job builder writes them, the operator's handlers and sweep select on
them, the API's redrive sets `LABEL_REDRIVE_OF`. Label values are capped at 63 characters, so the
full Task name travels in an annotation too.
"""

from __future__ import annotations

LABEL_TASK = "kubetask.io/task"  # the Task's name, trimmed to a label value
LABEL_TASK_UID = "kubetask.io/task-uid"  # what every Job and pod of a Task is selected by
LABEL_ATTEMPT = "kubetask.io/attempt"
LABEL_TEMPLATE = "kubetask.io/template"
LABEL_REDRIVE_OF = "kubetask.io/redrive-of"  # on a Task created by redriving a dead letter
LABEL_SCHEDULE = "kubetask.io/schedule"  # on a run Task: its TaskSchedule's name, trimmed to a label value
LABEL_TRIGGER = "kubetask.io/trigger"  # on a run Task the API made: `manual` (trigger now) or `backfill`
TRIGGER_MANUAL = "manual"
TRIGGER_BACKFILL = "backfill"
ANNOTATION_TASK = "kubetask.io/task"  # full Task name (labels are capped at 63 characters)
ANNOTATION_PARAMS = "kubetask.io/params"
ANNOTATION_RESULT_SCHEMA = "kubetask.io/result-schema"
ANNOTATION_TIMEOUT = "kubetask.io/timeout-seconds"
ANNOTATION_SUBMITTED_BY = "kubetask.io/submitted-by"  # on a Task the API created: the caller's user name
ANNOTATION_SCHEDULED_TIME = "kubetask.io/scheduled-time"  # on a run Task: the nominal instant it runs for (RFC 3339)
MAX_LABEL_VALUE = 63  # also the limit of a Job name, which becomes the pod label job-name


def label_value(value: str) -> str:
    """`value` cut to a valid label value: at most 63 characters, ending alphanumerically."""
    return value[:MAX_LABEL_VALUE].rstrip("-_.")
