/* loom/embedding.h — the embedding table (torch.nn.Embedding / keras Embedding) as a graph builder. */
#ifndef LOOM_EMBEDDING_H
#define LOOM_EMBEDDING_H

#include "loom/graph.h"
#include "loom/layers.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_embedding_opts {
  int vocab;           /* rows of the table: ids are in [0, vocab) */
  int dim;             /* columns: the embedding size */
  int padding_idx;     /* row that reads as zeros, stays zero and gets no gradient; -1 for none */
  loom_init_kind init; /* KERAS_DEFAULT (zero value): U(-0.05, 0.05); TORCH_DEFAULT: N(0, 1); another kind:
                        * the table from it (fan_in = dim, fan_out = vocab) */
} loom_embedding_opts;

/* No padding row (padding_idx = -1: the zero value 0 would make row 0 the padding row), Keras' init. */
loom_embedding_opts loom_embedding_opts_default(int vocab, int dim);

/* y[..., :] = weight[ids[...], :] for I32 ids of any shape: (B, T) -> (B, T, dim).
 * Parameter <prefix>.weight (vocab, dim); its padding row is zeroed at init. */
loom_tensor *loom_layer_embedding(loom_graph *g, const char *prefix, loom_tensor *ids, const loom_embedding_opts *opts,
                                  loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
