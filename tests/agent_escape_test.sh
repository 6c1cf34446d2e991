#!/usr/bin/env bash
# agent_escape_test.sh CASE - one escape attempt through `calgae agent exec`, and its benign
# twin. The escape must fail in the way the sandbox promises (checked on the host, not only by
# exit status); the twin, the same kind of act done inside the sandbox's rights, must succeed,
# so a sandbox that simply runs nothing fails the test.
#
# Cases: write read tcp forkbomb membomb loop output killparent background ptrace.
# Run by ctest (tests/CMakeLists.txt) with CALGAE_BIN and CALGAE_TEST_TMP set.
set -u
case_name=${1:?case}
for v in CALGAE_BIN CALGAE_TEST_TMP; do
    [ -n "${!v:-}" ] || { echo "FAIL: $v is not set (run through ctest)" >&2; exit 1; }
done
tmp="$CALGAE_TEST_TMP/agent_escape_$case_name"
rm -rf "$tmp"
mkdir -p "$tmp"
failures=0
fail() { echo "FAIL [$case_name]: $*" >&2; failures=$((failures + 1)); }
show() { echo "--- stdout:" >&2; head -c 3000 "$tmp/out" >&2; echo "--- stderr:" >&2; head -c 2000 "$tmp/err" >&2; }

# agent NAME LANG [flags]: runs the code on stdin as a fenced LANG block; sets rc and ms
agent() {
    local name=$1 lang=$2
    shift 2
    { echo "Here is the program:"; echo "\`\`\`$lang"; cat; echo "\`\`\`"; } >"$tmp/$name.md"
    local t0=$(date +%s%N)
    "$CALGAE_BIN" agent exec "$tmp/$name.md" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    cp "$tmp/out" "$tmp/$name.out"
    ms=$((($(date +%s%N) - t0) / 1000000))
}
expect_ok() { [ "$rc" = 0 ] || { fail "$1: benign twin failed (rc $rc)"; show; }; }
expect_fail() { [ "$rc" != 0 ] || { fail "$1: escape reported success"; show; }; }
# live (not zombie: those wait only for the host's init to reap them) processes of uid 65534
live_nobody() { ps -u 65534 -o stat= 2>/dev/null | grep -vc '^Z'; }
has() { grep -q -- "$1" "$tmp/out" || { fail "$2: output lacks '$1'"; show; }; }

case $case_name in
write)
    mkdir -p "$tmp/outside"
    agent escape c <<EOF
#include <stdio.h>
int main(void) {
    FILE *f = fopen("$tmp/outside/pwned", "w");
    if (!f) { perror("open outside"); return 1; }
    fputs("escaped", f);
    return fclose(f) != 0;
}
EOF
    expect_fail "write outside"
    [ ! -e "$tmp/outside/pwned" ] || fail "a file appeared outside the work folder"
    agent twin c <<'EOF'
#include <stdio.h>
int main(void) {
    FILE *f = fopen("inside.txt", "w");
    if (!f || fputs("written inside", f) < 0 || fclose(f)) return 1;
    char buf[64] = {0};
    f = fopen("inside.txt", "r");
    if (!f || !fgets(buf, sizeof buf, f)) return 1;
    puts(buf);
    return 0;
}
EOF
    expect_ok "write inside"; has "written inside" "write inside"
    ;;
read)
    secret="planted-$RANDOM$RANDOM"
    echo "$secret" >"$tmp/secret.txt"
    chmod 644 "$tmp/secret.txt"
    agent escape sh <<EOF
cat "$tmp/secret.txt"
EOF
    expect_fail "read planted file"
    ! grep -q "$secret" "$tmp/out" || fail "the planted file's content came out"
    agent twin sh <<'EOF'
echo mine > own.txt && cat own.txt && head -c 5 /etc/os-release >/dev/null
EOF
    expect_ok "read own file"; has "mine" "read own file"
    ;;
tcp)
    port=$((20000 + RANDOM % 20000))
    /usr/bin/python3 - "$port" "$tmp/connected" <<'EOF' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(20)
try:
    c, _ = s.accept(); open(sys.argv[2], "w").write("yes")
except OSError:
    pass
EOF
    listener=$!
    sleep 0.5
    agent escape python <<EOF
import socket
socket.create_connection(("127.0.0.1", $port), timeout=3)
print("connected")
EOF
    expect_fail "tcp to host loopback"
    [ ! -e "$tmp/connected" ] || fail "the host's listener saw a connection"
    # the listener itself works: the host can reach it
    /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=3)" ||
        fail "the test's own listener is unreachable (the escape check proves nothing)"
    wait "$listener"
    [ -e "$tmp/connected" ] || fail "the host's listener got no connection from the host"
    agent twin python <<'EOF'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname(), timeout=3)
a, _ = s.accept(); c.sendall(b"over loopback"); print(a.recv(64).decode())
EOF
    expect_ok "tcp inside"; has "over loopback" "tcp inside"
    ;;
forkbomb)
    agent escape c --timeout 5 <<'EOF'
#include <unistd.h>
int main(void) { for (;;) fork(); }
EOF
    expect_fail "fork bomb"
    [ "$ms" -lt 30000 ] || fail "fork bomb took $ms ms"
    # the namespace's teardown kills them all; the kernel takes a moment for 64 processes
    for _ in $(seq 50); do [ "$(live_nobody)" = 0 ] && break; sleep 0.1; done
    left=$(live_nobody)
    [ "$left" = 0 ] || fail "$left processes of uid 65534 left after the fork bomb"
    agent twin c <<'EOF'
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    int n = 0, st;
    for (int i = 0; i < 10; i++) if (fork() == 0) _exit(7);
    while (wait(&st) > 0) n += WEXITSTATUS(st) == 7;
    printf("children %d\n", n);
    return n != 10;
}
EOF
    expect_ok "ten children"; has "children 10" "ten children"
    ;;
membomb)
    agent escape c --memory 256 <<'EOF'
#include <stdlib.h>
#include <string.h>
int main(void) {
    for (;;) { char *p = malloc(64 << 20); if (!p) return 3; memset(p, 1, 64 << 20); }
}
EOF
    expect_fail "memory bomb"
    has "exit status 3" "memory bomb (malloc refused at RLIMIT_AS)"
    agent twin c --memory 256 <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) { char *p = malloc(100 << 20); if (!p) return 1; memset(p, 1, 100 << 20); puts("100 MiB ok"); return 0; }
EOF
    expect_ok "100 MiB"; has "100 MiB ok" "100 MiB"
    ;;
loop)
    agent escape c --timeout 3 <<'EOF'
int main(void) { volatile unsigned x = 0; for (;;) x++; }
EOF
    expect_fail "infinite loop"
    has "killed at the timeout" "infinite loop"
    [ "$ms" -lt 15000 ] || fail "infinite loop took $ms ms"
    agent twin c --timeout 3 <<'EOF'
#include <stdio.h>
int main(void) { volatile unsigned long x = 0; for (long i = 0; i < 10000000; i++) x += i; printf("sum %lu\n", x); return 0; }
EOF
    expect_ok "finite loop"; has "sum 49999995000000" "finite loop"
    ;;
output)
    agent escape c <<'EOF'
#include <stdio.h>
#include <string.h>
int main(void) {
    static char line[1024];
    memset(line, 'x', sizeof line - 1);
    for (int i = 0; i < 100 * 1024; i++) puts(line);   /* 100 MiB */
    FILE *f = fopen("big", "w");
    for (int i = 0; f && i < 100 * 1024; i++) if (fputs(line, f) < 0) return 4;
    return 0;
}
EOF
    expect_fail "100 MB of output"
    has "stdout truncated after 65536 bytes" "100 MB of output"
    size=$(stat -c %s "$tmp/out")
    [ "$size" -lt 200000 ] || fail "calgae printed $size bytes"
    # RLIMIT_FSIZE: the write fails with EFBIG (exit 4; as PID 1 of its namespace the program
    # ignores SIGXFSZ), or SIGXFSZ kills it
    grep -q "exit status 4\|signal 25" "$tmp/out" || fail "the 100 MB file was not stopped by RLIMIT_FSIZE"
    agent twin c <<'EOF'
#include <stdio.h>
int main(void) { for (int i = 0; i < 100; i++) printf("line %d\n", i); return 0; }
EOF
    expect_ok "small output"; has "line 99" "small output"
    ! grep -q truncated "$tmp/out" || fail "small output truncated"
    ;;
killparent)
    sleep 120 &
    sentinel=$!
    agent escape c <<EOF
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    int b = kill($$, SIGKILL), c = kill($sentinel, SIGKILL);
    printf("host kills %d %d, parent pid %d\\n", b, c, (int)getppid());
    fflush(stdout);
    kill(-1, SIGKILL);
    kill(getppid(), SIGKILL);
    return 1;
}
EOF
    has "host kills -1 -1, parent pid 0" "kill the parent (host pids unreachable, no parent in the namespace)"
    kill -0 "$sentinel" 2>/dev/null || fail "a host process was killed from the sandbox"
    kill "$sentinel"
    grep -q "=== block 1" "$tmp/out" || { fail "calgae did not survive to report"; show; }
    agent twin c <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    pid_t p = fork();
    if (p == 0) { pause(); _exit(0); }
    int st;
    if (kill(p, SIGKILL) != 0 || waitpid(p, &st, 0) != p || !WIFSIGNALED(st)) return 1;
    puts("killed own child");
    return 0;
}
EOF
    expect_ok "kill own child"; has "killed own child" "kill own child"
    ;;
background)
    agent escape sh <<'EOF'
(exec -a calgae-escape-bg-$PPID sleep 300) &
nohup setsid sh -c 'exec -a calgae-escape-bg2 sleep 300' >/dev/null 2>&1 &
echo started
exit 0
EOF
    for _ in $(seq 50); do [ "$(live_nobody)" = 0 ] && break; sleep 0.1; done
    if pgrep -f "calgae-escape-bg" >/dev/null || [ "$(live_nobody)" != 0 ]; then
        fail "a background process outlived the run"; ps -u 65534 -o pid,ppid,etime,args >&2; pgrep -af calgae-escape-bg >&2
    fi
    grep -q started "$tmp/out" || { fail "the background case did not run"; show; }
    agent twin sh <<'EOF'
(sleep 0.2; echo from background) &
wait
EOF
    expect_ok "waited background"; has "from background" "waited background"
    ;;
ptrace)
    agent escape c <<EOF
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <unistd.h>
int main(void) {
    int attached = 0, tried = 0;
    long p = ptrace(PTRACE_ATTACH, getppid(), 0, 0), h = ptrace(PTRACE_ATTACH, $$, 0, 0);
    attached += (p == 0) + (h == 0);
    DIR *d = opendir("/proc");   /* every process it can see but itself */
    for (struct dirent *e; d && (e = readdir(d));) {
        int pid = atoi(e->d_name);
        if (pid > 0 && pid != getpid()) { tried++; attached += ptrace(PTRACE_ATTACH, pid, 0, 0) == 0; }
    }
    printf("attached %d of %d visible, parent pid %d\\n", attached, tried + 2, (int)getppid());
    return attached ? 0 : 1;
}
EOF
    has "attached 0 of 2 visible, parent pid 0" "ptrace of the parent"
    expect_fail "ptrace of the parent"
    agent twin c <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    pid_t p = fork();
    if (p == 0) { pause(); _exit(0); }
    int st;
    if (ptrace(PTRACE_ATTACH, p, 0, 0) != 0 || waitpid(p, &st, 0) != p) return 1;
    kill(p, SIGKILL); ptrace(PTRACE_CONT, p, 0, 0); waitpid(p, &st, 0);
    puts("traced own child");
    return 0;
}
EOF
    expect_ok "ptrace own child"; has "traced own child" "ptrace own child"
    ;;
*) echo "FAIL: unknown case $case_name" >&2; exit 1 ;;
esac
[ "$failures" = 0 ] && echo "agent_escape $case_name: escape stopped, twin ran"
exit $((failures > 0))
