/* Fuzzes what kumo-bff reads of KumoCMS requests by hand: the body limit of
 * a request line (method and path, query included), what can be a document
 * id, and meta_content (base64 of a meta.json file, or JSON text) turned
 * into a create request's metadata. The first byte picks the case; the
 * rest is the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bff.h"
#include "op.h"

static void meta_content(const char *s, size_t len)
{
    json_t *body = json_object();
    json_object_set_new(body, "file_name", json_string("a.txt"));
    json_t *mc = json_stringn(s, len);
    if (!mc) { /* not UTF-8: jansson refuses it, as the BFF's JSON parser would */
        json_decref(body);
        return;
    }
    json_object_set_new(body, "meta_content", mc);
    static struct bff app;
    app.s.page_size_max = 100;
    app.s.json_max_depth = 32;
    struct bff_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = "POST";
    rq.path = "/api/v1/documents";
    struct bff_response rs;
    memset(&rs, 0, sizeof rs);
    struct bff_ctx c;
    memset(&c, 0, sizeof c);
    c.app = &app;
    c.rq = &rq;
    c.rs = &rs;
    c.arena = kumo_arena_new();
    c.body = body;
    ProtobufCMessage *m = bff_op_request(&c, &bff_op_docs_create);
    /* Either a request (the metadata an object) or a 400 answer. */
    if ((m == NULL) != (rs.status == 400))
        abort();
    json_decref(c.body);
    bff_response_clear(&rs);
    kumo_arena_free(c.arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0: {
        static struct bff app;
        app.s.body_max = 1024 * 1024;
        int64_t lim = bff_body_limit(&app, "PUT", s, 1);
        if (lim != app.s.body_max && lim != BFF_DIRECT_BODY_MAX)
            abort();
        if (bff_body_limit(&app, "POST", s, 1) != app.s.body_max ||
            bff_body_limit(&app, "PUT", s, 0) != app.s.body_max)
            abort();
        break;
    }
    case 1:
        if (bff_doc_id_valid(s) && (strncmp(s, "doc_", 4) != 0 || strlen(s) > 64))
            abort();
        break;
    default:
        meta_content(s, size - 1);
        break;
    }
    free(s);
    return 0;
}
