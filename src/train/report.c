/* report.c — the HTML run report (loom/report.h) and atomic file writing. Charts are drawn here as
 * SVG polylines with their own axis ticks; there is no JavaScript and nothing is fetched. */
#include "loom/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/alloc.h"

typedef struct {
  char *name;
  double *x, *y;
  int n, cap;
} series;

typedef struct {
  char *user, *query, *note;
  int k, marked;
  char **titles, **images;
  float *scores;
} ranking;

typedef struct {
  char *title;
  int rows, cols;
  char **cells; /* row-major; row 0 is the header */
} table;

typedef struct { /* an x-y curve on [0, 1] x [0, 1] (ROC, precision-recall) */
  char *title, *xlabel, *ylabel, *note;
  double *x, *y;
  int n;
  bool diagonal;
} curve;

struct loom_report {
  char *title;
  curve *cv;
  int n_cv, cap_cv;
  char *config;     /* the run's config.ini text, shown folded; NULL when not given */
  double best_step; /* marked on every chart; NAN when none */
  table *tab;
  int n_tab, cap_tab;
  series *s;
  int n_series, cap_series;
  char **sum_keys, **sum_values;
  int n_sum, cap_sum;
  int64_t *confusion;
  int C;
  char **class_names;
  ranking *rank;
  int n_rank, cap_rank;
};

static bool grow(void **p, int *cap, int need, size_t elem) {
  if (need <= *cap) return true;
  int c = *cap ? *cap * 2 : 16;
  while (c < need) c *= 2;
  void *np = loom_realloc(*p, (size_t)c * elem);
  if (!np) return false;
  *p = np;
  *cap = c;
  return true;
}

loom_report *loom_report_new(const char *title) {
  loom_report *r = loom_calloc(1, sizeof *r);
  if (r) r->best_step = NAN;
  if (r && !(r->title = loom_strdup(title ? title : "loom run"))) {
    loom_free(r);
    return NULL;
  }
  return r;
}

static void free_strs(char **v, int n) {
  if (!v) return;
  for (int i = 0; i < n; i++) loom_free(v[i]);
  loom_free(v);
}

void loom_report_free(loom_report *r) {
  if (!r) return;
  for (int i = 0; i < r->n_series; i++) {
    loom_free(r->s[i].name);
    loom_free(r->s[i].x);
    loom_free(r->s[i].y);
  }
  loom_free(r->s);
  free_strs(r->sum_keys, r->n_sum);
  free_strs(r->sum_values, r->n_sum);
  loom_free(r->confusion);
  free_strs(r->class_names, r->C);
  for (int i = 0; i < r->n_rank; i++) {
    ranking *k = &r->rank[i];
    loom_free(k->user);
    loom_free(k->query);
    loom_free(k->note);
    free_strs(k->titles, k->k);
    free_strs(k->images, k->k);
    loom_free(k->scores);
  }
  loom_free(r->rank);
  for (int i = 0; i < r->n_tab; i++) {
    loom_free(r->tab[i].title);
    free_strs(r->tab[i].cells, r->tab[i].rows * r->tab[i].cols);
  }
  loom_free(r->tab);
  for (int i = 0; i < r->n_cv; i++) {
    curve *c = &r->cv[i];
    loom_free(c->title), loom_free(c->xlabel), loom_free(c->ylabel), loom_free(c->note);
    loom_free(c->x), loom_free(c->y);
  }
  loom_free(r->cv);
  loom_free(r->config);
  loom_free(r->title);
  loom_free(r);
}

int loom_report_point(loom_report *r, const char *name, double step, double value) {
  series *s = NULL;
  for (int i = 0; i < r->n_series; i++)
    if (strcmp(r->s[i].name, name) == 0) s = &r->s[i];
  if (!s) {
    if (!grow((void **)&r->s, &r->cap_series, r->n_series + 1, sizeof *r->s)) return -1;
    s = &r->s[r->n_series];
    memset(s, 0, sizeof *s);
    if (!(s->name = loom_strdup(name))) return -1;
    r->n_series++;
  }
  int cap = s->cap;
  if (!grow((void **)&s->x, &cap, s->n + 1, sizeof(double))) return -1;
  cap = s->cap;
  if (!grow((void **)&s->y, &cap, s->n + 1, sizeof(double))) return -1;
  s->cap = cap;
  s->x[s->n] = step;
  s->y[s->n] = value;
  s->n++;
  return 0;
}

int loom_report_summary(loom_report *r, const char *key, const char *value) {
  int cap = r->cap_sum;
  if (!grow((void **)&r->sum_keys, &cap, r->n_sum + 1, sizeof(char *))) return -1;
  cap = r->cap_sum;
  if (!grow((void **)&r->sum_values, &cap, r->n_sum + 1, sizeof(char *))) return -1;
  r->cap_sum = cap;
  char *k = loom_strdup(key), *v = loom_strdup(value);
  if (!k || !v) {
    loom_free(k);
    loom_free(v);
    return -1;
  }
  r->sum_keys[r->n_sum] = k;
  r->sum_values[r->n_sum] = v;
  r->n_sum++;
  return 0;
}

int loom_report_table(loom_report *r, const char *title, int rows, int cols, const char *const *cells) {
  if (!grow((void **)&r->tab, &r->cap_tab, r->n_tab + 1, sizeof *r->tab)) return -1;
  table *t = &r->tab[r->n_tab];
  const int n = rows * cols;
  memset(t, 0, sizeof *t);
  if (!(t->title = loom_strdup(title)) || !(t->cells = loom_calloc((size_t)(n > 0 ? n : 1), sizeof(char *)))) {
    loom_free(t->title);
    return -1;
  }
  for (int i = 0; i < n; i++)
    if (!(t->cells[i] = loom_strdup(cells[i] ? cells[i] : ""))) {
      loom_free(t->title);
      free_strs(t->cells, i);
      return -1;
    }
  t->rows = rows, t->cols = cols;
  r->n_tab++;
  return 0;
}

int loom_report_csv_table(loom_report *r, const char *title, const char *csv) {
  int rows = 0, cols = 1;
  for (const char *p = csv; *p && *p != '\n'; p++) cols += *p == ',';
  for (const char *p = csv; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n')) rows++;
  const char **cells = loom_calloc((size_t)(rows > 0 ? rows : 1) * (size_t)cols, sizeof *cells);
  char *text = loom_strdup(csv);
  int rc = cells && text ? 0 : -1;
  char *line = text;
  for (int y = 0; rc == 0 && y < rows; y++) {
    char *end = line + strcspn(line, "\n"), *next = *end ? end + 1 : end;
    *end = '\0';
    char *f = line;
    for (int x = 0; x < cols && f; x++) { /* a short row leaves its last cells empty */
      char *comma = strchr(f, ',');
      if (comma) *comma = '\0';
      cells[y * cols + x] = f;
      f = comma ? comma + 1 : NULL;
    }
    line = next;
  }
  if (rc == 0) rc = loom_report_table(r, title, rows, cols, cells);
  loom_free(cells);
  loom_free(text);
  return rc;
}

int loom_report_config(loom_report *r, const char *config_text) {
  char *c = loom_strdup(config_text);
  if (!c) return -1;
  loom_free(r->config);
  r->config = c;
  return 0;
}

void loom_report_best_step(loom_report *r, double step) { r->best_step = step; }

int loom_report_curve(loom_report *r, const char *title, const char *xlabel, const char *ylabel, const char *note,
                      const double *x, const double *y, int n, bool diagonal) {
  if (!grow((void **)&r->cv, &r->cap_cv, r->n_cv + 1, sizeof *r->cv)) return -1;
  curve *c = &r->cv[r->n_cv];
  memset(c, 0, sizeof *c);
  r->n_cv++; /* freed by loom_report_free even when incomplete */
  c->title = loom_strdup(title), c->xlabel = loom_strdup(xlabel), c->ylabel = loom_strdup(ylabel);
  c->note = loom_strdup(note ? note : "");
  c->x = loom_malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  c->y = loom_malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  if (!c->title || !c->xlabel || !c->ylabel || !c->note || !c->x || !c->y) return -1;
  memcpy(c->x, x, sizeof(double) * (size_t)n);
  memcpy(c->y, y, sizeof(double) * (size_t)n);
  c->n = n, c->diagonal = diagonal;
  return 0;
}

int loom_report_confusion(loom_report *r, const int64_t *confusion, int C, const char *const *names) {
  int64_t *cm = loom_malloc(sizeof *cm * (size_t)C * (size_t)C);
  char **nm = loom_calloc((size_t)C, sizeof *nm);
  if (!cm || !nm) goto fail;
  memcpy(cm, confusion, sizeof *cm * (size_t)C * (size_t)C);
  for (int i = 0; i < C; i++) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", i);
    if (!(nm[i] = loom_strdup(names && names[i] ? names[i] : buf))) goto fail;
  }
  loom_free(r->confusion);
  free_strs(r->class_names, r->C);
  r->confusion = cm;
  r->class_names = nm;
  r->C = C;
  return 0;
fail:
  loom_free(cm);
  free_strs(nm, C);
  return -1;
}

int loom_report_ranking(loom_report *r, const char *user, const char *query, int k, const char *const *titles,
                        const char *const *image_paths, const float *scores) {
  return loom_report_ranking_marked(r, user, query, k, titles, image_paths, scores, -1, NULL);
}

int loom_report_ranking_marked(loom_report *r, const char *user, const char *query, int k, const char *const *titles,
                               const char *const *image_paths, const float *scores, int marked, const char *note) {
  if (!grow((void **)&r->rank, &r->cap_rank, r->n_rank + 1, sizeof *r->rank)) return -1;
  ranking *x = &r->rank[r->n_rank];
  memset(x, 0, sizeof *x);
  x->k = k;
  x->marked = marked >= 0 && marked < k ? marked : -1;
  x->user = loom_strdup(user ? user : "");
  x->query = loom_strdup(query ? query : "");
  x->note = loom_strdup(note ? note : "");
  x->titles = loom_calloc((size_t)k, sizeof(char *));
  x->images = loom_calloc((size_t)k, sizeof(char *));
  x->scores = loom_malloc(sizeof(float) * (size_t)(k ? k : 1));
  bool ok = x->user && x->query && x->note && x->titles && x->images && x->scores;
  for (int i = 0; ok && i < k; i++) {
    x->titles[i] = loom_strdup(titles && titles[i] ? titles[i] : "");
    x->images[i] = loom_strdup(image_paths && image_paths[i] ? image_paths[i] : "");
    x->scores[i] = scores ? scores[i] : NAN;
    ok = x->titles[i] && x->images[i];
  }
  r->n_rank++; /* freed by loom_report_free even when incomplete */
  return ok ? 0 : -1;
}

/* ---- an output buffer ---- */

typedef struct {
  char *p;
  size_t len, cap;
  bool oom;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (b->len + (size_t)need + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 65536;
    while (b->len + (size_t)need + 1 > c) c *= 2;
    char *np = loom_realloc(b->p, c);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = c;
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)need;
}

static void put_escaped(buf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': put(b, "&lt;"); break;
    case '>': put(b, "&gt;"); break;
    case '&': put(b, "&amp;"); break;
    case '"': put(b, "&quot;"); break;
    default: put(b, "%c", *s);
    }
  }
}

/* The file's bytes as base64 (for a data: URI); nothing if it cannot be read or exceeds 1 MiB. */
static void put_base64_file(buf *b, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return;
  unsigned char in[3];
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n, total = 0;
  while ((n = fread(in, 1, 3, f)) > 0 && total < (1u << 20)) {
    total += n;
    unsigned v = (unsigned)in[0] << 16 | (n > 1 ? (unsigned)in[1] << 8 : 0) | (n > 2 ? in[2] : 0);
    put(b, "%c%c%c%c", tbl[v >> 18 & 63], tbl[v >> 12 & 63], n > 1 ? tbl[v >> 6 & 63] : '=', n > 2 ? tbl[v & 63] : '=');
  }
  fclose(f);
}

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

/* "a nice" tick step for a range */
static double tick_step(double range) {
  double raw = range / 5, mag = pow(10, floor(log10(raw > 0 ? raw : 1)));
  double m = raw / mag;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * mag;
}

/* A series' family: its metric up to an '@' ("recall@10/valid" -> "recall"), so @1/@5/@10 share a chart. */
static size_t family_len(const char *name) {
  const size_t slash = strcspn(name, "/"), at = strcspn(name, "@");
  return at < slash ? at : slash;
}

static bool in_family(const char *name, const char *family) {
  const size_t n = strlen(family);
  return family_len(name) == n && strncmp(name, family, n) == 0 && name[strcspn(name, "/")] == '/';
}

/* Whether a family is a score in [0, 1] (its axis then spans at least 0.1 and stays inside [0, 1], so
 * 0.155 -> 0.160 reads as the small step it is, not a cliff). */
static bool unit_metric(const char *family, double y0, double y1) {
  static const char *const open[] = {"loss", "logloss", "lr", "samples_per_s", "rmse", "mae", "mse"};
  for (size_t i = 0; i < sizeof open / sizeof *open; i++)
    if (strcmp(family, open[i]) == 0) return false;
  return y0 >= 0 && y1 <= 1;
}

/* A legend label: the split, or the @k part (and the split when the family has several). */
static void legend_label(const char *name, size_t fl, bool several_splits, char *out, size_t size) {
  const char *slash = strchr(name, '/');
  const char *split = slash + 1;
  if ((size_t)(slash - name) == fl) snprintf(out, size, "%s", split);
  else if (several_splits) snprintf(out, size, "%.*s %s", (int)(slash - name - fl), name + fl, split);
  else snprintf(out, size, "%.*s", (int)(slash - name - fl), name + fl);
}

/* One chart per family: a line per series with point markers, the best step as a dashed line, the
 * legend in a column right of the plot (never over a curve). */
static void chart(buf *b, const loom_report *r, const char *family) {
  const double W = 600, H = 270, L = 60, LEG = 150, R = 8, T = 28, B = 36;
  const double PW = W - L - LEG - R, PH = H - T - B;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  const char *first_split = NULL;
  bool several_splits = false;
  for (int i = 0; i < r->n_series; i++) {
    const series *s = &r->s[i];
    if (!in_family(s->name, family)) continue;
    const char *split = strchr(s->name, '/') + 1;
    if (!first_split) first_split = split;
    else several_splits |= strcmp(first_split, split) != 0;
    for (int j = 0; j < s->n; j++) {
      if (!isfinite(s->y[j])) continue;
      x0 = fmin(x0, s->x[j]), x1 = fmax(x1, s->x[j]);
      y0 = fmin(y0, s->y[j]), y1 = fmax(y1, s->y[j]);
    }
  }
  if (!isfinite(x0)) return;
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (unit_metric(family, y0, y1)) {
    const double mid = (y0 + y1) / 2, half = fmax((y1 - y0) / 2 * 1.1, 0.05);
    y0 = fmax(0, mid - half), y1 = fmin(1, mid + half);
    if (y1 - y0 < 0.1) y0 == 0 ? (y1 = 0.1) : (y0 = 0.9);
  } else {
    const double span = fmax(y1 - y0, 0.1 * fmax(fabs(y0), fabs(y1)));
    const double mid = (y0 + y1) / 2;
    y0 = mid - 0.55 * (span > 0 ? span : 1), y1 = mid + 0.55 * (span > 0 ? span : 1);
  }
#define PX(v) (L + PW * ((v) - x0) / (x1 - x0))
#define PY(v) (T + PH * (1 - ((v) - y0) / (y1 - y0)))
  put(b, "<figure><svg width='%.0f' height='%.0f' viewBox='0 0 %.0f %.0f' role='img'>", W, H, W, H);
  put(b, "<text x='%.0f' y='18' class='ct'>", L);
  put_escaped(b, family);
  put(b, "</text><rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' class='frame'/>", L, T, PW, PH);
  const double st = tick_step(y1 - y0);
  for (double v = ceil(y0 / st) * st; v <= y1 + st * 1e-9; v += st)
    put(b, "<line x1='%.0f' x2='%.0f' y1='%.1f' y2='%.1f' class='grid'/><text x='%.0f' y='%.1f' class='yt'>%g</text>", L,
        L + PW, PY(v), PY(v), L - 4, PY(v) + 4, fabs(v) < st * 1e-9 ? 0.0 : v);
  const double sx = tick_step(x1 - x0);
  for (double v = ceil(x0 / sx) * sx; v <= x1; v += sx)
    put(b, "<text x='%.1f' y='%.0f' class='xt'>%g</text>", PX(v), H - B + 16, v);
  put(b, "<text x='%.0f' y='%.0f' class='xl'>step</text>", L + PW / 2, H - 4);
  if (isfinite(r->best_step) && r->best_step >= x0 && r->best_step <= x1)
    put(b, "<line x1='%.1f' x2='%.1f' y1='%.0f' y2='%.0f' class='best'/><text x='%.1f' y='%.0f' class='bt'>best</text>",
        PX(r->best_step), PX(r->best_step), T, T + PH, PX(r->best_step), T - 3);
  int color = 0;
  double ly = T + 10;
  const size_t fl = strlen(family);
  for (int i = 0; i < r->n_series; i++) {
    const series *s = &r->s[i];
    if (!in_family(s->name, family)) continue;
    const char *c = palette[color++ % (int)(sizeof palette / sizeof *palette)];
    put(b, "<polyline fill='none' stroke='%s' stroke-width='1.6' points='", c);
    for (int j = 0; j < s->n; j++)
      if (isfinite(s->y[j])) put(b, "%.1f,%.1f ", PX(s->x[j]), PY(s->y[j]));
    put(b, "'/>");
    for (int j = 0; j < s->n && s->n <= 80; j++) /* markers: where the validations were */
      if (isfinite(s->y[j])) put(b, "<circle cx='%.1f' cy='%.1f' r='2.4' fill='%s'/>", PX(s->x[j]), PY(s->y[j]), c);
    char label[96];
    legend_label(s->name, fl, several_splits, label, sizeof label);
    double last = NAN;
    for (int j = s->n - 1; j >= 0 && !isfinite(last); j--) last = s->y[j];
    put(b, "<line x1='%.0f' x2='%.0f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='2'/>", L + PW + 8, L + PW + 20,
        ly - 4, ly - 4, c);
    put(b, "<text x='%.0f' y='%.0f' fill='%s' class='lg'>", L + PW + 24, ly, c);
    put_escaped(b, label);
    put(b, " %.4g</text>", last);
    ly += 14;
  }
#undef PX
#undef PY
  put(b, "</svg></figure>\n");
}

/* A square chart of one curve on [0, 1] x [0, 1]. */
static void curve_chart(buf *b, const curve *c) {
  const double S = 240, L = 48, T = 42, B = 36, R = 12;
#define CX(v) (L + S * (v))
#define CY(v) (T + S * (1 - (v)))
  put(b, "<figure><svg width='%.0f' height='%.0f' viewBox='0 0 %.0f %.0f' role='img'>", L + S + R, T + S + B,
      L + S + R, T + S + B);
  put(b, "<text x='%.0f' y='18' class='ct'>", L);
  put_escaped(b, c->title);
  put(b, "</text><rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' class='frame'/>", L, T, S, S);
  for (int t = 0; t <= 5; t++) {
    const double v = t / 5.0;
    put(b, "<line x1='%.0f' x2='%.0f' y1='%.1f' y2='%.1f' class='grid'/><text x='%.0f' y='%.1f' class='yt'>%g</text>",
        L, L + S, CY(v), CY(v), L - 4, CY(v) + 4, v);
    put(b, "<text x='%.1f' y='%.0f' class='xt'>%g</text>", CX(v), T + S + 16, v);
  }
  put(b, "<text x='%.0f' y='%.0f' class='xl'>", L + S / 2, T + S + 32);
  put_escaped(b, c->xlabel);
  put(b, "</text><text x='12' y='%.0f' class='xl' transform='rotate(-90 12 %.0f)'>", T + S / 2, T + S / 2);
  put_escaped(b, c->ylabel);
  put(b, "</text>");
  if (c->diagonal) put(b, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' class='best'/>", CX(0), CY(0), CX(1), CY(1));
  put(b, "<polyline fill='none' stroke='%s' stroke-width='1.8' points='", palette[0]);
  for (int i = 0; i < c->n; i++)
    if (isfinite(c->x[i]) && isfinite(c->y[i])) put(b, "%.1f,%.1f ", CX(c->x[i]), CY(c->y[i]));
  put(b, "'/>");
  if (c->note[0]) {
    put(b, "<text x='%.0f' y='34' class='lg'>", L);
    put_escaped(b, c->note);
    put(b, "</text>");
  }
#undef CX
#undef CY
  put(b, "</svg></figure>\n");
}

int loom_report_write_html(const loom_report *r, const char *path, loom_error *err) {
  buf b = {0};
  put(&b, "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>");
  put_escaped(&b, r->title);
  put(&b, "</title>\n<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}"
          "h1{font-size:20px}h2{font-size:16px;margin-top:28px}figure{display:inline-block;margin:6px}"
          ".frame{fill:none;stroke:#999}.grid{stroke:#eee}.ct{font-weight:600;font-size:13px}"
          ".yt{font-size:11px;text-anchor:end;fill:#555}.xt{font-size:11px;text-anchor:middle;fill:#555}"
          ".xl{font-size:11px;text-anchor:middle;fill:#555}.lg{font-size:11px}.best{stroke:#888;stroke-dasharray:4 3}"
          ".bt{font-size:10px;fill:#666;text-anchor:middle}pre{background:#f6f6f6;padding:8px;font-size:12px}"
          ".tw{overflow-x:auto;max-width:100%%}"
          "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
          "td.k,th.k{text-align:left}.cm td{min-width:34px}.rk{display:flex;gap:10px;flex-wrap:wrap}"
          ".it{width:96px;font-size:11px;text-align:center}.it img{width:84px;height:84px;image-rendering:pixelated;"
          "border:1px solid #ccc}.it.hit{outline:3px solid #2ca02c;outline-offset:2px}.hit b{color:#2ca02c}"
          ".rn{color:#555;font-size:12px}</style></head><body>\n<h1>");
  put_escaped(&b, r->title);
  put(&b, "</h1>\n");
  if (r->n_sum) {
    put(&b, "<h2>Summary</h2><table>");
    for (int i = 0; i < r->n_sum; i++) {
      put(&b, "<tr><td class='k'>");
      put_escaped(&b, r->sum_keys[i]);
      put(&b, "</td><td class='k'>");
      put_escaped(&b, r->sum_values[i]);
      put(&b, "</td></tr>");
    }
    put(&b, "</table>\n");
  }
  for (int i = 0; i < r->n_tab; i++) {
    const table *t = &r->tab[i];
    put(&b, "<h2>");
    put_escaped(&b, t->title);
    put(&b, "</h2><div class='tw'><table>");
    for (int y = 0; y < t->rows; y++) {
      put(&b, "<tr>");
      for (int x = 0; x < t->cols; x++) {
        const char *tag = y == 0 ? "th" : "td";
        put(&b, x == 0 ? "<%s class='k'>" : "<%s>", tag);
        put_escaped(&b, t->cells[y * t->cols + x]);
        put(&b, "</%s>", tag);
      }
      put(&b, "</tr>");
    }
    put(&b, "</table></div>\n");
  }
  if (r->config) {
    put(&b, "<details><summary>Config (config.ini: every key, defaults included)</summary><pre>");
    put_escaped(&b, r->config);
    put(&b, "</pre></details>\n");
  }
  if (r->n_series) {
    put(&b, "<h2>Curves</h2>\n");
    for (int i = 0; i < r->n_series; i++) {
      const char *name = r->s[i].name;
      if (!strchr(name, '/')) continue;
      const size_t fl = family_len(name);
      char family[128];
      snprintf(family, sizeof family, "%.*s", (int)(fl < 127 ? fl : 127), name);
      bool drawn = false;
      for (int j = 0; j < i && !drawn; j++) drawn = in_family(r->s[j].name, family);
      if (!drawn) chart(&b, r, family);
    }
  }
  for (int i = 0; i < r->n_cv; i++) curve_chart(&b, &r->cv[i]);
  if (r->confusion) {
    int64_t max = 1;
    for (int i = 0; i < r->C * r->C; i++) max = r->confusion[i] > max ? r->confusion[i] : max;
    put(&b, "<h2>Confusion matrix</h2><p>rows: true class, columns: predicted</p><table class='cm'><tr><th></th>");
    for (int j = 0; j < r->C; j++) {
      put(&b, "<th>");
      put_escaped(&b, r->class_names[j]);
      put(&b, "</th>");
    }
    put(&b, "</tr>");
    for (int i = 0; i < r->C; i++) {
      put(&b, "<tr><th class='k'>");
      put_escaped(&b, r->class_names[i]);
      put(&b, "</th>");
      for (int j = 0; j < r->C; j++) {
        int64_t v = r->confusion[i * r->C + j];
        double a = (double)v / (double)max;
        put(&b, "<td style='background:rgba(%s,%.2f)'>%lld</td>", i == j ? "31,119,180" : "214,39,40", 0.08 + 0.6 * a,
            (long long)v);
      }
      put(&b, "</tr>");
    }
    put(&b, "</table>\n");
  }
  if (r->n_rank) {
    put(&b, "<h2>Top-ranked products for a few validation queries</h2>\n");
    for (int i = 0; i < r->n_rank; i++) {
      const ranking *x = &r->rank[i];
      if (x->user[0]) { /* a user's ranking; without one, a search */
        put(&b, "<p><b>user ");
        put_escaped(&b, x->user);
        put(&b, "</b>");
      } else {
        put(&b, "<p><b>search</b>");
      }
      if (x->query[0]) {
        put(&b, ", query “");
        put_escaped(&b, x->query);
        put(&b, "”");
      }
      put(&b, "</p><div class='rk'>");
      for (int j = 0; j < x->k; j++) {
        put(&b, j == x->marked ? "<div class='it hit' title='clicked'>" : "<div class='it'>");
        if (x->images[j][0]) {
          size_t before = b.len;
          put(&b, "<img alt='' src='data:image/png;base64,");
          size_t mark = b.len;
          put_base64_file(&b, x->images[j]);
          if (b.len == mark) b.len = before; /* unreadable image: text only */
          else put(&b, "'><br>");
        }
        put(&b, "%d. ", j + 1);
        put_escaped(&b, x->titles[j]);
        if (isfinite(x->scores[j])) put(&b, "<br>%.3f", x->scores[j]);
        if (j == x->marked) put(&b, "<br><b>&#10003; clicked</b>");
        put(&b, "</div>");
      }
      put(&b, "</div>\n");
      if (x->note[0]) {
        put(&b, "<p class='rn'>");
        put_escaped(&b, x->note);
        put(&b, "</p>\n");
      }
    }
  }
  put(&b, "<p style='color:#888;font-size:12px'>written by loom</p></body></html>\n");
  if (b.oom) {
    loom_free(b.p);
    return loom_errorf(err, "%s: out of memory building the report", path);
  }
  int rc = loom_write_file_atomic(path, b.p, b.len, err);
  loom_free(b.p);
  return rc;
}

