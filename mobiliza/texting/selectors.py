"""Reads for texting. Every function takes the organization (or a membership, which has one)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from mobiliza.texting.models import (
    CannedResponse,
    Conversation,
    Message,
    OptOut,
    TextCampaign,
    Texter,
)
from mobiliza.texting.services import is_supervisor

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization


def _uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise Http404 from None


def campaigns_for(*, membership: Membership) -> QuerySet[TextCampaign]:
    """Supervisors see every campaign; texters the ones they text for."""
    qs = TextCampaign.objects.filter(organization_id=membership.organization_id)
    if not is_supervisor(membership):
        qs = qs.filter(
            Exists(
                Texter.objects.filter(
                    campaign_id=OuterRef("pk"), membership=membership, is_active=True
                )
            )
        ).exclude(status=TextCampaign.Status.ARCHIVED)
    return qs.order_by("-created_at", "-id")


def campaign_get(*, organization: Organization, campaign_id: Any) -> TextCampaign:
    return get_object_or_404(
        TextCampaign.objects.select_related("segment", "survey", "organization"),
        organization=organization,
        public_id=_uuid(campaign_id),
    )


def campaign_for_member(*, membership: Membership, campaign_id: Any) -> TextCampaign:
    """A campaign this member may work in (texter or supervisor), else 404."""
    campaign = campaign_get(organization=membership.organization, campaign_id=campaign_id)
    if (
        not is_supervisor(membership)
        and not Texter.objects.filter(
            campaign=campaign, membership=membership, is_active=True
        ).exists()
    ):
        raise Http404
    return campaign


def campaign_by_token(*, token: str) -> TextCampaign:
    return get_object_or_404(TextCampaign.objects.select_related("organization"), join_token=token)


def conversation_for_member(*, membership: Membership, conversation_id: Any) -> Conversation:
    """The conversation if it is assigned to this texter (or they supervise), else 404."""
    qs = Conversation.objects.select_related(
        "campaign", "campaign__survey", "campaign__organization", "person", "assigned_to__user"
    ).filter(organization_id=membership.organization_id, public_id=_uuid(conversation_id))
    if not is_supervisor(membership):
        qs = qs.filter(assigned_to=membership)
    conversation = qs.first()
    if conversation is None:
        raise Http404
    return conversation


# The columns the send screen and the send click read (the hot path of issue 7: loading whole
# people and campaign rows costs more than the rest of the click).
SEND_FIELDS = (
    "id",
    "public_id",
    "organization_id",
    "campaign_id",
    "person_id",
    "assigned_to_id",
    "status",
    "phone_e164",
    "sender_e164",
    "last_outbound_at",
    "campaign__id",
    "campaign__public_id",
    "campaign__organization_id",
    "campaign__name",
    "campaign__status",
    "campaign__starts_at",
    "campaign__ends_at",
    "campaign__hours_start",
    "campaign__hours_end",
    "campaign__first_message",
    "campaign__opt_out_sentence",
    "campaign__provider_account_id",
    "campaign__batch_size",
    "campaign__updated_at",
    "campaign__organization__id",
    "campaign__organization__name",
    "campaign__organization__time_zone",
    "person__id",
    "person__first_name",
    "person__middle_name",
    "person__last_name",
    "person__city",
    "person__polling_place",
    "person__custom_fields",
    "person__time_zone",
)


# The send screen's two reads (the click's conversation, the next card) run on every click:
# compiling them with the ORM cost more CPU than the rest of the click. Their SQL is built once
# per process from the model metadata (the columns of SEND_FIELDS, one join per relation), run as
# a prepared statement on PostgreSQL, and the row is turned into the same model instances the ORM
# would build (`from_db`, with each field's database converters).
_SEND_RELATIONS: tuple[tuple[str, str, str, str], ...] = (
    # (prefix in SEND_FIELDS, table alias, joined from alias, foreign key column there)
    ("campaign", "ca", "c", "campaign_id"),
    ("campaign__organization", "o", "ca", "organization_id"),
    ("person", "p", "c", "person_id"),
)


class _SendLoader:
    def __init__(self) -> None:
        from django.db import connection

        self.vendor = connection.vendor
        groups: dict[str, list[str]] = {"": []}
        for name in SEND_FIELDS:
            prefix, _, field = name.rpartition("__")
            groups.setdefault(prefix, []).append(field)
        models: dict[str, Any] = {"": Conversation}
        for prefix, *_rest in _SEND_RELATIONS:
            model: Any = Conversation
            for part in prefix.split("__"):
                model = model._meta.get_field(part).related_model
            models[prefix] = model
        aliases = {"": "c", **{rel[0]: rel[1] for rel in _SEND_RELATIONS}}
        q = connection.ops.quote_name
        columns: list[str] = []
        # (model, attnames, slice start, slice end, converters by position)
        self.parts: list[tuple[Any, list[str], int, int, list[tuple[int, list[Any]]]]] = []
        for prefix in ("", *(rel[0] for rel in _SEND_RELATIONS)):
            model, alias = models[prefix], aliases[prefix]
            # in the model's field order: `from_db` places the values by it
            wanted = {model._meta.get_field(name).attname for name in groups[prefix]}
            fields = [f for f in model._meta.concrete_fields if f.attname in wanted]
            start = len(columns)
            converters = []
            for i, field in enumerate(fields):
                col = field.get_col(alias)
                found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
                if found:
                    converters.append((i, found))
                columns.append(f"{alias}.{q(field.column)}")
            self.parts.append((model, [f.attname for f in fields], start, len(columns), converters))

        def joins(kind: str) -> str:
            return "".join(
                f" {kind} {q(models[prefix]._meta.db_table)} {alias} ON {alias}.{q('id')} = "
                f"{parent}.{q(fk)}"
                for prefix, alias, parent, fk in _SEND_RELATIONS
            )

        table = q(Conversation._meta.db_table)
        # Names from the model metadata only; every value is a bound parameter.
        self.head = f"SELECT {', '.join(columns)} FROM {table} c{joins('JOIN')} WHERE "  # noqa: S608
        # The send screen's card: the texter's counts and their next new conversation (the
        # lowest id among the new ones) in one scan of their conversations, its row joined.
        # params: new, needs reply, new, campaign id, membership id
        self.card = (
            f"SELECT k.n_new, k.n_reply, k.n_all, {', '.join(columns)} FROM ("  # noqa: S608
            " SELECT COALESCE(SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), 0) AS n_new,"
            " COALESCE(SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), 0) AS n_reply,"
            " COUNT(*) AS n_all, MIN(CASE WHEN status = %s THEN id END) AS next_id"
            f" FROM {table} WHERE campaign_id = %s AND assigned_to_id = %s"
            f") k LEFT JOIN {table} c ON c.id = k.next_id{joins('LEFT JOIN')}"
        )
        self.connection = connection

    def one(self, where: str, params: list[Any]) -> Conversation | None:
        from mobiliza.core.sql import prepared_fetchone

        row = prepared_fetchone(self.head + where, params)
        if row is None:
            return None
        return self.build(row)

    def build(self, row: tuple[Any, ...] | list[Any]) -> Conversation:
        built = []
        for model, names, start, end, converters in self.parts:
            values = list(row[start:end])
            for i, functions in converters:
                for function in functions:
                    values[i] = function(values[i], None, self.connection)
            built.append(model.from_db("default", names, values))
        conversation, campaign, organization, person = built
        TextCampaign.organization.field.set_cached_value(campaign, organization)
        Conversation.campaign.field.set_cached_value(conversation, campaign)
        Conversation.person.field.set_cached_value(conversation, person)
        return conversation


_send_loaders: dict[str, _SendLoader] = {}


def _send_loader() -> _SendLoader:
    from django.db import connection

    loader = _send_loaders.get(connection.vendor)
    if loader is None:
        loader = _send_loaders[connection.vendor] = _SendLoader()
    return loader


def conversation_for_send(
    *, membership: Membership, conversation_id: Any, lock: bool = False
) -> Conversation:
    """`conversation_for_member` with only what sending reads (same access rule).

    `lock`: inside a transaction, the conversation's row is locked by the same statement (FOR
    UPDATE OF it, where the database has it): the send lease, read and taken in one round
    trip. The access rule is checked on the row as it is once locked."""
    from django.db import connection

    public_id = _uuid(conversation_id)
    loader = _send_loader()
    key: Any = public_id if loader.vendor == "postgresql" else public_id.hex
    if lock and not connection.in_atomic_block:
        raise RuntimeError("conversation_for_send(lock=True) needs a transaction")
    suffix = " FOR UPDATE OF c" if lock and connection.features.has_select_for_update_of else ""
    if is_supervisor(membership):
        conversation = loader.one(
            "c.organization_id = %s AND c.public_id = %s" + suffix,
            [membership.organization_id, key],
        )
    else:
        conversation = loader.one(
            "c.organization_id = %s AND c.public_id = %s AND c.assigned_to_id = %s" + suffix,
            [membership.organization_id, key, membership.pk],
        )
    if conversation is None:
        raise Http404
    return conversation


def next_first_message(*, campaign: TextCampaign, membership: Membership) -> Conversation | None:
    return _send_loader().one(
        "c.campaign_id = %s AND c.assigned_to_id = %s AND c.status = %s ORDER BY c.id LIMIT 1",
        [campaign.pk, membership.pk, str(Conversation.Status.NEW)],
    )


def send_card(
    *, campaign: TextCampaign, membership: Membership
) -> tuple[Conversation | None, dict[str, int]]:
    """The send screen's card in one statement: `next_first_message` and `texter_counts`."""
    from mobiliza.core.sql import prepared_fetchone

    new = str(Conversation.Status.NEW)
    loader = _send_loader()
    row = prepared_fetchone(
        loader.card,
        [new, str(Conversation.Status.NEEDS_REPLY), new, campaign.pk, membership.pk],
    )
    assert row is not None  # an aggregate: always one row
    counts = {"new": int(row[0]), "needs_reply": int(row[1]), "total": int(row[2])}
    conversation = loader.build(row[3:]) if row[3] is not None else None
    return conversation, counts


INBOX_ORDER = {
    Conversation.Status.NEEDS_REPLY: 0,
    Conversation.Status.WAITING: 1,
    Conversation.Status.REPLIED: 2,
    Conversation.Status.CLOSED: 3,
    Conversation.Status.OPTED_OUT: 4,
}


def texter_inbox(
    *, campaign: TextCampaign, membership: Membership, status: str = "", limit: int = 200
) -> list[Conversation]:
    """The texter's started conversations, the ones needing a reply first (oldest reply first)."""
    qs = (
        Conversation.objects.filter(campaign=campaign, assigned_to=membership)
        .exclude(status=Conversation.Status.NEW)
        .select_related("person")
    )
    if status:
        qs = qs.filter(status=status)
    needing = list(
        qs.filter(status=Conversation.Status.NEEDS_REPLY).order_by("last_inbound_at", "id")[:limit]
    )
    others = list(
        qs.exclude(status=Conversation.Status.NEEDS_REPLY).order_by("-updated_at", "-id")[
            : max(0, limit - len(needing))
        ]
    )
    return needing + others


def texter_counts(*, campaign: TextCampaign, membership: Membership) -> dict[str, int]:
    """The texter's counts on the send screen, in one row (read on every click)."""
    from mobiliza.core.sql import prepared_fetchone

    row = prepared_fetchone(
        "SELECT COALESCE(SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), 0), COUNT(*)"
        " FROM texting_conversation WHERE campaign_id = %s AND assigned_to_id = %s",
        [
            str(Conversation.Status.NEW),
            str(Conversation.Status.NEEDS_REPLY),
            campaign.pk,
            membership.pk,
        ],
    )
    new, needs_reply, total = row or (0, 0, 0)
    return {"new": int(new), "needs_reply": int(needs_reply), "total": int(total)}


def thread(*, conversation: Conversation) -> list[Message]:
    return list(
        Message.objects.filter(conversation=conversation)
        .select_related("author__user")
        .order_by("created_at", "id")
    )


def canned_responses(*, campaign: TextCampaign) -> list[CannedResponse]:
    return list(CannedResponse.objects.filter(campaign=campaign).order_by("position", "id"))


def canned_get(*, organization: Organization, canned_id: Any) -> CannedResponse:
    return get_object_or_404(
        CannedResponse.objects.select_related("campaign"),
        organization=organization,
        public_id=_uuid(canned_id),
    )


def campaign_stats(*, campaign: TextCampaign) -> dict[str, int]:
    """Live figures: one aggregate over conversations, one over messages, one over answers."""
    cs = Conversation.Status
    conv = Conversation.objects.filter(campaign=campaign).aggregate(
        contacts=Count("id"),
        unassigned=Count("id", filter=Q(assigned_to__isnull=True, status=cs.NEW)),
        assigned_unsent=Count("id", filter=Q(assigned_to__isnull=False, status=cs.NEW)),
        started=Count("id", filter=~Q(status=cs.NEW)),
        replied=Count("id", filter=Q(last_inbound_at__isnull=False)),
        needs_reply=Count("id", filter=Q(status=cs.NEEDS_REPLY)),
        opted_out=Count("id", filter=Q(status=cs.OPTED_OUT)),
        escalated=Count("id", filter=Q(escalated_at__isnull=False)),
    )
    ms = Message.Status
    msgs = Message.objects.filter(
        conversation__campaign=campaign, direction=Message.Direction.OUTBOUND
    ).aggregate(
        sent=Count("id", filter=~Q(status=ms.BLOCKED)),
        queued=Count("id", filter=Q(status=ms.QUEUED)),
        delivered=Count("id", filter=Q(status=ms.DELIVERED)),
        failed=Count("id", filter=Q(status__in=[ms.FAILED, ms.UNDELIVERED])),
    )
    answers = 0
    if campaign.survey_id:
        from mobiliza.surveys.models import Answer

        answers = Answer.objects.filter(
            organization_id=campaign.organization_id, source_type=f"texting.c{campaign.pk}"
        ).count()
    return {**conv, **msgs, "answers": answers}


def texters_of(*, campaign: TextCampaign) -> list[dict[str, Any]]:
    rows = (
        Conversation.objects.filter(campaign=campaign, assigned_to__isnull=False)
        .values("assigned_to")
        .annotate(
            total=Count("id"),
            unsent=Count("id", filter=Q(status=Conversation.Status.NEW)),
            needs_reply=Count("id", filter=Q(status=Conversation.Status.NEEDS_REPLY)),
        )
    )
    by_member = {row["assigned_to"]: row for row in rows}
    result = []
    for texter in Texter.objects.filter(campaign=campaign).select_related("membership__user"):
        row: dict[str, Any] = dict(by_member.get(texter.membership_id) or {})
        result.append(
            {
                "texter": texter,
                "membership": texter.membership,
                "total": row.get("total", 0),
                "unsent": row.get("unsent", 0),
                "needs_reply": row.get("needs_reply", 0),
            }
        )
    return result


def supervision_queryset(
    *, organization: Organization, filters: dict[str, str]
) -> QuerySet[Conversation]:
    qs = (
        Conversation.objects.filter(organization=organization)
        .exclude(status=Conversation.Status.NEW, assigned_to__isnull=True)
        .select_related("campaign", "person", "assigned_to__user")
    )
    if filters.get("campaign"):
        qs = qs.filter(campaign__public_id=_uuid(filters["campaign"]))
    if filters.get("texter"):
        qs = qs.filter(assigned_to__public_id=_uuid(filters["texter"]))
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("delivery"):
        qs = qs.filter(last_delivery_status=filters["delivery"])
    if filters.get("escalated"):
        qs = qs.filter(escalated_at__isnull=False)
    if filters.get("tag"):
        from mobiliza.people.models import PersonTag

        qs = qs.filter(
            Exists(
                PersonTag.objects.filter(
                    person_id=OuterRef("person_id"),
                    tag__organization=organization,
                    tag__name=filters["tag"],
                )
            )
        )
    return qs.order_by("-escalated_at", "-last_inbound_at", "-id")


def unmatched_messages(
    *, organization: Organization, include_handled: bool = False
) -> QuerySet[Message]:
    qs = Message.objects.filter(
        organization=organization, conversation__isnull=True, direction=Message.Direction.INBOUND
    )
    if not include_handled:
        qs = qs.filter(handled_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def unmatched_get(*, organization: Organization, message_id: Any) -> Message:
    return get_object_or_404(
        Message,
        organization=organization,
        public_id=_uuid(message_id),
        conversation__isnull=True,
        direction=Message.Direction.INBOUND,
    )


def opt_outs(*, organization: Organization) -> QuerySet[OptOut]:
    return OptOut.objects.filter(organization=organization).select_related("person", "campaign")


def person_texting(*, organization: Organization, person_id: int) -> dict[str, Any]:
    from mobiliza.people.models import PersonPhone

    numbers = list(
        PersonPhone.objects.filter(organization=organization, person_id=person_id)
        .exclude(e164="")
        .values_list("e164", flat=True)
    )
    return {
        "opt_outs": list(OptOut.objects.filter(organization=organization, phone_e164__in=numbers)),
        "conversations": list(
            Conversation.objects.filter(organization=organization, person_id=person_id)
            .select_related("campaign", "assigned_to__user")
            .order_by("-updated_at")[:10]
        ),
    }
