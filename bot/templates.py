"""Response templates officers can send with one tap, per action, kind and category of item.

The defaults below serve every commune. A commune imports its own (``templates:`` in
``tiepdan admin import``, stored in ``response_templates``); for an action where it has any, its own
list replaces the defaults, most specific first (kind and category, then kind, then any).
"""

from __future__ import annotations

from sqlalchemy import or_, select

from storage.models import ResponseTemplate

# Actions whose text an officer writes (handlers/officer.py NEEDS_TEXT and forward), hence templatable.
TEMPLATE_ACTIONS = ("refuse", "request_info", "answer", "extend", "forward")
SHOWN = 8  # at most this many one-tap choices under the question

TEMPLATES: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("request_info", None): (
        "Đề nghị ông/bà cung cấp thêm ảnh chụp và địa chỉ cụ thể nơi xảy ra sự việc.",
        "Đề nghị ông/bà cung cấp bản sao quyết định, văn bản liên quan đến nội dung đơn.",
    ),
    ("answer", "feedback"): (
        "UBND đã kiểm tra hiện trường và chỉ đạo bộ phận chuyên môn khắc phục. Cảm ơn ông/bà đã phản ánh.",
        "Nội dung phản ánh đã được chuyển đến đơn vị quản lý để xử lý theo thẩm quyền. Cảm ơn ông/bà.",
    ),
    ("refuse", "complaint_first"): (
        "Không thụ lý vì đã hết thời hiệu khiếu nại 90 ngày (Điều 9, Điều 11 Luật Khiếu nại 2011).",
        "Không thụ lý vì nội dung không thuộc thẩm quyền giải quyết của UBND xã, phường (Điều 11 Luật Khiếu nại 2011).",
    ),
    ("refuse", "denunciation"): (
        "Không thụ lý vì nội dung tố cáo không có cơ sở để xác định người vi phạm, hành vi vi phạm "
        "(Điều 29 khoản 1 điểm d Luật Tố cáo 2018).",
    ),
}


def default_templates(action: str, kind: str) -> tuple[str, ...]:
    return TEMPLATES.get((action, kind), ()) + TEMPLATES.get((action, None), ())


async def templates_for(session, commune_code: int, action: str, kind: str, category: str | None) -> tuple[str, ...]:
    """The texts to offer, in order; the same call gives the same list, so a choice is its index."""
    rows = (await session.execute(
        select(ResponseTemplate).where(ResponseTemplate.commune_code == commune_code,
                                       ResponseTemplate.action == action, ResponseTemplate.active.is_(True),
                                       or_(ResponseTemplate.kind.is_(None), ResponseTemplate.kind == kind),
                                       or_(ResponseTemplate.category.is_(None), ResponseTemplate.category == category))
    )).scalars().all()
    if not rows:
        has_own = await session.scalar(select(ResponseTemplate.id).where(
            ResponseTemplate.commune_code == commune_code, ResponseTemplate.action == action,
            ResponseTemplate.active.is_(True)).limit(1))
        return () if has_own else default_templates(action, kind)[:SHOWN]
    rows = sorted(rows, key=lambda row: (row.kind is None, row.category is None, row.position, row.id))
    return tuple(row.text for row in rows)[:SHOWN]
