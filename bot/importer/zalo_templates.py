"""zalo_templates: the templates Zalo approved for a commune's notices (ZNS), one per notice type.

    zalo_templates:
      - {notice: accepted, template_id: "301234", price: 300, code_param: ma_ho_so, date_param: ngay}
      - {notice: decided, template_id: "301240", price: 300, status_param: ket_qua, in_charged_band: template}

A notice the 7-day window holds goes as this template to the phone number the citizen gave
(bot/channels/zalo_notices.py). ``notice``: accepted, refused, info_requested, extended or decided.
``template_id``: as Zalo's ZNS console shows it. ``price``: VND per message, as the commune's ZNS
contract says (the cost reports count). The template's parameters get the item's tracking code
(``code_param``, default ma_ho_so), the date (``date_param``) and its status (``status_param``) —
nothing that names the citizen. ``in_charged_band``: ``template`` to send the template instead of an OA
message Zalo would bill (48 hours to 7 days after the citizen last wrote), ``message`` (default) to
send the OA message. Keyed by commune and notice.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.channels.zalo_notices import NOTICE_TYPES
from bot.importer.fields import Entry, Planned
from storage.models_zalo import ZaloNoticeTemplate

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer

PARAM = re.compile(r"[A-Za-z0-9_]{1,50}")


def _param(entry: Entry, name: str, default: str | None) -> str | None:
    value = entry.text(name, limit=50)
    if value is None:
        return default
    if not PARAM.fullmatch(value):
        raise entry.fail(name, f"a template parameter is letters, digits and _ as in Zalo's console, not {value!r}")
    return value


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    notice = entry.choice("notice", NOTICE_TYPES, "")
    template_id = entry.text("template_id", required=True, limit=50)
    if not template_id.isdigit():
        raise entry.fail("template_id", f"a ZNS template id is a number, not {template_id!r}")
    band = entry.choice("in_charged_band", ("template", "message"), "message")
    return Planned("zalo_templates", entry.line, commune, (commune, notice),
                   {"commune_code": commune, "notice": notice, "template_id": template_id,
                    "price_vnd": entry.integer("price", minimum=0, maximum=100_000) or 0,
                    "code_param": _param(entry, "code_param", "ma_ho_so"),
                    "date_param": _param(entry, "date_param", None),
                    "status_param": _param(entry, "status_param", None),
                    "in_charged_band": band == "template"}, {})


async def write(writer: Writer) -> None:
    await writer.upsert(ZaloNoticeTemplate, "zalo_templates",
                        await writer.rows(ZaloNoticeTemplate, ZaloNoticeTemplate.commune_code.in_(writer.communes)),
                        lambda row: (row.commune_code, row.notice))
