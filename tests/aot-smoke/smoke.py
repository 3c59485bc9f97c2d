#!/usr/bin/env python3
"""Smoke suite for the native AOT `suiron` binary.

Every CLI command and the server's endpoints run against ../shared/models/stories260K.gguf. The truth is the JIT
build of the same source (`dotnet Suiron.Cli.dll`), itself checked against llama.cpp by the xunit suites: greedy
text, tokens, model descriptions and chat answers must be byte-for-byte the same; server answers are checked for
what the request asked (a forced tool call with arguments valid for its schema, JSON matching a schema, a grammar's
language, SSE framing, embedding width, the web chat page).

usage: smoke.py AOT_BINARY JIT_DLL MODEL WORKDIR
"""
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

aot, jit_dll, model, work = sys.argv[1:5]
failures = []
checks = 0


def check(condition, what, detail=""):
    global checks
    checks += 1
    if condition:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}\n     {detail}"[:4000])
        failures.append(what)


def run(binary_args, args, stdin=None, env=None):
    merged = dict(os.environ)
    merged.update(env or {})
    p = subprocess.run(binary_args + args, input=(stdin or "").encode(), capture_output=True, timeout=300, env=merged)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def both(args, stdin=None, env=None):
    return run([aot], args, stdin, env), run(["dotnet", jit_dll], args, stdin, env)


def same_as_jit(what, args, stdin=None, env=None, stdout_only=True):
    (rc, out, err), (jrc, jout, jerr) = both(args, stdin, env)
    check(rc == 0 and jrc == 0, f"{what}: exit 0 (aot {rc}, jit {jrc})", err[-800:] + jerr[-800:])
    check(out == jout, f"{what}: output equals the JIT build's", f"aot:\n{out[:1500]}\njit:\n{jout[:1500]}")
    if not stdout_only:
        check(err == jerr, f"{what}: stderr equals the JIT build's", f"aot:\n{err[:1500]}\njit:\n{jerr[:1500]}")
    return out, err


# ---------------------------------------------------------------- CLI
rc, out, err = run([aot], ["--help"])
check(rc == 0 and "Usage:\n  suiron [command] [options]" in out, "--help says 'Usage: suiron'", out[:400])
for command in ["run", "chat", "serve", "info", "tokenize", "quantize", "perplexity", "bench", "template", "pull", "cluster"]:
    rc, out, err = run([aot], [command, "--help"])
    check(rc == 0 and f"suiron {command}" in out and "Suiron.Cli" not in out, f"{command} --help names 'suiron {command}'", out[:300])
rc, out, err = run([aot], ["--version"])
check(rc == 0 and re.match(r"^\d+\.\d+\.\d+", out), "--version prints a version", out)

out, _ = same_as_jit("info", ["info", model])
check(re.search(r"hyper-parameters:\n  Architecture +llama\n", out) is not None and "  EmbeddingLength          64\n" in out,
      "info prints the hyper-parameters (embedding 64, as the GGUF says)", out[:800])
same_as_jit("info -m", ["info", "-m", model])
same_as_jit("tokenize", ["tokenize", "-m", model, "-p", "Once upon a time, 日本語 🦙"])
same_as_jit("tokenize --ids", ["tokenize", "-m", model, "-p", "Lily and Tom", "--ids"])
out, _ = same_as_jit("run greedy", ["run", "-m", model, "-p", "Once upon a time", "-n", "48", "--temp", "0", "-t", "2"])
check("Lily" in out, "run greedy writes the known story (a girl named Lily)", out)
same_as_jit("run seeded sampling", ["run", "-m", model, "-p", "Lily", "-n", "32", "--temp", "1", "--seed", "7", "-t", "2"])
same_as_jit("run --spec ngram", ["run", "-m", model, "-p", "Once upon a time", "-n", "32", "--temp", "0", "--spec", "ngram", "-t", "2"])
same_as_jit("chat (piped)", ["chat", "-m", model, "--temp", "0", "-n", "24", "-t", "2"], stdin="Hello\nTell me a story\n")
template = os.path.join(work, "t.jinja")
with open(template, "w") as f:
    f.write("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}")
context = os.path.join(work, "c.json")
with open(context, "w") as f:
    json.dump({"messages": [{"role": "user", "content": "こんにちは"}], "add_generation_prompt": True}, f, ensure_ascii=False)
out, _ = same_as_jit("template", ["template", "--template", template, "--context", context])
check("<user>こんにちは" in out, "template renders the conversation", out)
hunyuan = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "templates", "Hunyuan-A13B-Instruct.jinja")
out, _ = same_as_jit("template --tool-format", ["template", "--template", hunyuan, "--tool-format"])
check(out == "hunyuan-a13b\n", "template --tool-format names Hunyuan-A13B's call syntax", out)
text = os.path.join(work, "ppl.txt")
with open(text, "w") as f:
    f.write("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " * 6)
# The JIT picks the widest vectors the CPU has (512-bit where present), the AOT binary the ones fixed at publish (256-bit):
# sums in another order, so the perplexity agrees to rounding rather than to the last digit.
(rc, out, err), (jrc, jout, jerr) = both(["perplexity", "-m", model, "-f", text, "-c", "32", "-t", "2"])
ppl, jppl = (re.search(r"PPL = ([\d.]+)", o) for o in (out, jout))
check(rc == 0 and jrc == 0 and ppl and jppl and abs(float(ppl.group(1)) - float(jppl.group(1))) <= 1e-3 * float(jppl.group(1)),
      "perplexity: equals the JIT build's to 0.1 %", out + err[-400:] + jout)
quantized_aot, quantized_jit = os.path.join(work, "q-aot.gguf"), os.path.join(work, "q-jit.gguf")
rc, _, err = run([aot], ["quantize", model, quantized_aot, "Q4_K_M"])
jrc, _, jerr = run(["dotnet", jit_dll], ["quantize", model, quantized_jit, "Q4_K_M"])
check(rc == 0 and jrc == 0, "quantize Q4_K_M: exit 0", err + jerr)
check(os.path.exists(quantized_aot) and open(quantized_aot, "rb").read() == open(quantized_jit, "rb").read(),
      "quantize Q4_K_M: the file equals the JIT build's byte for byte")
rc, out, err = run([aot], ["imatrix", "--help"])
check(rc == 0 and "suiron imatrix" in out, "imatrix --help names 'suiron imatrix'", out[:300])
imatrix_aot, imatrix_jit = os.path.join(work, "aot.imatrix.gguf"), os.path.join(work, "jit.imatrix.gguf")
rc, _, err = run([aot], ["imatrix", "-m", model, "-f", text, "-o", imatrix_aot, "-c", "32", "--chunks", "2", "-t", "2"])
jrc, _, jerr = run(["dotnet", jit_dll], ["imatrix", "-m", model, "-f", text, "-o", imatrix_jit, "-c", "32", "--chunks", "2", "-t", "2"])
check(rc == 0 and jrc == 0 and os.path.exists(imatrix_aot) and os.path.exists(imatrix_jit), "imatrix: exit 0, file written", err + jerr)
weighted_aot, weighted_jit = os.path.join(work, "qi-aot.gguf"), os.path.join(work, "qi-jit.gguf")
rc, _, err = run([aot], ["quantize", model, weighted_aot, "Q4_K_M", "--imatrix", imatrix_jit])
jrc, _, jerr = run(["dotnet", jit_dll], ["quantize", model, weighted_jit, "Q4_K_M", "--imatrix", imatrix_jit])
check(rc == 0 and jrc == 0 and open(weighted_aot, "rb").read() == open(weighted_jit, "rb").read(),
      "quantize --imatrix: the file equals the JIT build's byte for byte", err + jerr)
same_as_jit("run on the quantized file", ["run", "-m", quantized_aot, "-p", "Once upon a time", "-n", "24", "--temp", "0", "-t", "2"])
rc, out, err = run([aot], ["bench", "-m", model, "-p", "8", "-n", "8", "-r", "1", "-t", "2", "--json"])
check(rc == 0 and json.loads(out) is not None, "bench --json: exit 0, JSON output", err[-800:] + out[:400])
rc, out, err = run([aot], ["frobnicate"])
check(rc == 2 and err.count("error:") == 1, "unknown command: one error, exit 2", err)
rc, out, err = run([aot], ["run", "-m", model, "-p", "x", "-n", "abc"])
check(rc == 2 and "not a whole number" in err and "suiron run --help" in err, "bad number: friendly error pointing at 'suiron run --help'", err)
# The native binary is built without Orleans: asking it for a cluster is a usage error that names the build that has one.
rc, out, err = run([aot], ["serve", "-m", model, "--cluster", "redis://127.0.0.1:6379", "--port", "0"])
check(rc == 2 and "no cluster support" in err and "dotnet tool install" in err, "serve --cluster: the native binary says to use the .NET tool", err)

# pull from a local hub (python's file server laid out as the hub's URLs)
hub = os.path.join(work, "hub")
os.makedirs(os.path.join(hub, "api", "models", "someone"), exist_ok=True)
os.makedirs(os.path.join(hub, "someone", "tiny", "resolve", "main"), exist_ok=True)
shutil.copy(model, os.path.join(hub, "someone", "tiny", "resolve", "main", "stories.gguf"))
with open(os.path.join(hub, "api", "models", "someone", "tiny"), "w") as f:
    json.dump({"siblings": [{"rfilename": "README.md"}, {"rfilename": "stories.gguf"}]}, f)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=hub, **kwargs)

    def log_message(self, *args):
        pass


hub_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
threading.Thread(target=hub_server.serve_forever, daemon=True).start()
pulled = os.path.join(work, "pulled")
rc, out, err = run([aot], ["pull", "someone/tiny", "--dir", pulled, "--endpoint", f"http://127.0.0.1:{hub_server.server_address[1]}/"])
target = os.path.join(pulled, "stories.gguf")
check(rc == 0 and out.strip() == target and open(target, "rb").read() == open(model, "rb").read(),
      "pull: the repository's only GGUF file arrives whole", err[-800:])
hub_server.shutdown()

# ---------------------------------------------------------------- server
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([aot, "serve", "-m", model, "--port", str(port), "-t", "2", "--parallel", "2"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def request(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request(method, path, body=None if body is None else json.dumps(body), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, data


try:
    for _ in range(300):
        try:
            if request("GET", "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    status, body = request("GET", "/health")
    check(status == 200, "serve: /health 200", body)

    status, body = request("GET", "/")
    check(status == 200 and "<html" in body.lower(), "serve: the web chat page at /", body[:200])
    status, body = request("GET", "/v1/models")
    check(status == 200 and json.loads(body)["data"], "serve: /v1/models lists the model", body)

    # The server's greedy completion is the CLI's greedy continuation (both add BOS, both stop at 48 tokens).
    status, body = request("POST", "/v1/completions", {"prompt": "Once upon a time", "max_tokens": 48, "temperature": 0})
    _, jit_text, _ = run(["dotnet", jit_dll], ["run", "-m", model, "-p", "Once upon a time", "-n", "48", "--temp", "0", "-t", "2"])
    check(status == 200 and json.loads(body)["choices"][0]["text"] == jit_text,
          "serve: greedy /v1/completions equals the JIT CLI's greedy run", body[:600] + "\n" + jit_text)

    status, body = request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16, "temperature": 0})
    check(status == 200 and json.loads(body)["choices"][0]["message"]["role"] == "assistant", "serve: chat completion 200", body[:600])

    weather = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10},
                                                "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "days"]}
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": weather}}]
    status, body = request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Weather in Tokyo?"}],
                                                            "tools": tools, "tool_choice": "required", "temperature": 1, "seed": 4, "max_tokens": 120})
    ok = status == 200
    if ok:
        choice = json.loads(body)["choices"][0]
        calls = choice["message"].get("tool_calls") or []
        ok = choice["finish_reason"] == "tool_calls" and len(calls) >= 1 and calls[0]["function"]["name"] == "get_weather"
        if ok:
            args = json.loads(calls[0]["function"]["arguments"])
            ok = isinstance(args.get("city"), str) and len(args["city"]) <= 10 and isinstance(args.get("days"), int) and 1 <= args["days"] <= 7
    check(ok, "serve: chat with tools (required) answers 200 with a get_weather call valid for its schema", body[:800])

    status, body = request("POST", "/v1/messages", {"model": "stories260K", "max_tokens": 120, "temperature": 1,
                                                    "messages": [{"role": "user", "content": "Weather?"}],
                                                    "tools": [{"name": "get_weather", "input_schema": weather}], "tool_choice": {"type": "any"}})
    ok = status == 200
    if ok:
        reply = json.loads(body)
        uses = [b for b in reply["content"] if b["type"] == "tool_use"]
        ok = reply["stop_reason"] == "tool_use" and uses and uses[0]["name"] == "get_weather" and 1 <= uses[0]["input"]["days"] <= 7
    check(ok, "serve: /v1/messages with tools answers a tool_use valid for its schema", body[:800])

    status, body = request("POST", "/v1/completions", {"prompt": "Once", "max_tokens": 60, "temperature": 1, "seed": 5,
                                                       "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "integer", "minimum": 1, "maximum": 9}}}})
    ok = status == 200
    if ok:
        value = json.loads(json.loads(body)["choices"][0]["text"])
        ok = isinstance(value, int) and 1 <= value <= 9
    check(ok, "serve: json_schema output is an integer in 1..9", body[:600])

    status, body = request("POST", "/v1/completions", {"prompt": "Once upon a time", "max_tokens": 40, "temperature": 1, "seed": 5,
                                                       "grammar": "root ::= (\"yes\" | \"no\") \" \" [a-z]{1,5}"})
    check(status == 200 and re.fullmatch(r"(yes|no) [a-z]{1,5}", json.loads(body)["choices"][0]["text"]) is not None,
          "serve: a GBNF grammar's output is in its language", body[:600])

    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", "/v1/chat/completions", body=json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16,
                                                               "temperature": 0, "stream": True}), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    stream = r.read().decode()
    c.close()
    events = [line[6:] for line in stream.split("\n") if line.startswith("data: ")]
    streamed = "".join((json.loads(e)["choices"][0]["delta"].get("content") or "") for e in events[:-1] if json.loads(e)["choices"])
    status, body = request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16, "temperature": 0})
    check(r.status == 200 and r.getheader("Content-Type", "").startswith("text/event-stream") and events and events[-1] == "[DONE]"
          and streamed == json.loads(body)["choices"][0]["message"]["content"],
          "serve: streaming chat sends SSE chunks ending in [DONE] whose text equals the unstreamed answer", stream[:800])

    status, body = request("POST", "/v1/embeddings", {"input": ["Once upon a time", "日本語"]})
    ok = status == 200
    if ok:
        data = json.loads(body)["data"]
        ok = len(data) == 2 and all(len(d["embedding"]) == 64 for d in data)
    check(ok, "serve: /v1/embeddings gives two 64-wide vectors (the model's embedding width)", body[:400])

    # The Responses API, twice: the second turn continues the first by previous_response_id (JSON trees built at run time).
    status, body = request("POST", "/v1/responses", {"input": "Tell me a story", "max_output_tokens": 16, "temperature": 0,
                                                     "store": True, "tools": [{"type": "function", "name": "get_weather", "parameters": weather}]})
    ok = status == 200 and json.loads(body)["object"] == "response" and json.loads(body)["output"]
    if ok:
        first = json.loads(body)["id"]
        status, body = request("POST", "/v1/responses", {"input": [{"role": "user", "content": "And then?"}], "max_output_tokens": 16,
                                                         "temperature": 0, "previous_response_id": first})
        ok = status == 200 and json.loads(body)["usage"]["input_tokens"] > 0
    check(ok, "serve: /v1/responses answers, and a second turn by previous_response_id", body[:600])

    status, body = request("POST", "/tokenize", {"content": "Once upon a time", "with_pieces": True})
    pieces = json.loads(body).get("tokens", []) if status == 200 else []
    ok = status == 200 and pieces and all("id" in t and "piece" in t for t in pieces)
    if ok:
        status, body = request("POST", "/detokenize", {"tokens": [t["id"] for t in pieces]})
        ok = status == 200 and json.loads(body)["content"].strip() == "Once upon a time"
    check(ok, "serve: /tokenize with pieces and /detokenize round-trip", body[:400])
    status, body = request("POST", "/apply-template", {"messages": [{"role": "user", "content": "Hi"}]})
    check(status == 200 and "Hi" in json.loads(body)["prompt"], "serve: /apply-template renders the chat", body[:400])
    status, body = request("GET", "/props")
    check(status == 200 and "default_generation_settings" in json.loads(body), "serve: /props", body[:400])
    status, body = request("POST", "/v1/messages/count_tokens", {"model": "stories260K", "messages": [{"role": "user", "content": "Hi"}]})
    check(status == 200 and json.loads(body)["input_tokens"] > 0, "serve: /v1/messages/count_tokens", body[:400])

    status, body = request("POST", "/v1/chat/completions", {"messages": "not a list"})
    check(status == 400 and "error" in json.loads(body), "serve: a malformed request gets 400 with an error body", body[:400])
finally:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    _, server_err = server.communicate()
check(server.returncode in (0, -15, 143), f"serve: stops cleanly on SIGTERM (exit {server.returncode})", server_err.decode()[-800:])
quiet = server_err.decode()
check(f"suiron: web chat at http://127.0.0.1:{port}/" in quiet and "info:" not in quiet and "Microsoft." not in quiet,
      "serve: quiet console by default, the banner names the web chat", quiet[-1200:])

# --verbose --log-format json: one JSON object per log line, a request line among them
server = subprocess.Popen([aot, "serve", "-m", model, "--port", str(port), "-t", "1", "--verbose", "--log-format", "json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    for _ in range(300):
        try:
            if request("GET", "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
finally:
    server.terminate()
    _, logged = server.communicate(timeout=30)
events = [json.loads(line) for line in logged.decode().splitlines() if line.startswith("{")]
check(any(e.get("Category") == "Microsoft.AspNetCore.Hosting.Diagnostics" and "/health" in e.get("Message", "") for e in events)
      and all({"Timestamp", "LogLevel", "Category", "Message"} <= e.keys() for e in events),
      "serve --verbose --log-format json: JSON log lines, the request among them", logged.decode()[-1200:])

# the port-in-use path: one clean line, no stack trace
blocker = socket.socket()
blocker.bind(("127.0.0.1", 0))
blocker.listen()
rc, out, err = run([aot], ["serve", "-m", model, "--port", str(blocker.getsockname()[1]), "-t", "1"])
blocker.close()
check(rc == 1 and "   at " not in out + err and "error: cannot listen on" in err, "serve on a busy port: one clean error, exit 1", out[-600:] + err[-600:])

# several models in one server: each request routed by its 'model', loaded on first use, one at a time (--models-max 1)
tiny = os.path.join(os.path.dirname(model), "llama-2-tiny-random.gguf")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([aot, "serve", "-m", model, "-m", tiny, "--models-max", "1", "--port", str(port), "-t", "2", "-c", "256"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    for _ in range(300):
        try:
            if request("GET", "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    def states():
        status, body = request("GET", "/v1/models")
        return status, {m["id"]: m["status"]["value"] for m in json.loads(body)["data"]} if status == 200 else body
    status, listed = states()
    check(status == 200 and listed == {"stories260K": "unloaded", "llama-2-tiny-random": "unloaded"}, "serve with two models: /v1/models lists both, unloaded", str(listed))
    status, body = request("POST", "/v1/completions", {"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 48, "temperature": 0})
    check(status == 200 and json.loads(body)["choices"][0]["text"] == jit_text, "serve with two models: stories260K's greedy completion equals the JIT CLI's run", body[:600])
    status, body = request("POST", "/v1/completions", {"model": "llama-2-tiny-random", "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0})
    _, jit_tiny, _ = run(["dotnet", jit_dll], ["run", "-m", tiny, "-p", "Once upon a time", "-n", "8", "--temp", "0", "-t", "2"])
    check(status == 200 and json.loads(body)["choices"][0]["text"] == jit_tiny, "serve with two models: llama-2-tiny-random's greedy completion equals the JIT CLI's run", body[:600] + "\n" + jit_tiny)
    status, listed = states()
    check(listed == {"stories260K": "unloaded", "llama-2-tiny-random": "loaded"}, "serve with two models: loading one unloaded the other", str(listed))
    status, body = request("POST", "/models/unload", {"model": "llama-2-tiny-random"})
    check(status == 200 and json.loads(body) == {"success": True} and states()[1]["llama-2-tiny-random"] == "unloaded", "serve with two models: /models/unload", body)
    status, body = request("POST", "/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "hi"}]})
    check(status == 404 and json.loads(body)["error"]["code"] == "model_not_found", "serve with two models: an unknown model gets 404", body)
finally:
    server.terminate()
    server.communicate(timeout=30)

print(f"\n{checks - len(failures)} of {checks} checks passed")
if failures:
    print("failed:\n  " + "\n  ".join(failures))
    sys.exit(1)
