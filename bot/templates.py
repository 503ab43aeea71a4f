"""Response templates officers can send with one tap, per action and kind of item. Data, not code:
a commune edits this list (a later import section can override it)."""

from __future__ import annotations

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


def templates_for(action: str, kind: str) -> tuple[str, ...]:
    return TEMPLATES.get((action, kind), ()) + TEMPLATES.get((action, None), ())
