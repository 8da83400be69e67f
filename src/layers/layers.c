/* layers.c — what the layer builders share (loom/layers.h): the activation enum's one parser, its
 * names and the op it applies. Every reader of an activation name (layers, the model builder, apps)
 * goes through loom_activation_parse, so an unknown name is always the caller's error to report. */
#include "loom/layers.h"

#include <assert.h>
#include <string.h>

static const char *const act_names[] = {
    [LOOM_ACT_NONE] = "none", [LOOM_ACT_RELU] = "relu", [LOOM_ACT_SIGMOID] = "sigmoid",
    [LOOM_ACT_TANH] = "tanh", [LOOM_ACT_GELU] = "gelu",
};
_Static_assert(sizeof act_names / sizeof act_names[0] == LOOM_ACT_GELU + 1, "a name for every activation");

int loom_activation_parse(const char *name, loom_activation *out) {
  if (!name) return -1;
  for (size_t i = 0; i < sizeof act_names / sizeof act_names[0]; i++)
    if (strcmp(name, act_names[i]) == 0) {
      *out = (loom_activation)i;
      return 0;
    }
  if (strcmp(name, "linear") == 0) { /* Keras' name for none */
    *out = LOOM_ACT_NONE;
    return 0;
  }
  return -1;
}

const char *loom_activation_name(loom_activation act) {
  return act >= 0 && (size_t)act < sizeof act_names / sizeof act_names[0] ? act_names[act] : "?";
}

loom_tensor *loom_activate(loom_graph *g, loom_tensor *x, loom_activation act) {
  switch (act) {
  case LOOM_ACT_NONE: return x;
  case LOOM_ACT_RELU: return loom_relu(g, x);
  case LOOM_ACT_SIGMOID: return loom_sigmoid(g, x);
  case LOOM_ACT_TANH: return loom_tanh(g, x);
  case LOOM_ACT_GELU: return loom_gelu(g, x);
  }
  assert(!"unknown activation");
  return x;
}
