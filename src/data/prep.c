/* prep.c — preprocessing fitted on the training split (loom/data.h): categorical ID maps, numeric
 * scaling statistics, and the bundle of both with vocabulary and image normalisation as one
 * checkpoint string. Floats are written with %.9g, which reads back to the same bits. */
#include <assert.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/data.h"

struct loom_idmap {
  ld_map m; /* key → id (entry e has id e + 1) */
};

loom_idmap *loom_idmap_new(void) { return loom_calloc(1, sizeof(loom_idmap)); }

void loom_idmap_free(loom_idmap *m) {
  if (!m) return;
  ld_map_free(&m->m);
  loom_free(m);
}

int loom_idmap_add(loom_idmap *m, const char *key, loom_error *err) {
  if (m->m.n >= INT32_MAX - 2) return loom_errorf(err, "ID map: more than 2^31 distinct keys");
  int32_t e = ld_map_put(&m->m, key, strlen(key), m->m.n + 1, NULL);
  if (e < 0) return loom_errorf(err, "ID map: out of memory");
  return m->m.val[e];
}

int32_t loom_idmap_get(const loom_idmap *m, const char *key) {
  int32_t v = ld_map_get(&m->m, key, strlen(key));
  return v < 0 ? 0 : v;
}

int32_t loom_idmap_size(const loom_idmap *m) { return m->m.n + 1; }

const char *loom_idmap_key(const loom_idmap *m, int32_t id) {
  return id >= 1 && id <= m->m.n ? ld_map_key(&m->m, id - 1) : NULL;
}

static char *json_out(cJSON *o) {
  char *js = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!js) return NULL;
  char *out = loom_strdup(js);
  cJSON_free(js);
  return out;
}

static cJSON *idmap_json(const loom_idmap *m) {
  cJSON *a = cJSON_CreateArray();
  for (int32_t i = 0; a && i < m->m.n; i++) {
    cJSON *s = cJSON_CreateString(ld_map_key(&m->m, i));
    if (!s) { cJSON_Delete(a); return NULL; }
    cJSON_AddItemToArray(a, s);
  }
  return a;
}

static loom_idmap *idmap_from_json(const cJSON *a, const char *what, loom_error *err) {
  if (!cJSON_IsArray(a)) {
    loom_errorf(err, "%s: expected a JSON array of keys — the checkpoint metadata is corrupt", what);
    return NULL;
  }
  loom_idmap *m = loom_idmap_new();
  if (!m) { loom_errorf(err, "%s: out of memory", what); return NULL; }
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    const char *k = cJSON_GetStringValue(e);
    int added = 0;
    int32_t r = k ? ld_map_put(&m->m, k, strlen(k), m->m.n + 1, &added) : -1;
    if (r < 0 || !added) {
      loom_errorf(err, "%s: entry %d is %s — the checkpoint metadata is corrupt", what, i,
                  !k ? "not a string" : r < 0 ? "out of memory" : "a duplicate");
      loom_idmap_free(m);
      return NULL;
    }
    i++;
  }
  return m;
}

char *loom_idmap_to_string(const loom_idmap *m) { return json_out(idmap_json(m)); }

loom_idmap *loom_idmap_from_string(const char *s, loom_error *err) {
  cJSON *a = cJSON_Parse(s);
  loom_idmap *m = idmap_from_json(a, "ID map", err);
  cJSON_Delete(a);
  return m;
}

/* ---- numeric statistics */

int loom_numstats_fit(loom_numstats *s, const double *x, int64_t N, int F, loom_scaling sc, loom_error *err) {
  memset(s, 0, sizeof *s);
  s->F = F;
  s->scaling = sc;
  size_t n = (size_t)(F ? F : 1);
  s->mean = loom_calloc(n, sizeof(float));
  s->std = loom_calloc(n, sizeof(float));
  s->min = loom_calloc(n, sizeof(float));
  s->max = loom_calloc(n, sizeof(float));
  if (!s->mean || !s->std || !s->min || !s->max) {
    loom_numstats_free(s);
    return loom_errorf(err, "numeric statistics: out of memory");
  }
  for (int f = 0; f < F; f++) {
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    int64_t cnt = 0;
    for (int64_t r = 0; r < N; r++) {
      double v = x[r * F + f];
      if (isnan(v)) continue;
      sum += v;
      cnt++;
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
    double mean = cnt ? sum / (double)cnt : 0, ss = 0;
    for (int64_t r = 0; r < N; r++) {
      double v = x[r * F + f];
      if (!isnan(v)) ss += (v - mean) * (v - mean);
    }
    double sd = cnt ? sqrt(ss / (double)cnt) : 0; /* population std, as sklearn's StandardScaler */
    s->mean[f] = (float)mean;
    s->std[f] = (float)sd;
    s->min[f] = cnt ? (float)lo : 0.0f;
    s->max[f] = cnt ? (float)hi : 0.0f;
  }
  return 0;
}

void loom_numstats_free(loom_numstats *s) {
  loom_free(s->mean);
  loom_free(s->std);
  loom_free(s->min);
  loom_free(s->max);
  memset(s, 0, sizeof *s);
}

static float scale1(const loom_numstats *s, int f, double v) {
  switch (s->scaling) {
  case LOOM_SCALE_STANDARD: {
    double sd = s->std[f] > 0 ? s->std[f] : 1.0;
    return (float)((v - s->mean[f]) / sd);
  }
  case LOOM_SCALE_MINMAX: {
    double r = (double)s->max[f] - s->min[f];
    return (float)(r > 0 ? (v - s->min[f]) / r : 0.0);
  }
  default: return (float)v;
  }
}

int loom_numstats_apply(const loom_numstats *s, const double *x, loom_num_missing miss, float *out, int *bad_col) {
  for (int f = 0; f < s->F; f++) {
    double v = x[f];
    if (isnan(v)) {
      if (miss == LOOM_MISSING_ERROR) {
        if (bad_col) *bad_col = f;
        return -1;
      }
      v = miss == LOOM_MISSING_MEAN ? s->mean[f] : 0.0;
    }
    out[f] = scale1(s, f, v);
  }
  return 0;
}

static cJSON *float_array(const float *x, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++) {
    char b[32];
    ld_fmt_float(b, x[i]);
    cJSON *v = cJSON_CreateRaw(b); /* exact digits; cJSON's own number printing is %.15g/%.17g of a double */
    if (!v) { cJSON_Delete(a); return NULL; }
    cJSON_AddItemToArray(a, v);
  }
  return a;
}

static int floats_from(const cJSON *o, const char *key, float *x, int n, loom_error *err) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
    return loom_errorf(err, "numeric statistics: \"%s\" is not an array of %d numbers — the checkpoint metadata is corrupt", key, n);
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    if (!cJSON_IsNumber(e))
      return loom_errorf(err, "numeric statistics: \"%s\"[%d] is not a number — the checkpoint metadata is corrupt", key, i);
    x[i++] = (float)e->valuedouble; /* the double nearest the %.9g text rounds to the same float */
  }
  return 0;
}

static const char *SCALING[] = {"standard", "minmax", "none"};

static cJSON *numstats_json(const loom_numstats *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "scaling", SCALING[s->scaling]);
  cJSON_AddItemToObject(o, "mean", float_array(s->mean, s->F));
  cJSON_AddItemToObject(o, "std", float_array(s->std, s->F));
  cJSON_AddItemToObject(o, "min", float_array(s->min, s->F));
  cJSON_AddItemToObject(o, "max", float_array(s->max, s->F));
  return o;
}

static int numstats_from_json(loom_numstats *s, const cJSON *o, loom_error *err) {
  memset(s, 0, sizeof *s);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "mean");
  const char *sc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "scaling"));
  if (!cJSON_IsArray(m) || !sc)
    return loom_errorf(err, "numeric statistics: missing \"mean\" or \"scaling\" — the checkpoint metadata is corrupt");
  int F = cJSON_GetArraySize(m), k;
  for (k = 0; k < 3 && strcmp(sc, SCALING[k]); k++) {}
  if (k == 3) return loom_errorf(err, "numeric statistics: unknown scaling '%s'", sc);
  double *zero = NULL;
  if (loom_numstats_fit(s, zero, 0, F, (loom_scaling)k, err) < 0) return -1;
  if (floats_from(o, "mean", s->mean, F, err) < 0 || floats_from(o, "std", s->std, F, err) < 0 ||
      floats_from(o, "min", s->min, F, err) < 0 || floats_from(o, "max", s->max, F, err) < 0) {
    loom_numstats_free(s);
    return -1;
  }
  for (int f = 0; f < F; f++) /* fitting never gives these (a constant column has std 0, scaled as 1) */
    if (!isfinite(s->mean[f]) || !isfinite(s->std[f]) || !(s->std[f] >= 0) || !isfinite(s->min[f]) ||
        !isfinite(s->max[f]) || s->min[f] > s->max[f]) {
      loom_errorf(err, "numeric statistics: feature %d has mean %g, std %g, min %g, max %g — a standard deviation must "
                       "be finite and >= 0 and min <= max; the checkpoint metadata is corrupt", f, (double)s->mean[f],
                  (double)s->std[f], (double)s->min[f], (double)s->max[f]);
      loom_numstats_free(s);
      return -1;
    }
  return 0;
}

char *loom_numstats_to_string(const loom_numstats *s) { return json_out(numstats_json(s)); }

int loom_numstats_from_string(loom_numstats *s, const char *str, loom_error *err) {
  cJSON *o = cJSON_Parse(str);
  int rc = o ? numstats_from_json(s, o, err) : loom_errorf(err, "numeric statistics: not JSON — the checkpoint metadata is corrupt");
  cJSON_Delete(o);
  return rc;
}

/* ---- the bundle */

void loom_prep_free(loom_prep *p) {
  loom_vocab_free(p->vocab);
  loom_idmap_free(p->users);
  loom_idmap_free(p->items);
  loom_idmap_free(p->labels);
  for (int i = 0; i < p->n_category; i++) loom_idmap_free(p->category[i]);
  loom_numstats_free(&p->num);
  memset(p, 0, sizeof *p);
}

char *loom_prep_to_string(const loom_prep *p) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "version", 1);
  if (p->vocab) {
    char *v = loom_vocab_to_string(p->vocab);
    cJSON *vj = v ? cJSON_Parse(v) : NULL;
    loom_free(v);
    if (!vj) { cJSON_Delete(o); return NULL; }
    cJSON_AddItemToObject(o, "vocab", vj);
  }
  if (p->users) cJSON_AddItemToObject(o, "users", idmap_json(p->users));
  if (p->items) cJSON_AddItemToObject(o, "items", idmap_json(p->items));
  if (p->labels) cJSON_AddItemToObject(o, "labels", idmap_json(p->labels));
  cJSON *cats = cJSON_AddArrayToObject(o, "categories");
  for (int i = 0; i < p->n_category; i++) cJSON_AddItemToArray(cats, idmap_json(p->category[i]));
  cJSON_AddItemToObject(o, "numeric", numstats_json(&p->num));
  char *img = loom_image_opts_to_string(&p->image);
  cJSON *ij = img ? cJSON_Parse(img) : NULL;
  loom_free(img);
  if (!ij) { cJSON_Delete(o); return NULL; }
  cJSON_AddItemToObject(o, "image", ij);
  return json_out(o);
}

int loom_prep_from_string(loom_prep *p, const char *s, loom_error *err) {
  memset(p, 0, sizeof *p);
  cJSON *o = cJSON_Parse(s);
  if (!o) return loom_errorf(err, "preprocessing: not JSON — the checkpoint metadata is corrupt");
  int rc = 0;
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "version");
  if (ver && !(cJSON_IsNumber(ver) && ver->valuedouble == 1))
    rc = loom_errorf(err, "preprocessing: format version %.6g is not the one this loom reads (1) — run the checkpoint "
                          "with the loom that wrote it, or retrain", cJSON_IsNumber(ver) ? ver->valuedouble : NAN);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vocab");
  if (rc == 0 && v) {
    char *vs = cJSON_PrintUnformatted(v);
    p->vocab = vs ? loom_vocab_from_string(vs, err) : NULL;
    cJSON_free(vs);
    if (!p->vocab) rc = -1;
  }
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "users"), *it = cJSON_GetObjectItemCaseSensitive(o, "items");
  if (rc == 0 && u && !(p->users = idmap_from_json(u, "users map", err))) rc = -1;
  if (rc == 0 && it && !(p->items = idmap_from_json(it, "items map", err))) rc = -1;
  const cJSON *lb = cJSON_GetObjectItemCaseSensitive(o, "labels");
  if (rc == 0 && lb && !(p->labels = idmap_from_json(lb, "label classes", err))) rc = -1;
  const cJSON *cats = cJSON_GetObjectItemCaseSensitive(o, "categories"), *e;
  if (rc == 0 && cats) {
    if (cJSON_GetArraySize(cats) > LOOM_DATA_MAX_FEATURES) rc = loom_errorf(err, "preprocessing: too many category maps");
    cJSON_ArrayForEach(e, cats) {
      if (rc) break;
      if (!(p->category[p->n_category] = idmap_from_json(e, "category map", err))) rc = -1;
      else p->n_category++;
    }
  }
  const cJSON *num = cJSON_GetObjectItemCaseSensitive(o, "numeric");
  if (rc == 0) rc = num ? numstats_from_json(&p->num, num, err) : loom_errorf(err, "preprocessing: no \"numeric\" entry");
  const cJSON *img = cJSON_GetObjectItemCaseSensitive(o, "image");
  if (rc == 0) {
    char *is = img ? cJSON_PrintUnformatted(img) : NULL;
    rc = is ? loom_image_opts_from_string(&p->image, is, err) : loom_errorf(err, "preprocessing: no \"image\" entry");
    cJSON_free(is);
  }
  cJSON_Delete(o);
  if (rc) loom_prep_free(p);
  return rc;
}
