/* progress.c — the progress output of a run: a bar redrawn in place on a terminal, else one line per
 * log window; and the log.txt line of each window. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loom/optim.h"
#include "train_internal.h"

static void fmt_eta(char *buf, size_t n, double s) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(buf, n, "--:--");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

void train_json_event(run *r, const char *name, cJSON *fields) {
  if (!r->json) {
    cJSON_Delete(fields);
    return;
  }
  cJSON *e = cJSON_CreateObject();
  if (e && cJSON_AddStringToObject(e, "event", name) && fields)
    for (cJSON *f = fields->child; f; f = fields->child) cJSON_AddItemToObject(e, f->string, cJSON_DetachItemViaPointer(fields, f));
  cJSON_Delete(fields);
  char *text = e ? cJSON_PrintUnformatted(e) : NULL;
  if (text) fprintf(r->json, "%s\n", text), fflush(r->json);
  cJSON_free(text);
  cJSON_Delete(e);
}

void train_notice(run *r, const char *msg) {
  if (r->progress) fprintf(r->progress, "%s%s", r->tty ? "\r\033[K" : "", msg), fflush(r->progress);
  if (r->json) {
    cJSON *f = cJSON_CreateObject();
    char text[2048];
    snprintf(text, sizeof text, "%s", msg);
    for (size_t n = strlen(text); n > 0 && text[n - 1] == '\n';) text[--n] = '\0';
    if (f) cJSON_AddStringToObject(f, "message", text);
    train_json_event(r, "warning", f);
  }
}

void train_show_progress(run *r, double loss, double sps, bool line_due) {
  double t = train_now();
  char eta[32];
  double rate = r->samples_total > 0 ? (double)(r->step - r->last_save_step + 1) : 0;
  (void)rate;
  long left = r->total_steps - r->step;
  double per_step = r->samples_total > 0 ? (t - r->t0) / (double)(r->samples_total) : 0;
  fmt_eta(eta, sizeof eta, per_step * (double)left * (double)r->dsec.schema.batch_size);
  if (r->progress && r->tty) {
    if (t - r->t_print >= 0.1 || line_due) {
      int width = 24, fill = r->total_steps > 0 ? (int)((double)width * (double)r->step / (double)r->total_steps) : 0;
      if (fill > width) fill = width;
      fprintf(r->progress, "\r[%.*s%.*s] %ld/%ld ep %ld loss %.4f %.0f samples/s ETA %s  ", fill,
              "########################", width - fill, "........................", r->step, r->total_steps,
              epoch_no(r), loss, sps, eta);
      fflush(r->progress);
      r->t_print = t;
    }
  } else if (r->progress && line_due) {
    fprintf(r->progress, "step %ld/%ld epoch %ld loss %.4f %.0f samples/s ETA %s\n", r->step, r->total_steps,
            epoch_no(r), loss, sps, eta);
    fflush(r->progress);
  }
  if (r->json && line_due) {
    cJSON *f = cJSON_CreateObject();
    if (f) {
      cJSON_AddNumberToObject(f, "step", (double)r->step);
      cJSON_AddNumberToObject(f, "total_steps", (double)r->total_steps);
      cJSON_AddNumberToObject(f, "epoch", (double)epoch_no(r));
      cJSON_AddNumberToObject(f, "loss", loss);
      cJSON_AddNumberToObject(f, "lr", (double)loom_lr_at(&r->sched, r->step > 0 ? r->step - 1 : 0));
      cJSON_AddNumberToObject(f, "samples_per_s", sps);
      cJSON_AddNumberToObject(f, "eta_s", per_step * (double)left * (double)r->dsec.schema.batch_size);
    }
    train_json_event(r, "step", f);
  }
  if (line_due)
    train_logf(r, "step %ld/%ld epoch %ld loss %.6f lr %.6g %.0f samples/s\n", r->step, r->total_steps, epoch_no(r), loss,
          (double)loom_lr_at(&r->sched, r->step > 0 ? r->step - 1 : 0), sps);
}
