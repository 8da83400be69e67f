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
  int vocab;            /* rows of the table: ids are in [0, vocab) */
  int dim;              /* columns: the embedding size */
  int padding_idx;      /* row that reads as zeros, stays zero and gets no gradient; -1 for none */
  loom_init_style init; /* KERAS (default): U(-0.05, 0.05); TORCH: N(0, 1) */
} loom_embedding_opts;

/* y[..., :] = weight[ids[...], :] for I32 ids of any shape: (B, T) -> (B, T, dim).
 * Parameter <prefix>.weight (vocab, dim); its padding row is zeroed at init. Note: set the caller's
 * opts.padding_idx = -1 explicitly when there is none (0 is a valid padding row). */
loom_tensor *loom_embedding(loom_graph *g, const char *prefix, loom_tensor *ids, const loom_embedding_opts *opts,
                            loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
