/* kumo-extract: extracts the text (and a thumbnail) of one untrusted file
 * in a sandbox, for kumo-documents' extract job (jobs/extract_child.c).
 *
 *   kumo-extract --kind pdf|docx|xlsx|pptx|ooxml|image [options] < FILE > FRAMES
 *
 * ooxml: an Office file of any kind, told by its parts (a zip that is no
 * Office file has no text).
 *
 * stdin must be the file itself (a regular file: PDFs and zips are read
 * at random). stdout receives the frames of common/extract/frames.h:
 * text, pages, the thumbnail (PNG), an error reason, the end. Exit 0 when
 * the text was extracted, 1 when the file could not be (the reason is in
 * an 'E' frame), 2 on a usage error.
 *
 * Options (bounds): --max-pages N (PDF pages read), --ocr-pages N (pages
 * OCRed), --text-max BYTES, --max-pixels N (decoded image / rendered
 * page), --thumb PX (longest thumbnail side, 0: none), --zip-max BYTES
 * (uncompressed bytes read from an Office zip), --ocr LANGS|off,
 * --cpu SECONDS and --memory BYTES (setrlimit). The seccomp filter
 * and the Landlock ruleset (sandbox.c) are on before the file is parsed.
 * Tests: --selftest-socket tries to open a network socket once sandboxed
 * (it must be killed), --selftest-read PATH to open a file (exit 3 if it
 * could, 4 if refused). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract.h"
#include "extract/frames.h"

#define FILE_MAX ((size_t)1 << 30)

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer stops the world with ptrace at exit, which the seccomp
 * filter forbids (and kills): no leak check in this short-lived child. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}
#endif

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int usage(const char *why)
{
    fprintf(stderr, "kumo-extract: %s\n", why);
    return 2;
}

static int64_t num(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    return (*s && !*end && v >= 0) ? v : -1;
}

int main(int argc, char **argv)
{
    /* Nothing of the parent's beyond stdin/out/err, and die with it. */
    close_range(3, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct kx_limits l = {.max_pages = 200,
                          .ocr_pages = 5,
                          .text_max = 1 << 20,
                          .max_pixels = 50 * 1000 * 1000,
                          .thumb_px = 256,
                          .zip_max = 64u << 20,
                          .ocr = "eng+jpn"};
    const char *kind = NULL;
    int64_t cpu = 30, memory = (int64_t)1 << 30;
    int selftest_socket = 0;
    const char *selftest_read = NULL;
    static const struct option opts[] = {{"kind", 1, 0, 'k'},
                                         {"max-pages", 1, 0, 'p'},
                                         {"ocr-pages", 1, 0, 'o'},
                                         {"text-max", 1, 0, 't'},
                                         {"max-pixels", 1, 0, 'x'},
                                         {"thumb", 1, 0, 'g'},
                                         {"zip-max", 1, 0, 'z'},
                                         {"ocr", 1, 0, 'l'},
                                         {"cpu", 1, 0, 'c'},
                                         {"memory", 1, 0, 'm'},
                                         {"selftest-socket", 0, 0, 'S'},
                                         {"selftest-read", 1, 0, 'R'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int64_t v = optarg ? num(optarg) : 0;
        if (optarg && c != 'k' && c != 'l' && c != 'R' && v < 0)
            return usage("bad number");
        switch (c) {
        case 'k':
            kind = optarg;
            break;
        case 'p':
            l.max_pages = v > 100000 ? 100000 : (int)v;
            break;
        case 'o':
            l.ocr_pages = v > 1000 ? 1000 : (int)v;
            break;
        case 't':
            l.text_max = (size_t)v;
            break;
        case 'x':
            l.max_pixels = v;
            break;
        case 'g':
            l.thumb_px = v > 2048 ? 2048 : (int)v;
            break;
        case 'z':
            l.zip_max = (size_t)v;
            break;
        case 'l':
            l.ocr = strcmp(optarg, "off") == 0 ? NULL : optarg;
            break;
        case 'c':
            cpu = v;
            break;
        case 'm':
            memory = v;
            break;
        case 'S':
            selftest_socket = 1;
            break;
        case 'R':
            selftest_read = optarg;
            break;
        default:
            return usage("unknown option");
        }
    }
    if (!kind || (strcmp(kind, "pdf") && strcmp(kind, "docx") && strcmp(kind, "xlsx") &&
                  strcmp(kind, "pptx") && strcmp(kind, "ooxml") && strcmp(kind, "image")))
        return usage("--kind pdf|docx|xlsx|pptx|ooxml|image is required");
    /* OCR libraries may start threads: one is enough here. */
    setenv("OMP_THREAD_LIMIT", "1", 1);
    if (kx_sandbox_limits(cpu, memory) != 0)
        return usage("cannot set resource limits");
    struct stat st;
    if (fstat(0, &st) != 0 || !S_ISREG(st.st_mode))
        return usage("stdin must be a regular file");
    if (kx_sandbox_landlock() < 0)
        return usage("cannot install the Landlock ruleset");
    if (kx_sandbox_seccomp() != 0)
        return usage("cannot install the seccomp filter");
    if (selftest_read) {
        int fd = open(selftest_read, O_RDONLY | O_CLOEXEC);
        fprintf(stderr, "open(%s) returned %d\n", selftest_read, fd);
        return fd >= 0 ? 3 : 4;
    }
    if (selftest_socket) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        fprintf(stderr, "socket() returned %d\n", s);
        return 3;
    }

    struct kx_out out;
    memset(&out, 0, sizeof out);
    out.text.max = l.text_max;
    int rc;
    if (strcmp(kind, "pdf") == 0) {
        rc = kx_pdf(0, &l, &out);
    } else if (strcmp(kind, "image") == 0) {
        size_t len = (size_t)st.st_size;
        void *data =
            len > 0 && len <= FILE_MAX ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, 0, 0) : MAP_FAILED;
        if (data == MAP_FAILED) {
            snprintf(out.why, sizeof out.why, "cannot read the image (empty or over 1 GiB)");
            rc = -1;
        } else {
            rc = kx_image(data, len, &l, &out);
            munmap(data, len);
        }
    } else {
        rc = kx_ooxml_fd(0, kind, &l, &out);
    }
    kx_ocr_end();

    struct kumo_buf frames = KUMO_BUF_INIT;
    if (rc == 0) {
        /* Frames of at most 1 MiB each. */
        const uint8_t *p = out.text.buf.data;
        for (size_t off = 0; off < out.text.buf.len; off += 1u << 20) {
            size_t n = out.text.buf.len - off;
            kumo_xf_put(&frames, KUMO_XF_TEXT, p + off, n > (1u << 20) ? 1u << 20 : n);
        }
        uint8_t pages[4] = {(uint8_t)(out.pages >> 24), (uint8_t)(out.pages >> 16),
                            (uint8_t)(out.pages >> 8), (uint8_t)out.pages};
        kumo_xf_put(&frames, KUMO_XF_PAGES, pages, 4);
        if (out.thumb.len)
            kumo_xf_put(&frames, KUMO_XF_THUMB, out.thumb.data, out.thumb.len);
    } else {
        if (!out.why[0])
            snprintf(out.why, sizeof out.why, "extraction failed");
        kumo_xf_put(&frames, KUMO_XF_ERROR, out.why, strlen(out.why));
    }
    kumo_xf_put(&frames, KUMO_XF_END, NULL, 0);
    int wrc = write_all(1, frames.data, frames.len);
    kumo_buf_free(&frames);
    kumo_buf_free(&out.text.buf);
    kumo_buf_free(&out.thumb);
    return wrc != 0 ? 2 : rc == 0 ? 0 : 1;
}
