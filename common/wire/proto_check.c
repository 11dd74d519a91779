#include "wire/proto_check.h"

#include <string.h>

#include "base/errors.h"
#include "base/validate.h"

static int fail(struct kumo_proto_check_error *err, const char *field, const char *reason)
{
    if (err) {
        err->field = field ? field : "";
        err->reason = reason;
    }
    return KUMO_ERR_INVALID;
}

/* Reads a varint at *pos; returns 0 or -1 if truncated or longer than 10
 * bytes. */
static int read_varint(const uint8_t *data, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= len)
            return -1;
        uint8_t b = data[(*pos)++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int check_string(const ProtobufCFieldDescriptor *f, const uint8_t *s, size_t n,
                        struct kumo_proto_check_error *err)
{
    if (memchr(s, 0, n) != NULL)
        return fail(err, f->name, "contains a NUL byte");
    if (!kumo_utf8_valid((const char *)s, n))
        return fail(err, f->name, "is not valid UTF-8");
    return 0;
}

static int walk(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, int depth,
                struct kumo_proto_check_error *err)
{
    if (depth > KUMO_PROTO_CHECK_MAX_DEPTH)
        return fail(err, "", "is nested too deeply");
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(data, len, &pos, &tag) != 0)
            return fail(err, "", "is not valid protobuf");
        unsigned wire = (unsigned)(tag & 7);
        uint64_t num = tag >> 3;
        const ProtobufCFieldDescriptor *f =
            num > 0 && num <= UINT32_MAX
                ? protobuf_c_message_descriptor_get_field(desc, (unsigned)num)
                : NULL;
        switch (wire) {
        case 0:
            if (read_varint(data, len, &pos, &v) != 0)
                return fail(err, "", "is not valid protobuf");
            break;
        case 1:
        case 5: {
            size_t n = wire == 1 ? 8 : 4;
            if (len - pos < n)
                return fail(err, "", "is not valid protobuf");
            pos += n;
            break;
        }
        case 2: {
            if (read_varint(data, len, &pos, &v) != 0 || v > len - pos)
                return fail(err, "", "is not valid protobuf");
            const uint8_t *p = data + pos;
            size_t n = (size_t)v;
            pos += n;
            if (f == NULL)
                break;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                if (check_string(f, p, n, err) != 0)
                    return KUMO_ERR_INVALID;
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (walk(f->descriptor, p, n, depth + 1, err) != 0)
                    return KUMO_ERR_INVALID;
            }
            break;
        }
        default:
            /* Groups (3, 4) and reserved wire types: protobuf-c refuses them
             * too. */
            return fail(err, "", "is not valid protobuf");
        }
    }
    return 0;
}

int kumo_proto_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                             size_t len, struct kumo_proto_check_error *err)
{
    if (desc == NULL || (data == NULL && len != 0))
        return fail(err, "", "is missing");
    return walk(desc, data, len, 0, err);
}
