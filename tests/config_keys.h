/* config_keys.h — the small run-config key table that the config tests, the malformed-input table
 * and the config fuzzer share, so all three exercise the same keys. */
#ifndef LOOM_TEST_CONFIG_KEYS_H
#define LOOM_TEST_CONFIG_KEYS_H

#include "loom/config.h"

static const loom_cfg_key test_cfg_keys[] = {
    {"text", "hidden", LOOM_CFG_INT, "128", NULL, 1, 4096, "LSTM hidden size"},
    {"text", "bidirectional", LOOM_CFG_BOOL, "false", NULL, 0, 0, "run a second LSTM backwards"},
    {"text", "pooling", LOOM_CFG_CHOICE, "last", "last|mean|max", 0, 0, "how states become one vector"},
    {"image", "conv", LOOM_CFG_INT_LIST, "32,64,128", NULL, 1, 4096, "filters of each conv block"},
    {"train", "lr", LOOM_CFG_FLOAT, "0.001", NULL, 1e-9, 10, "learning rate"},
    {"train", "betas", LOOM_CFG_FLOAT_LIST, "0.9,0.999", NULL, 0, 1, "Adam betas"},
    {"train", "out", LOOM_CFG_STRING, "runs/default", NULL, 0, 0, "run directory"},
};
#define TEST_CFG_NKEYS (int)(sizeof test_cfg_keys / sizeof test_cfg_keys[0])

#endif
