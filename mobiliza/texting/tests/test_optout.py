"""Stop words in EN/FR/PT with every variant, and "never again" as a property over random
sequences of campaigns, sends and replies."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mobiliza.providers.models import ProviderAccount
from mobiliza.texting.models import Message, OptOut
from mobiliza.texting.optout import KEYWORDS, is_opt_out, opt_out_language

ALL_KEYWORDS = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "ARRET",
    "ARRÊT",
    "STOP SMS",
    "DESABONNER",
    "DÉSABONNER",
    "PARAR",
    "CANCELAR",
    "SAIR",
]


@pytest.mark.parametrize("word", ALL_KEYWORDS)
@pytest.mark.parametrize(
    "variant",
    [
        lambda w: w,
        str.lower,
        str.title,
        lambda w: f"  {w}  ",
        lambda w: f"{w}!",
        lambda w: f"{w}.",
        lambda w: f"«{w}»",
        lambda w: f"{w} 🛑",
        lambda w: f"{w}\n",
        lambda w: f"{w} please",
        lambda w: f"{w}, por favor",
        lambda w: f"{w} merci",
    ],
)
def test_every_stop_word_and_variant_opts_out(word: str, variant: Any) -> None:
    assert is_opt_out(variant(word)), variant(word)


@pytest.mark.parametrize(
    ("text", "language"),
    [("Arrêt", "fr"), ("désabonner", "fr"), ("PARAR", "pt"), ("sair", "pt"), ("Stop", "en")],
)
def test_language_of_the_keyword(text: str, language: str) -> None:
    assert opt_out_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "Yes, count me in!",
        "Don't stop the good work",
        "Where is the bus stop?",
        "Parar para quê?",
        "I'll be at the end of the street",
        "",
        "   ",
        "stopped",
    ],
)
def test_ordinary_replies_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text)


def _accent_noise(word: str, flips: list[bool]) -> str:
    out = []
    for ch, flip in zip(word, flips + [False] * len(word), strict=False):
        if flip and ch.lower() in "aeiou":
            ch = unicodedata.normalize("NFC", ch + "\u0301")
        out.append(ch.upper() if flip else ch.lower())
    return "".join(out)


@given(
    word=st.sampled_from([w for words in KEYWORDS.values() for w in words]),
    flips=st.lists(st.booleans(), max_size=20),
    before=st.sampled_from(["", " ", "\t", "¡", "..."]),
    after=st.sampled_from(["", "!", "!!!", "?", " :)", " 🙏", ".", "\n"]),
)
def test_keyword_with_case_accents_and_punctuation_is_recognized(
    word: str, flips: list[bool], before: str, after: str
) -> None:
    assert is_opt_out(before + _accent_noise(word, flips) + after)


# --- never again --------------------------------------------------------------------------------
OPS = st.lists(
    st.tuples(
        st.sampled_from(["send", "reply", "stop", "new_campaign", "tick"]),
        st.integers(min_value=0, max_value=2),  # which person
        st.integers(min_value=0, max_value=1),  # which campaign
        st.sampled_from([*ALL_KEYWORDS, "stop please", "Arrêt!!", "PARAR."]),
    ),
    min_size=3,
    max_size=18,
)


@pytest.mark.django_db
@settings(
    max_examples=20,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no slow shrinking against the DB
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_never_again_after_an_opt_out(ops: list[tuple[str, int, int, str]], org: Any) -> None:
    """Whatever the campaigns, sends and replies, once a number opted out the organization hands
    exactly one message to the provider for it afterwards: the confirmation (when by keyword)."""
    from django.db import transaction

    from mobiliza.providers.services import simulator_inbound, simulator_tick
    from mobiliza.texting.services import (
        SendRefusedError,
        assignment_request,
        campaign_set_status,
        campaign_update,
        message_send,
        texter_add,
    )
    from mobiliza.texting.tests.factories import (
        make_campaign,
        make_people,
        make_segment,
        make_texter,
    )

    sid = transaction.savepoint()
    try:
        people_numbers = [f"+3519120{i:05d}" for i in range(3)]
        segment = make_segment(org, make_people(org, 3, start=0))
        texter: Any = None

        def new_campaign(name: str) -> Any:
            nonlocal texter
            campaign = make_campaign(org, people=0, active=False, name=name)
            campaign_update(campaign=campaign, actor=None, segment=segment)
            campaign_set_status(campaign=campaign, actor=None, status="active")
            if texter is None:
                texter = make_texter(campaign, role="admin")
            texter_add(campaign=campaign, membership=texter, actor=None)
            assignment_request(campaign=campaign, membership=texter, count=10)
            return campaign

        campaigns = [new_campaign("First")]
        account = ProviderAccount.objects.filter(organization=org).order_by("id").first()
        assert account is not None
        later = timezone.now() + dt.timedelta(hours=1)
        for op, who, which, word in ops:
            number = people_numbers[who]
            if op == "new_campaign" and len(campaigns) < 2:
                campaigns.append(new_campaign("Second"))
            elif op == "send":
                campaign = campaigns[min(which, len(campaigns) - 1)]
                conversation = campaign.conversations.filter(phone_e164=number).first()
                if conversation is None:
                    continue
                try:
                    message_send(
                        conversation=conversation,
                        membership=texter,
                        idempotency_key=f"k{len(ops)}{op}{who}{which}{word}",
                        body="Hello again",
                    )
                except SendRefusedError as exc:
                    assert exc.code in {"opted_out"}
            elif op in {"reply", "stop"}:
                sender = (
                    Message.objects.filter(organization=org, to_e164=number)
                    .exclude(from_e164="")
                    .values_list("from_e164", flat=True)
                    .first()
                )
                if sender is None:
                    continue
                simulator_inbound(
                    account=account,
                    from_number=number,
                    to_number=sender,
                    body=word if op == "stop" else "ok!",
                )
            elif op == "tick":
                from mobiliza.texting.services import outbox_retry_due

                outbox_retry_due(now=later)
                simulator_tick(now=later)
        from mobiliza.texting.services import outbox_retry_due

        outbox_retry_due(now=later)
        simulator_tick(now=later)
        for optout in OptOut.objects.filter(organization=org):
            after = Message.objects.filter(
                organization=org,
                to_e164=optout.phone_e164,
                direction="out",
                created_at__gt=optout.created_at,
            )
            handed = after.filter(provider_message_id__isnull=False)
            assert set(handed.values_list("is_automatic", flat=True)) <= {True}
            assert handed.count() <= 1
            if optout.source == "keyword":
                assert after.filter(is_automatic=True).count() == 1
            # and none queued before it ever reaches the provider afterwards
            assert not Message.objects.filter(
                organization=org,
                to_e164=optout.phone_e164,
                is_automatic=False,
                sent_at__gt=optout.created_at,
            ).exists()
    finally:
        transaction.savepoint_rollback(sid)
