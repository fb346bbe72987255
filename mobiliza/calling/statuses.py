"""The built-in call statuses and the default recycling table.

Statuses are rows per organization (admins add their own, with a label per language and flags),
created on first use by `statuses_ensure`. Labels of built-in statuses are stored in English,
French and Portuguese so an agent sees them in their own language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mobiliza.calling.models import CallStatus

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization

G = CallStatus.Group


@dataclass(frozen=True)
class BuiltinStatus:
    key: str
    group: str
    en: str
    fr: str
    pt: str
    final: bool = False
    reached: bool = False
    system_only: bool = False
    do_not_call: bool = False
    removes: bool = False
    # default recycling: (max further calls, interval minutes) or None = unchecked
    recycle: tuple[int, int] | None = None


BUILTIN_STATUSES: tuple[BuiltinStatus, ...] = (
    # Auto-detected by the telephony provider (never with the agent's own phone).
    BuiltinStatus(
        "auto_error", G.AUTO, "Error", "Erreur", "Erro", system_only=True, recycle=(2, 60)
    ),
    BuiltinStatus(
        "auto_invalid_number",
        G.AUTO,
        "Invalid number",
        "Numéro invalide",
        "Número inválido",
        system_only=True,
        final=True,
    ),
    BuiltinStatus(
        "auto_no_answer",
        G.AUTO,
        "No answer",
        "Aucune réponse",
        "Sem resposta",
        system_only=True,
        recycle=(3, 90),
    ),
    BuiltinStatus(
        "auto_canceled",
        G.AUTO,
        "Canceled",
        "Appel annulé",
        "Cancelada",
        system_only=True,
        recycle=(1, 30),
    ),
    BuiltinStatus(
        "auto_busy", G.AUTO, "Busy", "Occupé", "Ocupado", system_only=True, recycle=(3, 30)
    ),
    BuiltinStatus(
        "auto_voicemail",
        G.AUTO,
        "Voicemail detected",
        "Boîte vocale détectée",
        "Correio de voz detetado",
        system_only=True,
        recycle=(2, 240),
    ),
    # Chosen by agents.
    BuiltinStatus(
        "remove",
        G.AGENT,
        "Remove from call list",
        "Retirer de la liste d'appel",
        "Retirar da lista",
        final=True,
        removes=True,
    ),
    BuiltinStatus(
        "no_answer", G.AGENT, "No answer", "Pas de réponse", "Sem resposta", recycle=(3, 90)
    ),
    BuiltinStatus(
        "not_home",
        G.AGENT,
        "Not at home",
        "Absent",
        "Não está em casa",
        reached=True,
        recycle=(2, 180),
    ),
    BuiltinStatus(
        "call_back",
        G.AGENT,
        "Call back",
        "Rappeler",
        "Ligar de volta",
        reached=True,
        recycle=(2, 120),
    ),
    BuiltinStatus(
        "line_busy", G.AGENT, "Line busy", "Ligne occupée", "Linha ocupada", recycle=(3, 30)
    ),
    BuiltinStatus(
        "voicemail", G.AGENT, "Voicemail", "Messagerie", "Correio de voz", recycle=(2, 240)
    ),
    BuiltinStatus(
        "wrong_number",
        G.AGENT,
        "Wrong number",
        "Mauvais numéro",
        "Número errado",
        final=True,
    ),
    BuiltinStatus(
        "refused",
        G.AGENT,
        "Refused",
        "Refus",
        "Recusou",
        final=True,
        reached=True,
    ),
    BuiltinStatus("moved", G.AGENT, "Moved", "A déménagé", "Mudou-se", final=True),
    BuiltinStatus(
        "deceased",
        G.AGENT,
        "Deceased",
        "Décédé",
        "Falecido",
        final=True,
        do_not_call=True,
        removes=True,
    ),
    BuiltinStatus(
        "completed", G.AGENT, "Completed", "Terminé", "Concluído", final=True, reached=True
    ),
    BuiltinStatus(
        "do_not_call",
        G.AGENT,
        "Do not call again",
        "Ne plus appeler",
        "Não voltar a ligar",
        final=True,
        reached=True,
        do_not_call=True,
        removes=True,
    ),
    # Removal statuses given by blocking rules.
    BuiltinStatus(
        "removed_voted",
        G.REMOVAL,
        "Removed – Already voted",
        "Retiré – A déjà voté",
        "Retirado – Já votou",
        final=True,
        system_only=True,
        removes=True,
    ),
    BuiltinStatus(
        "removed_answered",
        G.REMOVAL,
        "Removed – Already answered",
        "Retiré – A déjà répondu",
        "Retirado – Já respondeu",
        final=True,
        system_only=True,
        removes=True,
    ),
    BuiltinStatus(
        "removed_tag",
        G.REMOVAL,
        "Removed – Tag",
        "Retiré – Étiquette",
        "Retirado – Etiqueta",
        final=True,
        system_only=True,
        removes=True,
    ),
    BuiltinStatus(
        "removed_no_consent",
        G.REMOVAL,
        "Removed – Do not contact",
        "Retiré – Ne pas contacter",
        "Retirado – Não contactar",
        final=True,
        system_only=True,
        removes=True,
    ),
)
BUILTIN_BY_KEY = {s.key: s for s in BUILTIN_STATUSES}


def statuses_ensure(*, organization: Organization) -> list[CallStatus]:
    """Create the built-in statuses this organization lacks; return all of its statuses."""
    existing = set(
        CallStatus.objects.filter(organization=organization).values_list("key", flat=True)
    )
    missing = [
        CallStatus(
            organization=organization,
            key=s.key,
            labels={"en": s.en, "fr": s.fr, "pt": s.pt},
            group=s.group,
            is_final=s.final,
            is_reached=s.reached,
            is_system_only=s.system_only,
            is_do_not_call=s.do_not_call,
            removes_target=s.removes,
            is_builtin=True,
            position=index,
        )
        for index, s in enumerate(BUILTIN_STATUSES)
        if s.key not in existing
    ]
    if missing:
        CallStatus.objects.bulk_create(missing, ignore_conflicts=True)
    return list(CallStatus.objects.filter(organization=organization))
