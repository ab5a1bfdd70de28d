"""ARCHITECTURE.md's folder map is the newcomer's index: it must match the tree."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What a checkout holds that is not a room: tooling state and the embedded default's data.
NOT_ROOMS = {"var", "node_modules", "__pycache__"}


def folder_map() -> dict[str, str]:
    """Each row of the folder map: the room's path(s) → what the row says it holds."""
    text = (REPO / "ARCHITECTURE.md").read_text()
    section = text.split("## Folder map", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        for room in re.findall(r"`([^`]+)`", cells[0]):
            rows[room] = cells[1]
    return rows


def test_every_room_in_the_map_exists():
    missing = [room for room in folder_map() if not (REPO / room).exists()]
    assert missing == []


def test_every_top_level_folder_is_in_the_map():
    rooms = {room.strip("/").split("/")[0] for room in folder_map()}
    folders = {
        path.name
        for path in REPO.iterdir()
        if path.is_dir() and not path.name.startswith(".") and path.name not in NOT_ROOMS
    }
    assert folders - rooms == set()


def test_every_file_or_folder_a_row_names_exists_in_its_room():
    missing = []
    for room, holds in folder_map().items():
        for name in re.findall(r"`([A-Za-z_][\w./-]*(?:\.py|\.md|/))`", holds):
            if not ((REPO / room / name).exists() or (REPO / name).exists()):
                missing.append(f"{room}{name}")
    assert missing == []
