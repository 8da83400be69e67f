/* inputs.c — the fingerprint of a run's inputs (metadata loom.inputs): every input file's path and
 * SHA-256, and one digest over the image files the data refers to. A resumed run must see the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/file.h"
#include "loom/sha256.h"
#include "train_internal.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One SHA-256 for every image (or video) file the data's column `col` refers to: over the distinct paths in sorted order, each
 * followed by its file's own SHA-256 ("missing" for runs with missing_image = zero; "outside" for a path
 * that [data] image_paths = inside refuses, which is never read). Reads the image column from the items
 * table when it has one, else from the interactions table; opens each file as the loader would
 * (loom_dataset_image_file), so the digest covers exactly what training reads. */
static int images_digest(const loom_dataset *ds, const loom_data_schema *s, const char *col, char hex[65],
                         int64_t *n_files, loom_error *err) {
  *n_files = 0;
  if (!col[0]) return 0;
  loom_table t;
  loom_colspec spec = {col, LOOM_COL_STRING, 1};
  const char *src = s->items[0] ? s->items : s->interactions;
  if (loom_table_read(&t, src, &spec, 1, NULL, err) < 0) return -1;
  if (!t.cols[0].present && src == s->items) {
    loom_table_free(&t);
    src = s->interactions;
    if (loom_table_read(&t, src, &spec, 1, NULL, err) < 0) return -1;
  }
  /* a gallery cell ([data] gallery > 1) is several paths: a|b|c (split in a copy of the cell) */
  int split = col == s->image_col && s->gallery > 1;
  int64_t cap = t.nrows ? t.nrows * (split ? s->gallery : 1) : 1;
  const char **paths = loom_malloc(sizeof *paths * (size_t)cap);
  char **cells = split ? loom_calloc((size_t)(t.nrows ? t.nrows : 1), sizeof *cells) : NULL;
  if (!paths || (split && !cells)) {
    loom_free(paths);
    loom_free(cells);
    loom_table_free(&t);
    return loom_errorf(err, "out of memory hashing the images of %s", src);
  }
  int64_t n = 0;
  for (int64_t i = 0; t.cols[0].present && i < t.nrows; i++) {
    const char *cell = loom_table_str(&t, 0, i);
    if (!cell[0]) continue;
    if (!split) {
      paths[n++] = cell;
      continue;
    }
    if (!(cells[i] = loom_strdup(cell))) continue; /* out of memory: that cell is left out of the digest */
    char *p = cells[i];
    for (int k = 0; k < s->gallery && p; k++) {
      char *bar = strchr(p, '|');
      if (bar) *bar = '\0';
      if (p[0]) paths[n++] = p;
      p = bar ? bar + 1 : NULL;
    }
  }
  qsort(paths, (size_t)n, sizeof *paths, cmp_str);
  loom_sha256 all;
  loom_sha256_init(&all);
  int rc = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i > 0 && strcmp(paths[i], paths[i - 1]) == 0) continue;
    char full[4096], one[65];
    loom_error ignored;
    if (loom_dataset_image_file(ds, paths[i], full, sizeof full, &ignored) < 0) snprintf(one, sizeof one, "outside");
    else if (loom_sha256_file(full, one, &ignored) < 0) {
      if (loom_stop_requested()) { /* interrupted while hashing a huge file: not "missing" */
        rc = loom_file_interrupted(full, err);
        break;
      }
      snprintf(one, sizeof one, "missing");
    }
    loom_sha256_update(&all, paths[i], strlen(paths[i]) + 1);
    loom_sha256_update(&all, one, strlen(one) + 1);
    (*n_files)++;
  }
  uint8_t d[32];
  loom_sha256_final(&all, d);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
  for (int64_t i = 0; cells && i < t.nrows; i++) loom_free(cells[i]);
  loom_free(cells);
  loom_free(paths);
  loom_table_free(&t);
  return rc;
}

/* {"interactions": {"path": ..., "sha256": ...}, ..., "images": {"root", "files", "sha256"}}: the
 * CSV inputs one by one, and every image file they refer to as one digest. Built with cJSON, so any
 * path (quotes, backslashes, control characters) gives valid JSON. */
int train_inputs_json(run *r, loom_error *err) {
  const loom_data_schema *s = &r->dsec.schema;
  /* precomputed vectors: the file, and for .npy the NAME.ids file its keys are in (loom/vectors.h) */
  char ids[2][LOOM_DATA_PATH + 8] = {"", ""};
  const char *vp[2] = {s->item_vectors, s->user_vectors};
  for (int k = 0; k < 2; k++) {
    size_t n = strlen(vp[k]);
    if (n > 4 && !strcmp(vp[k] + n - 4, ".npy")) snprintf(ids[k], sizeof ids[k], "%.*s.ids", (int)(n - 4), vp[k]);
  }
  const char *names[7] = {"interactions", "items", "users", "item_vectors", "user_vectors", "item_vector_ids", "user_vector_ids"};
  const char *paths[7] = {s->interactions, s->items, s->users, s->item_vectors, s->user_vectors, ids[0], ids[1]};
  cJSON *o = cJSON_CreateObject();
  bool oom = !o;
  for (int i = 0; !oom && i < 7; i++) {
    if (!paths[i][0]) continue;
    char hex[65];
    if (loom_sha256_file(paths[i], hex, err) < 0) {
      cJSON_Delete(o);
      return -1;
    }
    cJSON *f = cJSON_AddObjectToObject(o, names[i]);
    oom = !f || !cJSON_AddStringToObject(f, "path", paths[i]) || !cJSON_AddStringToObject(f, "sha256", hex);
  }
  /* photos, then videos (a run without videos keeps the inputs record it always had) */
  const char *cols[2] = {s->image_col, s->video_col}, *keys[2] = {"images", "videos"};
  for (int k = 0; k < 2 && !oom; k++) {
    char ihex[65];
    int64_t n_files;
    if (images_digest(r->ds, s, cols[k], ihex, &n_files, err) < 0) {
      cJSON_Delete(o);
      return -1;
    }
    if (n_files > 0) {
      cJSON *f = cJSON_AddObjectToObject(o, keys[k]);
      oom = !f || !cJSON_AddStringToObject(f, "root", s->image_root) ||
            !cJSON_AddNumberToObject(f, "files", (double)n_files) || !cJSON_AddStringToObject(f, "sha256", ihex);
    }
  }
  char *text = oom ? NULL : cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  r->inputs_json = text ? loom_strdup(text) : NULL;
  cJSON_free(text);
  return r->inputs_json ? 0 : loom_errorf(err, "out of memory");
}

/* The first input whose record differs between two loom.inputs objects, as "the item_vectors file
 * v.csv (SHA-256 ab12... then, cd34... now)" into buf; "" when none can be named. */
void train_inputs_changed(const char *was_json, const char *now_json, char *buf, size_t n) {
  buf[0] = '\0';
  cJSON *was = cJSON_Parse(was_json ? was_json : ""), *now = cJSON_Parse(now_json ? now_json : "");
  const cJSON *e;
  cJSON_ArrayForEach(e, now) {
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(was, e->string);
    if (w && cJSON_Compare(w, e, true)) continue;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path"), *h = cJSON_GetObjectItemCaseSensitive(e, "sha256");
    const cJSON *wh = w ? cJSON_GetObjectItemCaseSensitive(w, "sha256") : NULL;
    char then[96];
    snprintf(then, sizeof then, cJSON_IsString(wh) ? "%.12s... when the run started" : "no such input when the run started",
             cJSON_IsString(wh) ? wh->valuestring : "");
    snprintf(buf, n, "%s %s: SHA-256 %.12s... now, %s", e->string,
             cJSON_IsString(p) ? p->valuestring : "(image files)", cJSON_IsString(h) ? h->valuestring : "?", then);
    break;
  }
  if (!buf[0] && was) {
    cJSON_ArrayForEach(e, was) {
      if (cJSON_GetObjectItemCaseSensitive(now, e->string)) continue;
      snprintf(buf, n, "the run had a %s input that the config no longer gives", e->string);
      break;
    }
  }
  cJSON_Delete(was), cJSON_Delete(now);
}
