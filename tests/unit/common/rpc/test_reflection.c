/* Tests of the reflection core (common/rpc/reflection.c): indexing of
 * FileDescriptorSets and the answers to every kind of request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "rpc/reflection.h"

extern const uint8_t kumo_test_descriptor_set[];
extern const size_t kumo_test_descriptor_set_size;

typedef Grpc__Reflection__V1__ServerReflectionRequest Request;
typedef Grpc__Reflection__V1__ServerReflectionResponse Response;

#define REQ(x)  GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_##x
#define RESP(x) GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_##x

static const char *const services[] = {
    "kumo.test.v1.EchoService",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.health.v1.Health",
    NULL, /* ignored */
    "grpc.reflection.v1.ServerReflection",
    "kumo.test.v1.EchoService", /* duplicate */
};

struct fixture {
    struct kumo_arena *arena; /* crafted descriptors and answers */
    struct kumo_reflection *r;
};

/* ---- crafting descriptors ------------------------------------------------ */

static struct kumo_arena *craft_arena;

static void *mk(size_t size)
{
    return kumo_arena_calloc(craft_arena, size);
}

#define MK_ARRAY(T, n) ((T **)mk((n) * sizeof(T *)))

static Google__Protobuf__FieldDescriptorProto *mk_field(const char *name, int32_t number,
                                                        const char *extendee)
{
    Google__Protobuf__FieldDescriptorProto *f = mk(sizeof(*f));
    google__protobuf__field_descriptor_proto__init(f);
    f->name = (char *)name;
    f->has_number = 1;
    f->number = number;
    f->has_label = 1;
    f->label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
    f->has_type = 1;
    f->type = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32;
    f->extendee = (char *)extendee;
    return f;
}

static Google__Protobuf__DescriptorProto *mk_message(const char *name)
{
    Google__Protobuf__DescriptorProto *m = mk(sizeof(*m));
    google__protobuf__descriptor_proto__init(m);
    m->name = (char *)name;
    return m;
}

static Google__Protobuf__EnumDescriptorProto *mk_enum(const char *name, const char *v0,
                                                      const char *v1)
{
    Google__Protobuf__EnumDescriptorProto *e = mk(sizeof(*e));
    google__protobuf__enum_descriptor_proto__init(e);
    e->name = (char *)name;
    e->n_value = 2;
    e->value = MK_ARRAY(Google__Protobuf__EnumValueDescriptorProto, 2);
    const char *names[2] = {v0, v1};
    for (int i = 0; i < 2; i++) {
        Google__Protobuf__EnumValueDescriptorProto *v = mk(sizeof(*v));
        google__protobuf__enum_value_descriptor_proto__init(v);
        v->name = (char *)names[i];
        v->has_number = 1;
        v->number = i;
        e->value[i] = v;
    }
    return e;
}

static Google__Protobuf__FileDescriptorProto *mk_file(const char *name, const char *package)
{
    Google__Protobuf__FileDescriptorProto *fd = mk(sizeof(*fd));
    google__protobuf__file_descriptor_proto__init(fd);
    fd->name = (char *)name;
    fd->package = (char *)package;
    return fd;
}

static void add_message(Google__Protobuf__FileDescriptorProto *fd,
                        Google__Protobuf__DescriptorProto *m)
{
    fd->message_type = MK_ARRAY(Google__Protobuf__DescriptorProto, 1);
    fd->message_type[0] = m;
    fd->n_message_type = 1;
}

/* x/ext.proto: every kind of symbol, proto2 extensions, a missing import. */
static Google__Protobuf__FileDescriptorProto *ext_file(void)
{
    Google__Protobuf__FileDescriptorProto *fd = mk_file("x/ext.proto", "x.y");
    fd->syntax = "proto2";
    fd->n_dependency = 2;
    fd->dependency = MK_ARRAY(char, 2);
    fd->dependency[0] = "kumo/test/v1/echo.proto";
    fd->dependency[1] = "missing/dep.proto";

    Google__Protobuf__DescriptorProto *base = mk_message("Base");
    base->n_field = 1;
    base->field = MK_ARRAY(Google__Protobuf__FieldDescriptorProto, 1);
    base->field[0] = mk_field("id", 1, NULL);
    base->n_oneof_decl = 1;
    base->oneof_decl = MK_ARRAY(Google__Protobuf__OneofDescriptorProto, 1);
    base->oneof_decl[0] = mk(sizeof(Google__Protobuf__OneofDescriptorProto));
    google__protobuf__oneof_descriptor_proto__init(base->oneof_decl[0]);
    base->oneof_decl[0]->name = "pick";
    Google__Protobuf__DescriptorProto *inner = mk_message("Inner");
    inner->n_enum_type = 1;
    inner->enum_type = MK_ARRAY(Google__Protobuf__EnumDescriptorProto, 1);
    inner->enum_type[0] = mk_enum("Mood", "HAPPY", "SAD");
    base->n_nested_type = 1;
    base->nested_type = MK_ARRAY(Google__Protobuf__DescriptorProto, 1);
    base->nested_type[0] = inner;
    base->n_extension = 2;
    base->extension = MK_ARRAY(Google__Protobuf__FieldDescriptorProto, 2);
    base->extension[0] = mk_field("nested_ext", 200, ".x.y.Base");
    base->extension[1] = mk_field("nested_ext_again", 200, ".x.y.Base"); /* same number */
    add_message(fd, base);

    fd->n_enum_type = 1;
    fd->enum_type = MK_ARRAY(Google__Protobuf__EnumDescriptorProto, 1);
    fd->enum_type[0] = mk_enum("Top", "TOP_A", "TOP_B");

    Google__Protobuf__ServiceDescriptorProto *svc = mk(sizeof(*svc));
    google__protobuf__service_descriptor_proto__init(svc);
    svc->name = "Svc";
    svc->n_method = 1;
    svc->method = MK_ARRAY(Google__Protobuf__MethodDescriptorProto, 1);
    svc->method[0] = mk(sizeof(Google__Protobuf__MethodDescriptorProto));
    google__protobuf__method_descriptor_proto__init(svc->method[0]);
    svc->method[0]->name = "Do";
    svc->method[0]->input_type = ".x.y.Base";
    svc->method[0]->output_type = ".x.y.Base";
    fd->n_service = 1;
    fd->service = MK_ARRAY(Google__Protobuf__ServiceDescriptorProto, 1);
    fd->service[0] = svc;

    fd->n_extension = 1;
    fd->extension = MK_ARRAY(Google__Protobuf__FieldDescriptorProto, 1);
    fd->extension[0] = mk_field("top_ext", 100, ".x.y.Base");
    return fd;
}

static Google__Protobuf__FileDescriptorProto *file_with_deps(const char *name, const char *package,
                                                             const char *message, const char *dep0,
                                                             const char *dep1)
{
    Google__Protobuf__FileDescriptorProto *fd = mk_file(name, package);
    add_message(fd, mk_message(message));
    fd->dependency = MK_ARRAY(char, 2);
    if (dep0 != NULL)
        fd->dependency[fd->n_dependency++] = (char *)dep0;
    if (dep1 != NULL)
        fd->dependency[fd->n_dependency++] = (char *)dep1;
    return fd;
}

static struct kumo_blob pack_set(Google__Protobuf__FileDescriptorProto **files, size_t n)
{
    Google__Protobuf__FileDescriptorSet set = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
    set.file = files;
    set.n_file = n;
    size_t len = google__protobuf__file_descriptor_set__get_packed_size(&set);
    uint8_t *data = mk(len ? len : 1);
    assert_int_equal(google__protobuf__file_descriptor_set__pack(&set, data), len);
    return (struct kumo_blob){data, len};
}

/* The crafted set: x/ext.proto, x/diamond.proto (imports ext and timestamp),
 * a second "kumo/test/v1/echo.proto" (ignored: the name is taken), a file
 * redefining kumo.test.v1.EchoRequest (the first definition wins), a file
 * without package, and a duplicate of x/ext.proto within the same set. */
static struct kumo_blob crafted_set(void)
{
    Google__Protobuf__FileDescriptorProto *files[6];
    files[0] = ext_file();
    files[1] = file_with_deps("x/diamond.proto", "x.d", "D", "x/ext.proto",
                              "google/protobuf/timestamp.proto");
    files[2] = file_with_deps("kumo/test/v1/echo.proto", "dup", "Thing", NULL, NULL);
    files[3] = file_with_deps("x/dupsym.proto", "kumo.test.v1", "EchoRequest", NULL, NULL);
    files[4] = file_with_deps("x/nopkg.proto", NULL, "Lonely", "x/nopkg.proto", NULL);
    files[5] = file_with_deps("x/ext.proto", "other", "Shadow", NULL, NULL);
    return pack_set(files, 6);
}

static struct kumo_blob test_set(void)
{
    return (struct kumo_blob){kumo_test_descriptor_set, kumo_test_descriptor_set_size};
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->arena = kumo_arena_new();
    craft_arena = fx->arena;
    struct kumo_blob sets[2] = {test_set(), crafted_set()};
    if (kumo_reflection_new(&fx->r, sets, 2, services, sizeof(services) / sizeof(services[0])) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    kumo_reflection_free(fx->r);
    kumo_arena_free(fx->arena);
    free(fx);
    return 0;
}

/* ---- asking ------------------------------------------------------------- */

/* Answers a request whose oneof member is a string, and checks what every
 * answer must do: echo host and request, and serialize. */
static Response *ask(struct fixture *fx, int kase, const char *arg)
{
    Request req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    req.host = "host.example";
    req.message_request_case = kase;
    if (kase != REQ(_NOT_SET))
        req.file_containing_symbol = (char *)arg;
    Response *resp = NULL;
    ProtobufCAllocator *a = kumo_arena_allocator(fx->arena);
    assert_int_equal(kumo_reflection_answer(fx->r, &req, a, &resp), 0);
    assert_non_null(resp);
    assert_string_equal(resp->valid_host, "host.example");
    assert_non_null(resp->original_request);
    assert_ptr_not_equal(resp->original_request, &req);
    assert_int_equal(resp->original_request->message_request_case, kase);
    if (kase != REQ(_NOT_SET))
        assert_string_equal(resp->original_request->file_containing_symbol, arg);

    size_t len = grpc__reflection__v1__server_reflection_response__get_packed_size(resp);
    uint8_t *buf = kumo_arena_alloc(fx->arena, len + 1);
    assert_int_equal(grpc__reflection__v1__server_reflection_response__pack(resp, buf), len);
    Response *back = grpc__reflection__v1__server_reflection_response__unpack(a, len, buf);
    assert_non_null(back);
    assert_int_equal(back->message_response_case, resp->message_response_case);
    return resp;
}

static void expect_error(const Response *resp, kumo_code code)
{
    assert_int_equal(resp->message_response_case, RESP(ERROR_RESPONSE));
    assert_int_equal(resp->error_response->error_code, code);
    assert_true(strlen(resp->error_response->error_message) > 0);
}

/* Checks the files of a file_descriptor_response, in order; returns the
 * package of the first. */
static void expect_files(const Response *resp, const char *const *names, size_t n,
                         const char *first_package)
{
    assert_int_equal(resp->message_response_case, RESP(FILE_DESCRIPTOR_RESPONSE));
    const Grpc__Reflection__V1__FileDescriptorResponse *fr = resp->file_descriptor_response;
    assert_int_equal(fr->n_file_descriptor_proto, n);
    for (size_t i = 0; i < n; i++) {
        Google__Protobuf__FileDescriptorProto *fd = google__protobuf__file_descriptor_proto__unpack(
            NULL, fr->file_descriptor_proto[i].len, fr->file_descriptor_proto[i].data);
        assert_non_null(fd);
        assert_string_equal(fd->name, names[i]);
        if (i == 0 && first_package != NULL)
            assert_string_equal(fd->package, first_package);
        google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
    }
}

static const char *const echo_and_deps[] = {"kumo/test/v1/echo.proto",
                                            "google/protobuf/timestamp.proto"};

/* ---- tests -------------------------------------------------------------- */

static void test_reflection_list_services(void **state)
{
    Response *resp = ask(*state, REQ(LIST_SERVICES), "");
    assert_int_equal(resp->message_response_case, RESP(LIST_SERVICES_RESPONSE));
    const Grpc__Reflection__V1__ListServiceResponse *l = resp->list_services_response;
    static const char *const want[] = {
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "kumo.test.v1.EchoService",
    };
    assert_int_equal(l->n_service, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(l->service[i]->name, want[i]);
}

static void test_reflection_list_services_content_ignored(void **state)
{
    Response *resp = ask(*state, REQ(LIST_SERVICES), "*anything*");
    assert_int_equal(resp->message_response_case, RESP(LIST_SERVICES_RESPONSE));
    assert_int_equal(resp->list_services_response->n_service, 4);
}

static void test_reflection_file_by_filename_with_deps(void **state)
{
    Response *resp = ask(*state, REQ(FILE_BY_FILENAME), "kumo/test/v1/echo.proto");
    /* The first echo.proto wins over the crafted duplicate (package "dup"). */
    expect_files(resp, echo_and_deps, 2, "kumo.test.v1");
    /* The bytes are protoc's own, not a re-encoding. */
    const ProtobufCBinaryData *b = &resp->file_descriptor_response->file_descriptor_proto[0];
    assert_non_null(
        memmem(kumo_test_descriptor_set, kumo_test_descriptor_set_size, b->data, b->len));
}

static void test_reflection_file_by_filename_no_deps(void **state)
{
    Response *resp = ask(*state, REQ(FILE_BY_FILENAME), "google/protobuf/timestamp.proto");
    static const char *const want[] = {"google/protobuf/timestamp.proto"};
    expect_files(resp, want, 1, "google.protobuf");
}

static void test_reflection_transitive_deps_each_once(void **state)
{
    /* diamond -> ext, timestamp; ext -> echo, (missing); echo -> timestamp. */
    Response *resp = ask(*state, REQ(FILE_BY_FILENAME), "x/diamond.proto");
    static const char *const want[] = {"x/diamond.proto", "x/ext.proto",
                                       "google/protobuf/timestamp.proto",
                                       "kumo/test/v1/echo.proto"};
    expect_files(resp, want, 4, "x.d");
}

static void test_reflection_self_import_once(void **state)
{
    Response *resp = ask(*state, REQ(FILE_BY_FILENAME), "x/nopkg.proto");
    static const char *const want[] = {"x/nopkg.proto"};
    expect_files(resp, want, 1, NULL);
}

static void test_reflection_duplicate_file_in_same_set_ignored(void **state)
{
    Response *resp = ask(*state, REQ(FILE_BY_FILENAME), "x/ext.proto");
    static const char *const want[] = {"x/ext.proto", "kumo/test/v1/echo.proto",
                                       "google/protobuf/timestamp.proto"};
    expect_files(resp, want, 3, "x.y");
    expect_error(ask(*state, REQ(FILE_CONTAINING_SYMBOL), "other.Shadow"), KUMO_CODE_NOT_FOUND);
}

static void test_reflection_unknown_file_not_found(void **state)
{
    expect_error(ask(*state, REQ(FILE_BY_FILENAME), "nope.proto"), KUMO_CODE_NOT_FOUND);
    expect_error(ask(*state, REQ(FILE_BY_FILENAME), ""), KUMO_CODE_NOT_FOUND);
    /* An import that no set holds is not invented. */
    expect_error(ask(*state, REQ(FILE_BY_FILENAME), "missing/dep.proto"), KUMO_CODE_NOT_FOUND);
}

struct symbol_case {
    const char *symbol;
    const char *file; /* first file of the answer */
};

static void test_reflection_file_containing_every_symbol_kind(void **state)
{
    static const struct symbol_case cases[] = {
        {"kumo.test.v1.EchoService", "kumo/test/v1/echo.proto"},               /* service */
        {"kumo.test.v1.EchoService.Echo", "kumo/test/v1/echo.proto"},          /* method */
        {"kumo.test.v1.EchoService.Lookup", "kumo/test/v1/echo.proto"},        /* method */
        {"kumo.test.v1.EchoRequest", "kumo/test/v1/echo.proto"},               /* message, 1st */
        {"kumo.test.v1.EchoRequest.message", "kumo/test/v1/echo.proto"},       /* field */
        {"kumo.test.v1.EchoResponse.HeadersEntry", "kumo/test/v1/echo.proto"}, /* nested */
        {"kumo.test.v1.EchoResponse.HeadersEntry.key", "kumo/test/v1/echo.proto"},
        {"kumo.test.v1.Kind", "kumo/test/v1/echo.proto"},                 /* enum */
        {"kumo.test.v1.KIND_PLAIN", "kumo/test/v1/echo.proto"},           /* enum value */
        {"google.protobuf.Timestamp", "google/protobuf/timestamp.proto"}, /* dependency */
        {"x.y.Base", "x/ext.proto"},
        {"x.y.Base.id", "x/ext.proto"},          /* field */
        {"x.y.Base.pick", "x/ext.proto"},        /* oneof */
        {"x.y.Base.Inner", "x/ext.proto"},       /* nested message */
        {"x.y.Base.Inner.Mood", "x/ext.proto"},  /* nested enum */
        {"x.y.Base.Inner.HAPPY", "x/ext.proto"}, /* nested enum value */
        {"x.y.Base.nested_ext", "x/ext.proto"},  /* extension in a message */
        {"x.y.Top", "x/ext.proto"},              /* enum */
        {"x.y.TOP_B", "x/ext.proto"},            /* enum value */
        {"x.y.Svc", "x/ext.proto"},              /* service */
        {"x.y.Svc.Do", "x/ext.proto"},           /* method */
        {"x.y.top_ext", "x/ext.proto"},          /* top-level extension */
        {"x.d.D", "x/diamond.proto"},
        {"Lonely", "x/nopkg.proto"}, /* no package */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Response *resp = ask(*state, REQ(FILE_CONTAINING_SYMBOL), cases[i].symbol);
        if (resp->message_response_case != RESP(FILE_DESCRIPTOR_RESPONSE))
            fail_msg("no file for %s", cases[i].symbol);
        const ProtobufCBinaryData *b = &resp->file_descriptor_response->file_descriptor_proto[0];
        Google__Protobuf__FileDescriptorProto *fd =
            google__protobuf__file_descriptor_proto__unpack(NULL, b->len, b->data);
        assert_non_null(fd);
        if (strcmp(fd->name, cases[i].file) != 0)
            fail_msg("%s: got %s, want %s", cases[i].symbol, fd->name, cases[i].file);
        google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
    }
    /* A symbol's answer carries the dependencies too. */
    expect_files(ask(*state, REQ(FILE_CONTAINING_SYMBOL), "kumo.test.v1.EchoService"),
                 echo_and_deps, 2, "kumo.test.v1");
}

static void test_reflection_unknown_symbol_not_found(void **state)
{
    static const char *const unknown[] = {
        "kumo.test.v1.Nope",
        "kumo.test.v1",                  /* a package is not a symbol */
        "kumo",                          /* nor a part of one */
        "kumo.test.v1.EchoService.Nope", /* no such method */
        "kumo.test.v1.Kind.KIND_PLAIN",  /* enum values are siblings of the enum */
        "x.y.Base.Inner.Mood.HAPPY",     /* same, nested */
        ".kumo.test.v1.EchoRequest",     /* full names have no leading dot */
        "kumo.test.v1.EchoRequest.",     /* trailing dot */
        "kumo.test.v1.echorequest",      /* case matters */
        "dup.Thing",                     /* from the ignored duplicate file */
        "",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        Response *resp = ask(*state, REQ(FILE_CONTAINING_SYMBOL), unknown[i]);
        if (resp->message_response_case != RESP(ERROR_RESPONSE))
            fail_msg("%s was found", unknown[i]);
        expect_error(resp, KUMO_CODE_NOT_FOUND);
    }
}

static void test_reflection_long_symbol_message_bounded(void **state)
{
    struct fixture *fx = *state;
    char *name = kumo_arena_alloc(fx->arena, 100001);
    memset(name, 'a', 100000);
    name[100000] = '\0';
    Response *resp = ask(fx, REQ(FILE_CONTAINING_SYMBOL), name);
    expect_error(resp, KUMO_CODE_NOT_FOUND);
    assert_true(strlen(resp->error_response->error_message) < 300);
}

static Response *ask_extension(struct fixture *fx, const char *type, int32_t number)
{
    Grpc__Reflection__V1__ExtensionRequest ext = GRPC__REFLECTION__V1__EXTENSION_REQUEST__INIT;
    ext.containing_type = (char *)type;
    ext.extension_number = number;
    Request req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    req.message_request_case = REQ(FILE_CONTAINING_EXTENSION);
    req.file_containing_extension = &ext;
    Response *resp = NULL;
    assert_int_equal(kumo_reflection_answer(fx->r, &req, kumo_arena_allocator(fx->arena), &resp),
                     0);
    assert_int_equal(resp->original_request->message_request_case, REQ(FILE_CONTAINING_EXTENSION));
    assert_ptr_not_equal(resp->original_request->file_containing_extension, &ext);
    assert_string_equal(resp->original_request->file_containing_extension->containing_type, type);
    assert_int_equal(resp->original_request->file_containing_extension->extension_number, number);
    assert_string_equal(resp->valid_host, "");
    return resp;
}

static void test_reflection_file_containing_extension(void **state)
{
    static const char *const want[] = {"x/ext.proto", "kumo/test/v1/echo.proto",
                                       "google/protobuf/timestamp.proto"};
    expect_files(ask_extension(*state, "x.y.Base", 100), want, 3, "x.y");
    expect_files(ask_extension(*state, "x.y.Base", 200), want, 3, "x.y");
    expect_error(ask_extension(*state, "x.y.Base", 7), KUMO_CODE_NOT_FOUND);
    expect_error(ask_extension(*state, "kumo.test.v1.EchoRequest", 100), KUMO_CODE_NOT_FOUND);
    expect_error(ask_extension(*state, "nope.Type", 1), KUMO_CODE_NOT_FOUND);
}

static void test_reflection_all_extension_numbers(void **state)
{
    Response *resp = ask(*state, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "x.y.Base");
    assert_int_equal(resp->message_response_case, RESP(ALL_EXTENSION_NUMBERS_RESPONSE));
    const Grpc__Reflection__V1__ExtensionNumberResponse *en = resp->all_extension_numbers_response;
    assert_string_equal(en->base_type_name, "x.y.Base");
    assert_int_equal(en->n_extension_number, 2); /* 100, 200 (declared twice) */
    assert_int_equal(en->extension_number[0], 100);
    assert_int_equal(en->extension_number[1], 200);

    /* A known type without extensions: an empty list, as grpc-go answers. */
    resp = ask(*state, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "kumo.test.v1.EchoRequest");
    assert_int_equal(resp->message_response_case, RESP(ALL_EXTENSION_NUMBERS_RESPONSE));
    assert_string_equal(resp->all_extension_numbers_response->base_type_name,
                        "kumo.test.v1.EchoRequest");
    assert_int_equal(resp->all_extension_numbers_response->n_extension_number, 0);

    expect_error(ask(*state, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "nope.Type"), KUMO_CODE_NOT_FOUND);
}

static void test_reflection_empty_request_invalid_argument(void **state)
{
    expect_error(ask(*state, REQ(_NOT_SET), NULL), KUMO_CODE_INVALID_ARGUMENT);
}

static void test_reflection_v1alpha(void **state)
{
    struct fixture *fx = *state;
    ProtobufCAllocator *a = kumo_arena_allocator(fx->arena);
    Grpc__Reflection__V1alpha__ServerReflectionRequest req =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;
    req.host = "alpha.example";
    req.message_request_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
    req.file_containing_symbol = "kumo.test.v1.EchoService.Echo";
    Grpc__Reflection__V1alpha__ServerReflectionResponse *resp = NULL;
    assert_int_equal(kumo_reflection_answer_v1alpha(fx->r, &req, a, &resp), 0);
    assert_non_null(resp);
    assert_true(resp->base.descriptor ==
                &grpc__reflection__v1alpha__server_reflection_response__descriptor);
    assert_string_equal(resp->valid_host, "alpha.example");
    assert_string_equal(resp->original_request->file_containing_symbol,
                        "kumo.test.v1.EchoService.Echo");
    assert_int_equal(
        resp->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE);
    assert_int_equal(resp->file_descriptor_response->n_file_descriptor_proto, 2);

    req.message_request_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
    req.list_services = "";
    assert_int_equal(kumo_reflection_answer_v1alpha(fx->r, &req, a, &resp), 0);
    assert_int_equal(
        resp->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE);
    assert_int_equal(resp->list_services_response->n_service, 4);
    assert_string_equal(resp->list_services_response->service[0]->name, "grpc.health.v1.Health");

    req.message_request_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
    req.file_by_filename = "nope.proto";
    assert_int_equal(kumo_reflection_answer_v1alpha(fx->r, &req, a, &resp), 0);
    assert_int_equal(
        resp->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE);
    assert_int_equal(resp->error_response->error_code, KUMO_CODE_NOT_FOUND);
}

/* ---- construction ------------------------------------------------------- */

static void expect_invalid(const uint8_t *data, size_t len)
{
    struct kumo_reflection *sentinel = (struct kumo_reflection *)&sentinel;
    struct kumo_reflection *r = sentinel;
    struct kumo_blob sets[2] = {test_set(), {data, len}};
    assert_int_equal(kumo_reflection_new(&r, sets, 2, NULL, 0), KUMO_ERR_INVALID);
    assert_ptr_equal(r, sentinel); /* untouched */
}

static void test_reflection_malformed_set_invalid(void **state)
{
    (void)state;
    expect_invalid((const uint8_t *)"\xff\xff", 2);                 /* truncated key */
    expect_invalid((const uint8_t *)"\x0a\x05\x0a", 3);             /* file longer than set */
    expect_invalid((const uint8_t *)"\x0a\x01\x0a", 3);             /* file not a message */
    expect_invalid((const uint8_t *)"\x0a\x00", 2);                 /* file without name */
    expect_invalid((const uint8_t *)"\x08\x01", 2);                 /* file as a varint */
    expect_invalid((const uint8_t *)"\x0b\x0c", 2);                 /* group */
    expect_invalid((const uint8_t *)"\x00\x00", 2);                 /* field 0 */
    expect_invalid((const uint8_t *)"\x12\x80\x80\x80\x80\x10", 6); /* length overflow */
    expect_invalid((const uint8_t *)"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
    expect_invalid(kumo_test_descriptor_set, kumo_test_descriptor_set_size - 1); /* truncated */
}

static void test_reflection_unknown_set_fields_skipped(void **state)
{
    (void)state;
    /* Fields other than `file` (field 1) of every wire type are skipped. */
    static const uint8_t set[] = {0x10, 0x96, 0x01,                     /* 2: varint */
                                  0x19, 1,    2,    3,   4, 5, 6, 7, 8, /* 3: fixed64 */
                                  0x25, 1,    2,    3,   4,             /* 4: fixed32 */
                                  0x2a, 0x02, 0x0a, 0x00};              /* 5: bytes */
    struct kumo_reflection *r = NULL;
    struct kumo_blob sets[1] = {{set, sizeof(set)}};
    assert_int_equal(kumo_reflection_new(&r, sets, 1, NULL, 0), 0);
    assert_non_null(r);
    kumo_reflection_free(r);
}

static void test_reflection_empty_index(void **state)
{
    (void)state;
    struct kumo_reflection *r = NULL;
    struct kumo_blob empty = {NULL, 0};
    assert_int_equal(kumo_reflection_new(&r, &empty, 1, NULL, 0), 0);
    struct kumo_arena *a = kumo_arena_new();
    Request req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    req.message_request_case = REQ(LIST_SERVICES);
    req.list_services = "";
    Response *resp;
    assert_int_equal(kumo_reflection_answer(r, &req, kumo_arena_allocator(a), &resp), 0);
    assert_int_equal(resp->message_response_case, RESP(LIST_SERVICES_RESPONSE));
    assert_int_equal(resp->list_services_response->n_service, 0);
    req.message_request_case = REQ(FILE_CONTAINING_SYMBOL);
    req.file_containing_symbol = "x";
    assert_int_equal(kumo_reflection_answer(r, &req, kumo_arena_allocator(a), &resp), 0);
    expect_error(resp, KUMO_CODE_NOT_FOUND);
    req.message_request_case = REQ(ALL_EXTENSION_NUMBERS_OF_TYPE);
    assert_int_equal(kumo_reflection_answer(r, &req, kumo_arena_allocator(a), &resp), 0);
    expect_error(resp, KUMO_CODE_NOT_FOUND);
    kumo_arena_free(a);
    kumo_reflection_free(r);
    kumo_reflection_free(NULL);
}

static void test_reflection_nameless_symbol_invalid(void **state)
{
    (void)state;
    craft_arena = kumo_arena_new();
    Google__Protobuf__FileDescriptorProto *fd = mk_file("x/bad.proto", "x");
    add_message(fd, mk_message(NULL));
    struct kumo_blob set = pack_set(&fd, 1);
    struct kumo_reflection *r = NULL;
    assert_int_equal(kumo_reflection_new(&r, &set, 1, NULL, 0), KUMO_ERR_INVALID);
    assert_null(r);
    kumo_arena_free(craft_arena);
}

static struct kumo_blob nested_set(int depth)
{
    Google__Protobuf__FileDescriptorProto *fd = mk_file("x/deep.proto", "x");
    Google__Protobuf__DescriptorProto *m = mk_message("M");
    add_message(fd, m);
    for (int i = 0; i < depth; i++) {
        Google__Protobuf__DescriptorProto *child = mk_message("M");
        m->n_nested_type = 1;
        m->nested_type = MK_ARRAY(Google__Protobuf__DescriptorProto, 1);
        m->nested_type[0] = child;
        m = child;
    }
    return pack_set(&fd, 1);
}

static void test_reflection_nesting_bounded(void **state)
{
    (void)state;
    craft_arena = kumo_arena_new();
    struct kumo_reflection *r = NULL;
    struct kumo_blob set = nested_set(50);
    assert_int_equal(kumo_reflection_new(&r, &set, 1, NULL, 0), 0);
    kumo_reflection_free(r);
    r = NULL;
    set = nested_set(1000);
    assert_int_equal(kumo_reflection_new(&r, &set, 1, NULL, 0), KUMO_ERR_INVALID);
    assert_null(r);
    kumo_arena_free(craft_arena);
}

/* The health and reflection protos, as the daemons will embed them. Made
 * with protoc here until the build embeds them; skipped without protoc. */
static void test_reflection_builtin_protos(void **state)
{
    (void)state;
    FILE *p = popen("protoc -I/usr/share/grpc-proto --include_imports "
                    "--descriptor_set_out=/dev/stdout grpc/health/v1/health.proto "
                    "grpc/reflection/v1/reflection.proto "
                    "grpc/reflection/v1alpha/reflection.proto 2>/dev/null",
                    "r");
    assert_non_null(p);
    struct kumo_buf b = KUMO_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        kumo_buf_append(&b, chunk, n);
    int rc = pclose(p);
    if (rc != 0 || b.len == 0) {
        kumo_buf_free(&b);
        skip();
    }
    struct kumo_blob sets[2] = {{b.data, b.len}, test_set()};
    struct kumo_reflection *r = NULL;
    assert_int_equal(kumo_reflection_new(&r, sets, 2, services, 3), 0);
    kumo_buf_free(&b); /* the index keeps its own copy */
    struct kumo_arena *a = kumo_arena_new();
    static const struct symbol_case cases[] = {
        {"grpc.health.v1.Health", "grpc/health/v1/health.proto"},
        {"grpc.health.v1.Health.Check", "grpc/health/v1/health.proto"},
        {"grpc.health.v1.HealthCheckResponse.SERVING", "grpc/health/v1/health.proto"},
        {"grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto"},
        {"grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo",
         "grpc/reflection/v1alpha/reflection.proto"},
        {"kumo.test.v1.EchoService", "kumo/test/v1/echo.proto"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Request req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
        req.message_request_case = REQ(FILE_CONTAINING_SYMBOL);
        req.file_containing_symbol = (char *)cases[i].symbol;
        Response *resp;
        assert_int_equal(kumo_reflection_answer(r, &req, kumo_arena_allocator(a), &resp), 0);
        if (resp->message_response_case != RESP(FILE_DESCRIPTOR_RESPONSE))
            fail_msg("no file for %s", cases[i].symbol);
        const ProtobufCBinaryData *fb = &resp->file_descriptor_response->file_descriptor_proto[0];
        Google__Protobuf__FileDescriptorProto *fd =
            google__protobuf__file_descriptor_proto__unpack(NULL, fb->len, fb->data);
        assert_non_null(fd);
        assert_string_equal(fd->name, cases[i].file);
        google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
    }
    kumo_arena_free(a);
    kumo_reflection_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reflection_list_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reflection_list_services_content_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reflection_file_by_filename_with_deps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reflection_file_by_filename_no_deps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reflection_transitive_deps_each_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reflection_self_import_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reflection_duplicate_file_in_same_set_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reflection_unknown_file_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reflection_file_containing_every_symbol_kind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reflection_unknown_symbol_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reflection_long_symbol_message_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reflection_file_containing_extension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reflection_all_extension_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reflection_empty_request_invalid_argument, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reflection_v1alpha, setup, teardown),
        cmocka_unit_test(test_reflection_malformed_set_invalid),
        cmocka_unit_test(test_reflection_unknown_set_fields_skipped),
        cmocka_unit_test(test_reflection_empty_index),
        cmocka_unit_test(test_reflection_nameless_symbol_invalid),
        cmocka_unit_test(test_reflection_nesting_bounded),
        cmocka_unit_test(test_reflection_builtin_protos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
