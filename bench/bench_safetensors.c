/* bench_safetensors.c — checkpoint save and load speed for a graph of many parameter tensors.
 * Save includes fsync of the file and its directory (the crash-safe path); load includes mmap, header
 * validation and the copy into the graph. Usage: bench_safetensors [MB=256] [tensors=200] [dir=.] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "loom/loom.h"
#include "loom/safetensors.h"
#include "bench_util.h"


int main(int argc, char **argv) {
  double mb = argc > 1 ? atof(argv[1]) : 256;
  int n = argc > 2 ? atoi(argv[2]) : 200;
  const char *dir = argc > 3 ? argv[3] : ".";
  int cols = 1024, rows = (int)(mb * 1024 * 1024 / 4 / cols / n);
  if (rows < 1) rows = 1;
  loom_graph *g = loom_graph_new(), *h = loom_graph_new();
  char name[64];
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "layer%d.weight", i);
    loom_tensor *t = loom_param(g, name, 2, (int[]){rows, cols});
    loom_param(h, name, 2, (int[]){rows, cols});
    for (size_t k = 0; k < loom_tensor_numel(t); k++) t->data[k] = (float)(k % 977) * 0.001f;
  }
  double bytes = 4.0 * rows * cols * n;
  char path[4096];
  snprintf(path, sizeof path, "%s/bench_ckpt.safetensors", dir);
  loom_error err;
  double best_save = 1e30, best_load = 1e30;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now();
    if (loom_st_save_graph(g, path, 0, NULL, &err) != 0) return fprintf(stderr, "%s\n", err.msg), 1;
    double t1 = now();
    if (loom_st_load_graph(h, path, 0, &err) != 0) return fprintf(stderr, "%s\n", err.msg), 1;
    double t2 = now();
    best_save = t1 - t0 < best_save ? t1 - t0 : best_save;
    best_load = t2 - t1 < best_load ? t2 - t1 : best_load;
  }
  printf("%d tensors, %.1f MB: save %.3f s (%.0f MB/s, with fsync), load %.3f s (%.0f MB/s, page cache warm)\n", n,
         bytes / 1048576, best_save, bytes / 1048576 / best_save, best_load, bytes / 1048576 / best_load);
  unlink(path);
  loom_graph_free(g);
  loom_graph_free(h);
  return 0;
}
