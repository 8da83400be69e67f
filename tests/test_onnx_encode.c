/* test_onnx_encode.c — loom/onnx.h without Python or a runtime: the ModelProto's wire format read back by a
 * small protobuf reader here (top-level fields, the graph's nodes, an initializer whose length needs a
 * multi-byte varint holding the parameter's bytes exactly), and the errors: an op without an ONNX mapping
 * named with its node and the caller's config key and no file written, a graph in training mode refused.
 * Round trips through onnx.checker and ONNX Runtime are tests/test_onnx.sh's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* ---- a protobuf reader: enough to walk length-delimited messages ---- */
typedef struct field {
  int num, wire;
  uint64_t v;             /* varint / fixed32 */
  const unsigned char *p; /* length-delimited */
  size_t n;
} field;

static int read_varint(const unsigned char *p, size_t n, size_t *i, uint64_t *v) {
  *v = 0;
  for (int s = 0; s < 64; s += 7) {
    if (*i >= n) return -1;
    unsigned char b = p[(*i)++];
    *v |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}
/* the next field of p[0..n) from *i; 0 at the end, -1 malformed */
static int next_field(const unsigned char *p, size_t n, size_t *i, field *f) {
  if (*i == n) return 0;
  uint64_t key;
  if (read_varint(p, n, i, &key) < 0) return -1;
  f->num = (int)(key >> 3), f->wire = (int)(key & 7);
  switch (f->wire) {
  case 0: return read_varint(p, n, i, &f->v) < 0 ? -1 : 1;
  case 5:
    if (*i + 4 > n) return -1;
    memcpy(&f->v, p + *i, 4), *i += 4;
    return 1;
  case 2:
    if (read_varint(p, n, i, &f->v) < 0 || *i + f->v > n) return -1;
    f->p = p + *i, f->n = (size_t)f->v, *i += f->n;
    return 1;
  default: return -1;
  }
}
/* the string field `num` of message p[0..n) into out ("" when absent) */
static void string_field(const unsigned char *p, size_t n, int num, char *out, size_t cap) {
  size_t i = 0;
  field f;
  out[0] = '\0';
  while (next_field(p, n, &i, &f) > 0)
    if (f.num == num && f.wire == 2) snprintf(out, cap, "%.*s", (int)f.n, (const char *)f.p);
}

/* x (B, 3) -> Dense(3 -> 70) -> relu: w has 210 floats, an initializer longer than 127 bytes */
static loom_graph *dense_graph(loom_tensor **y, loom_tensor **w) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 3});
  *w = loom_param(g, "dense.weight", 2, (int[]){70, 3});
  loom_tensor *b = loom_param(g, "dense.bias", 1, (int[]){70});
  for (int i = 0; i < 210; i++) (*w)->data[i] = 0.01f * (float)i - 1.0f;
  for (int i = 0; i < 70; i++) b->data[i] = 0.5f;
  *y = loom_relu(g, loom_add(g, loom_matmul(g, x, *w, false, true), b));
  return g;
}

static void test_model_proto_reads_back(void **state) {
  (void)state;
  loom_tensor *y, *w;
  loom_graph *g = dense_graph(&y, &w);
  assert_int_equal(loom_graph_compile(g, 4, 1, &y, false), 0);
  loom_error err = {""};
  loom_onnx_opts o = {.n_outputs = 1, .outputs = &y, .output_names = (const char *[]){"out"}, .n_meta = 1,
                      .meta_keys = (const char *[]){"k"}, .meta_values = (const char *[]){"v"}};
  size_t n;
  unsigned char *p = loom_onnx_encode(g, &o, &n, &err);
  assert_non_null(p);
  size_t i = 0;
  field f;
  int seen[16] = {0};
  const unsigned char *graph = NULL;
  size_t graph_n = 0;
  int64_t opset = 0;
  while (next_field(p, n, &i, &f) > 0) {
    assert_true(f.num < 16);
    seen[f.num]++;
    if (f.num == 1) assert_int_equal(f.v, LOOM_ONNX_IR_VERSION);
    if (f.num == 7) graph = f.p, graph_n = f.n;
    if (f.num == 8) {
      size_t j = 0;
      field o2;
      while (next_field(f.p, f.n, &j, &o2) > 0)
        if (o2.num == 2) opset = (int64_t)o2.v;
    }
  }
  assert_int_equal(i, n); /* the whole buffer parsed */
  assert_true(seen[1] == 1 && seen[2] == 1 && seen[7] == 1 && seen[8] == 1 && seen[14] == 1);
  assert_int_equal(opset, LOOM_ONNX_OPSET);
  assert_non_null(graph);
  /* the graph: nodes Transpose, MatMul, Add, Relu, Identity in order; inputs x; output out; w's bytes */
  const char *want[] = {"Transpose", "MatMul", "Add", "Relu", "Identity"};
  int nodes = 0, inputs = 0, outputs = 0, inits = 0;
  bool w_ok = false;
  char s[128];
  i = 0;
  while (next_field(graph, graph_n, &i, &f) > 0) {
    if (f.num == 1) {
      string_field(f.p, f.n, 4, s, sizeof s);
      assert_true(nodes < 5);
      assert_string_equal(s, want[nodes]);
      nodes++;
    } else if (f.num == 11) {
      string_field(f.p, f.n, 1, s, sizeof s);
      assert_string_equal(s, "x");
      inputs++;
    } else if (f.num == 12) {
      string_field(f.p, f.n, 1, s, sizeof s);
      assert_string_equal(s, "out");
      outputs++;
    } else if (f.num == 5) {
      inits++;
      string_field(f.p, f.n, 8, s, sizeof s);
      if (!strcmp(s, "dense.weight")) {
        size_t j = 0;
        field t;
        int dims = 0;
        while (next_field(f.p, f.n, &j, &t) > 0) {
          if (t.num == 1) dims++;
          if (t.num == 9) w_ok = t.n == 210 * sizeof(float) && !memcmp(t.p, w->data, t.n);
        }
        assert_int_equal(dims, 2);
      }
    }
  }
  assert_int_equal(i, graph_n);
  assert_int_equal(nodes, 5);
  assert_int_equal(inputs, 1);
  assert_int_equal(outputs, 1);
  assert_true(inits >= 2);
  assert_true(w_ok);
  loom_free(p);
  loom_graph_free(g);
}

static const char *origin(void *ctx, const loom_tensor *t) {
  (void)t;
  return ctx;
}

static void test_unmapped_op_is_named_and_writes_nothing(void **state) {
  (void)state;
  loom_tensor *y, *w;
  loom_graph *g = dense_graph(&y, &w);
  loom_tensor *target = loom_input(g, "target", LOOM_F32, 2, (int[]){LOOM_BATCH, 70});
  loom_tensor *loss = loom_mse(g, y, target, LOOM_REDUCE_MEAN);
  loom_tensor_set_name(loss, "task.loss");
  assert_int_equal(loom_graph_compile(g, 4, 1, &loss, false), 0);
  char dir[] = "/tmp/loom_onnx_XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  loom_error err = {""};
  loom_onnx_opts o = {.n_outputs = 1, .outputs = &loss, .output_names = (const char *[]){"loss"}, .origin = origin,
                      .origin_ctx = "task.kind = regression"};
  assert_int_equal(loom_onnx_write(g, &o, path, &err), -1);
  assert_non_null(strstr(err.msg, "op mse (graph node 'task.loss') has no ONNX mapping: it comes from task.kind = regression"));
  struct stat st;
  assert_int_equal(stat(path, &st), -1);
  assert_int_equal(rmdir(dir), 0); /* nothing at all was left in it (no temporary either) */
  /* in training mode, the graph is refused */
  loom_graph_set_training(g, true);
  assert_int_equal(loom_graph_compile(g, 4, 1, &y, false), 0);
  size_t n;
  o.outputs = &y, o.output_names = (const char *[]){"out"};
  assert_null(loom_onnx_encode(g, &o, &n, &err));
  assert_non_null(strstr(err.msg, "training mode"));
  loom_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_proto_reads_back),
      cmocka_unit_test(test_unmapped_op_is_named_and_writes_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
