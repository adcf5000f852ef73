"""Human-readable check report for the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from app.engine.check_report import CheckResponse

PREVIEW = 60


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return escape(text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…")


def print_report(response: CheckResponse, console: Console) -> None:
    duplicates = [p for p in response.paragraphs if p.status == "duplicate"]
    for p in response.paragraphs:
        mark = "[bold red]DUP[/]" if p.status == "duplicate" else "[green] ok[/]"
        console.print(f"{mark} ¶{p.index + 1:<3} {_preview(p.text)}", highlight=False)
        for m in p.matches:
            where = (
                f"paragraph {m.paragraph_index + 1} of this article"
                if m.source == "article"
                else f"archived document {escape(m.document_id or '')}, paragraph {m.paragraph_index + 1}"
            )
            console.print(
                f"      [yellow]↳ repeats {where}[/] (similarity {m.similarity:.2f}, "
                f"containment {m.containment:.2f})",
                highlight=False,
            )
    total = len(response.paragraphs)
    if duplicates:
        console.print(f"[bold red]{len(duplicates)} of {total} paragraphs are duplicates[/]")
    else:
        console.print(f"[green]no duplicates among {total} paragraphs[/]")
