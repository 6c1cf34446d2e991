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
  test/paced    LFS files sent in PACE_CHUNKS pieces PACE_S apart, so that a fetch takes a few
                seconds: its progress lines (stderr not a terminal: plain lines every 2 s and
                at the end) must report increasing byte counts over all files ending at the
                total; on a pseudo-terminal one line redrawn in place; --quiet prints none;
  test/full     fetched into a tmpfs of a fixed size (bubblewrap's --size --tmpfs, a real file
                system that fails with ENOSPC, no shim) with only about half the files' bytes
                free: one line naming the file and "no space left on device", exit 1, no
                partial blob linked into the snapshot, the .incomplete kept; after the filler
                is removed a rerun resumes it with a Range and completes. `convert --out` and
                `--to-hf` into a full tmpfs: the error, an existing output left intact, no
                temporary file left;
  anything else 404.
What is fetched must be huggingface_hub's cache layout and `calgae run --model ORG/NAME` must
give llama2.c's text from it.
Environment: CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP."""
import hashlib
import http.server
import json
import os
import pty
import re
import select
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
PACE_CHUNKS, PACE_S = 12, 0.55


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
        if repo == "test/paced" and is_lfs(name):
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            step = len(body) // PACE_CHUNKS + 1
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(PACE_S)
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
    for i, name in enumerate(["test/ok", "test/drop", "test/corrupt", "test/private", "test/slow",
                              "test/paced", "test/full"]):
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
        progress_tests(env)
        full_disk_tests(env)
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


PROGRESS = re.compile(r"^calgae: fetch (\d+)/(\d+) bytes \((\d+)%\), (\d+)/(\d+) files, ")


def progress_tests(env):
    files = REPOS["test/paced"]["files"]
    total = sum(len(d) for d in files.values())
    env = dict(env, HF_HOME=os.path.join(TMP, "hf-paced"))
    t0 = time.time()
    p = calgae("fetch-model", "test/paced", env=env)
    took = time.time() - t0
    lines = p.stderr.decode().splitlines()
    got = [PROGRESS.match(l) for l in lines]
    done = [int(m.group(1)) for m in got if m]
    check(p.returncode == 0 and all(got) and len(done) >= 3 and took > 2 * 2.0,
          "paced fetch (%.1f s): %d progress lines, every one in the format: %r"
          % (took, len(done), lines[:2]))
    check(all(int(m.group(2)) == total for m in got if m) and done and done[-1] == total and
          all(a < b for a, b in zip(done, done[1:])) and 0 < done[0] < total,
          "progress counts bytes over all files, increasing, ending at the total %d: %s"
          % (total, done))
    check(got and got[-1] and got[-1].group(4) == got[-1].group(5) == str(len(files)),
          "the last line counts every file")
    # a terminal: one line redrawn in place (\r and erase to the end of the line), ended once
    env["HF_HOME"] = os.path.join(TMP, "hf-paced-tty")
    master, slave = pty.openpty()
    proc = subprocess.Popen([BIN, "fetch-model", "test/paced"], stdout=subprocess.PIPE,
                            stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        try:
            chunk = os.read(master, 65536) if r else b""
        except OSError:
            chunk = b""
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(master)
    text = out.decode(errors="replace")
    last = text.split("\r\x1b[K")[-1]
    check(proc.returncode == 0 and text.count("\r\x1b[K") >= 5 and text.count("\n") == 1 and
          text.endswith("\n") and "(100%%), %d/%d files" % (len(files), len(files)) in last,
          "on a terminal: %d redraws of one line, one line end: %r"
          % (text.count("\r\x1b[K"), text[-120:]))
    # --quiet: nothing on stderr (a second fetch finds everything in the cache)
    p = calgae("fetch-model", "test/paced", "--quiet", env=env)
    check(p.returncode == 0 and p.stderr == b"", "--quiet prints no progress")
    p = calgae("fetch-model", "test/paced", env=env)
    check(p.returncode == 0 and PROGRESS.match(p.stderr.decode()) and
          p.stderr.count(b"\n") == 1, "without --quiet a cached fetch prints its final line")


def bwrap_tmpfs(size, mnt, script, env):
    """Runs script (sh) with a tmpfs of size bytes at mnt, a real file system that fills."""
    os.makedirs(mnt, exist_ok=True)
    return subprocess.run(["bwrap", "--dev-bind", "/", "/", "--size", str(size), "--tmpfs", mnt,
                           "sh", "-c", script], capture_output=True, timeout=300, env=env)


def check_snapshot(hub, repo, what):
    """Every link in the snapshot names a blob holding the file's bytes; returns the names."""
    r = REPOS[repo]
    snap = os.path.join(hub, "models--" + repo.replace("/", "--"), "snapshots", r["sha"])
    names = sorted(os.listdir(snap)) if os.path.isdir(snap) else []
    bad = [n for n in names if open(os.path.join(snap, n), "rb").read() != r["files"][n]]
    check(not bad, "%s: every file linked in the snapshot is whole (%d linked, bad: %s)"
          % (what, len(names), bad))
    return names


def full_disk_tests(env):
    files = REPOS["test/full"]["files"]
    total = sum(len(d) for d in files.values())
    mnt, out = os.path.join(TMP, "mnt"), os.path.join(TMP, "full-out")
    os.makedirs(out)
    size = 16 << 20
    filler = size - total // 2  # about half the files' bytes free
    script = """set -u
M=%(mnt)s O=%(out)s
head -c %(filler)d /dev/zero > $M/filler
HF_HOME=$M/hf %(bin)s fetch-model test/full --quiet --jobs 1 > $O/out1 2> $O/err1; echo $? > $O/rc1
cp -a $M/hf $O/step1
rm $M/filler
HF_HOME=$M/hf %(bin)s fetch-model test/full --quiet > $O/out2 2> $O/err2; echo $? > $O/rc2
cp -a $M/hf $O/step2
""" % dict(mnt=mnt, out=out, filler=filler, bin=BIN)
    del LOG[:]
    p = bwrap_tmpfs(size, mnt, script, env)
    check(p.returncode == 0, "bwrap with a %d-byte tmpfs runs: %s" % (size, p.stderr.decode()[:300]))
    if p.returncode != 0:
        return
    rd = lambda f: open(os.path.join(out, f), "rb").read().decode(errors="replace")  # noqa: E731
    err = rd("err1")
    check(rd("rc1").strip() == "1" and err.count("\n") == 1 and
          "no space left on device" in err and any(n in err for n in files) and
          "resume" in err, "full disk: one line naming the file: %s" % err.strip())
    hub1 = os.path.join(out, "step1", "hub")
    linked = check_snapshot(hub1, "test/full", "full disk")
    blobs = os.listdir(os.path.join(hub1, "models--test--full", "blobs"))
    partial = [b for b in blobs if b.endswith(".incomplete")]
    check(len(linked) < len(files) and partial and all(
        os.path.getsize(os.path.join(hub1, "models--test--full", "blobs", b)) > 0 for b in partial),
        "full disk: the failed file is not linked and its .incomplete is kept (%s)" % partial)
    check(rd("rc2").strip() == "0" and rd("err2") == "",
          "after space is freed the rerun succeeds: %s" % rd("err2").strip())
    check(len(check_snapshot(os.path.join(out, "step2", "hub"), "test/full", "rerun")) == len(files),
          "the rerun links every file")
    ranges = [r for (repo, f, r) in LOG if repo == "test/full" and r]
    check(any(int(r.split("=")[1].split("-")[0]) > 0 for r in ranges),
          "the rerun resumes with a Range: %s" % ranges)

    # convert --out / --to-hf into a full tmpfs: an existing output kept, nothing left behind
    gguf = os.path.join(MODELS, "stories260K.gguf")
    script = """set -u
M=%(mnt)s O=%(out)s
echo keep > $M/x.gguf
%(bin)s convert --model %(gguf)s --out $M/x.gguf 2> $O/cerr; echo $? > $O/crc
%(bin)s convert --model %(gguf)s --to-hf $M/dir 2> $O/herr; echo $? > $O/hrc
cp $M/x.gguf $O/x.gguf; ls -A $M > $O/list
""" % dict(mnt=mnt, out=out, bin=BIN, gguf=gguf)
    p = bwrap_tmpfs(os.path.getsize(gguf) // 2, mnt, script, env)
    cerr, herr = rd("cerr"), rd("herr")
    check(p.returncode == 0 and rd("crc").strip() == "1" and cerr.count("\n") == 1 and
          "no space left on device" in cerr.lower() and rd("x.gguf") == "keep\n",
          "convert --out on a full disk: one line, the old file kept: %s" % cerr.strip())
    check(rd("hrc").strip() == "1" and herr.count("\n") == 1 and
          "no space left on device" in herr.lower() and mnt + "/dir/" in herr,
          "convert --to-hf on a full disk: one line: %s" % herr.strip())
    check(rd("list").split() == ["x.gguf"], "no temporary file or folder left: %s" % rd("list").split())


if __name__ == "__main__":
    sys.exit(main())
