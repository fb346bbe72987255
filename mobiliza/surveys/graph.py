"""The survey description runners use, and the question graph: validation and branch following.

Everything here is pure (no database): it works on the plain, JSON-serializable description stored
in `SurveyVersion.definition`::

    {"name": ..., "description": ..., "language": "en",
     "questions": [
        {"id": "<question public uuid>", "key": "support", "type": "single",
         "label": "...", "guidance": "...", "required": true,
         "choices": [
            {"id": "<choice public uuid>", "key": "yes", "label": "Yes",
             "branch": {"kind": "goto", "to": "plan"},          # or "next" / "end" (to: null)
             "effects": {"support_level": 5, "tag_add": "", "tag_remove": "",
                         "do_not_contact": false, "consent_channel": "", "consent_granted": true}}
         ]}
     ]}

Graph rules: a question leads to the next question in order unless a chosen choice branches
("go to question X" or "end the survey"). For a multiple-choice answer, the first chosen choice
(in the question's choice order) that has a branch decides. A valid survey has no cycle, no branch
to a missing question, and every question is reachable from the first one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from django.utils.translation import gettext as _

CHOICE_TYPE_NAMES = frozenset({"single", "multiple", "yes_no", "scale"})


class BranchDesc(TypedDict):
    kind: str  # "next" | "goto" | "end"
    to: str | None  # question key when kind == "goto"


class EffectsDesc(TypedDict):
    support_level: int | None
    tag_add: str
    tag_remove: str
    do_not_contact: bool
    consent_channel: str  # "" | "phone" | "sms" | "email"
    consent_granted: bool


class ChoiceDesc(TypedDict):
    id: str
    key: str
    label: str
    branch: BranchDesc
    effects: EffectsDesc


class QuestionDesc(TypedDict):
    id: str
    key: str
    type: str
    label: str
    guidance: str
    required: bool
    choices: list[ChoiceDesc]


class SurveyDesc(TypedDict, total=False):
    survey_id: str
    version_id: str
    version: int
    name: str
    description: str
    language: str
    questions: list[QuestionDesc]


END = None  # an edge to the end of the survey


@dataclass(frozen=True)
class GraphProblem:
    kind: str  # "missing" | "cycle" | "unreachable"
    question_key: str
    message: str


def question_by_key(description: Mapping[str, Any], key: str) -> QuestionDesc | None:
    for question in description.get("questions", []):
        if question["key"] == key:
            return question
    return None


def _title(questions: Sequence[QuestionDesc], index: int) -> str:
    label = questions[index]["label"]
    short = label if len(label) <= 60 else label[:57] + "…"
    return _("question %(n)s (“%(label)s”)") % {"n": index + 1, "label": short}


def edges(questions: Sequence[QuestionDesc], index: int) -> list[str | None]:
    """Where question `index` can lead: question keys (maybe missing ones) or END (None)."""
    default: str | None = questions[index + 1]["key"] if index + 1 < len(questions) else END
    question = questions[index]
    targets: list[str | None] = []
    # The default edge exists unless every possible answer branches: a non-choice question, a
    # question that may be skipped, or one choice without a branch all go on in order.
    has_default = (
        question["type"] not in CHOICE_TYPE_NAMES
        or not question["choices"]
        or not question["required"]
    )
    for choice in question["choices"]:
        branch = choice["branch"]
        if branch["kind"] == "goto":
            targets.append(branch["to"] or "")
        elif branch["kind"] == "end":
            targets.append(END)
        else:
            has_default = True
    if has_default:
        targets.append(default)
    seen: list[str | None] = []
    for target in targets:
        if target not in seen:
            seen.append(target)
    return seen


def graph_problems(questions: Sequence[QuestionDesc]) -> list[GraphProblem]:
    """Every problem of the graph, each naming the question at fault. Empty list: valid."""
    problems: list[GraphProblem] = []
    index_of = {q["key"]: i for i, q in enumerate(questions)}
    adjacency: dict[str, list[str]] = {}
    for i, question in enumerate(questions):
        targets = []
        for target in edges(questions, i):
            if target is END:
                continue
            if target not in index_of:
                problems.append(
                    GraphProblem(
                        "missing",
                        question["key"],
                        _("%(question)s branches to a question that does not exist.")
                        % {"question": _title(questions, i)},
                    )
                )
                continue
            targets.append(target)
        adjacency[question["key"]] = targets

    # Cycles: iterative depth-first search with colours (0 new, 1 on the stack, 2 done).
    colour = dict.fromkeys(adjacency, 0)
    reported: set[str] = set()
    for start in adjacency:
        if colour[start]:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        colour[start] = 1
        while stack:
            node, next_edge = stack[-1]
            if next_edge < len(adjacency[node]):
                stack[-1] = (node, next_edge + 1)
                target = adjacency[node][next_edge]
                if colour[target] == 0:
                    colour[target] = 1
                    stack.append((target, 0))
                    path.append(target)
                elif colour[target] == 1 and node not in reported:
                    reported.add(node)
                    loop = [*path[path.index(target) :], target]
                    problems.append(
                        GraphProblem(
                            "cycle",
                            node,
                            _("%(question)s leads back to question %(n)s: a loop (%(loop)s).")
                            % {
                                "question": _title(questions, index_of[node]),
                                "n": index_of[target] + 1,
                                "loop": " → ".join(str(index_of[k] + 1) for k in loop),
                            },
                        )
                    )
            else:
                colour[node] = 2
                stack.pop()
                path.pop()

    # Reachability from the first question.
    if questions:
        reached = {questions[0]["key"]}
        frontier = [questions[0]["key"]]
        while frontier:
            node = frontier.pop()
            for target in adjacency[node]:
                if target not in reached:
                    reached.add(target)
                    frontier.append(target)
        for i, question in enumerate(questions):
            if question["key"] not in reached:
                problems.append(
                    GraphProblem(
                        "unreachable",
                        question["key"],
                        _("%(question)s can never be reached: no question leads to it.")
                        % {"question": _title(questions, i)},
                    )
                )
    return problems


def chosen_keys(question: QuestionDesc, answer: Any) -> list[str]:
    """The choice keys an answer selects (empty for non-choice questions and skipped answers)."""
    if question["type"] not in CHOICE_TYPE_NAMES or answer in (None, "", [], ()):
        return []
    values = answer if isinstance(answer, list | tuple) else [answer]
    wanted = {normalize_choice_value(question, v) for v in values}
    return [c["key"] for c in question["choices"] if c["key"] in wanted]


def normalize_choice_value(question: QuestionDesc, value: Any) -> str:
    """Booleans for yes/no and integers for scales become their choice keys."""
    if question["type"] == "yes_no" and isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip()


def next_question(description: Mapping[str, Any], current_key: str, answer: Any) -> str | None:
    """The key of the question that follows `current_key` given `answer`; None: the survey ends.

    Raises KeyError when `current_key` is not a question of this description.
    """
    questions: list[QuestionDesc] = description.get("questions", [])
    index = next((i for i, q in enumerate(questions) if q["key"] == current_key), None)
    if index is None:
        raise KeyError(current_key)
    question = questions[index]
    chosen = set(chosen_keys(question, answer))
    for choice in question["choices"]:
        if choice["key"] in chosen and choice["branch"]["kind"] != "next":
            if choice["branch"]["kind"] == "end":
                return None
            return choice["branch"]["to"]
    return questions[index + 1]["key"] if index + 1 < len(questions) else None


def remaining_steps(description: Mapping[str, Any], key: str) -> int:
    """The longest number of questions still to ask from `key` included (for progress bars)."""
    questions: list[QuestionDesc] = description.get("questions", [])
    index_of = {q["key"]: i for i, q in enumerate(questions)}
    memo: dict[str, int] = {}

    def longest(node: str, visiting: frozenset[str]) -> int:
        if node in memo:
            return memo[node]
        if node in visiting or node not in index_of:
            return 0
        best = 0
        for target in edges(questions, index_of[node]):
            if target is not END:
                best = max(best, longest(target, visiting | {node}))
        memo[node] = best + 1
        return best + 1

    return longest(key, frozenset())
