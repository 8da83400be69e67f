/* fuzz_csv.c — libFuzzer harness for the strict CSV reader (loom_table_read) with a schema of string,
 * int, float and optional columns: any input must end in a table or a message, never a crash, leak
 * or read past a buffer; a table that is returned must be internally consistent. */
#include "fuzz_util.h"
#include "loom/alloc.h"
#include "loom/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  static const loom_colspec spec[] = {
      {"user", LOOM_COL_STRING, 0},
      {"item", LOOM_COL_STRING, 1},
      {"price", LOOM_COL_FLOAT, 1},
      {"qty", LOOM_COL_INT, 1},
  };
  const char *path = fuzz_write_file(data, n, ".csv");
  /* small caps so the fuzzer reaches them; the parity of the length picks allow_empty */
  loom_csv_opts o = {.max_field_bytes = 4096, .allow_empty = (int)(n & 1)};
  loom_table t;
  loom_error err = {""};
  if (loom_table_read(&t, path, spec, 4, &o, &err) != 0) {
    FUZZ_CHECK_MSG(err);
    return 0;
  }
  /* touch every value: ASan catches an offset past the buffers */
  size_t sum = 0;
  for (int c = 0; c < t.ncols; c++) {
    const loom_table_col *col = &t.cols[c];
    for (int64_t r = 0; r < t.nrows; r++) {
      if (col->type == LOOM_COL_STRING) {
        if (col->soff[r] < 0 || (size_t)col->soff[r] >= col->sbuf_n) abort();
        sum += strlen(loom_table_str(&t, c, r));
      } else if (col->type == LOOM_COL_INT) {
        sum += (size_t)col->i[r];
      } else {
        sum += col->f[r] == col->f[r];
      }
    }
    if (col->type == LOOM_COL_STRING && (size_t)col->soff[t.nrows] != col->sbuf_n) abort();
  }
  for (int64_t r = 0; r < t.nrows; r++)
    if (t.line[r] < 2 || (r && t.line[r] <= t.line[r - 1])) abort();
  if (loom_table_find(&t, "user") != 0) abort();
  loom_table_free(&t);
  return (int)(sum & 0);
}
