"""boards: the people's oversight boards of a commune (Luật Thực hiện dân chủ ở cơ sở 2022).

    boards:
      - {name: Ban Thanh tra nhân dân phường Hoàn Kiếm, type: inspection}              # Điều 36–40
      - {name: Ban GSĐTCĐ dự án vỉa hè Hàng Bạc, type: investment,
         project: Cải tạo vỉa hè, thoát nước phố Hàng Bạc}                              # Điều 41–45

A board of ``type: investment`` follows one project of its commune (``project``: its name, in the
file or already imported). Members join with a one-time invite; they read and record observations,
which the commune answers within 15 days (Điều 40 khoản 1 điểm c, Điều 45 khoản 2 điểm c). Keyed by
commune and name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.oversight import BOARD_KINDS
from bot.importer.fields import Entry, Planned
from storage.models import OversightBoard, Project

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    name = entry.name("name", required=True, limit=200)
    kind = entry.choice("type", BOARD_KINDS, "")
    project = entry.name("project", limit=300)
    if kind == "investment" and project is None:
        raise entry.fail("project", "a Ban Giám sát đầu tư của cộng đồng follows one project (Luật Thực hiện dân "
                                    "chủ ở cơ sở 2022, Điều 41): name it")
    if kind == "inspection" and project is not None:
        raise entry.fail("project", "a Ban Thanh tra nhân dân oversees the whole commune, not a project")
    return Planned("boards", entry.line, commune, (commune, name),
                   {"commune_code": commune, "name": name, "kind": kind},
                   {"project": entry.line_of("project")}, refs={"project": project} if project else {})


async def _projects(writer: Writer) -> dict[tuple[int, str], Project]:
    return {(project.commune_code, " ".join(project.name.split())): project
            for project in await writer.rows(Project, Project.commune_code.in_(writer.communes))}


async def check(writer: Writer) -> None:
    planned = {row.key for row in writer.plan.get("projects", [])}
    known = set(await _projects(writer)) | planned
    for row in writer.plan.get("boards", []):
        project = row.refs.get("project")
        if project is not None and (row.commune, project) not in known:
            raise writer.source.error(row.lines["project"], "boards.project",
                                      f"unknown project {project!r} (not under projects: and not in the database "
                                      f"for commune {row.commune})")


async def write(writer: Writer) -> None:
    planned = writer.plan.get("boards", [])
    if not planned:
        return
    await writer.session.flush()  # projects of this file
    projects = await _projects(writer)
    for row in planned:
        project = row.refs.pop("project", None)
        row.values["project_id"] = projects[(row.commune, project)].id if project is not None else None
    await writer.upsert(OversightBoard, "boards",
                        await writer.rows(OversightBoard, OversightBoard.commune_code.in_(writer.communes)),
                        lambda board: (board.commune_code, board.name))
