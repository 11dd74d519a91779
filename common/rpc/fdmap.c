/* Priming libevent's descriptor map (internal.h: kumo__rpc_prime_fd_map).
 *
 * Why: an event base keeps one small slot per descriptor number (its fd
 * map, 32 bytes with malloc's header), allocated the first time an event
 * for that number is added and kept until the base is freed. On an RPC
 * port those first uses come during the first flood of connections, from
 * the I/O thread, each slot between the connection's own allocations
 * (nghttp2 session, buffers: ~16 KiB). When the flood closes, everything
 * around the slots is freed but each slot keeps its page resident, and
 * malloc_trim can only give back whole free pages: kumo-users kept +2 to
 * +3.5 MB after 1000 idle connections closed with 90 KB in use in that
 * arena (malloc_stats). Adding every descriptor number the port can reach
 * once at start-up puts the slots side by side, before any connection, so
 * a flood's memory comes back whole. libevent has no call to size the map
 * (evmap is internal), hence real descriptors: dups of one eventfd. */
#include "rpc/internal.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"

static void on_nothing(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

int kumo__rpc_prime_fd_map(struct event_base *base, int upto)
{
    if (upto <= 0)
        return 0;
    int seed = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (seed < 0)
        return 0;
    struct event *ev = event_new(base, -1, 0, on_nothing, NULL);
    int *fds = kumo_calloc((size_t)upto, sizeof *fds);
    int n = 0, top = seed;
    while (top < upto - 1 && n < upto) {
        int fd = fcntl(seed, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            break; /* EMFILE: the map covers what the process can open */
        fds[n++] = fd;
        if (fd > top)
            top = fd;
    }
    if (ev) {
        event_assign(ev, base, seed, EV_READ, on_nothing, NULL);
        event_add(ev, NULL);
        event_del(ev);
        for (int i = 0; i < n; i++) {
            event_assign(ev, base, fds[i], EV_READ, on_nothing, NULL);
            event_add(ev, NULL);
            event_del(ev);
        }
        event_free(ev);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    kumo_free(fds);
    close(seed);
    return top + 1;
}
