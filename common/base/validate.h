/* Input validation shared by the services: strict UTF-8, single-line human
 * text, e-mail addresses and slugs. Every check is on bytes with an explicit
 * length, returns 1/0 or 0/KUMO_ERR_INVALID, and on failure names the
 * problem with a static string that is safe to send to clients (it never
 * quotes the input).
 *
 * Why strict: MySQL/MariaDB's utf8mb4 accepts some sequences that are not
 * UTF-8 (encoded surrogates, for one) and other layers (JSON encoders,
 * browsers) reject or rewrite them, so a value that went in would not come
 * back out as it was. Refusing them at the door keeps every stored string
 * one that round-trips exactly. */
#ifndef KUMO_VALIDATE_H
#define KUMO_VALIDATE_H

#include <stddef.h>

/* Returns 1 if s[0..len) is well-formed UTF-8 as RFC 3629 defines it (no
 * overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF),
 * else 0. NUL bytes are valid UTF-8; see kumo_text_check. */
int kumo_utf8_valid(const char *s, size_t len);

/* Returns the number of code points in s[0..len), which must be valid
 * UTF-8 (counts lead bytes). */
size_t kumo_utf8_count(const char *s, size_t len);

struct kumo_buf;

/* Appends to `out` the valid UTF-8 of in[0..len) without NULs and invalid
 * sequences (dropped a byte at a time), at most `max` bytes and never
 * ending inside a character: text from anywhere (extracted from files,
 * error messages) made safe to store and to encode as JSON. */
void kumo_utf8_clean(const char *in, size_t len, size_t max, struct kumo_buf *out);

/* Flags of kumo_text_check. */
enum kumo_text_flags {
    KUMO_TEXT_ALLOW_EMPTY = 1u << 0, /* "" passes */
    KUMO_TEXT_MULTILINE = 1u << 1,   /* allow TAB, LF and CR */
};

/* Checks human text (display names, key names, search queries): valid
 * UTF-8, no NUL, no control characters (C0, DEL, C1; TAB/LF/CR only with
 * KUMO_TEXT_MULTILINE), at most `max_chars` code points and `max_bytes`
 * bytes, non-empty unless KUMO_TEXT_ALLOW_EMPTY. Returns 0, or
 * KUMO_ERR_INVALID with *why (if `why` is not NULL) set to a static reason
 * such as "is not valid UTF-8". */
int kumo_text_check(const char *s, size_t len, size_t max_chars, size_t max_bytes, unsigned flags,
                    const char **why);

/* Longest e-mail address accepted (RFC 5321's path limit minus brackets). */
#define KUMO_EMAIL_MAX 254

/* Checks an e-mail address of the common form local@domain and writes its
 * normalized form (ASCII-lowercased, same length) and a NUL to
 * norm[KUMO_EMAIL_MAX + 1] (`norm` may be NULL). Accepted: local part of
 * 1..64 characters from RFC 5322 atext plus dots (no leading, trailing or
 * doubled dot; quoted local parts are refused); domain of two or more
 * dot-separated labels of 1..63 letters, digits and hyphens (no leading or
 * trailing hyphen; IDNs in their xn-- form), the last not all digits; at
 * most KUMO_EMAIL_MAX bytes in all. Returns 0 or KUMO_ERR_INVALID with a
 * static *why. */
int kumo_email_check(const char *s, size_t len, char *norm, const char **why);

/* Checks a slug: `min`..`max` characters of a-z, 0-9 and '-', starting and
 * ending with a letter or digit. Returns 0 or KUMO_ERR_INVALID with a static
 * *why. */
int kumo_slug_check(const char *s, size_t len, size_t min, size_t max, const char **why);

#endif
