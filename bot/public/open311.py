"""Open311 GeoReport v2 for feedback (phản ánh, kiến nghị), JSON and XML, one jurisdiction a commune:

    GET  /open311/v2/services.{json|xml}?jurisdiction_id=<commune code or slug>
    GET  /open311/v2/services/{service_code}.{json|xml}
    GET  /open311/v2/requests.{json|xml}   (service_request_id, service_code, start_date, end_date, status)
    GET  /open311/v2/requests/{id}.{json|xml}
    POST /open311/v2/requests.{json|xml}   (api_key, service_code, lat+long or address_string, description, …)

A thin translation of the core (FixMyStreet's model): service codes are the commune's feedback
categories, a posted request is filed through bot/petitions.py like a chat submission (routing,
deadlines, the unit told). What is published is deliberately little, because a citizen's own words,
photos or exact place can name them: only feedback items (never a complaint, a denunciation or the
information an anonymous denunciation becomes), and of each only its category, status, the
authority's unit, dates and a place rounded to about 100 m. Never a description, a name, a contact,
an address, a photo or the tracking code (the citizen's key to their item in the chat)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from xml.etree import ElementTree as ET

from aiohttp import web
from sqlalchemy import func, select

from bot.categories import Category
from bot.domain.ids import record_id
from bot.domain.kinds import ItemKind
from bot.domain.typed import without_nul
from bot.organisation import NoUnit
from bot.petitions import Contact, Submission, categories_for, file_submission
from bot.public.communes import resolve
from bot.texts import t
from bot.web_server import BodyTooSlow, read_body
from storage.models import Item, ItemDeadline, ItemEvent, Unit, User, utcnow
from storage.models_public import Open311Key

if TYPE_CHECKING:
    from bot.app import Runtime

PUBLIC_KINDS = (ItemKind.feedback.value,)
OPEN = ("received", "accepted", "in_progress", "waiting_info", "reopened", "suspended")
CLOSED = ("answered", "closed", "refused", "forwarded", "withdrawn", "escalated")
DEFAULT_DAYS = 90  # the spec's default window when no dates are given
MAX_RESULTS = 1000
MAX_BODY = 64 * 1024
PLACE_DECIMALS = 3  # about 110 m of latitude: a street, not a house
CONSENT = "contact_consent"
EMOJI = re.compile(r"^[^\w]+")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_key(uows, commune_code: int, name: str) -> str:
    """A new API key for ``commune_code``; only its hash is kept, so it is shown once."""
    key = secrets.token_urlsafe(32)
    async with uows() as uow:
        uow.session.add(Open311Key(key_hash=hash_key(key), commune_code=commune_code, name=name[:200]))
        await uow.commit()
    return key


class Problem(Exception):
    def __init__(self, status: int, key: str, **values):
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


class Open311:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.zone = runtime.settings.zone

    def routes(self) -> list[web.AbstractRouteDef]:
        fmt = "{format:[a-z]+}"
        return [web.get(f"/open311/v2/services.{fmt}", self.services),
                web.get(f"/open311/v2/services/{{code:[A-Za-z0-9_-]{{1,50}}}}.{fmt}", self.definition),
                web.get(f"/open311/v2/requests.{fmt}", self.requests),
                web.post(f"/open311/v2/requests.{fmt}", self.post),
                web.get(f"/open311/v2/requests/{{id:[0-9]{{1,12}}}}.{fmt}", self.request)]

    # -- answers and errors, in either format -------------------------------------------------------
    def _answer(self, request: web.Request, root: str, child: str, rows: list[dict], status: int = 200) -> web.Response:
        if request.match_info["format"] == "xml":
            top = ET.Element(root)
            for row in rows:
                element = ET.SubElement(top, child)
                for name, value in row.items():
                    _xml_value(element, name, value)
            body = ET.tostring(top, encoding="utf-8", xml_declaration=True)
            return web.Response(body=body, status=status, content_type="text/xml", charset="utf-8",
                                headers={"Cache-Control": "public, max-age=60" if status == 200 else "no-store"})
        return web.Response(text=json.dumps(rows, ensure_ascii=False), status=status, content_type="application/json",
                            headers={"Cache-Control": "public, max-age=60" if status == 200 else "no-store"})

    def _error(self, request: web.Request, problem: Problem) -> web.Response:
        language = _language(request)
        rows = [{"code": problem.status, "description": t(language, f"public.open311.{problem.key}", **problem.values)}]
        if request.match_info.get("format") not in ("json", "xml"):
            return web.json_response(rows, status=problem.status)
        return self._answer(request, "errors", "error", rows, status=problem.status)

    async def _guarded(self, request: web.Request, handler) -> web.Response:
        try:
            if request.match_info["format"] not in ("json", "xml"):
                raise Problem(400, "bad_format")
            return await handler(request)
        except Problem as problem:
            return self._error(request, problem)

    # -- services -----------------------------------------------------------------------------------
    async def services(self, request: web.Request) -> web.Response:
        async def handle(request):
            commune = _jurisdiction(request.query.get("jurisdiction_id"))
            language = _language(request)
            async with self.runtime.uows() as uow:
                categories = await categories_for(uow, commune)
            return self._answer(request, "services", "service", [_service(c, language) for c in categories])
        return await self._guarded(request, handle)

    async def definition(self, request: web.Request) -> web.Response:
        async def handle(request):
            commune = _jurisdiction(request.query.get("jurisdiction_id"))
            language = _language(request)
            async with self.runtime.uows() as uow:
                codes = {c.key for c in await categories_for(uow, commune)}
            code = request.match_info["code"]
            if code not in codes:
                raise Problem(404, "bad_service")
            attribute = {"variable": True, "code": CONSENT, "datatype": "singlevaluelist", "required": False,
                         "datatype_description": "yes | no", "order": 1,
                         "description": t(language, "public.open311.consent_attribute"),
                         "values": [{"key": "yes", "name": "yes"}, {"key": "no", "name": "no"}]}
            definition = {"service_code": code, "attributes": [attribute]}
            if request.match_info["format"] == "xml":
                top = ET.Element("service_definition")
                ET.SubElement(top, "service_code").text = code
                attributes = ET.SubElement(top, "attributes")
                _xml_value(attributes, "attribute", attribute)
                return web.Response(body=ET.tostring(top, encoding="utf-8", xml_declaration=True),
                                    content_type="text/xml", charset="utf-8")
            return web.json_response(definition)
        return await self._guarded(request, handle)

    # -- reading requests ---------------------------------------------------------------------------
    async def requests(self, request: web.Request) -> web.Response:
        async def handle(request):
            query = request.query
            commune = _jurisdiction(query.get("jurisdiction_id"))
            conditions = [Item.commune_code == commune, Item.kind.in_(PUBLIC_KINDS)]
            ids = _list(query.get("service_request_id"))
            if ids:
                conditions.append(Item.id.in_([i for i in map(record_id, ids) if i is not None] or [0]))
            else:
                start, end = _date(query.get("start_date")), _date(query.get("end_date"))
                if start is None and end is None:
                    start = utcnow() - timedelta(days=DEFAULT_DAYS)
                if start is not None:
                    conditions.append(Item.received_at >= start)
                if end is not None:
                    conditions.append(Item.received_at <= end)
            codes = _list(query.get("service_code"))
            if codes:
                conditions.append(Item.category.in_(codes))
            statuses = _list(query.get("status"))
            if statuses:
                if not set(statuses) <= {"open", "closed"}:
                    raise Problem(400, "bad_status")
                wanted = [s for name in statuses for s in (OPEN if name == "open" else CLOSED)]
                conditions.append(Item.status.in_(wanted))
            rows = await self._read(conditions, _language(request))
            return self._answer(request, "service_requests", "request", rows)
        return await self._guarded(request, handle)

    async def request(self, request: web.Request) -> web.Response:
        async def handle(request):
            commune = _jurisdiction(request.query.get("jurisdiction_id"), required=False)
            item_id = record_id(request.match_info["id"])
            if item_id is None:  # past what an id can be: no such request (not an overflow on PostgreSQL)
                raise Problem(404, "not_found")
            conditions = [Item.id == item_id, Item.kind.in_(PUBLIC_KINDS)]
            if commune is not None:
                conditions.append(Item.commune_code == commune)
            rows = await self._read(conditions, _language(request))
            if not rows:
                raise Problem(404, "not_found")
            return self._answer(request, "service_requests", "request", rows)
        return await self._guarded(request, handle)

    async def _read(self, conditions: list, language: str) -> list[dict]:
        async with self.runtime.uows() as uow:
            session = uow.session
            items = (await session.execute(
                select(Item.id, Item.commune_code, Item.category, Item.status, Item.received_at, Item.latitude,
                       Item.longitude, Unit.name).outerjoin(Unit, Unit.id == Item.unit_id).where(*conditions)
                .order_by(Item.received_at.desc(), Item.id.desc()).limit(MAX_RESULTS))).all()
            if not items:
                return []
            ids = [row[0] for row in items]
            updated = dict((await session.execute(
                select(ItemEvent.item_id, func.max(ItemEvent.at)).where(ItemEvent.item_id.in_(ids))
                .group_by(ItemEvent.item_id))).all())
            expected = dict((await session.execute(
                select(ItemDeadline.item_id, func.max(ItemDeadline.due_on))
                .where(ItemDeadline.item_id.in_(ids), ItemDeadline.phase == "resolution",
                       ItemDeadline.done_at.is_(None))
                .group_by(ItemDeadline.item_id))).all())
            labels: dict[int, dict[str, str]] = {}
            for commune in {row[1] for row in items}:
                labels[commune] = {c.key: category_name(c, language) for c in await categories_for(uow, commune)}
        rows = []
        for item_id, commune, category, status, received_at, lat, lon, unit in items:
            state = "open" if status in OPEN else "closed"
            due = expected.get(item_id)
            rows.append({
                "service_request_id": str(item_id), "status": state,
                "status_notes": t(language, f"public.open311.status_{state}", status=t(language, f"status.{status}")),
                "service_name": labels[commune].get(category, category), "service_code": category,
                "description": None, "agency_responsible": unit, "service_notice": None,
                "requested_datetime": _w3c(received_at), "updated_datetime": _w3c(updated.get(item_id, received_at)),
                "expected_datetime": _w3c(datetime.combine(due, datetime.max.time().replace(microsecond=0),
                                                           tzinfo=self.zone)) if due and state == "open" else None,
                "address": None, "address_id": None, "zipcode": None,
                "lat": round(lat, PLACE_DECIMALS) if lat is not None else None,
                "long": round(lon, PLACE_DECIMALS) if lon is not None else None, "media_url": None})
        return rows

    # -- posting a request --------------------------------------------------------------------------
    async def post(self, request: web.Request) -> web.Response:
        async def handle(request):
            try:
                body = await read_body(request, MAX_BODY, self.runtime.settings.body_timeout_seconds)
            except BodyTooSlow:
                raise Problem(400, "too_large") from None
            if body is None:
                raise Problem(413, "too_large")
            form = {key: without_nul(values[-1])  # as from every other form (bot/domain/typed.py)
                    for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
            form.update({k: v for k, v in request.query.items() if k not in form})
            key = await self._key(form.get("api_key", ""))
            commune = _jurisdiction(form.get("jurisdiction_id"), required=False) or key.commune_code
            if commune != key.commune_code:
                raise Problem(403, "bad_key")
            return await self._file(request, commune, form)
        return await self._guarded(request, handle)

    async def _key(self, api_key: str) -> Open311Key:
        if not api_key or len(api_key) > 200:
            raise Problem(403, "bad_key")
        async with self.runtime.uows() as uow:
            key = (await uow.session.execute(select(Open311Key).where(
                Open311Key.key_hash == hash_key(api_key), Open311Key.revoked_at.is_(None)))).scalar_one_or_none()
        if key is None:
            raise Problem(403, "bad_key")
        return key

    async def _file(self, request: web.Request, commune: int, form: dict[str, str]) -> web.Response:
        language = _language(request)
        limit = self.runtime.settings.max_text_length
        description = form.get("description", "").strip()
        if not description or len(description) > limit:
            raise Problem(400, "no_description", limit=limit)
        lat, lon = _coordinate(form.get("lat"), 90), _coordinate(form.get("long"), 180)
        address = form.get("address_string", "").strip()[:500] or None
        if (lat is None) != (lon is None) or (lat is None and not address):
            raise Problem(400, "bad_location" if form.get("lat") or form.get("long") else "no_location")
        consented = form.get(f"attribute[{CONSENT}]", "").lower() in ("yes", "true", "1")
        name = " ".join(part for part in (form.get("first_name", ""), form.get("last_name", "")) if part).strip()
        phone = form.get("phone", "").strip()
        contact = Contact(name[:200], "", phone[:50]) if consented and (name or phone) else None
        async with self.runtime.uows() as uow:
            categories = {c.key for c in await categories_for(uow, commune)}
            if form.get("service_code") not in categories:
                raise Problem(400, "bad_service")
            # Each request's citizen is a user of their own, like a web chat visitor: nobody's items mix.
            citizen = User(language=language, commune_code=commune, role="citizen")
            uow.session.add(citizen)
            await uow.session.flush()
            submission = Submission(kind=ItemKind.feedback, category=form["service_code"], commune_code=commune,
                                    description=description, latitude=lat, longitude=lon, address=address,
                                    contact=contact)
            try:
                item, deadlines = await file_submission(uow, citizen.id, "open311", None, submission, self.zone)
            except NoUnit:
                raise Problem(400, "no_unit") from None
            await uow.commit()
        intake = next((d for d in deadlines if d.phase == "intake"), deadlines[0] if deadlines else None)
        notice = t(language, "public.open311.notice", code=item.tracking_code,
                   due=intake.due_on.strftime("%d/%m/%Y") if intake else "—",
                   citation=intake.citation if intake else "")
        return self._answer(request, "service_requests", "request",
                            [{"service_request_id": str(item.id), "service_notice": notice, "account_id": None}],
                            status=201)


def _service(category: Category, language: str) -> dict:
    return {"service_code": category.key, "service_name": category_name(category, language),
            "description": t(language, "public.open311.service_description", name=category_name(category, language)),
            "metadata": True, "type": "realtime", "keywords": "", "group": t(language, "public.open311.group")}


def category_name(category: Category, language: str) -> str:
    """The label without its leading emoji (a chat button's decoration; boxes where no emoji font is)."""
    return EMOJI.sub("", category.label(language)).strip()


def _language(request: web.Request) -> str:
    wanted = request.query.get("lang") or request.headers.get("Accept-Language", "")
    return "en" if wanted.lower().startswith("en") else "vi"


def _jurisdiction(value: str | None, *, required: bool = True) -> int | None:
    if not value:
        if required:
            raise Problem(400, "no_jurisdiction")
        return None
    commune = resolve(value.strip())
    if commune is None:
        raise Problem(404 if required else 400, "no_jurisdiction")
    return commune.code


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()][:100]


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise Problem(400, "bad_date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _coordinate(value: str | None, bound: float) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise Problem(400, "bad_location") from None
    if not -bound <= number <= bound or number != number:
        raise Problem(400, "bad_location")
    return number


def _w3c(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z") if value else None


def _xml_value(parent: ET.Element, name: str, value) -> None:
    element = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(element, key, inner)
    elif isinstance(value, list):
        for inner in value:
            _xml_value(element, name.rstrip("s") if name.endswith("s") else "value", inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
