/* Connection threads on stacks of their own (connthread.h). */
#include "runtime/connthread.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/alloc.h"

#define MIN_STACK (64 * 1024)

struct connthread {
    void *(*fn)(void *);
    void *arg;
    void *map; /* guard page, then the stack */
    size_t map_len;
    pthread_t self;
    struct connthread *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct connthread *ended; /* fn returned: to join and unmap */
static long mapped;

int kumo_connthread_reap(void)
{
    pthread_mutex_lock(&mu);
    struct connthread *l = ended;
    ended = NULL;
    pthread_mutex_unlock(&mu);
    int n = 0;
    while (l) {
        struct connthread *next = l->next;
        /* It is past its last use of the stack at most a few instructions
         * after it was listed: the join returns once the kernel has seen it
         * exit, and only then is the stack unmapped. */
        pthread_join(l->self, NULL);
        munmap(l->map, l->map_len);
        kumo_free(l);
        l = next;
        n++;
    }
    if (n) {
        pthread_mutex_lock(&mu);
        mapped -= n;
        pthread_mutex_unlock(&mu);
    }
    return n;
}

static void *trampoline(void *p)
{
    struct connthread *c = p;
    c->fn(c->arg);
    kumo_connthread_reap(); /* the ones that ended before this one */
    c->self = pthread_self();
    pthread_mutex_lock(&mu);
    c->next = ended;
    ended = c;
    pthread_mutex_unlock(&mu);
    return NULL;
}

int kumo_connthread_start(void *(*fn)(void *), void *arg, size_t stack_size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (stack_size < MIN_STACK)
        stack_size = MIN_STACK;
    stack_size = (stack_size + page - 1) / page * page;
    struct connthread *c = kumo_calloc(1, sizeof *c);
    c->fn = fn;
    c->arg = arg;
    c->map_len = stack_size + page;
    c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (c->map == MAP_FAILED) {
        kumo_free(c);
        errno = ENOMEM;
        return -1;
    }
    mprotect(c->map, page, PROT_NONE); /* the guard: an overflow faults */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, (char *)c->map + page, stack_size);
    pthread_mutex_lock(&mu);
    mapped++; /* before the thread can end and be reaped */
    pthread_mutex_unlock(&mu);
    pthread_t t;
    int rc = pthread_create(&t, &attr, trampoline, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_lock(&mu);
        mapped--;
        pthread_mutex_unlock(&mu);
        munmap(c->map, c->map_len);
        kumo_free(c);
        errno = rc;
        return -1;
    }
    return 0;
}

long kumo_connthread_stacks(void)
{
    pthread_mutex_lock(&mu);
    long n = mapped;
    pthread_mutex_unlock(&mu);
    return n;
}
