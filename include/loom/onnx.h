/* loom/onnx.h — a compiled inference graph written as an ONNX model (opset 13, IR version 8), with
 * a small protobuf wire-format encoder of its own (no protobuf library). Each live node of the graph
 * maps to one or a few ONNX nodes; parameters and buffers become initializers under their loom names
 * (LSTM/GRU weights re-ordered into ONNX's gate order under new names). Which model, which outputs and
 * what a node's config key is are the caller's business (apps/loom-export.c); this file knows graphs.
 *
 *   loom_onnx_opts o = {.n_outputs = 1, .outputs = &logits, .output_names = (const char *[]){"logits"}};
 *   if (loom_onnx_write(g, &o, "model.onnx", &err) < 0) ...;   // written whole or not at all
 */
#ifndef LOOM_ONNX_H
#define LOOM_ONNX_H

#include <stddef.h>

#include "loom/error.h"
#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_ONNX_OPSET 13
#define LOOM_ONNX_IR_VERSION 8

/* A graph input the file computes from another input instead of taking it (the derived text inputs). */
typedef enum {
  LOOM_ONNX_INV_LEN = 1, /* y = 1 / max(len, 1), the shape of len */
  LOOM_ONNX_STEP_MASK,   /* len (B, G) or (B) -> y (B, G·T): 0 at steps t < len (every step when len = 0), -1e30 after */
} loom_onnx_derive_kind;
typedef struct loom_onnx_derived {
  const loom_tensor *input;   /* the input node computed in the file (not a graph input of it) */
  const loom_tensor *lengths; /* the int32 input node it is computed from (a graph input of the file) */
  loom_onnx_derive_kind kind;
} loom_onnx_derived;

typedef struct loom_onnx_opts {
  int n_outputs;
  loom_tensor *const *outputs;    /* compiled (eval mode) nodes of the graph; dim 0 of each is the batch */
  const char *const *output_names; /* the ONNX output names (must differ from every node name) */
  /* For an op without an ONNX mapping: what in the run config produced `node` (e.g. "[text] encoder =
   * transformer"), written into the error; NULL (or returning NULL): the error names the node only. */
  const char *(*origin)(void *ctx, const loom_tensor *node);
  void *origin_ctx;
  int n_meta; /* metadata_props of the model: key/value pairs */
  const char *const *meta_keys, *const *meta_values;
  int n_derived;
  const loom_onnx_derived *derived;
  const char *producer_version; /* ModelProto.producer_version (NULL: loom_version()) */
  const char *graph_name;       /* GraphProto.name (NULL: "loom") */
} loom_onnx_opts;

/* Encodes the part of `g` the outputs depend on (the last loom_graph_compile, eval mode, without
 * gradients) as an ONNX ModelProto. Graph inputs are the live input nodes under their names, with
 * their LOOM_BATCH dims as the symbolic dim "batch". Returns the bytes (loom_free them) and their count
 * in *len, or NULL with err naming the first node that has no ONNX mapping, its op and o->origin's
 * answer. */
unsigned char *loom_onnx_encode(loom_graph *g, const loom_onnx_opts *o, size_t *len, loom_error *err);
/* loom_onnx_encode written to `path` atomically (loom/atomic.h): a failure leaves no file behind and
 * an existing one untouched. */
int loom_onnx_write(loom_graph *g, const loom_onnx_opts *o, const char *path, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
