"""What an import file may hold: its sections (one per kind of record), the fields of each, and the
wording of the summary. Data only; the readers and writers of each kind live in a module of their own."""

from __future__ import annotations

from bot.domain.kinds import ItemKind
from bot.texts import vi

SECTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # section: (required fields, optional fields); every entry may also carry ``commune``
    "units": (("name",), ("fallback", "level", "second_complaints")),
    "officers": (("name", "unit"), ("role", "language")),
    "routing": (("category", "unit"), ()),
    "categories": (("key", "label_vi", "label_en"), ("position", "active")),
    "reception_sessions": (("receiver", "place", "start", "end"),
                           ("topics", "every", "rrule", "online_url", "status", "published", "key", "moved_from")),
    "disclosures": (("category", "title", "body"), ("url", "decided_on", "published", "board_until", "files")),
    "projects": (("name",), ("description", "status", "progress", "budget", "start", "end", "updates", "photos")),
    "consultations": (("title", "body", "options", "opens", "closes"), ("status",)),
    "templates": (("key", "action", "text"), ("kind", "category", "position", "active")),
    "communes": ((), ("remote", "served_by", "refer_to")),
    "boards": (("name", "type"), ("project",)),
    "zalo_templates": (("notice", "template_id"),
                       ("price", "code_param", "date_param", "status_param", "in_charged_band")),
}
LABELS = {  # summary order and wording
    "units": ("unit", "units"),
    "officers": ("officer", "officers"),
    "routing": ("routing rule", "routing rules"),
    "communes": ("commune", "communes"),
    "reception_sessions": ("reception session", "reception sessions"),
    "disclosures": ("disclosure", "disclosures"),
    "projects": ("project", "projects"),
    "consultations": ("consultation", "consultations"),
    "categories": ("category", "categories"),
    "templates": ("response template", "response templates"),
    "boards": ("oversight board", "oversight boards"),
    "zalo_templates": ("Zalo template", "Zalo templates"),
}
CSV_ONLY_IN_YAML = {"updates"}  # fields a CSV row cannot hold
# Sections whose entries may belong to the province rather than a commune (``level: province``, or an
# officer of a province unit): a file that names its ``province`` may leave their commune out.
PROVINCE_SECTIONS = ("units", "officers")

# The catalogue is the single list of disclosure categories (Luật Thực hiện dân chủ ở cơ sở 2022, Đ.11)
# and of project statuses; the importer accepts exactly what the bot can show.
DISCLOSURE_CATEGORIES = tuple(key.removeprefix("disclosure.category.") for key in vi.TEXTS
                              if key.startswith("disclosure.category."))
PROJECT_STATUSES = tuple(key.removeprefix("projects.status.") for key in vi.TEXTS
                         if key.startswith("projects.status."))
SESSION_STATUSES = ("scheduled", "cancelled")
CONSULTATION_STATUSES = ("open", "closed")
LANGUAGES = ("vi", "en")
ITEM_KINDS = tuple(kind.value for kind in ItemKind)
UNIT_LEVELS = ("commune", "province")
# Roles an import appoints to a unit (the boards' members are invited to their board).
UNIT_ROLES = ("officer", "leader", "admin", "chairman", "vice_chairman", "province_admin", "province_overseer")
PROVINCE_ROLES = ("province_admin", "province_overseer")
COMMUNE_ROLES = ("admin", "chairman", "vice_chairman")

# Luật Tiếp công dân 2013, Đ.24: the reception schedule is published at least 5 working days ahead.
SCHEDULE_NOTICE_WORKING_DAYS = 5
# Luật Thực hiện dân chủ ở cơ sở 2022: disclose within 5 working days of the decision (Đ.12), keep it
# on the notice board at least 30 consecutive days (Đ.13), consult for at least 20 days (Đ.28).
DISCLOSURE_WORKING_DAYS = 5
BOARD_DAYS = 30
CONSULTATION_MIN_DAYS = 20
