/* Content-Disposition values for downloads (RFC 6266 with the RFC 5987/8187
 * extended parameter), so a browser saves a presigned download under its
 * original name whatever characters that name holds. */
#ifndef KUMO_CONTENT_DISPOSITION_H
#define KUMO_CONTENT_DISPOSITION_H

#include <stddef.h>

#include "base/buf.h"

/* Appends `attachment; filename="<fallback>"; filename*=UTF-8''<encoded>`
 * for the UTF-8 file name name[0..len) to `out`. The quoted fallback is for
 * old clients: printable ASCII kept, '"', '\\', control and non-ASCII
 * characters (one '_' per code point) replaced; "download" if nothing is
 * left. The extended value percent-encodes every byte outside RFC 5987's
 * attr-char set (uppercase hex). An empty name yields
 * `attachment; filename="download"`. */
void kumo_content_disposition_attachment(const char *name, size_t len, struct kumo_buf *out);

#endif
