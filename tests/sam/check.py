#!/usr/bin/env python3
"""Checks template.yaml offline, as CI does (run by scripts/test):

1. `cfn-lint` on the SAM template, and on its translation: no finding of any level.
2. The SAM template translates to CloudFormation (PyPI `aws-sam-translator`). Local `CodeUri`s are
   replaced by an S3 URI first, as `sam package` does.
3. Static checks on the translation: the event source mapping, the routes, the environment names the
   code reads, and least privilege (no `*` action, no bare `*` resource in any role).
4. The translated stack's resources that the emulator (moto) supports are created from the template
   with moto's CloudFormation; the processor Lambda's `Environment.Variables` are resolved by the
   same stack (as outputs); `processor consume --until-idle` then runs with exactly that environment
   on `examples/seeds.jsonl`, and the deliveries, the quarantined record and the projections in the
   table are asserted.
5. The same on a second stack with `processor-lambda` (the binary template.yaml deploys) started
   as Lambda starts it: a local runtime API
   hands it one Kinesis event of the seeds and takes its partial batch response; deliveries go
   through the real sinks (SNS in the emulator, read back through an SQS subscription;
   `@connections` and IoT Publish to the local server, since the emulator has neither).
6. On that stack, the same binary as the sweeper (`Handler: sweeper`) with the sweeper function's
   environment, handed one scheduled event: it ticks the stream's shards and ends the seeds'
   connections (all past API Gateway's two hours); `processor consume` then folds what it put, and
   the table shows alice offline.

Usage: check.py --processor PATH --lambda PATH [--moto-server PATH]. Every tool it needs must be there: a missing
one is a failure, never a skip.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SEEDS = ROOT / "examples" / "seeds.jsonl"
VENV_BIN = ROOT / ".venv" / "bin"
REGION = "us-east-1"

# What the emulator creates from the translated template; everything else (Lambda functions and
# their code, API Gateway v2, IoT rules, Firehose, log streams) is left out, and references to it
# become placeholders.
EMULATED = {
    "AWS::Kinesis::Stream",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::IAM::Role",
    "AWS::Logs::LogGroup",
}

# The environment each function's code reads (processor/src/aws/config.rs,
# processor/src/sinks/config.rs, processor/src/ingest).
PROCESSOR_ENV = {
    "TABLE_NAME",
    "STREAM_NAME",
    "QUARANTINE_URL",
    "WEBSOCKET_API_DOMAIN",
    "WEBSOCKET_API_STAGE",
    "IOT_DATA_ENDPOINT",
    "PUSH_TOPIC_ARN",
    "CHAT_TOPIC",
    "RESET_HORIZON",
    "HISTORY",
    "HISTORY_MAX",
    "PRESENCE_ROOMS",
    "PRESENCE_GRACE",
    "RATE_LIMIT",
    "RATE_BURST",
    "JOINS_PER_MINUTE",
    "MESSAGE_MAX_BYTES",
    "DELIVERY_CONCURRENCY",
}
INGEST_ENV = {"STREAM_NAME", "ALLOW_ANONYMOUS"}
AUTHORIZER_ENV = {"AUTH_MODE", "HS256_SECRET_ARN", "JWKS_URL", "ISSUER", "AUDIENCE", "ALLOW_ANONYMOUS"}
# The sweeper's: the processor's values for those it shares, and its own.
SWEEPER_SHARED_ENV = {"TABLE_NAME", "STREAM_NAME", "WEBSOCKET_API_DOMAIN", "WEBSOCKET_API_STAGE"}
SWEEPER_ENV = SWEEPER_SHARED_ENV | {"IDLE_AFTER"}
ROUTES = {
    "$connect",
    "$disconnect",
    "$default",
    "sendmessage",
    "set_notify_list",
    "join",
    "leave",
    "history",
    "presence",
}

# The README's five deliveries: (channel, target, message or (payload type)).
EXPECTED_DELIVERIES = [
    ("mqtt", "app/bob/chat/42", "Bob, are you there?"),
    ("websocket", "alice-conn", "hello everyone"),
    ("websocket", "carol-conn", "(usage)"),
    ("websocket", "carol-conn", "(telemetry)"),
    ("push", "bob", "I'll send you a push, then."),
]


class CheckFailed(Exception):
    pass


def need(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def step(title: str) -> None:
    print(f"-- {title}", flush=True)


def tool(name: str) -> str:
    path = VENV_BIN / name
    need(path.is_file(), f"{path} not found: run scripts/test, which installs it into .venv")
    return str(path)


# ------------------------------------------------------------------------------------ lint
def lint(path: Path) -> None:
    out = subprocess.run([tool("cfn-lint"), str(path)], capture_output=True, text=True)
    need(
        out.returncode == 0,
        f"cfn-lint {path.name} (exit {out.returncode}):\n{out.stdout}{out.stderr}",
    )
    print(f"   cfn-lint {path.name}: clean")


# ------------------------------------------------------------------------------- translate
def translate() -> dict:
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        """The template attaches no managed policies; SAM must not need to look any up."""

        def load(self) -> dict:
            return {}

    sam = yaml_parse(TEMPLATE.read_text())
    for name, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            uri = resource["Properties"].get("CodeUri")
            need(uri == ".", f"{name}: CodeUri {uri!r}, expected '.' (the workspace)")
            meta = resource.get("Metadata", {})
            need(
                meta.get("BuildMethod") == "rust-cargolambda",
                f"{name}: Metadata.BuildMethod must be rust-cargolambda",
            )
            resource["Properties"]["CodeUri"] = f"s3://sam-package/{name}.zip"
    return transform(sam, {}, NoManagedPolicies())


def built_binary(function: str) -> str:
    """The cargo binary `sam build` builds for `function` (its `BuildProperties.Binary`)."""
    from samtranslator.yaml_helper import yaml_parse

    sam = yaml_parse(TEMPLATE.read_text())
    return sam["Resources"][function].get("Metadata", {}).get("BuildProperties", {}).get("Binary")


# ---------------------------------------------------------------------------- static checks
def statements(role: dict) -> list[dict]:
    """The statements of a role's inline policies, or of an `AWS::IAM::RolePolicy`."""
    props = role["Properties"]
    out = []
    for policy in props.get("Policies", []):
        out.extend(policy["PolicyDocument"]["Statement"])
    if "PolicyDocument" in props:
        out.extend(props["PolicyDocument"]["Statement"])
    return out


def as_list(v):
    return v if isinstance(v, list) else [v]


def static_checks(cfn: dict) -> None:
    res = cfn["Resources"]
    by_type: dict[str, list[str]] = {}
    for name, r in res.items():
        by_type.setdefault(r["Type"], []).append(name)

    # Least privilege: no wildcard in any action (not even `s3:Put*`), no bare "*" resource, no
    # managed policy.
    for name in by_type.get("AWS::IAM::Role", []) + by_type.get("AWS::IAM::RolePolicy", []):
        role = res[name]["Properties"]
        need(not role.get("ManagedPolicyArns"), f"{name}: managed policies attached")
        for s in statements(res[name]):
            for action in as_list(s["Action"]):
                need("*" not in action, f"{name}: wildcard action {action}")
            for resource in as_list(s["Resource"]):
                need(resource != "*", f"{name}: Resource '*' for {s['Action']}")

    # One role per function, and per rule.
    roles = []
    for name in by_type["AWS::Lambda::Function"] + by_type["AWS::IoT::TopicRule"]:
        props = res[name]["Properties"]
        if "Role" in props:
            roles.append(props["Role"]["Fn::GetAtt"][0])
        else:
            action = props["TopicRulePayload"]["Actions"][0]["Kinesis"]
            roles.append(action["RoleArn"]["Fn::GetAtt"][0])
            need("ErrorAction" in props["TopicRulePayload"], f"{name}: no error action")
            need(
                action["StreamName"] == {"Ref": "EventStream"},
                f"{name}: does not write to EventStream",
            )
    need(len(roles) == len(set(roles)), f"roles shared between functions or rules: {roles}")

    # The processor on the stream.
    fns = {n: res[n]["Properties"] for n in by_type["AWS::Lambda::Function"]}
    processor = fns["ProcessorFunction"]
    need(processor["Runtime"] == "provided.al2023", "processor runtime")
    need(processor["Architectures"] == ["arm64"], "processor architecture")
    need(
        set(processor["Environment"]["Variables"]) >= PROCESSOR_ENV,
        f"processor environment lacks {PROCESSOR_ENV - set(processor['Environment']['Variables'])}",
    )
    need(
        set(fns["IngestFunction"]["Environment"]["Variables"]) >= INGEST_ENV,
        "ingest environment",
    )
    (esm_name,) = by_type["AWS::Lambda::EventSourceMapping"]
    esm = res[esm_name]["Properties"]
    need(esm["FunctionName"] == {"Ref": "ProcessorFunction"}, "mapping target")
    need(esm["EventSourceArn"] == {"Fn::GetAtt": ["EventStream", "Arn"]}, "mapping source")
    need(esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"], "ReportBatchItemFailures")
    need(esm["BisectBatchOnFunctionError"] is True, "BisectBatchOnFunctionError")
    for bounded in ("MaximumRetryAttempts", "MaximumRecordAgeInSeconds"):
        need(bounded in esm, f"{bounded} not set (the default is unbounded)")
    need(
        esm["DestinationConfig"]["OnFailure"]["Destination"]
        == {"Fn::GetAtt": ["ProcessorFailureQueue", "Arn"]},
        "on-failure destination",
    )
    for p in ("BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor"):
        need(esm[p] == {"Ref": p}, f"{p} is not the template parameter")
    for p in ("MaximumRetryAttempts", "MaximumRecordAgeInSeconds"):
        default = int(cfn["Parameters"][p]["Default"])
        need(default >= 0 if p == "MaximumRetryAttempts" else default > 0, f"{p} default unbounded")

    # The WebSocket API.
    (api,) = by_type["AWS::ApiGatewayV2::Api"]
    need(res[api]["Properties"]["RouteSelectionExpression"] == "$request.body.action", "routes")
    keys = {res[n]["Properties"]["RouteKey"] for n in by_type["AWS::ApiGatewayV2::Route"]}
    need(keys == ROUTES, f"routes {sorted(keys)}, expected {sorted(ROUTES)}")
    invokers = sorted(
        (res[n]["Properties"]["FunctionName"]["Ref"], res[n]["Properties"]["Principal"])
        for n in by_type["AWS::Lambda::Permission"]
    )
    need(
        invokers
        == [
            ("AuthorizerFunction", "apigateway.amazonaws.com"),
            ("IngestFunction", "apigateway.amazonaws.com"),
            ("SweeperFunction", "events.amazonaws.com"),
        ],
        f"who may invoke what: {invokers}",
    )
    authorizer_checks(cfn, res, by_type, fns)
    alarm_checks(cfn, res, by_type)

    # The sweeper: the processor's binary as `Handler: sweeper`, on the schedule, reading only
    # the lobby and asking only GetConnection.
    sweeper = fns["SweeperFunction"]
    need(sweeper["Handler"] == "sweeper", f"sweeper handler {sweeper['Handler']!r}")
    sweeper_env = sweeper["Environment"]["Variables"]
    need(set(sweeper_env) >= SWEEPER_ENV, f"sweeper environment lacks {SWEEPER_ENV - set(sweeper_env)}")
    for var in SWEEPER_SHARED_ENV:
        need(sweeper_env[var] == processor["Environment"]["Variables"][var], f"sweeper {var}")
    need(sweeper_env["IDLE_AFTER"] == {"Ref": "IdleAfter"}, "IDLE_AFTER is not the parameter")
    (rule,) = by_type["AWS::Events::Rule"]
    need(
        res[rule]["Properties"]["ScheduleExpression"] == {"Ref": "SweepSchedule"}
        and res[rule]["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["SweeperFunction", "Arn"]},
        "the sweeper's schedule",
    )
    sweeper_role = res[sweeper["Role"]["Fn::GetAtt"][0]]
    actions = sorted(a for st in statements(sweeper_role) for a in as_list(st["Action"]))
    need(
        actions
        == [
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "execute-api:ManageConnections",
            "kinesis:ListShards",
            "kinesis:PutRecord",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
        f"sweeper actions {actions}",
    )
    manage = [st for st in statements(sweeper_role) if st["Action"] == "execute-api:ManageConnections"]
    need("/GET/@connections/" in json.dumps(manage), f"the sweeper may do more than GET: {manage}")

    # The archive: newline-delimited, gzip.
    (fh,) = by_type["AWS::KinesisFirehose::DeliveryStream"]
    dest = res[fh]["Properties"]["ExtendedS3DestinationConfiguration"]
    need(dest["CompressionFormat"] == "GZIP", "archive compression")
    procs = dest["ProcessingConfiguration"]["Processors"]
    need(
        any(p["Type"] == "AppendDelimiterToRecord" for p in procs),
        "archive records are not newline-delimited",
    )
    table = res["ProjectionTable"]["Properties"]
    need(table["TimeToLiveSpecification"]["AttributeName"] == "ttl", "table TTL attribute")
    need(table["BillingMode"] == "PAY_PER_REQUEST", "table billing")
    need(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True,
        "point-in-time recovery",
    )
    print(f"   {len(res)} resources; roles, mapping, routes, archive and table as required")


def authorizer_checks(cfn: dict, res: dict, by_type: dict, fns: dict) -> None:
    """The `$connect` authorizer: wired to `$connect` alone, the processor's binary as `Handler:
    authorizer`, invoked only by this API's authorizer, reading only the token secret; ingest
    anonymous only by the parameter; and the IoT clients' policy."""
    routes = {res[n]["Properties"]["RouteKey"]: res[n]["Properties"] for n in by_type["AWS::ApiGatewayV2::Route"]}
    connect = routes["$connect"]
    need(
        connect.get("AuthorizationType") == "CUSTOM"
        and connect.get("AuthorizerId") == {"Ref": "ConnectAuthorizer"},
        f"$connect is not behind the authorizer: {connect}",
    )
    for key, route in routes.items():
        if key != "$connect":
            need("AuthorizerId" not in route, f"{key}: an authorizer on a route that is not $connect")
    (authorizer,) = by_type["AWS::ApiGatewayV2::Authorizer"]
    props = res[authorizer]["Properties"]
    need(props["AuthorizerType"] == "REQUEST", "the authorizer is not a REQUEST authorizer")
    need("${AuthorizerFunction.Arn}" in json.dumps(props["AuthorizerUri"]), "authorizer URI")
    need(
        "IdentitySource" not in props,
        "an identity source makes API Gateway refuse a $connect whose token is elsewhere",
    )
    fn = fns["AuthorizerFunction"]
    need(fn["Handler"] == "authorizer", f"authorizer handler {fn['Handler']!r}")
    env = fn["Environment"]["Variables"]
    need(set(env) >= AUTHORIZER_ENV, f"authorizer environment lacks {AUTHORIZER_ENV - set(env)}")
    for var, param in (("AUTH_MODE", "AuthMode"), ("ALLOW_ANONYMOUS", "AllowAnonymous")):
        need(env[var] == {"Ref": param}, f"authorizer {var} is not the parameter {param}")
    ingest_env = fns["IngestFunction"]["Environment"]["Variables"]
    need(ingest_env.get("ALLOW_ANONYMOUS") == {"Ref": "AllowAnonymous"}, "ingest ALLOW_ANONYMOUS")
    need(cfn["Parameters"]["AllowAnonymous"]["Default"] == "false", "anonymous by default")
    (permission,) = [
        n for n in by_type["AWS::Lambda::Permission"]
        if res[n]["Properties"]["FunctionName"] == {"Ref": "AuthorizerFunction"}
    ]
    source = json.dumps(res[permission]["Properties"]["SourceArn"])
    need("/authorizers/${ConnectAuthorizer}" in source, f"who may invoke the authorizer: {source}")
    role = res[fn["Role"]["Fn::GetAtt"][0]]
    actions = sorted(a for st in statements(role) for a in as_list(st["Action"]))
    need(actions == ["logs:CreateLogStream", "logs:PutLogEvents"], f"authorizer actions {actions}")
    for name in by_type.get("AWS::IAM::RolePolicy", []):
        policy = res[name]
        need(policy["Properties"]["RoleName"] == {"Ref": "AuthorizerRole"}, f"{name}: whose policy")
        need("Condition" in policy, f"{name}: the secret is read only in hs256 mode")
        for st in statements(policy):
            need(st["Action"] == "secretsmanager:GetSecretValue", f"{name}: {st['Action']}")
            need(
                st["Resource"] in ({"Ref": "TokenSecret"}, {"Ref": "Hs256SecretArn"}),
                f"{name}: reads {st['Resource']}",
            )

    (policy,) = by_type["AWS::IoT::Policy"]
    granted = {}
    for st in res[policy]["Properties"]["PolicyDocument"]["Statement"]:
        need(st["Effect"] == "Allow" and "*" not in st["Action"], f"IoT policy statement {st}")
        granted[st["Action"]] = json.dumps(st["Resource"])
    need(
        sorted(granted) == ["iot:Connect", "iot:Publish", "iot:Receive", "iot:Subscribe"],
        f"IoT policy actions {sorted(granted)}",
    )
    need(granted["iot:Connect"].endswith(':client/${!iot:Connection.Thing.ThingName}"}'), "connect as itself")
    need(granted["iot:Subscribe"].endswith(':topicfilter/app/${!iot:ClientId}/chat/*"}'), "its own chats")
    need(granted["iot:Receive"].endswith(':topic/app/${!iot:ClientId}/chat/*"}'), "receive its chats")
    need(granted["iot:Publish"].endswith(':topic/devices/${!iot:ClientId}/params"}'), "its telemetry")


def dashboard_metrics(cfn: dict) -> set[str]:
    """The PresenceStream metrics the dashboard charts and the alarms watch."""
    import re

    res = cfn["Resources"]
    (dashboard,) = [r for r in res.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body, _ = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    names = set()
    for w in widgets:
        namespace = None
        for row in w["properties"].get("metrics", []):
            namespace = row[0] if row[0] != "." else namespace
            if namespace == "PresenceStream" and row[1] != ".":
                names.add(row[1])
    for r in res.values():
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"] == "PresenceStream":
            names.add(r["Properties"]["MetricName"])
    return names


def alarm_checks(cfn: dict, res: dict, by_type: dict) -> None:
    """The alarms an on-call engineer needs, each notifying the optional topic, and a dashboard."""
    watched = set()
    for name in by_type.get("AWS::CloudWatch::Alarm", []):
        p = res[name]["Properties"]
        (dim,) = p["Dimensions"]
        target = dim["Value"].get("Ref") or dim["Value"].get("Fn::GetAtt", [None])[0]
        watched.add((p["Namespace"], p["MetricName"], target))
        need(
            p["AlarmActions"] == {"Fn::If": ["NotifiesAlarms", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]},
            f"{name} does not notify the alarm topic",
        )
        need(p.get("TreatMissingData") == "notBreaching", f"{name}: a quiet stream is not an alarm")
    expected = {
        ("AWS/Lambda", "IteratorAge", "ProcessorFunction"),
        ("PresenceStream", "Quarantined", "ProcessorFunction"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "ProcessorFailureQueue"),
    }
    for fn in ("ProcessorFunction", "IngestFunction", "SweeperFunction"):
        expected.add(("AWS/Lambda", "Errors", fn))
    for fn in ("ProcessorFunction", "IngestFunction", "SweeperFunction", "AuthorizerFunction"):
        expected.add(("AWS/Lambda", "Throttles", fn))
    need(expected <= watched, f"alarms missing: {sorted(expected - watched)}")
    print(f"   {len(watched)} alarms; a dashboard of {len(dashboard_metrics(cfn))} processor metrics")


# ------------------------------------------------------------------------------ emulator
def placeholders(node, dropped: set[str]):
    """`node` with references to resources the emulator does not create replaced by strings."""
    if isinstance(node, list):
        return [placeholders(v, dropped) for v in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in dropped:
        return f"emulator-{node['Ref']}"
    if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in dropped:
        return "emulator-" + "-".join(node["Fn::GetAtt"])
    if set(node) == {"Fn::Sub"}:
        sub = node["Fn::Sub"]
        text, names = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        for d in dropped:
            text = text.replace("${" + d + "}", f"emulator-{d}")
        return {"Fn::Sub": text if not names else [text, placeholders(names, dropped)]}
    return {k: placeholders(v, dropped) for k, v in node.items()}


def emulator_template(cfn: dict) -> tuple[dict, dict[str, str]]:
    """The emulated part of `cfn`, with one output per processor environment variable."""
    res = cfn["Resources"]
    kept = {n: r for n, r in res.items() if r["Type"] in EMULATED}
    dropped = set(res) - set(kept)
    out = {k: copy.deepcopy(v) for k, v in cfn.items() if k not in ("Resources", "Outputs")}
    out["Resources"] = {
        n: {k: v for k, v in r.items() if k != "DependsOn"} for n, r in placeholders(kept, dropped).items()
    }
    env = res["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
    outputs, names = {}, {}
    for i, (var, value) in enumerate(sorted(env.items())):
        outputs[f"Env{i}"] = {"Value": placeholders(copy.deepcopy(value), dropped)}
        names[f"Env{i}"] = var
    out["Outputs"] = outputs
    return out, names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(moto_server: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [moto_server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, endpoint
        except OSError:
            need(proc.poll() is None, f"{moto_server} exited with {proc.returncode}")
            need(time.monotonic() < deadline, f"{moto_server} did not listen within 60 s")
            time.sleep(0.1)


def poll(what: str, ready, deadline_s: float = 60):
    deadline = time.monotonic() + deadline_s
    pause = 0.05
    while True:
        value = ready()
        if value:
            return value
        need(time.monotonic() < deadline, f"{what} not ready within {deadline_s} s")
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def create_stack(
    cf, template: dict, env_outputs: dict[str, str], stack: str, params: dict | None = None
) -> dict[str, str]:
    """Creates `template` as `stack`; returns the processor's environment, resolved by the stack."""
    cf.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (params or {}).items()],
    )

    def complete():
        s = cf.describe_stacks(StackName=stack)["Stacks"][0]
        need(
            "FAILED" not in s["StackStatus"] and "ROLLBACK" not in s["StackStatus"],
            f"stack {s['StackStatus']}: {s.get('StackStatusReason')}",
        )
        return s if s["StackStatus"] == "CREATE_COMPLETE" else None

    created = poll("stack", complete)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in created.get("Outputs", [])}
    env = {env_outputs[k]: v for k, v in outputs.items() if k in env_outputs}
    need(set(env) == set(env_outputs.values()), f"unresolved variables: {env_outputs} {outputs}")
    # The names the template gave the function are the resources the stack created.
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cf.describe_stack_resources(StackName=stack)["StackResources"]
    }
    need(env["TABLE_NAME"] == physical["ProjectionTable"], "TABLE_NAME is not the table")
    need(env["STREAM_NAME"] == physical["EventStream"], "STREAM_NAME is not the stream")
    need(
        env["QUARANTINE_URL"] == f"s3://{physical['QuarantineBucket']}/quarantine",
        "QUARANTINE_URL is not the quarantine bucket",
    )
    need(env["PUSH_TOPIC_ARN"] == physical["PushTopic"], "PUSH_TOPIC_ARN is not the topic")
    return env


def put_seeds(kinesis, stream: str) -> int:
    poll(
        "stream",
        lambda: kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
            "StreamStatus"
        ]
        == "ACTIVE",
    )
    # One partition key keeps the example's order (one shard); in production the rules and
    # ingest partition by client and connection id.
    lines = [line for line in SEEDS.read_text().splitlines() if line.strip()]
    for line in lines:
        kinesis.put_record(StreamName=stream, PartitionKey="seeds", Data=line.encode())
    return len(lines)


def check_outcome(client, env: dict[str, str], deliveries: list[tuple[str, str, str]]) -> None:
    """The README's deliveries, line 19 in the quarantine bucket, the projections in the table."""
    # The handler sends a batch's deliveries concurrently: the set is the README's, the order in
    # which they are sent is not the fold's.
    need(
        sorted(deliveries) == sorted(EXPECTED_DELIVERIES),
        f"deliveries:\n{json.dumps(deliveries, indent=1)}",
    )
    print(f"   {len(deliveries)} deliveries, as in the README")

    bucket = env["QUARANTINE_URL"].removeprefix("s3://").split("/")[0]
    s3 = client("s3")
    objects = s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/").get("Contents", [])
    need(len(objects) == 1, f"quarantine holds {len(objects)} objects, expected 1")
    body = s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read().decode()
    need("yesterday" in body, f"quarantined object: {body[:300]}")
    print(f"   quarantined: s3://{bucket}/{objects[0]['Key']}")

    dynamo = client("dynamodb")

    def client_item(cid: str) -> dict:
        item = dynamo.get_item(
            TableName=env["TABLE_NAME"],
            Key={"pk": {"S": f"client#{cid}"}, "sk": {"S": "state"}},
            ConsistentRead=True,
        ).get("Item")
        need(item is not None, f"no item client#{cid} in {env['TABLE_NAME']}")
        return item

    def flag(item: dict, name: str) -> bool:
        return item.get(name, {}).get("BOOL") is True

    need(flag(client_item("greengrass_core"), "connected"), "greengrass_core not connected")
    sensor = client_item("sensor-7")
    need(flag(sensor, "connected"), "sensor-7 not connected")
    need(sensor.get("versionNumber", {}).get("N") == "6", f"sensor-7 version: {sensor}")
    bob = client_item("bob")
    need(not flag(bob, "online"), "bob online")
    # bob's keep-alive timeout (seed line 17) is the last time he was seen.
    need(bob.get("lastSeen", {}).get("N") == "1732350061000", f"bob lastSeen: {bob}")
    need(flag(client_item("alice"), "online"), "alice offline")
    need(not flag(client_item("carol"), "online"), "carol online")
    need(not flag(client_item("mallory"), "online"), "mallory online")
    print(
        "   projections in the table: greengrass_core and sensor-7 connected, alice online,"
        " bob, carol and mallory offline"
    )


def consume(processor: str, env: dict) -> subprocess.CompletedProcess:
    """`processor consume --until-idle` with `env`, which must succeed."""
    run = subprocess.run(
        [processor, "consume", "--until-idle"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    need(run.returncode == 0, f"processor consume failed ({run.returncode}):\n{run.stderr}")
    return run


def emulator_run(cfn: dict, processor: str, lambda_bin: str, moto_server: str) -> None:
    import boto3

    proc, endpoint = start_moto(moto_server)
    try:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        client = lambda name: session.client(name, endpoint_url=endpoint)  # noqa: E731
        template, env_outputs = emulator_template(cfn)
        types = sorted({r["Type"] for r in template["Resources"].values()})
        print(f"   emulated: {len(template['Resources'])} resources ({', '.join(types)})")
        cf = client("cloudformation")
        emulator = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
        }

        step("emulator: processor consume --until-idle with the function's environment")
        env = create_stack(cf, template, env_outputs, f"consume-{os.getpid()}")
        for k in sorted(env):
            print(f"     {k}={env[k]}")
        put_seeds(client("kinesis"), env["STREAM_NAME"])
        run = consume(processor, {**emulator, **env})
        summary = [line for line in run.stderr.splitlines() if line.startswith("consumed ")]
        print(f"   {summary[-1] if summary else run.stderr.strip()}")
        printed = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        check_outcome(client, env, [summarize(d) for d in printed])

        step("emulator: the processor as Lambda runs it, on one Kinesis event of the seeds")
        charted = dashboard_metrics(cfn)
        env = lambda_run(client, cf, template, env_outputs, lambda_bin, emulator, charted)
        step("emulator: the sweeper as Lambda runs it, on one scheduled event")
        sweeper_run(client, cfn, env, processor, lambda_bin, emulator)
        step("emulator: the $connect authorizer as Lambda runs it, with the secret in Secrets Manager")
        authorizer_run(client, cfn, lambda_bin, emulator)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


class Gateway:
    """One local HTTP server standing in for what the emulator lacks: the Lambda runtime API
    (one Kinesis event, then the response), the `@connections` API and the IoT data plane's
    Publish (both recorded)."""

    def __init__(self, event: dict) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import unquote, urlsplit

        self.event = json.dumps(event).encode()
        self.served = False
        self.result: tuple[str, dict] | None = None
        self.done = threading.Event()
        self.posts: list[tuple[str, str, dict]] = []
        self.asked: list[str] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def reply(self, status: int, body: bytes = b"{}", headers: dict | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the function was stopped while waiting for its next event

            def do_GET(self) -> None:
                parts = urlsplit(self.path).path.split("/")
                if "@connections" in parts:
                    # GetConnection: every connection is alive, active now.
                    gateway.asked.append(unquote(parts[-1]))
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    body = {"connectedAt": now, "lastActiveAt": now, "identity": {}}
                    return self.reply(200, json.dumps(body).encode())
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404)
                if gateway.served:
                    gateway.done.wait(600)  # one invocation only; we stop the process after it
                    return self.reply(500)
                gateway.served = True
                self.reply(
                    200,
                    gateway.event,
                    {
                        "Lambda-Runtime-Aws-Request-Id": "request-1",
                        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 120_000),
                        "Lambda-Runtime-Invoked-Function-Arn": (
                            f"arn:aws:lambda:{REGION}:123456789012:function:processor"
                        ),
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000001",
                    },
                )

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                parts = url.path.split("/")
                if url.path.startswith("/2018-06-01/runtime/"):
                    kind = parts[-1]  # response, error (invocation or init)
                    gateway.result = (kind, json.loads(body or b"{}"))
                    gateway.done.set()
                    return self.reply(202)
                payload = json.loads(body)
                if "@connections" in parts:
                    gateway.posts.append(("websocket", unquote(parts[-1]), payload))
                    return self.reply(200, b"")
                if len(parts) == 3 and parts[1] == "topics":
                    gateway.posts.append(("mqtt", unquote(parts[2]), payload))
                    return self.reply(200, b"{}")
                self.reply(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.done.set()
        self.server.shutdown()


def check_metrics(log: str, records: int, charted: set[str]) -> None:
    """The batch's CloudWatch metrics: one embedded-metric-format line on the function's log,
    each metric its directives name a number on the line, in the stack's namespace; every metric
    the dashboard charts and the alarms watch among them."""
    lines = []
    for line in log.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "_aws" in value:
            lines.append(value)
    need(len(lines) == 1, f"{len(lines)} metric lines on the log, expected one per batch")
    (line,) = lines
    names = []
    for directive in line["_aws"]["CloudWatchMetrics"]:
        need(directive["Namespace"] == "PresenceStream", f"namespace {directive['Namespace']}")
        for dims in directive["Dimensions"]:
            need(all(isinstance(line.get(d), str) for d in dims), f"dimensions {dims} on {line}")
        for metric in directive["Metrics"]:
            need(isinstance(line.get(metric["Name"]), int), f"{metric['Name']} not on {line}")
            names.append(metric["Name"])
    need(line["Records"] == records, f"Records {line['Records']}, the batch had {records}")
    need(charted <= set(names), f"charted but never written: {sorted(charted - set(names))}")
    need(line["Quarantined"] == 1 and line["DeliveriesWebSocket"] >= 1, f"metrics {line}")
    print(f"   metrics: {len(set(names))} in one line, Records={line['Records']}, "
          f"OldestRecordAge={line.get('OldestRecordAge')} ms, DynamoDBRequests={line['DynamoDBRequests']}")


def kinesis_event(kinesis, stream: str) -> dict:
    """A Lambda Kinesis event of every record on the stream's first shard, as the mapping sends it."""
    desc = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
    shard = desc["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=it, Limit=10_000)["Records"]
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/processor",
                "awsRegion": REGION,
                "eventSourceARN": desc["StreamARN"],
            }
            for r in records
        ]
    }


def invoke(lambda_bin: str, env: dict, gateway: Gateway, name: str) -> tuple[str, dict, str]:
    """Starts `lambda_bin` as Lambda starts function `name`, with the gateway as its runtime API,
    until it answers its one event: the answer's kind (`response` or `error`), body, and logs."""
    lambda_env = {
        **env,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{gateway.port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "check",
    }
    with tempfile.TemporaryFile() as logs:
        fn = subprocess.Popen([lambda_bin], env=lambda_env, stdout=logs, stderr=logs)
        try:
            deadline = time.monotonic() + 120
            while not gateway.done.wait(0.2):
                if fn.poll() is not None:
                    break
                need(time.monotonic() < deadline, f"{name} did not answer within 120 s")
        finally:
            fn.kill()
            fn.wait()
        logs.seek(0)
        log = logs.read().decode(errors="replace")
    need(gateway.result is not None, f"{name} stopped without answering:\n{log[-3000:]}")
    kind, body = gateway.result
    return kind, body, log


def sweeper_run(
    client, cfn: dict, env: dict, processor: str, lambda_bin: str, emulator: dict
) -> None:
    """`processor-lambda` as the sweeper function, with its environment from the stack the
    processor ran on, handed one scheduled event; then `processor consume` folds what it put."""
    event = {
        "version": "0",
        "id": "check",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/sweep"],
        "detail": {},
    }
    gateway = Gateway(event)
    try:
        sweeper_env = {k: env[k] for k in SWEEPER_SHARED_ENV}
        sweeper_env["IDLE_AFTER"] = cfn["Parameters"]["IdleAfter"]["Default"]
        sweeper_env["WEBSOCKET_API_ENDPOINT"] = (
            f"http://127.0.0.1:{gateway.port}/{env['WEBSOCKET_API_STAGE']}"
        )
        kind, report, log = invoke(
            lambda_bin, {**emulator, **sweeper_env, "_HANDLER": "sweeper"}, gateway, "sweeper"
        )
    finally:
        gateway.close()
    need(kind == "response", f"the sweeper reported {kind}: {report}\n{log[-3000:]}")
    sweep_metrics = [json.loads(line) for line in log.splitlines() if line.startswith('{"') and '"_aws"' in line]
    need(
        len(sweep_metrics) == 1 and sweep_metrics[0]["ShardsTicked"] == report["ticked"],
        f"the sweep's metrics line: {sweep_metrics}",
    )
    print(f"   sweeper response: {json.dumps(report)}")
    need(report["ticked"] >= 1 and not report["failures"], f"sweep report {report}")
    # The seeds' connections are long past API Gateway's two hours: gone without asking.
    need(report["open"] >= 1 and report["expired"] == report["open"], f"sweep report {report}")
    need(not gateway.asked, f"asked about connections past their two hours: {gateway.asked}")

    consume(processor, {**emulator, **env})
    alice = client("dynamodb").get_item(
        TableName=env["TABLE_NAME"],
        Key={"pk": {"S": "client#alice"}, "sk": {"S": "state"}},
        ConsistentRead=True,
    )["Item"]
    need(alice["online"].get("BOOL") is False, f"alice still online after the sweep: {alice}")
    print(f"   {report['expired']} connections ended by the sweep; alice offline in the table")


def lambda_run(
    client, cf, template, env_outputs, lambda_bin: str, emulator: dict, charted: set[str]
) -> dict:
    """The deployed code path: `processor-lambda` started as Lambda starts it (AWS_LAMBDA_RUNTIME_API),
    configured by the function's environment from the stack, handed one Kinesis event of the
    seeds. Deliveries go through the real sinks: SNS to the stack's push topic in the emulator
    (read back through an SQS subscription), `@connections` and IoT Publish to the local gateway.
    The one variable not from the template is WEBSOCKET_API_ENDPOINT (it wins over
    WEBSOCKET_API_DOMAIN, whose API the emulator cannot create); IOT_DATA_ENDPOINT is the
    template's parameter `IotDataEndpoint`."""
    gateway = Gateway({})
    try:
        local = f"http://127.0.0.1:{gateway.port}"
        env = create_stack(
            cf,
            template,
            env_outputs,
            f"lambda-{os.getpid()}",
            {"IotDataEndpoint": local},
        )
        need(env["IOT_DATA_ENDPOINT"] == local, "IOT_DATA_ENDPOINT is not the parameter")
        sqs, sns = client("sqs"), client("sns")
        queue = sqs.create_queue(QueueName=f"push-{os.getpid()}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=env["PUSH_TOPIC_ARN"], Protocol="sqs", Endpoint=queue_arn)
        kinesis = client("kinesis")
        n = put_seeds(kinesis, env["STREAM_NAME"])
        event = kinesis_event(kinesis, env["STREAM_NAME"])
        need(len(event["Records"]) == n, f"{len(event['Records'])} records on the stream, put {n}")
        gateway.event = json.dumps(event).encode()

        lambda_env = {
            **emulator,
            **env,
            "WEBSOCKET_API_ENDPOINT": f"{local}/{env['WEBSOCKET_API_STAGE']}",
        }
        kind, body, log = invoke(lambda_bin, lambda_env, gateway, "processor")
        need(kind == "response", f"the Lambda reported {kind}: {body}\n{log[-3000:]}")
        need(body.get("batchItemFailures") == [], f"batch response {body}\n{log[-3000:]}")
        print(f"   Lambda response: {json.dumps(body)}")
        check_metrics(log, n, charted)

        got = []
        for channel, target, payload in gateway.posts:
            what = payload["message"] if payload.get("type") == "message" else f"({payload['type']})"
            got.append((channel, target, what))
        pushes = poll(
            "the push in the subscribed queue",
            lambda: sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"),
        )
        for m in pushes:
            note = json.loads(m["Body"])
            payload = json.loads(note["Message"])
            client_id = note["MessageAttributes"]["clientId"]["Value"]
            got.append(("push", client_id, payload["message"]))
        check_outcome(client, env, got)
        return env
    finally:
        gateway.close()


def summarize(d: dict) -> tuple[str, str, str]:
    """(channel, target, message or (payload type)) of a delivery as `processor` prints it."""
    payload = d["payload"]
    what = payload["message"] if payload.get("type") == "message" else f"({payload['type']})"
    return (d["channel"], channel_target(d), what)


def channel_target(delivery: dict) -> str:
    """The target of a delivery as `processor` prints it (projections/src/delivery.rs)."""
    key = {"websocket": "connectionId", "mqtt": "topic", "push": "clientId"}.get(delivery["channel"])
    need(key in delivery, f"delivery without a target: {delivery}")
    return delivery[key]


def hs256_token(secret: str, claims: dict) -> str:
    """A JWT signed with HS256, as a token service signs one."""
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def authorizer_run(client, cfn: dict, lambda_bin: str, emulator: dict) -> None:
    """`processor-lambda` as the authorizer function, in the template's default mode (hs256, the
    secret read from Secrets Manager), handed a `$connect` with a token: allowed as the token's
    subject with its claims; then one with a token signed otherwise: `Unauthorized` (401)."""
    secret = "s" * 48
    arn = client("secretsmanager").create_secret(Name=f"jwt-{os.getpid()}", SecretString=secret)["ARN"]
    fn = cfn["Resources"]["AuthorizerFunction"]["Properties"]
    env = {
        **emulator,
        "_HANDLER": fn["Handler"],
        "AUTH_MODE": cfn["Parameters"]["AuthMode"]["Default"],
        "HS256_SECRET_ARN": arn,
        "ALLOW_ANONYMOUS": cfn["Parameters"]["AllowAnonymous"]["Default"],
    }
    method = f"arn:aws:execute-api:{REGION}:123456789012:abc123/prod/$connect"
    claims = {"sub": "alice", "exp": int(time.time()) + 600, "rooms": ["team-7/*"]}

    def connect(token: str) -> tuple[str, dict, str]:
        event = {
            "type": "REQUEST",
            "methodArn": method,
            "headers": {"Sec-WebSocket-Protocol": f"bearer, {token}"},
            "queryStringParameters": {"clientId": "mallory"},
            "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "stage": "prod"},
        }
        gateway = Gateway(event)
        try:
            return invoke(lambda_bin, env, gateway, "authorizer")
        finally:
            gateway.close()

    kind, answer, log = connect(hs256_token(secret, claims))
    need(kind == "response", f"the authorizer answered {kind}: {answer}\n{log[-3000:]}")
    need(answer.get("principalId") == "alice", f"principal {answer.get('principalId')!r}, not alice")
    statement = answer["policyDocument"]["Statement"]
    need(
        statement == [{"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [method]}],
        f"policy {statement}",
    )
    need(answer["context"].get("rooms") == '["team-7/*"]', f"context {answer['context']}")
    print(f"   a token for alice (?clientId=mallory beside it): allowed as {answer['principalId']}, context {answer['context']}")
    kind, answer, log = connect(hs256_token("another secret of more than 32 bytes", claims))
    need(
        kind == "error" and answer.get("errorMessage") == "Unauthorized",
        f"a token signed with another secret: {kind} {answer}",
    )
    need("eyJ" not in log, "the authorizer logged a token")
    print("   a token signed with another secret: Unauthorized (401)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processor", required=True, help="the processor binary")
    parser.add_argument(
        "--lambda", dest="lambda_bin", required=True, help="the processor-lambda binary"
    )
    parser.add_argument("--moto-server", default=str(VENV_BIN / "moto_server"))
    args = parser.parse_args()
    try:
        need(Path(args.processor).is_file(), f"{args.processor}: no processor binary (cargo build)")
        need(Path(args.lambda_bin).is_file(), f"{args.lambda_bin}: no Lambda binary (cargo build)")
        need(Path(args.moto_server).is_file(), f"{args.moto_server} not found: run scripts/test")
        for function in ("ProcessorFunction", "SweeperFunction", "AuthorizerFunction"):
            deployed = built_binary(function)
            need(
                deployed == Path(args.lambda_bin).name,
                f"template.yaml builds {deployed!r} for {function}; the check runs"
                f" {Path(args.lambda_bin).name!r}",
            )
        step("cfn-lint template.yaml")
        lint(TEMPLATE)
        step("SAM translation")
        cfn = translate()
        with tempfile.TemporaryDirectory() as tmp:
            translated = Path(tmp) / "template.json"
            translated.write_text(json.dumps(cfn, indent=1))
            print(f"   translated: {len(cfn['Resources'])} CloudFormation resources")
            lint(translated)
        step("static checks")
        static_checks(cfn)
        step("emulator: the translated stack's supported resources (moto CloudFormation)")
        emulator_run(cfn, args.processor, args.lambda_bin, args.moto_server)
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print("template checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
