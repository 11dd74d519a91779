/* The libcurl easy handle every kumo HTTP transfer starts from (http_get,
 * http_put, kumo-documents' extraction download): one place for the
 * settings they all share. */
#ifndef KUMO_HTTP_EASY_H
#define KUMO_HTTP_EASY_H

#include <curl/curl.h>

/* A handle for `url`, curl set up once per process first: http and https
 * only, no redirects followed, no signals (timeouts work on any thread),
 * curl's error text into `errbuf` (CURL_ERROR_SIZE bytes; may be NULL).
 * The caller adds its own options. NULL if curl cannot make one. */
CURL *kumo_http_easy(const char *url, char *errbuf);

/* Runs the transfer and frees `h`. Returns curl's result; *status gets
 * the HTTP status (0 when none came). */
CURLcode kumo_http_easy_run(CURL *h, long *status);

#endif
