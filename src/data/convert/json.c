/* json.c — cJSON behind loom's allocator for the JSON-reading converters (spam.c, amazon.c), with a
 * flag that tells a parse which failed for lack of memory from malformed input. cJSON's hooks are
 * process-wide (safetensors.c installs its own for checkpoint headers), so they are installed again
 * before each parse here rather than once. */
#include <cjson/cJSON.h>

#include "convert_internal.h"
#include "loom/alloc.h"

static _Thread_local int oom;

static void *json_malloc(size_t n) {
  void *p = loom_malloc(n);
  if (!p) oom = 1;
  return p;
}

void ld_cjson_begin(void) {
  cJSON_InitHooks(&(cJSON_Hooks){json_malloc, loom_free});
  oom = 0;
}

int ld_cjson_oom(void) { return oom; }
