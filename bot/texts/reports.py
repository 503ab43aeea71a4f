"""Texts of the reports area, Vietnamese (with full diacritics) and English side by side.
Merged into the catalogues by bot/texts/__init__.py."""

VI: dict[str, str] = {
}

EN: dict[str, str] = {
}
