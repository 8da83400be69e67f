/* backbone.c — torchvision ResNet-18/34 and VGG-11/16 feature towers (loom/backbone.h): one walk over
 * the architecture that either records its conv units (the state_dict names and shapes a weights file
 * must hold) or wires them into a graph from the existing ops (conv2d, batchnorm, relu, maxpool2d, add,
 * global_avgpool), and the loader that checks a torchvision state_dict and copies or BN-folds it in. */
#include "loom/backbone.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/alloc.h"
#include "loom/ops_conv.h"
#include "loom/ops_norm.h"
#include "loom/safetensors.h"
#include "loom/sha256.h"

#define MAX_UNITS 64

/* One conv (+ optional BatchNorm2d) of the architecture, with torchvision's module names. */
typedef struct {
  char conv[48], bn[48]; /* bn[0] == 0: no BatchNorm after the conv */
  int C, O, k, s, p;
  bool bias;             /* the conv has its own bias (VGG) */
} unit;

typedef struct {
  loom_graph *g; /* NULL: only record the units */
  const char *prefix;
  bool fused;
  unit u[MAX_UNITS];
  int n;
} walk;

static const float bn_eps = 1e-5f;

static loom_tensor *param(walk *w, const char *mod, const char *what, int ndim, const int *shape) {
  char name[LOOM_NAME_MAX];
  snprintf(name, sizeof name, "%s%s.%s", w->prefix, mod, what);
  return loom_param(w->g, name, ndim, shape);
}
static loom_tensor *buffer(walk *w, const char *mod, const char *what, int ndim, const int *shape, float v) {
  char name[LOOM_NAME_MAX];
  snprintf(name, sizeof name, "%s%s.%s", w->prefix, mod, what);
  loom_tensor *t = loom_buffer(w->g, name, ndim, shape);
  for (size_t i = 0; i < loom_tensor_numel(t); i++) t->data[i] = v;
  return t;
}

/* conv (k x k, stride s, padding p) then BatchNorm2d when bn is given; x (B, C, H, W) -> (B, O, H', W'). */
static loom_tensor *conv_bn(walk *w, loom_tensor *x, const char *conv, const char *bn, int C, int O, int k, int s,
                            int p, bool bias) {
  assert(w->n < MAX_UNITS);
  unit *u = &w->u[w->n++];
  snprintf(u->conv, sizeof u->conv, "%s", conv);
  snprintf(u->bn, sizeof u->bn, "%s", bn ? bn : "");
  u->C = C, u->O = O, u->k = k, u->s = s, u->p = p, u->bias = bias;
  if (!w->g) return NULL;
  loom_tensor *wt = param(w, conv, "weight", 4, (int[]){O, C, k, k});
  loom_tensor *b = bias || (bn && w->fused) ? param(w, conv, "bias", 1, &O) : NULL;
  loom_tensor *y = loom_conv2d(w->g, x, wt, b, s, s, (loom_padding){LOOM_CONV_PAD_EXPLICIT, p, p});
  loom_tensor_set_name(y, "%s%s", w->prefix, conv);
  if (bn && !w->fused) {
    loom_tensor *gm = param(w, bn, "weight", 1, &O), *bt = param(w, bn, "bias", 1, &O);
    for (int i = 0; i < O; i++) gm->data[i] = 1.0f;
    loom_tensor *rm = buffer(w, bn, "running_mean", 1, &O, 0.0f), *rv = buffer(w, bn, "running_var", 1, &O, 1.0f);
    loom_tensor *nbt = buffer(w, bn, "num_batches_tracked", 1, (int[]){1}, 0.0f);
    y = loom_batchnorm(w->g, y, gm, bt, rm, rv, nbt, bn_eps, 0.1f);
    y->ip[2] = 2; /* BatchNorm2d shape rule */
    loom_tensor_set_name(y, "%s%s", w->prefix, bn);
  }
  return y;
}
static loom_tensor *relu(walk *w, loom_tensor *x) { return w->g ? loom_relu(w->g, x) : NULL; }

/* torchvision.models.resnet: conv1 7x7/2, bn1, relu, maxpool 3x3/2 pad 1, four stages of BasicBlocks
 * (64, 128, 256, 512 planes; stride 1, 2, 2, 2; a 1x1/s conv + BN downsample where the shape changes),
 * AdaptiveAvgPool2d(1), flatten. */
static loom_tensor *resnet(walk *w, loom_tensor *x, const int blocks[4]) {
  x = relu(w, conv_bn(w, x, "conv1", "bn1", 3, 64, 7, 2, 3, false));
  if (w->g) x = loom_maxpool2d(w->g, x, 3, 3, 2, 2, (loom_padding){LOOM_CONV_PAD_EXPLICIT, 1, 1});
  int in = 64;
  for (int l = 0; l < 4; l++) {
    const int planes = 64 << l;
    for (int b = 0; b < blocks[l]; b++) {
      const int s = b == 0 && l > 0 ? 2 : 1;
      char c1[48], b1[48], c2[48], b2[48], dc[48], db[48];
      snprintf(c1, sizeof c1, "layer%d.%d.conv1", l + 1, b), snprintf(b1, sizeof b1, "layer%d.%d.bn1", l + 1, b);
      snprintf(c2, sizeof c2, "layer%d.%d.conv2", l + 1, b), snprintf(b2, sizeof b2, "layer%d.%d.bn2", l + 1, b);
      snprintf(dc, sizeof dc, "layer%d.%d.downsample.0", l + 1, b);
      snprintf(db, sizeof db, "layer%d.%d.downsample.1", l + 1, b);
      loom_tensor *h = relu(w, conv_bn(w, x, c1, b1, in, planes, 3, s, 1, false));
      h = conv_bn(w, h, c2, b2, planes, planes, 3, 1, 1, false);
      loom_tensor *id = s != 1 || in != planes ? conv_bn(w, x, dc, db, in, planes, 1, s, 0, false) : x;
      x = w->g ? relu(w, loom_add(w->g, h, id)) : NULL; // (B, planes, H/s, W/s)
      in = planes;
    }
  }
  return w->g ? loom_global_avgpool(w->g, x) : NULL; // (B, 512)
}

/* torchvision.models.vgg (no batch norm): 3x3 pad-1 convs with bias, each followed by ReLU, and 2x2/2
 * max pools ('M'); a module index counts every conv, ReLU and pool, as nn.Sequential names them. */
static loom_tensor *vgg(walk *w, loom_tensor *x, const int *cfg, int n) {
  int idx = 0, in = 3;
  for (int i = 0; i < n; i++) {
    if (cfg[i] == 0) {
      if (w->g) x = loom_maxpool2d(w->g, x, 2, 2, 2, 2, (loom_padding){LOOM_CONV_PAD_VALID, 0, 0});
      idx++;
      continue;
    }
    char name[48];
    snprintf(name, sizeof name, "features.%d", idx);
    x = relu(w, conv_bn(w, x, name, NULL, in, cfg[i], 3, 1, 1, true));
    in = cfg[i];
    idx += 2;
  }
  return w->g ? loom_global_avgpool(w->g, x) : NULL; // (B, 512): the spatial mean of features(x)
}

static const int vgg11_cfg[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
static const int vgg16_cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};

static loom_tensor *run_walk(walk *w, loom_backbone_arch a, loom_tensor *x) {
  switch (a) {
  case LOOM_BACKBONE_RESNET18: return resnet(w, x, (const int[]){2, 2, 2, 2});
  case LOOM_BACKBONE_RESNET34: return resnet(w, x, (const int[]){3, 4, 6, 3});
  case LOOM_BACKBONE_VGG11: return vgg(w, x, vgg11_cfg, (int)(sizeof vgg11_cfg / sizeof *vgg11_cfg));
  case LOOM_BACKBONE_VGG16: return vgg(w, x, vgg16_cfg, (int)(sizeof vgg16_cfg / sizeof *vgg16_cfg));
  case LOOM_BACKBONE_NONE: break;
  }
  assert(!"backbone: no architecture");
  return NULL;
}

static const char *const names[] = {"none", "resnet18", "resnet34", "vgg11", "vgg16"};

int loom_backbone_parse(const char *name, loom_backbone_arch *out) {
  for (int i = 0; i < 5; i++)
    if (!strcmp(name, names[i])) return *out = (loom_backbone_arch)i, 0;
  return -1;
}
const char *loom_backbone_name(loom_backbone_arch a) { return names[a]; }
int loom_backbone_dim(loom_backbone_arch a) { return a == LOOM_BACKBONE_NONE ? 0 : 512; }

loom_tensor *loom_backbone_build(loom_graph *g, loom_backbone_arch a, const char *prefix, bool fused, loom_tensor *x) {
  walk *w = loom_calloc(1, sizeof *w);
  assert(w);
  w->g = g, w->prefix = prefix, w->fused = fused;
  loom_tensor *y = run_walk(w, a, x);
  loom_tensor_set_name(y, "%savgpool", prefix);
  loom_free(w);
  return y;
}

/* ---- the state_dict a file must hold ---- */

typedef struct {
  char name[64];
  int ndim, shape[4];
  int unit, part; /* part: 0 conv weight, 1 conv bias, 2 bn weight, 3 bn bias, 4 mean, 5 var, 6 tracked */
} want;

static int wants(loom_backbone_arch a, want *out, int cap) {
  walk w = {0};
  run_walk(&w, a, NULL);
  int n = 0;
  static const char *const bn_parts[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
  for (int i = 0; i < w.n; i++) {
    const unit *u = &w.u[i];
    for (int part = 0; part < 7; part++) {
      if ((part == 1 && !u->bias) || (part >= 2 && !u->bn[0])) continue;
      assert(n < cap);
      want *q = &out[n++];
      q->unit = i, q->part = part;
      if (part <= 1) snprintf(q->name, sizeof q->name, "%s.%s", u->conv, part ? "bias" : "weight");
      else snprintf(q->name, sizeof q->name, "%s.%s", u->bn, bn_parts[part - 2]);
      q->ndim = part == 0 ? 4 : part == 6 ? 0 : 1;
      if (part == 0) q->shape[0] = u->O, q->shape[1] = u->C, q->shape[2] = q->shape[3] = u->k;
      else q->shape[0] = u->O;
    }
  }
  return n;
}

#define MAX_WANTS (MAX_UNITS * 7)

int loom_backbone_tensor(loom_backbone_arch a, int i, char *name, int name_size, int *ndim, int shape[4]) {
  want *q = loom_calloc(MAX_WANTS, sizeof *q);
  assert(q);
  int n = wants(a, q, MAX_WANTS);
  if (i >= 0 && i < n) {
    snprintf(name, (size_t)name_size, "%s", q[i].name);
    *ndim = q[i].ndim;
    memcpy(shape, q[i].shape, sizeof q[i].shape);
  }
  loom_free(q);
  return n;
}

static bool is_head(loom_backbone_arch a, const char *name) {
  return a == LOOM_BACKBONE_RESNET18 || a == LOOM_BACKBONE_RESNET34 ? !strncmp(name, "fc.", 3)
                                                                     : !strncmp(name, "classifier.", 11);
}

/* Appends "name" to a comma list, at most 8 names then "...". */
static void list_add(char *buf, size_t cap, int *count, const char *what) {
  size_t len = strlen(buf);
  if (*count < 8) snprintf(buf + len, cap - len, "%s%s", *count ? ", " : "", what);
  else if (*count == 8) snprintf(buf + len, cap - len, ", ...");
  (*count)++;
}

static void shape_str(char *s, size_t cap, int ndim, const int64_t *sh) {
  size_t len = (size_t)snprintf(s, cap, "(");
  for (int i = 0; i < ndim && len < cap; i++) len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? ", " : "", (long long)sh[i]);
  if (len < cap) snprintf(s + len, cap - len, ")");
}

static loom_tensor *graph_tensor(loom_graph *g, const char *prefix, const char *mod, const char *what) {
  char name[LOOM_NAME_MAX];
  snprintf(name, sizeof name, "%s%s.%s", prefix, mod, what);
  loom_tensor *t = loom_graph_find(g, name);
  assert(t && "backbone_load: the graph was not built by loom_backbone_build with this prefix");
  return t;
}

int loom_backbone_load(loom_graph *g, loom_backbone_arch a, const char *prefix, bool fused, const char *path,
                       char *sha256_hex, loom_error *err) {
  loom_st_file *f = loom_st_open(path, err);
  if (!f) return -1;
  want *q = loom_calloc(MAX_WANTS, sizeof *q);
  const loom_st_tensor **got = loom_calloc(MAX_WANTS, sizeof *got);
  char missing[640] = "", bad[1024] = "", extra[640] = "";
  int nm = 0, nb = 0, ne = 0, rc = -1;
  if (!q || !got) {
    loom_errorf(err, "out of memory");
    goto done;
  }
  const int n = wants(a, q, MAX_WANTS);
  for (int i = 0; i < n; i++) {
    const loom_st_tensor *t = got[i] = loom_st_find(f, q[i].name);
    char item[160], s1[48], s2[48];
    if (!t) {
      if (q[i].part != 6) list_add(missing, sizeof missing, &nm, q[i].name);
      continue;
    }
    if (q[i].part == 6) { /* num_batches_tracked: not used in eval mode; any count of one element */
      if (t->numel != 1) {
        snprintf(item, sizeof item, "%s has %llu elements, want 1", q[i].name, (unsigned long long)t->numel);
        list_add(bad, sizeof bad, &nb, item);
      }
      continue;
    }
    int64_t ws[4];
    for (int d = 0; d < 4; d++) ws[d] = q[i].shape[d];
    bool same = t->ndim == q[i].ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == ws[d];
    if (!same || t->dtype != LOOM_ST_F32) {
      shape_str(s1, sizeof s1, t->ndim, t->shape), shape_str(s2, sizeof s2, q[i].ndim, ws);
      snprintf(item, sizeof item, "%s is %s %s, want F32 %s", q[i].name, loom_st_dtype_name(t->dtype), s1, s2);
      list_add(bad, sizeof bad, &nb, item);
    }
  }
  int ignored = 0;
  for (int i = 0; i < loom_st_count(f); i++) {
    const char *name = loom_st_tensor_at(f, i)->name;
    bool known = false;
    for (int j = 0; j < n && !known; j++) known = !strcmp(q[j].name, name);
    if (known) continue;
    if (is_head(a, name)) ignored++;
    else list_add(extra, sizeof extra, &ne, name);
  }
  if (nm || nb || ne) {
    loom_errorf(err, "%s: not a torchvision %s state_dict —%s%s%s%s%s%s%s%s%s; export it with "
                     "safetensors.torch.save_file(torchvision.models.%s().state_dict(), FILE) or set image.backbone "
                     "to the file's architecture", path, names[a],
                nm ? " missing: " : "", missing, nm && (nb || ne) ? ";" : "",
                nb ? " wrong shape or dtype: " : "", bad, nb && ne ? ";" : "", ne ? " unexpected: " : "", extra, "",
                names[a]);
    goto done;
  }
  (void)ignored;
  /* copy, or fold each BatchNorm into its conv: w' = w a, b' = (b0 - mean) a + beta, a = gamma / sqrt(var + eps) */
  walk w = {0};
  run_walk(&w, a, NULL);
  int at = 0;
  for (int u = 0; u < w.n; u++) {
    const unit *un = &w.u[u];
    const int O = un->O, K = un->C * un->k * un->k;
    const loom_st_tensor *tw = NULL, *tb = NULL, *bn[4] = {0};
    for (; at < n && q[at].unit == u; at++) {
      if (q[at].part == 0) tw = got[at];
      else if (q[at].part == 1) tb = got[at];
      else if (q[at].part < 6) bn[q[at].part - 2] = got[at];
    }
    loom_tensor *gw = graph_tensor(g, prefix, un->conv, "weight");
    if (loom_st_read_f32(f, tw->name, gw->data, (size_t)O * K, err) < 0) goto done;
    if (!un->bn[0]) {
      if (loom_st_read_f32(f, tb->name, graph_tensor(g, prefix, un->conv, "bias")->data, (size_t)O, err) < 0) goto done;
      continue;
    }
    if (!fused) {
      static const char *const parts[] = {"weight", "bias", "running_mean", "running_var"};
      for (int p = 0; p < 4; p++)
        if (loom_st_read_f32(f, bn[p]->name, graph_tensor(g, prefix, un->bn, parts[p])->data, (size_t)O, err) < 0)
          goto done;
      continue;
    }
    float *v = loom_malloc(4 * (size_t)O * sizeof *v);
    if (!v) {
      loom_errorf(err, "out of memory");
      goto done;
    }
    for (int p = 0; p < 4; p++)
      if (loom_st_read_f32(f, bn[p]->name, v + (size_t)p * O, (size_t)O, err) < 0) {
        loom_free(v);
        goto done;
      }
    float *gb = graph_tensor(g, prefix, un->conv, "bias")->data;
    for (int o = 0; o < O; o++) {
      const double s = (double)v[o] / sqrt((double)v[3 * O + o] + (double)bn_eps);
      for (int k = 0; k < K; k++) gw->data[(size_t)o * K + k] = (float)(gw->data[(size_t)o * K + k] * s);
      gb[o] = (float)((double)v[O + o] - (double)v[2 * O + o] * s);
    }
    loom_free(v);
  }
  rc = sha256_hex ? loom_sha256_file(path, sha256_hex, err) : 0;
done:
  loom_free(q);
  loom_free(got);
  loom_st_close(f);
  return rc;
}

void loom_backbone_freeze(loom_graph *g, const char *prefix) {
  const size_t n = strlen(prefix);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i);
    if (!strncmp(t->name, prefix, n)) loom_param_set_trainable(t, false);
  }
}
