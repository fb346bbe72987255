"""Graph validation and branch following, checked against an independent oracle."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mobiliza.surveys.graph import (
    QuestionDesc,
    edges,
    graph_problems,
    next_question,
    remaining_steps,
)


def q(key: str, choices: list[tuple[str, str, str | None]] = (), qtype: str = "single",
      required: bool = True) -> QuestionDesc:  # fmt: skip
    return {
        "id": key,
        "key": key,
        "type": qtype if choices or qtype != "single" else "short_text",
        "label": f"Label {key}",
        "guidance": "",
        "required": required,
        "choices": [
            {
                "id": f"{key}-{ck}",
                "key": ck,
                "label": ck,
                "branch": {"kind": kind, "to": to},
                "effects": {
                    "support_level": None,
                    "tag_add": "",
                    "tag_remove": "",
                    "do_not_contact": False,
                    "consent_channel": "",
                    "consent_granted": True,
                },
            }
            for ck, kind, to in choices
        ],
    }


def kinds(questions: list[QuestionDesc]) -> set[tuple[str, str]]:
    return {(p.kind, p.question_key) for p in graph_problems(questions)}


def test_linear_survey_is_valid() -> None:
    assert graph_problems([q("a"), q("b"), q("c")]) == []


def test_cycle_is_named() -> None:
    questions = [q("a"), q("b", [("x", "goto", "a"), ("y", "next", None)]), q("c")]
    problems = graph_problems(questions)
    assert [p.kind for p in problems] == ["cycle"]
    assert "question 2" in problems[0].message and "loop" in problems[0].message


def test_self_loop_is_a_cycle() -> None:
    assert ("cycle", "a") in kinds([q("a", [("x", "goto", "a"), ("y", "next", None)])])


def test_branch_to_missing_question() -> None:
    problems = graph_problems([q("a", [("x", "goto", "zzz"), ("y", "next", None)]), q("b")])
    assert [p.kind for p in problems] == ["missing"]
    assert "does not exist" in problems[0].message


def test_unreachable_question_when_every_choice_branches_past_it() -> None:
    questions = [q("a", [("x", "goto", "c"), ("y", "end", None)]), q("b"), q("c")]
    assert kinds(questions) == {("unreachable", "b")}
    # An optional question may be skipped: then "next" is possible and b is reachable.
    questions[0]["required"] = False
    assert graph_problems(questions) == []


def test_backward_branch_without_cycle_is_allowed() -> None:
    questions = [
        q("a", [("x", "goto", "c"), ("y", "goto", "d")]),
        q("b", [("z", "goto", "d")]),
        q("c", [("w", "goto", "b")]),
        q("d"),
    ]
    assert graph_problems(questions) == []


def test_next_question_follows_branches() -> None:
    description = {
        "questions": [
            q("a", [("yes", "next", None), ("maybe", "goto", "c"), ("no", "end", None)]),
            q("b"),
            q("c", [("h", "next", None), ("j", "goto", "e"), ("k", "end", None)], "multiple"),
            q("d"),
            q("e"),
        ]
    }
    assert next_question(description, "a", "yes") == "b"
    assert next_question(description, "a", "maybe") == "c"
    assert next_question(description, "a", "no") is None
    assert next_question(description, "a", None) == "b"  # skipped: default
    assert next_question(description, "b", "text") == "c"
    # Multiple choice: the first chosen choice (in choice order) with a branch decides.
    assert next_question(description, "c", ["k", "j"]) == "e"
    assert next_question(description, "c", ["h"]) == "d"
    assert next_question(description, "e", "x") is None
    assert remaining_steps(description, "a") == 5
    assert remaining_steps(description, "e") == 1


# --- hypothesis: random graphs against an oracle -----------------------------------------------
@st.composite
def graphs(draw: Any) -> list[QuestionDesc]:
    n = draw(st.integers(min_value=1, max_value=7))
    keys = [f"k{i}" for i in range(n)]
    targets = [*keys, "missing", None]
    questions = []
    for key in keys:
        n_choices = draw(st.integers(min_value=0, max_value=3))
        choices = []
        for c in range(n_choices):
            target = draw(st.sampled_from([*targets, "__next__"]))
            if target == "__next__":
                choices.append((f"c{c}", "next", None))
            elif target is None:
                choices.append((f"c{c}", "end", None))
            else:
                choices.append((f"c{c}", "goto", target))
        questions.append(q(key, choices, required=draw(st.booleans())))
    return questions


def oracle(questions: list[QuestionDesc]) -> tuple[bool, set[str], set[str]]:
    """(has a cycle, unreachable keys, keys with a missing branch), by transitive closure."""
    keys = [x["key"] for x in questions]

    def oracle_edges(i: int) -> set[str | None]:
        default = keys[i + 1] if i + 1 < len(keys) else None
        found: set[str | None] = set()
        for choice in questions[i]["choices"]:
            kind, to = choice["branch"]["kind"], choice["branch"]["to"]
            found.add(to if kind == "goto" else (None if kind == "end" else default))
        choice_question = questions[i]["type"] in {"single", "multiple", "yes_no", "scale"}
        if not (choice_question and questions[i]["choices"] and questions[i]["required"]):
            found.add(default)
        return found

    adjacency = {
        k: {t for t in oracle_edges(i) if t is not None and t in keys} for i, k in enumerate(keys)
    }
    missing = {
        k
        for i, k in enumerate(keys)
        if any(t is not None and t not in keys for t in oracle_edges(i))
    }
    # Warshall's algorithm on a boolean matrix.
    reach = {a: {b: b in adjacency[a] for b in keys} for a in keys}
    for m in keys:
        for a in keys:
            if reach[a][m]:
                for b in keys:
                    if reach[m][b]:
                        reach[a][b] = True
    cycle = any(reach[k][k] for k in keys)
    unreachable = {k for k in keys[1:] if not reach[keys[0]][k]}
    return cycle, unreachable, missing


def test_edges_default_rule() -> None:
    # The independent statement of the default edge, used by the oracle.
    questions = [q("a", [("x", "goto", "b")]), q("b")]
    assert edges(questions, 0) == ["b"]
    questions = [q("a", [("x", "end", None)], required=True), q("b")]
    assert edges(questions, 0) == [None]


@settings(max_examples=400, deadline=None)
@given(graphs())
def test_graph_problems_match_oracle(questions: list[QuestionDesc]) -> None:
    cycle, unreachable, missing = oracle(questions)
    problems = graph_problems(questions)
    assert any(p.kind == "cycle" for p in problems) == cycle
    assert {p.question_key for p in problems if p.kind == "unreachable"} == unreachable
    assert {p.question_key for p in problems if p.kind == "missing"} == missing
    if not problems:
        # A valid graph: following any answers from the first question ends, never loops.
        description = {"questions": questions}
        for start_choice in range(4):
            key: str | None = questions[0]["key"]
            seen = set()
            while key is not None:
                assert key not in seen
                seen.add(key)
                current = next(x for x in questions if x["key"] == key)
                chosen = (
                    current["choices"][start_choice % len(current["choices"])]["key"]
                    if current["choices"]
                    else None
                )
                key = next_question(description, key, chosen)
