"""template.yaml under checkov, cfn-lint and the project's own checks (``template_checks``).

checkov and cfn-lint are pinned in their own venv by scripts/install-checkov.sh. ``run()`` returns a
``TemplateSummary`` whose ``line()`` is the reliability report's; ``python -m s3ocr.reliability.template`` prints it
and exits non-zero when anything failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from s3ocr.errors import S3OcrError
from s3ocr.reliability.template_checks import (
    CUSTOM_CHECKS,
    ROOT,
    TEMPLATE,
    Template,
    as_list,
    load_template,
)

INSTALL_SCRIPT = ROOT / "scripts" / "install-checkov.sh"


class TemplateToolError(S3OcrError):
    """checkov or cfn-lint could not be installed or run, or gave no readable answer."""

    reason = "template_tool"


@dataclass(frozen=True)
class CheckovSkip:
    check_id: str
    resource: str
    comment: str


@dataclass(frozen=True)
class CheckovResult:
    passed: int
    failed: tuple[str, ...]  # "CKV_AWS_21 AWS::S3::Bucket.OutputBucket"
    skipped: tuple[CheckovSkip, ...]


@dataclass(frozen=True)
class TemplateSummary:
    """What checkov, cfn-lint and the custom checks found in one template."""

    checkov: CheckovResult
    cfn_lint: tuple[str, ...]
    custom: tuple[tuple[str, tuple[str, ...]], ...]  # (check name, its problems)

    @property
    def ok(self) -> bool:
        return not (self.checkov.failed or self.cfn_lint or any(p for _, p in self.custom)
                    or any(not s.comment for s in self.checkov.skipped))

    def line(self) -> str:
        """The report's line, e.g. ``template: checkov failed=0 (skips: ...), cfn-lint 0, custom 9/9``."""
        skips = list(dict.fromkeys(f"{s.check_id} {s.comment or '(no reason given)'}" for s in self.checkov.skipped))
        failed = [f"failed: {', '.join(self.checkov.failed)}"] if self.checkov.failed else []
        notes = "; ".join([*failed, f"skips: {', '.join(skips) or 'none'}"])
        passing = sum(not problems for _, problems in self.custom)
        custom_failed = [name for name, problems in self.custom if problems]
        tail = f" (failed: {', '.join(custom_failed)})" if custom_failed else ""
        return (f"template: checkov failed={len(self.checkov.failed)} ({notes}), cfn-lint {len(self.cfn_lint)}, "
                f"custom {passing}/{len(self.custom)}{tail}")

    def details(self) -> list[str]:
        """One line per failed check, cfn-lint finding and custom problem."""
        return [f"checkov: {f}" for f in self.checkov.failed] + [f"cfn-lint: {f}" for f in self.cfn_lint] + \
            [f"custom {name}: {p}" for name, problems in self.custom for p in problems]


def run_custom_checks(t: Template) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, tuple(check(t))) for name, check in CUSTOM_CHECKS.items())


def parse_checkov_json(text: str) -> CheckovResult:
    """checkov's ``-o json`` answer for the cloudformation framework."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TemplateToolError(f"checkov printed no JSON: {text[-500:]!r}") from e
    reports = [r for r in as_list(data) if r.get("check_type", "cloudformation") == "cloudformation"]
    results = [r.get("results") or {} for r in reports]
    if any(r.get("summary", {}).get("parsing_errors") for r in reports):
        raise TemplateToolError("checkov could not parse the template")
    return CheckovResult(
        passed=sum(len(r.get("passed_checks") or []) for r in results),
        failed=tuple(f"{c['check_id']} {c['resource']}" for r in results for c in r.get("failed_checks") or []),
        skipped=tuple(CheckovSkip(c["check_id"], c["resource"], (c.get("check_result") or {}).get("suppress_comment")
                                  or "") for r in results for c in r.get("skipped_checks") or []))


def parse_cfn_lint_json(text: str) -> tuple[str, ...]:
    """cfn-lint's ``--format json`` findings, one line each."""
    try:
        findings = json.loads(text or "[]")
    except json.JSONDecodeError as e:
        raise TemplateToolError(f"cfn-lint printed no JSON: {text[-500:]!r}") from e
    return tuple(f"{f['Rule']['Id']} line {f['Location']['Start']['LineNumber']}: {f['Message']}" for f in findings)


def _tool(command: list[str], accepted: set[int]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TemplateToolError(f"{Path(command[0]).name} did not run: {e}") from e
    if done.returncode not in accepted:
        raise TemplateToolError(f"{Path(command[0]).name} exited {done.returncode}: {done.stderr[-1000:]}")
    return done.stdout


def install_tools() -> Path:
    """checkov and cfn-lint, pinned, in their own venv (scripts/install-checkov.sh); returns its bin folder."""
    return Path(_tool(["bash", str(INSTALL_SCRIPT)], {0}).strip().splitlines()[-1])


def run_checkov(template: Path, bin_dir: Path) -> CheckovResult:
    # --skip-download: no call to the vendor's platform; the checks run from the installed package alone.
    return parse_checkov_json(_tool([str(bin_dir / "checkov"), "-f", str(template), "--framework", "cloudformation",
                                     "-o", "json", "--skip-download"], {0, 1}))


def run_cfn_lint(template: Path, bin_dir: Path) -> tuple[str, ...]:
    # Exit status is a bit mask of the levels found (2 error, 4 warning, 8 informational).
    return parse_cfn_lint_json(_tool([str(bin_dir / "cfn-lint"), "--format", "json", "--", str(template)],
                                     {0, 2, 4, 6, 8, 10, 12, 14}))


def run(template: Path = TEMPLATE, bin_dir: Path | None = None) -> TemplateSummary:
    """checkov, cfn-lint and the custom checks on ``template`` (installing the tools when ``bin_dir`` is None)."""
    bin_dir = bin_dir or install_tools()
    return TemplateSummary(checkov=run_checkov(template, bin_dir), cfn_lint=run_cfn_lint(template, bin_dir),
                           custom=run_custom_checks(load_template(template)))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        summary = run(Path(args[0]) if args else TEMPLATE)
    except TemplateToolError as e:
        print(f"template: error: {e}", file=sys.stderr)
        return 2
    print(summary.line())
    for detail in summary.details():
        print(f"  {detail}", file=sys.stderr)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
