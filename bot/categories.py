"""Petition categories: defaults as data; a commune may replace them with its own rows in the
``categories`` table (label in Vietnamese and English, order, on/off)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    key: str
    label_vi: str
    label_en: str

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_vi


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category("land", "🏠 Đất đai, nhà ở", "🏠 Land and housing"),
    Category("environment", "🌳 Môi trường, vệ sinh", "🌳 Environment, sanitation"),
    Category("infrastructure", "🛣️ Đường sá, hạ tầng", "🛣️ Roads and infrastructure"),
    Category("public_order", "🚨 Trật tự, an ninh", "🚨 Public order"),
    Category("social_policy", "🤝 Chính sách xã hội", "🤝 Social policy"),
    Category("administrative_procedures", "📄 Thủ tục hành chính", "📄 Administrative procedures"),
    Category("other", "📌 Khác", "📌 Other"),
)
