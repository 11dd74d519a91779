/* The wire-level string check the RPC server runs on every binary request,
 * and the validators behind the services' field checks, on arbitrary bytes.
 *
 * Oracle: whenever protobuf-c decodes the input and the check passes, every
 * string of the decoded message (walked through its descriptor) is valid
 * UTF-8; every refusal names a field and a reason; validators that accept
 * bytes accept only what their contracts promise. Input: [selector][bytes]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/struct.pb-c.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "db/page_token.h"
#include "wire/proto_check.h"
#include "base/validate.h"

static const ProtobufCMessageDescriptor *descs[] = {
    &kumo__test__v1__echo_request__descriptor,
    &kumo__test__v1__echo_response__descriptor,
    &google__protobuf__value__descriptor,
    &google__protobuf__struct__descriptor,
};

/* Every string reachable from m is valid UTF-8 (strlen bounds it: a NUL
 * would have been refused by the check). */
static void check_strings(const ProtobufCMessage *m, int depth)
{
    if (m == NULL || depth > KUMO_PROTO_CHECK_MAX_DEPTH)
        return;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        size_t n = 1;
        const void *const *items = (const void *const *)base;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            items = *(const void *const *const *)base;
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
                continue;
        }
        for (size_t k = 0; k < n; k++) {
            const void *v = items[k];
            if (f->type == PROTOBUF_C_TYPE_STRING && v) {
                if (!kumo_utf8_valid(v, strlen(v)))
                    abort();
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                check_strings(v, depth + 1);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *d = descs[data[0] % 4];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    struct kumo_proto_check_error err = {0};
    int rc = kumo_proto_check_strings(d, p, n, &err);
    if (rc != 0 && (err.field == NULL || err.reason == NULL))
        abort();
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);
    if (m) {
        if (rc == 0)
            check_strings(m, 0);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    /* The validators on the same bytes. */
    char norm[KUMO_EMAIL_MAX + 1];
    const char *why;
    if (kumo_email_check((const char *)p, n, norm, &why) == 0 && strlen(norm) != n)
        abort();
    if (kumo_text_check((const char *)p, n, 200, 800, KUMO_TEXT_ALLOW_EMPTY, &why) == 0 &&
        (!kumo_utf8_valid((const char *)p, n) || memchr(p, 0, n)))
        abort();
    kumo_slug_check((const char *)p, n, 1, 63, &why);
    int64_t key;
    if (kumo_page_token_decode((const char *)p, n, "s", 1, &key) == 0 && n && key < 0)
        abort();
    return 0;
}
