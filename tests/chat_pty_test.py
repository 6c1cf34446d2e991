#!/usr/bin/python3
"""chat_pty_test.py - `calgae chat` driven through a pseudo-terminal, as a person at a terminal
would use it: typed lines, the up arrow, Ctrl-C, Ctrl-D, /save and /load. Each check asserts
on what the program did (its answers, the per-turn stats `-v` prints, the files it wrote), so
a chat that ignores a key or loses its cache fails here.

Environment (tests/CMakeLists.txt): CALGAE_BIN, CALGAE_MODELS (stories260K.gguf),
CALGAE_TEST_TMP, CALGAE_GEN_MODEL (bench/gen_model, for a model slow enough that an answer
is still running when Ctrl-C comes).
"""
import fcntl
import os
import pty
import random
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

BIN = os.environ["CALGAE_BIN"]
MODEL = os.path.join(os.environ["CALGAE_MODELS"], "stories260K.gguf")
TMP = os.path.join(os.environ.get("CALGAE_TEST_TMP", "/tmp"), "chat_pty")
UP = b"\x1b[A"
STATS = re.compile(rb"turn: prefilled (\d+) tokens \(the conversation has (\d+)\), (\d+) generated")


class Chat:
    """One `calgae chat` on a pty; everything it writes (stdout and stderr) is read back."""

    def __init__(self, args, state_home, cmd="chat"):
        env = dict(os.environ, TERM="xterm", HOME=state_home, XDG_STATE_HOME=state_home,
                   LC_ALL="C.UTF-8")
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execve(BIN, [BIN, cmd] + args, env)
            finally:
                os._exit(127)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.pid, self.fd, self.out, self.mark, self.status = pid, fd, b"", 0, None

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child has gone
            data = b""
        if not data:
            raise EOFError("calgae exited; it wrote:\n" + self.text())
        self.out += data
        return True

    def expect(self, pattern, timeout=30):
        """Waits for pattern (bytes or compiled regex) in what came after the last expect."""
        rx = pattern if hasattr(pattern, "search") else re.compile(re.escape(pattern))
        end = time.time() + timeout
        while True:
            m = rx.search(self.out, self.mark)
            if m:
                self.mark = m.end()
                return m
            if time.time() > end:
                raise AssertionError("timed out waiting for %r; calgae wrote:\n%s"
                                     % (rx.pattern, self.text()))
            try:
                self._read(min(0.5, max(0.01, end - time.time())))
            except EOFError as e:
                raise AssertionError("waiting for %r: %s" % (rx.pattern, e))

    def prompt(self, timeout=30):
        """Waits for the prompt, and for libedit's raw mode: a key sent while the terminal is
        still in cooked mode would be echoed, or (Ctrl-D) taken by the kernel's line editing."""
        self.expect(b"> ", timeout)
        end = time.time() + timeout
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:
            if time.time() > end:
                raise AssertionError("the terminal never left cooked mode")
            time.sleep(0.01)

    def send(self, data):
        os.write(self.fd, data)

    def line(self, text):
        """Types a line at the prompt and returns the turn's stats (prefilled, conversation,
        generated) and the answer's text."""
        self.prompt()
        self.send(text.encode() + b"\r")
        start = self.mark
        m = self.expect(STATS)
        answer = self.out[start:m.start()]
        return tuple(int(x) for x in m.groups()), answer

    def wait(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:
                self._read(0.1)
            except EOFError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("calgae did not exit; it wrote:\n" + self.text())

    def text(self):
        return self.out.decode("utf-8", "replace")[-3000:]


def fresh_home(name):
    d = os.path.join(TMP, name)
    subprocess.run(["rm", "-rf", d], check=True)
    os.makedirs(d)
    return d


def greedy(extra=()):
    return ["-m", MODEL, "--temperature", "0", "-t", "1", "-v"] + list(extra)


def test_reuse_history_exit():
    home = fresh_home("history")
    c = Chat(greedy(["-n", "60"]), home)
    (p1, n1, g1), _ = c.line("Once upon a time")
    assert (p1, n1) == (5, 5), "first turn: BOS + 4 tokens, got %d of %d" % (p1, n1)
    (p2, n2, _), _ = c.line("The dog")
    # reuse: only " The dog" is prefilled, not the conversation before it
    assert p2 <= 4 and n2 >= n1 + g1, "second turn prefilled %d of %d tokens" % (p2, n2)
    print("prefill per turn with reuse: %d tokens; without: %d (the whole conversation)"
          % (p2, n2))
    # the up arrow recalls "The dog"; Enter sends it again
    c.prompt()
    c.send(UP)
    c.expect(b"The dog")
    c.send(b"\r")
    m = c.expect(STATS)
    assert int(m.group(1)) <= 4, "the recalled line's turn prefilled %s tokens" % m.group(1)
    # Ctrl-C at the prompt clears the line: "abc" must not reach the conversation
    c.prompt()
    c.send(b"abc")
    c.expect(b"abc")
    c.send(b"\x03")
    saved = os.path.join(home, "after_ctrl_c.chat")
    c.prompt()
    c.send(b"/save " + saved.encode() + b"\r")
    c.expect(b"saved 6 messages")
    with open(saved, "rb") as f:
        assert b"abc" not in f.read(), "Ctrl-C at the prompt did not clear the line"
    # Ctrl-D at an empty prompt quits
    c.prompt()
    c.send(b"\x04")
    assert c.wait() == 0, "exit status after Ctrl-D"
    with open(os.path.join(home, "calgae", "history"), "rb") as f:
        hist = f.read()
    assert b"The\\040dog" in hist or b"The dog" in hist, "history file: %r" % hist
    # a new session recalls the last session's line; `exit` quits
    c = Chat(greedy(), home)
    c.prompt()
    c.send(UP)
    c.expect(re.compile(rb"/save \S*after_ctrl_c"))
    c.send(b"\x01\x0b")  # Ctrl-A, Ctrl-K: clear it
    c.send(b"exit\r")
    assert c.wait() == 0, "exit status after 'exit'"


def test_ctrl_c_keeps_session():
    home = fresh_home("ctrl_c")
    gen = os.environ.get("CALGAE_GEN_MODEL")
    assert gen, "CALGAE_GEN_MODEL (bench/gen_model) is not set"
    slow = os.path.join(home, "slow.gguf")
    # random weights in stories110M's shape: about 6 s for a full answer on one thread, and no
    # EOS, so the answer is surely still running when Ctrl-C comes
    subprocess.run([gen, "--shape", "stories110M", "--type", "q4_0", "--vocab",
                    os.path.join(os.environ["CALGAE_MODELS"], "tok512.bin"), "--out", slow],
                   check=True, stdout=subprocess.DEVNULL)
    c = Chat(["-m", slow, "--temperature", "0", "-t", "1", "-v", "-n", "1000"], home)
    c.prompt()
    c.send(b"Once upon a time\r")
    time.sleep(0.5)
    c.send(b"\x03")
    c.expect(b"stopped (Ctrl-C)")
    m = c.expect(STATS)
    assert int(m.group(3)) < 900, "Ctrl-C did not stop the answer (%s tokens)" % m.group(3)
    # the session goes on: another turn reuses the cache (and is stopped the same way, since
    # a whole answer of this model is slow in a sanitizer build)
    c.prompt()
    c.send(b"Tom\r")
    time.sleep(0.5)
    c.send(b"\x03")
    c.expect(b"stopped (Ctrl-C)")
    p, n, g = (int(x) for x in c.expect(STATS).groups())
    assert p <= 3 and n > int(m.group(3)), "turn after Ctrl-C prefilled %d of %d" % (p, n)
    c.prompt()
    c.send(b"exit\r")
    assert c.wait() == 0


def test_overflow():
    home = fresh_home("overflow")
    c = Chat(greedy(["--ctx", "64", "-n", "16", "--system", "Lily and Tom"]), home)
    dropped = 0
    for i in range(8):
        (p, n, g), answer = c.line("Once upon a time there was a dog")
        assert n + g <= 64, "the conversation outgrew the context: %d + %d" % (n, g)
        dropped += b"context full: dropped" in answer
    assert dropped > 0, "eight turns in 64 tokens never dropped a turn"
    saved = os.path.join(home, "o.chat")
    c.prompt()
    c.send(b"/save " + saved.encode() + b"\r")
    c.expect(b"saved")
    with open(saved, "rb") as f:
        body = f.read()
    assert b"system 12\nLily and Tom\n" in body, "the system prompt was not kept"
    # a message that can never fit is refused, and the session goes on
    c.prompt()
    c.send(b"a very long message " * 20 + b"\r")
    c.expect(b"more than the context of 64 holds")
    (p, n, g), _ = c.line("Tom")
    assert n <= 64
    c.prompt()
    c.send(b"\x04")
    assert c.wait() == 0


def test_save_load():
    home = fresh_home("save")
    saved = os.path.join(home, "s.chat")
    a = Chat(greedy(["-n", "40"]), home)
    a.line("Once upon a time")
    a.line("The dog")
    a.prompt()
    a.send(b"/save " + saved.encode() + b"\r")
    a.expect(b"saved 4 messages")
    (_, n_a, _), answer_a = a.line("She")
    a.prompt()
    a.send(b"exit\r")
    assert a.wait() == 0
    b = Chat(greedy(["-n", "40"]), home)
    b.prompt()
    b.send(b"/load " + os.path.join(home, "nosuch").encode() + b"\r")
    b.expect(b"cannot read")
    with open(os.path.join(home, "bad.chat"), "wb") as f:
        f.write(open(saved, "rb").read()[:-10])
    b.prompt()
    b.send(b"/load " + os.path.join(home, "bad.chat").encode() + b"\r")
    b.expect(b"damaged")
    b.prompt()
    b.send(b"/load " + saved.encode() + b"\r")
    b.expect(b"loaded 4 messages")
    (p_b, n_b, _), answer_b = b.line("She")
    # the loaded cache is used as is: only " She" is prefilled, and the answer is the same
    assert p_b <= 2 and n_b == n_a, "after /load: prefilled %d, conversation %d (not %d)" % (
        p_b, n_b, n_a)
    strip = lambda s: s.rsplit(b"She\r\n", 1)[-1]  # the echoed line (maybe twice)
    assert strip(answer_a) == strip(answer_b), "answers differ:\n%r\n%r" % (answer_a, answer_b)
    b.prompt()
    b.send(b"/reset\r")
    b.expect(b"conversation cleared")
    (p, n, _), _ = b.line("Once upon a time")
    assert (p, n) == (5, 5), "after /reset the cache starts over: %d of %d" % (p, n)
    b.prompt()
    b.send(b"\x04")
    assert b.wait() == 0


def test_run_interactive():
    home = fresh_home("run_i")
    c = Chat(["-i"] + greedy(["-n", "20"]), home, cmd="run")
    c.expect(b"chat template plain")
    (p, n, g), _ = c.line("Once upon a time")
    assert (p, n) == (5, 5)
    c.prompt()
    c.send(b"exit\r")
    assert c.wait() == 0


def test_ctrl_c_between_keys():
    """Ctrl-C at the prompt as a signal races the key reads: it can land while the last key is
    being echoed (before the next read), and it flushes the terminal's queue (after select said
    a read would not block). Either way the prompt must come back. The old blocking read hung
    within a few hundred tries here; the delays (0-2 ms) scatter the signal over the window."""
    home = fresh_home("ctrl_c_race")
    c = Chat(greedy(["-n", "10"]), home)
    rng = random.Random(7)
    c.prompt()
    for i in range(600):
        c.send(b"a" * 40)
        time.sleep(rng.random() * 0.002)
        c.send(b"\x03")
        try:
            c.prompt(timeout=10)
        except AssertionError:
            raise AssertionError("Ctrl-C number %d did not bring the prompt back; calgae wrote:"
                                 "\n%s" % (i + 1, c.text()))
    # the cancelled keys reached nothing: the first turn is BOS + "Once upon a time"
    c.send(b"Once upon a time\r")
    m = c.expect(STATS)
    assert int(m.group(1)) == 5, "cancelled keys reached the conversation: %s" % m.group(0)
    c.prompt()
    c.send(b"exit\r")
    assert c.wait() == 0


def main():
    os.makedirs(TMP, exist_ok=True)
    failed = 0
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print("ok   %s" % name)
            except AssertionError as e:
                failed += 1
                print("FAIL %s: %s" % (name, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
