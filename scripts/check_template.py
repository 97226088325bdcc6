#!/usr/bin/env python3
"""The project's own checks of the SAM template, beyond what `sam validate --lint` and cfn-lint see.

Run by scripts/check-template with the python of its virtualenv (it needs cfn-lint, for a YAML loader
that understands !Ref/!Sub/!GetAtt, and aws-sam-translator, which comes with aws-sam-cli, to expand
the template the way CloudFormation's SAM transform does). Nothing here reaches AWS.

    check_template.py [--template template.yaml] [--root REPO]

Prints one line per check, with the reasons under a failed one, and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

FUNCTION = "AWS::Serverless::Function"
QUEUE = "AWS::SQS::Queue"
ALARM = "AWS::CloudWatch::Alarm"
LOG_GROUP = "AWS::Logs::LogGroup"

# The Lambda function crates are the workspace packages in folders of FUNCTIONS_DIR, all but the local runner.
FUNCTIONS_DIR = "functions"
LOCAL_RUNNER = "local"

# AWS managed policies that SAM attaches by itself: to every function, and to functions with an SQS
# event source. Their actions (AWS's published policy documents) are all named, none is a wildcard.
# Any other managed policy cannot be read offline, so it fails check 1: write statements instead.
KNOWN_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
    "AWSLambdaSQSQueueExecutionRole": [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
}

# Defaults CloudFormation applies when a property is left out.
DEFAULT_FUNCTION_TIMEOUT = 3
DEFAULT_VISIBILITY_TIMEOUT = 30


class Check:
    def __init__(self, number: int, title: str) -> None:
        self.number, self.title = number, title
        self.problems: list[str] = []
        self.summary = ""

    def fail(self, problem: str) -> None:
        self.problems.append(problem)

    def report(self) -> bool:
        ok = not self.problems
        line = f"{'ok  ' if ok else 'FAIL'} ({self.number}) {self.title}"
        if ok and self.summary:
            line += f": {self.summary}"
        print(line)
        for problem in self.problems:
            print(f"       - {problem}")
        return ok


# ─────────────────────────────────────────── loading ───────────────────────────────────────────


def load_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    # cfn-lint's loader turns the short tags into their long form ({"Ref": …}, {"Fn::Sub": …});
    # a JSON round trip leaves plain dicts, lists and strings.
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation the SAM transform makes of the template (IAM roles included), offline."""
    from samtranslator.translator.transform import transform

    sam = copy.deepcopy(template)
    # The translator wants code in S3, as after `sam package`; where the code is does not matter here.
    for section in (sam.get("Globals", {}).get("Function", {}),):
        if "CodeUri" in section:
            section["CodeUri"] = "s3://check-template/code.zip"
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        if resource.get("Type") == FUNCTION and "CodeUri" in props:
            props["CodeUri"] = "s3://check-template/code.zip"
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and "ContentUri" in props:
            props["ContentUri"] = "s3://check-template/layer.zip"

    class NoManagedPolicyLookups:
        def load(self) -> dict[str, str]:
            raise RuntimeError("a managed policy given by name would need IAM; give statements instead")

    return transform(sam, {}, NoManagedPolicyLookups())


def resources(template: dict[str, Any], kind: str | None = None) -> dict[str, dict[str, Any]]:
    found = template.get("Resources") or {}
    return {name: r for name, r in found.items() if isinstance(r, dict) and (kind is None or r.get("Type") == kind)}


def merge(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rule: maps merge (local keys win), lists add up, anything else: local wins."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if is_intrinsic(global_value) or is_intrinsic(local_value):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge(merged[key], value) if key in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref", "Condition"))


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every AWS::Serverless::Function's Properties with the Globals applied."""
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    return {
        name: merge(copy.deepcopy(globals_), resource.get("Properties") or {})
        for name, resource in resources(template, FUNCTION).items()
    }


def alternatives(value: Any) -> Iterator[Any]:
    """Each value `value` can take: both branches of an Fn::If, nothing for AWS::NoValue."""
    if isinstance(value, dict) and set(value) == {"Fn::If"} and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
        yield from alternatives(value["Fn::If"][1])
        yield from alternatives(value["Fn::If"][2])
    elif value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def as_list(value: Any) -> list[Any]:
    out: list[Any] = []
    for alt in alternatives(value):
        if isinstance(alt, list):
            for item in alt:
                out.extend(alternatives(item))
        else:
            out.append(alt)
    return out


def number(value: Any, template: dict[str, Any]) -> float | None:
    """A literal number, or a Ref to a parameter's default."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(value, dict) and set(value) == {"Ref"}:
        parameter = (template.get("Parameters") or {}).get(value["Ref"])
        if isinstance(parameter, dict) and "Default" in parameter:
            return number(parameter["Default"], template)
    return None


def referenced_resource(value: Any, attribute: str | None) -> str | None:
    """The logical id in {"Fn::GetAtt": [id, attribute]} (or "id.attribute"), or {"Ref": id} when attribute is None."""
    if not isinstance(value, dict):
        return None
    if attribute is None:
        return value.get("Ref") if set(value) == {"Ref"} else None
    getatt = value.get("Fn::GetAtt") if set(value) == {"Fn::GetAtt"} else None
    if isinstance(getatt, str) and "." in getatt:
        getatt = getatt.split(".", 1)
    if isinstance(getatt, list) and len(getatt) == 2 and getatt[1] == attribute:
        return getatt[0]
    return None


def sub_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) and sub and isinstance(sub[0], str) else None
    return None


# ─────────────────────────────────────── (1) IAM wildcards ───────────────────────────────────────


def policy_documents(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every policy document (a map with a Statement) anywhere under node, with where it is."""
    if isinstance(node, dict):
        if "Statement" in node:
            yield where, node["Statement"]
        for key, value in node.items():
            if key != "Statement":
                yield from policy_documents(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from policy_documents(value, f"{where}[{i}]")


def wildcard_problems(statements: Any, where: str, counter: list[int]) -> Iterator[str]:
    for i, statement in enumerate(as_list(statements)):
        counter[0] += 1
        at = f"{where} statement {statement.get('Sid', i) if isinstance(statement, dict) else i}"
        if not isinstance(statement, dict):
            yield f"{at}: not a statement: {statement!r}"
            continue
        if statement.get("Effect", "Allow") == "Deny":
            continue  # a Deny only takes away, whatever it names
        if "NotAction" in statement:
            yield f"{at}: Allow with NotAction grants everything else"
        for action in as_list(statement.get("Action", [])):
            if not isinstance(action, str):
                yield f"{at}: an action that is not a plain string cannot be checked: {json.dumps(action)}"
            elif action.strip() == "*" or action.strip().endswith(":*"):
                yield f"{at}: wildcard action {action!r}"


def check_iam(template: dict[str, Any], translated: dict[str, Any] | None, error: str | None) -> Check:
    check = Check(1, "no IAM statement allows a wildcard action ('*' or 'service:*')")
    counter = [0]
    documents = 0
    # The template as written: inline statements of functions, AWS::IAM::* and resource policies.
    for name, resource in resources(template).items():
        for where, statements in policy_documents(resource.get("Properties"), name):
            documents += 1
            for problem in wildcard_problems(statements, where, counter):
                check.fail(problem)
    # SAM policy templates named in functions' Policies: their statements come from the translator's
    # own table, and managed policies named there cannot be read offline.
    import samtranslator.policy_templates_data as data

    table = json.loads((Path(data.__file__).parent / "policy_templates.json").read_text(encoding="utf-8"))["Templates"]
    for name, props in functions(template).items():
        for policy in as_list(props.get("Policies", [])):
            if isinstance(policy, str):
                check.fail(f"{name}: managed policy {policy!r} cannot be checked here; write its statements")
            elif isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in table:
                template_name = next(iter(policy))
                documents += 1
                for problem in wildcard_problems(table[template_name]["Definition"]["Statement"], f"{name}.{template_name}", counter):
                    check.fail(problem)
            elif isinstance(policy, dict) and "Statement" not in policy:
                check.fail(f"{name}: unknown policy entry {json.dumps(policy)}")
    # What CloudFormation will really get: the roles SAM writes.
    if translated is None:
        check.fail(f"the SAM transform failed, so its roles could not be checked: {error}")
    else:
        for name, resource in resources(translated).items():
            props = resource.get("Properties") or {}
            if resource.get("Type", "").startswith("AWS::IAM::"):
                for arn in as_list(props.get("ManagedPolicyArns", [])):
                    short = arn.rsplit("/", 1)[-1] if isinstance(arn, str) else None
                    if short not in KNOWN_MANAGED_POLICIES:
                        check.fail(f"{name}: managed policy {json.dumps(arn)} cannot be checked here; write its statements")
            for where, statements in policy_documents(props, f"(transformed) {name}"):
                documents += 1
                for problem in wildcard_problems(statements, where, counter):
                    check.fail(problem)
    check.summary = f"{counter[0]} statements in {documents} policy documents, before and after the SAM transform"
    return check


# ─────────────────────────────────────── (2) function crates ───────────────────────────────────────


def cargo_metadata(root: Path) -> dict[str, Any]:
    """`cargo metadata --no-deps` of the workspace at root: its packages and their targets, as Cargo sees them."""
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--manifest-path", str(root / "Cargo.toml")],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def function_crates(metadata: dict[str, Any], root: Path) -> list[tuple[str, str, dict[str, str]]]:
    """Each Lambda function crate: package name, folder and binaries (name → source file), paths under root.

    Every workspace package whose manifest is functions/<name>/Cargo.toml but functions/local (the local
    runner, not a Lambda) is a Lambda function crate, and every target of kind bin it has is a Lambda
    function: cargo-lambda builds the name in BuildProperties.Binary.
    """
    functions_dir = (root / FUNCTIONS_DIR).resolve()
    crates = []
    for package in sorted(metadata.get("packages", []), key=lambda p: p["manifest_path"]):
        folder = Path(package["manifest_path"]).resolve().parent
        if folder.parent != functions_dir or folder.name == LOCAL_RUNNER:
            continue
        bins = {
            target["name"]: display_path(Path(target["src_path"]), root)
            for target in package.get("targets", [])
            if "bin" in target.get("kind", [])
        }
        crates.append((package["name"], display_path(folder, root), bins))
    return crates


def display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def check_crates(template: dict[str, Any], root: Path, metadata: dict[str, Any] | None = None) -> Check:
    # A crate may build more than one Lambda binary: functions/status builds `status` and, from
    # src/bin/staff.rs, `staff`.
    check = Check(2, "every binary of the function crates has exactly one function resource building it")
    binaries = {}
    for name, resource in resources(template, FUNCTION).items():
        build = (resource.get("Metadata") or {}).get("BuildProperties") or {}
        binary = build.get("Binary")
        if not isinstance(binary, str) or not binary:
            check.fail(f"{name}: no Metadata.BuildProperties.Binary")
            continue
        binaries[name] = binary
    if metadata is None:
        try:
            metadata = cargo_metadata(root)
        except (OSError, ValueError, subprocess.CalledProcessError) as e:
            stderr = getattr(e, "stderr", None)
            check.fail(f"cargo metadata failed, so the crates' binaries are unknown: {(stderr or str(e)).strip()}")
            return check
    # binary name → its source file
    provided: dict[str, str] = {}
    for package, folder, bins in function_crates(metadata, root):
        if not bins:
            check.fail(f"{folder} (package {package}): builds no binary (no target of kind bin in cargo metadata)")
        for binary, source in sorted(bins.items()):
            if binary in provided:
                check.fail(f"binary {binary!r} is built by {provided[binary]} and {source}; cargo-lambda needs unique binary names")
                continue
            provided[binary] = source
    if not provided:
        check.fail(f"no function crates found under {root / FUNCTIONS_DIR}")
    for binary, source in sorted(provided.items()):
        building = sorted(f for f, b in binaries.items() if b == binary)
        if len(building) != 1:
            check.fail(
                f"binary {binary!r} ({source}): {len(building)} function resources build it"
                + (f" ({', '.join(building)})" if building else f"; expected one with BuildProperties.Binary: {binary}")
            )
    for name, binary in sorted(binaries.items()):
        if binary not in provided:
            check.fail(f"{name}: builds binary {binary!r}, which no crate under {FUNCTIONS_DIR}/ provides")
    check.summary = ", ".join(
        f"{source} → {next(f for f, b in binaries.items() if b == binary)}"
        for binary, source in sorted(provided.items(), key=lambda item: item[1])
        if sum(b == binary for b in binaries.values()) == 1
    )
    return check


# ─────────────────────────────────────── (3) queues ───────────────────────────────────────


def check_queues(template: dict[str, Any]) -> Check:
    check = Check(3, "queues behind event sources: DLQ after 3-5 receives, visibility ≥ 6× timeout, partial batch failures, SSE")
    queues = resources(template, QUEUE)
    sources = 0
    for fname, props in functions(template).items():
        timeout = number(props.get("Timeout", DEFAULT_FUNCTION_TIMEOUT), template)
        for ename, event in (props.get("Events") or {}).items():
            if not isinstance(event, dict) or event.get("Type") != "SQS":
                continue
            sources += 1
            where = f"{fname}.Events.{ename}"
            eprops = event.get("Properties") or {}
            if "ReportBatchItemFailures" not in as_list(eprops.get("FunctionResponseTypes", [])):
                check.fail(f"{where}: FunctionResponseTypes lacks ReportBatchItemFailures")
            qname = referenced_resource(eprops.get("Queue"), "Arn")
            if qname not in queues:
                check.fail(f"{where}: its Queue is not !GetAtt <an AWS::SQS::Queue of this template>.Arn")
                continue
            queue = queues[qname].get("Properties") or {}
            redrive = queue.get("RedrivePolicy")
            if isinstance(redrive, str):
                try:
                    redrive = json.loads(redrive)
                except ValueError:
                    redrive = None
            if not isinstance(redrive, dict):
                check.fail(f"{qname} (consumed by {fname}): no RedrivePolicy (dead-letter queue)")
            else:
                receives = number(redrive.get("maxReceiveCount"), template)
                if receives is None or not 3 <= receives <= 5:
                    check.fail(f"{qname}: maxReceiveCount {redrive.get('maxReceiveCount')!r} is not between 3 and 5")
                dlq = referenced_resource(redrive.get("deadLetterTargetArn"), "Arn")
                if dlq not in queues:
                    check.fail(f"{qname}: deadLetterTargetArn is not !GetAtt <an AWS::SQS::Queue of this template>.Arn")
                elif not encrypted(queues[dlq]):
                    check.fail(f"{dlq} (dead-letter queue of {qname}): no SqsManagedSseEnabled or KmsMasterKeyId")
            visibility = number(queue.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT), template)
            if timeout is None or visibility is None:
                check.fail(f"{qname}/{fname}: VisibilityTimeout or Timeout is not a number this check can read")
            elif visibility < 6 * timeout:
                check.fail(f"{qname}: VisibilityTimeout {visibility:g} s < 6 × {fname} Timeout {timeout:g} s = {6 * timeout:g} s")
            if not encrypted(queues[qname]):
                check.fail(f"{qname}: no SqsManagedSseEnabled or KmsMasterKeyId")
    if not sources:
        check.fail("no SQS event sources found")
    check.summary = f"{sources} SQS event sources"
    return check


def encrypted(queue: dict[str, Any]) -> bool:
    props = queue.get("Properties") or {}
    return props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


# ─────────────────────────────────────── (4) function shape ───────────────────────────────────────


def check_function_shape(template: dict[str, Any]) -> Check:
    check = Check(4, "every function: provided.al2023, arm64, JSON logs, bootstrap built by cargo-lambda")
    fns = functions(template)
    for name, props in fns.items():
        metadata = resources(template, FUNCTION)[name].get("Metadata") or {}
        if props.get("Runtime") != "provided.al2023":
            check.fail(f"{name}: Runtime is {props.get('Runtime')!r}, not provided.al2023")
        if props.get("Architectures") != ["arm64"]:
            check.fail(f"{name}: Architectures is {props.get('Architectures')!r}, not [arm64]")
        if ((props.get("LoggingConfig") or {}).get("LogFormat")) != "JSON":
            check.fail(f"{name}: LoggingConfig.LogFormat is not JSON")
        if props.get("Handler") != "bootstrap":
            check.fail(f"{name}: Handler is {props.get('Handler')!r}, not bootstrap")
        if metadata.get("BuildMethod") != "rust-cargolambda":
            check.fail(f"{name}: Metadata.BuildMethod is {metadata.get('BuildMethod')!r}, not rust-cargolambda")
    if not fns:
        check.fail("no AWS::Serverless::Function in the template")
    check.summary = f"{len(fns)} functions"
    return check


# ─────────────────────────────────────── (5) alarms and logs ───────────────────────────────────────


def check_alarms(template: dict[str, Any]) -> Check:
    check = Check(5, "an alarm on every DLQ's depth and every function's errors; a log group with retention per function")
    alarms = [a.get("Properties") or {} for a in resources(template, ALARM).values()]

    def alarmed(namespace: str, metric: str, dimension: str, matches) -> bool:
        for alarm in alarms:
            if alarm.get("Namespace") != namespace or alarm.get("MetricName") != metric or not alarm.get("AlarmActions"):
                continue
            if any(isinstance(d, dict) and d.get("Name") == dimension and matches(d.get("Value")) for d in alarm.get("Dimensions") or []):
                return True
        return False

    dlqs = set()
    for qname, queue in resources(template, QUEUE).items():
        redrive = (queue.get("Properties") or {}).get("RedrivePolicy")
        if isinstance(redrive, dict):
            target = referenced_resource(redrive.get("deadLetterTargetArn"), "Arn")
            if target:
                dlqs.add(target)
    for dlq in sorted(dlqs):
        if not alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                       lambda v, q=dlq: referenced_resource(v, "QueueName") == q):
            check.fail(f"{dlq}: no alarm (with AlarmActions) on ApproximateNumberOfMessagesVisible")
    fns = resources(template, FUNCTION)
    groups = [g.get("Properties") or {} for g in resources(template, LOG_GROUP).values()]
    for fname in sorted(fns):
        if not alarmed("AWS/Lambda", "Errors", "FunctionName", lambda v, f=fname: referenced_resource(v, None) == f):
            check.fail(f"{fname}: no alarm (with AlarmActions) on Errors")
        if not any(sub_text(g.get("LogGroupName")) == f"/aws/lambda/${{{fname}}}" and g.get("RetentionInDays") for g in groups):
            check.fail(f"{fname}: no AWS::Logs::LogGroup named !Sub /aws/lambda/${{{fname}}} with RetentionInDays")
    check.summary = f"{len(dlqs)} dead-letter queues, {len(fns)} functions"
    return check


# ─────────────────────────────────────── (6) staff routes ───────────────────────────────────────


def function_binaries(template: dict[str, Any]) -> dict[str, str]:
    """Function resource → the binary in its Metadata.BuildProperties.Binary (those that have one)."""
    out = {}
    for name, resource in resources(template, FUNCTION).items():
        binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if isinstance(binary, str) and binary:
            out[name] = binary
    return out


def check_routes(template: dict[str, Any]) -> Check:
    # /staff/… is served by the `staff` binary (functions/status/src/bin/staff.rs) behind the Cognito
    # JWT authorizer; /admin/… by the `admin` binary (functions/admin), whose pages a browser opens
    # without a bearer token, so it is not behind the authorizer: it signs people in through the
    # hosted UI itself. Neither is ever served by a queue worker such as StatusFunction.
    check = Check(6, "staff routes: /staff behind the Cognito JWT authorizer on the staff binary, /admin on the admin binary")
    apis = resources(template, "AWS::Serverless::HttpApi")
    binaries = function_binaries(template)
    routes = {}
    found = {"staff": 0, "admin": 0}
    for fname, props in functions(template).items():
        for ename, event in (props.get("Events") or {}).items():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            eprops = event.get("Properties") or {}
            path, method = eprops.get("Path"), str(eprops.get("Method", "ANY")).upper()
            api_name = referenced_resource(eprops.get("ApiId"), None)
            where = f"{fname}.Events.{ename} ({method} {path})"
            if api_name not in apis:
                check.fail(f"{where}: ApiId is not !Ref <an AWS::Serverless::HttpApi of this template>")
                continue
            key = (api_name, method, path)
            if key in routes:
                check.fail(f"{where}: the same route as {routes[key]}")
            routes[key] = where
            auth = ((apis[api_name].get("Properties") or {}).get("Auth")) or {}
            authorizer = (eprops.get("Auth") or {}).get("Authorizer", auth.get("DefaultAuthorizer", "NONE"))
            area = re.match(r"^/(staff|admin)(/|$)", path) if isinstance(path, str) else None
            if not area:
                continue
            found[area.group(1)] += 1
            if binaries.get(fname) != area.group(1):
                check.fail(f"{where}: served by binary {binaries.get(fname)!r}, not {area.group(1)!r}")
            if area.group(1) == "admin":
                if authorizer != "NONE":
                    check.fail(f"{where}: behind authorizer {authorizer}, which refuses every browser (the pages sign in through the hosted UI)")
                continue
            config = (auth.get("Authorizers") or {}).get(authorizer) or {}
            jwt = config.get("JwtConfiguration") or {}
            issuer = sub_text(jwt.get("issuer")) or ""
            if authorizer == "NONE" or not jwt:
                check.fail(f"{where}: no JWT authorizer")
            elif not issuer.startswith("https://cognito-idp.") or not jwt.get("audience"):
                check.fail(f"{where}: authorizer {authorizer} has no Cognito issuer and audience")
    for area, count in found.items():
        if not count:
            check.fail(f"no /{area} route found")
    check.summary = f"{found['staff']} staff and {found['admin']} admin routes of {len(routes)}"
    return check


# ─────────────────────────────────────── (7) S3 and schedule triggers ───────────────────────────────────────

# The binaries started by something other than a queue or the API, and the event they need.
S3_BINARY = "media"
SCHEDULE_BINARY = "scheduler"
UPLOADS_PREFIX = "uploads/"
# The binaries S3 may start, each on the one prefix it reads and never writes.
S3_PREFIXES = {S3_BINARY: UPLOADS_PREFIX, "mail": "inbound/"}


def check_triggers(template: dict[str, Any]) -> Check:
    # Every S3 event is filtered to the one prefix its function reads: the media function writes
    # originals/ in the same bucket, so an unfiltered ObjectCreated trigger would start it again on
    # its own output, without end; the mail function reads inbound/ only, where SES writes.
    allowed = ", ".join(f"{prefix} ({binary})" for binary, prefix in S3_PREFIXES.items())
    check = Check(7, f"S3 events only for ObjectCreated under {allowed}; each has one, {SCHEDULE_BINARY} a ScheduleV2 schedule")
    buckets = resources(template, "AWS::S3::Bucket")
    binaries = function_binaries(template)
    s3_events, schedules = [], []
    for fname, props in functions(template).items():
        for ename, event in (props.get("Events") or {}).items():
            if not isinstance(event, dict):
                continue
            where = f"{fname}.Events.{ename}"
            eprops = event.get("Properties") or {}
            if event.get("Type") == "S3":
                s3_events.append(fname)
                if referenced_resource(eprops.get("Bucket"), None) not in buckets:
                    check.fail(f"{where}: Bucket is not !Ref <an AWS::S3::Bucket of this template>")
                kinds = as_list(eprops.get("Events", []))
                if not kinds or not all(isinstance(k, str) and k.startswith("s3:ObjectCreated:") for k in kinds):
                    check.fail(f"{where}: Events {kinds!r} are not only s3:ObjectCreated:*")
                rules = (((eprops.get("Filter") or {}).get("S3Key") or {}).get("Rules")) or []
                prefixes = [r.get("Value") for r in rules if isinstance(r, dict) and str(r.get("Name", "")).lower() == "prefix"]
                expected = S3_PREFIXES.get(binaries.get(fname, ""))
                if expected is None:
                    check.fail(f"{where}: an S3 event on binary {binaries.get(fname)!r}, which S3 may not start (only {', '.join(S3_PREFIXES)})")
                elif prefixes != [expected]:
                    check.fail(f"{where}: Filter.S3Key.Rules has prefix {prefixes!r}, not [{expected!r}]")
            elif event.get("Type") == "ScheduleV2":
                schedules.append(fname)
                expression = eprops.get("ScheduleExpression")
                if not isinstance(expression, str) or not re.match(r"^(rate|cron|at)\(.+\)$", expression):
                    check.fail(f"{where}: ScheduleExpression {expression!r} is not rate(…), cron(…) or at(…)")
                if ((eprops.get("FlexibleTimeWindow") or {}).get("Mode")) != "OFF":
                    check.fail(f"{where}: FlexibleTimeWindow.Mode is not OFF")
                if eprops.get("State", "ENABLED") != "ENABLED":
                    check.fail(f"{where}: State is {eprops.get('State')!r}, not ENABLED")
    needed = [(binary, "S3", s3_events) for binary in S3_PREFIXES] + [(SCHEDULE_BINARY, "ScheduleV2", schedules)]
    for binary, kind, having in needed:
        owners = [f for f, b in binaries.items() if b == binary]
        if not owners:
            check.fail(f"no function resource builds binary {binary!r}")
        for owner in owners:
            if owner not in having:
                check.fail(f"{owner} (binary {binary!r}): no {kind} event")
    check.summary = f"{len(s3_events)} S3 events ({', '.join(sorted(s3_events))}), {len(schedules)} ScheduleV2 ({', '.join(sorted(schedules))})"
    return check


# ─────────────────────────────────────── (8) dependency cycles ───────────────────────────────────────


def dependencies(node: Any, names: set[str], out: set[str], local: frozenset[str] = frozenset()) -> None:
    """The resources node refers to: Ref, Fn::GetAtt and ${…} in Fn::Sub (not its own variables)."""
    if isinstance(node, list):
        for item in node:
            dependencies(item, names, out, local)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            target = value
        elif key == "Fn::GetAtt":
            target = value[0] if isinstance(value, list) and value else value.split(".", 1)[0] if isinstance(value, str) else None
        elif key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else (value + [None, None])[:2]
            variables = variables if isinstance(variables, dict) else {}
            dependencies(variables, names, out, local)
            for name in re.findall(r"\$\{([^}!][^}]*)\}", text if isinstance(text, str) else ""):
                name = name.split(".", 1)[0].strip()
                if name not in variables and name in names:
                    out.add(name)
            continue
        elif key == "Fn::If" and isinstance(value, list):
            dependencies(value[1:], names, out, local)  # the first item names a condition
            continue
        else:
            dependencies(value, names, out, local)
            continue
        if isinstance(target, str) and target in names:
            out.add(target)


def check_cycles(translated: dict[str, Any] | None, error: str | None) -> Check:
    # CloudFormation refuses a stack whose resources depend on each other in a circle; neither
    # `sam validate` nor cfn-lint notices one that the SAM transform makes (an S3 event's bucket
    # depends on its function, so that function must not name the bucket with !Ref or !GetAtt).
    check = Check(8, "no circular dependency between resources, after the SAM transform")
    if translated is None:
        check.fail(f"the SAM transform failed, so its dependencies could not be checked: {error}")
        return check
    found = resources(translated)
    names = set(found)
    graph: dict[str, set[str]] = {}
    for name, resource in found.items():
        edges: set[str] = set()
        dependencies(resource.get("Properties"), names, edges)
        depends = resource.get("DependsOn", [])
        edges.update(d for d in ([depends] if isinstance(depends, str) else depends) if d in names)
        graph[name] = edges
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative depth-first search; a grey node met again closes a cycle.
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                cycles.append(path[path.index(child):] + [child])
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))

    for name in sorted(graph):
        if name not in state:
            visit(name)
    for cycle in cycles:
        check.fail(" → ".join(cycle))
    check.summary = f"{len(graph)} resources, {sum(len(e) for e in graph.values())} dependencies"
    return check


# ─────────────────────────────────────── (9) the site's one origin ───────────────────────────────────────

SITE_BINARY = "site"
CLOUDFRONT = "AWS::CloudFront::Distribution"
# AWS's managed CloudFront policies (their ids are the same in every account).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
SECURE_VIEWERS = {"redirect-to-https", "https-only"}


def path_pattern_matches(pattern: str, path: str) -> bool:
    """CloudFront's PathPattern: `*` any run of characters (slashes too), `?` one, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path) is not None


def check_site(template: dict[str, Any]) -> Check:
    # Everything the browser reaches goes through one CloudFront distribution in front of the HTTP
    # API. A route of the API must never be cached at the edge (one resident's request answered with
    # another's), nor lose its cookies, query or methods: each is matched by a CachingDisabled
    # behaviour forwarding all but Host. Only the site binary's GET routes fall to the cached default.
    check = Check(9, "the site: one CloudFront origin, every API route uncached with all viewer headers, the site binary GET only")
    distributions = resources(template, CLOUDFRONT)
    if len(distributions) != 1:
        check.fail(f"{len(distributions)} CloudFront distributions; expected one in front of the HTTP API")
        return check
    (dname, distribution), = distributions.items()
    config = (distribution.get("Properties") or {}).get("DistributionConfig") or {}
    api_origins = set()
    for origin in config.get("Origins") or []:
        domain = sub_text(origin.get("DomainName")) or ""
        if re.fullmatch(r"\$\{[A-Za-z0-9]+\}\.execute-api\..*", domain):
            api = domain[2:domain.index("}")]
            if template.get("Resources", {}).get(api, {}).get("Type") != "AWS::Serverless::HttpApi":
                check.fail(f"{dname}: origin {origin.get('Id')} names {api}, which is no HttpApi of this template")
                continue
            if (origin.get("CustomOriginConfig") or {}).get("OriginProtocolPolicy") != "https-only":
                check.fail(f"{dname}: origin {origin.get('Id')} is not https-only")
            api_origins.add(origin.get("Id"))
    if not api_origins:
        check.fail(f"{dname}: no origin is the HTTP API (DomainName !Sub ${{HttpApi}}.execute-api...)")
    default = config.get("DefaultCacheBehavior") or {}
    behaviours = [b for b in config.get("CacheBehaviors") or [] if isinstance(b, dict)]
    for where, behaviour in [("DefaultCacheBehavior", default)] + [(f"CacheBehaviors {b.get('PathPattern')}", b) for b in behaviours]:
        if behaviour.get("ViewerProtocolPolicy") not in SECURE_VIEWERS:
            check.fail(f"{dname}.{where}: ViewerProtocolPolicy {behaviour.get('ViewerProtocolPolicy')!r} lets plain http through")
        if behaviour.get("TargetOriginId") not in api_origins:
            check.fail(f"{dname}.{where}: targets {behaviour.get('TargetOriginId')!r}, not the HTTP API")
    if set(default.get("AllowedMethods") or ["GET", "HEAD"]) - {"GET", "HEAD"}:
        check.fail(f"{dname}.DefaultCacheBehavior: the cached default takes {sorted(set(default['AllowedMethods']) - {'GET', 'HEAD'})}")
    binaries = function_binaries(template)
    routes = 0
    for fname, fprops in functions(template).items():
        for ename, event in (fprops.get("Events") or {}).items():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            eprops = event.get("Properties") or {}
            path, method = str(eprops.get("Path")), str(eprops.get("Method", "ANY")).upper()
            where = f"{fname}.Events.{ename} ({method} {path})"
            routes += 1
            if binaries.get(fname) == SITE_BINARY:
                if method != "GET":
                    check.fail(f"{where}: the site binary serves files, GET only")
                continue
            sample = re.sub(r"\{[^}]*\}", "x", path)
            behaviour = next((b for b in behaviours if path_pattern_matches(str(b.get("PathPattern")), sample)), None)
            if behaviour is None:
                check.fail(f"{where}: no CloudFront behaviour matches it, so the cached default would take it")
                continue
            pattern = behaviour.get("PathPattern")
            if behaviour.get("CachePolicyId") != CACHING_DISABLED:
                check.fail(f"{where}: behaviour {pattern} caches it (CachePolicyId is not CachingDisabled)")
            if behaviour.get("OriginRequestPolicyId") != ALL_VIEWER_EXCEPT_HOST:
                check.fail(f"{where}: behaviour {pattern} does not forward the viewer's headers, cookies and query (AllViewerExceptHostHeader)")
            wanted = ALL_METHODS if method == "ANY" else {method}
            missing = wanted - set(behaviour.get("AllowedMethods") or ["GET", "HEAD"])
            if missing:
                check.fail(f"{where}: behaviour {pattern} refuses {sorted(missing)}")
    check.summary = f"{routes} API routes, {len(behaviours)} uncached behaviours"
    return check


def main() -> int:
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default=str(here / "template.yaml"), help="the SAM template (default: template.yaml)")
    parser.add_argument("--root", default=str(here), help="the repository, whose functions/ holds the crates")
    args = parser.parse_args()

    try:
        template = load_template(Path(args.template))
    except Exception as e:  # noqa: BLE001 - any load failure is a failed check run
        print(f"FAIL cannot read {args.template}: {e}")
        return 1
    results = [c.report() for c in run_checks(template, Path(args.root))]
    return 0 if all(results) else 1


def run_checks(template: dict[str, Any], root: Path, metadata: dict[str, Any] | None = None) -> list[Check]:
    """Every check of the loaded template; metadata is `cargo metadata` of root, run here if not given."""
    try:
        translated, error = translate(template), None
    except Exception as e:  # noqa: BLE001 - reported by checks 1 and 8
        causes = "; ".join(getattr(c, "message", str(c)) for c in getattr(e, "causes", []) or [])
        translated, error = None, f"{type(e).__name__}: {e}" + (f" ({causes})" if causes else "")
    return [
        check_iam(template, translated, error),
        check_crates(template, root, metadata),
        check_queues(template),
        check_function_shape(template),
        check_alarms(template),
        check_routes(template),
        check_triggers(template),
        check_cycles(translated, error),
        check_site(template),
    ]


if __name__ == "__main__":
    sys.exit(main())
