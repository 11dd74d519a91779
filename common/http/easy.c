/* The shared start of every libcurl transfer; see easy.h. */
#include "http/easy.h"

#include <pthread.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT); /* reference counted: others may call it too */
}

CURL *kumo_http_easy(const char *url, char *errbuf)
{
    pthread_once(&curl_once, curl_init);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return NULL;
    if (errbuf) {
        errbuf[0] = '\0';
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    return h;
}

CURLcode kumo_http_easy_run(CURL *h, long *status)
{
    CURLcode cc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    return cc;
}
