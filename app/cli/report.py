"""Human-readable check report for the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from app.engine.check_report import CheckResponse, MatchOut, PassageOut

PREVIEW = 60
# A quoted passage longer than this keeps its first and last words: enough to
# find it in the article, short enough to stay on one or two lines.
QUOTE = 68
QUOTE_HEAD, QUOTE_TAIL = 38, 26


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _preview(text: str) -> str:
    text = _one_line(text)
    return escape(text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…")


def shorten(text: str) -> str:
    """The text on one line; past ``QUOTE`` characters, its head and tail cut
    at word boundaries around an ellipsis."""
    text = _one_line(text)
    if len(text) <= QUOTE:
        return text
    head = text[:QUOTE_HEAD]
    if " " in head and text[QUOTE_HEAD] != " ":
        head = head[: head.rindex(" ")]
    tail = text[-QUOTE_TAIL:]
    if " " in tail and text[-QUOTE_TAIL - 1] != " ":
        tail = tail[tail.index(" ") + 1 :]
    return f"{head.rstrip()} … {tail.lstrip()}"


def _source(source: str, document_id: str | None, paragraph_index: int) -> str:
    if source == "article":
        return f"this article, paragraph {paragraph_index + 1}"
    return f"archived document {escape(document_id or '')}, paragraph {paragraph_index + 1}"


def _match_line(m: MatchOut) -> str:
    where = (
        f"paragraph {m.paragraph_index + 1} of this article"
        if m.source == "article"
        else f"archived document {escape(m.document_id or '')}, paragraph {m.paragraph_index + 1}"
    )
    return (
        f"      [yellow]↳ repeats {where}[/] (similarity {m.similarity:.2f}, containment {m.containment:.2f})"
    )


def _edited(passage: PassageOut) -> bool:
    return _one_line(passage.text).casefold() != _one_line(passage.source_text).casefold()


def _passage_lines(passage: PassageOut) -> list[str]:
    edits = " (with edits)" if _edited(passage) else ""
    return [
        f"      [cyan]≈ passage, characters {passage.start}-{passage.end}, from "
        f"{_source(passage.source, passage.document_id, passage.paragraph_index)}{edits}[/]",
        f'        "{escape(shorten(passage.text))}"',
    ]


def _summary(response: CheckResponse) -> str:
    total = len(response.paragraphs)
    duplicates = sum(p.status == "duplicate" for p in response.paragraphs)
    reusing = sum(bool(p.passages) for p in response.paragraphs)
    holding = f"{reusing} {'holds' if reusing == 1 else 'hold'} reused passages"
    if duplicates:
        extra = f"; {holding}" if reusing else ""
        return f"[bold red]{duplicates} of {total} paragraphs are duplicates{extra}[/]"
    if response.reuse:
        # Passages alone leave ``duplicate`` false (and the exit code 0).
        return f"[yellow]no duplicates among {total} paragraphs, but {holding}[/]"
    return f"[green]no duplicates among {total} paragraphs[/]"


def print_report(response: CheckResponse, console: Console) -> None:
    for p in response.paragraphs:
        mark = "[bold red]DUP[/]" if p.status == "duplicate" else "[green] ok[/]"
        console.print(f"{mark} ¶{p.index + 1:<3} {_preview(p.text)}", highlight=False)
        for m in p.matches:
            console.print(_match_line(m), highlight=False)
        for passage in p.passages:
            for line in _passage_lines(passage):
                console.print(line, highlight=False)
    console.print(_summary(response), highlight=False)
