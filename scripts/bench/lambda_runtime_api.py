#!/usr/bin/env python3
"""Measure the processor Lambda's cold start with a local Lambda Runtime API.

Serves the Runtime API (2018-06-01) that Lambda gives a custom runtime, starts the binary as
Lambda would (with its standard environment), hands it one event and reports, as JSON:
  init_ms   from process start to its first /invocation/next request (the cold-start init),
  invoke_ms from handing out the event to the response,
  response  what the function returned (the partial batch response).

Usage: scripts/bench/lambda_runtime_api.py EVENT.json BINARY (target/release/processor-lambda)
The function's own settings (TABLE_NAME, STREAM_NAME, QUARANTINE_URL, AWS_ENDPOINT_URL, ...) come
from the caller's environment; point them at moto for a local run.
"""
import base64, json, os, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

events = [json.loads(open(sys.argv[1]).read())]
state = {"next": [], "responses": [], "errors": []}

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.endswith("/invocation/next"):
            state["next"].append(time.monotonic())
            if not events:
                time.sleep(3600)
            ev = events.pop(0)
            body = json.dumps(ev).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time()*1000) + 60000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:processor")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); body = self.rfile.read(n)
        key = "responses" if "/response" in self.path else "errors"
        state[key].append((time.monotonic(), body.decode()))
        self.send_response(202); self.end_headers()

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.server_port}", AWS_LAMBDA_FUNCTION_NAME="processor", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512", AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_STREAM_NAME="local", AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/processor")
t0 = time.monotonic()
p = subprocess.Popen([sys.argv[2]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if os.environ.get("QUIET") else None)
deadline = time.monotonic() + 60
while not (state["responses"] or state["errors"]) and time.monotonic() < deadline:
    time.sleep(0.005)
p.kill()
init_ms = (state["next"][0] - t0) * 1000 if state["next"] else None
print(json.dumps({"init_ms": round(init_ms, 1) if init_ms else None,
  "invoke_ms": round((state["responses"][0][0] - state["next"][0]) * 1000, 1) if state["responses"] else None,
  "response": state["responses"][0][1] if state["responses"] else None, "errors": [e[1] for e in state["errors"]]}))
