/* loom/loom.h — the umbrella header.
 *
 *   #include <loom/loom.h>
 *
 *   loom_graph *g = loom_graph_new();
 *   loom_rng rng;
 *   loom_rng_seed(&rng, 42);
 *   loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 16});
 *   loom_dense_opts o = loom_dense_opts_default(16, 1);         // every layer: loom_<name>_opts_default,
 *   loom_tensor *y = loom_layer_dense(g, "fc", x, &o, &rng);     // then loom_layer_<name>: (B, 1)
 *   loom_tensor *loss = loom_mean(g, loom_mul(g, y, y), LOOM_ALL, false);
 *   loom_graph_compile(g, 32, 1, &loss, true);                  // shapes + one arena, once
 *   loom_graph_print(g, stdout);                                // nodes, shapes, parameter counts
 *   // fill x->data (32 x 16 floats), then, every step, with no allocation:
 *   loom_graph_zero_grad(g);
 *   loom_graph_forward(g);
 *   loom_graph_backward(g, loss);                               // grads in loom_graph_grads(g)
 *   loom_graph_free(g);
 *
 * Ops are in graph.h (core), ops_conv.h, ops_conv1d.h, ops_lstm.h, ops_gru.h, ops_attention.h, ops_norm.h and loss.h;
 * layers (layers.h for the convention) in dense.h, embedding.h, lstm.h, gru.h, textcnn.h, transformer.h, conv.h, norm.h
 * seq_pool.h and interact.h. */
#ifndef LOOM_LOOM_H
#define LOOM_LOOM_H

#include "loom/alloc.h"
#include "loom/atomic.h"
#include "loom/config.h"
#include "loom/conv.h"
#include "loom/dense.h"
#include "loom/embedding.h"
#include "loom/error.h"
#include "loom/evaluate.h"
#include "loom/graph.h"
#include "loom/gru.h"
#include "loom/index.h"
#include "loom/infer.h"
#include "loom/init.h"
#include "loom/layers.h"
#include "loom/loss.h"
#include "loom/lstm.h"
#include "loom/metrics.h"
#include "loom/norm.h"
#include "loom/onnx.h"
#include "loom/ops_conv.h"
#include "loom/ops_conv1d.h"
#include "loom/ops_attention.h"
#include "loom/ops_gru.h"
#include "loom/ops_lstm.h"
#include "loom/ops_norm.h"
#include "loom/optim.h"
#include "loom/report.h"
#include "loom/rng.h"
#include "loom/runtime.h"
#include "loom/safetensors.h"
#include "loom/seq_pool.h"
#include "loom/textcnn.h"
#include "loom/transformer.h"
#include "loom/interact.h"
#include "loom/serve.h"

#endif
