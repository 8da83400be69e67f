/* fuzz_serve_request.c — libFuzzer harness for the ranking server's request parser (loom_serve_parse):
 * the first byte picks the endpoint, the rest is the body, parsed under tight limits. A refusal must say
 * why; an accepted request must hold the invariants the server relies on. */
#include "fuzz_util.h"
#include "loom/error.h"
#include "loom/serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  loom_serve_endpoint ep = (loom_serve_endpoint)(data[0] % (LOOM_SERVE_RELOAD + 1));
  loom_serve_limits lim = loom_serve_default_limits();
  lim.max_top = 1 + data[0] / 8, lim.max_depth = 8, lim.max_rows = 64, lim.max_string = 512;
  loom_serve_request r;
  loom_error err = {""};
  if (loom_serve_parse(ep, (const char *)data + 1, n - 1, &lim, &r, &err) < 0) {
    FUZZ_CHECK_MSG(err);
    return 0;
  }
  if (r.ep != ep || r.top < 1 || r.top > lim.max_top || r.n_category < 0 || r.n_category > LOOM_SERVE_MAX_CATEGORIES) abort();
  if (ep == LOOM_SERVE_SCORE && (!r.csv || r.n_rows < 1 || r.n_rows > lim.max_rows)) abort();
  if (ep == LOOM_SERVE_SEARCH && !r.text && !r.image) abort();
  for (int i = 0; r.items && i < r.n_rows; i++)
    if (!r.items[i] || !r.items[i][0]) abort();
  loom_serve_request_free(&r);
  return 0;
}
