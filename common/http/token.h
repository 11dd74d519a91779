/* RFC 9110 tokens (the names and values of media types, header
 * parameters): the grammar that content-type checks in kumo-documents and
 * the serving policy of kumo-storage both parse. */
#ifndef KUMO_HTTP_TOKEN_H
#define KUMO_HTTP_TOKEN_H

#include <stddef.h>

/* 1 if c is an RFC 9110 tchar (ALPHA, DIGIT or one of !#$%&'*+-.^_`|~). */
int kumo_http_tchar(unsigned char c);

/* Length of the token at the start of s[0..len) (0 when s does not start
 * with a tchar). */
size_t kumo_http_token_len(const char *s, size_t len);

#endif
