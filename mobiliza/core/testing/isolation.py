"""Registry used by the cross-organization isolation test.

Every model that a URL or API path addresses by id registers a maker here (in its app's
`tests/factories.py`): `make(organization) -> instance`. The isolation test walks every URL pattern
and every OpenAPI path, builds an object in organization B for each id in it, and checks that a
member of organization A gets a 404, while a member of B does not. A new id-taking URL whose model
has no maker fails that test until one is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Maker = Callable[[Any], Any]

# URL kwarg / path parameter name -> model label ("app_label.modelname")
KWARG_MODELS: dict[str, str] = {}
MAKERS: dict[str, Maker] = {}


def register_isolation_maker(model_label: str, maker: Maker, *kwargs: str) -> None:
    """`kwargs` are the URL kwarg names that address this model (default `<modelname>_id`)."""
    label = model_label.lower()
    MAKERS[label] = maker
    names = kwargs or (label.split(".")[1] + "_id",)
    for name in names:
        KWARG_MODELS[name] = label
