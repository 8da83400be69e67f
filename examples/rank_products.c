/* rank_products — the library API in a program of your own: load a checkpoint trained by loom-train
 * and print the top products for a user and a search query.
 *   rank_products runs/fashion-shop-ranking/best.safetensors u00042 "black ankle boot" */
#include <stdio.h>

#include <loom/loom.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s CHECKPOINT USER [QUERY]\n", argv[0]);
    return 2;
  }
  loom_error err;
  loom_infer *s = loom_infer_open(argv[1], NULL, &err); /* maps, validates, builds for inference */
  if (!s) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  loom_hit top[5];
  unsigned flags;
  int n = loom_infer_rank(s, argv[2], argc > 3 ? argv[3] : NULL, 5, top, &flags, &err);
  if (n < 0) fprintf(stderr, "%s\n", err.msg);
  if (flags & LOOM_INFER_UNKNOWN_USER) printf("(new user: popular picks)\n");
  for (int i = 0; i < n; i++) printf("%d. %s %.3f %s\n", i + 1, top[i].item, top[i].score, top[i].title ? top[i].title : "");
  loom_infer_close(s);
  return n < 0;
}
