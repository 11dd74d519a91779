/* RFC 9110 tokens (http/token.h). */
#include "http/token.h"

#include <string.h>

int kumo_http_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

size_t kumo_http_token_len(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && kumo_http_tchar((unsigned char)s[i]))
        i++;
    return i;
}

/* HTAB, SP, visible ASCII, and obs-text when allowed. */
static int quoted_char(unsigned char c, int allow_obs_text)
{
    return c == '\t' || (c >= 0x20 && c <= 0x7e) || (allow_obs_text && c >= 0x80);
}

size_t kumo_http_quoted_len(const char *s, size_t len, int allow_obs_text)
{
    if (len < 2 || s[0] != '"')
        return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c == '\\' && ++i >= len)
            return 0;
        if (!quoted_char((unsigned char)s[i], allow_obs_text))
            return 0;
    }
    return 0;
}
