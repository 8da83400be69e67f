/* embedding.c — the Embedding layer builder: one gather from a (vocab, dim) table. The padding row
 * is zeroed here and the gather op reads it as zeros and sends it no gradient, so it stays zero
 * through training whatever the optimizer does (weight decay of zero is zero). */
#include "loom/embedding.h"

#include <assert.h>
#include <string.h>

#include "loom/init.h"

loom_embedding_opts loom_embedding_opts_default(int vocab, int dim) {
  return (loom_embedding_opts){.vocab = vocab, .dim = dim, .padding_idx = -1, .init = LOOM_INIT_KERAS_DEFAULT};
}

loom_tensor *loom_layer_embedding(loom_graph *g, const char *prefix, loom_tensor *ids, const loom_embedding_opts *o,
                                  loom_rng *rng) {
  assert(o->vocab > 0 && o->dim > 0 && "embedding: vocab and dim must be > 0");
  assert(o->padding_idx >= -1 && o->padding_idx < o->vocab && "embedding: padding_idx outside [-1, vocab)");
  assert(!loom_init_kind_takes_arg(o->init) && "embedding: init needs no argument (not constant, uniform, normal)");
  loom_tensor *w = loom_param(g, "", 2, (int[]){o->vocab, o->dim});
  loom_tensor_set_name(w, "%s.weight", prefix);
  loom_init init = o->init == LOOM_INIT_KERAS_DEFAULT   ? (loom_init){LOOM_INIT_UNIFORM, 0.05f}
                   : o->init == LOOM_INIT_TORCH_DEFAULT ? (loom_init){LOOM_INIT_NORMAL, 1.0f}
                                                        : (loom_init){o->init, 0.0f};
  loom_init_fill(w->data, o->vocab, o->dim, o->dim, o->vocab, init, rng);
  if (o->padding_idx >= 0) memset(w->data + (size_t)o->padding_idx * o->dim, 0, sizeof(float) * (size_t)o->dim);
  return loom_gather(g, w, ids, o->padding_idx);
}
