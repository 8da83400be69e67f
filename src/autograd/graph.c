/* graph.c — building, compiling and running a graph (see loom/graph.h).
 * Compile walks the live nodes once: shapes, which nodes need gradients, and one arena laid out as
 * [values | activation gradients | saved state] for training, or packed by liveness for inference (a
 * value lives from its op to its last reader). Forward and backward then only index into it.
 * It leaves the maths to the op table (ops*.c) and memory reuse across steps to the arena. */
#include <stdarg.h>

#include "graph_internal.h"
#include "loom/alloc.h"

#define ALIGN_BYTES 64
#define ALIGN_FLOATS (ALIGN_BYTES / sizeof(float))

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static void *xcalloc(size_t n, size_t size) {
  void *p = loom_calloc(n, size);
  if (!p) LOOM_FATAL("out of memory allocating %zu x %zu bytes", n, size);
  return p;
}

static void *xaligned(size_t bytes) {
  void *p = loom_aligned_alloc(bytes);
  if (!p) LOOM_FATAL("out of memory allocating %zu bytes", bytes);
  return p;
}

static void grow_ptrs(loom_tensor ***arr, int *cap, int need) {
  if (need <= *cap) return;
  int c = *cap ? *cap * 2 : 64;
  while (c < need) c *= 2;
  loom_tensor **p = loom_realloc(*arr, (size_t)c * sizeof **arr);
  if (!p) LOOM_FATAL("out of memory growing a node list to %d", c);
  *arr = p;
  *cap = c;
}

loom_graph *loom_graph_new(void) {
  loom_runtime_init();
  loom_graph *g = xcalloc(1, sizeof *g);
  loom_rng_seed(&g->rng, 0);
  return g;
}

void loom_graph_free(loom_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_nodes; i++) loom_free(g->nodes[i]);
  loom_free(g->nodes);
  loom_free(g->params);
  loom_free(g->grads);
  loom_free(g->param_list);
  loom_free(g->buffers);
  loom_free(g->buffer_list);
  loom_free(g->order);
  loom_free(g->arena);
  loom_free(g);
}

loom_rng *loom_graph_rng(loom_graph *g) { return &g->rng; }
void loom_graph_set_training(loom_graph *g, bool training) { g->training = training; }
bool loom_graph_training(const loom_graph *g) { return g->training; }
int loom_graph_batch(const loom_graph *g) { return g->batch; }
const char *loom_graph_error(const loom_graph *g) { return g->err; }
size_t loom_graph_arena_bytes(const loom_graph *g) { return g->arena_bytes; }

const char *loom_op_name(loom_op op) { return op >= 0 && op < LOOM_OP_COUNT ? loom_ops[op]->name : "?"; }

size_t loom_tensor_numel(const loom_tensor *t) { return loom_shape_numel(t->ndim, t->shape); }

void loom_tensor_set_name(loom_tensor *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->name, sizeof t->name, fmt, ap);
  va_end(ap);
}

const char *loom_shape_str(const loom_tensor *t, char *buf, size_t cap) {
  size_t o = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < t->ndim && o < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, i ? ", %d" : "%d", t->shape[i]);
  if (o < cap) snprintf(buf + o, cap - o, ")");
  return buf;
}

int loom_graph_fail(loom_graph *g, const loom_tensor *t, const char *fmt, ...) {
  int o = t ? snprintf(g->err, sizeof g->err, "%s '%s': ", loom_op_name(t->op), t->name) : 0;
  va_list ap;
  va_start(ap, fmt);
  if (o >= 0 && (size_t)o < sizeof g->err) vsnprintf(g->err + o, sizeof g->err - (size_t)o, fmt, ap);
  va_end(ap);
  return -1;
}

static loom_tensor *new_node(loom_graph *g, loom_node_kind kind, loom_op op, loom_dtype dtype) {
  grow_ptrs(&g->nodes, &g->cap_nodes, g->n_nodes + 1);
  loom_tensor *t = xcalloc(1, sizeof *t);
  t->kind = kind;
  t->op = op;
  t->dtype = dtype;
  t->id = g->n_nodes;
  g->nodes[g->n_nodes++] = t;
  g->compiled = false;
  return t;
}

loom_tensor *loom_graph_new_op(loom_graph *g, loom_op op, int nsrc, loom_tensor *const *src) {
  assert(nsrc >= 0 && nsrc <= LOOM_MAX_SRC);
  loom_tensor *t = new_node(g, LOOM_NODE_OP, op, LOOM_F32);
  for (int i = 0; i < nsrc; i++) {
    assert(src[i] && "op source is NULL");
    assert(src[i]->id < g->n_nodes && g->nodes[src[i]->id] == src[i] && "op source from another graph");
    t->src[i] = src[i];
  }
  t->nsrc = nsrc;
  snprintf(t->name, sizeof t->name, "%s_%d", loom_ops[op]->name, t->id);
  return t;
}

static void set_decl(loom_tensor *t, const char *name, int ndim, const int *shape) {
  assert(ndim >= 1 && ndim <= LOOM_MAX_DIMS);
  snprintf(t->name, sizeof t->name, "%s", name ? name : "");
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) {
    t->decl[i] = shape[i];
    t->shape[i] = shape[i] == LOOM_BATCH ? 1 : shape[i];
  }
}

loom_tensor *loom_input(loom_graph *g, const char *name, loom_dtype dtype, int ndim, const int *shape) {
  loom_tensor *t = new_node(g, LOOM_NODE_INPUT, LOOM_OP_NONE, dtype);
  set_decl(t, name, ndim, shape);
  for (int i = 0; i < ndim; i++) assert((shape[i] > 0 || shape[i] == LOOM_BATCH) && "input dims must be > 0");
  return t;
}

void loom_input_bind(loom_tensor *t, void *data) {
  assert(t->kind == LOOM_NODE_INPUT && "only inputs can be bound");
  t->bound = data;
  if (t->dtype == LOOM_I32) t->idata = data;
  else t->data = data;
}

/* Appends numel floats (64-byte aligned slot) to a flat buffer, moving it if needed, and re-points
 * every tensor already living in it. Only happens while the graph is built. */
static size_t flat_append(float **buf, float **grad, size_t *n, size_t *cap, size_t numel, loom_tensor **list,
                          int n_list) {
  size_t off = *n, need = off + align_up(numel, ALIGN_FLOATS);
  if (need > *cap) {
    size_t c = *cap ? *cap * 2 : 4096;
    while (c < need) c *= 2;
    float *nb = xaligned(c * sizeof(float));
    memset(nb, 0, c * sizeof(float));
    if (*n) memcpy(nb, *buf, *n * sizeof(float));
    loom_free(*buf);
    *buf = nb;
    if (grad) {
      float *ng = xaligned(c * sizeof(float));
      memset(ng, 0, c * sizeof(float));
      if (*n) memcpy(ng, *grad, *n * sizeof(float));
      loom_free(*grad);
      *grad = ng;
    }
    for (int i = 0; i < n_list; i++) {
      size_t o = list[i]->value_off;
      list[i]->data = *buf + o;
      if (grad) list[i]->grad = *grad + o;
    }
    *cap = c;
  }
  *n = need;
  return off;
}

loom_tensor *loom_param(loom_graph *g, const char *name, int ndim, const int *shape) {
  loom_tensor *t = new_node(g, LOOM_NODE_PARAM, LOOM_OP_NONE, LOOM_F32);
  set_decl(t, name, ndim, shape);
  for (int i = 0; i < ndim; i++) assert(shape[i] > 0 && "parameter dims must be > 0");
  size_t off = flat_append(&g->params, &g->grads, &g->n_params, &g->cap_params, loom_tensor_numel(t),
                           g->param_list, g->n_param_list);
  t->value_off = off;
  t->data = g->params + off;
  t->grad = g->grads + off;
  t->requires_grad = true;
  grow_ptrs(&g->param_list, &g->cap_param_list, g->n_param_list + 1);
  g->param_list[g->n_param_list++] = t;
  return t;
}

void loom_param_set_trainable(loom_tensor *t, bool trainable) {
  assert(t->kind == LOOM_NODE_PARAM && "only parameters are trained or frozen");
  t->requires_grad = trainable && t->grad != NULL;
}

loom_tensor *loom_buffer(loom_graph *g, const char *name, int ndim, const int *shape) {
  loom_tensor *t = new_node(g, LOOM_NODE_BUFFER, LOOM_OP_NONE, LOOM_F32);
  set_decl(t, name, ndim, shape);
  for (int i = 0; i < ndim; i++) assert(shape[i] > 0 && "buffer dims must be > 0");
  size_t off = flat_append(&g->buffers, NULL, &g->n_buffers, &g->cap_buffers, loom_tensor_numel(t),
                           g->buffer_list, g->n_buffer_list);
  t->value_off = off;
  t->data = g->buffers + off;
  grow_ptrs(&g->buffer_list, &g->cap_buffer_list, g->n_buffer_list + 1);
  g->buffer_list[g->n_buffer_list++] = t;
  return t;
}

size_t loom_graph_n_params(const loom_graph *g) { return g->n_params; }
float *loom_graph_params(loom_graph *g) { return g->params; }
float *loom_graph_grads(loom_graph *g) { return g->grads; }
int loom_graph_n_param_tensors(const loom_graph *g) { return g->n_param_list; }
loom_tensor *loom_graph_param_tensor(loom_graph *g, int i) { return i >= 0 && i < g->n_param_list ? g->param_list[i] : NULL; }
int loom_graph_n_buffer_tensors(const loom_graph *g) { return g->n_buffer_list; }
loom_tensor *loom_graph_buffer_tensor(loom_graph *g, int i) { return i >= 0 && i < g->n_buffer_list ? g->buffer_list[i] : NULL; }
int loom_graph_n_nodes(const loom_graph *g) { return g->n_nodes; }
loom_tensor *loom_graph_node(loom_graph *g, int i) { return i >= 0 && i < g->n_nodes ? g->nodes[i] : NULL; }

loom_tensor *loom_graph_find(loom_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
  return NULL;
}

/* ---- the model summary ---- */

/* "(4, 3)", or the declared "(B, 3)" for an input outside the compiled plan; "?" for such an op. */
static const char *summary_shape(const loom_graph *g, const loom_tensor *t, char *buf, size_t cap) {
  const bool compiled_here = g->compiled && t->live;
  if (t->kind == LOOM_NODE_OP && !compiled_here) return "?";
  if (t->kind != LOOM_NODE_INPUT || compiled_here) return loom_shape_str(t, buf, cap);
  size_t o = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < t->ndim && o < cap; i++) {
    if (t->decl[i] == LOOM_BATCH) o += (size_t)snprintf(buf + o, cap - o, i ? ", B" : "B");
    else o += (size_t)snprintf(buf + o, cap - o, i ? ", %d" : "%d", t->decl[i]);
  }
  if (o < cap) snprintf(buf + o, cap - o, ")");
  return buf;
}

void loom_graph_print(const loom_graph *g, FILE *f) {
  size_t n_params = 0, n_trainable = 0, n_buffer = 0;
  int n_live = 0;
  fprintf(f, "%4s  %-14s  %-38s  %-18s  %10s\n", "node", "op", "name", "output shape", "params");
  for (int i = 0; i < g->n_nodes; i++) {
    const loom_tensor *t = g->nodes[i];
    const char *op = t->kind == LOOM_NODE_INPUT ? "input"
                     : t->kind == LOOM_NODE_PARAM ? "param"
                     : t->kind == LOOM_NODE_BUFFER ? "buffer"
                                                   : loom_op_name(t->op);
    char buf[96];
    const char *shape = summary_shape(g, t, buf, sizeof buf);
    n_live += g->compiled && t->live;
    if (t->kind == LOOM_NODE_PARAM || t->kind == LOOM_NODE_BUFFER) {
      const size_t n = loom_tensor_numel(t);
      if (t->kind == LOOM_NODE_BUFFER) n_buffer += n;
      else n_params += n, n_trainable += t->requires_grad ? n : 0;
      fprintf(f, "%4d  %-14s  %-38s  %-18s  %10zu\n", i, op, t->name, shape, n);
    } else {
      fprintf(f, "%4d  %-14s  %-38s  %s\n", i, op, t->name, shape);
    }
  }
  fprintf(f, "parameters: %zu (trainable %zu, frozen %zu); buffers: %zu floats; nodes: %d", n_params, n_trainable,
          n_params - n_trainable, n_buffer, g->n_nodes);
  if (g->compiled) fprintf(f, " (%d in the compiled plan)", n_live);
  fputc('\n', f);
  if (g->compiled)
    fprintf(f, "arena: %zu bytes (compiled for batch %d, %s gradients)\n", g->arena_bytes, g->batch,
            g->with_grad ? "with" : "without");
  else
    fprintf(f, "arena: none (not compiled)\n");
}

void loom_graph_zero_grad(loom_graph *g) {
  if (g->n_params && g->grads) memset(g->grads, 0, g->n_params * sizeof(float));
}

void loom_graph_drop_grads(loom_graph *g) {
  loom_free(g->grads);
  g->grads = NULL;
  for (int i = 0; i < g->n_param_list; i++) g->param_list[i]->grad = NULL, g->param_list[i]->requires_grad = false;
  g->frozen = true;
}

/* ---- compile ---- */

static size_t value_bytes(const loom_tensor *t) { return loom_tensor_numel(t) * (t->dtype == LOOM_I32 ? 4 : sizeof(float)); }

/* Training layout: values, then activation gradients (contiguous: one memset per backward), then saved
 * state; every region has its own place, since backward reads them all after forward. Returns bytes. */
static size_t layout_training(loom_graph *g) {
  size_t off = 0;
  for (int i = 0; i < g->n_order; i++) {
    loom_tensor *t = g->order[i];
    if (t->kind == LOOM_NODE_PARAM || t->kind == LOOM_NODE_BUFFER) continue;
    if (t->kind == LOOM_NODE_OP && loom_ops[t->op]->view) continue;
    if (t->bound) continue;
    t->value_off = off;
    off += align_up(value_bytes(t), ALIGN_BYTES);
  }
  g->grad_begin = off;
  for (int i = 0; i < g->n_order; i++) {
    loom_tensor *t = g->order[i];
    if (t->kind == LOOM_NODE_PARAM || t->kind == LOOM_NODE_BUFFER) continue;
    if (t->kind == LOOM_NODE_OP && loom_ops[t->op]->view) continue;
    bool wants = t->requires_grad && t->dtype == LOOM_F32;
    t->grad_off = wants ? off : (size_t)-1;
    if (wants) off += align_up(loom_tensor_numel(t) * sizeof(float), ALIGN_BYTES);
  }
  g->grad_end = off;
  for (int i = 0; i < g->n_order; i++) {
    loom_tensor *t = g->order[i];
    t->saved_bytes = 0;
    if (t->kind != LOOM_NODE_OP || !loom_ops[t->op]->saved_bytes) continue;
    t->saved_bytes = loom_ops[t->op]->saved_bytes(t);
    t->saved_off = off;
    off += align_up(t->saved_bytes, ALIGN_BYTES);
  }

  return off;
}

/* The node whose memory t's value is (a view's is its source's, recursively). */
static loom_tensor *storage_of(loom_tensor *t) {
  while (t->kind == LOOM_NODE_OP && loom_ops[t->op]->view) t = t->src[0];
  return t;
}

typedef struct {
  size_t off, bytes;
  int first, last; /* positions in g->order during which the block is in use, inclusive */
} arena_block;

/* Lowest 64-byte-aligned offset where `bytes` fit beside every placed block whose lifetime meets
 * [first, last] (first fit; blocks is unsorted, the scan restarts after each collision). */
static size_t place_block(const arena_block *blocks, int n, size_t bytes, int first, int last) {
  size_t off = 0;
  for (bool moved = true; moved;) {
    moved = false;
    for (int i = 0; i < n; i++) {
      const arena_block *b = &blocks[i];
      if (b->last < first || b->first > last) continue;
      if (off < b->off + b->bytes && b->off < off + bytes) {
        off = align_up(b->off + b->bytes, ALIGN_BYTES);
        moved = true;
      }
    }
  }
  return off;
}

/* Inference layout (no gradients, so nothing outlives forward): a value lives from the op that writes it
 * to its last reader, an op's saved state only while that op runs, and blocks whose lifetimes do not meet
 * share memory. Inputs and the compile's outputs are never shared (the caller writes and reads them).
 * Returns bytes. */
static size_t layout_inference(loom_graph *g, int n_outputs, loom_tensor *const *outputs) {
  const int n = g->n_order;
  int *last = xcalloc((size_t)n, sizeof *last);    /* last reader of each owner's value, by position */
  int *pos_of = xcalloc((size_t)g->n_nodes, sizeof *pos_of); /* node id -> position in order */
  arena_block *blocks = xcalloc((size_t)2 * n + 1, sizeof *blocks);
  for (int p = 0; p < n; p++) {
    pos_of[g->order[p]->id] = p;
    last[p] = p;
  }
  for (int p = 0; p < n; p++) {
    loom_tensor *t = g->order[p];
    if (t->kind != LOOM_NODE_OP) continue;
    for (int s = 0; s < t->nsrc; s++) {
      const int q = pos_of[storage_of(t->src[s])->id];
      if (last[q] < p) last[q] = p;
    }
  }
  for (int i = 0; i < n_outputs; i++) last[pos_of[storage_of(outputs[i])->id]] = n; /* kept after forward */
  size_t off = 0;
  int nb = 0;
  for (int p = 0; p < n; p++) {
    loom_tensor *t = g->order[p];
    t->saved_bytes = 0;
    if (t->kind == LOOM_NODE_PARAM || t->kind == LOOM_NODE_BUFFER) continue;
    t->grad_off = (size_t)-1;
    if (t->kind == LOOM_NODE_OP && loom_ops[t->op]->view) continue;
    if (!t->bound) {
      const bool input = t->kind == LOOM_NODE_INPUT;
      arena_block b = {0, align_up(value_bytes(t), ALIGN_BYTES), input ? 0 : p, input ? n : last[p]};
      b.off = place_block(blocks, nb, b.bytes, b.first, b.last);
      t->value_off = b.off;
      blocks[nb++] = b;
      if (b.off + b.bytes > off) off = b.off + b.bytes;
    }
    if (t->kind == LOOM_NODE_OP && loom_ops[t->op]->saved_bytes) {
      t->saved_bytes = loom_ops[t->op]->saved_bytes(t);
      arena_block b = {0, align_up(t->saved_bytes, ALIGN_BYTES), p, p};
      b.off = place_block(blocks, nb, b.bytes, b.first, b.last);
      t->saved_off = b.off;
      blocks[nb++] = b;
      if (b.off + b.bytes > off) off = b.off + b.bytes;
    }
  }
  g->grad_begin = g->grad_end = off;
  loom_free(last);
  loom_free(pos_of);
  loom_free(blocks);
  return off;
}

int loom_graph_compile(loom_graph *g, int batch, int n_outputs, loom_tensor *const *outputs, bool with_grad) {
  assert(batch >= 1 && n_outputs >= 1);
  g->err[0] = '\0';
  g->compiled = false;
  if (with_grad && g->frozen) return loom_graph_fail(g, NULL, "the graph is frozen for inference (loom_graph_drop_grads): it cannot compile with gradients");
  for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->live = false;
  for (int i = 0; i < n_outputs; i++) {
    assert(outputs[i] && outputs[i]->id < g->n_nodes && g->nodes[outputs[i]->id] == outputs[i]);
    outputs[i]->live = true;
  }
  /* Sources always precede their users, so one backwards sweep marks everything reachable. */
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    loom_tensor *t = g->nodes[i];
    if (!t->live) continue;
    for (int s = 0; s < t->nsrc; s++) t->src[s]->live = true;
  }

  grow_ptrs(&g->order, &g->cap_order, g->n_nodes);
  g->n_order = 0;

  /* Shapes and gradient flow. */
  for (int i = 0; i < g->n_nodes; i++) {
    loom_tensor *t = g->nodes[i];
    if (!t->live) continue;
    g->order[g->n_order++] = t;
    if (t->kind == LOOM_NODE_INPUT) {
      for (int d = 0; d < t->ndim; d++) t->shape[d] = t->decl[d] == LOOM_BATCH ? batch : t->decl[d];
      continue;
    }
    if (t->kind != LOOM_NODE_OP) continue;
    for (int s = 0; s < t->nsrc; s++) t->src[s]->live = true;
    t->dtype = LOOM_F32;
    if (loom_ops[t->op]->infer(g, t) != 0) return -1;
    assert(t->ndim >= 1 && t->ndim <= LOOM_MAX_DIMS);
    t->requires_grad = false;
    if (with_grad && t->dtype == LOOM_F32)
      for (int s = 0; s < t->nsrc; s++) t->requires_grad |= t->src[s]->requires_grad && t->src[s]->dtype == LOOM_F32;
  }

  size_t off = with_grad ? layout_training(g) : layout_inference(g, n_outputs, outputs);
  if (off > g->arena_cap) {
    loom_free(g->arena);
    g->arena = xaligned(off);
    g->arena_cap = align_up(off, ALIGN_BYTES);
  }
  g->arena_bytes = off;
  if (off) memset(g->arena, 0, off);

  /* Point every live node into the arena (views into their source). */
  for (int i = 0; i < g->n_order; i++) {
    loom_tensor *t = g->order[i];
    if (t->kind == LOOM_NODE_PARAM || t->kind == LOOM_NODE_BUFFER) continue;
    t->saved = t->saved_bytes ? g->arena + t->saved_off : NULL;
    if (t->kind == LOOM_NODE_OP && loom_ops[t->op]->view) {
      loom_tensor *s = t->src[0];
      t->data = s->data;
      t->idata = s->idata;
      t->grad = t->requires_grad ? s->grad : NULL;
      continue;
    }
    if (t->bound) {
      if (t->dtype == LOOM_I32) t->idata = t->bound;
      else t->data = t->bound;
    } else if (t->dtype == LOOM_I32) {
      t->idata = (int32_t *)(void *)(g->arena + t->value_off);
      t->data = NULL;
    } else {
      t->data = (float *)(void *)(g->arena + t->value_off);
      t->idata = NULL;
    }
    t->grad = t->grad_off != (size_t)-1 ? (float *)(void *)(g->arena + t->grad_off) : NULL;
  }
  /* Parameters that no live node trains keep their gradient pointer (it is the flat buffer). */
  g->batch = batch;
  g->with_grad = with_grad;
  g->compiled = true;
  return 0;
}

void loom_graph_forward(loom_graph *g) {
  assert(g->compiled && "loom_graph_forward before loom_graph_compile");
  for (int i = 0; i < g->n_order; i++) {
    loom_tensor *t = g->order[i];
    if (t->kind == LOOM_NODE_OP) loom_ops[t->op]->forward(g, t);
  }
}

void loom_graph_backward(loom_graph *g, loom_tensor *loss) {
  assert(g->compiled && g->with_grad && "loom_graph_backward needs a graph compiled with gradients");
  assert(loss->live && loom_tensor_numel(loss) == 1 && "backward starts from a live scalar loss");
  if (!loss->grad) return; /* nothing trainable upstream */
  if (g->grad_end > g->grad_begin) memset(g->arena + g->grad_begin, 0, g->grad_end - g->grad_begin);
  loss->grad[0] += 1.0f;
  for (int i = g->n_order - 1; i >= 0; i--) {
    loom_tensor *t = g->order[i];
    if (t->kind == LOOM_NODE_OP && t->requires_grad) loom_ops[t->op]->backward(g, t);
  }
}
