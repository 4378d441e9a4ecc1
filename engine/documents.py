"""The project's Markdown documents as the Docs page shows them: which there are, their titles, and their
text cut into Markdown blocks and images, with links between documents pointing into the dashboard."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

DOCUMENT_GLOBS = ("README.md", "docs/*.md", "models/*.md")
IMAGE_LINE = re.compile(r"^\s*!\[(?P<alt>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)\s*$")
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")
INLINE_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\([^)]*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str


def document_paths(root: Path) -> dict[str, Path]:
    """Repository-relative name → path, README first."""
    found: dict[str, Path] = {}
    for pattern in DOCUMENT_GLOBS:
        for path in sorted(root.glob(pattern)):
            found[path.relative_to(root).as_posix()] = path
    return found


def title(path: Path) -> str:
    """The document's first level-1 heading outside code blocks (else its file name)."""
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code and line.startswith("# "):
            return line[2:].strip().replace("`", "")
    return path.name


def blocks(path: Path, root: Path, documents: dict[str, Path], run_id: int | None = None) -> list[str | Image]:
    """The document as Markdown blocks and the images between them (an image on a line of its own)."""
    out: list[str | Image] = []
    text: list[str] = []
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_code = not in_code
        image = None if in_code else IMAGE_LINE.match(line)
        target = image and _repo_file(path, image["target"], root)
        if target is not None and target.is_file():
            out.append("\n".join(text))
            text = []
            out.append(Image(target, image["alt"]))
            continue
        text.append(line if in_code else _rewrite_links(line, path, root, documents, run_id))
    out.append("\n".join(text))
    return [b for b in out if isinstance(b, Image) or b.strip()]


def _repo_file(document: Path, target: str, root: Path) -> Path | None:
    """The repository file a relative link points at, or None (a web address, an anchor, outside the repo)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    resolved = (document.parent / parts.path).resolve()
    return resolved if resolved.is_relative_to(root.resolve()) else None


def _rewrite_links(line: str, document: Path, root: Path, documents: dict[str, Path], run_id: int | None) -> str:
    def link(match: re.Match) -> str:
        text, target = match["text"], match["target"]
        file = _repo_file(document, target, root)
        if file is None:
            return match[0]  # web addresses and in-page anchors work as they are
        name = file.relative_to(root.resolve()).as_posix()
        if name in documents:
            anchor = urlsplit(target).fragment
            query = f"?doc={quote(name, safe='/')}" + (f"&run={run_id}" if run_id is not None else "")
            return f"[{text}]({query}{'#' + anchor if anchor else ''})"
        # Code and data files are not served by the dashboard: name them instead of linking nowhere.
        return text if f"`{name}`" in text or text == name else f"{text} (`{name}`)"

    return INLINE_IMAGE.sub(lambda m: f"*{m['alt']}*", LINK.sub(link, line))
