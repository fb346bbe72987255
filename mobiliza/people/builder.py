"""The segment builder's form: a definition tree flattened into form fields, and back.

Every node has a path ("r" is the root group, "r.0" its first child, "r.0.2"...). The form
sends, for each node, `n=<path>:<group|leaf>` plus `<path>.op` (and / or), `<path>.not`
(checkbox), `<path>.filter` and `<path>.p.<param>` for a leaf. Buttons send
`action=add:<path>`, `group:<path>` or `del:<path>`. The same encoding works with htmx (the
builder re-renders in place) and without JavaScript (a plain GET of the people page), so a
built filter is also a link that can be shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.http import QueryDict

from mobiliza.people.filters import FilterSpec, definition_to_q, get_filter, registered_filters

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization

ROOT = "r"
MAX_NODES = 60


@dataclass
class Node:
    path: str
    kind: str  # group | leaf
    op: str = "and"
    negate: bool = False
    filter: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    error: str = ""
    spec: FilterSpec | None = None
    fields: list[dict[str, Any]] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return self.path.count(".")

    @property
    def is_group(self) -> bool:
        return self.kind == "group"


def _sort_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in path.split(".")[1:] if part.isdigit())


def tree_from_form(data: QueryDict | Mapping[str, Any]) -> Node:
    """The builder tree from submitted form fields (unknown or broken parts are dropped)."""

    def get(key: str) -> str:
        value = data.get(key, "")
        return str(value) if value is not None else ""

    entries: list[tuple[str, str]] = []
    raw_nodes = data.getlist("n") if isinstance(data, QueryDict) else data.get("n", [])
    for raw in list(raw_nodes)[:MAX_NODES]:
        path, _sep, kind = str(raw).partition(":")
        if path == ROOT or (
            path.startswith(ROOT + ".") and all(part.isdigit() for part in path.split(".")[1:])
        ):
            entries.append((path, "group" if kind == "group" else "leaf"))
    nodes: dict[str, Node] = {ROOT: Node(path=ROOT, kind="group")}
    for path, kind in sorted(entries, key=lambda e: (e[0].count("."), _sort_key(e[0]))):
        if path == ROOT:
            continue
        parent = nodes.get(path.rsplit(".", 1)[0])
        if parent is None or not parent.is_group:
            continue
        node = Node(path=path, kind=kind)
        parent.children.append(node)
        nodes[path] = node
    for path, node in nodes.items():
        node.negate = get(f"{path}.not") in {"1", "on", "true"}
        if node.is_group:
            node.op = "or" if get(f"{path}.op") == "or" else "and"
        else:
            node.filter = get(f"{path}.filter")
            prefix = f"{path}.p."
            keys = data.keys()
            node.params = {
                k.removeprefix(prefix): get(k)
                for k in keys
                if k.startswith(prefix) and get(k) != ""
            }
    _renumber(nodes[ROOT])
    return nodes[ROOT]


def _renumber(node: Node) -> None:
    for index, child in enumerate(node.children):
        child.path = f"{node.path}.{index}"
        _renumber(child)


def tree_from_definition(definition: Mapping[str, Any] | None) -> Node:
    """The builder tree of a saved definition (for editing a segment)."""

    def build(item: Mapping[str, Any], path: str, negate: bool = False) -> Node:
        if "filter" in item:
            params = item.get("params") or {}
            return Node(
                path=path,
                kind="leaf",
                negate=negate,
                filter=str(item["filter"]),
                params={
                    str(k): ", ".join(map(str, v)) if isinstance(v, list) else str(v)
                    for k, v in params.items()
                }
                if isinstance(params, Mapping)
                else {},
            )
        op = item.get("op")
        children = [c for c in item.get("children") or [] if isinstance(c, Mapping)]
        if op == "not" and len(children) == 1:
            return build(children[0], path, negate=not negate)
        node = Node(path=path, kind="group", op="or" if op == "or" else "and", negate=negate)
        node.children = [build(c, f"{path}.{i}") for i, c in enumerate(children)]
        return node

    if not definition:
        return Node(path=ROOT, kind="group")
    root = build(definition, ROOT)
    if not root.is_group:
        root = Node(path=ROOT, kind="group", children=[root])
        _renumber(root)
    return root


def _find(node: Node, path: str) -> Node | None:
    if node.path == path:
        return node
    for child in node.children:
        if path == child.path or path.startswith(child.path + "."):
            return _find(child, path)
    return None


def apply_action(root: Node, action: str) -> Node:
    """Add a condition or a group to a group, or remove a node."""
    verb, _sep, path = action.partition(":")
    target = _find(root, path)
    if target is None:
        return root
    count = sum(1 for _n in _walk(root))
    if verb in {"add", "group"} and target.is_group and count < MAX_NODES:
        kind = "group" if verb == "group" else "leaf"
        new = Node(path=f"{target.path}.{len(target.children)}", kind=kind)
        if kind == "group":
            new.op = "or"
            new.children.append(Node(path=f"{new.path}.0", kind="leaf"))
        target.children.append(new)
    elif verb == "del" and target.path != ROOT:
        parent = _find(root, target.path.rsplit(".", 1)[0])
        if parent is not None:
            parent.children = [c for c in parent.children if c.path != target.path]
    _renumber(root)
    return root


def _walk(node: Node) -> list[Node]:
    return [node, *(n for child in node.children for n in _walk(child))]


def _coerce_params(spec: FilterSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    known = {p.name: p for p in spec.params}
    result: dict[str, Any] = {}
    for name, value in params.items():
        param = known.get(name)
        if param is None or value in ("", None):
            continue
        if param.type == "choices":
            result[name] = [v.strip() for v in str(value).split(",") if v.strip()]
        else:
            result[name] = value
    return result


def tree_to_definition(root: Node, organization: Organization) -> dict[str, Any]:
    """The definition of the complete conditions. A condition that is not filled in yet is left
    out; one that is wrong is left out and carries its error message for the page."""

    def convert(node: Node) -> dict[str, Any] | None:
        item: dict[str, Any] | None
        if node.is_group:
            children = [c for c in (convert(child) for child in node.children) if c]
            item = {"op": node.op, "children": children} if children else None
        else:
            node.error = ""
            if not node.filter:
                return None
            try:
                spec = get_filter(node.filter)
            except ValidationError as exc:
                node.error = " ".join(exc.messages)
                return None
            node.spec = spec
            item = {"filter": spec.key, "params": _coerce_params(spec, node.params)}
            try:
                definition_to_q(organization, item)
            except ValidationError as exc:
                # Say nothing while required values are still missing; say what is wrong.
                if any(
                    item["params"].get(p.name) for p in spec.params if p.type != "choice"
                ) or not [p for p in spec.params if p.required and p.type != "choice"]:
                    node.error = " ".join(exc.messages)
                return None
        if item is not None and node.negate:
            item = {"op": "not", "children": [item]}
        return item

    return convert(root) or {}


def attach_specs(root: Node) -> None:
    specs = {s.key: s for s in registered_filters()}
    for node in _walk(root):
        if not node.is_group:
            node.spec = specs.get(node.filter)


def tree_is_empty(root: Node) -> bool:
    return not root.children


def attach_widgets(
    root: Node,
    organization: Organization,
    *,
    tags: list[str],
    elections: list[tuple[str, str]],
    custom_fields: list[tuple[str, str]],
) -> None:
    """For each condition, its parameter inputs: name, label, type, value and choices."""
    dynamic: dict[str, list[tuple[str, str]]] = {
        "tag": [(t, t) for t in tags],
        "election": elections,
        "custom_field": custom_fields,
    }
    for node in _walk(root):
        if node.is_group or node.spec is None:
            node.fields = []
            continue
        node.fields = []
        for param in node.spec.params:
            choices: list[tuple[str, str]] | None = None
            if param.options is not None:
                choices = param.options(organization)
            elif param.type == "choice":
                choices = [(value, str(label)) for value, label in param.choices]
            elif param.type in dynamic:
                choices = dynamic[param.type]
            node.fields.append(
                {
                    "name": param.name,
                    "label": str(param.label),
                    "type": param.type,
                    "value": node.params.get(param.name, ""),
                    "choices": choices,
                    "required": param.required,
                    "input": {"number": "number", "date": "date"}.get(param.type, "text"),
                }
            )
