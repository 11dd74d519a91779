/* RFC 9110 tokens (the names and values of media types, header
 * parameters) and quoted strings: the grammar that content-type checks in
 * kumo-documents and the serving policy of kumo-storage both parse. */
#ifndef KUMO_HTTP_TOKEN_H
#define KUMO_HTTP_TOKEN_H

#include <stddef.h>

/* 1 if c is an RFC 9110 tchar (ALPHA, DIGIT or one of !#$%&'*+-.^_`|~). */
int kumo_http_tchar(unsigned char c);

/* Length of the token at the start of s[0..len) (0 when s does not start
 * with a tchar). */
size_t kumo_http_token_len(const char *s, size_t len);

/* Length of the RFC 9110 quoted-string at the start of s[0..len), both
 * quotes included (0 when there is none, or it is not closed). Inside:
 * HTAB, SP and visible ASCII, '"' and '\\' only escaped, the escapes
 * themselves HTAB, SP or visible; bytes 0x80-0xFF (obs-text) only when
 * allow_obs_text. */
size_t kumo_http_quoted_len(const char *s, size_t len, int allow_obs_text);

#endif
