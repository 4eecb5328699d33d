"""template.yaml agrees with the code: engine names, and the QPS setting's pattern."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from s3ocr.engines import ENGINES
from s3ocr.engines.ratelimit import parse_qps
from tests.conftest import ROOT


class CloudFormationLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub, !If... as plain values: only the structure matters here."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


CloudFormationLoader.add_multi_constructor("!", _any_tag)
TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=CloudFormationLoader)


def test_every_engine_the_template_offers_is_registered():
    assert set(TEMPLATE["Parameters"]["OcrEngine"]["AllowedValues"]) <= set(ENGINES)


@pytest.mark.parametrize("value", ["", "2", "0.5", "baidu=2", "baidu=2,tencent-accurate=10", "textract=5,1"])
def test_qps_values_the_template_accepts_are_ones_the_function_reads(value):
    pattern = TEMPLATE["Parameters"]["OcrEngineQps"]["AllowedPattern"]
    assert re.fullmatch(pattern, value)
    parse_qps(value)  # no ConfigurationError


def test_each_instance_is_told_how_many_share_the_budget():
    variables = TEMPLATE["Resources"]["OcrFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["OCR_ENGINE_QPS"] == "OcrEngineQps"
    assert variables["OCR_ENGINE_INSTANCES"] == "MaximumConcurrency"
