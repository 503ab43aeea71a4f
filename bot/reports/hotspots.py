"""Hot spots: where the items of a period were reported, as counts per cell of a grid laid over their
bounding box, drawn as a static SVG that needs no map tiles (the service may run offline). Only cells
leave this module — never an item's own place, which may be a petitioner's home."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

GRID = 12          # cells along the longer side
MIN_SPAN = 0.004   # degrees (~400 m): a handful of items close together still get a readable grid
WIDTH = 560


@dataclass(frozen=True)
class Cell:
    south: float
    west: float
    north: float
    east: float
    count: int


def cells(places: list[tuple[float, float]]) -> list[Cell]:
    """Non-empty cells of a square-ish grid over the places' bounding box, busiest first."""
    good = [(lat, lon) for lat, lon in places if -90 <= lat <= 90 and -180 <= lon <= 180]
    if not good:
        return []
    south, north = min(p[0] for p in good), max(p[0] for p in good)
    west, east = min(p[1] for p in good), max(p[1] for p in good)
    span = max(north - south, east - west, MIN_SPAN)
    size = span / GRID
    # Centre the grid on the places, one extra cell of margin.
    south -= ((GRID * size) - (north - south)) / 2 + size / 2
    west -= ((GRID * size) - (east - west)) / 2 + size / 2
    counts: dict[tuple[int, int], int] = {}
    for lat, lon in good:
        key = (int((lat - south) // size), int((lon - west) // size))
        counts[key] = counts.get(key, 0) + 1
    found = [Cell(south + row * size, west + col * size, south + (row + 1) * size, west + (col + 1) * size, n)
             for (row, col), n in counts.items()]
    return sorted(found, key=lambda c: (-c.count, c.south, c.west))


def svg(found: list[Cell], title: str) -> str:
    """The cells on a plain grid, north up, darker for more items, each with its count."""
    if not found:
        return ""
    south, north = min(c.south for c in found), max(c.north for c in found)
    west, east = min(c.west for c in found), max(c.east for c in found)
    size = found[0].north - found[0].south
    # Longitude degrees shrink with latitude; keep cells square on screen.
    stretch = math.cos(math.radians((south + north) / 2))
    columns, rows = round((east - west) / size), round((north - south) / size)
    pad = 2
    columns, rows = columns + 2 * pad, rows + 2 * pad
    unit = WIDTH / max(columns, rows / stretch if stretch else rows)
    height_unit = unit / stretch if stretch else unit
    width, height = columns * unit, rows * height_unit
    most = max(c.count for c in found)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
             f'aria-label="{escape(title)}" class="hotspots">', f"<title>{escape(title)}</title>",
             f'<rect x="0" y="0" width="{width:.1f}" height="{height:.1f}" fill="#f4f6f8" stroke="#c9ced6"/>']
    for line in range(1, columns):
        parts.append(f'<line x1="{line * unit:.1f}" y1="0" x2="{line * unit:.1f}" y2="{height:.1f}" stroke="#e3e6ea"/>')
    for line in range(1, rows):
        parts.append(f'<line x1="0" y1="{line * height_unit:.1f}" x2="{width:.1f}" y2="{line * height_unit:.1f}" '
                     f'stroke="#e3e6ea"/>')
    for cell in found:
        col = round((cell.west - west) / size) + pad
        row = round((north - cell.north) / size) + pad
        shade = 0.25 + 0.75 * cell.count / most
        x, y = col * unit, row * height_unit
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{unit:.1f}" height="{height_unit:.1f}" fill="#c0392b" '
                     f'fill-opacity="{shade:.2f}"><title>{cell.count}</title></rect>')
        parts.append(f'<text x="{x + unit / 2:.1f}" y="{y + height_unit / 2 + 4:.1f}" font-size="{min(12, unit / 2):.0f}" '
                     f'text-anchor="middle" fill="#fff" font-family="sans-serif">{cell.count}</text>')
    parts.append(f'<text x="{width - 8:.0f}" y="16" font-size="12" text-anchor="end" font-family="sans-serif">N ↑</text>')
    parts.append("</svg>")
    return "".join(parts)
