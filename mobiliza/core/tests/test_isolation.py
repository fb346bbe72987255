"""No organization can read or change another's rows through any URL or API endpoint.

The test walks every URL pattern and every OpenAPI path. For each id in it, it builds the object in
organization B (with the maker registered in `mobiliza.core.testing.isolation`), then:

* a member of organization A (an admin: the widest role) gets a 404 for every method;
* a member of organization B does not get a 404 for GET (so the URL was real and the test can fail).

A new URL that takes an id of a model without a maker fails here until one is registered.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import api_client_for, client_for
from mobiliza.core.testing.isolation import KWARG_MODELS, MAKERS

# URL kwargs that are not object ids: (kwarg, why it is safe)
NOT_OBJECT_IDS = {
    "token": "secret tokens (invitations, share links) are unguessable and checked by hash",
    "uidb64": "Django's password reset",
    "path": "static and media files",
}
SKIPPED_PREFIXES = ("django-admin/", "api/v1/", "i18n/", "static/", "media/")


def _walk(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found.extend(_walk(entry, route))
        else:
            found.append((route, entry))
    return found


def _html_routes() -> list[str]:
    routes = []
    for route, pattern in _walk(get_resolver()):
        if route.startswith(SKIPPED_PREFIXES):
            continue
        kwargs = set(pattern.pattern.regex.groupindex)
        if kwargs and not kwargs <= set(NOT_OBJECT_IDS):
            routes.append(route)
    return sorted(set(routes))


def _api_paths() -> list[tuple[str, str]]:
    from config.api import api

    schema = api.get_openapi_schema()
    result = []
    for path, methods in schema["paths"].items():
        if "{" not in path:
            continue
        for method in methods:
            result.append((method.upper(), path))
    return sorted(result)


def _model_for(name: str) -> str:
    if name not in KWARG_MODELS:
        pytest.fail(
            f"URL parameter {name!r} has no isolation maker: register one with "
            "register_isolation_maker() in the owning app's tests/factories.py"
        )
    label = KWARG_MODELS[name]
    if label not in MAKERS:
        pytest.fail(f"No isolation maker for {label}")
    return label


def _build(route_or_path: str, names: list[str], organization: Any) -> tuple[str, list[Any]]:
    """Replace each id parameter with the public id of a fresh object of `organization`."""
    url = route_or_path
    made = []
    for name in names:
        instance = MAKERS[_model_for(name)](organization)
        made.append(instance)
        value = str(getattr(instance, "public_id", instance.pk))
        url = re.sub(r"<(?:\w+:)?" + name + r">", value, url)
        url = url.replace("{" + name + "}", value)
    return url, made


def _dummy(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _dummy(components[schema["$ref"].split("/")[-1]], components)
    if "anyOf" in schema:
        return _dummy(schema["anyOf"][0], components)
    if "allOf" in schema:
        return _dummy(schema["allOf"][0], components)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            key: _dummy(sub, components)
            for key, sub in schema.get("properties", {}).items()
            if key in schema.get("required", [])
        }
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if schema.get("format") == "email":
        return "x@example.org"
    if schema.get("format") == "uuid":
        return "00000000-0000-0000-0000-000000000000"
    if schema.get("format") == "date-time":
        return "2030-01-01T10:00:00Z"
    if schema.get("format") == "date":
        return "2030-01-01"
    return "x"


def _owner(objects: list[Any], organization: Any) -> Any:
    """The member who may use these objects: the one a maker named, else a new admin."""
    from mobiliza.accounts.tests.factories import make_member

    for obj in objects:
        owner = getattr(obj, "isolation_owner", None)
        if owner is not None:
            return owner
    return make_member(organization, "admin")


@pytest.mark.parametrize("route", _html_routes())
def test_html_url_is_isolated(route: str, org: Any, other_org: Any) -> None:
    from mobiliza.accounts.tests.factories import make_member

    names = list(re.findall(r"<(?:\w+:)?(\w+)>", route))
    names = [n for n in names if n not in NOT_OBJECT_IDS]
    url, _objs = _build("/" + route, names, other_org)
    intruder = client_for(make_member(org, "admin"))
    for method in ("get", "post"):
        response = getattr(intruder, method)(url)
        assert response.status_code in (404, 405), (method, url, response.status_code)
    assert intruder.get(url).status_code == 404 or intruder.post(url).status_code == 404
    owner = client_for(_owner(_objs, other_org))
    get_status = owner.get(url).status_code
    post_status = owner.post(url).status_code
    assert get_status not in (404, 405) or post_status not in (404, 405), (
        f"{url} is 404 for its own organization too: the test would prove nothing"
    )


@pytest.mark.parametrize(("method", "path"), _api_paths())
def test_api_path_is_isolated(method: str, path: str, org: Any, other_org: Any) -> None:
    from config.api import api
    from mobiliza.accounts.tests.factories import make_member

    schema = api.get_openapi_schema()
    operation = schema["paths"][path][method.lower()]
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    url, made = _build("/api/v1" + path.removeprefix("/api/v1"), names, other_org)
    body = None
    if "requestBody" in operation:
        content = operation["requestBody"]["content"]
        if "application/json" in content:
            body = _dummy(
                content["application/json"]["schema"],
                schema.get("components", {}).get("schemas", {}),
            )
    stamps = [getattr(obj, "updated_at", None) for obj in made]
    intruder = api_client_for(make_member(org, "admin"))
    response = intruder.generic(
        method,
        url,
        data=__import__("json").dumps(body) if body is not None else "",
        content_type="application/json",
    )
    assert response.status_code == 404 or (body is not None and response.status_code == 422), (
        method,
        url,
        response.status_code,
        response.content[:300],
    )
    for obj, stamp in zip(made, stamps, strict=True):
        if stamp is not None and type(obj).objects.filter(pk=obj.pk).exists():
            obj.refresh_from_db()
            assert obj.updated_at == stamp, f"{method} {url} changed another organization's row"
    if method == "GET":
        owner = api_client_for(_owner(made, other_org))
        assert owner.get(url).status_code != 404, f"{url} is 404 for its own organization too"


def test_every_registered_kwarg_has_a_maker() -> None:
    assert set(KWARG_MODELS.values()) <= set(MAKERS)
