"""The README documents what exists: every setting with its default, every
command and option of the CLI, and nothing that does not exist."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

import app.store.redis
from app.cli import parser
from app.settings import Settings
from app.store.redis_client import DEFAULT_BUCKET_BITS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MIB = 1024 * 1024
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _env_name(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"PARADUP_{name.upper()}"


def _written_forms(value: object) -> set[str]:
    """How a default may be written in the table."""
    if isinstance(value, bool):
        return {str(value).lower()}
    if isinstance(value, list) and not value:
        return {"(none)"}
    forms = {str(value)}
    if isinstance(value, float) and value.is_integer():
        forms.add(str(int(value)))
    if isinstance(value, int) and value and value % MIB == 0:
        forms.add(f"{value // MIB} MiB")
    return forms


def _settings_table() -> dict[str, str]:
    """Documented default of each variable of the README's settings table."""
    documented = {}
    for row in _section("Settings").splitlines():
        if not row.startswith("| `PARADUP_"):
            continue
        variables, defaults = (cell.strip() for cell in row.strip("|").split("|")[:2])
        names = re.findall(r"`(PARADUP_\w+)`", variables)
        values = [v.strip() for v in defaults.split(",")] if len(names) > 1 else [defaults]
        assert len(values) == len(names), f"one default per variable in {row!r}"
        for name, value in zip(names, values, strict=True):
            assert name not in documented, f"{name} is documented twice"
            documented[name] = value.strip("`")
    return documented


def test_every_setting_and_its_default_is_in_the_readme_table() -> None:
    documented = _settings_table()
    fields = {_env_name(n, f): f for n, f in Settings.model_fields.items()}
    assert sorted(set(fields) - set(documented)) == [], "settings missing from the README table"
    assert sorted(set(documented) - set(fields)) == [], "the README table lists settings that do not exist"
    for env, field in fields.items():
        default = field.get_default(call_default_factory=True)
        assert documented[env] in _written_forms(default), f"{env}: README says {documented[env]!r}"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def _options(command: argparse.ArgumentParser) -> set[str]:
    flags = {flag for action in command._actions for flag in action.option_strings}
    return {flag for flag in flags if flag.startswith("--") and flag != "--help"}


def _command_sections() -> tuple[str, dict[str, str]]:
    """The text before the first command's heading, and each command's section."""
    parts = re.split(r"\n### `paradup (\w+)`\n", _section("Command line"))
    return parts[0], dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_subcommand_has_its_section() -> None:
    _, sections = _command_sections()
    assert sorted(sections) == sorted(_subcommands())


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_option_is_documented(name: str) -> None:
    preamble, sections = _command_sections()
    command = _subcommands()[name]
    assert f"paradup {name}" in preamble, "the synopsis names every command"
    written = set(OPTION.findall(sections.get(name, "")))
    common = set(OPTION.findall(preamble))
    missing = _options(command) - written - common
    assert sorted(missing) == [], f"options of paradup {name} missing from its README section"
    assert sorted(written - _options(command)) == [], f"the README gives paradup {name} options it lacks"


def test_the_command_line_preamble_names_only_real_options() -> None:
    preamble, _ = _command_sections()
    real = set().union(*(_options(c) for c in _subcommands().values())) | {"--help"}
    assert sorted(set(OPTION.findall(preamble)) - real) == []


def test_the_redis_bucket_bits_default_is_the_code_s() -> None:
    redis_doc = (ROOT / "docs" / "redis.md").read_text(encoding="utf-8")
    for where, text in (("app/store/redis.py", app.store.redis.__doc__ or ""), ("docs/redis.md", redis_doc)):
        stated = re.findall(r"bucket_bits\S*\s*\([^)]*?default (\d+)\)", text)
        assert stated, f"{where} states no bucket_bits default"
        assert {int(s) for s in stated} == {DEFAULT_BUCKET_BITS}, where
