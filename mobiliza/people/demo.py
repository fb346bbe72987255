"""Demo people for `make run`: ~3,000 people of a Portuguese movement, loaded through the real
import pipeline (the same services as the page and the command), so the demo exercises it.

Contacts (2,000) with Portuguese and some French names, addresses in Lisbon, Porto, Coimbra,
Braga and Faro (and a few in Funchal and Ponta Delgada: other time zones), mobile and landline
numbers in the usual Portuguese spellings (a few invalid ones, kept and flagged), tags, support
levels, consent; families share an address (households). Electors (1,000) from a register with
voter ids, and their voting history in four elections. Deterministic: same data every time.
"""

from __future__ import annotations

import csv
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mobiliza.web.demo import register_demo_seeder

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User

CONTACTS = 2000
ELECTORS = 1000

MALE = (
    "João", "José", "António", "Francisco", "Manuel", "Pedro", "Tiago", "Rui", "Miguel", "Luís",
    "Diogo", "Duarte", "Gonçalo", "Afonso", "Rodrigo", "Tomás", "Nuno", "Paulo", "Carlos",
    "Ricardo", "Bruno", "Fernando", "Sérgio", "Vasco", "Hugo",
)  # fmt: skip
FEMALE = (
    "Maria", "Ana", "Inês", "Beatriz", "Mariana", "Sofia", "Catarina", "Joana", "Rita", "Marta",
    "Leonor", "Matilde", "Carolina", "Teresa", "Helena", "Sara", "Patrícia", "Filipa", "Cláudia",
    "Luísa", "Madalena", "Raquel", "Conceição", "Fátima", "Graça",
)  # fmt: skip
SURNAMES = (
    "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
    "Jesus", "Sousa", "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Alves", "Almeida",
    "Ribeiro", "Pinto", "Carvalho", "Teixeira", "Moreira", "Correia", "Mendes", "Nunes", "Soares",
    "Vieira", "Monteiro", "Cardoso", "Rocha", "Neves", "Coelho", "Cruz", "Cunha", "Pires",
    "Ramos", "Reis", "Simões", "Antunes", "Matos", "Fonseca", "Machado", "Araújo", "Barbosa",
    "Tavares", "Lourenço", "Castro", "Figueiredo", "Azevedo", "Freitas", "Sá", "Conceição",
)  # fmt: skip
FRENCH_MALE = ("Jean", "Pierre", "Louis", "Nicolas", "Julien", "Antoine", "Mathieu", "Hugo")
FRENCH_FEMALE = ("Camille", "Léa", "Chloé", "Manon", "Élodie", "Juliette", "Amélie", "Claire")
FRENCH_SURNAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Lefèvre", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert",
)  # fmt: skip

# city -> (region, postcode prefixes, landline prefix, latitude, longitude, streets, weight)
CITIES: dict[str, tuple[str, tuple[int, int], str, float, float, tuple[str, ...], int]] = {
    "Lisboa": ("Lisboa", (1000, 1900), "21", 38.7223, -9.1393, (
        "Rua Augusta", "Avenida da Liberdade", "Rua do Ouro", "Rua da Prata",
        "Avenida Almirante Reis", "Rua de São Bento", "Calçada do Combro", "Rua Garrett",
        "Avenida de Roma", "Rua Morais Soares", "Rua da Graça", "Avenida da República",
    ), 40),
    "Porto": ("Porto", (4000, 4400), "22", 41.1579, -8.6291, (
        "Rua de Santa Catarina", "Avenida dos Aliados", "Rua das Flores", "Rua de Cedofeita",
        "Rua do Almada", "Avenida da Boavista", "Rua de Costa Cabral", "Rua de Miguel Bombarda",
    ), 25),
    "Coimbra": ("Coimbra", (3000, 3049), "239", 40.2033, -8.4103, (
        "Rua Ferreira Borges", "Avenida Sá da Bandeira", "Rua da Sofia", "Rua Visconde da Luz",
        "Avenida Fernão de Magalhães",
    ), 12),
    "Braga": ("Braga", (4700, 4719), "253", 41.5454, -8.4265, (
        "Avenida da Liberdade", "Rua do Souto", "Rua de São Vicente", "Avenida Central",
        "Rua D. Pedro V",
    ), 12),
    "Faro": ("Faro", (8000, 8009), "289", 37.0194, -7.9322, (
        "Rua de Santo António", "Avenida 5 de Outubro", "Rua Conselheiro Bívar",
        "Rua do Alportel",
    ), 8),
    "Funchal": ("Madeira", (9000, 9064), "291", 32.6669, -16.9241, (
        "Rua da Carreira", "Avenida Arriaga", "Rua de João Tavira",
    ), 2),
    "Ponta Delgada": ("Açores", (9500, 9504), "296", 37.7412, -25.6756, (
        "Rua Machado dos Santos", "Avenida Infante Dom Henrique",
    ), 1),
}  # fmt: skip
TAGS = ("voluntário", "doador", "militante", "simpatizante", "porta-a-porta", "redes sociais")
ELECTIONS = (
    ("10/03/2024", "Eleições legislativas 2024"),
    ("09/06/2024", "Eleições europeias 2024"),
    ("18/05/2025", "Eleições legislativas 2025"),
    ("12/10/2025", "Eleições autárquicas 2025"),
)


def _phone(rng: random.Random, landline_prefix: str) -> str:
    if rng.random() < 0.8:
        digits = rng.choice(("91", "92", "93", "96")) + f"{rng.randrange(10**7):07d}"
    else:
        digits = (
            landline_prefix
            + f"{rng.randrange(10 ** (9 - len(landline_prefix))):0{9 - len(landline_prefix)}d}"
        )
    style = rng.random()
    if style < 0.5:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if style < 0.75:
        return f"+351 {digits}"
    if style < 0.85:
        return f"00351{digits}"
    return digits


class _Address:
    def __init__(self, rng: random.Random) -> None:
        names = list(CITIES)
        weights = [CITIES[c][6] for c in names]
        self.city = rng.choices(names, weights)[0]
        region, (low, high), self.landline, lat, lon, streets, _w = CITIES[self.city]
        self.region = region
        self.street = f"{rng.choice(streets)}, {rng.randrange(1, 240)}"
        if rng.random() < 0.5:
            self.street += f", {rng.randrange(1, 8)}º {rng.choice(('Esq', 'Dto', 'A', 'B'))}"
        self.postcode = f"{rng.randrange(low, high + 1)}-{rng.randrange(1, 999):03d}"
        self.lat = round(lat + rng.uniform(-0.03, 0.03), 6)
        self.lon = round(lon + rng.uniform(-0.03, 0.03), 6)


def _person_name(rng: random.Random) -> tuple[str, str, str]:
    if rng.random() < 0.1:
        female = rng.random() < 0.5
        first = rng.choice(FRENCH_FEMALE if female else FRENCH_MALE)
        return first, rng.choice(FRENCH_SURNAMES), "F" if female else "M"
    female = rng.random() < 0.52
    first = rng.choice(FEMALE if female else MALE)
    last = (
        f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
        if rng.random() < 0.4
        else rng.choice(SURNAMES)
    )
    return first, last, "F" if female else "M"


def _ascii(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().replace(" ", ".")


def write_demo_files(directory: Path, seed: int = 2026) -> tuple[Path, Path, Path]:
    """Write the contacts, electors and voting history CSV files; return their paths."""
    rng = random.Random(seed)
    contacts = directory / "contactos.csv"
    with contacts.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(
            ["Nome", "Apelido", "Email", "Telemóvel", "Telefone", "Morada", "Código postal",
             "Localidade", "Distrito", "Latitude", "Longitude", "Ano de nascimento", "Género",
             "Apoio", "Etiquetas", "Consentimento SMS", "Idioma", "Doações"]
        )  # fmt: skip
        written = 0
        while written < CONTACTS:
            address = _Address(rng)
            family = rng.choices((1, 2, 3, 4), (55, 28, 12, 5))[0]
            family_name = _person_name(rng)[1]
            for _member in range(min(family, CONTACTS - written)):
                first, last, gender = _person_name(rng)
                if family > 1:
                    last = family_name
                email = ""
                if rng.random() < 0.7:
                    domain = rng.choice(("gmail.com", "sapo.pt", "hotmail.com", "outlook.pt"))
                    email = (
                        f"{_ascii(first)}.{_ascii(last.split()[-1])}{rng.randrange(100)}@{domain}"
                    )
                mobile = _phone(rng, address.landline)
                if rng.random() < 0.02:
                    mobile = rng.choice(("91 234", "n/d", "123456"))  # kept, flagged invalid
                landline = _phone(rng, address.landline) if rng.random() < 0.15 else ""
                tags = ", ".join(sorted(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2)))))
                writer.writerow(
                    [
                        first, last, email, mobile, landline, address.street, address.postcode,
                        address.city, address.region, address.lat, address.lon,
                        rng.randrange(1940, 2007) if rng.random() < 0.8 else "", gender,
                        rng.choice(("", "", "1", "2", "3", "4", "5", "5")), tags,
                        rng.choice(("sim", "não", "")),
                        "fr" if first in FRENCH_MALE + FRENCH_FEMALE else "pt",
                        rng.choice(("", "", "", "10", "25,50", "100")),
                    ]
                )  # fmt: skip
                written += 1
    electors = directory / "recenseamento.csv"
    votes = directory / "votacoes.csv"
    with (
        electors.open("w", encoding="utf-8", newline="") as fe,
        votes.open("w", encoding="utf-8", newline="") as fv,
    ):
        ew, vw = csv.writer(fe), csv.writer(fv)
        ew.writerow(
            ["numero_eleitor", "nome", "apelido", "morada", "codigo_postal", "localidade",
             "distrito", "latitude", "longitude", "ano_nascimento", "freguesia", "estado"]
        )  # fmt: skip
        vw.writerow(["numero_eleitor", "eleicao", "descricao", "modo"])
        for index in range(ELECTORS):
            address = _Address(rng)
            first, last, _gender = _person_name(rng)
            voter_id = f"PT{index + 1:07d}"
            ew.writerow(
                [voter_id, first, last, address.street, address.postcode, address.city,
                 address.region, address.lat, address.lon, rng.randrange(1935, 2007),
                 f"Freguesia de {address.city} {rng.randrange(1, 6)}", "ativo"]
            )  # fmt: skip
            turnout = rng.random()
            for label, description in ELECTIONS:
                if rng.random() < turnout:
                    mode = "antecipado" if rng.random() < 0.1 else "presencial"
                    vw.writerow([voter_id, label, description, mode])
    return contacts, electors, votes


CONTACT_MAPPING = {
    "Nome": "first_name", "Apelido": "last_name", "Email": "email", "Telemóvel": "phone",
    "Telefone": "phone", "Morada": "street", "Código postal": "postcode", "Localidade": "city",
    "Distrito": "region", "Latitude": "latitude", "Longitude": "longitude",
    "Ano de nascimento": "birth_year", "Género": "gender", "Apoio": "support_level",
    "Etiquetas": "tags", "Consentimento SMS": "consent_sms", "Idioma": "language",
    "Doações": "donations_this_year",
}  # fmt: skip
ELECTOR_MAPPING = {
    "numero_eleitor": "external_id", "nome": "first_name", "apelido": "last_name",
    "morada": "street", "codigo_postal": "postcode", "localidade": "city", "distrito": "region",
    "latitude": "latitude", "longitude": "longitude", "ano_nascimento": "birth_year",
    "freguesia": "polling_place", "estado": "registration_status",
}  # fmt: skip
VOTE_MAPPING = {
    "numero_eleitor": "external_id", "eleicao": "election_label",
    "descricao": "election_description", "modo": "voting_method",
}  # fmt: skip


def seed_demo_people(organization: Organization, admin: User) -> None:
    """Load the demo people through the import services (inline, no worker processes)."""
    from mobiliza.people.imports import services
    from mobiliza.people.models import ImportJob, PersonList

    with tempfile.TemporaryDirectory(prefix="mobiliza-demo-") as tmp:
        contacts, electors, votes = write_demo_files(Path(tmp))
        for path, kind, person_list, mapping in (
            (contacts, ImportJob.Kind.PEOPLE, PersonList.CONTACTS, CONTACT_MAPPING),
            (electors, ImportJob.Kind.PEOPLE, PersonList.ELECTORS, ELECTOR_MAPPING),
            (votes, ImportJob.Kind.VOTING_HISTORY, PersonList.ELECTORS, VOTE_MAPPING),
        ):
            job = services.import_job_create(
                organization=organization, actor=admin, kind=kind, person_list=person_list,
                path=path,
            )  # fmt: skip
            services.import_job_configure(job=job, mapping=mapping, constants={"country": "PT"})
            job = services.import_job_run(job_id=job.pk, workers=1)
            if job.status != ImportJob.Status.DONE:
                raise RuntimeError(f"demo import of {path.name} failed: {job.error_message}")
            # The demo's files are temporary: keep the job in the list, without its path.
            ImportJob.objects.filter(pk=job.pk).update(
                options={k: v for k, v in job.options.items() if k != "source_path"}
            )


register_demo_seeder(seed_demo_people, order=50)
