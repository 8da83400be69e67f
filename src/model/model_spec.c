/* model_spec.c — the one read of a run config's model sections into loom_model_spec (loom/model_spec.h).
 * The rows of loom_train_keys (model.c) carry each key's member and, for a choice, its enum values, so
 * this is loom_config_read_spec per section; nothing here lists a key. */
#include "loom/model_spec.h"

#include <string.h>

void loom_model_spec_read(const loom_config *c, loom_model_spec *s) {
  memset(s, 0, sizeof *s);
  /* every section of the table (each row's offset is into the whole loom_model_spec) */
  for (int i = 0; i < loom_train_n_keys; i++)
    if (i == 0 || strcmp(loom_train_keys[i].section, loom_train_keys[i - 1].section) != 0)
      loom_config_read_spec(c, loom_train_keys[i].section, s);
}

const char *loom_model_spec_choice(const char *section, const char *key, int value, char *buf, size_t cap) {
  for (int i = 0; i < loom_train_n_keys; i++)
    if (!strcmp(loom_train_keys[i].section, section) && !strcmp(loom_train_keys[i].key, key))
      return loom_cfg_choice_name(&loom_train_keys[i], value, buf, cap);
  if (cap) buf[0] = '\0';
  return buf;
}
