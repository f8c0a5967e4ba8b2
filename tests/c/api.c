/*
 * api.c: the C API as a whole: extism_version, and NULL for every argument of every
 * function of extism.h (failure values, no crash).
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_version(void) {
  section("extism_version");
  const char *v = extism_version();
  CHECK(v != NULL && v[0] != 0, "version empty");
  if (!v) return;
  CHECK(strcmp(v, "0.0.0") != 0, "version is 0.0.0");
  unsigned a, b, c;
  CHECK(sscanf(v, "%u.%u.%u", &a, &b, &c) == 3, "version \"%s\" is not MAJOR.MINOR.PATCH", v);
  CHECK(extism_version() == v || strcmp(extism_version(), v) == 0, "version changes");
}

void test_null_args(void) {
  section("NULL arguments");
  CHECK(extism_plugin_id(NULL) == NULL, "plugin_id(NULL)");
  CHECK(extism_current_plugin_host_context(NULL) == NULL, "current_plugin_host_context(NULL)");
  CHECK(extism_current_plugin_memory(NULL) == NULL, "current_plugin_memory(NULL)");
  CHECK(extism_current_plugin_memory_alloc(NULL, 16) == 0, "current_plugin_memory_alloc(NULL)");
  CHECK(extism_current_plugin_memory_length(NULL, 77) == 0, "current_plugin_memory_length(NULL)");
  extism_current_plugin_memory_free(NULL, 77);

  HostData hd = {.prefix = ""};
  ExtismFunction *f = extism_function_new(NULL, I64_1, 1, I64_1, 1, host_hello, &hd, NULL);
  CHECK(f == NULL, "function_new(NULL name) returned a function");
  extism_function_free(f);
  f = extism_function_new("\xff\xfe", I64_1, 1, I64_1, 1, host_hello, &hd, NULL);
  CHECK(f == NULL, "function_new(non-UTF-8 name) returned a function");
  extism_function_free(f);
  extism_function_free(NULL);
  extism_function_set_namespace(NULL, "ns");
  f = extism_function_new("hello_world", I64_1, 1, I64_1, 1, NULL, &hd, NULL);
  CHECK(f == NULL, "function_new(NULL callback) returned a function (extism.h: NULL)");
  extism_function_free(f);
  f = extism_function_new("hello_world", NULL, 0, NULL, 0, host_hello, &hd, NULL);
  CHECK(f != NULL, "function_new with NULL type arrays failed");
  extism_function_set_namespace(f, NULL); /* no-op */
  extism_function_free(f);

  char *errmsg = NULL;
  ExtismCompiledPlugin *c = extism_compiled_plugin_new(NULL, 0, NULL, 0, false, &errmsg);
  CHECK(c == NULL, "compiled_plugin_new(NULL) returned a plugin");
  extism_plugin_new_error_free(errmsg);
  extism_compiled_plugin_free(c);
  extism_compiled_plugin_free(NULL);
  errmsg = NULL;
  ExtismPlugin *p = extism_plugin_new_from_compiled(NULL, &errmsg);
  CHECK(p == NULL, "new_from_compiled(NULL) returned a plugin");
  extism_plugin_new_error_free(errmsg);
  extism_plugin_free(p);
  errmsg = NULL;
  p = extism_plugin_new_with_fuel_limit(NULL, 0, NULL, 0, false, 10, &errmsg);
  CHECK(p == NULL, "new_with_fuel_limit(NULL) returned a plugin");
  extism_plugin_new_error_free(errmsg);
  extism_plugin_free(p);

  extism_plugin_allow_http_response_headers(NULL);
  extism_plugin_new_error_free(NULL);
  extism_plugin_free(NULL);
  CHECK(extism_plugin_cancel_handle(NULL) == NULL, "cancel_handle(NULL)");
  CHECK(!extism_plugin_cancel(NULL), "cancel(NULL) returned true");
  CHECK(!extism_plugin_config(NULL, (const uint8_t *)"{}", 2), "config(NULL)");
  CHECK(!extism_plugin_function_exists(NULL, "echo"), "function_exists(NULL)");
  CHECK(extism_plugin_call(NULL, "echo", (const uint8_t *)"x", 1) == -1, "call(NULL) != -1");
  CHECK(extism_plugin_call_with_host_context(NULL, "echo", (const uint8_t *)"x", 1, &hd) == -1,
        "call_with_host_context(NULL) != -1");
  CHECK(extism_error(NULL) == NULL, "extism_error(NULL)");
  CHECK(extism_plugin_error(NULL) == NULL, "plugin_error(NULL)");
  CHECK(extism_plugin_output_length(NULL) == 0, "output_length(NULL)");
  CHECK(extism_plugin_output_data(NULL) == NULL, "output_data(NULL)");
  CHECK(!extism_plugin_reset(NULL), "reset(NULL) returned true");
}
