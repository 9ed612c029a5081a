"""Cron expressions of the schedule trigger: six fields put the seconds last, and an
expression written for Quartz (seconds first) is told apart, with its equivalent."""

from __future__ import annotations

import pytest

from tav.engine.plan import validate
from tav.nodes.builtin.triggers import cron
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, workflow


@pytest.mark.parametrize(
    ("quartz", "here"),
    [
        ("0 0 12 * * ?", "0 12 * * *"),  # noon every day
        ("0 0 9 ? * MON-FRI", "0 9 * * MON-FRI"),
        ("0 30 9 ? * 2-6", "30 9 * * 1-5"),  # Quartz counts weekdays from 1 = Sunday
        ("15 0/10 * * * ?", "0/10 * * * * 15"),  # seconds other than 0 move to the end
        ("0 15 10 ? * 6#3", "15 10 * * 5#3"),  # the third Friday
        ("0 */5 * * * *", "*/5 * * * *"),
    ],
)
def test_a_quartz_expression_and_its_equivalent_here(quartz: str, here: str) -> None:
    assert cron.quartz_equivalent(quartz) == here


@pytest.mark.parametrize(
    "expression", ["0 9 * * mon-fri", "*/15 * * * * 30", "30 9 * * 1-5 0", "* * * * * * *"]
)
def test_expressions_written_for_here_are_not_taken_for_quartz(expression: str) -> None:
    assert cron.quartz_equivalent(expression) is None
    assert cron.problem(expression) is None
    assert cron.warning(expression) is None


def test_problems_say_what_the_fields_are() -> None:
    assert cron.problem("61 * * * *") == (
        "'61 * * * *' is not a valid cron expression (minute hour day-of-month month day-of-week)"
    )
    assert cron.problem("0 0 9 ? * MON-FRI") == (
        "'0 0 9 ? * MON-FRI' is not a valid cron expression: six fields are minute hour "
        "day-of-month month day-of-week second (seconds last), not first as in Quartz; "
        "written for Quartz, it is '0 9 * * MON-FRI' here"
    )
    assert cron.problem("every day").endswith(  # type: ignore[union-attr]
        "it has 2 fields; five are minute hour day-of-month month day-of-week, a sixth "
        "counts seconds, a seventh years"
    )


def test_the_field_names() -> None:
    assert cron.field_names("0 9 * * *")[-1] == "day of week"
    assert cron.field_names("0 9 * * * 30")[-1] == "second"


def test_a_workflow_with_a_quartz_cron_is_refused_at_its_cron(registry: NodeRegistry) -> None:
    wf = workflow(node("tick", "trigger.schedule", params={"cron": "0 0 12 * * ?"}))
    (problem,) = validate(wf, registry)
    assert (problem.node, problem.field) == ("tick", "params.cron")
    assert "written for Quartz, it is '0 12 * * *' here" in problem.message
