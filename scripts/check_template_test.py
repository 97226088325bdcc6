#!/usr/bin/env python3
"""Shows that every rule of scripts/check_template.py fails when it should: the real template.yaml
passes, and for each rule a minimal mutation of it (or of `cargo metadata`, for the crate rules)
fails that rule, with its own message, and no other check.

Run by scripts/check-template with the python of its virtualenv (check_template.py needs cfn-lint and
aws-sam-translator); `cargo metadata --no-deps` is the only cargo command it runs. Nothing reaches AWS.

    check_template_test.py [-v]
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE))

import check_template as ct  # noqa: E402

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "SAM_CLI_TELEMETRY": "0",
}.items():
    os.environ.setdefault(_name, _value)

TEMPLATE = ct.load_template(ROOT / "template.yaml")
METADATA = ct.cargo_metadata(ROOT)

Mutation = Callable[[dict[str, Any]], None]


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]


def event(template: dict[str, Any], function: str, name: str) -> dict[str, Any]:
    return props(template, function)["Events"][name]["Properties"]


def statement(template: dict[str, Any], function: str, sid: str) -> dict[str, Any]:
    for policy in props(template, function)["Policies"]:
        for s in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if s.get("Sid") == sid:
                return s
    raise KeyError(sid)


def binary(template: dict[str, Any], function: str) -> dict[str, Any]:
    return template["Resources"][function]["Metadata"]["BuildProperties"]


def bucket_statements(template: dict[str, Any]) -> list[Any]:
    return props(template, "MediaBucketPolicy")["PolicyDocument"]["Statement"]


def behaviour(template: dict[str, Any], pattern: str) -> dict[str, Any]:
    behaviours = props(template, "SiteDistribution")["DistributionConfig"]["CacheBehaviors"]
    return next(b for b in behaviours if b["PathPattern"] == pattern)


def package(metadata: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in metadata["packages"] if p["name"] == name)


def bins(metadata: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [t for t in package(metadata, name)["targets"] if "bin" in t["kind"]]


TRANSFORM_FAILED = r"the SAM transform failed"

# rule → (mutation of template.yaml, mutation of cargo metadata, {check number: patterns}). Each
# pattern must match one of that check's problems and each problem one pattern; every other check
# must pass. Where one mistake necessarily breaks a second rule, that rule's message is listed too.
CASES: dict[str, tuple[Mutation | None, Mutation | None, dict[int, list[str]]]] = {
    # (1) IAM wildcards
    "iam-not-a-statement": (
        lambda t: bucket_statements(t).append("s3:GetObject"), None,
        {1: [r"MediaBucketPolicy.*: not a statement: 's3:GetObject'"]}),
    "iam-allow-not-action": (
        lambda t: bucket_statements(t).append({"Effect": "Allow", "Principal": "*", "NotAction": "s3:DeleteObject", "Resource": "*"}), None,
        {1: [r"MediaBucketPolicy.*: Allow with NotAction grants everything else"]}),
    "iam-action-not-a-string": (
        lambda t: statement(t, "IntakeFunction", "ReadCheckedMedia").update(Action=[{"Fn::Sub": "s3:GetObject"}]), None,
        {1: [r"IntakeFunction.* statement ReadCheckedMedia: an action that is not a plain string cannot be checked"]}),
    "iam-wildcard-service-action": (
        lambda t: statement(t, "IntakeFunction", "ReadCheckedMedia").update(Action=["s3:*"]), None,
        {1: [r"IntakeFunction.* statement ReadCheckedMedia: wildcard action 's3:\*'"]}),
    "iam-wildcard-action": (
        lambda t: statement(t, "NotifyFunction", "PublishTextsAndPush").update(Action="*"), None,
        {1: [r"NotifyFunction.* statement PublishTextsAndPush: wildcard action '\*'"]}),
    "iam-managed-policy-in-policies": (
        lambda t: props(t, "IntakeFunction")["Policies"].append("arn:aws:iam::aws:policy/AmazonS3FullAccess"), None,
        {1: [r"IntakeFunction: managed policy 'arn:aws:iam::aws:policy/AmazonS3FullAccess' cannot be checked here",
             # The same policy again, on the role SAM writes.
             r"IntakeFunctionRole: managed policy .*AmazonS3FullAccess.* cannot be checked here"]}),
    "iam-policy-template-wildcard": (
        lambda t: props(t, "IntakeFunction")["Policies"].append({"TextractPolicy": {}}), None,
        {1: [r"IntakeFunction\.TextractPolicy statement 0: wildcard action 'textract:\*'",
             r"\(transformed\) IntakeFunctionRole\..* wildcard action 'textract:\*'"]}),
    "iam-unknown-policy-entry": (
        lambda t: props(t, "IntakeFunction")["Policies"].append({"NoSuchPolicyTemplate": {}}), None,
        # SAM refuses an unknown policy template too, so the checks after the transform cannot run.
        {1: [r"IntakeFunction: unknown policy entry \{\"NoSuchPolicyTemplate\"", TRANSFORM_FAILED], 8: [TRANSFORM_FAILED]}),
    "iam-managed-policy-on-role": (
        lambda t: t["Resources"].update(ExtraRole={"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}}), None,
        {1: [r"ExtraRole: managed policy .*AdministratorAccess.* cannot be checked here"]}),
    "transform-fails": (
        lambda t: t["Globals"]["Function"].update(NoSuchProperty=1), None,
        {1: [TRANSFORM_FAILED], 8: [TRANSFORM_FAILED]}),
    # (2) function crates
    "crates-function-without-binary": (
        lambda t: binary(t, "RouterFunction").pop("Binary"), None,
        {2: [r"RouterFunction: no Metadata.BuildProperties.Binary",
             r"binary 'router' \(functions/router/src/main.rs\): 0 function resources build it"]}),
    "crates-binary-without-function": (
        lambda t: t["Resources"].pop("RouterFunction"), None,
        {2: [r"binary 'router' \(functions/router/src/main.rs\): 0 function resources build it; expected one"]}),
    "crates-binary-built-twice": (
        lambda t: binary(t, "RouterFunction").update(Binary="intake"), None,
        {2: [r"binary 'intake' \(functions/intake/src/main.rs\): 2 function resources build it \(IntakeFunction, RouterFunction\)",
             r"binary 'router' .*: 0 function resources build it"]}),
    "crates-unknown-binary": (
        lambda t: binary(t, "RouterFunction").update(Binary="nosuch"), None,
        {2: [r"RouterFunction: builds binary 'nosuch', which no crate under functions/ provides",
             r"binary 'router' .*: 0 function resources build it"]}),
    "crates-crate-without-binary": (
        None, lambda m: package(m, "router").update(targets=[t for t in package(m, "router")["targets"] if "bin" not in t["kind"]]),
        {2: [r"functions/router \(package router\): builds no binary",
             r"RouterFunction: builds binary 'router', which no crate under functions/ provides"]}),
    "crates-duplicate-binary-name": (
        None, lambda m: next(b for b in bins(m, "media") if b["name"] == "media").update(name="intake"),
        {2: [r"binary 'intake' is built by functions/intake/src/main.rs and functions/media/src/main.rs",
             r"MediaFunction: builds binary 'media', which no crate under functions/ provides"]}),
    "crates-no-function-crates": (
        None, lambda m: m.update(packages=[p for p in m["packages"] if "/functions/" not in p["manifest_path"]]),
        {2: [r"no function crates found under .*functions",
             r"Function: builds binary '[\w-]+', which no crate under functions/ provides"]}),
    # (3) queues
    "queues-no-partial-batch-failures": (
        lambda t: event(t, "RouterFunction", "RoutingJobs").pop("FunctionResponseTypes"), None,
        {3: [r"RouterFunction.Events.RoutingJobs: FunctionResponseTypes lacks ReportBatchItemFailures"]}),
    "queues-queue-not-in-template": (
        lambda t: event(t, "RouterFunction", "RoutingJobs").update(Queue="arn:aws:sqs:us-east-1:123456789012:elsewhere"), None,
        {3: [r"RouterFunction.Events.RoutingJobs: its Queue is not !GetAtt"]}),
    "queues-no-dead-letter-queue": (
        lambda t: props(t, "RoutingQueue").pop("RedrivePolicy"), None,
        {3: [r"RoutingQueue \(consumed by RouterFunction\): no RedrivePolicy"]}),
    "queues-max-receive-count": (
        lambda t: props(t, "RoutingQueue")["RedrivePolicy"].update(maxReceiveCount=10), None,
        {3: [r"RoutingQueue: maxReceiveCount 10 is not between 3 and 5"]}),
    "queues-dead-letter-queue-not-in-template": (
        lambda t: props(t, "RoutingQueue")["RedrivePolicy"].update(deadLetterTargetArn="arn:aws:sqs:us-east-1:123456789012:elsewhere"), None,
        {3: [r"RoutingQueue: deadLetterTargetArn is not !GetAtt"]}),
    "queues-dead-letter-queue-unencrypted": (
        lambda t: props(t, "RoutingDeadLetterQueue").pop("SqsManagedSseEnabled"), None,
        {3: [r"RoutingDeadLetterQueue \(dead-letter queue of RoutingQueue\): no SqsManagedSseEnabled or KmsMasterKeyId"]}),
    "queues-visibility-unreadable": (
        lambda t: props(t, "RoutingQueue").update(VisibilityTimeout={"Ref": "NoSuchParameter"}), None,
        {3: [r"RoutingQueue/RouterFunction: VisibilityTimeout or Timeout is not a number"]}),
    "queues-visibility-too-short": (
        lambda t: props(t, "RoutingQueue").update(VisibilityTimeout=59), None,
        {3: [r"RoutingQueue: VisibilityTimeout 59 s < 6 × RouterFunction Timeout 10 s = 60 s"]}),
    "queues-queue-unencrypted": (
        lambda t: props(t, "RoutingQueue").pop("SqsManagedSseEnabled"), None,
        {3: [r"RoutingQueue: no SqsManagedSseEnabled or KmsMasterKeyId"]}),
    "queues-no-sqs-event-source": (
        lambda t: [props(t, f)["Events"].pop(e) for f, e in
                   (("RouterFunction", "RoutingJobs"), ("StatusFunction", "StatusChanges"), ("NotifyFunction", "Notifications"),
                    ("MediaFetchFunction", "FetchJobs"), ("WebhooksFunction", "Deliveries"))], None,
        {3: [r"no SQS event sources found"]}),
    # (4) function shape
    "shape-runtime": (
        lambda t: props(t, "RouterFunction").update(Runtime="provided.al2"), None,
        {4: [r"RouterFunction: Runtime is 'provided.al2', not provided.al2023"]}),
    "shape-architecture": (
        lambda t: props(t, "RouterFunction").update(Architectures=["x86_64"]), None,
        {4: [r"RouterFunction: Architectures is \[.*'x86_64'\], not \[arm64\]"]}),
    "shape-log-format": (
        lambda t: props(t, "RouterFunction").update(LoggingConfig={"LogFormat": "Text"}), None,
        {4: [r"RouterFunction: LoggingConfig.LogFormat is not JSON"]}),
    "shape-handler": (
        lambda t: props(t, "RouterFunction").update(Handler="main"), None,
        {4: [r"RouterFunction: Handler is 'main', not bootstrap"]}),
    "shape-build-method": (
        lambda t: t["Resources"]["RouterFunction"]["Metadata"].update(BuildMethod="makefile"), None,
        {4: [r"RouterFunction: Metadata.BuildMethod is 'makefile', not rust-cargolambda"]}),
    "shape-no-functions": (
        lambda t: [t["Resources"].pop(n) for n in list(ct.resources(t, ct.FUNCTION))], None,
        # With no function at all, every rule about functions fails with it.
        {4: [r"no AWS::Serverless::Function in the template"],
         2: [r"0 function resources build it"], 3: [r"no SQS event sources found"],
         6: [r"no /staff route found", r"no /admin route found"], 7: [r"no function resource builds binary '(media|mail|scheduler)'"]}),
    # (5) alarms and logs
    "alarms-dead-letter-queue-depth": (
        lambda t: t["Resources"].pop("RoutingDeadLetterAlarm"), None,
        {5: [r"RoutingDeadLetterQueue: no alarm \(with AlarmActions\) on ApproximateNumberOfMessagesVisible"]}),
    "alarms-alarm-without-actions": (
        lambda t: props(t, "RoutingDeadLetterAlarm").pop("AlarmActions"), None,
        {5: [r"RoutingDeadLetterQueue: no alarm \(with AlarmActions\) on ApproximateNumberOfMessagesVisible"]}),
    "alarms-function-errors": (
        lambda t: t["Resources"].pop("RouterFunctionErrorsAlarm"), None,
        {5: [r"RouterFunction: no alarm \(with AlarmActions\) on Errors"]}),
    "alarms-log-group": (
        lambda t: t["Resources"].pop("RouterFunctionLogGroup"), None,
        {5: [r"RouterFunction: no AWS::Logs::LogGroup named !Sub /aws/lambda/\$\{RouterFunction\} with RetentionInDays"]}),
    "alarms-log-retention": (
        lambda t: props(t, "RouterFunctionLogGroup").pop("RetentionInDays"), None,
        {5: [r"RouterFunction: no AWS::Logs::LogGroup named .* with RetentionInDays"]}),
    # (6) staff routes
    "routes-api-not-in-template": (
        lambda t: event(t, "IntakeFunction", "WebApi").update(ApiId={"Ref": "Table"}), None,
        {6: [r"IntakeFunction.Events.WebApi \(ANY /api/\{proxy\+\}\): ApiId is not !Ref"]}),
    "routes-duplicate-route": (
        lambda t: props(t, "StatusFunction")["Events"].update(WebApi=copy.deepcopy(props(t, "IntakeFunction")["Events"]["WebApi"])), None,
        # SAM refuses a route defined twice as well.
        {6: [r"(Intake|Status)Function.Events.WebApi \(ANY /api/\{proxy\+\}\): the same route as (Intake|Status)Function.Events.WebApi"],
         1: [TRANSFORM_FAILED], 8: [TRANSFORM_FAILED]}),
    "routes-staff-route-on-other-binary": (
        lambda t: props(t, "IntakeFunction")["Events"].update(Staff={"Type": "HttpApi", "Properties": {
            "ApiId": {"Ref": "HttpApi"}, "Path": "/staff/v2/{proxy+}", "Method": "ANY", "Auth": {"Authorizer": "CognitoJwt"}}}), None,
        {6: [r"IntakeFunction.Events.Staff \(ANY /staff/v2/\{proxy\+\}\): served by binary 'intake', not 'staff'"]}),
    "routes-admin-route-on-other-binary": (
        lambda t: props(t, "IntakeFunction")["Events"].update(Admin={"Type": "HttpApi", "Properties": {
            "ApiId": {"Ref": "HttpApi"}, "Path": "/admin/v2/{proxy+}", "Method": "ANY", "Auth": {"Authorizer": "NONE"}}}), None,
        {6: [r"IntakeFunction.Events.Admin \(ANY /admin/v2/\{proxy\+\}\): served by binary 'intake', not 'admin'"]}),
    "routes-admin-route-behind-jwt": (
        lambda t: event(t, "AdminFunction", "AdminPages").update(Auth={"Authorizer": "CognitoJwt"}), None,
        {6: [r"AdminFunction.Events.AdminPages \(ANY /admin/\{proxy\+\}\): behind authorizer CognitoJwt, which refuses every browser"]}),
    "routes-staff-route-without-jwt": (
        lambda t: event(t, "StaffFunction", "StaffActions").update(Auth={"Authorizer": "NONE"}), None,
        {6: [r"StaffFunction.Events.StaffActions \(ANY /staff/\{proxy\+\}\): no JWT authorizer"]}),
    "routes-authorizer-not-cognito": (
        lambda t: props(t, "HttpApi")["Auth"]["Authorizers"]["CognitoJwt"]["JwtConfiguration"].update(issuer="https://issuer.example"), None,
        {6: [r"StaffFunction.Events.StaffActions .*: authorizer CognitoJwt has no Cognito issuer and audience"]}),
    "routes-no-staff-route": (
        lambda t: props(t, "StaffFunction")["Events"].pop("StaffActions"), None,
        {6: [r"no /staff route found"]}),
    "routes-no-admin-route": (
        lambda t: props(t, "AdminFunction").pop("Events"), None,
        {6: [r"no /admin route found"]}),
    # (7) S3 and schedule triggers
    "triggers-s3-bucket-not-in-template": (
        lambda t: event(t, "MediaFunction", "Uploaded").update(Bucket={"Ref": "Table"}), None,
        # SAM refuses an S3 event on anything but a bucket of the template.
        {7: [r"MediaFunction.Events.Uploaded: Bucket is not !Ref"], 1: [TRANSFORM_FAILED], 8: [TRANSFORM_FAILED]}),
    "triggers-s3-not-object-created": (
        lambda t: event(t, "MediaFunction", "Uploaded").update(Events="s3:ObjectRemoved:*"), None,
        {7: [r"MediaFunction.Events.Uploaded: Events \['s3:ObjectRemoved:\*'\] are not only s3:ObjectCreated:\*"]}),
    "triggers-s3-prefix": (
        lambda t: event(t, "MediaFunction", "Uploaded").pop("Filter"), None,
        {7: [r"MediaFunction.Events.Uploaded: Filter.S3Key.Rules has prefix \[\], not \['uploads/'\]"]}),
    "triggers-s3-mail-prefix": (
        lambda t: event(t, "MailFunction", "Received")["Filter"]["S3Key"]["Rules"][0].update(Value="uploads/"), None,
        {7: [r"MailFunction.Events.Received: Filter.S3Key.Rules has prefix \['uploads/'\], not \['inbound/'\]"]}),
    "triggers-s3-on-another-function": (
        lambda t: props(t, "RouterFunction")["Events"].update(Uploaded=props(t, "MediaFunction")["Events"]["Uploaded"]), None,
        {7: [r"RouterFunction.Events.Uploaded: an S3 event on binary 'router', which S3 may not start"]}),
    "triggers-schedule-expression": (
        lambda t: event(t, "SchedulerFunction", "Sweep").update(ScheduleExpression="every minute"), None,
        {7: [r"SchedulerFunction.Events.Sweep: ScheduleExpression 'every minute' is not rate"]}),
    "triggers-schedule-flexible": (
        lambda t: event(t, "SchedulerFunction", "Sweep").update(FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}), None,
        {7: [r"SchedulerFunction.Events.Sweep: FlexibleTimeWindow.Mode is not OFF"]}),
    "triggers-schedule-disabled": (
        lambda t: event(t, "SchedulerFunction", "Sweep").update(State="DISABLED"), None,
        {7: [r"SchedulerFunction.Events.Sweep: State is 'DISABLED', not ENABLED"]}),
    "triggers-media-without-s3-event": (
        lambda t: props(t, "MediaFunction")["Events"].pop("Uploaded"), None,
        {7: [r"MediaFunction \(binary 'media'\): no S3 event"]}),
    "triggers-no-scheduler-function": (
        lambda t: t["Resources"].pop("SchedulerFunction"), None,
        # The scheduler binary is then built by no function resource, which check 2 reports as well.
        {7: [r"no function resource builds binary 'scheduler'"], 2: [r"binary 'scheduler' .*: 0 function resources build it"]}),
    # (8) dependency cycles
    "cycles-function-names-its-trigger-bucket": (
        lambda t: props(t, "MediaFunction")["Environment"]["Variables"].update(MEDIA_BUCKET={"Ref": "MediaBucket"}), None,
        {8: [r"MediaBucket → MediaFunction → MediaBucket|MediaFunction → MediaBucket → MediaFunction"]}),
    # (9) the site's one origin
    "site-api-route-cached": (
        lambda t: behaviour(t, "/api/*").update(CachePolicyId="658327ea-f89d-4fab-a63d-7e88639e58f6"), None,
        {9: [r"IntakeFunction\.Events\.\w+ \(\w+ /api/[^)]*\): behaviour /api/\* caches it"]}),
    "site-route-falls-to-the-cached-default": (
        lambda t: props(t, "SiteDistribution")["DistributionConfig"]["CacheBehaviors"].remove(behaviour(t, "/staff/*")), None,
        {9: [r"StaffFunction\.Events\.StaffActions \(ANY /staff/\{proxy\+\}\): no CloudFront behaviour matches it"]}),
    "site-cookies-not-forwarded": (
        lambda t: behaviour(t, "/admin*").pop("OriginRequestPolicyId"), None,
        {9: [r"AdminFunction\.Events\.\w+ \(ANY /admin[^)]*\): behaviour /admin\* does not forward"]}),
    "site-default-takes-writes": (
        lambda t: props(t, "SiteDistribution")["DistributionConfig"]["DefaultCacheBehavior"].update(
            AllowedMethods=["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"], CachedMethods=["GET", "HEAD"]), None,
        {9: [r"DefaultCacheBehavior: the cached default takes"]}),
    "site-plain-http": (
        lambda t: behaviour(t, "/open311/*").update(ViewerProtocolPolicy="allow-all"), None,
        {9: [r"CacheBehaviors /open311/\*: ViewerProtocolPolicy 'allow-all' lets plain http through"]}),
    "site-binary-takes-writes": (
        lambda t: event(t, "SiteFunction", "SiteFiles").update(Method="ANY"), None,
        {9: [r"SiteFunction\.Events\.SiteFiles \(ANY /\{proxy\+\}\): the site binary serves files, GET only"]}),
}


def problems(template: dict[str, Any], metadata: dict[str, Any]) -> dict[int, list[str]]:
    return {check.number: check.problems for check in ct.run_checks(template, ROOT, metadata)}


class RealTemplate(unittest.TestCase):
    def test_passes(self) -> None:
        self.assertEqual({n: p for n, p in problems(copy.deepcopy(TEMPLATE), copy.deepcopy(METADATA)).items() if p}, {})

    def test_script_exits_zero(self) -> None:
        run = subprocess.run([sys.executable, str(HERE / "check_template.py"), "--root", str(ROOT)], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)

    def test_crates_come_from_cargo_metadata(self) -> None:
        # A package elsewhere in the workspace (e.g. under crates/) with a binary is no Lambda function,
        # and neither is functions/local's runner.
        metadata = copy.deepcopy(METADATA)
        metadata["packages"].append({"name": "tool", "manifest_path": str(ROOT / "crates/tool/Cargo.toml"),
                                     "targets": [{"name": "tool", "kind": ["bin"], "src_path": str(ROOT / "crates/tool/src/main.rs")}]})
        check = ct.check_crates(TEMPLATE, ROOT, metadata)
        self.assertEqual(check.problems, [])
        self.assertIn("functions/status/src/bin/staff.rs → StaffFunction", check.summary)
        self.assertNotIn("cityfix", [b for _, _, found in ct.function_crates(metadata, ROOT) for b in found])

    def test_cargo_metadata_failure_is_a_failed_check(self) -> None:
        with tempfile.TemporaryDirectory() as empty:
            check = ct.check_crates(TEMPLATE, Path(empty))
        self.assertTrue(check.problems and check.problems[0].startswith("cargo metadata failed"), check.problems)


class EachRuleFails(unittest.TestCase):
    def test_rules(self) -> None:
        for rule, (mutate_template, mutate_metadata, expected) in CASES.items():
            with self.subTest(rule=rule):
                template, metadata = copy.deepcopy(TEMPLATE), copy.deepcopy(METADATA)
                (mutate_template or (lambda _: None))(template)
                (mutate_metadata or (lambda _: None))(metadata)
                found = {n: p for n, p in problems(template, metadata).items() if p}
                self.assertEqual(sorted(found), sorted(expected), f"failing checks: {json.dumps(found, ensure_ascii=False, indent=1)}")
                for number, patterns in expected.items():
                    for pattern in patterns:
                        self.assertTrue(any(re.search(pattern, p) for p in found[number]),
                                        f"check {number}: no problem matches {pattern!r} in {found[number]}")
                    for problem in found[number]:
                        self.assertTrue(any(re.search(pattern, problem) for pattern in patterns),
                                        f"check {number}: unexpected problem {problem!r}")

    def test_script_exits_non_zero(self) -> None:
        template = copy.deepcopy(TEMPLATE)
        props(template, "RoutingQueue").update(VisibilityTimeout=59)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as bad:
            json.dump(template, bad)
            bad.flush()
            run = subprocess.run([sys.executable, str(HERE / "check_template.py"), "--template", bad.name, "--root", str(ROOT)],
                                 capture_output=True, text=True)
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertIn("FAIL (3)", run.stdout)
        self.assertIn("VisibilityTimeout 59 s < 6 × RouterFunction Timeout 10 s", run.stdout)


if __name__ == "__main__":
    unittest.main()
