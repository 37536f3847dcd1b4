"""The data dictionary of a genomlysning: the only place a column, type or code list is defined.

One row is one *aktualisering* (a report of concern, an application or information received in
another way) about one child. The template, the import mapping, validation, labels and the synthetic
generator all read this module.

Column roles:

* ``identifier`` - present in raw data only (personnummer); dropped after pseudonymisation.
* ``input``      - entered in the template / read from an export; kept (coded) in clean data.
* ``derived``    - computed during cleaning; never entered.

Coded values are stored in clean data as short ASCII codes (``Code.code``); the Swedish label
(``Code.sv``) is what a person types or picks in the template, the English gloss (``Code.en``) is
used when a notebook runs with ``lang="en"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = "1.0.0"

Dtype = Literal["str", "code", "date", "int", "bool"]
Role = Literal["identifier", "input", "derived"]
Lang = Literal["sv", "en"]


@dataclass(frozen=True)
class Code:
    """One allowed value of a coded column."""

    code: str
    sv: str
    en: str
    aliases: tuple[str, ...] = ()

    def label(self, lang: Lang = "sv") -> str:
        """Return the label in ``lang``."""
        return self.sv if lang == "sv" else self.en


@dataclass(frozen=True)
class Column:
    """One column of the data dictionary."""

    name: str
    sv: str
    en: str
    dtype: Dtype
    role: Role
    required: bool = False
    description_sv: str = ""
    description_en: str = ""
    codes: tuple[Code, ...] = ()
    min_value: int | None = None
    max_value: int | None = None
    group: str = ""

    def label(self, lang: Lang = "sv") -> str:
        """Return the column label in ``lang``."""
        return self.sv if lang == "sv" else self.en

    def code_values(self) -> tuple[str, ...]:
        """Return the allowed codes (empty for uncoded columns)."""
        return tuple(c.code for c in self.codes)

    def code_label(self, code: str, lang: Lang = "sv") -> str:
        """Return the label of ``code`` in ``lang`` (the code itself if unknown)."""
        for c in self.codes:
            if c.code == code:
                return c.label(lang)
        return code


# ---------------------------------------------------------------------------------------------
# Code lists
# ---------------------------------------------------------------------------------------------

JA_NEJ_ALIASES_TRUE: tuple[str, ...] = ("ja", "j", "1", "x", "yes", "y", "sant", "true")
JA_NEJ_ALIASES_FALSE: tuple[str, ...] = ("nej", "n", "0", "no", "falskt", "false", "-")

AKTUALISERINGSTYP = (
    Code("anmalan", "Anmälan", "Report of concern", ("orosanmälan", "orosanmalan")),
    Code("ansokan", "Ansökan", "Application"),
    Code("information", "Information på annat sätt", "Information received otherwise",
         ("annat sätt", "information", "övrig information")),
    Code("yttrande", "Yttrande", "Statement to court/authority"),
    Code("overflyttning", "Överflyttning", "Transfer from another municipality",
         ("överflyttat ärende",)),
)

KON = (
    Code("flicka", "Flicka", "Girl", ("f", "k", "kvinna", "tjej")),
    Code("pojke", "Pojke", "Boy", ("p", "m", "man", "kille")),
    Code("okant", "Okänt", "Unknown", ("okänd", "uppgift saknas", "annat")),
)

ANMALARE = (
    Code("polisen", "Polisen", "Police", ("polis",)),
    Code("skola", "Skola", "School", ("skolan", "elevhälsa")),
    Code("forskola", "Förskola", "Preschool", ("förskolan",)),
    Code("halso_sjukvard", "Hälso- och sjukvård", "Health care",
         ("hälso- och sjukvården", "sjukvård", "vården", "bup", "bvc")),
    Code("socialtjansten", "Socialtjänsten", "Social services", ("soc", "socialtjänst")),
    Code("foralder", "Förälder/vårdnadshavare", "Parent/guardian",
         ("förälder", "vårdnadshavare", "vh")),
    Code("anhorig", "Anhörig", "Relative", ("släkting",)),
    Code("privatperson", "Annan privatperson", "Other private person",
         ("privatperson", "granne", "allmänheten")),
    Code("barnet_sjalv", "Barnet självt", "The child", ("barnet", "den unge")),
    Code("aklagare_domstol", "Åklagare/domstol", "Prosecutor/court",
         ("åklagare", "domstol", "tingsrätt")),
    Code("annan_kommun", "Annan kommun", "Other municipality"),
    Code("ovrigt", "Övrigt", "Other", ("annan", "annat", "övriga")),
)

#: The ärendetyp groups, in priority order: a row with reasons in several groups is assigned to the
#: first group that applies (violence first, because the law then demands an utredning).
ARENDETYP = (
    Code("vald", "Våld i nära relation", "Violence in close relationships"),
    Code("foralder", "Förälders problematik", "Parental problems"),
    Code("barnet", "Barnets eget beteende/mående", "The child's own behaviour/health"),
    Code("ovrigt", "Övrigt", "Other"),
)


@dataclass(frozen=True)
class Reason:
    """One anmälningsorsak: its indicator column, labels and ärendetyp group."""

    code: str
    sv: str
    en: str
    group: str
    aliases: tuple[str, ...] = ()

    @property
    def column(self) -> str:
        """Name of the 0/1 indicator column for this reason."""
        return f"orsak_{self.code}"


ORSAKER: tuple[Reason, ...] = (
    Reason("vald_mot_barnet", "Våld mot barnet", "Violence against the child", "vald",
           ("misshandel", "fysiskt våld")),
    Reason("bevittnat_vald", "Barnet bevittnat våld", "Child witnessed violence", "vald",
           ("bevittnat våld", "våld i hemmet")),
    Reason("sexuella_overgrepp", "Sexuella övergrepp", "Sexual abuse", "vald",
           ("sexuellt övergrepp",)),
    Reason("hedersrelaterat", "Hedersrelaterat", "Honour-related", "vald",
           ("hedersrelaterat våld", "heder")),
    Reason("omsorgssvikt", "Omsorgssvikt / brister i omsorgen", "Neglect / inadequate care",
           "foralder", ("omsorgssvikt", "brister i omsorgen", "bristande omsorg")),
    Reason("missbruk_vardnadshavare", "Missbruk hos vårdnadshavare", "Guardian's substance abuse",
           "foralder", ("föräldrars missbruk", "missbruk förälder")),
    Reason("psykisk_ohalsa_vardnadshavare", "Psykisk ohälsa hos vårdnadshavare",
           "Guardian's mental ill-health", "foralder", ("förälders psykiska ohälsa",)),
    Reason("relationsproblem", "Relationsproblem/konflikt i familjen",
           "Family conflict / relationship problems", "foralder",
           ("konflikt i familjen", "relationsproblem")),
    Reason("barnets_psykiska_ohalsa", "Barnets psykiska ohälsa", "Child's mental ill-health",
           "barnet", ("psykisk ohälsa barn",)),
    Reason("normbrytande", "Normbrytande beteende", "Norm-breaking behaviour", "barnet",
           ("normbrytande", "utagerande")),
    Reason("skolfranvaro", "Skolfrånvaro", "School absence", "barnet", ("frånvaro",)),
    Reason("egen_kriminalitet", "Egen kriminalitet", "Own criminality", "barnet",
           ("kriminalitet", "brott")),
    Reason("eget_missbruk", "Eget missbruk", "Own substance abuse", "barnet",
           ("missbruk barn", "droger")),
    Reason("ovrigt", "Övrigt", "Other", "ovrigt", ("annat", "övrig orsak")),
)

FB_BESLUT = (
    Code("inleda", "Inleda utredning", "Open an investigation",
         ("inleds", "utredning inleds", "ja")),
    Code("inte_inleda", "Inte inleda utredning", "Do not open an investigation",
         ("inleds ej", "ej utredning", "nej", "inte inleda")),
    Code("pagaende", "Påförs pågående utredning", "Added to an ongoing investigation",
         ("påförs", "pågående utredning")),
)

UTREDNING_UTFALL = (
    Code("insats", "Insats beviljad", "Intervention granted", ("beviljad insats", "bifall")),
    Code("inget_behov", "Inget behov", "No need", ("ej behov", "inget behov av insats")),
    Code("avbojd", "Behov men vårdnadshavare/den unge avböjer",
         "Need, but guardian/young person declines", ("avböjt", "samtycke saknas")),
    Code("lvu", "Ansökan om vård enligt LVU", "Application for care under LVU", ("lvu",)),
    Code("hanvisad", "Hänvisad till annat stöd", "Referred to other support",
         ("hänvisning", "hänvisad")),
    Code("annat", "Avslutad av annat skäl", "Closed for another reason",
         ("flyttat", "avslutad", "övrigt")),
)

INSATS_SVAR = (
    Code("ja", "Tackat ja", "Accepted", ("ja", "accepterat", "tackat ja")),
    Code("nej", "Tackat nej", "Declined", ("nej", "avböjt", "tackat nej")),
)

INSATS_TYP = (
    Code("kontaktperson", "Kontaktperson/kontaktfamilj", "Contact person/family",
         ("kontaktperson", "kontaktfamilj")),
    Code("oppenvardsprogram", "Strukturerat öppenvårdsprogram", "Structured outpatient programme",
         ("öppenvårdsprogram",)),
    Code("familjebehandling", "Familjebehandling/föräldrastöd", "Family therapy/parenting support",
         ("familjebehandling", "föräldrastöd")),
    Code("personligt_stod", "Behovsprövat personligt stöd", "Needs-assessed personal support",
         ("personligt stöd",)),
    Code("familjehem", "Familjehem", "Foster family"),
    Code("hvb", "HVB", "Residential care home (HVB)", ("hem för vård eller boende",)),
    Code("stodboende", "Stödboende", "Supported housing"),
    Code("sis", "SiS särskilt ungdomshem", "SiS secure youth home", ("sis",)),
    Code("annan", "Annan insats", "Other intervention", ("annat",)),
)

#: Insats types that are heldygnsvård (out-of-home care); the rest are öppenvård.
HELDYGN = frozenset({"familjehem", "hvb", "stodboende", "sis"})

LAGRUM = (
    Code("sol", "SoL", "Social Services Act (SoL)", ("socialtjänstlagen",)),
    Code("lvu", "LVU", "Care of Young Persons Act (LVU)"),
)

ALDERSGRUPP = (
    Code("0-5", "0–5 år", "0–5 years"),
    Code("6-12", "6–12 år", "6–12 years"),
    Code("13-17", "13–17 år", "13–17 years"),
    Code("18-20", "18–20 år", "18–20 years"),
)

#: Lower age bound of each age group, in the order of ``ALDERSGRUPP``.
ALDERSGRUPP_GRANSER: tuple[int, ...] = (0, 6, 13, 18)
MIN_ALDER, MAX_ALDER = 0, 20

#: Legal deadlines (days).
FB_FRIST_DAGAR = 14
UTREDNING_FRIST_DAGAR = 122  # four months (SoL 11 kap. 2 §), counted as 122 days


# ---------------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------------

def _bool(name: str, sv: str, en: str, desc_sv: str, desc_en: str, group: str,
          role: Role = "input") -> Column:
    return Column(name, sv, en, "bool", role, description_sv=desc_sv, description_en=desc_en,
                  group=group)


_INPUT_COLUMNS: tuple[Column, ...] = (
    Column("rad_id", "Löpnummer", "Row id", "str", "input", required=True, group="aktualisering",
           description_sv="Unikt löpnummer för raden (t.ex. 1, 2, 3 … eller ärendenummer).",
           description_en="Unique id of the row (e.g. 1, 2, 3 … or the case number)."),
    Column("personnummer", "Personnummer", "Personal identity number", "str", "identifier",
           group="barn",
           description_sv="Barnets personnummer (ÅÅÅÅMMDD-NNNN). Lämnar aldrig rådatamappen: "
           "ersätts av ett pseudonymt barn-id, ålder och kön.",
           description_en="The child's personal identity number. Never leaves the raw-data "
           "folder: replaced by a pseudonymous child id, age and sex."),
    Column("barn_id", "Barn-id", "Child id", "str", "input", group="barn",
           description_sv="Pseudonymt barn-id. Fylls i bara om personnummer saknas (t.ex. en "
           "export som redan är pseudonymiserad); annars beräknas det.",
           description_en="Pseudonymous child id. Entered only when personnummer is absent; "
           "otherwise derived."),
    Column("aktualiseringsdatum", "Aktualiseringsdatum", "Date of aktualisering", "date", "input",
           required=True, group="aktualisering",
           description_sv="Datum då ärendet aktualiserades (anmälan/ansökan inkom).",
           description_en="Date the report/application was received."),
    Column("aktualiseringstyp", "Aktualiseringstyp", "Type of aktualisering", "code", "input",
           required=True, codes=AKTUALISERINGSTYP, group="aktualisering",
           description_sv="Hur ärendet aktualiserades.",
           description_en="How the case came to the social services' attention."),
    Column("alder", "Ålder", "Age", "int", "input", min_value=MIN_ALDER, max_value=MAX_ALDER,
           group="barn",
           description_sv="Barnets ålder i år vid aktualiseringen (0–20). Beräknas från "
           "personnummer om det finns.",
           description_en="Age in years at aktualisering (0–20). Derived from personnummer when "
           "present."),
    Column("kon", "Kön", "Sex", "code", "input", codes=KON, group="barn",
           description_sv="Barnets kön. Härleds från personnummer om det saknas.",
           description_en="The child's sex. Derived from personnummer when missing."),
    Column("anmalare", "Anmälare", "Reporter", "code", "input", codes=ANMALARE,
           group="aktualisering",
           description_sv="Vem som gjorde anmälan/lämnade informationen.",
           description_en="Who reported or gave the information."),
    *(Column(r.column, r.sv, r.en, "bool", "input", group="orsak",
             description_sv=f"Anmälningsorsak: {r.sv} (Ja/Nej; flera orsaker kan gälla).",
             description_en=f"Reason: {r.en} (yes/no; several reasons may apply).")
      for r in ORSAKER),
    Column("skyddsbedomning_datum", "Skyddsbedömning, datum", "Date of safety assessment", "date",
           "input", group="forhandsbedomning",
           description_sv="Datum för skyddsbedömningen (samma eller nästa dag).",
           description_en="Date of the immediate safety assessment."),
    Column("fb_beslut", "Förhandsbedömning, beslut", "Initial assessment decision", "code",
           "input", codes=FB_BESLUT, group="forhandsbedomning",
           description_sv="Beslut efter förhandsbedömningen. Tomt = inget beslut ännu.",
           description_en="Decision after the initial assessment. Blank = not yet decided."),
    Column("fb_datum", "Förhandsbedömning, beslutsdatum", "Initial assessment decision date",
           "date", "input", group="forhandsbedomning",
           description_sv="Datum för beslutet (ska fattas inom 14 dagar).",
           description_en="Date of the decision (due within 14 days)."),
    Column("utredning_start", "Utredning, startdatum", "Investigation start date", "date", "input",
           group="utredning",
           description_sv="Datum då utredningen inleddes.",
           description_en="Date the investigation was opened."),
    Column("utredning_slut", "Utredning, slutdatum", "Investigation end date", "date", "input",
           group="utredning",
           description_sv="Datum då utredningen avslutades (ska ske inom fyra månader). Tomt = "
           "pågår.",
           description_en="Date the investigation was closed (due within four months). Blank = "
           "ongoing."),
    _bool("barnsamtal", "Barnsamtal", "Child spoken to",
          "Har utredningen innehållit samtal direkt med barnet?",
          "Did the investigation include a conversation directly with the child?", "utredning"),
    Column("barnsamtal_antal", "Barnsamtal, antal", "Number of conversations with the child",
           "int", "input", min_value=0, max_value=99, group="utredning",
           description_sv="Antal samtal med barnet under utredningen.",
           description_en="Number of conversations with the child during the investigation."),
    _bool("kontakt_forskola", "Kontakt med förskola", "Contact with preschool",
          "Har förskolan kontaktats under utredningen?",
          "Was the preschool contacted during the investigation?", "utredning"),
    _bool("kontakt_skola", "Kontakt med skola", "Contact with school",
          "Har skolan kontaktats under utredningen?",
          "Was the school contacted during the investigation?", "utredning"),
    _bool("kontakt_polis", "Kontakt med polis", "Contact with police",
          "Har polisen kontaktats under utredningen?",
          "Were the police contacted during the investigation?", "utredning"),
    _bool("kontakt_halso_sjukvard", "Kontakt med hälso- och sjukvård", "Contact with health care",
          "Har hälso- och sjukvården kontaktats under utredningen?",
          "Was health care contacted during the investigation?", "utredning"),
    Column("utredning_utfall", "Utredning, utfall", "Investigation outcome", "code", "input",
           codes=UTREDNING_UTFALL, group="utredning",
           description_sv="Hur utredningen avslutades.",
           description_en="How the investigation ended."),
    _bool("insats_erbjuden", "Insats erbjuden/beviljad", "Intervention offered/granted",
          "Har en insats erbjudits eller beviljats?", "Was an intervention offered or granted?",
          "insats"),
    Column("insats_svar", "Insats, svar", "Response to the offer", "code", "input",
           codes=INSATS_SVAR, group="insats",
           description_sv="Tackade vårdnadshavaren/den unge ja eller nej till insatsen?",
           description_en="Did the guardian/young person accept or decline?"),
    _bool("insats_startad", "Insats startad", "Intervention started",
          "Har insatsen påbörjats?", "Has the intervention started?", "insats"),
    Column("insats_typ", "Insatstyp", "Type of intervention", "code", "input", codes=INSATS_TYP,
           group="insats",
           description_sv="Den huvudsakliga insatsen.",
           description_en="The main intervention."),
    Column("insats_lagrum", "Insats, lagrum", "Legal basis of the intervention", "code", "input",
           codes=LAGRUM, group="insats",
           description_sv="Insats enligt SoL eller LVU.",
           description_en="Intervention under SoL or LVU."),
    Column("omrade", "Område/team", "Area/team", "str", "input", group="aktualisering",
           description_sv="Lokalt område eller team (t.ex. ett pilotområde). Valfritt; korta "
           "koder, ingen fritext.",
           description_en="Local area or team (e.g. a pilot area). Optional; short codes, no free "
           "text."),
)

_DERIVED_COLUMNS: tuple[Column, ...] = (
    Column("kommun", "Kommun/stadsdel", "Municipality/district", "str", "derived",
           group="aktualisering", description_en="From the params file."),
    Column("rad_excel", "Rad i filen", "Row in the file", "int", "derived", group="aktualisering",
           description_en="Row number the user sees in Excel (header is row 1)."),
    Column("ar", "År", "Year", "int", "derived", group="aktualisering",
           description_en="Calendar year of the aktualisering."),
    Column("manad", "Månad", "Month", "str", "derived", group="aktualisering",
           description_en="Year-month of the aktualisering (YYYY-MM)."),
    Column("aldersgrupp", "Åldersgrupp", "Age group", "code", "derived", codes=ALDERSGRUPP,
           group="barn"),
    Column("arendetyp", "Ärendetyp", "Case type", "code", "derived", codes=ARENDETYP,
           group="orsak",
           description_en="Reason group; with several reasons, the first group in priority order "
           "(violence, parental problems, the child's own, other)."),
    Column("antal_orsaker", "Antal anmälningsorsaker", "Number of reasons", "int", "derived",
           group="orsak"),
    Column("ateraktualisering", "Återaktualisering", "Re-referral", "bool", "derived",
           group="barn",
           description_en="The child had an earlier aktualisering within the window "
           "(parameter, default 12 months)."),
    Column("tidigare_i_data", "Tidigare aktualisering i data", "Earlier aktualisering in data",
           "bool", "derived", group="barn",
           description_en="The child had any earlier aktualisering in the data."),
    Column("fb_beslutad", "Förhandsbedömning beslutad", "Initial assessment decided", "bool",
           "derived", group="forhandsbedomning"),
    Column("dagar_till_fb", "Dagar till beslut", "Days to decision", "int", "derived",
           group="forhandsbedomning"),
    Column("fb_inom_frist", "Beslut inom 14 dagar", "Decided within 14 days", "bool", "derived",
           group="forhandsbedomning",
           description_en="Complete cohort: missing whenever the 14 days had not passed at period "
           "end, decided or not (and when a date is missing), so that its share is unbiased."),
    Column("fb_oppen_vid_periodslut", "Förhandsbedömning öppen vid periodslut",
           "Initial assessment open at period end", "bool", "derived", group="forhandsbedomning"),
    Column("utredning_inledd", "Utredning inledd", "Investigation opened", "bool", "derived",
           group="utredning",
           description_en="A new investigation was opened or the row was added to an ongoing one."),
    Column("utredning_avslutad", "Utredning avslutad", "Investigation closed", "bool", "derived",
           group="utredning"),
    Column("utredning_dagar", "Utredningstid, dagar", "Investigation length, days", "int",
           "derived", group="utredning"),
    Column("utredning_inom_frist", "Utredning inom fyra månader",
           "Investigation within four months", "bool", "derived", group="utredning",
           description_en="Complete cohort: missing whenever four months had not passed at period "
           "end, closed or not (and when a date is missing), so that its share is unbiased."),
    Column("utredning_oppen_vid_periodslut", "Utredning öppen vid periodslut",
           "Investigation open at period end", "bool", "derived", group="utredning"),
    Column("insats_accepterad", "Insats accepterad", "Intervention accepted", "bool", "derived",
           group="insats"),
    Column("insats_heldygn", "Heldygnsinsats", "Out-of-home care", "bool", "derived",
           group="insats"),
)

COLUMNS: tuple[Column, ...] = _INPUT_COLUMNS + _DERIVED_COLUMNS
_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

#: Columns a person enters in the template (identifier + input), in template order.
TEMPLATE_COLUMNS: tuple[str, ...] = tuple(c.name for c in _INPUT_COLUMNS)
#: Columns that must never leave data/raw/.
IDENTIFIER_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role == "identifier")
#: Columns of the clean table, in order.
CLEAN_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role != "identifier")
REASON_COLUMNS: tuple[str, ...] = tuple(r.column for r in ORSAKER)
DATE_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.dtype == "date")


def column(name: str) -> Column:
    """Return the column called ``name`` (KeyError naming the valid columns otherwise)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown column {name!r}; the schema defines: "
                       f"{', '.join(_BY_NAME)}") from None


def columns(role: Role | None = None, group: str | None = None) -> tuple[Column, ...]:
    """Return the columns with the given role and/or group."""
    return tuple(c for c in COLUMNS
                 if (role is None or c.role == role) and (group is None or c.group == group))


def reason(code: str) -> Reason:
    """Return the anmälningsorsak with ``code``."""
    for r in ORSAKER:
        if r.code == code:
            return r
    raise KeyError(f"unknown anmälningsorsak {code!r}; valid: "
                   f"{', '.join(r.code for r in ORSAKER)}")


def label(name: str, lang: Lang = "sv") -> str:
    """Return the label of a column or reason indicator in ``lang``."""
    return column(name).label(lang)


def code_label(name: str, code: str, lang: Lang = "sv") -> str:
    """Return the label of ``code`` in the coded column ``name``."""
    return column(name).code_label(code, lang)


def code_labels(name: str, lang: Lang = "sv") -> dict[str, str]:
    """Return ``{code: label}`` for a coded column, in code-list order."""
    return {c.code: c.label(lang) for c in column(name).codes}


def arendetyp_of(reason_codes: set[str] | frozenset[str]) -> str:
    """Return the ärendetyp group of a set of reason codes (priority order; ``ovrigt`` if none)."""
    groups = {reason(code).group for code in reason_codes}
    for g in ARENDETYP:
        if g.code in groups:
            return g.code
    return "ovrigt"


def aldersgrupp_of(age: int) -> str:
    """Return the age-group code of an age in years."""
    if not MIN_ALDER <= age <= MAX_ALDER:
        raise ValueError(f"age {age} outside {MIN_ALDER}–{MAX_ALDER}")
    idx = sum(age >= lo for lo in ALDERSGRUPP_GRANSER) - 1
    return ALDERSGRUPP[idx].code


# Small UI strings shared by every notebook, table and figure (not columns, but labels all the same).
TEXTS: dict[str, dict[str, str]] = {
    "aktualiseringar": {"sv": "Aktualiseringar", "en": "Referrals (aktualiseringar)"},
    "barn": {"sv": "Barn", "en": "Children"},
    "andel": {"sv": "Andel", "en": "Share"},
    "antal": {"sv": "Antal", "en": "Count"},
    "totalt": {"sv": "Totalt", "en": "Total"},
    "kalla": {"sv": "Källa", "en": "Source"},
    "enhet": {"sv": "Enhet", "en": "Unit"},
    "undertryckt": {
        "sv": "'..' = färre än {k} och därför dolt (samt sekundärt dolda celler så att ingen dold "
              "cell kan räknas fram ur summorna).",
        "en": "'..' = fewer than {k} and therefore hidden (plus secondarily hidden cells so that no "
              "hidden cell can be recomputed from the totals).",
    },
}


# Tables, workbook and disclosure labels (genomlysning.report, genomlysning.disclose).
TEXTS.update({
    "ja": {"sv": "Ja", "en": "Yes"},
    "nej": {"sv": "Nej", "en": "No"},
    "saknas": {"sv": "Uppgift saknas", "en": "Not recorded"},
    "variabel": {"sv": "Variabel", "en": "Variable"},
    "kategori": {"sv": "Kategori", "en": "Category"},
    "steg": {"sv": "Steg", "en": "Stage"},
    "n": {"sv": "Antal", "en": "Count"},
    "innehall": {"sv": "Innehåll", "en": "Contents"},
    "blad": {"sv": "Blad", "en": "Sheet"},
    "tabell": {"sv": "Tabell", "en": "Table"},
    "anmarkning": {"sv": "Anmärkning", "en": "Note"},
    "tabeller": {"sv": "Tabeller – {namn}", "en": "Tables – {namn}"},
    "ki_nedre": {"sv": "nedre gräns, 95 % KI", "en": "lower bound, 95% CI"},
    "ki_ovre": {"sv": "övre gräns, 95 % KI", "en": "upper bound, 95% CI"},
    "undertryckt_allmant": {"sv": "'..' = dolt så att inget barn ska kunna identifieras.",
                            "en": "'..' = hidden so that no child can be identified."},
})


# Comparing municipalities (genomlysning.compare, 04_compare) and judging change
# (genomlysning.change, 05_change).
TEXTS.update({
    "jmf_ind_utredning_inledd": {"sv": "Andel aktualiseringar som ledde till utredning",
                                 "en": "Share of referrals leading to an investigation"},
    "jmf_ind_insats_erbjuden": {"sv": "Andel aktualiseringar där insats erbjöds/beviljades",
                                "en": "Share of referrals with an intervention offered/granted"},
    "jmf_ind_barnsamtal": {"sv": "Andel utredningar med barnsamtal",
                           "en": "Share of investigations with a conversation with the child"},
    "jmf_ind_fb_inom_frist": {"sv": "Andel förhandsbedömningar beslutade inom 14 dagar",
                              "en": "Share of initial assessments decided within 14 days"},
    "jmf_ind_insats_accepterad": {"sv": "Andel erbjudna insatser som accepterades",
                                  "en": "Share of offered interventions accepted"},
    "jmf_ind_utredning_inom_frist": {"sv": "Andel utredningar klara inom fyra månader",
                                     "en": "Share of investigations closed within four months"},
    "jmf_indikator": {"sv": "Indikator", "en": "Indicator"},
    "jmf_kol_antal": {"sv": "{ind}: antal", "en": "{ind}: count"},
    "jmf_kol_namnare": {"sv": "{ind}: nämnare", "en": "{ind}: denominator"},
    "jmf_kol_andel": {"sv": "{ind}: andel", "en": "{ind}: share"},
    "jmf_kol_kvot": {"sv": "{ind}: observerat/förväntat", "en": "{ind}: observed/expected"},
    "jmf_taljare": {"sv": "Antal (täljare)", "en": "Count (numerator)"},
    "jmf_namnare": {"sv": "Nämnare", "en": "Denominator"},
    "jmf_observerat": {"sv": "Observerat antal (O)", "en": "Observed (O)"},
    "jmf_forvantat": {"sv": "Förväntat antal (E)", "en": "Expected (E)"},
    "jmf_kvot_oe": {"sv": "Observerat/förväntat (O/E)", "en": "Observed/expected (O/E)"},
    "jmf_obs_andel": {"sv": "Observerad andel", "en": "Observed share"},
    "jmf_forv_andel": {"sv": "Förväntad andel", "en": "Expected share"},
    "jmf_just_andel": {"sv": "Justerad andel", "en": "Adjusted share"},
    "jmf_justerad_titel": {"sv": "{ind}, justerad för ärendesammansättning",
                           "en": "{ind}, adjusted for case mix"},
    "jmf_ki_nedre": {"sv": "{niva} % KI, nedre", "en": "{niva}% CI, lower"},
    "jmf_ki_ovre": {"sv": "{niva} % KI, övre", "en": "{niva}% CI, upper"},
    "jmf_grans_nedre": {"sv": "Nedre {niva} %-gräns", "en": "Lower {niva}% limit"},
    "jmf_grans_ovre": {"sv": "Övre {niva} %-gräns", "en": "Upper {niva}% limit"},
    "jmf_lage": {"sv": "Läge", "en": "Position"},
    "jmf_lage_inom": {"sv": "inom gränserna", "en": "within the limits"},
    "jmf_lage_over": {"sv": "över {niva} %-gränsen", "en": "above the {niva}% limit"},
    "jmf_lage_under": {"sv": "under {niva} %-gränsen", "en": "below the {niva}% limit"},
    "jmf_malvarde": {"sv": "Målvärde", "en": "Target"},
    "jmf_antal_enheter": {"sv": "Antal kommuner", "en": "Number of municipalities"},
    "jmf_fg": {"sv": "Frihetsgrader", "en": "Degrees of freedom"},
    "jmf_justerat": {"sv": "Gränserna justerade", "en": "Limits adjusted"},
    "jmf_sigma2": {"sv": "Varians mellan kommuner (σ², log-odds)",
                   "en": "Between-municipality variance (σ², log-odds)"},
    "jmf_kontrollgrans": {"sv": "{niva} %-gräns", "en": "{niva}% limit"},
    "jmf_malvarde_poolad": {"sv": "Alla kommuner tillsammans", "en": "All municipalities pooled"},
    "jmf_malvarde_kvot": {"sv": "Som förväntat (O/E = 1)", "en": "As expected (O/E = 1)"},
    "jmf_volym_n": {"sv": "Nämnare (logaritmisk skala)", "en": "Denominator (log scale)"},
    "jmf_volym_e": {"sv": "Förväntat antal (logaritmisk skala)", "en": "Expected count (log scale)"},
    "jmf_overspridning_justerad": {
        "sv": "Överspridning φ = {phi} (p {p}): gränserna vidgade med slumpeffekt τ²",
        "en": "Overdispersion φ = {phi} (p {p}): limits widened by a random effect τ²"},
    "jmf_overspridning_ej": {"sv": "Överspridning φ = {phi} (p {p}): ingen justering",
                             "en": "Overdispersion φ = {phi} (p {p}): no adjustment"},
    "jmf_text_over": {"sv": "över 99,8 %-gränsen: {kommuner}",
                      "en": "above the 99.8% limit: {kommuner}"},
    "jmf_text_under": {"sv": "under 99,8 %-gränsen: {kommuner}",
                       "en": "below the 99.8% limit: {kommuner}"},
    "jmf_grans_ojusterad": {"sv": "{niva} %-gräns utan justering", "en": "{niva}% limit, unadjusted"},
    "jmf_text_ojusterad": {"sv": " (utanför 99,8 %-gränsen utan justering för överspridning: {kommuner})",
                           "en": " (outside the unadjusted 99.8% limit: {kommuner})"},
    "jmf_text_ingen": {"sv": "ingen kommun utanför 99,8 %-gränserna",
                       "en": "no municipality outside the 99.8% limits"},
    "fdr_fore": {"sv": "Före", "en": "Before"},
    "fdr_efter": {"sv": "Efter", "en": "After"},
    "fdr_skillnad": {"sv": "Skillnad efter − före", "en": "Difference after − before"},
    "fdr_term": {"sv": "Term", "en": "Term"},
    "fdr_term_const": {"sv": "Nivå första månaden", "en": "Level in the first month"},
    "fdr_term_tid": {"sv": "Trend före (per månad)", "en": "Trend before (per month)"},
    "fdr_term_efter": {"sv": "Nivåförändring vid förändringen", "en": "Level change at the change"},
    "fdr_term_tid_efter": {"sv": "Trendförändring (per månad)", "en": "Change in trend (per month)"},
    "fdr_skattning": {"sv": "Skattning", "en": "Estimate"},
    "fdr_medelfel": {"sv": "Medelfel", "en": "Standard error"},
    "fdr_modell": {"sv": "Modell", "en": "Model"},
    "fdr_did_logit": {"sv": "Pilot × efter, logistisk modell (log-odds)",
                      "en": "Pilot × after, logistic model (log-odds)"},
    "fdr_did_lpm": {"sv": "Pilot × efter, linjär sannolikhetsmodell (procentenheter)",
                    "en": "Pilot × after, linear probability model (percentage points)"},
    "fdr_pretrend": {"sv": "Skillnad i månadstrend före start, pilot − övriga (procentenheter per "
                           "månad)",
                     "en": "Difference in monthly trend before the start, pilot − rest (percentage "
                           "points per month)"},
    "fdr_grupp": {"sv": "Grupp", "en": "Group"},
    "fdr_period": {"sv": "Period", "en": "Period"},
    "fdr_ovriga": {"sv": "Övriga områden", "en": "Other areas"},
    "fdr_kvartal": {"sv": "Kvartal (start)", "en": "Quarter (start)"},
    "fdr_halvar": {"sv": "Halvår (start)", "en": "Half-year (start)"},
    "fdr_observerad": {"sv": "Observerad andel per månad", "en": "Observed monthly share"},
    "fdr_anpassad": {"sv": "Anpassade segment", "en": "Fitted segments"},
    "fdr_kontrafaktisk": {"sv": "Trenden före, förlängd (kontrafaktisk)",
                          "en": "Trend before, extended (counterfactual)"},
    "fdr_reformdatum": {"sv": "Förändringen", "en": "The change"},
    "fdr_procentenheter": {"sv": "procentenheter", "en": "percentage points"},
    "fdr_tabell_its_andel": {"sv": "(a) Andel per månad, procentenheter",
                             "en": "(a) Monthly share, percentage points"},
    "fdr_tabell_its_logodds": {"sv": "(b) Log-odds, månader viktade med antal",
                               "en": "(b) Log-odds, months weighted by count"},
    "fdr_tabell_its_justerad": {"sv": "(c) Per aktualisering, justerad för ärendesammansättning "
                                      "(log-odds)",
                                "en": "(c) By referral, adjusted for case mix (log-odds)"},
    "jmf_text_intro": {"sv": "Jämförda kommuner/stadsdelar, år {ar}: {kommuner}.",
                       "en": "Municipalities/districts compared, year {ar}: {kommuner}."},
    "jmf_text_utan": {"sv": " Utan rensade data (ingår inte): {kommuner}.",
                      "en": " Without cleaned data (not included): {kommuner}."},
    "jmf_not_pool": {
        "sv": "En kommun vars antal eller nämnare döljs (..) ingår inte i det poolade målvärdet, "
              "kontrollgränserna, överspridningen, justeringen för ärendesammansättning eller MOR och "
              "ritas inte ut: annars kunde det dolda antalet räknas fram ur de poolade värdena.",
        "en": "A municipality whose count or denominator is hidden (..) is left out of the pooled "
              "target, the control limits, the overdispersion test, the case-mix adjustment and the "
              "MOR, and is not drawn: otherwise the hidden count could be computed from the pooled "
              "figures."},
    "jmf_not_pool_utan": {"sv": " Utanför den poolade jämförelsen: {kommuner}.",
                          "en": " Left out of the pooled comparison: {kommuner}."},
    "fdr_text_intro": {
        "sv": "**{namn}**: {n} aktualiseringar {fran} – {till}. Datum som utvärderas: {datum}. "
              "Indikator i tidsserien: {ind}.",
        "en": "**{namn}**: {n} referrals {fran} – {till}. Date evaluated: {datum}. Indicator in "
              "the time series: {ind}."},
    "fdr_text_ingen_reform": {
        "sv": "Inget datum för en förändring är angivet (parametern `reform_datum`), så det finns "
              "ingen före/efter-jämförelse eller tidsserie att visa.",
        "en": "No date of a change is given (parameter `reform_datum`), so there is no before/after "
              "comparison or time series to show."},
    "fdr_text_ingen_pilot": {
        "sv": "Inget pilotområde är angivet (parametern `pilot_omrade`), så avsnittet om "
              "skillnad i skillnader hoppas över.",
        "en": "No pilot area is given (parameter `pilot_omrade`), so the difference-in-differences "
              "section is skipped."},
    "fdr_text_pilot_utan_datum": {
        "sv": "Pilotområdet {pilot} är angivet men inget startdatum (`pilot_start` eller "
              "`reform_datum`); utan startdatum kan före och efter inte skiljas åt.",
        "en": "The pilot area {pilot} is given but no start date (`pilot_start` or "
              "`reform_datum`); without it before and after cannot be told apart."},
    "fdr_text_its": {
        "sv": "Enligt den enkla tidsserien ändrades andelen vid förändringen med {pp} procentenheter "
              "(95 % KI {pp_lo} till {pp_hi}). Justerat för ärendesammansättning motsvarar "
              "nivåförändringen oddskvoten {orr} (95 % KI {or_lo}–{or_hi}); trenden efteråt ändrades "
              "med {slope} log-odds per månad (95 % KI {slope_lo} till {slope_hi}).",
        "en": "In the simple time series the share changed at the change by {pp} percentage points "
              "(95% CI {pp_lo} to {pp_hi}). Adjusted for case mix the level change is an odds ratio "
              "of {orr} (95% CI {or_lo}–{or_hi}); the trend afterwards changed by {slope} log-odds "
              "per month (95% CI {slope_lo} to {slope_hi})."},
    "fdr_text_did": {
        "sv": "I pilotområdet {pilot} ändrades oddsen med faktorn {orr} (95 % KI {or_lo}–{or_hi}) "
              "jämfört med övriga områden, eller med {pp} procentenheter (95 % KI {pp_lo} till "
              "{pp_hi}). Test av skillnad i trend före start: p = {p}.",
        "en": "In the pilot area {pilot} the odds changed by a factor {orr} (95% CI {or_lo}–{or_hi}) "
              "relative to the other areas, or by {pp} percentage points (95% CI {pp_lo} to "
              "{pp_hi}). Test of a difference in trend before the start: p = {p}."},
    "jmf_enhet_utredning_inledd": {
        "sv": "Aktualiseringar (utom de vars förhandsbedömning pågick vid periodens slut)",
        "en": "Referrals (excluding those whose initial assessment was open at the end of the period)"},
    "jmf_enhet_insats_erbjuden": {
        "sv": "Aktualiseringar (utom de med förhandsbedömning eller utredning som pågick vid "
              "periodens slut)",
        "en": "Referrals (excluding those with an initial assessment or investigation open at the "
              "end of the period)"},
    "jmf_enhet_barnsamtal": {
        "sv": "Aktualiseringar med egen utredning (utom utredningar som pågick vid periodens slut)",
        "en": "Referrals with their own investigation (excluding investigations open at the end of "
              "the period)"},
    "jmf_enhet_fb_inom_frist": {
        "sv": "Aktualiseringar där 14 dagar hade gått vid periodslut (komplett kohort, beslutade "
              "eller inte)",
        "en": "Referrals whose 14 days had passed at the end of the period (complete cohort, decided "
              "or not)"},
    "jmf_enhet_insats_accepterad": {"sv": "Aktualiseringar med erbjuden insats",
                                    "en": "Referrals with an intervention offered"},
    "jmf_enhet_utredning_inom_frist": {
        "sv": "Egna utredningar där fyra månader hade gått vid periodslut (komplett kohort, "
              "avslutade eller inte)",
        "en": "Own investigations whose four months had passed at the end of the period (complete "
              "cohort)"},
    "jmf_kalla": {"sv": "Rensade genomlysningsdata (data/processed), år {ar}",
                  "en": "Cleaned review data (data/processed), year {ar}"},
    "jmf_arbetsbok": {"sv": "Jämförelse mellan kommuner", "en": "Comparison of municipalities"},
    "jmf_titel_nyckeltal": {"sv": "Nyckeltal per kommun {ar}",
                            "en": "Headline figures by municipality, {ar}"},
    "jmf_enhet_nyckeltal": {"sv": "Aktualiseringar och barn; andelar enligt respektive indikator",
                            "en": "Referrals and children; shares as defined by each indicator"},
    "jmf_not_nyckeltal": {
        "sv": "Observerat/förväntat: justerat för ärendetyp, anmälare, åldersgrupp, kön och "
              "återaktualisering (indirekt standardisering mot alla kommuner tillsammans). En andel "
              "döljs också när antalet som inte når steget är 1–4.",
        "en": "Observed/expected: adjusted for case type, reporter, age group, sex and re-referral "
              "(indirect standardisation against all municipalities pooled). A share is also hidden "
              "when the number not reaching the stage is 1–4."},
    "jmf_titel_tratt": {"sv": "Trattdiagram: {ind}, {ar}", "en": "Funnel plot: {ind}, {ar}"},
    "jmf_not_tratt": {
        "sv": "Kontrollgränser kring den poolade andelen (exakta binomialgränser, Spiegelhalter "
              "2005), vidgade med en slumpeffekt när överspridningen är signifikant.",
        "en": "Control limits around the pooled share (exact binomial limits, Spiegelhalter 2005), "
              "widened by a random effect when overdispersion is significant."},
    "jmf_titel_overspridning": {"sv": "Överspridning per indikator, {ar}",
                                "en": "Overdispersion by indicator, {ar}"},
    "jmf_enhet_indikatorer": {"sv": "Indikatorer", "en": "Indicators"},
    "jmf_not_overspridning": {
        "sv": "φ = medelvärdet av de kvadrerade z-värdena efter winsorisering (10 % i vardera "
              "änden); χ² = antal kommuner × φ mot χ² med (antal − 1) frihetsgrader; τ² = "
              "DerSimonian–Lairds varians mellan kommuner.",
        "en": "φ = mean squared z-score after winsorising 10% at each end; χ² = units × φ against "
              "χ² on (units − 1) degrees of freedom; τ² = DerSimonian–Laird between-unit variance."},
    "jmf_titel_casemix": {"sv": "Justering för ärendesammansättning: {ind}, {ar}",
                          "en": "Case-mix adjustment: {ind}, {ar}"},
    "jmf_not_casemix": {
        "sv": "Förväntat antal (E) från en poolad logistisk modell med ärendetyp, anmälare, "
              "åldersgrupp, kön och återaktualisering; exakt Poisson-intervall för O; justerad "
              "andel = O/E × poolad andel.",
        "en": "Expected count (E) from a pooled logistic model with case type, reporter, age group, "
              "sex and re-referral; exact Poisson interval for O; adjusted share = O/E × pooled "
              "share."},
    "jmf_titel_mor": {"sv": "Variation mellan kommuner efter justering (median-oddskvot), {ar}",
                      "en": "Variation between municipalities after adjustment (median odds ratio), "
                            "{ar}"},
    "jmf_not_mor": {
        "sv": "Kommunernas intercept från en logistisk modell med fixa kommuneffekter och "
              "ärendesammansättning (klusterrobusta varianser per barn); σ² skattad med "
              "DerSimonian–Lairds momentmetod, intervall med Q-profilmetoden; "
              "MOR = exp(√(2σ²) · 0,6745).",
        "en": "Municipality intercepts from a logistic model with municipality fixed effects and "
              "case mix (cluster-robust variances by child); σ² by the DerSimonian–Laird method of "
              "moments, Q-profile interval; MOR = exp(√(2σ²) · 0.6745)."},
    "fdr_kalla": {"sv": "Rensade genomlysningsdata för {namn}, {fran} – {till}",
                  "en": "Cleaned review data for {namn}, {fran} – {till}"},
    "fdr_titel_fore_efter": {"sv": "Före och efter {datum}", "en": "Before and after {datum}"},
    "fdr_enhet_fore_efter": {"sv": "Aktualiseringar; nämnare enligt respektive indikator",
                             "en": "Referrals; denominators as defined by each indicator"},
    "fdr_not_fore_efter": {
        "sv": "Skillnad efter − före med Newcombes hybrida score-intervall (1998, metod 10).",
        "en": "Difference after − before with Newcombe's hybrid score interval (1998, method 10)."},
    "fdr_titel_its": {"sv": "{ind} per månad", "en": "{ind} by month"},
    "fdr_titel_its_andel": {
        "sv": "Segmenterad regression av andelen per månad: {ind} (Newey–West-medelfel, {lags} "
              "laggar)",
        "en": "Segmented regression of the monthly share: {ind} (Newey–West errors, {lags} lags)"},
    "fdr_titel_its_logodds": {
        "sv": "Segmenterad binomialregression per månad: {ind} (log-odds, månader viktade med "
              "antal; Newey–West-medelfel, {lags} laggar)",
        "en": "Segmented binomial regression by month: {ind} (log-odds, months weighted by count; "
              "Newey–West errors, {lags} lags)"},
    "fdr_titel_its_justerad": {
        "sv": "Segmenterad logistisk regression per aktualisering, justerad för "
              "ärendesammansättning: {ind}",
        "en": "Segmented logistic regression by referral, adjusted for case mix: {ind}"},
    "fdr_enhet_procentenheter": {"sv": "Procentenheter (trender per månad)",
                                 "en": "Percentage points (trends per month)"},
    "fdr_enhet_logodds": {"sv": "Log-odds (trender per månad)", "en": "Log-odds (trends per month)"},
    "fdr_not_its_justerad": {
        "sv": "Justerad för ärendetyp, anmälare, åldersgrupp, kön och återaktualisering; "
              "medelfel klustrade per barn.",
        "en": "Adjusted for case type, reporter, age group, sex and re-referral; standard errors "
              "clustered by child."},
    "fdr_titel_did": {"sv": "Pilotområde {pilot} mot övriga områden: {ind}",
                      "en": "Pilot area {pilot} against the other areas: {ind}"},
    "fdr_titel_did_celler": {"sv": "{ind}: {pilot} och övriga områden före och efter start",
                             "en": "{ind}: {pilot} and the other areas before and after the start"},
    "fdr_enhet_did": {"sv": "Log-odds respektive procentenheter",
                      "en": "Log-odds and percentage points respectively"},
    "fdr_not_did": {
        "sv": "Modeller med fixa effekter för område och kvartal samt ärendesammansättning; "
              "medelfel klustrade per barn. Förtrendtestet jämför månadstrenden före start.",
        "en": "Models with area and quarter fixed effects and case mix; standard errors clustered "
              "by child. The pre-trend test compares the monthly trends before the start."},
    "fdr_titel_underlag": {"sv": "Aktualiseringar i underlaget", "en": "Referrals in the data"},
    "fdr_underlag_rad": {"sv": "Aktualiseringar {fran} – {till}", "en": "Referrals {fran} – {till}"},
    "fdr_titel_its_manader": {"sv": "{ind} per månad (punkterna i tidsseriefiguren)",
                              "en": "{ind} by month (the points of the time-series figure)"},
    "fdr_titel_did_perioder": {"sv": "{ind}: {pilot} och övriga områden per {period} (punkterna i figuren)",
                               "en": "{ind}: {pilot} and the other areas by {period} (the points of the "
                                     "figure)"},
    "fdr_period_kvartal": {"sv": "kvartal", "en": "quarter"},
    "fdr_period_halvar": {"sv": "halvår", "en": "half-year"},
    "fdr_not_antal_beskrivande": {
        "sv": "Alla aktualiseringar med känt område räknas, även de som modellerna utelämnar för att "
              "ärendesammansättningen saknas.",
        "en": "Every referral with a known area is counted, also those the models leave out for a "
              "missing case mix."},
    "fdr_not_dolda_skattningar": {
        "sv": "Skattningarna visas som .. eftersom ett dolt antal i underlaget skulle kunna räknas "
              "fram ur dem.",
        "en": "The estimates are shown as .. because a hidden count in the data could be computed "
              "from them."},
})


# The funnel (genomlysning.funnel, genomlysning.plots, 02_funnel): columns, titles, units, notes.
TEXTS.update({
    "aktualisering": {"sv": "Aktualisering", "en": "Referral (aktualisering)"},
    "anmalningsorsak": {"sv": "Anmälningsorsak", "en": "Reason for referral"},
    "n_foregaende": {"sv": "Antal i föregående steg", "en": "Count at the previous stage"},
    "n_forsta": {"sv": "Antal i första steget", "en": "Count at the first stage"},
    "andel_foregaende": {"sv": "Andel av föregående steg", "en": "Share of the previous stage"},
    "andel_forsta": {"sv": "Andel av första steget", "en": "Share of the first stage"},
    "n_grupp": {"sv": "Antal i gruppen", "en": "Number in the group"},
    "n_totalt": {"sv": "Totalt antal (nämnare)", "en": "Total (denominator)"},
    "n_bas": {"sv": "Antal med känt utfall (nämnare)", "en": "Known outcome (denominator)"},
    "n_ja": {"sv": "Antal ja", "en": "Number yes"},
    "n_nej": {"sv": "Antal nej", "en": "Number no"},
    "n_saknas": {"sv": "Uppgift saknas", "en": "Not recorded"},
    "n_censurerade": {"sv": "Fristen inte ute vid periodslut (utanför kohorten)",
                      "en": "Deadline not passed at period end (outside the cohort)"},
    "utfall": {"sv": "Utfall", "en": "Outcome"},
    "tackat_nej": {"sv": "Tackat nej till erbjuden insats", "en": "Declined the offered intervention"},
    "grupp": {"sv": "Grupp", "en": "Group"},
    "dag": {"sv": "Dag", "en": "Day"},
    "n_oppna": {"sv": "Fortfarande öppna", "en": "Still open"},
    "n_klara": {"sv": "Klara (beslutade/avslutade)", "en": "Completed (decided/closed)"},
    "andel_klara": {"sv": "Andel klara", "en": "Share completed"},
    "antal_aktualiseringar": {"sv": "Antal aktualiseringar under året", "en": "Referrals in the year"},
    "titel_tratt": {"sv": "Från aktualisering till insats {ar}", "en": "From referral to intervention {ar}"},
    "titel_utfall": {"sv": "Utredningarnas utfall {ar}", "en": "Outcomes of the investigations {ar}"},
    "titel_fordelning": {"sv": "Stegen efter ärendetyp, anmälningsorsak, anmälare, ålder, kön m.m. {ar}",
                         "en": "The stages by case type, reason, reporter, age, sex etc. {ar}"},
    "titel_barn_antal": {"sv": "Barn efter antal aktualiseringar {ar}",
                         "en": "Children by number of referrals {ar}"},
    "titel_barnsamtal": {"sv": "Utredningar med barnsamtal {ar}",
                         "en": "Investigations with a conversation with the child {ar}"},
    "titel_samverkan": {"sv": "Samverkan under utredningen {ar}",
                        "en": "Contacts during the investigation {ar}"},
    "titel_tidsfrister": {
        "sv": "Förhandsbedömningar inom 14 dagar och utredningar inom fyra månader {ar}",
        "en": "Initial assessments within 14 days and investigations within four months {ar}"},
    "titel_tid_fb": {"sv": "Tid från aktualisering till beslut om förhandsbedömning {ar}",
                     "en": "Time from referral to initial assessment decision {ar}"},
    "titel_tid_utredning": {"sv": "Utredningstid {ar}", "en": "Investigation length {ar}"},
    "titel_avbojda": {"sv": "Erbjudna insatser som tackats nej till {ar}",
                      "en": "Offered interventions that were declined {ar}"},
    "titel_insatser": {"sv": "Erbjudna insatser efter typ {ar}", "en": "Offered interventions by type {ar}"},
    "titel_hoppade_steg": {"sv": "Rader med ett senare steg men utan ett tidigare {ar}",
                           "en": "Rows with a later stage but without an earlier one {ar}"},
    "enhet_bada": {"sv": "Aktualiseringar och barn (se kolumnen Enhet)",
                   "en": "Referrals and children (see the column Unit)"},
    "enhet_utredningar": {"sv": "Avslutade egna utredningar (aktualiseringar)",
                          "en": "Closed own investigations (referrals)"},
    "enhet_tidsfrister": {"sv": "Förhandsbedömningar: aktualiseringar; utredningar: egna utredningar",
                          "en": "Initial assessments: referrals; investigations: own investigations"},
    "enhet_erbjudna": {"sv": "Aktualiseringar med erbjuden insats",
                       "en": "Referrals with an intervention offered"},
    "enhet_egna_utredningar": {"sv": "Egna utredningar (aktualiseringar)",
                               "en": "Own investigations (referrals)"},
    "not_kapslad": {
        "sv": "Stegen är kapslade: en aktualisering räknas i ett steg bara om den också nått alla tidigare "
              "steg. Ett barn räknas i ett steg om någon av dess aktualiseringar under året nådde steget. "
              "Aktualiseringar som påförts en pågående utredning har ingen egen utredning och räknas inte "
              "som avslutade.",
        "en": "The stages are nested: a referral counts at a stage only if it also reached every earlier "
              "stage. A child counts at a stage if any of its referrals in the year reached it. Referrals "
              "added to an ongoing investigation have no investigation of their own and never count as "
              "closed."},
    "not_fordelning": {
        "sv": "Andel = andel av gruppens aktualiseringar (barn) som nådde steget, med 95 % "
              "konfidensintervall (Wilson; för aktualiseringar justerat för att ett barn kan ha flera). "
              "En aktualisering med flera anmälningsorsaker räknas under var "
              "och en av dem, och ett barn räknas under varje kategori som någon av dess aktualiseringar "
              "har; summan över kategorierna kan därför bli större än totalen.",
        "en": "Share = share of the group's referrals (children) that reached the stage, with a 95% "
              "confidence interval (Wilson; for referrals adjusted for children with several). A "
              "referral with several reasons counts under each of them, and "
              "a child counts under every category any of its referrals has, so the categories can add up "
              "to more than the total."},
    "not_andel_kand": {
        "sv": "Andelen beräknas på ärenden med känt utfall; uppgift saknas redovisas separat.",
        "en": "The share is computed on cases with a known outcome; missing values are shown separately."},
    "not_censur": {
        "sv": "Andelen beräknas på den kompletta kohorten: alla ärenden där fristen (14 dagar, fyra "
              "månader) hade gått ut vid periodslut, klara eller inte; de som ännu inte var klara räknas "
              "som för sena. Ärenden där fristen ännu inte gått ut räknas inte med, vare sig de hunnit bli "
              "klara eller inte, utan redovisas separat: att bara ta bort de öppna skulle behålla de "
              "snabba ärendena och ge en för hög andel. 95 % KI (Wilson, justerat för att ett barn kan ha "
              "flera aktualiseringar).",
        "en": "The share is computed on the complete cohort: every case whose deadline (14 days, four "
              "months) had passed at the end of the period, done or not; those not done count as late. "
              "Cases whose deadline had not yet passed are left out, whether done or not, and shown "
              "separately: removing only the open ones would keep the quick cases and overstate the "
              "share. 95% CI (Wilson, adjusted for children with several referrals)."},
    "not_km": {
        "sv": "Kaplan–Meier-skattning av andelen klara efter ett visst antal dagar (95 % KI); ärenden som "
              "var öppna vid periodslut censureras då.",
        "en": "Kaplan–Meier estimate of the share completed after a number of days (95% CI); cases open at "
              "the end of the period are censored then."},
    "not_utfall": {"sv": "Andel av de avslutade utredningarna (95 % KI, Wilson).",
                   "en": "Share of the closed investigations (95% CI, Wilson)."},
    "not_insatser": {"sv": "Andel av alla erbjudna insatser (95 % KI, Wilson). Heldygnsinsats = familjehem, "
                           "HVB, stödboende eller SiS särskilt ungdomshem.",
                     "en": "Share of all offered interventions (95% CI, Wilson). Out-of-home care = foster "
                           "family, HVB, supported housing or SiS secure youth home."},
    "not_barn_antal": {"sv": "Barn efter antal aktualiseringar under året.",
                       "en": "Children by their number of referrals in the year."},
    "not_hoppade": {"sv": "Raderna räknas i tratten bara fram till det första steg som saknas; kontrollera "
                          "registreringen.",
                    "en": "These rows count in the funnel only up to the first missing stage; check the "
                          "data entry."},
    "kalla_data": {"sv": "Genomlysning {namn} {ar}: akter i socialtjänsten, egen bearbetning",
                   "en": "Genomlysning {namn} {ar}: social services case records, own processing"},
    "fig_andel_av": {"sv": "Andel av gruppens {enhet}, % (95 % KI)",
                     "en": "Share of the group's {enhet}, % (95% CI)"},
    "fig_andel_ki": {"sv": "{utfall} (95 % KI)", "en": "{utfall} (95% CI)"},
    "andel_procent": {"sv": "Andel (%)", "en": "Share (%)"},
    "ax_dagar_fb": {"sv": "Dagar från aktualisering till beslut", "en": "Days from referral to decision"},
    "ax_dagar_utredning": {"sv": "Dagar från utredningsstart till avslut",
                           "en": "Days from start to end of investigation"},
    "ax_klara_fb": {"sv": "Andel beslutade förhandsbedömningar (%)", "en": "Initial assessments decided (%)"},
    "ax_klara_utredning": {"sv": "Andel avslutade utredningar (%)", "en": "Investigations closed (%)"},
    "frist": {"sv": "Frist", "en": "Deadline"},
    "dolt": {"sv": ".. = dolt (färre än {k})", "en": ".. = hidden (fewer than {k})"},
    "sammanfattning_tratt": {
        "sv": "Under {ar} kom {n_akt} aktualiseringar om {n_barn} barn. {utr} av aktualiseringarna ledde "
              "till en utredning (ny eller påförd en pågående), {erbj} till att en insats erbjöds eller "
              "beviljades och {start} till en insats som startade. Räknat i barn ledde {utr_barn} till "
              "utredning och {start_barn} till en startad insats.",
        "en": "In {ar} there were {n_akt} referrals about {n_barn} children. {utr} of the referrals led "
              "to an investigation (new or added to an ongoing one), {erbj} to an intervention being "
              "offered or granted and {start} to an intervention that started. Counted in children, "
              "{utr_barn} led to an investigation and {start_barn} to an intervention that started."},
    "sammanfattning_barn": {
        "sv": "{barnsamtal} av de avslutade utredningarna innehöll ett samtal direkt med barnet. "
              "{fb_frist} av förhandsbedömningarna beslutades inom 14 dagar och {utr_frist} av "
              "utredningarna avslutades inom fyra månader (öppna ärenden vid periodslut oräknade). "
              "{nej} av de erbjudna insatserna tackades nej till.",
        "en": "{barnsamtal} of the closed investigations included a conversation directly with the child. "
              "{fb_frist} of the initial assessments were decided within 14 days and {utr_frist} of the "
              "investigations were closed within four months (cases open at period end not counted). "
              "{nej} of the offered interventions were declined."},
})


# Logistic models (genomlysning.models, 03_models): headers, notes, figure labels.
TEXTS.update({
    "mod_ovriga": {"sv": "Övrigt/övriga", "en": "Other (pooled)"},
    "mod_orsaker": {"sv": "Anmälningsorsak (var för sig)", "en": "Reason for referral (each)"},
    "mod_orsak_ovriga": {"sv": "Övriga orsaker (sammanslagna)", "en": "Other reasons (pooled)"},
    "mod_ref": {"sv": "ref.", "en": "ref."},
    "mod_or_ki": {"sv": "Oddskvot (95 % KI)", "en": "Odds ratio (95% CI)"},
    "mod_ame_ki": {"sv": "Marginaleffekt, procentenheter (95 % KI)",
                   "en": "Marginal effect, percentage points (95% CI)"},
    "mod_sannolikhet_ki": {"sv": "Standardiserad sannolikhet (95 % KI)",
                           "en": "Standardised probability (95% CI)"},
    "mod_separation": {"sv": "Separation", "en": "Separation"},
    "mod_referens": {"sv": "Referenskategori", "en": "Reference category"},
    "mod_n": {"sv": "Antal aktualiseringar", "en": "Referrals"},
    "mod_handelser": {"sv": "Varav med utfallet", "en": "With the outcome"},
    "mod_ej_handelser": {"sv": "Varav utan utfallet", "en": "Without the outcome"},
    "mod_andel": {"sv": "Andel med utfallet, %", "en": "Share with the outcome, %"},
    "mod_or": {"sv": "Oddskvot", "en": "Odds ratio"},
    "mod_or_lag": {"sv": "Oddskvot, 95 % KI nedre", "en": "Odds ratio, 95% CI lower"},
    "mod_or_hog": {"sv": "Oddskvot, 95 % KI övre", "en": "Odds ratio, 95% CI upper"},
    "mod_p": {"sv": "p-värde", "en": "p-value"},
    "mod_ame": {"sv": "Marginaleffekt, procentenheter", "en": "Marginal effect, percentage points"},
    "mod_ame_lag": {"sv": "Marginaleffekt, 95 % KI nedre", "en": "Marginal effect, 95% CI lower"},
    "mod_ame_hog": {"sv": "Marginaleffekt, 95 % KI övre", "en": "Marginal effect, 95% CI upper"},
    "mod_sannolikhet": {"sv": "Standardiserad sannolikhet, %", "en": "Standardised probability, %"},
    "mod_sannolikhet_lag": {"sv": "Standardiserad sannolikhet, 95 % KI nedre",
                            "en": "Standardised probability, 95% CI lower"},
    "mod_sannolikhet_hog": {"sv": "Standardiserad sannolikhet, 95 % KI övre",
                            "en": "Standardised probability, 95% CI upper"},
    "mod_metod": {"sv": "Skattningsmetod", "en": "Estimation method"},
    "mod_ml": {"sv": "Maximum likelihood; Wald-KI med klusterrobusta standardfel per barn",
               "en": "Maximum likelihood; Wald CIs with cluster-robust standard errors by child"},
    "mod_firth": {
        "sv": "Firths penaliserade likelihood (separation); KI från profilerad penaliserad likelihood (tar "
              "inte hänsyn till klustring)",
        "en": "Firth's penalised likelihood (separation); profile penalised-likelihood CIs (do not account "
              "for clustering)",
    },
    "mod_ame_note": {
        "sv": "Marginaleffekter och standardiserade sannolikheter: deltametoden med klusterrobusta "
              "standardfel per barn (vid Firth det största av det klusterrobusta och det modellbaserade).",
        "en": "Marginal effects and standardised probabilities: delta method with cluster-robust standard "
              "errors by child (with Firth the larger of the cluster-robust and the model-based one).",
    },
    "mod_or_axis": {"sv": "Oddskvot (logaritmisk skala)", "en": "Odds ratio (log scale)"},
    "mod_ame_axis": {"sv": "Marginaleffekt, procentenheter", "en": "Marginal effect, percentage points"},
    "mod_pred_axis": {"sv": "Standardiserad sannolikhet, %", "en": "Standardised probability, %"},
    "mod_unit": {"sv": "Aktualiseringar år {ar} (rader); standardfel klustrade per barn",
                 "en": "Referrals in {ar} (rows); standard errors clustered by child"},
    "mod_kalla": {"sv": "Egen bearbetning av akter, {kommun} {ar}", "en": "Case records, {kommun} {ar}"},
    "mod_ref_note": {"sv": "Referenskategorier: {items}.", "en": "Reference categories: {items}."},
    "mod_separation_mark": {"sv": "† = alla utfall lika i kategorin (separation)",
                            "en": "† = all outcomes equal in the category (separation)"},
    "mod_predicted": {"sv": "Förutsagd sannolikhet", "en": "Predicted probability"},
    "mod_observed": {"sv": "Observerad andel", "en": "Observed share"},
    "mod_smoothed": {"sv": "Utjämnad kurva (lowess)", "en": "Smoothed curve (lowess)"},
    "mod_perfect": {"sv": "Perfekt kalibrering", "en": "Perfect calibration"},
    "mod_saknas": {"sv": "Saknat värde (rader)", "en": "Missing value (rows)"},
    "mod_utfallet": {"sv": "Utfallet (se kolumnen)", "en": "The outcome (see the column)"},
    "mod_i_population": {"sv": "Rader i populationen", "en": "Rows in the population"},
    "mod_nagot_saknas": {"sv": "Rader med något saknat värde", "en": "Rows with any missing value"},
    "mod_i_modell": {"sv": "Rader i modellen", "en": "Rows in the model"},
    "mod_barn_id_saknas": {"sv": "Barn-id saknas (egen klunga)", "en": "Child id missing (own cluster)"},
    "mod_sammanslagen_till": {"sv": "Slogs samman till", "en": "Pooled into"},
    "mod_skal": {"sv": "Skäl", "en": "Reason"},
    "mod_skal_liten": {"sv": "färre än {min_n} rader eller 1–{m} med/utan utfallet",
                       "en": "fewer than {min_n} rows or 1–{m} with/without the outcome"},
    "mod_skal_ref": {"sv": "sammanslagen grupp fortfarande för liten: till referensen",
                     "en": "pooled group still too small: merged into the reference"},
    "mod_skal_granne": {"sv": "för liten: till närmaste åldersgrupp",
                        "en": "too small: merged into the neighbouring age group"},
    "mod_riktning": {"sv": "Alla utfall", "en": "All outcomes"},
    "mod_skal_orsak_utesluten": {"sv": "för liten även sammanslagen: inte i modellen",
                                 "en": "too small even when pooled: not in the model"},
    "mod_skal_utesluten": {"sv": "variabeln utesluten (bara en kategori kvar)",
                           "en": "variable dropped (only one category left)"},
    "mod_skal_ej_skattbar": {"sv": "inte skattbar: bestäms helt av de andra variablerna i modellen "
                                   "(kolinjär)",
                             "en": "not estimable: fully determined by the other variables in the model "
                                   "(collinear)"},
    "mod_modell_fel": {"sv": "Modellen kunde inte skattas ({fel})",
                       "en": "The model could not be fitted ({fel})"},
    "mod_ki_saknas": {"sv": "Intervall som inte kunde beräknas är utelämnade.",
                      "en": "Intervals that could not be computed are left out."},
    "mod_alla_1": {"sv": "alla med utfallet", "en": "all with the outcome"},
    "mod_alla_0": {"sv": "ingen med utfallet", "en": "none with the outcome"},
    "mod_separerade_rader": {"sv": "Rader som kan förutsägas perfekt", "en": "Rows predicted perfectly"},
    "mod_ingen_modell": {"sv": "För få händelser för en modell (färre än {m} med eller utan utfallet)",
                         "en": "Too few events for a model (fewer than {m} with or without the outcome)"},
    "mod_ingen_variabel": {"sv": "Ingen förklarande variabel kvar efter sammanslagningen av små kategorier",
                           "en": "No explanatory variable left after pooling small categories"},
    "mod_ej_modellerad": {"sv": "ingen modell", "en": "no model"},
    "mod_kalibrering_intercept": {"sv": "Kalibrering i stort (intercept)",
                                  "en": "Calibration in the large (intercept)"},
    "mod_kalibrering_lutning": {"sv": "Kalibreringslutning", "en": "Calibration slope"},
    "mod_auc": {"sv": "ROC AUC (i urvalet)", "en": "ROC AUC (apparent)"},
    "mod_auc_cv": {"sv": "ROC AUC (korsvaliderad)", "en": "ROC AUC (cross-validated)"},
    "mod_skattning": {"sv": "Skattning", "en": "Estimate"},
    "mod_lag": {"sv": "95 % KI nedre", "en": "95% CI lower"},
    "mod_hog": {"sv": "95 % KI övre", "en": "95% CI upper"},
    "mod_matt": {"sv": "Mått", "en": "Measure"},
    "mod_skattning_ki": {"sv": "Skattning (95 % KI)", "en": "Estimate (95% CI)"},
    "mod_ml_kort": {"sv": "ML, klusterrobusta standardfel", "en": "ML, cluster-robust standard errors"},
    "mod_firth_kort": {"sv": "Firth (separation), profil-KI", "en": "Firth (separation), profile CIs"},
    "mod_describe": {
        "sv": "**År:** {ar}. **Modell:** utfall ~ {terms}{alt}. **Enhet:** aktualisering (rad); standardfel "
              "klustrade per barn. **Sammanslagning:** kategorier med färre än {min_n} rader eller med "
              "1–{m} aktualiseringar med eller utan utfallet slås samman till Övrigt/övriga. "
              "**Röjandeskydd:** antal 1–{k_minus} visas som '..'. **Kalibrering:** {folds}-faldig "
              "korsvalidering per barn (frö {seed}).",
        "en": "**Year:** {ar}. **Model:** outcome ~ {terms}{alt}. **Unit:** referral (row); standard errors "
              "clustered by child. **Pooling:** categories with fewer than {min_n} rows or with 1–{m} "
              "referrals with or without the outcome are pooled into Other. **Disclosure control:** counts "
              "1–{k_minus} are shown as '..'. **Calibration:** {folds}-fold cross-validation by child (seed "
              "{seed}).",
    },
    "mod_describe_alt": {"sv": " (alternativt anmälningsorsakerna var för sig i stället för ärendetyp)",
                         "en": " (alternatively each reason for referral instead of the case type)"},
    "mod_specifikation": {"sv": "Specifikation", "en": "Specification"},
    "mod_barn_n": {"sv": "Antal barn", "en": "Children"},
    "mod_epv": {"sv": "Händelser per parameter", "en": "Events per parameter"},
    "mod_titel_oversikt": {"sv": "Modellerna: antal, händelser per parameter och skattningsmetod",
                           "en": "The models: counts, events per parameter and estimation method"},
    "mod_titel_bortfall": {"sv": "Saknade värden per variabel (före modellerna)",
                           "en": "Missing values per variable (before the models)"},
    "mod_ingen_separation": {"sv": "Ingen separation i någon modell.", "en": "No separation in any model."},
    "mod_titel_sammanslagning": {"sv": "Sammanslagna kategorier", "en": "Pooled categories"},
    "mod_titel_separation": {"sv": "Kategorier med separation (alla utfall lika)",
                             "en": "Categories with separation (all outcomes equal)"},
    "mod_titel_diagnostik": {"sv": "Kalibrering och diskriminering", "en": "Calibration and discrimination"},
    "mod_diagnostik_note": {
        "sv": "Kalibrering och korsvaliderad AUC bygger på {folds}-faldig korsvalidering med barn som enhet "
              "(Firth i varje del). AUC-intervall: DeLong.",
        "en": "Calibration and cross-validated AUC use {folds}-fold cross-validation by child (Firth in "
              "each fold). AUC intervals: DeLong.",
    },
})


def text(key: str, lang: Lang = "sv", **kwargs: object) -> str:
    """Return a shared UI string in ``lang`` (formatted with ``kwargs``)."""
    return TEXTS[key][lang].format(**kwargs)


def pandas_dtype(name: str) -> object:
    """Return the pandas dtype of column ``name`` in the clean table.

    code -> Categorical over the code list (in order); bool -> nullable ``boolean``;
    int -> nullable ``Int64``; date -> ``datetime64[ns]``; str -> ``string``.
    Reason indicators (``orsak_*``) are ``boolean`` with no missing values.
    """
    import pandas as pd

    col = column(name)
    if col.dtype == "code":
        return pd.CategoricalDtype(list(col.code_values()), ordered=False)
    return {"bool": "boolean", "int": "Int64", "date": "datetime64[ns]", "str": "string"}[col.dtype]


def empty_clean_frame() -> pd.DataFrame:
    """Return an empty clean table with every column and its dtype (for fixtures and tests)."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=pandas_dtype(c)) for c in CLEAN_COLUMNS})
