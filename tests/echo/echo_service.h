/* The test EchoService definition, ready to register. */
#ifndef KUMO_TEST_ECHO_SERVICE_H
#define KUMO_TEST_ECHO_SERVICE_H

#include <time.h>

#include "rpc/rpc.h"

extern const struct kumo_rpc_service kumo_test_echo_service;

#endif
