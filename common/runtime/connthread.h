/* Threads for connections whose stacks are given back when they end.
 *
 * glibc keeps the stacks of exited threads in a cache (up to 40 MiB of
 * them) for the next threads, and each cached stack keeps the pages its
 * thread touched last (~11 KiB: the thread descriptor, TLS, the frames
 * below the exit). A listener with a thread per connection keeps as many
 * as it ever had threads at once: kumo-bff's HTTP port kept +1.1 MB (74 to
 * 94 cached 256 KiB stacks, +8 to +11 % RSS) after a flood of 1000 idle
 * connections had closed; with the cache off (GLIBC_TUNABLES
 * glibc.pthread.stack_cache_size=0) +2 %. The cache size is a tunable read
 * only at exec, so these threads run on stacks mapped here instead, which
 * glibc never caches, and which are unmapped as soon as the thread has
 * exited: the next connection thread to end (or kumo_connthread_reap)
 * joins the ones that ended before it and unmaps their stacks. A thread
 * start costs an mmap and an munmap more, microseconds against a
 * connection's life. */
#ifndef KUMO_RUNTIME_CONNTHREAD_H
#define KUMO_RUNTIME_CONNTHREAD_H

#include <stddef.h>

/* Runs fn(arg) on a new thread with a stack of stack_size bytes (rounded
 * up to pages; at least 64 KiB) below a guard page, both mapped here. The
 * thread is never joined by the caller (as if detached). Returns 0, or -1
 * with errno set when the stack or the thread could not be made (fn not
 * run). Thread-safe. */
int kumo_connthread_start(void *(*fn)(void *), void *arg, size_t stack_size);

/* Joins the threads started here whose fn has returned and unmaps their
 * stacks (called by every such thread as it ends; for tests and shutdown
 * too). Returns how many were reaped. */
int kumo_connthread_reap(void);

/* Stacks mapped now: threads running, and ended ones not reaped yet. */
long kumo_connthread_stacks(void);

#endif
