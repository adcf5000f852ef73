"""Turning submitted documents (plain text or HTML) into paragraphs."""

from app.text.html import split_html
from app.text.paragraphs import Format, Paragraph, split_text


def split(text: str, fmt: Format) -> list[Paragraph]:
    """Paragraphs of a document in the given format, in document order."""
    return split_html(text) if fmt == "html" else split_text(text)


__all__ = ["Format", "Paragraph", "split", "split_html", "split_text"]
