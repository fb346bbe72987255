"""People pages: the two lists with search, keyset paging and the segment builder; the person
page and its edit; segments; duplicates and merge; custom fields; CSV export.

Thin views over `people.services` and `people.selectors`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mobiliza.core.audit import audit_record
from mobiliza.core.forms import form_add_service_errors
from mobiliza.core.htmx import hx_redirect, is_htmx
from mobiliza.core.models import AuditEvent
from mobiliza.core.permissions import Perm, has_perm
from mobiliza.core.tenancy import org_view
from mobiliza.core.types import OrgRequest
from mobiliza.people import builder, selectors, services
from mobiliza.people.dedupe import duplicate_groups
from mobiliza.people.forms import CustomFieldForm, PersonForm, PhoneForm
from mobiliza.people.models import CustomField, Person, PersonList, Segment
from mobiliza.people.panels import person_panels

LIST_CHOICES = dict(PersonList.choices)


def _list_param(request: OrgRequest, default: str = PersonList.CONTACTS) -> str:
    value = request.GET.get("list") or request.POST.get("list") or default
    return value if value in LIST_CHOICES else default


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


def _builder_context(request: OrgRequest, tree: builder.Node) -> dict[str, Any]:
    organization = request.organization
    builder.attach_specs(tree)
    definition = builder.tree_to_definition(tree, organization)
    builder.attach_widgets(
        tree,
        organization,
        tags=list(selectors.tags_for(organization=organization).values_list("name", flat=True)),
        elections=[(e.label, str(e)) for e in selectors.elections_for(organization=organization)],
        custom_fields=[
            (cf.key, cf.label) for cf in selectors.custom_fields_for(organization=organization)
        ],
    )
    return {
        "tree": tree,
        "definition": definition,
        "filters": builder.registered_filters(),
    }


def _tree_from_request(request: OrgRequest, data: QueryDict) -> builder.Node:
    tree = builder.tree_from_form(data)
    action = data.get("action", "")
    if action:
        tree = builder.apply_action(tree, action)
    return tree


def _count(
    request: OrgRequest, list_name: str, definition: dict[str, Any], search: str = ""
) -> tuple[int | None, str]:
    try:
        qs = selectors.people_queryset(
            organization=request.organization,
            list=list_name,
            definition=definition,
            search=search,
        )
        return qs.count(), ""
    except ValidationError as exc:
        return None, " ".join(exc.messages)


def _page_url(request: OrgRequest, **changes: str) -> str:
    query = request.GET.copy()
    for key in ("action", "page"):
        query.pop(key, None)
    for key, value in changes.items():
        if value:
            query[key] = value
        else:
            query.pop(key, None)
    return f"?{query.urlencode()}" if query else "?"


def _rows(people: list[Person]) -> list[dict[str, Any]]:
    """What a list row shows, computed once (50 rows render in a few milliseconds)."""
    base = reverse("people:list")
    rows = []
    for p in people:
        phones = p.phones.all()
        phone = phones[0] if phones else None
        rows.append(
            {
                "name": p.full_name,
                "url": f"{base}{p.public_id}/",
                "elector": p.list == PersonList.ELECTORS,
                "phone": (phone.e164 or phone.raw) if phone else "",
                "phone_invalid": bool(phone and not phone.is_valid),
                "email": p.email,
                "city": p.city,
                "support": p.support_level,
                "elector_url": f"{base}{p.elector.public_id}/"
                if p.elector_id and p.elector
                else "",
                "dnc": p.do_not_contact,
            }
        )
    return rows


def _people_page(
    request: OrgRequest, *, segment: Segment | None = None, template: str = "people/list.html"
) -> HttpResponse:
    organization = request.organization
    list_name = _list_param(request, segment.list if segment else PersonList.CONTACTS)
    search = request.GET.get("q", "").strip()[:200]
    if segment is not None and "n" not in request.GET:
        tree = builder.tree_from_definition(segment.definition)
    else:
        tree = _tree_from_request(request, request.GET)
    context = _builder_context(request, tree)
    definition = context["definition"]
    error = ""
    try:
        if segment is not None and segment.kind == Segment.Kind.STATIC:
            qs = selectors.people_queryset(
                organization=organization, list=None, segment=segment, search=search
            )
        else:
            qs = selectors.people_queryset(
                organization=organization,
                list=list_name,
                search=search,
                definition=definition,
            )
        page = selectors.people_page(
            queryset=qs, after=request.GET.get("after", ""), selective=bool(search)
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
        page = selectors.PeoplePage(people=[], next_cursor=None)
    context.update(
        {
            "rows": _rows(page.people),
            "list_name": list_name,
            "list_label": LIST_CHOICES[list_name],
            "lists": PersonList.choices,
            "search": search,
            "page": page,
            "error": error,
            "segment": segment,
            "first_url": _page_url(request, after=""),
            "next_url": _page_url(request, after=page.next_cursor) if page.next_cursor else "",
            "is_first_page": not request.GET.get("after"),
            "builder_open": bool(tree.children) or bool(request.GET.get("action")),
            "can_edit": has_perm(request.membership, Perm.PEOPLE_EDIT),
            "can_segments": has_perm(request.membership, Perm.SEGMENTS_MANAGE),
            "can_export": has_perm(request.membership, Perm.PEOPLE_EXPORT),
            "can_merge": has_perm(request.membership, Perm.PEOPLE_MERGE),
        }
    )
    if is_htmx(request) and request.GET.get("action"):
        context["count"], context["count_error"] = _count(request, list_name, definition)
        return render(request, "people/list.html#builder", context)
    if is_htmx(request) and request.headers.get("HX-Target") == "results":
        return render(request, "people/list.html#results", context)
    return render(request, template, context)


@org_view(Perm.PEOPLE_VIEW)
@require_GET
def list_view(request: OrgRequest) -> HttpResponse:
    """The people page: a list (contacts / electors), search, the segment builder, a page."""
    segment_id = request.GET.get("segment", "")
    if segment_id:
        segment = selectors.segment_get(organization=request.organization, public_id=segment_id)
        return redirect(
            reverse("people:segment_detail", args=[segment.public_id])
            + "?"
            + urlencode([(k, v) for k, v in request.GET.lists() if k != "segment"], doseq=True)
        )
    return _people_page(request)


@org_view(Perm.PEOPLE_VIEW)
@require_GET
def builder_view(request: OrgRequest) -> HttpResponse:
    """The builder re-rendered after a change of structure (htmx), with its live count."""
    if not is_htmx(request):
        return redirect(reverse("people:list") + _page_url(request))
    tree = _tree_from_request(request, request.GET)
    context = _builder_context(request, tree)
    list_name = _list_param(request)
    context["count"], context["count_error"] = _count(request, list_name, context["definition"])
    segment_id = request.GET.get("editing", "")
    if segment_id:
        context["segment"] = selectors.segment_get(
            organization=request.organization, public_id=segment_id
        )
    context.update(
        {
            "list_name": list_name,
            "search": request.GET.get("q", ""),
            "builder_open": True,
            "can_segments": has_perm(request.membership, Perm.SEGMENTS_MANAGE),
        }
    )
    return render(request, "people/list.html#builder", context)


@org_view(Perm.PEOPLE_VIEW)
@require_GET
def count_view(request: OrgRequest) -> HttpResponse:
    """The live count of the builder's conditions."""
    tree = builder.tree_from_form(request.GET)
    definition = builder.tree_to_definition(tree, request.organization)
    count, error = _count(request, _list_param(request), definition)
    return render(
        request, "people/list.html#count", {"count": count, "count_error": error, "tree": tree}
    )


# --- segments -----------------------------------------------------------------------------------
@org_view(Perm.SEGMENTS_MANAGE)
@require_POST
def segment_save(request: OrgRequest) -> HttpResponse:
    tree = builder.tree_from_form(request.POST)
    definition = builder.tree_to_definition(tree, request.organization)
    try:
        segment = services.segment_create(
            organization=request.organization,
            name=request.POST.get("name", ""),
            list=_list_param(request),
            definition=definition,
            actor=request.user,
        )
    except ValidationError as exc:
        return render(
            request,
            "people/_save_result.html",
            {"errors": _errors(exc)},
            status=422,
        )
    messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
    url = reverse("people:segment_detail", args=[segment.public_id])
    return hx_redirect(url) if is_htmx(request) else redirect(url)


@org_view(Perm.PEOPLE_VIEW)
@require_GET
def segments_view(request: OrgRequest) -> HttpResponse:
    segments = list(selectors.segments_for(organization=request.organization))
    return render(
        request,
        "people/segments.html",
        {
            "segments": segments,
            "can_segments": has_perm(request.membership, Perm.SEGMENTS_MANAGE),
        },
    )


@org_view(Perm.PEOPLE_VIEW)
@require_GET
def segment_detail(request: OrgRequest, segment_id: str) -> HttpResponse:
    segment = selectors.segment_get(organization=request.organization, public_id=segment_id)
    return _people_page(request, segment=segment)


@org_view(Perm.PEOPLE_VIEW)
@require_GET
def segment_count(request: OrgRequest, segment_id: str) -> HttpResponse:
    segment = selectors.segment_get(organization=request.organization, public_id=segment_id)
    try:
        count: int | None = selectors.segment_count(
            organization=request.organization, segment=segment
        )
        error = ""
    except ValidationError as exc:
        count, error = None, " ".join(exc.messages)
    return render(request, "people/list.html#count", {"count": count, "count_error": error})


@org_view(Perm.SEGMENTS_MANAGE)
@require_POST
def segment_update(request: OrgRequest, segment_id: str) -> HttpResponse:
    segment = selectors.segment_get(organization=request.organization, public_id=segment_id)
    definition = None
    if segment.kind == Segment.Kind.DYNAMIC and "n" in request.POST:
        definition = builder.tree_to_definition(
            builder.tree_from_form(request.POST), request.organization
        )
    try:
        services.segment_update(
            segment=segment,
            actor=request.user,
            name=request.POST.get("name") or None,
            definition=definition,
        )
    except ValidationError as exc:
        if is_htmx(request):
            return render(request, "people/_save_result.html", {"errors": _errors(exc)}, status=422)
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("Segment saved."))
    url = reverse("people:segment_detail", args=[segment.public_id])
    return hx_redirect(url) if is_htmx(request) else redirect(url)


@org_view(Perm.SEGMENTS_MANAGE)
@require_POST
def segment_freeze(request: OrgRequest, segment_id: str) -> HttpResponse:
    segment = selectors.segment_get(organization=request.organization, public_id=segment_id)
    try:
        frozen = services.segment_freeze(
            segment=segment, actor=request.user, name=request.POST.get("name", "")
        )
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
        return redirect("people:segment_detail", segment.public_id)
    messages.success(request, _("Frozen as the list “%(name)s”.") % {"name": frozen.name})
    return redirect("people:segment_detail", frozen.public_id)


@org_view(Perm.SEGMENTS_MANAGE)
@require_POST
def segment_delete(request: OrgRequest, segment_id: str) -> HttpResponse:
    segment = selectors.segment_get(organization=request.organization, public_id=segment_id)
    services.segment_delete(segment=segment, actor=request.user)
    messages.success(request, _("Segment deleted."))
    return redirect("people:segments")


class _Echo:
    def write(self, value: str) -> str:
        return value


EXPORT_COLUMNS = [
    "public_id",
    "list",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phones",
    "street",
    "postcode",
    "city",
    "region",
    "country",
    "latitude",
    "longitude",
    "birth_date",
    "birth_year",
    "gender",
    "language",
    "nationality",
    "support_level",
    "donations_this_year",
    "consent_phone",
    "consent_sms",
    "consent_email",
    "do_not_contact",
    "time_zone",
    "external_id",
    "voter_id",
    "registration_status",
    "polling_place",
    "precinct",
    "tags",
]


def _csv_safe(value: Any) -> str:
    """No spreadsheet formulas in an export (CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _looks_numeric(text):
        return "'" + text
    return text


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _export_rows(qs: Any, custom_keys: list[str]) -> Iterator[list[str]]:
    yield [*EXPORT_COLUMNS, *(f"custom.{k}" for k in custom_keys)]
    for person in qs.prefetch_related("phones", "tags").iterator(chunk_size=2000):
        row: list[str] = []
        for column in EXPORT_COLUMNS:
            if column == "phones":
                value: Any = " ".join(p.e164 or p.raw for p in person.phones.all())
            elif column == "tags":
                value = ", ".join(sorted(t.name for t in person.tags.all()))
            else:
                value = getattr(person, column)
            row.append(_csv_safe(value))
        custom = person.custom_fields or {}
        row.extend(_csv_safe(custom.get(k)) for k in custom_keys)
        yield row


@org_view(Perm.PEOPLE_VIEW)
@require_GET
def segment_export(request: OrgRequest, segment_id: str) -> HttpResponse:
    """CSV of a segment, streamed (admins only: people.export); the export is audited."""
    segment = selectors.segment_get(organization=request.organization, public_id=segment_id)
    if not has_perm(request.membership, Perm.PEOPLE_EXPORT):
        raise PermissionDenied
    try:
        qs = selectors.segment_queryset(organization=request.organization, segment=segment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("people:segment_detail", segment.public_id)
    audit_record(
        organization=request.organization,
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target=segment,
        meta={"format": "csv", "definition": segment.definition, "kind": segment.kind},
    )
    custom_keys = list(
        CustomField.objects.filter(organization=request.organization)
        .order_by("position", "key")
        .values_list("key", flat=True)
    )
    writer = csv.writer(_Echo())
    stream = (writer.writerow(row) for row in _export_rows(qs.order_by("id"), custom_keys))
    response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="segment-{segment.public_id}-{stamp}.csv"'
    )
    return response  # type: ignore[return-value]  # streamed: no .content


# --- one person ---------------------------------------------------------------------------------
@org_view(Perm.PEOPLE_VIEW)
@require_GET
def person_detail(request: OrgRequest, person_id: str) -> HttpResponse:
    organization = request.organization
    person = selectors.person_detail(organization=organization, public_id=person_id)
    custom_fields = list(selectors.custom_fields_for(organization=organization))
    values = person.custom_fields or {}
    return render(
        request,
        "people/detail.html",
        {
            "person": person,
            "custom_values": [(cf, values.get(cf.key)) for cf in custom_fields],
            "housemates": selectors.household_members(organization=organization, person=person),
            "history": selectors.person_history(organization=organization, person=person),
            "panels": person_panels(person, request.membership),
            "phone_form": PhoneForm(),
            "can_edit": has_perm(request.membership, Perm.PEOPLE_EDIT),
            "can_merge": has_perm(request.membership, Perm.PEOPLE_MERGE),
        },
    )


def _person_form_page(request: OrgRequest, person: Person | None, list_name: str) -> HttpResponse:
    organization = request.organization
    custom_fields = list(selectors.custom_fields_for(organization=organization))
    form = PersonForm(
        request.POST or None, instance=person or Person(list=list_name), custom_fields=custom_fields
    )
    if request.method == "POST" and form.is_valid():
        try:
            if person is None:
                phones = [request.POST.get("phone", "")]
                person = services.person_create(
                    organization=organization,
                    actor=request.user,
                    list=list_name,
                    phones=[p for p in phones if p.strip()],
                    custom_fields={k: v for k, v in form.custom_values().items() if v != ""},
                    **form.column_values(),
                )
                messages.success(request, _("Person added."))
            else:
                services.person_update(
                    person=person,
                    actor=request.user,
                    custom_fields=form.custom_values(),
                    **form.column_values(),
                )
                messages.success(request, _("Changes saved."))
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            return redirect("people:detail", person.public_id)
    return render(
        request,
        "people/edit.html",
        {
            "form": form,
            "person": person,
            "list_name": list_name,
            "list_label": LIST_CHOICES[list_name],
        },
        status=422 if request.method == "POST" else 200,
    )


@org_view(Perm.PEOPLE_EDIT)
def person_create(request: OrgRequest) -> HttpResponse:
    return _person_form_page(request, None, _list_param(request))


@org_view(Perm.PEOPLE_EDIT)
def person_edit(request: OrgRequest, person_id: str) -> HttpResponse:
    person = selectors.person_get(organization=request.organization, public_id=person_id)
    return _person_form_page(request, person, person.list)


def _back(person: Person) -> HttpResponse:
    return redirect("people:detail", person.public_id)


@org_view(Perm.PEOPLE_EDIT)
@require_POST
def phone_add(request: OrgRequest, person_id: str) -> HttpResponse:
    person = selectors.person_get(organization=request.organization, public_id=person_id)
    form = PhoneForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type a phone number."))
        return _back(person)
    try:
        phone = services.person_phone_add(
            person=person,
            raw=form.cleaned_data["number"],
            kind=form.cleaned_data["kind"] or "",
            actor=request.user,
        )
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        if phone.is_valid:
            messages.success(request, _("Number added."))
        else:
            messages.warning(
                request, _("The number was kept as written but it is not a valid number.")
            )
    return _back(person)


@org_view(Perm.PEOPLE_EDIT)
@require_POST
def phone_remove(request: OrgRequest, person_id: str) -> HttpResponse:
    person = selectors.person_get(organization=request.organization, public_id=person_id)
    try:
        services.person_phone_remove(
            person=person, phone_id=int(request.POST.get("phone", "0") or 0), actor=request.user
        )
    except (ValidationError, ValueError):
        messages.error(request, _("That phone number is not on this person."))
    else:
        messages.success(request, _("Number removed."))
    return _back(person)


@org_view(Perm.PEOPLE_EDIT)
@require_POST
def tag_add(request: OrgRequest, person_id: str) -> HttpResponse:
    person = selectors.person_get(organization=request.organization, public_id=person_id)
    try:
        services.person_tag_add(
            person=person, tag_name=request.POST.get("tag", ""), actor=request.user
        )
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    return _back(person)


@org_view(Perm.PEOPLE_EDIT)
@require_POST
def tag_remove(request: OrgRequest, person_id: str) -> HttpResponse:
    person = selectors.person_get(organization=request.organization, public_id=person_id)
    services.person_tag_remove(
        person=person, tag_name=request.POST.get("tag", ""), actor=request.user
    )
    return _back(person)


@org_view(Perm.PEOPLE_EDIT)
@require_POST
def link_elector(request: OrgRequest, person_id: str) -> HttpResponse:
    """Link a contact to an elector record, found by voter id, external id or public id."""
    organization = request.organization
    person = selectors.person_get(organization=organization, public_id=person_id)
    wanted = request.POST.get("elector", "").strip()
    elector = None
    if wanted:
        candidates = selectors.people_queryset(
            organization=organization, list=PersonList.ELECTORS, search=""
        )
        elector = (
            candidates.filter(voter_id=wanted).first()
            or candidates.filter(external_id=wanted).first()
        )
        if elector is None:
            try:
                elector = candidates.filter(public_id=wanted).first()
            except ValidationError:
                elector = None
        if elector is None:
            messages.error(request, _("No elector record with that voter id."))
            return _back(person)
    try:
        services.person_link_elector(person=person, elector=elector, actor=request.user)
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("Elector record linked.") if elector else _("Link removed."))
    return _back(person)


# --- duplicates and merge -----------------------------------------------------------------------
@org_view(Perm.PEOPLE_MERGE)
@require_GET
def duplicates_view(request: OrgRequest) -> HttpResponse:
    list_name = _list_param(request)
    groups = duplicate_groups(organization=request.organization, people_list=list_name)
    return render(
        request,
        "people/duplicates.html",
        {"groups": groups, "list_name": list_name, "lists": PersonList.choices},
    )


@org_view(Perm.PEOPLE_MERGE)
def merge_view(request: OrgRequest, person_id: str) -> HttpResponse:
    """Review two people side by side and pick, field by field, the value to keep."""
    organization = request.organization
    keep = selectors.person_get(organization=organization, public_id=person_id)
    other_id = request.GET.get("with") or request.POST.get("with") or ""
    if not other_id:
        messages.error(request, _("Choose the duplicate to merge into this person."))
        return _back(keep)
    other = selectors.person_get(organization=organization, public_id=other_id)
    if request.method == "POST":
        choices = {
            key.removeprefix("pick."): str(request.POST.get(key, ""))
            for key in request.POST
            if key.startswith("pick.")
        }
        try:
            services.person_merge(keep=keep, other=other, choices=choices, actor=request.user)
        except ValidationError as exc:
            for message in _errors(exc):
                messages.error(request, message)
        else:
            messages.success(request, _("Merged. The duplicate was removed."))
            return _back(keep)
    defaults = services.merge_defaults(keep, other)
    rows = []
    for name in services.MERGE_COLUMNS:
        a, b = getattr(keep, name), getattr(other, name)
        if a in (None, "") and b in (None, ""):
            continue
        rows.append(
            {
                "key": name,
                "label": Person._meta.get_field(name).verbose_name,  # type: ignore[union-attr]
                "keep": a,
                "other": b,
                "same": a == b,
                "pick": defaults.get(name, "keep"),
            }
        )
    keep_custom, other_custom = keep.custom_fields or {}, other.custom_fields or {}
    for key in sorted(set(keep_custom) | set(other_custom)):
        a, b = keep_custom.get(key), other_custom.get(key)
        rows.append(
            {
                "key": f"custom.{key}",
                "label": key,
                "keep": a,
                "other": b,
                "same": a == b,
                "pick": defaults.get(f"custom.{key}", "keep"),
            }
        )
    return render(
        request,
        "people/merge.html",
        {
            "keep": keep,
            "other": other,
            "rows": rows,
            "keep_phones": list(keep.phones.all()),
            "other_phones": list(other.phones.all()),
        },
    )


# --- custom fields ------------------------------------------------------------------------------
@org_view(Perm.PEOPLE_VIEW)
def custom_fields_view(request: OrgRequest) -> HttpResponse:
    organization = request.organization
    can_manage = has_perm(request.membership, Perm.ORG_SETTINGS) or has_perm(
        request.membership, Perm.SEGMENTS_MANAGE
    )
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.custom_field_create(
                    organization=organization,
                    key=form.cleaned_data["label"],
                    label=form.cleaned_data["label"],
                    type=form.cleaned_data["type"],
                    choices=form.cleaned_data["choices"].split(","),
                    actor=request.user,
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Field added."))
                return redirect("people:custom_fields")
    return render(
        request,
        "people/custom_fields.html",
        {
            "fields": list(selectors.custom_fields_for(organization=organization)),
            "form": form,
            "can_manage": can_manage,
        },
        status=422 if request.method == "POST" else 200,
    )
