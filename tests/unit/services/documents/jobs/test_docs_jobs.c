/* jobs: the retry backoff (store/jobs.c) and which extracted content
 * is text worth indexing (jobs/job_extract.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/jobs.h"

static void test_docs_jobs_backoff_full_jitter_within_the_cap(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        int64_t b1 = docs__job_backoff_ms(1000, 300000, 1);
        assert_true(b1 >= 0 && b1 <= 1000);
        int64_t b3 = docs__job_backoff_ms(1000, 300000, 3);
        assert_true(b3 >= 0 && b3 <= 4000);
        int64_t b40 = docs__job_backoff_ms(1000, 300000, 40); /* no overflow */
        assert_true(b40 >= 0 && b40 <= 300000);
        int64_t odd = docs__job_backoff_ms(0, -5, 2); /* bad bounds clamp */
        assert_true(odd >= 0 && odd <= 1);
    }
}

static void test_docs_jobs_mime_is_text(void **state)
{
    (void)state;
    assert_true(docs__mime_is_text("text/plain"));
    assert_true(docs__mime_is_text("text/csv"));
    assert_true(docs__mime_is_text("application/json"));
    assert_true(docs__mime_is_text("application/atom+xml"));
    assert_false(docs__mime_is_text("application/pdf"));
    assert_false(docs__mime_is_text("image/png"));
    assert_false(docs__mime_is_text(""));
    assert_false(docs__mime_is_text(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_jobs_backoff_full_jitter_within_the_cap),
        cmocka_unit_test(test_docs_jobs_mime_is_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
