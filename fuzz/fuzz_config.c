/* fuzz_config.c — libFuzzer harness for run configs: the INI loader over a key table of every type
 * with a [data] section handed to the data schema, the schema's own INI reader, and --set
 * arguments. An accepted config must dump to INI that loads back to the same dump. */
#include "fuzz_util.h"
#include "loom/alloc.h"
#include "loom/config.h"
#include "loom/data.h"
#include "../tests/config_keys.h"


static int data_set(void *ctx, const char *key, const char *value, loom_error *err) {
  return loom_data_schema_set(ctx, key, value, err);
}
static size_t data_dump(void *ctx, char *buf, size_t cap) {
  (void)ctx;
  if (buf && cap) buf[0] = '\0';
  return 0;
}

static loom_config *new_config(loom_data_schema *s, loom_cfg_section *sec) {
  loom_data_schema_init(s);
  *sec = (loom_cfg_section){"data", s, data_set, data_dump};
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  if (!c) abort();
  loom_config_add_section(c, sec);
  return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *text = fuzz_cstr(data, n);
  loom_error err = {""};
  loom_data_schema s, s2;
  loom_cfg_section sec, sec2;
  loom_config *c = new_config(&s, &sec);
  if (loom_config_load_string(c, text, "fuzz.ini", &err) != 0) {
    FUZZ_CHECK_MSG(err);
  } else {
    long li[8];
    double lf[8];
    (void)loom_config_ints(c, "image", "conv", li, 8);
    (void)loom_config_floats(c, "train", "betas", lf, 8);
    (void)loom_data_schema_validate(&s, &err);
    char *dump = loom_config_dump(c);
    if (!dump) abort();
    loom_config *c2 = new_config(&s2, &sec2);
    if (loom_config_load_string(c2, dump, "dump", &err) != 0) abort();
    char *dump2 = loom_config_dump(c2);
    if (!dump2 || strcmp(dump, dump2) != 0) abort();
    loom_free(dump2);
    loom_free(dump);
    loom_config_free(c2);
  }
  if (!memchr(text, '\n', n) && loom_config_set_arg(c, text, &err) != 0) FUZZ_CHECK_MSG(err);
  loom_config_free(c);
  /* the same bytes as a file, through both file readers */
  const char *path = fuzz_write_file(data, n, ".ini");
  c = new_config(&s, &sec);
  if (loom_config_load(c, path, &err) != 0) FUZZ_CHECK_MSG(err);
  loom_config_free(c);
  loom_data_schema_init(&s);
  if (loom_data_schema_load_ini(&s, path, &err) != 0) FUZZ_CHECK_MSG(err);
  free(text);
  return 0;
}
