/* A background worker: one thread that runs a step, sleeps as long as the
 * step asked (or until woken or stopped), and runs it again, until stopped.
 * The janitors, pollers, watchers and refreshers of the daemons are all
 * this loop; each had its own copy of the thread, its stop flag and its
 * timed wait. */
#ifndef KUMO_RUNTIME_WORKER_H
#define KUMO_RUNTIME_WORKER_H

#include <stdint.h>

struct kumo_worker;

/* One round of work. Returns how many milliseconds to sleep before the
 * next round (0: run again at once; capped at one day). Runs on the
 * worker's thread only. */
typedef int64_t (*kumo_worker_step)(void *ud);

/* Starts a thread that runs step(ud) at once and then after every sleep it
 * asks for. `ud` stays the caller's and must outlive the worker. Returns
 * the worker (stop it with kumo_worker_stop), or NULL when no thread could
 * be started. */
struct kumo_worker *kumo_worker_start(kumo_worker_step step, void *ud);

/* Tells the worker to stop, wakes it from its sleep, waits for a step in
 * progress to finish, joins the thread and frees the worker. NULL is a
 * no-op. Not from the worker's own thread. */
void kumo_worker_stop(struct kumo_worker *w);

/* Ends the worker's current sleep early (the next round runs at once); a
 * wake-up during a step makes the sleep after it end at once, so none is
 * lost. NULL is a no-op. Any thread. */
void kumo_worker_wake(struct kumo_worker *w);

/* 1 once kumo_worker_stop was called, else 0: a long step (or the threads
 * it starts) checks it to stop early. Any thread. */
int kumo_worker_stopping(struct kumo_worker *w);

/* Sleeps up to ms on the worker's clock, ending early when the worker is
 * stopped or woken; for a step that waits between its own attempts.
 * Returns 1 when the worker is stopping, else 0. */
int kumo_worker_sleep(struct kumo_worker *w, int64_t ms);

#endif
