// Compile-only check: extism.h is valid C++ and can be included twice (#pragma once).
#include "extism.h"
#include "extism.h"

#include <cstddef>
#include <cstdint>

static_assert(sizeof(ExtismVal) == 16, "ExtismVal is 16 bytes");
static_assert(offsetof(ExtismVal, v) == 8, "ExtismVal.v at offset 8");
static_assert(sizeof(ExtismValUnion) == 8, "ExtismValUnion is 8 bytes");
static_assert(sizeof(ExtismSize) == 8, "ExtismSize is 64-bit");
static_assert(sizeof(ExtismMemoryHandle) == 8, "ExtismMemoryHandle is 64-bit");
static_assert(ExtismValType_I32 == 0 && ExtismValType_I64 == 1 && ExtismValType_F32 == 2 &&
                  ExtismValType_F64 == 3 && ExtismValType_V128 == 4 &&
                  ExtismValType_FuncRef == 5 && ExtismValType_ExternRef == 6,
              "ExtismValType values");
static_assert(EXTISM_SUCCESS == 0, "EXTISM_SUCCESS");
static_assert(EXTISM_PTR == ExtismValType_I64, "EXTISM_PTR");

// The macros declare functions of the right shapes.
EXTISM_FUNCTION(cxx_host_fn);
EXTISM_GO_FUNCTION(cxx_go_fn);

static void host_fn(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                    ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin;
  (void)inputs;
  (void)n_inputs;
  (void)outputs;
  (void)n_outputs;
  (void)data;
}

static void drain(const char *data, ExtismSize size) {
  (void)data;
  (void)size;
}

int use_declarations() {
  ExtismFunctionType f = host_fn;
  ExtismFunctionType g = cxx_host_fn;
  ExtismLogDrainFunctionType d = drain;
  const ExtismValType types[] = {EXTISM_PTR};
  ExtismFunction *fn = extism_function_new("f", types, 1, types, 1, f, nullptr, nullptr);
  const ExtismFunction *fns[] = {fn};
  char *err = nullptr;
  ExtismPlugin *p = extism_plugin_new(reinterpret_cast<const uint8_t *>("(module)"), 8, fns, 1,
                                      false, &err);
  extism_plugin_new_error_free(err);
  int32_t rc = extism_plugin_call(p, "f", nullptr, 0);
  const char *version = extism_version();
  extism_log_drain(d);
  extism_plugin_free(p);
  extism_function_free(fn);
  (void)g;
  return rc == EXTISM_SUCCESS && version != nullptr;
}
