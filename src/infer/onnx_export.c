/* onnx_export.c — a checkpoint's inference graph as an ONNX file (loom_infer_export_onnx, loom/infer.h):
 * picks the task's outputs, adds the score the tools print (sigmoid / softmax), recompiles the session's
 * model for them in eval mode and hands the graph to loom/onnx.h. What a node's config key is comes
 * from here (the model's sections), so an op without a mapping is reported in the user's terms. */
#include <stdio.h>
#include <string.h>

#include "infer_internal.h"
#include "loom/alloc.h"
#include "loom/atomic.h"
#include "loom/onnx.h"
#include "loom/runtime.h"

/* the section a node belongs to: its name's prefix, else that of the first named source (parameters
 * carry PyTorch names under their tower's prefix: text.lstm.weight_ih_l0, fusion.cross0.weight, ...) */
static bool section_of(const loom_tensor *t, char *sec, size_t n, int depth) {
  const char *dot = strchr(t->name, '.');
  if (dot && dot > t->name) {
    snprintf(sec, n, "%.*s", (int)(dot - t->name), t->name);
    return true;
  }
  if (depth > 8) return false;
  for (int i = 0; i < t->nsrc; i++)
    if (section_of(t->src[i], sec, n, depth + 1)) return true;
  return false;
}

typedef struct origin_ctx {
  const loom_config *cfg;
  char buf[256];
} origin_ctx;

static const char *origin(void *ctx, const loom_tensor *t) {
  origin_ctx *o = ctx;
  char sec[64];
  if (!section_of(t, sec, sizeof sec, 0)) return NULL;
  const char *cfg_sec = sec, *key = NULL;
  if (!strcmp(sec, "text") || !strcmp(sec, "query")) cfg_sec = "text", key = "encoder";
  else if (!strcmp(sec, "image")) key = "encoder";
  else if (!strcmp(sec, "fusion")) key = "mode";
  else if (!strcmp(sec, "interaction") && strstr(t->name, "hist")) key = "history_pooling";
  if (!key) {
    snprintf(o->buf, sizeof o->buf, "the [%s] section", sec);
    return o->buf;
  }
  snprintf(o->buf, sizeof o->buf, "%s.%s = %s", cfg_sec, key, loom_config_str(o->cfg, cfg_sec, key));
  return o->buf;
}

int loom_infer_export_onnx(loom_infer *s, const char *out_path, const char *only, loom_infer_onnx_info *info,
                           loom_error *err) {
  loom_model *m = loom_infer_model_rw(s);
  loom_graph *g = loom_model_graph(m);
  const loom_task_kind task = loom_model_task(m);
  loom_tensor *outs[LOOM_INFER_ONNX_MAX_OUTPUTS];
  const char *names[LOOM_INFER_ONNX_MAX_OUTPUTS];
  int n = 0;
  loom_tensor *logits = loom_model_logits(m);
  if (task == LOOM_TASK_BINARY || task == LOOM_TASK_MULTICLASS) {
    /* the score loom-infer prints, as a node of the graph (built once per session) */
    loom_tensor *p = loom_graph_find(g, task == LOOM_TASK_BINARY ? "onnx.score" : "onnx.probs");
    if (!p) {
      p = task == LOOM_TASK_BINARY ? loom_sigmoid(g, logits) : loom_softmax(g, logits);
      loom_tensor_set_name(p, "%s", task == LOOM_TASK_BINARY ? "onnx.score" : "onnx.probs");
    }
    outs[n] = logits, names[n++] = "logits";
    outs[n] = p, names[n++] = task == LOOM_TASK_BINARY ? "score" : "probs";
  } else {
    outs[n] = loom_model_user_vec(m), names[n++] = "user_vec";
    outs[n] = loom_model_item_vec(m), names[n++] = "item_vec";
    outs[n] = logits, names[n++] = "logits";
  }
  if (only && *only) { /* keep the named ones, in the order given */
    loom_tensor *keep[LOOM_INFER_ONNX_MAX_OUTPUTS];
    const char *keep_names[LOOM_INFER_ONNX_MAX_OUTPUTS];
    int k = 0;
    for (const char *p = only; *p;) {
      size_t len = strcspn(p, ",");
      int found = -1;
      for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && !strncmp(names[i], p, len)) found = i;
      if (found < 0 || k == LOOM_INFER_ONNX_MAX_OUTPUTS) {
        char list[64] = "";
        for (int i = 0; i < n; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
        return loom_errorf(err, "--outputs: '%.*s' is not an output of this %s model (its outputs: %s)", (int)len, p,
                           loom_task_name(task), list);
      }
      keep[k] = outs[found], keep_names[k++] = names[found];
      p += len;
      if (*p == ',') p++;
    }
    memcpy(outs, keep, sizeof(loom_tensor *) * (size_t)k);
    memcpy(names, keep_names, sizeof(const char *) * (size_t)k);
    n = k;
  }
  /* any batch size gives the same ONNX graph (reshape targets are batch-free); 2 keeps the arena small */
  if (loom_model_compile_outputs(m, 2, n, outs, err) < 0) return -1;

  /* the derived text inputs (1 / length, the max-pooling mask) are computed in the file from the lengths,
   * so a caller feeds tokens and lengths only; a transformer's pooling weights (*_pool_w) stay inputs */
  loom_onnx_derived der[4];
  int nd = 0;
  static const char *const text[2] = {"tokens", "query"};
  for (int k = 0; k < 2; k++) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s_len", text[k]);
    const loom_tensor *len = loom_graph_find(g, nm);
    if (!len || !len->live) continue;
    snprintf(nm, sizeof nm, "%s_inv_len", text[k]);
    const loom_tensor *inv = loom_graph_find(g, nm);
    if (inv && inv->live) der[nd++] = (loom_onnx_derived){inv, len, LOOM_ONNX_INV_LEN};
    snprintf(nm, sizeof nm, "%s_mask", text[k]);
    const loom_tensor *mask = loom_graph_find(g, nm);
    if (mask && mask->live) der[nd++] = (loom_onnx_derived){mask, len, LOOM_ONNX_STEP_MASK};
  }
  origin_ctx oc = {.cfg = loom_infer_config(s)};
  char *prep = loom_prep_to_string(loom_infer_prep(s));
  if (!prep) return loom_errorf(err, "out of memory");
  const char *keys[] = {"loom.task", "loom.prep"};
  const char *values[] = {loom_task_name(task), prep};
  loom_onnx_opts o = {.n_outputs = n, .outputs = outs, .output_names = names, .origin = origin, .origin_ctx = &oc,
                      .n_derived = nd, .derived = der, .n_meta = 2, .meta_keys = keys, .meta_values = values, .graph_name = loom_task_name(task)};
  size_t bytes = 0;
  unsigned char *buf = loom_onnx_encode(g, &o, &bytes, err);
  loom_free(prep);
  if (!buf) return -1;
  int rc = loom_write_file_atomic(out_path, buf, bytes, err);
  loom_free(buf);
  if (rc < 0) return -1;
  if (info) {
    memset(info, 0, sizeof *info);
    info->bytes = bytes;
    info->n_outputs = n;
    for (int i = 0; i < n; i++) snprintf(info->outputs[i], sizeof info->outputs[i], "%s", names[i]);
    for (int i = 0; i < loom_graph_n_nodes(g) && info->n_inputs < LOOM_MODEL_MAX_INPUTS; i++) {
      const loom_tensor *t = loom_graph_node(g, i);
      bool derived = false;
      for (int k = 0; k < nd; k++) derived |= der[k].input == t;
      if (t->live && t->kind == LOOM_NODE_INPUT && !derived)
        snprintf(info->inputs[info->n_inputs++], sizeof info->inputs[0], "%s", t->name);
    }
  }
  return 0;
}
