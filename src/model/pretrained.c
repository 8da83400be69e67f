/* pretrained.c — pretrained word vectors in a model (loom/pretrained.h): the [text] keys' rules, the
 * copy into the word embeddings by parameter name (so it holds for any text encoder built on
 * text.embedding), and freezing them. The file is read by src/data/wordvec.c. */
#include <stdio.h>
#include <string.h>

#include "loom/graph.h"
#include "loom/pretrained.h"
#include "model_internal.h"

/* The word embeddings a model may hold: the item text's and (ranking) the query's, one vocabulary. */
static const char *const embeddings[] = {"text.embedding.weight", "query.embedding.weight"};
#define N_EMBEDDINGS (int)(sizeof embeddings / sizeof *embeddings)

int loom_model_pretrained_check(const loom_config *c, loom_error *err) {
  const char *file = loom_config_str(c, "text", "pretrained");
  bool enabled = loom_config_bool(c, "text", "enabled");
  const char *needs_file[] = {"vocab_from_pretrained", "pretrained_format", "pretrained_sha256"};
  for (int i = 0; i < 3; i++) {
    bool set = i == 0 ? loom_config_bool(c, "text", needs_file[i])
               : i == 1 ? strcmp(loom_config_str(c, "text", needs_file[i]), "auto") != 0
                        : loom_config_str(c, "text", needs_file[i])[0] != '\0';
    if (set && !file[0])
      return loom_errorf(err, "[text] %s is set but text.pretrained is not — it has no effect without a vector file; "
                              "set text.pretrained or remove text.%s", needs_file[i], needs_file[i]);
  }
  if (!enabled && file[0])
    return loom_errorf(err, "[text] pretrained is set but text.enabled = false — there is no word embedding to load "
                            "it into; enable the text tower or remove text.pretrained");
  if (!enabled && loom_config_bool(c, "text", "freeze"))
    return loom_errorf(err, "[text] freeze = true but text.enabled = false — there is no word embedding to freeze; "
                            "remove text.freeze");
  return 0;
}

void loom_model_freeze(loom_model *m, const loom_config *c) {
  if (!loom_config_bool(c, "text", "freeze")) return;
  for (int i = 0; i < N_EMBEDDINGS; i++) {
    loom_tensor *w = loom_graph_find(m->g, embeddings[i]);
    if (w && w->kind == LOOM_NODE_PARAM) loom_param_set_trainable(w, false);
  }
}

int loom_model_load_wordvec(loom_model *m, const loom_config *c, const loom_vocab *v, const loom_wordvec *wv,
                            loom_wordvec_stats *st, loom_error *err) {
  const char *file = loom_config_str(c, "text", "pretrained");
  int E = (int)loom_config_int(c, "text", "embedding_dim");
  if (E != wv->dim)
    return loom_errorf(err, "text.embedding_dim = %d but %s holds %d-dimensional vectors — set text.embedding_dim = %d",
                       E, file, wv->dim, wv->dim);
  loom_wordvec_stats one;
  int loaded = 0;
  for (int i = 0; i < N_EMBEDDINGS; i++) {
    loom_tensor *w = loom_graph_find(m->g, embeddings[i]);
    if (!w || w->kind != LOOM_NODE_PARAM) continue;
    if (loom_wordvec_align(wv, v, w->data, w->shape[0], w->shape[1], &one, err) < 0)
      return loom_error_wrap(err, "%s into %s", file, embeddings[i]);
    if (st && !loaded) *st = one;
    loaded++;
  }
  if (!loaded) return loom_errorf(err, "text.pretrained = %s but the model has no word embedding to load it into", file);
  return 0;
}
