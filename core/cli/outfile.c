/* outfile.c - see outfile.h. */
#define _POSIX_C_SOURCE 200809L
#include "outfile.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The temporary file a signal must remove; set while one is open. */
static char *volatile pending;
static struct sigaction saved[3];
static const int signals[3] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig)
{
    char *p = pending;
    if (p)
        unlink(p); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void guard(char *tmp)
{
    pending = tmp;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++)
        sigaction(signals[i], &sa, &saved[i]);
}

static void unguard(void)
{
    for (int i = 0; i < 3; i++)
        sigaction(signals[i], &saved[i], NULL);
    pending = NULL;
}

int calgae_outfile_open(calgae_outfile *o, const char *path, char *err, size_t err_len)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    size_t len = strlen(path) + sizeof ".tmp.XXXXXX";
    o->tmp = malloc(len);
    if (!o->tmp)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    snprintf(o->tmp, len, "%s.tmp.XXXXXX", path);
    guard(o->tmp); /* before the file exists: a signal in between finds nothing to remove */
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        int e = errno;
        calgae_outfile_abort(o);
        return calgae_fail(err, err_len, "%s: cannot create: %s", path, strerror(e));
    }
    fchmod(fd, 0644); /* mkstemp makes it 0600 */
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int e = errno;
        close(fd);
        calgae_outfile_abort(o);
        return calgae_fail(err, err_len, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int calgae_outfile_commit(calgae_outfile *o, char *err, size_t err_len)
{
    int e = 0;
    if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0)
        e = errno ? errno : EIO;
    if (fclose(o->f) != 0 && e == 0)
        e = errno;
    o->f = NULL;
    if (e == 0 && rename(o->tmp, o->path) != 0)
        e = errno;
    if (e != 0) {
        calgae_outfile_abort(o);
        return calgae_fail(err, err_len, "%s: cannot write: %s", o->path, strerror(e));
    }
    unguard();
    free(o->tmp);
    o->tmp = NULL;
    return 0;
}

void calgae_outfile_abort(calgae_outfile *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp) {
        unlink(o->tmp);
        unguard();
        free(o->tmp);
        o->tmp = NULL;
    }
}
