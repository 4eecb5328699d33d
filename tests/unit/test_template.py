"""template.yaml: agrees with the code, passes the project's own checks, and checkov and cfn-lint find nothing.

Every custom check is shown to fail on a deliberately broken copy of the template. The tests named
``*checkov*`` / ``*cfn_lint*`` run the real tools (installed by scripts/install-checkov.sh into their own venv);
they skip only when that install fails and the package index cannot be reached at all.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from s3ocr.engines import ENGINES
from s3ocr.engines.ratelimit import parse_qps
from s3ocr.reliability.template import (
    CUSTOM_CHECKS,
    CheckovResult,
    CheckovSkip,
    TemplateSummary,
    TemplateToolError,
    install_tools,
    load_template,
    parse_cfn_lint_json,
    parse_checkov_json,
    run,
    run_checkov,
    run_custom_checks,
)
from tests.conftest import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
# The checks checkov is told to skip, each with its reason beside it in the template.
EXPECTED_SKIPS = {"CKV_AWS_18", "CKV_AWS_115", "CKV_AWS_117"}


def resource(t: dict[str, Any], name: str) -> dict[str, Any]:
    return t["Resources"][name]["Properties"]


def function(t: dict[str, Any]) -> dict[str, Any]:
    return resource(t, "OcrFunction")


def variables(t: dict[str, Any]) -> dict[str, Any]:
    return function(t)["Environment"]["Variables"]


def statement(t: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for p in function(t)["Policies"] if "Statement" in p for s in p["Statement"] if s.get("Sid") == sid)


# --- the template agrees with the code ----------------------------------------------------------------------

def test_every_engine_the_template_offers_is_registered():
    assert set(TEMPLATE["Parameters"]["OcrEngine"]["AllowedValues"]) <= set(ENGINES)


@pytest.mark.parametrize("value", ["", "2", "0.5", "baidu=2", "baidu=2,tencent-accurate=10", "textract=5,1"])
def test_qps_values_the_template_accepts_are_ones_the_function_reads(value):
    pattern = TEMPLATE["Parameters"]["OcrEngineQps"]["AllowedPattern"]
    assert re.fullmatch(pattern, value)
    parse_qps(value)  # no ConfigurationError


def test_each_instance_is_told_how_many_share_the_budget():
    assert variables(TEMPLATE)["OCR_ENGINE_QPS"] == {"Ref": "OcrEngineQps"}
    assert variables(TEMPLATE)["OCR_ENGINE_INSTANCES"] == {"Fn::Join": [",", [{"Ref": "MaximumConcurrency"},
                                                                              {"Ref": "TasksMaximumConcurrency"}]]}


def test_the_jobs_table_is_the_one_the_function_is_told_of_and_expires_what_jobs_keep():
    table = TEMPLATE["Resources"]["JobsTable"]["Properties"]
    assert variables(TEMPLATE)["JOBS_TABLE"] == {"Ref": "JobsTable"}
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_function_is_told_what_triggers_it_and_where_malformed_messages_go():
    assert variables(TEMPLATE)["INPUT_BUCKET"] == {"Ref": "InputBucket"}  # read by the cold-start recursion guard
    assert variables(TEMPLATE)["OUTPUT_BUCKET"] == {"Ref": "OutputBucket"}
    assert variables(TEMPLATE)["DEAD_LETTER_QUEUE_URL"] == {"Ref": "OcrDeadLetterQueue"}  # a queue's Ref: its URL


@pytest.mark.parametrize("prefix", ["", "/", "work", "a b/"])
def test_the_work_prefix_parameter_refuses_prefixes_that_would_expire_the_bucket_or_nothing(prefix):
    assert not re.fullmatch(TEMPLATE["Parameters"]["WorkPrefix"]["AllowedPattern"], prefix)


def test_the_default_work_prefix_is_accepted():
    parameter = TEMPLATE["Parameters"]["WorkPrefix"]
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])


# --- the custom checks pass, and each can fail ----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CUSTOM_CHECKS))
def test_the_template_passes_each_custom_check(name):
    assert CUSTOM_CHECKS[name](TEMPLATE) == []


def _without_output_policy(t):
    del t["Resources"]["OutputBucketPolicy"]


def _tls_condition_true(t):
    deny = resource(t, "InputBucketPolicy")["PolicyDocument"]["Statement"][0]
    deny["Condition"]["Bool"]["aws:SecureTransport"] = "true"


def _tls_deny_on_objects_only(t):
    resource(t, "AccessLogBucketPolicy")["PolicyDocument"]["Statement"][0]["Resource"] = [
        {"Fn::Sub": "${AccessLogBucket.Arn}/*"}]


def _write_anywhere(t):
    statement(t, "WriteOcrOutput")["Resource"] = "*"


def _textract_statement_also_reads_s3(t):
    textract = function(t)["Policies"][-1]["Fn::If"][1]["Statement"][0]
    textract["Action"] = ["textract:DetectDocumentText", "s3:GetObject"]


def _unknown_managed_policy(t):
    function(t)["Policies"].append("AmazonS3FullAccess")


def _crud_on_input(t):
    function(t)["Policies"][0] = {"S3CrudPolicy": {"BucketName": {"Ref": "InputBucket"}}}


def _write_statement_names_input_arn(t):
    statement(t, "WriteOcrOutput")["Resource"] = [
        {"Fn::Sub": "${OutputBucket.Arn}/*"},
        {"Fn::Sub": ["arn:${AWS::Partition}:s3:::s3ocr-input-${StackUuid}/*", {"StackUuid": "x"}]}]


def _delete_wildcard_action_on_input(t):
    function(t)["Policies"].append({"Statement": [{"Effect": "Allow", "Action": "s3:Delete*",
                                                   "Resource": {"Fn::Sub": "${InputBucket.Arn}/*"}}]})


def _input_unversioned(t):
    del resource(t, "InputBucket")["VersioningConfiguration"]


def _input_versioning_suspended(t):
    resource(t, "InputBucket")["VersioningConfiguration"]["Status"] = "Suspended"


def _output_rules(t):
    return resource(t, "OutputBucket")["LifecycleConfiguration"]["Rules"]


def _no_work_rule(t):
    _output_rules(t)[:] = [r for r in _output_rules(t) if r["Id"] != "ExpireWorkFiles"]


def _work_rule_on_another_prefix(t):
    _output_rules(t)[0]["Prefix"] = "tmp/"


def _work_prefix_may_be_empty(t):
    t["Parameters"]["WorkPrefix"] = {"Type": "String", "Default": "work/"}


def _no_noncurrent_rule(t):
    _output_rules(t)[:] = [r for r in _output_rules(t) if "NoncurrentVersionExpiration" not in r]


def _no_work_prefix_variable(t):
    del variables(t)["WORK_PREFIX"]


def _short_visibility(t):
    resource(t, "OcrQueue")["VisibilityTimeout"] = 900


def _longer_timeout(t):
    function(t)["Timeout"] = 901


def _receive_count_may_be_one(t):
    t["Parameters"]["MaxReceiveCount"]["MinValue"] = 1


def _receive_count_two(t):
    resource(t, "OcrQueue")["RedrivePolicy"]["maxReceiveCount"] = 2


def _no_redrive(t):
    del resource(t, "OcrQueue")["RedrivePolicy"]


def _no_alarm(t):
    del t["Resources"]["DeadLetterQueueAlarm"]


def _alarm_on_the_source_queue(t):
    resource(t, "DeadLetterQueueAlarm")["Dimensions"][0]["Value"] = {"Fn::GetAtt": ["OcrQueue", "QueueName"]}


def _alarm_after_ten_messages(t):
    resource(t, "DeadLetterQueueAlarm")["Threshold"] = 10


def _function_dead_letters_to_an_unwatched_queue(t):
    t["Resources"]["AsyncDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    function(t)["DeadLetterQueue"]["TargetArn"] = {"Fn::GetAtt": ["AsyncDeadLetterQueue", "Arn"]}


def _output_to_the_input_bucket(t):
    variables(t)["OUTPUT_BUCKET"] = {"Ref": "InputBucket"}


def _output_bucket_notifies_the_queue(t):
    resource(t, "OutputBucket")["NotificationConfiguration"] = {
        "QueueConfigurations": [{"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["OcrQueue", "Arn"]}}]}


def _output_bucket_is_an_s3_event(t):
    function(t)["Events"]["Outputs"] = {"Type": "S3", "Properties": {"Bucket": {"Ref": "OutputBucket"},
                                                                     "Events": "s3:ObjectCreated:*"}}


def _output_bucket_through_eventbridge(t):
    notifications = {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    resource(t, "OutputBucket")["NotificationConfiguration"] = notifications
    function(t)["Events"]["Created"] = {"Type": "EventBridgeRule",
                                        "Properties": {"Pattern": {"source": ["aws.s3"]}}}


def _output_bucket_from_a_parameter(t):
    variables(t)["OUTPUT_BUCKET"] = {"Ref": "OutputPrefix"}


BREAKS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("tls-only bucket policies", _without_output_policy),
    ("tls-only bucket policies", _tls_condition_true),
    ("tls-only bucket policies", _tls_deny_on_objects_only),
    ("no wildcard resources", _write_anywhere),
    ("no wildcard resources", _textract_statement_also_reads_s3),
    ("no wildcard resources", _unknown_managed_policy),
    ("role cannot write the input bucket", _crud_on_input),
    ("role cannot write the input bucket", _write_statement_names_input_arn),
    ("role cannot write the input bucket", _delete_wildcard_action_on_input),
    ("role cannot write the input bucket", _write_anywhere),
    ("input bucket versioned", _input_unversioned),
    ("input bucket versioned", _input_versioning_suspended),
    ("work prefix and old versions expire", _no_work_rule),
    ("work prefix and old versions expire", _work_rule_on_another_prefix),
    ("work prefix and old versions expire", _work_prefix_may_be_empty),
    ("work prefix and old versions expire", _no_noncurrent_rule),
    ("work prefix and old versions expire", _no_work_prefix_variable),
    ("queue visibility >= 6x function timeout", _short_visibility),
    ("queue visibility >= 6x function timeout", _longer_timeout),
    ("maxReceiveCount >= 3", _receive_count_may_be_one),
    ("maxReceiveCount >= 3", _receive_count_two),
    ("maxReceiveCount >= 3", _no_redrive),
    ("alarm on every dead-letter queue", _no_alarm),
    ("alarm on every dead-letter queue", _alarm_on_the_source_queue),
    ("alarm on every dead-letter queue", _alarm_after_ten_messages),
    ("alarm on every dead-letter queue", _function_dead_letters_to_an_unwatched_queue),
    ("no recursion loop", _output_to_the_input_bucket),
    ("no recursion loop", _output_bucket_notifies_the_queue),
    ("no recursion loop", _output_bucket_is_an_s3_event),
    ("no recursion loop", _output_bucket_through_eventbridge),
    ("no recursion loop", _output_bucket_from_a_parameter),
]


@pytest.mark.parametrize(("name", "brk"), BREAKS, ids=[f"{n}: {b.__name__.strip('_')}" for n, b in BREAKS])
def test_each_custom_check_fails_on_a_broken_template(name, brk):
    # GIVEN a copy of the template broken in one way
    broken = copy.deepcopy(TEMPLATE)
    brk(broken)
    # WHEN the check reads it THEN it says what is wrong
    assert CUSTOM_CHECKS[name](broken)


def test_every_custom_check_has_a_breaking_test():
    assert {name for name, _ in BREAKS} == set(CUSTOM_CHECKS)


# --- the summary line and the tools' output -----------------------------------------------------------------

def _summary(failed=(), cfn_lint=(), problems=(), comment="no VPC: nothing to reach"):
    custom = tuple((name, tuple(problems) if i == 0 else ()) for i, name in enumerate(CUSTOM_CHECKS))
    return TemplateSummary(checkov=CheckovResult(passed=38, failed=tuple(failed), skipped=(
        CheckovSkip("CKV_AWS_117", "AWS::Serverless::Function.OcrFunction", comment),)),
        cfn_lint=tuple(cfn_lint), custom=custom)


def test_the_line_of_a_clean_template():
    summary = _summary()
    assert summary.ok
    assert summary.line() == ("template: checkov failed=0 (skips: CKV_AWS_117 no VPC: nothing to reach), "
                              f"cfn-lint 0, custom {len(CUSTOM_CHECKS)}/{len(CUSTOM_CHECKS)}")


def test_the_line_names_what_failed():
    summary = _summary(failed=["CKV_AWS_21 AWS::S3::Bucket.OutputBucket"], cfn_lint=["E3012 line 3: x"],
                       problems=["InputBucket: no policy"])
    assert not summary.ok
    first = next(iter(CUSTOM_CHECKS))
    assert summary.line() == (
        "template: checkov failed=1 (failed: CKV_AWS_21 AWS::S3::Bucket.OutputBucket; skips: CKV_AWS_117 no VPC: "
        f"nothing to reach), cfn-lint 1, custom {len(CUSTOM_CHECKS) - 1}/{len(CUSTOM_CHECKS)} (failed: {first})")
    assert len(summary.details()) == 3


def test_a_skip_without_a_reason_fails():
    assert not _summary(comment="").ok


def test_checkov_json_is_read_with_check_ids_and_skip_reasons():
    text = json.dumps({"check_type": "cloudformation", "results": {
        "passed_checks": [{"check_id": "CKV_AWS_19"}] * 2,
        "failed_checks": [{"check_id": "CKV_AWS_21", "resource": "AWS::S3::Bucket.B"}],
        "skipped_checks": [{"check_id": "CKV_AWS_117", "resource": "F",
                            "check_result": {"result": "SKIPPED", "suppress_comment": "why"}}]},
        "summary": {"passed": 2, "failed": 1, "skipped": 1, "parsing_errors": 0}})
    assert parse_checkov_json(text) == CheckovResult(2, ("CKV_AWS_21 AWS::S3::Bucket.B",),
                                                     (CheckovSkip("CKV_AWS_117", "F", "why"),))


def test_checkov_output_that_is_not_json_is_an_error():
    with pytest.raises(TemplateToolError):
        parse_checkov_json("Traceback (most recent call last):")


def test_cfn_lint_findings_are_counted():
    finding = {"Rule": {"Id": "W3005"}, "Location": {"Start": {"LineNumber": 7}}, "Message": "obsolete DependsOn"}
    assert parse_cfn_lint_json(json.dumps([finding, finding])) == ("W3005 line 7: obsolete DependsOn",) * 2
    assert parse_cfn_lint_json("[]") == ()


# --- checkov and cfn-lint, for real ---------------------------------------------------------------------------

def _package_index_reachable() -> bool:
    """Whether pip's package index answers a TCP connection (its URL from pip's own configuration)."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        done = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                              capture_output=True, text=True, check=False)
        url = done.stdout.strip() if done.returncode == 0 else ""
    if not url:
        from pip._internal.models.index import PyPI  # pip's default index

        url = PyPI.simple_url
    parts = urlsplit(url)
    if parts.scheme == "file":
        return True
    try:
        socket.create_connection((parts.hostname or "", parts.port or 443), timeout=10).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def tools_bin() -> Path:
    try:
        return install_tools()
    except TemplateToolError:
        if not _package_index_reachable():
            pytest.skip("checkov and cfn-lint could not be installed: the package index is unreachable")
        raise


@pytest.fixture(scope="module")
def summary(tools_bin: Path) -> TemplateSummary:
    return run(ROOT / "template.yaml", bin_dir=tools_bin)


def test_checkov_and_cfn_lint_find_nothing_in_the_template(summary):
    assert summary.checkov.failed == ()
    assert summary.checkov.passed > 0
    assert summary.cfn_lint == ()
    assert summary.ok, summary.details()


def test_checkov_skips_only_the_checks_that_cannot_fit_each_with_its_reason(summary):
    assert {s.check_id for s in summary.checkov.skipped} == EXPECTED_SKIPS
    assert all(s.comment for s in summary.checkov.skipped)


def test_the_report_line_of_the_template(summary):
    total = len(CUSTOM_CHECKS)
    assert re.fullmatch(rf"template: checkov failed=0 \(skips: CKV_AWS_\d+ .+\), cfn-lint 0, custom {total}/{total}",
                        summary.line())


def test_checkov_catches_a_bucket_without_versioning(tools_bin, tmp_path):
    # GIVEN the template with the output bucket's versioning removed, written out as JSON
    broken = copy.deepcopy(TEMPLATE)
    del resource(broken, "OutputBucket")["VersioningConfiguration"]
    path = tmp_path / "template.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    # WHEN checkov reads it THEN that check fails, and the custom checks still read the copy
    assert "CKV_AWS_21 AWS::S3::Bucket.OutputBucket" in run_checkov(path, tools_bin).failed
    assert all(not problems for _, problems in run_custom_checks(load_template(path)))


def _metric_names_in_the_handler() -> set[str]:
    handler = (ROOT / "handlers" / "ocr" / "app.py").read_text(encoding="utf-8")
    return set(re.findall(r'"([A-Z][A-Za-z]+)"', handler))


def test_the_dashboard_is_json_and_shows_metrics_the_function_emits():
    body = resource(TEMPLATE, "Dashboard")["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    titles = [widget["properties"]["title"] for widget in widgets]
    assert len(titles) == 8 and any("p95" in title for title in titles)
    searched = set(re.findall(r'MetricName=\\"(\w+)\\"', body))
    direct = {row[1] for widget in widgets for row in widget["properties"]["metrics"]
              if isinstance(row[0], str) and row[0] == "S3Ocr"}
    assert searched | direct <= _metric_names_in_the_handler(), (searched | direct) - _metric_names_in_the_handler()
    assert {"Documents", "Pages", "DocumentFailures", "SecondsPerPage", "MeanConfidence"} <= searched


def test_the_dashboard_prices_a_page_as_the_cost_bench_does_at_the_function_s_memory():
    from s3ocr.bench.cost import GB_S_PER_CPU_S, PRICE_PER_GB_S

    body = resource(TEMPLATE, "Dashboard")["DashboardBody"]["Fn::Sub"]
    [widget] = [w for w in json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
                if "US$" in w["properties"]["title"]]
    rows = {row[-1]["id"]: row for row in widget["properties"]["metrics"]}
    assert function(TEMPLATE)["Architectures"] == ["x86_64"]
    assert "MetricName=\"CpuSeconds\"" in rows["cpu"][0]["expression"]
    assert "MetricName=\"Pages\"" in rows["pages"][0]["expression"]
    assert rows["duration"][:2] == ["AWS/Lambda", "Duration"] and rows["duration"][-1]["stat"] == "Sum"
    assert rows["cpucost"][0]["expression"] == f"1000 * cpu / pages * {GB_S_PER_CPU_S} * {PRICE_PER_GB_S['x86']:.10f}"
    memory_gb = function(TEMPLATE)["MemorySize"] / 1024
    assert rows["billed"][0]["expression"] == (f"duration / 1000 * {memory_gb} * {PRICE_PER_GB_S['x86']:.10f} * 1000 "
                                               "/ pages")


def test_the_quality_alarm_divides_poor_documents_by_documents_read_under_the_service_alone():
    alarm = resource(TEMPLATE, "PoorDocumentsAlarm")
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {metric["MetricName"] for metric in stats.values()} == {"PoorDocuments", "DocumentsRead"}
    assert {metric["MetricName"] for metric in stats.values()} <= _metric_names_in_the_handler()
    assert all(metric["Dimensions"] == [{"Name": "service", "Value": "s3ocr"}] for metric in stats.values())
    assert variables(TEMPLATE)["EVENT_BUS_NAME"] == {"Ref": "EventBusName"}
    announce = next(p["Fn::If"][1]["Statement"][0] for p in function(TEMPLATE)["Policies"]
                    if "Fn::If" in p and p["Fn::If"][0] == "HasEventBus")
    assert announce["Action"] == "events:PutEvents" and "event-bus/${EventBusName}" in announce["Resource"]["Fn::Sub"]
