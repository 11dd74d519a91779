/* The extractor's sandbox: resource limits (CPU seconds, address space,
 * no file writes, no core dumps, few descriptors), a Landlock ruleset
 * (files readable only under the font, poppler and OCR data folders: a
 * subverted parser cannot read the daemon's keys or passwords and hand
 * them back as "text") and a seccomp filter (libseccomp) allowing only
 * what reading a file and writing the answer needs. Anything else fails
 * with EPERM; network sockets, exec and ptrace kill the process (SIGSYS),
 * which the parent reports. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/ioctl.h>

/* Newer than Debian 12's kernel headers (Landlock ABI 3, Linux 6.2). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

#include "extract.h"

static int set(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit r = {soft, hard};
    if (setrlimit(res, &r) != 0) {
        perror("setrlimit");
        return -1;
    }
    return 0;
}

int kx_sandbox_limits(int64_t cpu_s, int64_t memory_bytes)
{
    /* SIGXCPU at the soft limit, SIGKILL a second later. */
    if (cpu_s > 0 && set(RLIMIT_CPU, (rlim_t)cpu_s, (rlim_t)cpu_s + 1) != 0)
        return -1;
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer reserves terabytes of address space: under ASan the
     * pixel, page and byte bounds (and the parent's clock) stand in. */
    (void)memory_bytes;
#else
    if (memory_bytes > 0 && set(RLIMIT_AS, (rlim_t)memory_bytes, (rlim_t)memory_bytes) != 0)
        return -1;
#endif
    if (set(RLIMIT_FSIZE, 0, 0) != 0 || set(RLIMIT_CORE, 0, 0) != 0 ||
        set(RLIMIT_NOFILE, 64, 64) != 0)
        return -1;
    return 0;
}

/* Folders the libraries read lazily: fontconfig's configuration and cache,
 * the fonts, poppler's encoding data, tesseract's models. */
static const char *const read_dirs[] = {
    "/etc/fonts",
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/usr/share/fontconfig",
    "/var/cache/fontconfig",
    "/usr/share/poppler",
    "/usr/share/tesseract-ocr",
    "/usr/share/tessdata",
    "/usr/lib/locale",
};

static int add_read_dir(int ruleset, const char *dir, uint64_t access)
{
    int fd = open(dir, O_PATH | O_CLOEXEC | O_DIRECTORY);
    if (fd < 0)
        return 0; /* not installed here: nothing to allow */
    struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    close(fd);
    return rc == 0 ? 0 : -1;
}

int kx_sandbox_landlock(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1)
        return 1; /* no Landlock in this kernel: seccomp and rlimits remain */
    uint64_t fs =
        LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
        LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
        LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
        LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
        LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2)
        fs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    struct landlock_ruleset_attr attr = {.handled_access_fs = fs};
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0)
        return -1;
    const uint64_t read = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
    int rc = 0;
    for (size_t i = 0; i < sizeof read_dirs / sizeof read_dirs[0] && rc == 0; i++)
        rc = add_read_dir(rs, read_dirs[i], read);
    const char *td = getenv("TESSDATA_PREFIX");
    if (rc == 0 && td && td[0] == '/')
        rc = add_read_dir(rs, td, read);
    if (rc == 0)
        rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (rc == 0)
        rc = (int)syscall(SYS_landlock_restrict_self, rs, 0);
    close(rs);
    return rc == 0 ? 0 : -1;
}

int kx_sandbox_seccomp(void)
{
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!f)
        return -1;
    static const int allow[] = {
        SCMP_SYS(read),
        SCMP_SYS(pread64),
        SCMP_SYS(readv),
        SCMP_SYS(write),
        SCMP_SYS(writev),
        SCMP_SYS(lseek),
        SCMP_SYS(close),
        SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),
        SCMP_SYS(statx),
        SCMP_SYS(stat),
        SCMP_SYS(lstat),
        SCMP_SYS(access),
        SCMP_SYS(faccessat),
        SCMP_SYS(faccessat2),
        SCMP_SYS(readlink),
        SCMP_SYS(readlinkat),
        SCMP_SYS(getdents64),
        SCMP_SYS(fcntl),
        SCMP_SYS(mmap),
        SCMP_SYS(munmap),
        SCMP_SYS(mremap),
        SCMP_SYS(mprotect),
        SCMP_SYS(madvise),
        SCMP_SYS(brk),
        SCMP_SYS(futex),
        SCMP_SYS(set_robust_list),
        SCMP_SYS(rseq),
        SCMP_SYS(rt_sigaction),
        SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(rt_sigreturn),
        SCMP_SYS(sigaltstack),
        SCMP_SYS(getrandom),
        SCMP_SYS(clock_gettime),
        SCMP_SYS(gettimeofday),
        SCMP_SYS(clock_nanosleep),
        SCMP_SYS(nanosleep),
        SCMP_SYS(sched_yield),
        SCMP_SYS(sched_getaffinity),
        SCMP_SYS(getpid),
        SCMP_SYS(gettid),
        SCMP_SYS(getuid),
        SCMP_SYS(geteuid),
        SCMP_SYS(getgid),
        SCMP_SYS(getegid),
        SCMP_SYS(getrlimit),
        SCMP_SYS(prlimit64),
        SCMP_SYS(getrusage),
        SCMP_SYS(sysinfo),
        SCMP_SYS(uname),
        SCMP_SYS(exit),
        SCMP_SYS(exit_group),
        SCMP_SYS(tgkill),
        SCMP_SYS(ioctl),
        SCMP_SYS(set_tid_address),
        SCMP_SYS(membarrier),
        SCMP_SYS(getcwd),
        SCMP_SYS(dup),
        SCMP_SYS(dup2),
        SCMP_SYS(dup3),
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof allow / sizeof allow[0] && rc == 0; i++)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allow[i], 0);
    /* Limits can be read, never raised (even as root); signals go only to
     * this process (abort); ioctl only asks whether a descriptor is a
     * terminal. */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)TCGETS));
    /* Files only for reading (fonts, configuration, OCR models). */
    const scmp_datum_t wflags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, wflags, 0));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, wflags, 0));
    /* Threads (an OCR library may start some), never new processes:
     * clone3's flags sit behind a pointer, so it answers ENOSYS and the
     * C library falls back to clone, whose flags are checked. */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    static const int kill[] = {
        SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind),
        SCMP_SYS(listen), SCMP_SYS(accept4),    SCMP_SYS(execve),  SCMP_SYS(execveat),
        SCMP_SYS(ptrace), SCMP_SYS(fork),       SCMP_SYS(vfork),   SCMP_SYS(process_vm_writev),
    };
    for (size_t i = 0; i < sizeof kill / sizeof kill[0] && rc == 0; i++)
        rc = seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, kill[i], 0);
    if (rc == 0)
        rc = seccomp_load(f);
    seccomp_release(f);
    if (rc != 0) {
        fprintf(stderr, "seccomp: %d\n", rc);
        return -1;
    }
    return 0;
}
