/* loom/pretrained.h — pretrained word vectors in a model: the [text] keys pretrained,
 * pretrained_format, pretrained_sha256, vocab_from_pretrained and freeze checked against the config,
 * the vectors copied into the text embeddings, and text.freeze applied. Reading the file is
 * loom/wordvec.h's; when to read it (a new run, never a resumed one) is the trainer's. */
#ifndef LOOM_PRETRAINED_H
#define LOOM_PRETRAINED_H

#include "loom/config.h"
#include "loom/error.h"
#include "loom/model.h"
#include "loom/wordvec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pretrained keys of [text] t (loom/model_spec.h) agree with each other and with the towers: -1 with err naming a key
 * that would have no effect (vocab_from_pretrained, pretrained_format or pretrained_sha256 without
 * text.pretrained; any of them, or freeze, with text.enabled = false). loom_model_build calls it. */
struct loom_text_spec;
int loom_model_pretrained_check(const struct loom_text_spec *t, loom_error *err);

/* text.freeze = true: every word embedding of m (text.embedding.weight, and query.embedding.weight
 * of ranking models) becomes a frozen parameter (loom_param_set_trainable); image.freeze,
 * interaction.freeze, fusion.freeze: every parameter named <tower>.* does. -1 with err naming the key
 * when it selects no parameter of m (it would have no effect). loom_model_build calls it. */
struct loom_model_spec;
int loom_model_freeze(loom_model *m, const struct loom_model_spec *s, loom_error *err);

/* <tower>.lr_mult (text: text.* and query.*; image.*, interaction.*, fusion.*): each trainable
 * parameter of the tower gets learning rate lr_mult x train.lr in o (loom_optim_set_lr_mult). -1 with
 * err naming the key when it has no effect (tower disabled, frozen, or without trainable parameters). */
struct loom_optim;
int loom_model_set_lr_mult(loom_model *m, const loom_config *c, struct loom_optim *o, loom_error *err);

/* The rows of every word embedding of m ← wv's vectors through the vocabulary v (loom_wordvec_align;
 * rows of words the file lacks keep their initialisation). -1 with err naming text.embedding_dim and
 * the file's D when they differ. st (may be NULL) gets the counts. */
int loom_model_load_wordvec(loom_model *m, const loom_config *c, const loom_vocab *v, const loom_wordvec *wv,
                            loom_wordvec_stats *st, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
