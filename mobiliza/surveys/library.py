"""The shipped template library, in English, French and Portuguese.

Decision: shipped templates are *data*, not translations of the interface, so they are written
here in the three languages and copied into an organization's library (as ordinary template
surveys it can preview, use and edit) the first time someone opens the library, or by the demo
seeder. `templates_ensure` is idempotent (keyed by `library_key` + language) and never overwrites
an organization's edits: an edited or archived shipped template stays as the organization left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from mobiliza.surveys.models import Survey

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User

LANGS = ("en", "fr", "pt")
T = tuple[str, str, str]


def _c(key: str, label: T, *, to: str = "", end: bool = False, **effects: Any) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "branch": {"kind": "end" if end else ("goto" if to else "next"), "to": to or None},
        "effects": effects,
    }


def _q(
    key: str, qtype: str, label: T, *, guidance: T = ("", "", ""), required: bool = False,
    choices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    if qtype == "yes_no" and not choices:
        choices = [_c("yes", ("Yes", "Oui", "Sim")), _c("no", ("No", "Non", "Não"))]
    return {
        "key": key,
        "type": qtype,
        "label": label,
        "guidance": guidance,
        "required": required,
        "choices": choices or [],
    }


LIBRARY: list[dict[str, Any]] = [
    {
        "key": "voter-id",
        "name": ("Voter ID and support", "Identification et soutien", "Identificação e apoio"),
        "description": (
            "Find out where each person stands and what matters to them. Sets the support level.",
            "Savoir où en est chaque personne et ce qui compte pour elle. Renseigne le niveau de soutien.",
            "Saber a posição de cada pessoa e o que lhe importa. Define o nível de apoio.",
        ),
        "questions": [
            _q(
                "support",
                "single",
                (
                    "Can we count on your support in the coming election?",
                    "Pouvons-nous compter sur votre soutien à la prochaine élection ?",
                    "Podemos contar com o seu apoio nas próximas eleições?",
                ),
                guidance=(
                    "Read the choices only if the person hesitates.",
                    "Ne lisez les réponses que si la personne hésite.",
                    "Leia as opções só se a pessoa hesitar.",
                ),
                required=True,
                choices=[
                    _c(
                        "yes",
                        ("Yes, definitely", "Oui, certainement", "Sim, com certeza"),
                        support_level=5,
                        tag_add="supporter",
                    ),
                    _c("probably", ("Probably", "Probablement", "Provavelmente"), support_level=4),
                    _c(
                        "undecided",
                        ("Undecided", "Indécis", "Indeciso"),
                        to="issue",
                        support_level=3,
                    ),
                    _c(
                        "probably-not",
                        ("Probably not", "Probablement pas", "Provavelmente não"),
                        end=True,
                        support_level=2,
                    ),
                    _c(
                        "no",
                        ("Definitely not", "Certainement pas", "De modo nenhum"),
                        end=True,
                        support_level=1,
                    ),
                ],
            ),
            _q(
                "plan",
                "yes_no",
                ("Do you plan to vote?", "Comptez-vous aller voter ?", "Tenciona ir votar?"),
            ),
            _q(
                "issue",
                "single",
                (
                    "Which issue matters most to you?",
                    "Quel sujet compte le plus pour vous ?",
                    "Que tema é mais importante para si?",
                ),
                choices=[
                    _c("cost", ("Cost of living", "Pouvoir d'achat", "Custo de vida")),
                    _c("health", ("Health", "Santé", "Saúde")),
                    _c("education", ("Education", "Éducation", "Educação")),
                    _c("environment", ("Environment", "Environnement", "Ambiente")),
                    _c("housing", ("Housing", "Logement", "Habitação")),
                    _c("other", ("Something else", "Autre chose", "Outro")),
                ],
            ),
            _q(
                "sms-ok",
                "yes_no",
                (
                    "May we keep you informed by text message?",
                    "Pouvons-nous vous tenir informé par SMS ?",
                    "Podemos mantê-lo informado por SMS?",
                ),
                choices=[
                    _c("yes", ("Yes", "Oui", "Sim"), consent_channel="sms", consent_granted=True),
                    _c("no", ("No", "Non", "Não"), consent_channel="sms", consent_granted=False),
                ],
            ),
        ],
    },
    {
        "key": "gotv",
        "name": ("GOTV: plan to vote", "Mobilisation : plan de vote", "Mobilização: plano de voto"),
        "description": (
            "Election week: help supporters make a concrete plan to vote.",
            "Semaine de l'élection : aider les soutiens à prévoir concrètement leur vote.",
            "Semana da eleição: ajudar os apoiantes a planear o seu voto.",
        ),
        "questions": [
            _q(
                "will-vote",
                "yes_no",
                (
                    "Are you planning to vote on election day?",
                    "Prévoyez-vous d'aller voter le jour de l'élection ?",
                    "Está a pensar votar no dia da eleição?",
                ),
                required=True,
                choices=[
                    _c("yes", ("Yes", "Oui", "Sim")),
                    _c("no", ("No", "Non", "Não"), to="obstacle"),
                ],
            ),
            _q(
                "when",
                "single",
                ("When will you vote?", "Quand irez-vous voter ?", "Quando vai votar?"),
                required=True,
                choices=[
                    _c("morning", ("Morning", "Le matin", "De manhã")),
                    _c("midday", ("Around lunch", "Vers midi", "À hora de almoço")),
                    _c("afternoon", ("Afternoon", "L'après-midi", "À tarde")),
                    _c("evening", ("Evening", "En fin de journée", "Ao fim do dia")),
                    _c(
                        "voted",
                        ("Already voted", "A déjà voté", "Já votou"),
                        end=True,
                        tag_add="voted",
                    ),
                ],
            ),
            _q(
                "travel",
                "single",
                (
                    "How will you get to your polling place?",
                    "Comment irez-vous à votre bureau de vote ?",
                    "Como vai até à sua assembleia de voto?",
                ),
                required=True,
                choices=[
                    _c("walk", ("On foot", "À pied", "A pé"), end=True),
                    _c("car", ("By car", "En voiture", "De carro"), end=True),
                    _c(
                        "transit",
                        ("Public transport", "Transports en commun", "Transportes públicos"),
                        end=True,
                    ),
                    _c(
                        "ride",
                        ("I need a ride", "J'ai besoin d'être conduit", "Preciso de boleia"),
                        end=True,
                        tag_add="needs ride",
                    ),
                ],
            ),
            _q(
                "obstacle",
                "single",
                (
                    "What might keep you from voting?",
                    "Qu'est-ce qui pourrait vous empêcher de voter ?",
                    "O que o pode impedir de votar?",
                ),
                guidance=(
                    "Offer help: a ride, the polling place address, proxy voting.",
                    "Proposez de l'aide : transport, adresse du bureau, procuration.",
                    "Ofereça ajuda: boleia, morada da assembleia, voto antecipado.",
                ),
                choices=[
                    _c("work", ("Work", "Le travail", "O trabalho")),
                    _c(
                        "transport",
                        ("Transport", "Le transport", "O transporte"),
                        tag_add="needs ride",
                    ),
                    _c("registration", ("Not registered", "Pas inscrit", "Não recenseado")),
                    _c("interest", ("Not interested", "Pas intéressé", "Sem interesse")),
                ],
            ),
        ],
    },
    {
        "key": "volunteer",
        "name": (
            "Volunteer recruitment",
            "Recrutement de bénévoles",
            "Recrutamento de voluntários",
        ),
        "description": (
            "Ask supporters to join the campaign and note what they would like to do.",
            "Proposer aux soutiens de rejoindre la campagne et noter ce qu'ils aimeraient faire.",
            "Convidar apoiantes para a campanha e registar o que gostariam de fazer.",
        ),
        "questions": [
            _q(
                "interested",
                "yes_no",
                (
                    "Would you like to volunteer with us?",
                    "Aimeriez-vous devenir bénévole avec nous ?",
                    "Gostaria de ser voluntário connosco?",
                ),
                required=True,
                choices=[
                    _c("yes", ("Yes", "Oui", "Sim"), tag_add="volunteer prospect"),
                    _c("no", ("No", "Non", "Não"), end=True),
                ],
            ),
            _q(
                "activities",
                "multiple",
                (
                    "What would you like to do?",
                    "Qu'aimeriez-vous faire ?",
                    "O que gostaria de fazer?",
                ),
                choices=[
                    _c("calls", ("Phone calls", "Appels téléphoniques", "Chamadas")),
                    _c("doors", ("Door to door", "Porte-à-porte", "Porta a porta")),
                    _c("events", ("Events", "Événements", "Eventos")),
                    _c("online", ("Social media", "Réseaux sociaux", "Redes sociais")),
                    _c("data", ("Data entry", "Saisie de données", "Introdução de dados")),
                ],
            ),
            _q(
                "availability",
                "single",
                (
                    "When are you available?",
                    "Quand êtes-vous disponible ?",
                    "Quando está disponível?",
                ),
                choices=[
                    _c(
                        "evenings",
                        (
                            "Weekday evenings",
                            "En soirée en semaine",
                            "Ao fim do dia, em dias úteis",
                        ),
                    ),
                    _c("weekends", ("Weekends", "Le week-end", "Fins de semana")),
                    _c("both", ("Both", "Les deux", "Ambos")),
                    _c("sometimes", ("Now and then", "De temps en temps", "De vez em quando")),
                ],
            ),
            _q(
                "email-ok",
                "yes_no",
                (
                    "May we email you about volunteering?",
                    "Pouvons-nous vous écrire par e-mail au sujet du bénévolat ?",
                    "Podemos enviar-lhe emails sobre voluntariado?",
                ),
                choices=[
                    _c("yes", ("Yes", "Oui", "Sim"), consent_channel="email", consent_granted=True),
                    _c("no", ("No", "Non", "Não")),
                ],
            ),
        ],
    },
    {
        "key": "issues",
        "name": ("Issue priorities", "Priorités", "Prioridades"),
        "description": (
            "A short poll of what people care about, for the programme and for targeting.",
            "Un court sondage sur ce qui compte pour les gens, pour le programme et le ciblage.",
            "Uma breve sondagem sobre o que importa às pessoas, para o programa e a segmentação.",
        ),
        "questions": [
            _q(
                "priority",
                "single",
                (
                    "What should be our first priority?",
                    "Quelle devrait être notre première priorité ?",
                    "Qual deve ser a nossa primeira prioridade?",
                ),
                required=True,
                choices=[
                    _c("cost", ("Cost of living", "Pouvoir d'achat", "Custo de vida")),
                    _c("health", ("Health", "Santé", "Saúde")),
                    _c("education", ("Education", "Éducation", "Educação")),
                    _c("environment", ("Environment", "Environnement", "Ambiente")),
                    _c("housing", ("Housing", "Logement", "Habitação")),
                    _c("transport", ("Transport", "Transports", "Transportes")),
                ],
            ),
            _q(
                "services",
                "scale",
                (
                    "How satisfied are you with local public services? (1 = not at all, 5 = very)",
                    "Êtes-vous satisfait des services publics locaux ? (1 = pas du tout, 5 = très)",
                    "Está satisfeito com os serviços públicos locais? (1 = nada, 5 = muito)",
                ),
            ),
            _q(
                "comment",
                "long_text",
                (
                    "Anything else you would like us to know?",
                    "Voulez-vous nous dire autre chose ?",
                    "Há mais alguma coisa que nos queira dizer?",
                ),
            ),
        ],
    },
]


def _localize(value: Any, index: int) -> Any:
    if isinstance(value, tuple) and len(value) == 3 and all(isinstance(v, str) for v in value):
        return value[index]
    if isinstance(value, dict):
        return {k: _localize(v, index) for k, v in value.items()}
    if isinstance(value, list):
        return [_localize(v, index) for v in value]
    return value


def library_entry(key: str, language: str) -> dict[str, Any]:
    """One shipped template in one language, as `survey_create` arguments."""
    index = LANGS.index(language) if language in LANGS else 0
    entry = next(e for e in LIBRARY if e["key"] == key)
    return {
        "name": entry["name"][index],
        "description": entry["description"][index],
        "questions": _localize(entry["questions"], index),
    }


def templates_ensure(*, organization: Organization, actor: User | None = None) -> int:
    """Copy the shipped templates into the organization's library (missing ones only).

    Returns how many were created. Safe to call on every visit and concurrently.
    """
    from mobiliza.surveys.services import survey_create

    have = set(
        Survey.objects.filter(organization=organization)
        .exclude(library_key="")
        .values_list("library_key", "language")
    )
    created = 0
    for entry in LIBRARY:
        for language in LANGS:
            if (entry["key"], language) in have:
                continue
            spec = library_entry(entry["key"], language)
            try:
                with transaction.atomic():
                    survey_create(
                        organization=organization,
                        actor=actor,
                        name=spec["name"],
                        description=spec["description"],
                        language=language,
                        is_template=True,
                        questions=spec["questions"],
                        library_key=entry["key"],
                    )
            except IntegrityError:  # another request seeded it at the same moment
                continue
            created += 1
    return created
