/* pretrained.c — pretrained word vectors in a model (loom/pretrained.h): the [text] keys' rules, the
 * copy into the word embeddings by parameter name (so it holds for any text encoder built on
 * text.embedding), and freezing them. The file is read by src/data/wordvec.c. */
#include <stdio.h>
#include <string.h>

#include "loom/graph.h"
#include "loom/model_spec.h"
#include "loom/optim.h"
#include "loom/pretrained.h"
#include "model_internal.h"

/* The word embeddings a model may hold: the item text's and (ranking) the query's, one vocabulary. */
static const char *const embeddings[] = {"text.embedding.weight", "query.embedding.weight"};
#define N_EMBEDDINGS (int)(sizeof embeddings / sizeof *embeddings)

int loom_model_pretrained_check(const loom_text_spec *t, loom_error *err) {
  const char *file = t->pretrained;
  bool enabled = t->enabled;
  const char *needs_file[] = {"vocab_from_pretrained", "pretrained_format", "pretrained_sha256"};
  for (int i = 0; i < 3; i++) {
    bool set = i == 0 ? t->vocab_from_pretrained : i == 1 ? t->pretrained_format != LOOM_WORDVEC_AUTO
                                                           : t->pretrained_sha256[0] != '\0';
    if (set && !file[0])
      return loom_errorf(err, "[text] %s is set but text.pretrained is not — it has no effect without a vector file; "
                              "set text.pretrained or remove text.%s", needs_file[i], needs_file[i]);
  }
  if (!enabled && file[0])
    return loom_errorf(err, "[text] pretrained is set but text.enabled = false — there is no word embedding to load "
                            "it into; enable the text tower or remove text.pretrained");
  if (!enabled && t->freeze)
    return loom_errorf(err, "[text] freeze = true but text.enabled = false — there is no word embedding to freeze; "
                            "remove text.freeze");
  return 0;
}

/* Towers frozen whole by <tower>.freeze: every parameter whose name starts with "<tower>." */
static const char *const whole_towers[] = {"image", "interaction", "fusion"};
#define N_WHOLE (int)(sizeof whole_towers / sizeof *whole_towers)

int loom_model_freeze(loom_model *m, const loom_model_spec *s, loom_error *err) {
  const bool freeze[N_WHOLE] = {s->image.freeze, s->interaction.freeze, s->fusion.freeze};
  const bool enabled[N_WHOLE] = {s->image.enabled, s->interaction.enabled, true};
  for (int i = 0; s->text.freeze && i < N_EMBEDDINGS; i++) {
    loom_tensor *w = loom_graph_find(m->g, embeddings[i]);
    if (w && w->kind == LOOM_NODE_PARAM) loom_param_set_trainable(w, false);
  }
  for (int k = 0; k < N_WHOLE; k++) {
    if (!freeze[k]) continue;
    if (!enabled[k]) /* fusion has no enabled key */
      return loom_errorf(err, "[%s] freeze = true but %s.enabled = false — there is no tower to freeze; remove %s.freeze",
                         whole_towers[k], whole_towers[k], whole_towers[k]);
    size_t len = strlen(whole_towers[k]);
    int n = 0;
    for (int i = 0; i < loom_graph_n_param_tensors(m->g); i++) {
      loom_tensor *t = loom_graph_param_tensor(m->g, i);
      if (strncmp(t->name, whole_towers[k], len) != 0 || t->name[len] != '.') continue;
      loom_param_set_trainable(t, false);
      n++;
    }
    if (n == 0)
      return loom_errorf(err, "[%s] freeze = true has no effect: the model has no %s.* parameter (the tower reads no "
                              "input of this data); remove %s.freeze", whole_towers[k], whole_towers[k], whole_towers[k]);
    if (!strcmp(whole_towers[k], "interaction")) m->ids_frozen = true;
  }
  return 0;
}

int loom_model_load_wordvec(loom_model *m, const loom_config *c, const loom_vocab *v, const loom_wordvec *wv,
                            loom_wordvec_stats *st, loom_error *err) {
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  const char *file = s.text.pretrained;
  int E = s.text.embedding_dim;
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

/* ---------------------------------------------------------------- learning-rate multipliers */

/* <tower>.lr_mult: the parameter names each tower's multiplier covers (the query tower is the text's) */
static const char *const lr_towers[] = {"text", "image", "interaction", "fusion"};

static bool in_tower(const char *name, int k) {
  const char *p = lr_towers[k];
  size_t n = strlen(p);
  if (!strncmp(name, p, n) && name[n] == '.') return true;
  return k == 0 && !strncmp(name, "query.", 6);
}

int loom_model_set_lr_mult(loom_model *m, const loom_config *c, loom_optim *o, loom_error *err) {
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  /* in lr_towers' order */
  const double mults[] = {s.text.lr_mult, s.image.lr_mult, s.interaction.lr_mult, s.fusion.lr_mult};
  const bool enabled[] = {s.text.enabled, s.image.enabled, s.interaction.enabled, true};
  const bool frozen[] = {false, s.image.freeze, s.interaction.freeze, s.fusion.freeze};
  for (int k = 0; k < 4; k++) {
    const char *tw = lr_towers[k];
    double mult = mults[k];
    if (mult == 1.0) continue;
    if (!enabled[k]) /* fusion has no enabled key */
      return loom_errorf(err, "[%s] lr_mult = %g but %s.enabled = false — there is no tower to train; remove %s.lr_mult",
                         tw, mult, tw, tw);
    if (frozen[k]) /* text.freeze freezes the word embedding only */
      return loom_errorf(err, "[%s] lr_mult = %g has no effect with %s.freeze = true (a frozen tower takes no step); "
                              "remove %s.lr_mult or %s.freeze", tw, mult, tw, tw, tw);
    int n = 0;
    for (int i = 0; i < loom_graph_n_param_tensors(m->g); i++) {
      loom_tensor *t = loom_graph_param_tensor(m->g, i);
      if (!in_tower(t->name, k) || !t->requires_grad) continue;
      if (loom_optim_set_lr_mult(o, t, (float)mult, err) < 0) return -1;
      n++;
    }
    if (n == 0)
      return loom_errorf(err, "[%s] lr_mult = %g has no effect: the model has no trainable %s.* parameter; remove %s.lr_mult",
                         tw, mult, tw, tw);
  }
  return 0;
}
