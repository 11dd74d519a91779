/* Byte-class checks on ASCII text, eight bytes at a time: for values that
 * go on the wire as they are (HTTP/2 header values), checked on every
 * call. */
#ifndef KUMO_BASE_ASCII_H
#define KUMO_BASE_ASCII_H

#include <stddef.h>

/* Returns 1 if every byte of s[0..len) is printable ASCII (0x20 space ..
 * 0x7E '~'), else 0 (a NUL, a control, DEL or any byte >= 0x80). "" is 1. */
int kumo_ascii_printable(const char *s, size_t len);

#endif
