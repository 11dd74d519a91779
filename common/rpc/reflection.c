/* The reflection index and the answers to ServerReflectionInfo requests.
 *
 * Each FileDescriptorSet is split on the wire into its files, so the bytes
 * served are exactly protoc's (no re-encoding); each file is decoded once
 * with protobuf-c to index its symbols, then the decoded form is dropped.
 * Names live in one arena; file and symbol tables are sorted arrays searched
 * with bsearch. */
#include "rpc/reflection.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/errors.h"
#include "google/protobuf/descriptor.pb-c.h"

/* Message nesting deeper than this is refused: it bounds the recursion of
 * the indexer (protoc output never comes close). */
#define MAX_NESTING 100
/* Client-supplied names are quoted in error messages up to this length. */
#define MAX_QUOTED 200

/* A full name (file or symbol) and the file defining it. `seq` is the order
 * of definition, so that after sorting the first definition wins. */
struct name_entry {
    const char *name;
    size_t file;
    size_t seq;
};

struct refl_file {
    const char *name;
    uint8_t *data; /* serialized FileDescriptorProto, owned */
    size_t len;
    size_t *deps; /* indexes of the imported files we have */
    size_t n_deps;
};

struct refl_ext {
    const char *extendee; /* full name of the extended message, no leading dot */
    int32_t number;
    size_t file;
};

struct kumo_reflection {
    struct kumo_arena *arena; /* names, dependency lists, service names */
    struct refl_file *files;
    size_t n_files;
    struct name_entry *files_by_name; /* sorted, unique */
    struct name_entry *symbols;       /* sorted, unique */
    size_t n_symbols;
    size_t cap_symbols;
    struct refl_ext *exts; /* in definition order */
    size_t n_exts;
    size_t cap_exts;
    const char **services; /* sorted, unique */
    size_t n_services;
    struct kumo_rpc_service service_v1;
    struct kumo_rpc_service service_v1alpha;
};

/* ---- splitting FileDescriptorSets ---------------------------------------- */

/* One FileDescriptorProto found in a set, before deduplication. */
struct pending_file {
    const uint8_t *data; /* slice of the caller's set */
    size_t len;
    Google__Protobuf__FileDescriptorProto *fd;
    size_t seq;
};

struct pending {
    struct pending_file *files;
    size_t n;
    size_t cap;
};

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return KUMO_ERR_INVALID;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = x;
            return 0;
        }
    }
    return KUMO_ERR_INVALID;
}

static void pending_add(struct pending *pd, const uint8_t *data, size_t len)
{
    if (pd->n == pd->cap) {
        pd->cap = pd->cap ? pd->cap * 2 : 16;
        pd->files = kumo_realloc(pd->files, pd->cap * sizeof(*pd->files));
    }
    pd->files[pd->n] = (struct pending_file){data, len, NULL, pd->n};
    pd->n++;
}

/* Skips the value of a field of wire type `wt` other than field 1. */
static int skip_value(const uint8_t **p, const uint8_t *end, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0:
        return read_varint(p, end, &v);
    case 1:
    case 5: {
        size_t n = wt == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return KUMO_ERR_INVALID;
        *p += n;
        return 0;
    }
    case 2:
        if (read_varint(p, end, &v) != 0 || v > (uint64_t)(end - *p))
            return KUMO_ERR_INVALID;
        *p += v;
        return 0;
    default: /* groups are not part of a FileDescriptorSet */
        return KUMO_ERR_INVALID;
    }
}

/* Collects the `file` (field 1) entries of one serialized FileDescriptorSet. */
static int split_set(struct pending *pd, const uint8_t *data, size_t len)
{
    if (len == 0) /* an empty set is valid; data may be NULL */
        return 0;
    const uint8_t *p = data, *end = data + len;
    while (p < end) {
        uint64_t key, n;
        if (read_varint(&p, end, &key) != 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
            return KUMO_ERR_INVALID;
        unsigned wt = (unsigned)(key & 7);
        if ((key >> 3) != 1) {
            if (skip_value(&p, end, wt) != 0)
                return KUMO_ERR_INVALID;
            continue;
        }
        if (wt != 2 || read_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
            return KUMO_ERR_INVALID;
        pending_add(pd, p, (size_t)n);
        p += n;
    }
    return 0;
}

static void pending_free(struct pending *pd)
{
    for (size_t i = 0; i < pd->n; i++)
        if (pd->files[i].fd != NULL)
            google__protobuf__file_descriptor_proto__free_unpacked(pd->files[i].fd, NULL);
    kumo_free(pd->files);
}

/* Splits and decodes every set; fails on the first malformed one. */
static int load_sets(struct pending *pd, const struct kumo_blob *sets, size_t n_sets)
{
    for (size_t i = 0; i < n_sets; i++)
        if (split_set(pd, sets[i].data, sets[i].len) != 0)
            return KUMO_ERR_INVALID;
    for (size_t i = 0; i < pd->n; i++) {
        struct pending_file *f = &pd->files[i];
        f->fd = google__protobuf__file_descriptor_proto__unpack(NULL, f->len, f->data);
        if (f->fd == NULL || f->fd->name == NULL || f->fd->name[0] == '\0')
            return KUMO_ERR_INVALID;
    }
    return 0;
}

/* ---- sorted name tables ------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
    const struct name_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorts `e` by name and keeps the first definition of each name. Returns the
 * new count. */
static size_t sort_unique(struct name_entry *e, size_t n)
{
    if (n == 0)
        return 0;
    qsort(e, n, sizeof(*e), cmp_entry);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(e[i].name, e[k - 1].name) != 0)
            e[k++] = e[i];
    return k;
}

static int cmp_key(const void *key, const void *elem)
{
    return strcmp(key, ((const struct name_entry *)elem)->name);
}

static const struct name_entry *lookup(const struct name_entry *e, size_t n, const char *name)
{
    if (n == 0 || name == NULL)
        return NULL;
    return bsearch(name, e, n, sizeof(*e), cmp_key);
}

/* ---- indexing symbols --------------------------------------------------- */

struct indexer {
    struct kumo_reflection *r;
    size_t file;
};

static const char *join(struct kumo_arena *a, const char *scope, const char *name)
{
    size_t ls = strlen(scope), ln = strlen(name);
    if (ls == 0)
        return kumo_arena_strndup(a, name, ln);
    char *s = kumo_arena_alloc(a, ls + 1 + ln + 1);
    memcpy(s, scope, ls);
    s[ls] = '.';
    memcpy(s + ls + 1, name, ln + 1);
    return s;
}

/* Records `scope`.`name` as defined by the current file; *full_out (when not
 * NULL) receives the full name, the scope of nested definitions. */
static int add_symbol(struct indexer *ix, const char *scope, const char *name,
                      const char **full_out)
{
    if (name == NULL || name[0] == '\0')
        return KUMO_ERR_INVALID;
    struct kumo_reflection *r = ix->r;
    if (r->n_symbols == r->cap_symbols) {
        r->cap_symbols = r->cap_symbols ? r->cap_symbols * 2 : 64;
        r->symbols = kumo_realloc(r->symbols, r->cap_symbols * sizeof(*r->symbols));
    }
    const char *full = join(r->arena, scope, name);
    r->symbols[r->n_symbols] = (struct name_entry){full, ix->file, r->n_symbols};
    r->n_symbols++;
    if (full_out != NULL)
        *full_out = full;
    return 0;
}

static int index_enum(struct indexer *ix, const char *scope,
                      const Google__Protobuf__EnumDescriptorProto *e)
{
    if (add_symbol(ix, scope, e->name, NULL) != 0)
        return KUMO_ERR_INVALID;
    /* Enum values are siblings of their enum (C++ scoping): "pkg.VALUE". */
    for (size_t i = 0; i < e->n_value; i++)
        if (add_symbol(ix, scope, e->value[i]->name, NULL) != 0)
            return KUMO_ERR_INVALID;
    return 0;
}

static int index_extension(struct indexer *ix, const char *scope,
                           const Google__Protobuf__FieldDescriptorProto *f)
{
    if (add_symbol(ix, scope, f->name, NULL) != 0)
        return KUMO_ERR_INVALID;
    if (f->extendee == NULL || f->extendee[0] == '\0')
        return KUMO_ERR_INVALID;
    struct kumo_reflection *r = ix->r;
    if (r->n_exts == r->cap_exts) {
        r->cap_exts = r->cap_exts ? r->cap_exts * 2 : 8;
        r->exts = kumo_realloc(r->exts, r->cap_exts * sizeof(*r->exts));
    }
    /* protoc writes resolved names with a leading dot; clients send none. */
    const char *extendee = f->extendee[0] == '.' ? f->extendee + 1 : f->extendee;
    r->exts[r->n_exts++] = (struct refl_ext){kumo_arena_strdup(r->arena, extendee),
                                             f->has_number ? f->number : 0, ix->file};
    return 0;
}

static int index_message(struct indexer *ix, const char *scope,
                         const Google__Protobuf__DescriptorProto *m, int depth)
{
    const char *full;
    if (depth > MAX_NESTING || add_symbol(ix, scope, m->name, &full) != 0)
        return KUMO_ERR_INVALID;
    for (size_t i = 0; i < m->n_field; i++)
        if (add_symbol(ix, full, m->field[i]->name, NULL) != 0)
            return KUMO_ERR_INVALID;
    for (size_t i = 0; i < m->n_oneof_decl; i++)
        if (add_symbol(ix, full, m->oneof_decl[i]->name, NULL) != 0)
            return KUMO_ERR_INVALID;
    for (size_t i = 0; i < m->n_extension; i++)
        if (index_extension(ix, full, m->extension[i]) != 0)
            return KUMO_ERR_INVALID;
    for (size_t i = 0; i < m->n_nested_type; i++)
        if (index_message(ix, full, m->nested_type[i], depth + 1) != 0)
            return KUMO_ERR_INVALID;
    for (size_t i = 0; i < m->n_enum_type; i++)
        if (index_enum(ix, full, m->enum_type[i]) != 0)
            return KUMO_ERR_INVALID;
    return 0;
}

static int index_service(struct indexer *ix, const char *scope,
                         const Google__Protobuf__ServiceDescriptorProto *s)
{
    const char *full;
    if (add_symbol(ix, scope, s->name, &full) != 0)
        return KUMO_ERR_INVALID;
    for (size_t i = 0; i < s->n_method; i++)
        if (add_symbol(ix, full, s->method[i]->name, NULL) != 0)
            return KUMO_ERR_INVALID;
    return 0;
}

static int index_file(struct indexer *ix, const Google__Protobuf__FileDescriptorProto *fd)
{
    const char *pkg = fd->package != NULL ? fd->package : "";
    for (size_t i = 0; i < fd->n_message_type; i++)
        if (index_message(ix, pkg, fd->message_type[i], 0) != 0)
            return KUMO_ERR_INVALID;
    for (size_t i = 0; i < fd->n_enum_type; i++)
        if (index_enum(ix, pkg, fd->enum_type[i]) != 0)
            return KUMO_ERR_INVALID;
    for (size_t i = 0; i < fd->n_service; i++)
        if (index_service(ix, pkg, fd->service[i]) != 0)
            return KUMO_ERR_INVALID;
    for (size_t i = 0; i < fd->n_extension; i++)
        if (index_extension(ix, pkg, fd->extension[i]) != 0)
            return KUMO_ERR_INVALID;
    return 0;
}

/* ---- construction ------------------------------------------------------- */

/* Keeps the first file of each name, in order; returns the kept files as
 * pointers into `pd` (caller frees the array) and their count in *n_out. */
static struct pending_file **dedup_files(struct pending *pd, size_t *n_out)
{
    struct name_entry *byname = kumo_malloc((pd->n ? pd->n : 1) * sizeof(*byname));
    for (size_t i = 0; i < pd->n; i++)
        byname[i] = (struct name_entry){pd->files[i].fd->name, i, i};
    size_t n = sort_unique(byname, pd->n);
    /* Back to definition order, so earlier files define symbols first. */
    char *keep = kumo_calloc(pd->n ? pd->n : 1, 1);
    for (size_t i = 0; i < n; i++)
        keep[byname[i].file] = 1;
    struct pending_file **kept = kumo_malloc((n ? n : 1) * sizeof(*kept));
    size_t k = 0;
    for (size_t i = 0; i < pd->n; i++)
        if (keep[i])
            kept[k++] = &pd->files[i];
    kumo_free(keep);
    kumo_free(byname);
    *n_out = k;
    return kept;
}

static void add_files(struct kumo_reflection *r, struct pending_file **kept, size_t n)
{
    r->files = kumo_calloc(n ? n : 1, sizeof(*r->files));
    r->files_by_name = kumo_malloc((n ? n : 1) * sizeof(*r->files_by_name));
    r->n_files = n;
    for (size_t i = 0; i < n; i++) {
        struct refl_file *f = &r->files[i];
        f->name = kumo_arena_strdup(r->arena, kept[i]->fd->name);
        f->len = kept[i]->len;
        f->data = kumo_malloc(f->len ? f->len : 1);
        memcpy(f->data, kept[i]->data, f->len);
        r->files_by_name[i] = (struct name_entry){f->name, i, i};
    }
    sort_unique(r->files_by_name, n); /* names are unique already */
}

/* Imports we do not have are skipped: grpc-go does the same with
 * placeholder files. */
static void resolve_deps(struct kumo_reflection *r, struct pending_file **kept)
{
    for (size_t i = 0; i < r->n_files; i++) {
        const Google__Protobuf__FileDescriptorProto *fd = kept[i]->fd;
        struct refl_file *f = &r->files[i];
        f->deps = kumo_arena_alloc(r->arena, (fd->n_dependency + 1) * sizeof(*f->deps));
        for (size_t d = 0; d < fd->n_dependency; d++) {
            const struct name_entry *e = lookup(r->files_by_name, r->n_files, fd->dependency[d]);
            if (e != NULL && e->file != i)
                f->deps[f->n_deps++] = e->file;
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_services(struct kumo_reflection *r, const char *const *names, size_t n)
{
    r->services = kumo_arena_alloc(r->arena, (n ? n : 1) * sizeof(*r->services));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL && names[i][0] != '\0')
            r->services[k++] = kumo_arena_strdup(r->arena, names[i]);
    if (k > 0)
        qsort(r->services, k, sizeof(*r->services), cmp_str);
    r->n_services = 0;
    for (size_t i = 0; i < k; i++)
        if (r->n_services == 0 || strcmp(r->services[i], r->services[r->n_services - 1]) != 0)
            r->services[r->n_services++] = r->services[i];
}

static int build(struct kumo_reflection *r, struct pending *pd)
{
    size_t n;
    struct pending_file **kept = dedup_files(pd, &n);
    add_files(r, kept, n);
    resolve_deps(r, kept);
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        struct indexer ix = {r, i};
        err = index_file(&ix, kept[i]->fd);
    }
    kumo_free(kept);
    if (err == 0)
        r->n_symbols = sort_unique(r->symbols, r->n_symbols);
    return err;
}

int kumo_reflection_new(struct kumo_reflection **out, const struct kumo_blob *sets, size_t n_sets,
                        const char *const *service_names, size_t n_services)
{
    struct pending pd = {NULL, 0, 0};
    int err = load_sets(&pd, sets, n_sets);
    if (err != 0) {
        pending_free(&pd);
        return err;
    }
    struct kumo_reflection *r = kumo_calloc(1, sizeof(*r));
    r->arena = kumo_arena_new();
    err = build(r, &pd);
    pending_free(&pd);
    if (err != 0) {
        kumo_reflection_free(r);
        return err;
    }
    add_services(r, service_names, n_services);
    *out = r;
    return 0;
}

void kumo_reflection_free(struct kumo_reflection *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_files; i++)
        kumo_free(r->files[i].data);
    kumo_free(r->files);
    kumo_free(r->files_by_name);
    kumo_free(r->symbols);
    kumo_free(r->exts);
    kumo_arena_free(r->arena);
    kumo_free(r);
}

struct kumo_rpc_service *kumo__reflection_service_slot(struct kumo_reflection *r, int alpha)
{
    return alpha ? &r->service_v1alpha : &r->service_v1;
}

/* ---- answers ------------------------------------------------------------ */

typedef Grpc__Reflection__V1__ServerReflectionRequest Request;
typedef Grpc__Reflection__V1__ServerReflectionResponse Response;

/* Allocation through the caller's allocator; like kumo_malloc, failure
 * aborts rather than leaving a half-built response. */
static void *pb_alloc(ProtobufCAllocator *a, size_t size)
{
    void *p = a->alloc(a->allocator_data, size ? size : 1);
    if (p == NULL) {
        fputs("kumo: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *pb_strdup(ProtobufCAllocator *a, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s) + 1;
    return memcpy(pb_alloc(a, n), s, n);
}

static char *pb_printf(ProtobufCAllocator *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *pb_printf(ProtobufCAllocator *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return pb_strdup(a, "");
    char *s = pb_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A deep copy for original_request, so the response does not depend on the
 * request's lifetime. Unknown fields are not echoed. */
static Request *copy_request(const Request *req, ProtobufCAllocator *a)
{
    Request *c = pb_alloc(a, sizeof(*c));
    grpc__reflection__v1__server_reflection_request__init(c);
    c->host = pb_strdup(a, req->host);
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        /* All string members of the oneof share the union slot. */
        c->message_request_case = req->message_request_case;
        c->file_by_filename = pb_strdup(a, req->file_by_filename);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION: {
        Grpc__Reflection__V1__ExtensionRequest *e = pb_alloc(a, sizeof(*e));
        grpc__reflection__v1__extension_request__init(e);
        if (req->file_containing_extension != NULL) {
            e->containing_type = pb_strdup(a, req->file_containing_extension->containing_type);
            e->extension_number = req->file_containing_extension->extension_number;
        }
        c->message_request_case = req->message_request_case;
        c->file_containing_extension = e;
        break;
    }
    default:
        break;
    }
    return c;
}

static void set_error(Response *resp, ProtobufCAllocator *a, kumo_code code, char *message)
{
    Grpc__Reflection__V1__ErrorResponse *e = pb_alloc(a, sizeof(*e));
    grpc__reflection__v1__error_response__init(e);
    e->error_code = (int32_t)code;
    e->error_message = message;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    resp->error_response = e;
}

/* The file `root` first, then its transitive imports breadth first, each
 * once (grpc-go's order). */
static void set_files(const struct kumo_reflection *r, Response *resp, ProtobufCAllocator *a,
                      size_t root)
{
    char *seen = pb_alloc(a, r->n_files);
    memset(seen, 0, r->n_files);
    size_t *queue = pb_alloc(a, r->n_files * sizeof(*queue));
    size_t head = 0, tail = 0;
    queue[tail++] = root;
    seen[root] = 1;
    while (head < tail) {
        const struct refl_file *f = &r->files[queue[head++]];
        for (size_t i = 0; i < f->n_deps; i++)
            if (!seen[f->deps[i]]) {
                seen[f->deps[i]] = 1;
                queue[tail++] = f->deps[i];
            }
    }
    Grpc__Reflection__V1__FileDescriptorResponse *fr = pb_alloc(a, sizeof(*fr));
    grpc__reflection__v1__file_descriptor_response__init(fr);
    fr->file_descriptor_proto = pb_alloc(a, tail * sizeof(*fr->file_descriptor_proto));
    fr->n_file_descriptor_proto = tail;
    for (size_t i = 0; i < tail; i++) {
        const struct refl_file *f = &r->files[queue[i]];
        fr->file_descriptor_proto[i].data = f->data;
        fr->file_descriptor_proto[i].len = f->len;
    }
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    resp->file_descriptor_response = fr;
}

static void answer_list_services(const struct kumo_reflection *r, Response *resp,
                                 ProtobufCAllocator *a)
{
    Grpc__Reflection__V1__ListServiceResponse *l = pb_alloc(a, sizeof(*l));
    grpc__reflection__v1__list_service_response__init(l);
    l->service = pb_alloc(a, r->n_services * sizeof(*l->service));
    l->n_service = r->n_services;
    for (size_t i = 0; i < r->n_services; i++) {
        Grpc__Reflection__V1__ServiceResponse *s = pb_alloc(a, sizeof(*s));
        grpc__reflection__v1__service_response__init(s);
        s->name = pb_strdup(a, r->services[i]);
        l->service[i] = s;
    }
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
    resp->list_services_response = l;
}

static void answer_file(const struct kumo_reflection *r, Response *resp, ProtobufCAllocator *a,
                        const char *filename)
{
    const struct name_entry *e = lookup(r->files_by_name, r->n_files, filename);
    if (e == NULL)
        set_error(resp, a, KUMO_CODE_NOT_FOUND,
                  pb_printf(a, "file not found: %.*s", MAX_QUOTED, filename));
    else
        set_files(r, resp, a, e->file);
}

static void answer_symbol(const struct kumo_reflection *r, Response *resp, ProtobufCAllocator *a,
                          const char *symbol)
{
    const struct name_entry *e = lookup(r->symbols, r->n_symbols, symbol);
    if (e == NULL)
        set_error(resp, a, KUMO_CODE_NOT_FOUND,
                  pb_printf(a, "symbol not found: %.*s", MAX_QUOTED, symbol));
    else
        set_files(r, resp, a, e->file);
}

static void answer_extension(const struct kumo_reflection *r, Response *resp, ProtobufCAllocator *a,
                             const Grpc__Reflection__V1__ExtensionRequest *req)
{
    for (size_t i = 0; i < r->n_exts; i++)
        if (r->exts[i].number == req->extension_number &&
            strcmp(r->exts[i].extendee, req->containing_type) == 0) {
            set_files(r, resp, a, r->exts[i].file);
            return;
        }
    set_error(resp, a, KUMO_CODE_NOT_FOUND,
              pb_printf(a, "extension not found: %.*s(%d)", MAX_QUOTED, req->containing_type,
                        (int)req->extension_number));
}

static int cmp_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted and deduplicated; for a known symbol without extensions an empty
 * list, for an unknown one NOT_FOUND (grpc-go). */
static void answer_extension_numbers(const struct kumo_reflection *r, Response *resp,
                                     ProtobufCAllocator *a, const char *type)
{
    int32_t *nums = pb_alloc(a, r->n_exts * sizeof(*nums));
    size_t n = 0;
    for (size_t i = 0; i < r->n_exts; i++)
        if (strcmp(r->exts[i].extendee, type) == 0)
            nums[n++] = r->exts[i].number;
    if (n == 0 && lookup(r->symbols, r->n_symbols, type) == NULL) {
        set_error(resp, a, KUMO_CODE_NOT_FOUND,
                  pb_printf(a, "type not found: %.*s", MAX_QUOTED, type));
        return;
    }
    if (n > 1)
        qsort(nums, n, sizeof(*nums), cmp_int32);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || nums[i] != nums[k - 1])
            nums[k++] = nums[i];
    Grpc__Reflection__V1__ExtensionNumberResponse *en = pb_alloc(a, sizeof(*en));
    grpc__reflection__v1__extension_number_response__init(en);
    en->base_type_name = pb_strdup(a, type);
    en->extension_number = nums;
    en->n_extension_number = k;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
    resp->all_extension_numbers_response = en;
}

int kumo_reflection_answer(struct kumo_reflection *r, const Request *req, ProtobufCAllocator *alloc,
                           Response **out)
{
    Response *resp = pb_alloc(alloc, sizeof(*resp));
    grpc__reflection__v1__server_reflection_response__init(resp);
    Request *c = copy_request(req, alloc);
    resp->original_request = c;
    resp->valid_host = c->host;
    switch (c->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        answer_file(r, resp, alloc, c->file_by_filename);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        answer_symbol(r, resp, alloc, c->file_containing_symbol);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        answer_extension(r, resp, alloc, c->file_containing_extension);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        answer_extension_numbers(r, resp, alloc, c->all_extension_numbers_of_type);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        answer_list_services(r, resp, alloc);
        break;
    default:
        /* grpc-go ends the stream with INVALID_ARGUMENT; an error_response
         * keeps it usable, as grpc-java does. */
        set_error(resp, alloc, KUMO_CODE_INVALID_ARGUMENT,
                  pb_strdup(alloc, "no message_request in ServerReflectionRequest"));
        break;
    }
    *out = resp;
    return 0;
}

/* v1alpha and v1 share every field number, so converting is a re-encode. */
int kumo_reflection_answer_v1alpha(struct kumo_reflection *r,
                                   const Grpc__Reflection__V1alpha__ServerReflectionRequest *req,
                                   ProtobufCAllocator *alloc,
                                   Grpc__Reflection__V1alpha__ServerReflectionResponse **out)
{
    size_t n = grpc__reflection__v1alpha__server_reflection_request__get_packed_size(req);
    uint8_t *buf = pb_alloc(alloc, n);
    grpc__reflection__v1alpha__server_reflection_request__pack(req, buf);
    Request *v1req = grpc__reflection__v1__server_reflection_request__unpack(alloc, n, buf);
    if (v1req == NULL)
        return KUMO_ERR_INVALID;
    Response *v1resp;
    kumo_reflection_answer(r, v1req, alloc, &v1resp);
    n = grpc__reflection__v1__server_reflection_response__get_packed_size(v1resp);
    buf = pb_alloc(alloc, n);
    grpc__reflection__v1__server_reflection_response__pack(v1resp, buf);
    Grpc__Reflection__V1alpha__ServerReflectionResponse *resp =
        grpc__reflection__v1alpha__server_reflection_response__unpack(alloc, n, buf);
    if (resp == NULL)
        return KUMO_ERR_INVALID;
    *out = resp;
    return 0;
}
