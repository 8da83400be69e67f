/* history.c — behaviour histories ([data] history_len, history): for every interaction row, the item
 * indices of the same user's earlier interactions, oldest first, the last history_len of them.
 *
 * "Earlier" is strictly before the row's timestamp: rows with the same timestamp never see each other
 * (whatever their order in the file), so a tie cannot leak a label either way. Splits: a row sees only
 * rows of its own split or of splits before it (train < val < test), so a training row never sees a
 * validation or test row (their labels would leak into training), a validation row sees earlier
 * training and validation rows, a test row earlier rows of every split. history = positives keeps the
 * rows with label > 0 (every row when there is no numeric label); all keeps every impression. Items
 * unknown to the model (index 0, not in training) are left out, so 0 is only ever padding.
 * Built once when the dataset opens; batches copy a row's slice (no work per step). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/data.h"

typedef struct hent {
  int32_t g, r; /* user group, row */
  double t;
} hent;

static int by_group_time(const void *a, const void *b) {
  const hent *x = a, *y = b;
  if (x->g != y->g) return x->g < y->g ? -1 : 1;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return x->r < y->r ? -1 : x->r > y->r;
}

int ld_history_build(const ld_history_in *h, int32_t *hist, int32_t *hist_len, loom_error *err) {
  const loom_table *in = h->in;
  const int L = h->L;
  int64_t total = h->split_n[0] + h->split_n[1] + h->split_n[2];
  uint8_t *level = loom_malloc((size_t)in->nrows + 1);
  hent *e = loom_malloc((size_t)(total + 1) * sizeof *e);
  int32_t *tmp = loom_malloc((size_t)L * sizeof *tmp);
  ld_map users;
  ld_map_init(&users);
  int rc = 0;
  if (!level || !e || !tmp) { rc = loom_errorf(err, "out of memory building histories"); goto done; }
  memset(level, 0xff, (size_t)in->nrows + 1);
  const double *ts = in->cols[h->c_ts].f;
  int64_t m = 0;
  for (int k = 0; k < 3; k++)
    for (int64_t i = 0; i < h->split_n[k]; i++) {
      int32_t r = h->split_rows[k][i];
      level[r] = (uint8_t)k;
      if (!isfinite(ts[r])) {
        rc = loom_errorf(err, "%s:%lld: column '%s': the timestamp is %s — history_len orders each user's rows by it; fill it",
                         h->path, (long long)in->line[r], h->ts_col, isnan(ts[r]) ? "missing" : "not finite");
        goto done;
      }
      const char *u = loom_table_str(in, h->c_user, r);
      int added;
      int32_t g = ld_map_put(&users, u, strlen(u), 0, &added);
      if (g < 0) { rc = loom_errorf(err, "out of memory building histories"); goto done; }
      e[m++] = (hent){g, r, ts[r]};
    }
  qsort(e, (size_t)m, sizeof *e, by_group_time);
  int64_t tie = 0; /* first entry of the current (user, timestamp) block */
  for (int64_t i = 0; i < m; i++) {
    if (i == 0 || e[i].g != e[i - 1].g || e[i].t != e[i - 1].t) tie = i;
    int32_t r = e[i].r;
    int n = 0;
    for (int64_t j = tie - 1; j >= 0 && e[j].g == e[i].g && n < L; j--) {
      int32_t q = e[j].r;
      if (level[q] > level[r] || h->item_idx[q] <= 0) continue;
      if (!h->all && h->label && !(h->label[q] > 0)) continue;
      tmp[n++] = h->item_idx[q];
    }
    int32_t *out = hist + (size_t)r * L;
    for (int k = 0; k < n; k++) out[k] = tmp[n - 1 - k]; /* oldest first */
    for (int k = n; k < L; k++) out[k] = 0;
    hist_len[r] = n;
  }
done:
  ld_map_free(&users);
  loom_free(level), loom_free(e), loom_free(tmp);
  return rc;
}

typedef struct {
  int32_t r;
  double t;
} tent;

static int by_time(const void *a, const void *b) {
  const tent *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return x->r < y->r ? -1 : x->r > y->r;
}

int ld_history_latest(const ld_history_in *h, const char *user, int32_t *hist, int32_t *len) {
  const loom_table *in = h->in;
  const double *ts = in->cols[h->c_ts].f;
  const int L = h->L;
  int64_t m = 0, cap = 0;
  for (int k = 0; k < 3; k++)
    for (int64_t i = 0; i < h->split_n[k]; i++) cap += !strcmp(loom_table_str(in, h->c_user, h->split_rows[k][i]), user);
  *len = 0;
  memset(hist, 0, (size_t)L * sizeof *hist);
  if (cap == 0) return 0;
  tent *e = loom_malloc((size_t)cap * sizeof *e);
  if (!e) return -1;
  for (int k = 0; k < 3; k++)
    for (int64_t i = 0; i < h->split_n[k]; i++) {
      int32_t r = h->split_rows[k][i];
      if (!strcmp(loom_table_str(in, h->c_user, r), user)) e[m++] = (tent){r, ts[r]};
    }
  qsort(e, (size_t)m, sizeof *e, by_time);
  int n = 0;
  for (int64_t j = m - 1; j >= 0 && n < L; j--) { /* newest first, then reversed: oldest first */
    int32_t q = e[j].r;
    if (h->item_idx[q] <= 0 || (!h->all && h->label && !(h->label[q] > 0))) continue;
    hist[n++] = h->item_idx[q];
  }
  for (int a = 0, b = n - 1; a < b; a++, b--) {
    int32_t t = hist[a];
    hist[a] = hist[b], hist[b] = t;
  }
  *len = n;
  loom_free(e);
  return 0;
}

void loom_batch_set_history(loom_batch *b, int n, const int32_t *h, int32_t len) {
  for (int i = 0; i < n && b->Lh > 0; i++) {
    memcpy(b->hist + (size_t)i * b->Lh, h, (size_t)b->Lh * sizeof(int32_t));
    b->hist_len[i] = len;
  }
}
