/* The sandboxed extractor as the extract job runs it (extract_child.c).
 * Private to jobs/. */
#ifndef KUMO_DOCUMENTS_EXTRACT_CHILD_H
#define KUMO_DOCUMENTS_EXTRACT_CHILD_H

#include "../documents.h"
#include "base/buf.h"
#include "extract/frames.h"

/* The extractor's path: KUMO_EXTRACT_BIN, or kumo-extract beside this
 * binary when it is there; NULL when "off" or not installed. */
const char *docs__extract_bin(const struct docs_settings *s);

/* The --kind of a detected MIME type ("pdf", "ooxml", "docx", "xlsx",
 * "pptx", "image"), or NULL when the extractor has nothing for it. */
const char *docs__extract_kind(const char *mime);

/* Runs the extractor on the file open at `fd` (read from its start) with
 * the bounds of `s`. OK with r's text, pages and thumbnail; otherwise an
 * error code with the reason appended to `err`: the file's own problem
 * ("extractor: not a readable PDF ..."), a bound hit (timed out, CPU,
 * memory), a crash or a forbidden system call. `stopping` cuts the run
 * short; so does `tick` (called about every 200 ms while the child runs,
 * may be NULL) returning non-zero (ABORTED: "lease lost"). Free r with kumo_xf_result_free either
 * way. */
kumo_code docs__extract_child(const struct docs_settings *s, const char *kind, int fd,
                              const volatile int *stopping, struct kumo_xf_result *r,
                              struct kumo_buf *err, int (*tick)(void *ud), void *ud);

#endif
