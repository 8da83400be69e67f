/* progress.c — the progress output of a run: a bar redrawn in place on a terminal, else one line per
 * log window; and the log.txt line of each window. */
#include <stdio.h>

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
  if (line_due)
    train_logf(r, "step %ld/%ld epoch %ld loss %.6f lr %.6g %.0f samples/s\n", r->step, r->total_steps, epoch_no(r), loss,
          (double)loom_lr_at(&r->sched, r->step > 0 ? r->step - 1 : 0), sps);
}
