/* xoshiro256** (Blackman and Vigna, https://prng.di.unimi.it/), written
 * here because no library kumo links offers a fast per-thread generator
 * with enough state for 128-bit ids: glibc's random_r gives 31 bits per
 * call from a shared-table design and drand48_r has 48 bits of state;
 * OpenSSL's RAND_bytes is a CSPRNG, which ids do not need, and showed up at
 * ~5 % of kumo-bff's CPU drawing two or three ids per request. */
#include "base/fastrand.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct fastrand {
    uint64_t s[4];
    unsigned generation; /* fork generation it was seeded in; 0 = never */
};

static _Thread_local struct fastrand tls;
static atomic_uint generation = 1; /* bumped in a fork's child */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add(&generation, 1);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void seed(struct fastrand *r, unsigned gen)
{
    pthread_once(&atfork_once, register_atfork);
    uint64_t s[4] = {0, 0, 0, 0};
    size_t got = 0;
    while (got < sizeof s) {
        ssize_t n = getrandom((char *)s + got, sizeof s - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof s) {
        /* No getrandom (never in practice on the kernels kumo supports):
         * time, pid and the thread's address still make threads and
         * processes differ, which is all ids need. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        x ^= (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)r;
        for (int i = 0; i < 4; i++)
            s[i] ^= splitmix64(&x);
    }
    if ((s[0] | s[1] | s[2] | s[3]) == 0) /* the one state xoshiro cannot leave */
        s[0] = 1;
    memcpy(r->s, s, sizeof s);
    r->generation = gen;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The calling thread's generator, seeded for this process. */
static inline uint64_t *state(void)
{
    struct fastrand *r = &tls;
    unsigned gen = atomic_load_explicit(&generation, memory_order_relaxed);
    if (r->generation != gen)
        seed(r, gen);
    return r->s;
}

/* One xoshiro256** step. */
static inline uint64_t next(uint64_t *s)
{
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t kumo_fastrand_u64(void)
{
    return next(state());
}

void kumo_fastrand_bytes(void *out, size_t len)
{
    unsigned char *p = out;
    while (len > 0) {
        uint64_t v = kumo_fastrand_u64();
        size_t n = len < sizeof v ? len : sizeof v;
        memcpy(p, &v, n);
        p += n;
        len -= n;
    }
}

/* 16 lowercase hex digits from the 64 random bits of v, 8 at a time: each
 * byte of n holds one nibble, and n + '0' + 39 * (n > 9) is its digit
 * ('a' - '0' - 10 = 39). The digits are not v's hex spelling (the nibbles
 * come out in an order of their own), which random ids do not need. */
static inline void hex16(uint64_t v, char out[16])
{
    const uint64_t nibbles = 0x0F0F0F0F0F0F0F0FULL, ones = 0x0101010101010101ULL;
    uint64_t n[2] = {v & nibbles, (v >> 4) & nibbles};
    for (int i = 0; i < 2; i++) {
        uint64_t over9 = ((n[i] + 6 * ones) >> 4) & ones;
        n[i] += 0x30 * ones + 39 * over9;
    }
    memcpy(out, n, 16);
}

/* kumo_fastrand_hex and kumo_fastrand_hex_nonzero: the generator is looked
 * up once for all the words, and all zeros is caught on the words drawn
 * (the digits spell their nibbles), not by a scan of the text; only a part
 * word at the end has its few digits looked at. */
static inline void fill_hex(char *out, size_t nbytes, int nonzero)
{
    /* A local copy, kept in registers: `out` might alias the state. */
    uint64_t *tls_s = state(), s[4];
    memcpy(s, tls_s, sizeof s);
    for (;;) {
        char digits[16];
        uint64_t any = 0;
        size_t i = 0;
        for (; i + 8 <= nbytes; i += 8) {
            uint64_t v = next(s);
            any |= v;
            hex16(v, out + 2 * i);
        }
        if (i < nbytes) {
            hex16(next(s), digits);
            memcpy(out + 2 * i, digits, 2 * (nbytes - i));
            for (size_t k = 0; k < 2 * (nbytes - i); k++)
                any |= (uint64_t)(digits[k] != '0');
        }
        out[2 * nbytes] = '\0';
        if (!nonzero || any || nbytes == 0)
            break;
    }
    memcpy(tls_s, s, sizeof s);
}

void kumo_fastrand_hex(char *out, size_t nbytes)
{
    fill_hex(out, nbytes, 0);
}

void kumo_fastrand_hex_nonzero(char *out, size_t nbytes)
{
    fill_hex(out, nbytes, 1);
}
