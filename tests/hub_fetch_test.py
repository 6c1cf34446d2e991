#!/usr/bin/python3
"""hub_fetch_test.py - `calgae fetch-model` against a hub-shaped HTTP server on 127.0.0.1 that
this test runs (Python's http.server), serving folders made by `convert --to-hf` from
stories260K; no other network. The server speaks the hub's API as huggingface_hub uses it:
GET /api/models/ORG/NAME/revision/REV?blobs=true (commit sha, files with size, git blob id and
LFS sha256 computed here with hashlib) and GET /ORG/NAME/resolve/COMMIT/FILE with HTTP Range;
it logs every request's Range header. Repositories with misbehaviour:
  test/drop     the first GET of the big file sends half of it and closes the connection:
                the fetch must resume with Range: bytes=N- (N > 0), not start over;
  test/corrupt  the first GET of each LFS file sends wrong bytes: refused, fetched again;
  test/private  401 without HF_TOKEN=good-token;
  test/slow     a file that stops after a few bytes: --timeout must end it;
  test/ggufs    several GGUFs: --include '*Q4_K_M.gguf' fetches that one only;
  anything else 404.
What is fetched must be huggingface_hub's cache layout and `calgae run --model ORG/NAME` must
give llama2.c's text from it.
Environment: CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP."""
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time

BIN = os.environ["CALGAE_BIN"]
MODELS = os.environ["CALGAE_MODELS"]
TMP = os.path.join(os.environ["CALGAE_TEST_TMP"], "hub_fetch_test.%d" % os.getpid())
failures = []
REPOS = {}     # name -> {"sha": commit, "files": {rfilename: bytes}}
LOG = []       # (repo, file, Range header or None)
STATE = {}     # per-repo misbehaviour already done


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def is_lfs(name):
    return name.endswith((".safetensors", ".gguf"))


class Hub(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            repo, rev = parts[2] + "/" + parts[3], parts[5]
        elif len(parts) >= 5 and parts[2] == "resolve":
            repo, rev = parts[0] + "/" + parts[1], parts[3]
        else:
            return self.send(404, b'{"error":"not found"}')
        if repo == "test/private" and self.headers.get("Authorization") != "Bearer good-token":
            return self.send(401, b'{"error":"Invalid credentials"}')
        r = REPOS.get(repo)
        if r is None:
            return self.send(404, b'{"error":"Repository not found"}')
        if parts[0] == "api":
            if rev not in ("main", r["sha"]):
                return self.send(404, b'{"error":"Invalid rev id"}')
            sib = []
            for name, data in sorted(r["files"].items()):
                e = {"rfilename": name, "size": len(data), "blobId": hashlib.sha1(
                    b"blob %d\0" % len(data) + data).hexdigest()}
                if is_lfs(name):
                    e["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                sib.append(e)
            return self.send(200, json.dumps({"id": repo, "sha": r["sha"], "siblings": sib}).encode())
        name = "/".join(parts[4:])
        data = r["files"].get(name)
        rng = self.headers.get("Range")
        LOG.append((repo, name, rng))
        if data is None or rev != r["sha"]:
            return self.send(404, b'{"error":"Entry not found"}')
        start = 0
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
        body = data[start:]
        code, extra = (206, [("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))]) \
            if rng else (200, [])
        key = (repo, name)
        if repo == "test/drop" and name == r["big"] and key not in STATE:
            STATE[key] = 1
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if repo == "test/corrupt" and is_lfs(name) and key not in STATE:
            STATE[key] = 1
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if repo == "test/slow" and is_lfs(name):
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:10])
            self.wfile.flush()
            time.sleep(8)
            self.close_connection = True
            return
        self.send(code, body, "application/octet-stream", extra)


def calgae(*args, env=None, timeout=120):
    return subprocess.run([BIN] + list(args), capture_output=True, timeout=timeout, env=env)


def folder_files(d):
    return {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)}


def main():
    os.makedirs(TMP)
    want = open(os.path.join(MODELS, "expected_stories260K_t0_n200.txt"), "rb").read()
    src = os.path.join(TMP, "src")
    p = calgae("convert", "--model", os.path.join(MODELS, "stories260K.gguf"), "--to-hf", src,
               "--shards", "2")
    check(p.returncode == 0, "convert --to-hf for the server")
    files = folder_files(src)
    big = max(files, key=lambda f: len(files[f]))
    for i, name in enumerate(["test/ok", "test/drop", "test/corrupt", "test/private", "test/slow"]):
        REPOS[name] = {"sha": hashlib.sha1(name.encode()).hexdigest(), "files": files, "big": big}
    gguf = open(os.path.join(MODELS, "stories260K.gguf"), "rb").read()
    REPOS["test/ggufs"] = {"sha": "ab" * 20, "files": {
        "stories-Q8_0.gguf": gguf + b"\0" * 32, "stories-Q4_K_M.gguf": gguf,
        "stories-F16.gguf": gguf + b"\0" * 64, "README.md": b"# stories\n"}}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, HF_ENDPOINT="http://127.0.0.1:%d" % server.server_address[1],
               HF_HOME=os.path.join(TMP, "hf"))
    env.pop("HF_TOKEN", None)
    env.pop("HF_HUB_CACHE", None)
    try:
        run_tests(env, want, big)
    finally:
        server.shutdown()
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


def run_tests(env, want, big):
    hub = os.path.join(TMP, "hf", "hub")
    # a plain fetch: the cache layout, then `run --model ORG/NAME`
    p = calgae("fetch-model", "test/ok", env=env)
    sha = REPOS["test/ok"]["sha"]
    snap = os.path.join(hub, "models--test--ok", "snapshots", sha)
    check(p.returncode == 0 and p.stdout.decode().strip() == snap,
          "fetch test/ok prints its snapshot: %s" % p.stderr.decode().strip())
    ref = open(os.path.join(hub, "models--test--ok", "refs", "main")).read().strip() \
        if p.returncode == 0 else ""
    check(ref == sha, "refs/main names the commit")
    ok = True
    for name, data in REPOS["test/ok"]["files"].items():
        link = os.path.join(snap, name)
        blob = hashlib.sha256(data).hexdigest() if is_lfs(name) else \
            hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        ok &= os.path.islink(link) and os.readlink(link) == "../../blobs/" + blob and \
            open(link, "rb").read() == data
    check(ok, "snapshot files are links ../../blobs/<sha256 or blob id> with the right bytes")
    p = calgae("run", "--model", "test/ok", "--temperature", "0", "--tokens", "200", env=env)
    check(p.returncode == 0 and p.stdout == want, "run --model test/ok greedy 200 = llama2.c")
    n = len(LOG)
    p = calgae("fetch-model", "test/ok", env=env)
    check(p.returncode == 0 and len(LOG) == n, "a second fetch downloads nothing")

    # a connection dropped mid-file: resumed with a Range, not restarted
    del LOG[:]
    p = calgae("fetch-model", "test/drop", env=env)
    gets = [r for (repo, f, r) in LOG if repo == "test/drop" and f == big]
    half = len(REPOS["test/drop"]["files"][big]) // 2
    check(p.returncode == 0 and len(gets) == 2 and gets[0] is None and
          gets[1] == "bytes=%d-" % half,
          "dropped connection resumes: requests %s (want None, bytes=%d-)" % (gets, half))
    p = calgae("run", "--model", "test/drop", "--temperature", "0", "--tokens", "200", env=env)
    check(p.returncode == 0 and p.stdout == want, "run --model test/drop = llama2.c")

    # a corrupted blob: refused by sha256, fetched again whole
    del LOG[:]
    p = calgae("fetch-model", "test/corrupt", env=env)
    gets = [r for (repo, f, r) in LOG if f == big]
    check(p.returncode == 0 and gets == [None, None],
          "corrupted blob refused and fetched again: %s %s" % (gets, p.stderr.decode().strip()))
    blobs = os.listdir(os.path.join(hub, "models--test--corrupt", "blobs"))
    check(not any(b.endswith(".incomplete") for b in blobs), "no .incomplete left")
    p = calgae("run", "--model", "test/corrupt", "--temperature", "0", "--tokens", "200", env=env)
    check(p.returncode == 0 and p.stdout == want, "run --model test/corrupt = llama2.c")

    # 401, then the same with HF_TOKEN; 404
    p = calgae("fetch-model", "test/private", env=env)
    err = p.stderr.decode()
    check(p.returncode == 1 and "401" in err and "HF_TOKEN" in err and err.count("\n") == 1,
          "401 without a token: %s" % err.strip())
    p = calgae("fetch-model", "test/private", env=dict(env, HF_TOKEN="good-token"))
    check(p.returncode == 0, "HF_TOKEN is sent: %s" % p.stderr.decode().strip())
    p = calgae("fetch-model", "test/missing", env=env)
    err = p.stderr.decode()
    check(p.returncode == 1 and "404" in err and err.count("\n") == 1, "404: %s" % err.strip())
    p = calgae("fetch-model", "test/ok", "--revision", "nope", env=env)
    check(p.returncode == 1 and "404" in p.stderr.decode(), "404 for a bad revision")

    # a stalled server: --timeout ends it
    t0 = time.time()
    p = calgae("fetch-model", "test/slow", "--timeout", "2", env=env)
    took = time.time() - t0
    err = p.stderr.decode()
    check(p.returncode == 1 and "timed out" in err and took < 60,
          "stalled transfer times out (%.1f s): %s" % (took, err.strip()))

    # one GGUF of many
    del LOG[:]
    p = calgae("fetch-model", "test/ggufs", "--include", "*Q4_K_M.gguf", env=env)
    snap = p.stdout.decode().strip()
    check(p.returncode == 0 and os.listdir(snap) == ["stories-Q4_K_M.gguf"] and
          [f for (_, f, _) in LOG] == ["stories-Q4_K_M.gguf"],
          "--include '*Q4_K_M.gguf' fetches that file only")
    p = calgae("run", "--model", "test/ggufs", "--temperature", "0", "--tokens", "200", env=env)
    check(p.returncode == 0 and p.stdout == want, "run --model test/ggufs = llama2.c")
    p = calgae("fetch-model", "test/ggufs", "--include", "*.nothing", env=env)
    check(p.returncode == 1 and "no file matches" in p.stderr.decode(), "an include that matches nothing")


if __name__ == "__main__":
    sys.exit(main())
