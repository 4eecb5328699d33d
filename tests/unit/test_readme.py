"""The README's parameter table is the one place a user looks: it names every template parameter and every
variable the function's settings read, so neither can be added without it."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT


def _table() -> tuple[set[str], set[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Parameters and variables", 1)[1].split("\n## ", 1)[0]
    parameters, variables = set(), set()
    for row in section.splitlines():
        cells = row.split("|")
        if len(cells) > 3 and not set(cells[1].strip()) <= {"-"}:
            parameters |= set(re.findall(r"`(\w+)`", cells[1]))
            variables |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[2]))
    return parameters, variables


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_every_template_parameter_is_in_the_table():
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    parameters, _ = _table()
    assert set(template["Parameters"]) <= parameters, set(template["Parameters"]) - parameters


def test_every_variable_the_settings_and_the_function_read_is_in_the_table():
    settings = (ROOT / "src" / "s3ocr" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'env(?:\.get\(|, )"([A-Z][A-Z0-9_]+)"', settings)) - {"TMPDIR"}
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    read |= set(template["Resources"]["OcrFunction"]["Properties"]["Environment"]["Variables"])
    _, variables = _table()
    assert len(read) > 20 and read <= variables, read - variables
