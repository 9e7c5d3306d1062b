#!/usr/bin/env python3
"""An Open Inference Protocol v2 client in the Python standard library, against switchyard.

What a Triton or KServe client does, spelled out: health, server metadata, model readiness and
metadata, then one inference as JSON, one with Triton's binary tensor data extension
(triton-inference-server/server docs/protocol/extension_binary_data.md) and one with a gzip body.
The gateway's URL and an API key are the only switchyard-specific parts.

    python3 docs/examples/oip_client.py http://127.0.0.1:8080 sk-switchyard-demo [MODEL]

Prints one JSON object with what it saw; exits 1 when an answer is not what the protocol says.
test/gateway/python-client.test.ts runs it against a real gateway.
"""
import gzip
import json
import struct
import sys
import urllib.error
import urllib.request

base, key = sys.argv[1].rstrip("/"), sys.argv[2]
model = sys.argv[3] if len(sys.argv) > 3 else "fraud"
auth = {"x-api-key": key, "x-user-id": "python-client"}


def call(method, path, body=None, headers=None):
    request = urllib.request.Request(base + path, data=body, method=method, headers={**auth, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def check(condition, what):
    if not condition:
        print(json.dumps({"failed": what}))
        sys.exit(1)


seen = {}
status, _, body = call("GET", "/v2/health/live")
check(status == 200 and json.loads(body) == {"live": True}, "live")
status, _, body = call("GET", "/v2/health/ready")
check(status == 200 and json.loads(body) == {"ready": True}, "ready")
status, _, body = call("GET", "/v2")
server = json.loads(body)
seen["extensions"] = server["extensions"]
status, _, body = call("GET", f"/v2/models/{model}/ready")
check(status == 200 and json.loads(body)["ready"] is True, "model ready")
status, _, body = call("GET", f"/v2/models/{model}")
metadata = json.loads(body)
check(status == 200 and metadata["name"] == model, "model metadata")
tensor = metadata["inputs"][0]
width = tensor["shape"][-1]
check(tensor["datatype"] == "FP32", "an FP32 input")
# Small values: within the ranges of the demo model's contract, which the gateway checks on every endpoint.
row = [0.25 * (i % 2) for i in range(width)]

# JSON tensors.
request = {"inputs": [{"name": tensor["name"], "datatype": "FP32", "shape": [1, width], "data": row}]}
status, _, body = call("POST", f"/v2/models/{model}/infer", json.dumps(request).encode(),
                       {"content-type": "application/json"})
check(status == 200, f"JSON infer answered {status}: {body[:200]!r}")
answer = json.loads(body)
seen["json_outputs"] = {output["name"]: output["data"] for output in answer["outputs"]}

# Binary tensors: the JSON header, then the input's bytes; every output asked for in binary.
header = json.dumps({
    "inputs": [{"name": tensor["name"], "datatype": "FP32", "shape": [1, width],
                "parameters": {"binary_data_size": 4 * width}}],
    "parameters": {"binary_data_output": True},
}).encode()
status, headers, body = call("POST", f"/v2/models/{model}/infer", header + struct.pack(f"<{width}f", *row),
                             {"inference-header-content-length": str(len(header)),
                              "content-type": "application/octet-stream"})
check(status == 200, f"binary infer answered {status}: {body[:200]!r}")
headers = {name.lower(): value for name, value in headers.items()}
length = int(headers["inference-header-content-length"])
answer, offset, binary_outputs = json.loads(body[:length]), length, {}
for output in answer["outputs"]:
    size = output["parameters"]["binary_data_size"]
    check(output["datatype"] == "FP32", "FP32 outputs")
    binary_outputs[output["name"]] = list(struct.unpack(f"<{size // 4}f", body[offset:offset + size]))
    offset += size
check(offset == len(body), "binary sizes add up to the body")
seen["binary_outputs"] = binary_outputs

# A gzip body.
status, _, body = call("POST", f"/v2/models/{model}/infer", gzip.compress(json.dumps(request).encode()),
                       {"content-type": "application/json", "content-encoding": "gzip"})
check(status == 200, f"gzip infer answered {status}")
seen["gzip_outputs"] = {output["name"]: output["data"] for output in json.loads(body)["outputs"]}

# An error is the protocol's string, with switchyard's code beside it.
status, _, body = call("POST", "/v2/models/no-such-model/infer", json.dumps(request).encode())
error = json.loads(body)
check(status == 404 and isinstance(error["error"], str), "the error is a string")
seen["error_code"] = error["code"]
print(json.dumps(seen))
