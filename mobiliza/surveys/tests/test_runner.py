"""The stepper (one question at a time) follows branches like `next_question`, and Back retraces
the path; the one-form runner requires questions only on the path taken."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mobiliza.surveys.graph import graph_problems, next_question
from mobiliza.surveys.runner import END, form_runner, stepper_step
from mobiliza.surveys.tests.test_graph import graphs


def post(fields: list[tuple[str, str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in fields:
        data.appendlist(name, value)
    return data


def press(description: Any, state: Any, action: str, answer: str | None = None) -> Any:
    fields = [*state.hidden, ("survey-current", state.current_key), ("survey-action", action)]
    if answer is not None and state.current is not None:
        fields.append((state.current.name, answer))
    elif state.current is not None and state.current.value:
        fields.append((state.current.name, state.current.value))
    return stepper_step(description, post(fields))


@settings(max_examples=150, deadline=None)
@given(graphs(), st.lists(st.integers(min_value=0, max_value=5), min_size=8, max_size=8))
def test_stepper_matches_next_question_and_back_retraces(questions: Any, picks: list[int]) -> None:
    assume(not graph_problems(questions))
    for q in questions:
        if q["type"] == "short_text":
            q["required"] = False
    description = {"questions": questions}
    state = stepper_step(description, None)
    path: list[str] = []
    step = 0
    while not state.at_end:
        current = state.current.question
        answer = (
            current["choices"][picks[step % len(picks)] % len(current["choices"])]["key"]
            if current["choices"]
            else "some text"
        )
        expected = next_question(description, current["key"], answer)
        path.append(current["key"])
        state = press(description, state, "next", answer)
        assert state.current_key == (END if expected is None else expected)
        assert state.step == len(path) + 1
        step += 1
        assert step <= len(questions)
    assert list(state.answers) == path  # the review holds exactly the answers on the path
    assert press(description, state, "save").complete
    for key in reversed(path):
        state = press(description, state, "back")
        assert state.current_key == key


def test_forged_current_question_cannot_skip_a_required_one() -> None:
    from mobiliza.surveys.tests.test_graph import q

    description = {"questions": [q("a", [("x", "next", None)]), q("b", [("y", "next", None)])]}
    state = stepper_step(
        description, post([("survey-current", "b"), ("survey-action", "next"), ("q-b", "y")])
    )
    assert state.current_key == "a"  # "b" is not on the path without an answer to "a"
    state = stepper_step(
        description, post([("survey-current", END), ("survey-action", "save"), ("q-b", "y")])
    )
    assert not state.complete and state.current_key == "a"
    assert "needs an answer" in state.current.error


def test_one_form_requires_only_the_path_taken() -> None:
    from mobiliza.surveys.tests.test_graph import q

    description = {
        "questions": [
            q("a", [("stop", "end", None), ("go", "next", None)]),
            q("b", [("y", "next", None)]),
        ]
    }
    runner = form_runner(description, post([("q-a", "stop")]))
    assert runner.is_valid and runner.answers == {"a": "stop"}
    runner = form_runner(description, post([("q-a", "go")]))
    assert not runner.is_valid and set(runner.errors) == {"b"}
