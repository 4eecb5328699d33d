"""The project's own checks of template.yaml, for what neither checkov nor cfn-lint looks at.

The checks are plain functions over the loaded template (intrinsics in their long JSON form, so a broken copy can
be built in a test and written out as JSON); each returns its problems, an empty list when the template passes.
``s3ocr.reliability.template`` runs them beside checkov and cfn-lint.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
Template = Mapping[str, Any]

# Actions AWS authorizes only on Resource "*" (no resource-level permissions), each with its reason.
WILDCARD_ONLY_ACTIONS = {"textract:detectdocumenttext": "Textract's DetectDocumentText has no resource types"}
# The SAM policy templates these checks can expand: template -> (its parameter naming the resource, actions).
SAM_POLICY_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "S3ReadPolicy": ("BucketName", ("s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
                                    "s3:GetLifecycleConfiguration")),
    "S3WritePolicy": ("BucketName", ("s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration")),
    "S3CrudPolicy": ("BucketName", ("s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
                                    "s3:PutObject", "s3:PutObjectAcl", "s3:GetLifecycleConfiguration",
                                    "s3:PutLifecycleConfiguration", "s3:DeleteObject")),
    "SQSSendMessagePolicy": ("QueueName", ("sqs:SendMessage*",)),
    "KMSDecryptPolicy": ("KeyId", ("kms:Decrypt",)),
}
# What an action pattern must not match on an input bucket: object and bucket writes.
S3_WRITES = ("s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectTagging", "s3:DeleteObject", "s3:DeleteObjectVersion",
             "s3:RestoreObject", "s3:ReplicateObject", "s3:AbortMultipartUpload", "s3:PutBucketPolicy",
             "s3:PutBucketNotification", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration", "s3:DeleteBucket")
DLQ_METRICS = {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")
_WILDCARD_ARN = re.compile(r"^(\*|arn:[^:]*:[^:]*:[^:]*:[^:]*:\*|arn:[^:]*:s3:::\*.*)$")


# --- reading the template ---------------------------------------------------------------------------------

class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags, read into their long form (``!Ref x`` -> ``{"Ref": "x"}``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template at ``path`` as plain data, intrinsic functions in their JSON form."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)


def as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _resources(t: Template, kind: str) -> dict[str, Mapping[str, Any]]:
    return {name: r.get("Properties") or {} for name, r in (t.get("Resources") or {}).items() if r.get("Type") == kind}


def _functions(t: Template) -> dict[str, Mapping[str, Any]]:
    return {**_resources(t, "AWS::Serverless::Function"), **_resources(t, "AWS::Lambda::Function")}


def _sub_text(value: Any) -> str | None:
    """The text of a plain string or of an ``Fn::Sub``; None for other values."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None


def _refs(value: Any) -> set[str]:
    """Logical ids ``value`` refers to, through Ref, GetAtt and Sub, at any depth."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text, names = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
                found |= {v.split(".")[0] for v in _SUB_VARIABLE.findall(text) if v not in names}
                found |= _refs(names)
            else:
                found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    return {name for name in found if not name.startswith("AWS::")}


def _target(value: Any) -> str | None:
    """The one resource a Ref or GetAtt names."""
    if isinstance(value, Mapping) and len(value) == 1 and ("Ref" in value or "Fn::GetAtt" in value):
        return next(iter(_refs(value)), None)
    return None


def _branches(value: Any) -> Iterator[Any]:
    """Every value an ``Fn::If`` may take (both branches: either may be deployed); none for AWS::NoValue."""
    if isinstance(value, Mapping) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def _bounds(t: Template, value: Any) -> tuple[float, float]:
    """The least and greatest number ``value`` can deploy as: a literal, or a parameter's allowed range."""
    if isinstance(value, Mapping) and "Ref" in value:
        parameter = (t.get("Parameters") or {}).get(value["Ref"]) or {}
        allowed = [float(v) for v in parameter.get("AllowedValues") or []]
        low = float(parameter.get("MinValue", min(allowed, default=-math.inf)))
        high = float(parameter.get("MaxValue", max(allowed, default=math.inf)))
        return low, high
    try:
        return float(value), float(value)
    except (TypeError, ValueError):
        return -math.inf, math.inf


def _never_empty(t: Template, value: Any) -> bool:
    """Whether ``value`` cannot deploy as an empty string (a literal, or a parameter that refuses "")."""
    if isinstance(value, str):
        return bool(value)
    parameter = (t.get("Parameters") or {}).get(value.get("Ref", "")) if isinstance(value, Mapping) else None
    if not parameter or not str(parameter.get("Default", "x")):
        return False
    pattern, allowed = parameter.get("AllowedPattern"), parameter.get("AllowedValues")
    return bool((pattern and not re.fullmatch(pattern, "")) or int(parameter.get("MinLength", 0)) > 0
                or (allowed and all(str(v) for v in allowed)))


# --- the function's wiring and permissions ------------------------------------------------------------------

def _event_queues(t: Template, function: str, props: Mapping[str, Any]) -> set[str]:
    queues = {_target((e.get("Properties") or {}).get("Queue")) for e in (props.get("Events") or {}).values()
              if e.get("Type") == "SQS"}
    queues |= {_target(m.get("EventSourceArn")) for m in _resources(t, "AWS::Lambda::EventSourceMapping").values()
               if function in _refs(m.get("FunctionName"))}
    return {q for q in queues if q}


def _eventbridge_reaches(t: Template, function: str, props: Mapping[str, Any], queues: set[str]) -> bool:
    if any(e.get("Type") in ("EventBridgeRule", "CloudWatchEvent") for e in (props.get("Events") or {}).values()):
        return True
    return any(_refs(target.get("Arn")) & ({function} | queues)
               for rule in _resources(t, "AWS::Events::Rule").values() for target in rule.get("Targets") or [])


def trigger_buckets(t: Template, function: str) -> set[str]:
    """Buckets of the template whose notifications reach ``function`` (through a queue, directly or EventBridge)."""
    props = _functions(t)[function]
    queues = _event_queues(t, function, props)
    found = {_target((e.get("Properties") or {}).get("Bucket")) for e in (props.get("Events") or {}).values()
             if e.get("Type") == "S3"}
    for bucket, bucket_props in _resources(t, "AWS::S3::Bucket").items():
        notifications = bucket_props.get("NotificationConfiguration") or {}
        to_queue = any(_target(q.get("Queue")) in queues for q in notifications.get("QueueConfigurations") or [])
        direct = any(_target(f.get("Function")) == function for f in notifications.get("LambdaConfigurations") or [])
        eventbridge = str((notifications.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled")).lower()
        if to_queue or direct or (eventbridge == "true" and _eventbridge_reaches(t, function, props, queues)):
            found.add(bucket)
    return {b for b in found if b}


def role_statements(props: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The Allow statements of a function's ``Policies`` (SAM templates expanded), and what cannot be read."""
    statements: list[Mapping[str, Any]] = []
    unknown = [f"Role {props['Role']!r}: a role from elsewhere cannot be checked"] if "Role" in props else []
    for policy in (branch for item in as_list(props.get("Policies")) for branch in _branches(item)):
        if isinstance(policy, Mapping) and "Statement" in policy:
            statements += [s for stmt in as_list(policy["Statement"]) for s in _branches(stmt)]
        elif isinstance(policy, Mapping) and len(policy) == 1 and next(iter(policy)) in SAM_POLICY_TEMPLATES:
            name, arguments = next(iter(policy.items()))
            parameter, actions = SAM_POLICY_TEMPLATES[name]
            statements.append({"Effect": "Allow", "Action": list(actions), "Resource": arguments.get(parameter)})
        else:
            unknown.append(f"policy {policy!r}: its statements are not known here")
    return [s for s in statements if s.get("Effect") == "Allow"], unknown


def _is_wildcard(resource: Any) -> bool:
    text = _sub_text(resource)
    return text is not None and bool(_WILDCARD_ARN.match(_SUB_VARIABLE.sub("x", text)))


def _covers_bucket(t: Template, resource: Any, bucket: str) -> bool:
    """Whether an IAM resource may name ``bucket`` or its objects."""
    if _is_wildcard(resource):
        return True
    referenced = _refs(resource) - set(t.get("Parameters") or {})
    if referenced:
        return bucket in referenced
    text = _sub_text(resource)
    if text is None:
        return True  # an intrinsic this check cannot read: assume the worst
    name = _sub_text((_resources(t, "AWS::S3::Bucket")[bucket]).get("BucketName")) or ""
    literal = name.split("${")[0]
    pattern = _SUB_VARIABLE.sub("*", text)
    return bool(literal) and any(fnmatchcase(f"arn:aws:s3:::{literal}x{tail}", pattern) for tail in ("", "/key"))


def _writes_s3(actions: list[Any]) -> bool:
    return any(fnmatchcase(write.lower(), str(a).lower()) for a in actions for write in S3_WRITES)


def writable_buckets(t: Template, function: str) -> set[str]:
    """Buckets of the template the function writes: its OUTPUT_BUCKET and any bucket its role may write."""
    props = _functions(t)[function]
    variables = (props.get("Environment") or {}).get("Variables") or {}
    found = {_target(variables.get("OUTPUT_BUCKET"))} - {None}
    statements, _ = role_statements(props)
    for statement in statements:
        if "NotAction" in statement or _writes_s3(as_list(statement.get("Action"))):
            found |= {b for b in _resources(t, "AWS::S3::Bucket")
                      if any(_covers_bucket(t, r, b) for r in as_list(statement.get("Resource")))}
    return {b for b in found if b}


# --- the checks ---------------------------------------------------------------------------------------------

def _who(function: str, statement: Mapping[str, Any]) -> str:
    return f"{function} {statement['Sid']}" if statement.get("Sid") else function


def _denies_plain_http(statement: Mapping[str, Any], bucket: str) -> bool:
    condition = {k.lower(): v for k, v in (statement.get("Condition") or {}).items()}
    secure = {k.lower(): v for k, v in (condition.get("bool") or {}).items()}.get("aws:securetransport")
    resources = [r for r in as_list(statement.get("Resource")) if bucket in _refs(r)]
    return (statement.get("Effect") == "Deny" and statement.get("Principal") in ("*", {"AWS": "*"})
            and bool({"s3:*", "*"} & {str(a).lower() for a in as_list(statement.get("Action"))})
            and str(secure).lower() == "false"
            and any((_sub_text(r) or "").endswith("/*") for r in resources)
            and any(_target(r) == bucket for r in resources))


def check_tls_only_buckets(t: Template) -> list[str]:
    """Every bucket has a policy denying any request not made over TLS, on the bucket and its objects."""
    statements = [(_target(p.get("Bucket")), s) for p in _resources(t, "AWS::S3::BucketPolicy").values()
                  for s in as_list((p.get("PolicyDocument") or {}).get("Statement"))]
    return [f"{bucket}: no policy denies requests without aws:SecureTransport"
            for bucket in _resources(t, "AWS::S3::Bucket")
            if not any(target == bucket and _denies_plain_http(s, bucket) for target, s in statements)]


def check_no_wildcard_resources(t: Template) -> list[str]:
    """No function statement allows Resource "*" but for actions AWS authorizes only there (WILDCARD_ONLY_ACTIONS)."""
    problems = []
    for function, props in _functions(t).items():
        statements, unknown = role_statements(props)
        problems += [f"{function}: {u}" for u in unknown]
        for s in statements:
            if "NotResource" in s:
                problems.append(f"{_who(function, s)}: NotResource allows everything else")
            elif any(_is_wildcard(r) for r in as_list(s.get("Resource"))):
                actions = [str(a) for a in as_list(s.get("Action", "NotAction"))]
                if "NotAction" in s or any(a.lower() not in WILDCARD_ONLY_ACTIONS for a in actions):
                    problems.append(f"{_who(function, s)}: {actions} on a wildcard resource")
    return problems


def check_role_cannot_write_input(t: Template) -> list[str]:
    """No function may put or delete anything in a bucket whose notifications trigger it."""
    problems = []
    for function, props in _functions(t).items():
        inputs = trigger_buckets(t, function)
        statements, unknown = role_statements(props)
        problems += [f"{function}: {u}" for u in unknown] + [f"{function}: no input bucket wired"] * (not inputs)
        for s in statements:
            if "NotAction" in s or _writes_s3(as_list(s.get("Action"))):
                hit = sorted(b for b in inputs if any(_covers_bucket(t, r, b) for r in as_list(s.get("Resource"))))
                problems += [f"{_who(function, s)}: may write input bucket {b}" for b in hit]
    return problems


def check_input_versioned(t: Template) -> list[str]:
    """Every input bucket keeps versions (an overwritten or deleted document can be recovered)."""
    buckets = _resources(t, "AWS::S3::Bucket")
    inputs = {b for function in _functions(t) for b in trigger_buckets(t, function)}
    return [f"{b}: versioning not enabled" for b in sorted(inputs)
            if (buckets[b].get("VersioningConfiguration") or {}).get("Status") != "Enabled"] + \
        ["no input bucket wired"] * (not inputs)


def check_work_prefix_expires(t: Template) -> list[str]:
    """The output bucket expires everything under the function's WORK_PREFIX (never empty), and old versions."""
    problems = []
    for function, props in _functions(t).items():
        variables = (props.get("Environment") or {}).get("Variables") or {}
        work, output = variables.get("WORK_PREFIX"), _target(variables.get("OUTPUT_BUCKET"))
        if work is None or output not in _resources(t, "AWS::S3::Bucket"):
            problems.append(f"{function}: no WORK_PREFIX, or OUTPUT_BUCKET is no bucket of this template")
            continue
        bucket = _resources(t, "AWS::S3::Bucket")[output]
        rules = [r for r in (bucket.get("LifecycleConfiguration") or {}).get("Rules") or []
                 if r.get("Status") == "Enabled"]

        def prefix(rule: Mapping[str, Any]) -> Any:
            return rule.get("Prefix", (rule.get("Filter") or {}).get("Prefix"))

        if not any(prefix(r) == work and ("ExpirationInDays" in r or "ExpirationDate" in r) for r in rules):
            problems.append(f"{output}: no enabled rule expires WORK_PREFIX {work!r}")
        if not _never_empty(t, work):
            problems.append(f"{function}: WORK_PREFIX can be empty, and its rule would expire the whole bucket")
        if not any(prefix(r) in (None, "") and "NoncurrentVersionExpiration" in r for r in rules):
            problems.append(f"{output}: no enabled rule expires noncurrent versions")
    return problems


def check_visibility_covers_timeout(t: Template) -> list[str]:
    """Each event-source queue hides a message for at least six times its function's timeout."""
    problems = []
    globals_timeout = ((t.get("Globals") or {}).get("Function") or {}).get("Timeout", 3)
    queues = _resources(t, "AWS::SQS::Queue")
    for function, props in _functions(t).items():
        longest = _bounds(t, props.get("Timeout", globals_timeout))[1]
        for queue in sorted(_event_queues(t, function, props)):
            shortest = _bounds(t, (queues.get(queue) or {}).get("VisibilityTimeout", 30))[0]
            if shortest < 6 * longest:
                problems.append(f"{queue}: visibility {shortest:g} s < 6 x {function} timeout {longest:g} s")
    return problems


def _redrive(queue: Mapping[str, Any]) -> Mapping[str, Any]:
    policy = queue.get("RedrivePolicy") or {}
    return json.loads(policy) if isinstance(policy, str) else policy


def check_max_receive_count(t: Template) -> list[str]:
    """Every event-source queue has a dead-letter queue, and no queue dead-letters before the third delivery."""
    queues = _resources(t, "AWS::SQS::Queue")
    sources = {q for function, props in _functions(t).items() for q in _event_queues(t, function, props)}
    problems = [f"{q}: no RedrivePolicy" for q in sorted(sources) if not _redrive(queues.get(q) or {})]
    for name, queue in queues.items():
        if _redrive(queue):
            low = _bounds(t, _redrive(queue).get("maxReceiveCount"))[0]
            problems += [f"{name}: maxReceiveCount can be {low:g} (< 3)"] * (low < 3)
    return problems


def dead_letter_queues(t: Template) -> set[str]:
    """Queues of the template that receive dead letters: redrive targets and function dead-letter targets."""
    found = {_target(_redrive(q).get("deadLetterTargetArn")) for q in _resources(t, "AWS::SQS::Queue").values()}
    for props in _functions(t).values():
        found |= {_target((props.get("DeadLetterQueue") or {}).get("TargetArn")),
                  _target((props.get("DeadLetterConfig") or {}).get("TargetArn"))}
    return {q for q in found if q in _resources(t, "AWS::SQS::Queue")}


def _alarms_on(alarm: Mapping[str, Any], queue: str) -> bool:
    low, _ = _bounds({}, alarm.get("Threshold"))
    fires_on_one = (alarm.get("ComparisonOperator") == "GreaterThanThreshold" and low < 1) or \
        (alarm.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold" and low <= 1)
    return (alarm.get("Namespace") == "AWS/SQS" and alarm.get("MetricName") in DLQ_METRICS and fires_on_one
            and any(d.get("Name") == "QueueName" and _target(d.get("Value")) == queue
                    for d in alarm.get("Dimensions") or []))


def check_dead_letter_alarms(t: Template) -> list[str]:
    """An alarm fires as soon as any dead-letter queue holds a message."""
    alarms = _resources(t, "AWS::CloudWatch::Alarm").values()
    return [f"{q}: no alarm on a dead letter" for q in sorted(dead_letter_queues(t))
            if not any(_alarms_on(a, q) for a in alarms)]


def check_no_recursion(t: Template) -> list[str]:
    """No function writes a bucket whose notifications trigger it (so its outputs can never trigger it)."""
    problems = []
    for function, props in _functions(t).items():
        variables = (props.get("Environment") or {}).get("Variables") or {}
        if _target(variables.get("OUTPUT_BUCKET")) not in _resources(t, "AWS::S3::Bucket"):
            problems.append(f"{function}: OUTPUT_BUCKET is no bucket of this template, so no loop can be ruled out")
        loop = writable_buckets(t, function) & trigger_buckets(t, function)
        problems += [f"{function} writes {b}, whose notifications trigger it" for b in sorted(loop)]
    return problems


CUSTOM_CHECKS: dict[str, Callable[[Template], list[str]]] = {
    "tls-only bucket policies": check_tls_only_buckets,
    "no wildcard resources": check_no_wildcard_resources,
    "role cannot write the input bucket": check_role_cannot_write_input,
    "input bucket versioned": check_input_versioned,
    "work prefix and old versions expire": check_work_prefix_expires,
    "queue visibility >= 6x function timeout": check_visibility_covers_timeout,
    "maxReceiveCount >= 3": check_max_receive_count,
    "alarm on every dead-letter queue": check_dead_letter_alarms,
    "no recursion loop": check_no_recursion,
}
