/* loom/report.h — a training run's report: metric curves, a confusion matrix, ranking examples and
 * a summary, written as one self-contained HTML file (inline SVG; thumbnails as data: URIs), so it
 * opens anywhere without a server or network. Files are written to a temporary name and renamed,
 * so a crash never leaves a half-written report. */
#ifndef LOOM_REPORT_H
#define LOOM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loom/atomic.h"
#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_report loom_report;

loom_report *loom_report_new(const char *title);
void loom_report_free(loom_report *r);

/* One point of a curve. Series named "<metric>/<split>" (e.g. "loss/train", "auc/valid") are drawn
 * one chart per metric family — "recall@1/valid", "recall@5/valid", "recall@10/valid" share the chart
 * "recall" — one line per series, with markers, the best step and a legend beside the plot. A score in
 * [0, 1] gets an axis spanning at least 0.1. Returns -1 only when out of memory. */
int loom_report_point(loom_report *r, const char *series, double step, double value);
/* A row of the summary table (config values, final metrics, timings). */
int loom_report_summary(loom_report *r, const char *key, const char *value);
/* A table, shown under the summary: `rows` rows of `cols` cells, row-major, row 0 its header (a NULL
 * cell is empty). Returns -1 only when out of memory. */
int loom_report_table(loom_report *r, const char *title, int rows, int cols, const char *const *cells);
/* A table from CSV text (a header line, then rows; plain fields, no quoting), e.g. metrics.csv. */
int loom_report_csv_table(loom_report *r, const char *title, const char *csv);
/* The run's config text, shown folded under the summary. */
int loom_report_config(loom_report *r, const char *config_text);
/* A curve on [0, 1] x [0, 1] (ROC: diagonal = the chance line; precision-recall), with a note in its
 * corner (e.g. "AUC 0.71 at step 400"). Returns -1 only when out of memory. */
int loom_report_curve(loom_report *r, const char *title, const char *xlabel, const char *ylabel, const char *note,
                      const double *x, const double *y, int n, bool diagonal);
/* The step marked "best" on every chart (NAN: none). */
void loom_report_best_step(loom_report *r, double step);
/* Confusion matrix (rows = true class), C x C, with class names (may be NULL). */
int loom_report_confusion(loom_report *r, const int64_t *confusion, int C, const char *const *names);
/* One ranking example: a user (NULL or "": a search) and optional query with its top-k items; image paths may be NULL
 * or missing files (shown as text only). */
int loom_report_ranking(loom_report *r, const char *user, const char *query, int k, const char *const *titles,
                        const char *const *image_paths, const float *scores);

/* The same, with item `marked` (0-based, -1 none) highlighted as the one the user clicked and a line of
 * `note` (may be NULL) under the list. */
int loom_report_ranking_marked(loom_report *r, const char *user, const char *query, int k, const char *const *titles,
                               const char *const *image_paths, const float *scores, int marked, const char *note);

/* Writes the HTML report to `path` atomically. */
int loom_report_write_html(const loom_report *r, const char *path, loom_error *err);

/* loom-compare: one page over several run directories (each holding metrics.csv and config.ini, and
 * result.json once a run has ended): a table of each run's best and last metrics, the config keys whose
 * values differ between runs, and one chart per metrics.csv column with a line per run. Runs are named
 * by their directory's last component (the whole path when two share it). Written atomically. */
int loom_report_compare(const char *const *run_dirs, int n_runs, const char *out_path, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
