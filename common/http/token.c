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
