/* The shape service.c's answer_object relies on: the responses it fills
 * generically hold exactly one field, `ObjectInfo object = 1`. A field
 * added to one of them must come with its own answer code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kumo/storage/v1/storage.pb-c.h"

static void test_storage_object_answers_have_one_object_field(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *descs[] = {
        &kumo__storage__v1__stat_object_response__descriptor,
        &kumo__storage__v1__copy_object_response__descriptor,
        &kumo__storage__v1__set_storage_class_response__descriptor,
        &kumo__storage__v1__complete_multipart_upload_response__descriptor,
    };
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
        assert_int_equal(descs[i]->n_fields, 1);
        assert_int_equal(descs[i]->fields[0].type, PROTOBUF_C_TYPE_MESSAGE);
        assert_ptr_equal(descs[i]->fields[0].descriptor,
                         &kumo__storage__v1__object_info__descriptor);
        assert_int_equal(descs[i]->fields[0].label, PROTOBUF_C_LABEL_NONE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storage_object_answers_have_one_object_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
