#include "base/trace.h"

#include "base/fastrand.h"
#include "base/hex.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Thread_local const struct kumo_trace *current;

static int is_lower_hex(const char *s, size_t n)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        nonzero |= c != '0';
    }
    return nonzero; /* all zeros is invalid for both ids */
}

int kumo_trace_parse(const char *tp, const char *tracestate, struct kumo_trace *out)
{
    if (tp == NULL)
        return -1;
    size_t n = strlen(tp);
    /* version(2) - trace(32) - parent(16) - flags(2); later versions may
     * append "-..." fields, version 00 may not. */
    if (n < KUMO_TRACE_PARENT_LEN || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
        return -1;
    if (!((tp[0] >= '0' && tp[0] <= '9') || (tp[0] >= 'a' && tp[0] <= 'f')) ||
        !((tp[1] >= '0' && tp[1] <= '9') || (tp[1] >= 'a' && tp[1] <= 'f')))
        return -1;
    if (strncmp(tp, "ff", 2) == 0 || (strncmp(tp, "00", 2) == 0 && n != KUMO_TRACE_PARENT_LEN))
        return -1;
    if (n > KUMO_TRACE_PARENT_LEN && tp[KUMO_TRACE_PARENT_LEN] != '-')
        return -1;
    if (!is_lower_hex(tp + 3, KUMO_TRACE_ID_LEN) || !is_lower_hex(tp + 36, KUMO_TRACE_SPAN_LEN))
        return -1;
    char f0 = tp[53], f1 = tp[54];
    if (!((f0 >= '0' && f0 <= '9') || (f0 >= 'a' && f0 <= 'f')) ||
        !((f1 >= '0' && f1 <= '9') || (f1 >= 'a' && f1 <= 'f')))
        return -1;
    memset(out, 0, sizeof *out);
    memcpy(out->trace_id, tp + 3, KUMO_TRACE_ID_LEN);
    memcpy(out->span_id, tp + 36, KUMO_TRACE_SPAN_LEN);
    out->flags = (uint8_t)(kumo_hex_digit(f0) * 16 + kumo_hex_digit(f1));
    if (tracestate) {
        size_t m = strlen(tracestate);
        int ok = m <= KUMO_TRACE_STATE_MAX;
        for (size_t i = 0; ok && i < m; i++)
            ok = tracestate[i] >= 0x20 && tracestate[i] <= 0x7e;
        if (ok)
            memcpy(out->tracestate, tracestate, m + 1);
    }
    return 0;
}

/* Trace and span ids must be unique, not secret (they travel in headers and
 * log lines): drawn from the per-thread fast generator, not the CSPRNG;
 * n_hex (16 or 32) random hex digits, never all zero (invalid for both). */
static void random_id(char *out, size_t n_hex)
{
    kumo_fastrand_hex_nonzero(out, n_hex / 2);
}

void kumo_trace_start(struct kumo_trace *out, const struct kumo_trace *parent)
{
    /* Only the fields are written, not the whole struct: its tracestate
     * buffer is most of its size and a new span has none. */
    if (parent) {
        memmove(out->parent_span_id, parent->span_id, sizeof out->parent_span_id);
        if (parent != out) {
            memcpy(out->trace_id, parent->trace_id, sizeof out->trace_id);
            out->flags = parent->flags;
            size_t m = strnlen(parent->tracestate, KUMO_TRACE_STATE_MAX);
            memcpy(out->tracestate, parent->tracestate, m);
            out->tracestate[m] = '\0';
        }
    } else {
        random_id(out->trace_id, KUMO_TRACE_ID_LEN);
        out->parent_span_id[0] = '\0';
        out->flags = 1;
        out->tracestate[0] = '\0';
    }
    random_id(out->span_id, KUMO_TRACE_SPAN_LEN);
}

void kumo_trace_start_from_headers(struct kumo_trace *out, const char *traceparent,
                                   const char *tracestate)
{
    struct kumo_trace parent;
    if (kumo_trace_parse(traceparent, tracestate, &parent) == 0)
        kumo_trace_start(out, &parent);
    else
        kumo_trace_start(out, NULL);
}

void kumo_trace_format(const struct kumo_trace *t, char *out, size_t outlen)
{
    /* What snprintf("00-%s-%s-%02x") writes, without its format parser
     * (on every outgoing call). */
    static const char hex[] = "0123456789abcdef";
    char text[3 + sizeof t->trace_id + sizeof t->span_id + 3];
    size_t tl = strnlen(t->trace_id, sizeof t->trace_id - 1),
           sl = strnlen(t->span_id, sizeof t->span_id - 1);
    memcpy(text, "00-", 3);
    size_t n = 3;
    memcpy(text + n, t->trace_id, tl);
    n += tl;
    text[n++] = '-';
    memcpy(text + n, t->span_id, sl);
    n += sl;
    text[n++] = '-';
    text[n++] = hex[t->flags >> 4];
    text[n++] = hex[t->flags & 15];
    if (outlen == 0)
        return;
    if (n > outlen - 1)
        n = outlen - 1;
    memcpy(out, text, n);
    out[n] = '\0';
}

static _Atomic(kumo_trace_exporter_fn) exporter;

void kumo_trace_set_exporter(kumo_trace_exporter_fn fn)
{
    atomic_store(&exporter, fn);
}

void kumo_trace_end(const struct kumo_span_end *end)
{
    kumo_trace_exporter_fn fn = atomic_load(&exporter);
    if (fn && end && end->span)
        fn(end);
}

const struct kumo_trace *kumo_trace_current(void)
{
    return current;
}

const struct kumo_trace *kumo_trace_set_current(const struct kumo_trace *t)
{
    const struct kumo_trace *prev = current;
    current = t;
    return prev;
}
