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
           description_en="Missing when undecided and the 14 days had not passed at period end "
           "(censored)."),
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
           description_en="Missing when open at period end and four months had not passed "
           "(censored)."),
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
    "fdr_did_lpm": {"sv": "Pilot × efter, linjär sannolikhetsmodell (andel)",
                    "en": "Pilot × after, linear probability model (share)"},
    "fdr_pretrend": {"sv": "Skillnad i månadstrend före start, pilot − övriga (andel per månad)",
                     "en": "Difference in monthly trend before the start, pilot − rest (share per "
                           "month)"},
    "fdr_grupp": {"sv": "Grupp", "en": "Group"},
    "fdr_period": {"sv": "Period", "en": "Period"},
    "fdr_ovriga": {"sv": "Övriga områden", "en": "Other areas"},
    "fdr_kvartal": {"sv": "Kvartal", "en": "Quarter"},
    "fdr_observerad": {"sv": "Observerad andel per månad", "en": "Observed monthly share"},
    "fdr_anpassad": {"sv": "Anpassade segment", "en": "Fitted segments"},
    "fdr_kontrafaktisk": {"sv": "Trenden före, förlängd (kontrafaktisk)",
                          "en": "Trend before, extended (counterfactual)"},
    "fdr_reformdatum": {"sv": "Förändringen", "en": "The change"},
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
    "n_bas": {"sv": "Antal med känt utfall (nämnare)", "en": "Known outcome (denominator)"},
    "n_ja": {"sv": "Antal ja", "en": "Number yes"},
    "n_nej": {"sv": "Antal nej", "en": "Number no"},
    "n_saknas": {"sv": "Uppgift saknas", "en": "Not recorded"},
    "n_censurerade": {"sv": "Öppna vid periodslut (censurerade)", "en": "Open at period end (censored)"},
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
              "konfidensintervall (Wilson). En aktualisering med flera anmälningsorsaker räknas under var "
              "och en av dem, och ett barn räknas under varje kategori som någon av dess aktualiseringar "
              "har; summan över kategorierna kan därför bli större än totalen.",
        "en": "Share = share of the group's referrals (children) that reached the stage, with a 95% "
              "confidence interval (Wilson). A referral with several reasons counts under each of them, and "
              "a child counts under every category any of its referrals has, so the categories can add up "
              "to more than the total."},
    "not_andel_kand": {
        "sv": "Andelen beräknas på ärenden med känt utfall; uppgift saknas redovisas separat.",
        "en": "The share is computed on cases with a known outcome; missing values are shown separately."},
    "not_censur": {
        "sv": "Ärenden som var öppna vid periodslut och där fristen ännu inte gått ut är censurerade: de "
              "räknas varken som i tid eller för sent utan redovisas separat. Andelen beräknas på ärenden "
              "med känt utfall.",
        "en": "Cases open at the end of the period whose deadline had not yet passed are censored: neither "
              "on time nor late, shown separately. The share is computed on cases with a known outcome."},
    "not_km": {
        "sv": "Kaplan–Meier-skattning av andelen klara efter ett visst antal dagar (95 % KI); ärenden som "
              "var öppna vid periodslut censureras då.",
        "en": "Kaplan–Meier estimate of the share completed after a number of days (95% CI); cases open at "
              "the end of the period are censored then."},
    "not_utfall": {"sv": "Andel av de avslutade utredningarna (95 % KI, Wilson).",
                   "en": "Share of the closed investigations (95% CI, Wilson)."},
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
