"""What the console's inbox lists: the items of the reader's scope, filtered and searched.

The scope is the policy's (``policy.inbox_scope`` turned into a condition by ``officers.items_within``),
the same the chat's /inbox uses; the filters only narrow it. A search for a tracking code finds the
item whatever its status; other words search the description of open and closed items alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, or_, select

from bot import policy
from bot.domain.ids import record_id
from bot.domain.kinds import ItemKind
from bot.domain.tracking import normalize_tracking_code
from bot.domain.workflow import OPEN, ItemStatus
from bot.officers import actor_for, items_within
from storage.models import Item, ItemDeadline, User

PAGE = 50
KINDS = tuple(kind.value for kind in ItemKind)
STATUSES = tuple(status.value for status in ItemStatus)
ASSIGNED = ("me", "nobody", "anyone")


@dataclass(frozen=True)
class Filters:
    """The inbox's query string, each value checked against what it may be (anything else is ignored)."""

    kind: str = ""
    category: str = ""
    status: str = "open"  # "open" (any open status), "all", or one status
    unit: int | None = None
    overdue: bool = False
    assigned: str = "anyone"
    q: str = ""

    @classmethod
    def of(cls, query) -> "Filters":
        unit = query.get("unit", "")
        status = query.get("status", "open")
        return cls(kind=query.get("kind", "") if query.get("kind", "") in KINDS else "",
                   category=query.get("category", "")[:50],
                   status=status if status in (*STATUSES, "open", "all") else "open",
                   unit=record_id(unit),
                   overdue=query.get("overdue") == "1",
                   assigned=query.get("assigned", "anyone") if query.get("assigned") in ASSIGNED else "anyone",
                   q=" ".join(query.get("q", "").split())[:100])


@dataclass
class Row:
    item: Item
    next_due: date | None


async def search(uow, user: User, filters: Filters, today: date) -> list[Row]:
    """The matching items of ``user``'s scope, nearest deadline first (at most ``PAGE``)."""
    actor = await actor_for(uow, user)
    next_due = (select(ItemDeadline.item_id, func.min(ItemDeadline.due_on).label("due"))
                .where(ItemDeadline.done_at.is_(None)).group_by(ItemDeadline.item_id).subquery())
    query = (select(Item, next_due.c.due).outerjoin(next_due, next_due.c.item_id == Item.id)
             .where(items_within(policy.inbox_scope(actor))))
    if filters.q:
        code = normalize_tracking_code(filters.q)
        words = [_contains(word) for word in filters.q.split()[:5]]
        query = query.where(or_(Item.tracking_code == code, and_(*words)) if code else and_(*words))
    if filters.status == "open" and not filters.q:
        query = query.where(Item.status.in_([s.value for s in OPEN]))
    elif filters.status not in ("open", "all"):
        query = query.where(Item.status == filters.status)
    if filters.kind:
        query = query.where(Item.kind == filters.kind)
    if filters.category:
        query = query.where(Item.category == filters.category)
    if filters.unit is not None:
        query = query.where(Item.unit_id == filters.unit)
    if filters.overdue:
        query = query.where(next_due.c.due < today)
    if filters.assigned == "me":
        query = query.where(Item.assignee_id == user.id)
    elif filters.assigned == "nobody":
        query = query.where(Item.assignee_id.is_(None))
    query = query.order_by(next_due.c.due.is_(None), next_due.c.due, Item.id.desc()).limit(PAGE)
    return [Row(item, due) for item, due in (await uow.session.execute(query)).all()]


def _contains(word: str):
    """The description holds ``word`` in any case. SQLite folds only ASCII letters ("đèn" would not find
    "Đèn"), so the usual spellings of the word are each tried; PostgreSQL's ILIKE folds them all."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    forms = {escaped, escaped.lower(), escaped.capitalize(), escaped.upper()}
    return or_(*(Item.description.ilike(f"%{form}%", escape="\\") for form in sorted(forms)))
