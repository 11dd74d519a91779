/* What kumo's two libmicrohttpd listeners (kumo-bff's HTTP port, the
 * storage data port) share in setting up libmicrohttpd: its error log into
 * kumo's JSON log, and the listen address from a numeric setting. */
#ifndef KUMO_HTTP_MHD_H
#define KUMO_HTTP_MHD_H

#include <stdarg.h>
#include <sys/socket.h>

/* A MHD_OPTION_EXTERNAL_LOGGER: logs libmicrohttpd's message (trailing line
 * breaks dropped, at most 511 bytes) as "libmicrohttpd" with the message as
 * "detail", at the kumo log level given as cls ((void *)(intptr_t)level). */
void kumo_mhd_log(void *cls, const char *fmt, va_list ap);

/* Fills *ss (and *len) with the numeric IPv4 or IPv6 address `addr`
 * ("localhost" = 127.0.0.1) and `port`. Returns 0, or -1 for an address
 * that is not numeric (host names are not resolved here). */
int kumo_http_listen_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len);

#endif
