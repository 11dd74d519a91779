/* Running the sandboxed extractor (tools/extract: kumo-extract) on one
 * downloaded file: posix_spawn with the file as stdin and a pipe as
 * stdout (nothing else of the daemon's descriptors), the bounds of
 * KUMO_EXTRACT_* on its command line (the child applies its setrlimit and
 * seccomp filter before parsing), a wall-clock kill from here, and its
 * frames (common/extract/frames.h) decoded. Whatever the file does to the
 * child — crash, hang, run out of memory — ends as an error of this job
 * with a reason; the daemon and the other jobs go on. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "extract_child.h"
#include "runtime/log.h"

#define THUMB_MAX    (4 * 1024 * 1024)
#define OUT_SLACK    (2 * 1024 * 1024) /* frame headers and pages */
#define REAP_WAIT_MS 2000              /* after EOF, for the child to exit */
#define ERR_TAIL     1024              /* last bytes of its stderr kept for the log */

static char default_bin[PATH_MAX];
static pthread_once_t bin_once = PTHREAD_ONCE_INIT;

static void find_default_bin(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return;
    *slash = '\0';
    snprintf(default_bin, sizeof default_bin, "%.*s/kumo-extract", PATH_MAX - 16, self);
    if (access(default_bin, X_OK) != 0) {
        /* Not installed here: PDFs, Office files and images get their type
         * and checksum but no text, as with KUMO_EXTRACT_BIN=off. */
        kumo_log(KUMO_LOG_WARN, NULL,
                 "no extractor beside this binary: only text-like content "
                 "is extracted",
                 "path", default_bin, NULL);
        default_bin[0] = '\0';
    }
}

const char *docs__extract_bin(const struct docs_settings *s)
{
    if (s->extract_bin && strcmp(s->extract_bin, "off") == 0)
        return NULL;
    if (s->extract_bin && s->extract_bin[0])
        return s->extract_bin;
    pthread_once(&bin_once, find_default_bin);
    return default_bin[0] ? default_bin : NULL;
}

const char *docs__extract_kind(const char *mime)
{
    static const struct {
        const char *mime, *kind;
    } kinds[] = {
        {"application/pdf", "pdf"},
        {"application/zip", "ooxml"},
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
        {"application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"},
        {"image/png", "image"},
        {"image/jpeg", "image"},
        {"image/tiff", "image"},
        {"image/gif", "image"},
        {"image/webp", "image"},
        {"image/bmp", "image"},
        {"image/x-ms-bmp", "image"},
    };
    for (size_t i = 0; mime && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(mime, kinds[i].mime) == 0)
            return kinds[i].kind;
    return NULL;
}

/* The last ERR_TAIL bytes the child wrote on stderr. */
struct err_tail {
    char b[ERR_TAIL];
    size_t len;
};

static void tail_add(struct err_tail *t, const char *p, size_t n)
{
    if (n >= ERR_TAIL) {
        memcpy(t->b, p + n - ERR_TAIL, ERR_TAIL);
        t->len = ERR_TAIL;
        return;
    }
    if (t->len + n > ERR_TAIL) {
        size_t drop = t->len + n - ERR_TAIL;
        memmove(t->b, t->b + drop, t->len - drop);
        t->len -= drop;
    }
    memcpy(t->b + t->len, p, n);
    t->len += n;
}

/* Reads what is there without waiting; 1 at EOF. */
static int tail_drain(int fd, struct err_tail *t)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            tail_add(t, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n == 0;
    }
}

/* Logs the child's stderr (what a parser or a sanitizer said) as one
 * line of printable ASCII: it comes from an untrusted file's parsing. */
static void tail_log(const struct err_tail *t, const char *kind, const char *why)
{
    char line[ERR_TAIL + 1];
    size_t n = 0;
    for (size_t i = 0; i < t->len; i++) {
        unsigned char c = (unsigned char)t->b[i];
        line[n++] = c == '\n' ? '|' : (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    line[n] = '\0';
    kumo_log(KUMO_LOG_WARN, NULL, "extractor stderr", "kind", kind, "outcome", why, "stderr", line,
             NULL);
}

static const char *signal_reason(int sig)
{
    switch (sig) {
    case SIGXCPU:
        return "CPU time limit reached";
    case SIGSYS:
        return "forbidden system call (seccomp)";
    case SIGABRT:
        return "aborted (out of memory under KUMO_EXTRACT_MEMORY?)";
    case SIGSEGV:
    case SIGBUS:
        return "crashed";
    case SIGXFSZ:
        return "tried to write a file";
    case SIGKILL:
        return "killed (CPU time limit?)";
    default:
        return "killed by a signal";
    }
}

/* argv of the child; `nums` holds the numbers' text. */
static void build_argv(const struct docs_settings *s, const char *bin, const char *kind,
                       char nums[8][24], char *argv[32])
{
    int64_t cpu_s = (s->extract_timeout_ms + 999) / 1000;
    const int64_t v[8] = {s->extract_max_pages,
                          s->extract_ocr_pages,
                          s->extract_text_max + 3,
                          s->extract_max_pixels,
                          s->thumbnail_size,
                          s->extract_zip_max,
                          cpu_s,
                          s->extract_memory};
    static const char *const opt[8] = {"--max-pages", "--ocr-pages", "--text-max", "--max-pixels",
                                       "--thumb",     "--zip-max",   "--cpu",      "--memory"};
    int a = 0;
    argv[a++] = (char *)bin;
    argv[a++] = "--kind";
    argv[a++] = (char *)kind;
    for (int i = 0; i < 8; i++) {
        snprintf(nums[i], sizeof nums[i], "%lld", (long long)v[i]);
        argv[a++] = (char *)opt[i];
        argv[a++] = nums[i];
    }
    argv[a++] = "--ocr";
    argv[a++] =
        (char *)(s->extract_ocr_langs && s->extract_ocr_langs[0] ? s->extract_ocr_langs : "off");
    argv[a] = NULL;
}

kumo_code docs__extract_child(const struct docs_settings *s, const char *kind, int fd,
                              const volatile int *stopping, struct kumo_xf_result *r,
                              struct kumo_buf *err, int (*tick)(void *ud), void *ud)
{
    const char *bin = docs__extract_bin(s);
    if (!bin) {
        kumo_buf_appendf(err, "no extractor (KUMO_EXTRACT_BIN)");
        return KUMO_CODE_INTERNAL;
    }
    /* Checked here too: where posix_spawn is emulated with fork (valgrind),
     * a failed exec is only an exit status. */
    if (access(bin, X_OK) != 0) {
        kumo_buf_appendf(err, "cannot start the extractor %s: %s", bin, strerror(errno));
        return KUMO_CODE_INTERNAL;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        kumo_buf_appendf(err, "extractor input: %s", strerror(errno));
        return KUMO_CODE_INTERNAL;
    }
    int p[2], e[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        kumo_buf_appendf(err, "pipe: %s", strerror(errno));
        return KUMO_CODE_UNAVAILABLE;
    }
    if (pipe2(e, O_CLOEXEC | O_NONBLOCK) != 0) {
        kumo_buf_appendf(err, "pipe: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return KUMO_CODE_UNAVAILABLE;
    }
    char nums[8][24];
    char *argv[32];
    build_argv(s, bin, kind, nums, argv);
    char tess[PATH_MAX + 32] = "";
    const char *td = getenv("TESSDATA_PREFIX");
    if (td && strlen(td) < PATH_MAX)
        snprintf(tess, sizeof tess, "TESSDATA_PREFIX=%s", td);
    char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "OMP_THREAD_LIMIT=1",
                    tess[0] ? tess : NULL, NULL};

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int sp = posix_spawn(&pid, bin, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    close(e[1]);
    if (sp != 0) {
        close(p[0]);
        close(e[0]);
        kumo_buf_appendf(err, "cannot start the extractor %s: %s", bin, strerror(sp));
        return KUMO_CODE_INTERNAL;
    }

    /* Read everything it writes, until EOF, the deadline or too much. */
    struct kumo_buf outb = KUMO_BUF_INIT;
    size_t out_max = (size_t)s->extract_text_max + THUMB_MAX + OUT_SLACK;
    int64_t deadline = kumo_now_ns() + s->extract_timeout_ms * 1000000LL;
    const char *killed = NULL;
    char buf[65536];
    struct err_tail tail = {.len = 0};
    int err_open = 1;
    for (;;) {
        int64_t left_ms = (deadline - kumo_now_ns()) / 1000000;
        if (left_ms <= 0) {
            killed = "timed out";
            break;
        }
        if (*stopping) {
            killed = "stopped (the service is shutting down)";
            break;
        }
        if (tick && tick(ud) != 0) {
            killed = "stopped: lease lost";
            break;
        }
        struct pollfd pf[2] = {{p[0], POLLIN, 0}, {err_open ? e[0] : -1, POLLIN, 0}};
        int n = poll(pf, 2, left_ms > 200 ? 200 : (int)left_ms);
        if (n < 0 && errno != EINTR) {
            killed = "poll failed";
            break;
        }
        if (n <= 0)
            continue;
        if (pf[1].revents && tail_drain(e[0], &tail))
            err_open = 0;
        if (!pf[0].revents)
            continue;
        ssize_t got = read(p[0], buf, sizeof buf);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            break; /* EOF */
        if (outb.len + (size_t)got > out_max) {
            killed = "wrote more than its limit";
            break;
        }
        kumo_buf_append(&outb, buf, (size_t)got);
    }
    close(p[0]);
    int status = 0;
    pid_t w = 0;
    if (!killed) {
        /* It closed its output: it should be exiting. */
        int64_t reap_until = kumo_now_ns() + REAP_WAIT_MS * 1000000LL;
        while ((w = waitpid(pid, &status, WNOHANG)) == 0 && kumo_now_ns() < reap_until)
            usleep(5000);
        if (w == 0)
            killed = "did not exit after its output";
    }
    if (killed) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    tail_drain(e[0], &tail); /* the child is gone: the rest of it */
    close(e[0]);

    kumo_code rc = KUMO_CODE_OK;
    const char *why = NULL;
    if (killed && strcmp(killed, "timed out") == 0) {
        kumo_buf_appendf(err, "extractor timed out after %llds (KUMO_EXTRACT_TIMEOUT)",
                         (long long)(s->extract_timeout_ms / 1000));
        rc = KUMO_CODE_DEADLINE_EXCEEDED;
    } else if (killed && strstr(killed, "lease lost")) {
        kumo_buf_appendf(err, "lease lost");
        rc = KUMO_CODE_ABORTED;
    } else if (killed) {
        kumo_buf_appendf(err, "extractor %s", killed);
        rc = strstr(killed, "stopped") ? KUMO_CODE_UNAVAILABLE : KUMO_CODE_RESOURCE_EXHAUSTED;
    } else if (WIFSIGNALED(status)) {
        kumo_buf_appendf(err, "extractor %s (signal %d)", signal_reason(WTERMSIG(status)),
                         WTERMSIG(status));
        rc = WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGSYS
                 ? KUMO_CODE_INTERNAL
                 : KUMO_CODE_RESOURCE_EXHAUSTED;
    } else if (kumo_xf_decode(outb.data, outb.len, (size_t)s->extract_text_max + 3, THUMB_MAX, r,
                              &why) != 0) {
        kumo_buf_appendf(err, "extractor output unreadable: %s", why);
        rc = KUMO_CODE_INTERNAL;
    } else if (r->error[0]) {
        kumo_buf_appendf(err, "extractor: %s", r->error);
        rc = KUMO_CODE_INVALID_ARGUMENT;
    } else if (!r->ended || WEXITSTATUS(status) != 0) {
        kumo_buf_appendf(err, "extractor failed (exit status %d)", WEXITSTATUS(status));
        rc = KUMO_CODE_INTERNAL;
    }
    /* A crash, a kill or a sanitizer report: what the child said goes to
     * the log (a file it simply could not read says so in the error). */
    if (tail.len > 0 &&
        ((rc != KUMO_CODE_OK && !r->error[0]) || memmem(tail.b, tail.len, "Sanitizer", 9) != NULL))
        tail_log(&tail, kind, err->data ? (const char *)err->data : "ok");
    kumo_buf_free(&outb);
    return rc;
}
