/* request.c — the request bodies of loom-serve parsed and validated (loom_serve_parse): a pure function
 * from bytes to a typed request or a message naming the field, so the whole hostile-input surface can
 * be fuzzed without a model or a socket (fuzz/fuzz_serve_request.c). Checks run cheapest first: size,
 * UTF-8, nesting depth (before cJSON sees the text, so a deep body costs no recursion), then fields. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/serve.h"

loom_serve_limits loom_serve_default_limits(void) {
  return (loom_serve_limits){.max_body = 1u << 20, .max_depth = 16, .max_top = 1024, .max_rows = 10000,
                             .max_string = 64u << 10};
}

/* 0 if s[0..n) is well-formed UTF-8 without NUL bytes, else the offset of the first bad byte + 1. */
static size_t bad_utf8(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    size_t len;
    unsigned min;
    if (c == 0) return i + 1;
    if (c < 0x80) { i++; continue; }
    if ((c & 0xE0) == 0xC0) len = 2, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000, c &= 0x07;
    else return i + 1;
    if (i + len > n) return i + 1;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return i + 1;
      c = (c << 6) | (s[i + k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return i + 1;
    i += len;
  }
  return 0;
}

/* The deepest nesting of [ and { outside strings, stopping early past `cap`. */
static int json_depth(const char *s, size_t n, int cap) {
  int d = 0, max = 0;
  bool str = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (str) {
      if (c == '\\') i++;
      else if (c == '"') str = false;
    } else if (c == '"') {
      str = true;
    } else if (c == '[' || c == '{') {
      if (++d > max && (max = d) > cap) return max;
    } else if (c == ']' || c == '}') {
      d--;
    }
  }
  return max;
}

static const char *type_name(const cJSON *v) {
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "an invalid value";
}

static int get_string(const cJSON *v, const char *field, bool nonempty, const loom_serve_limits *lim,
                      const char **out, loom_error *err) {
  if (!cJSON_IsString(v))
    return loom_errorf(err, "field '%s': expected a string, got %s", field, type_name(v));
  size_t len = strlen(v->valuestring);
  if (len > lim->max_string)
    return loom_errorf(err, "field '%s': %zu bytes, more than the limit of %zu", field, len, lim->max_string);
  if (nonempty && !v->valuestring[strspn(v->valuestring, " \t\r\n")])
    return loom_errorf(err, "field '%s': is empty", field);
  *out = v->valuestring;
  return 0;
}

/* "image": a photo's bytes as standard base64 (padding optional, no line breaks), decoded into r->image. */
static int get_image(const cJSON *v, const loom_serve_limits *lim, loom_serve_request *r, loom_error *err) {
  if (!cJSON_IsString(v)) return loom_errorf(err, "field 'image': expected a base64 string, got %s", type_name(v));
  const char *s = v->valuestring;
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '=') n--;
  if (n == 0) return loom_errorf(err, "field 'image': is empty");
  if (n % 4 == 1) return loom_errorf(err, "field 'image': not base64 (its length is impossible)");
  if (n / 4 * 3 + 3 > lim->max_body) return loom_errorf(err, "field 'image': larger than the body limit");
  uint8_t *out = loom_malloc(n / 4 * 3 + 3);
  if (!out) return loom_errorf(err, "out of memory");
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i], d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+' || c == '-') d = 62;
    else if (c == '/' || c == '_') d = 63;
    else {
      loom_free(out);
      return loom_errorf(err, "field 'image': not base64 (character %zu)", i);
    }
    acc = acc << 6 | (uint32_t)d, bits += 6;
    if (bits >= 8) bits -= 8, out[o++] = (uint8_t)(acc >> bits);
  }
  loom_free(r->image);
  r->image = out, r->image_len = o;
  return 0;
}

static int get_top(const cJSON *v, const loom_serve_limits *lim, loom_serve_request *r, loom_error *err) {
  if (!cJSON_IsNumber(v)) return loom_errorf(err, "field 'top': expected an integer, got %s", type_name(v));
  double x = v->valuedouble;
  if (!isfinite(x) || x != floor(x) || x < 1)
    return loom_errorf(err, "field 'top': expected an integer of at least 1, got %.17g", x);
  int64_t cap = lim->max_top < 1 ? 1 : lim->max_top;
  if (x > (double)cap) r->top = (int)cap, r->top_capped = true;
  else r->top = (int)x;
  return 0;
}

/* The bytes csv_put writes for s: quoted (each quote doubled, two more) when it holds a separator, a
 * quote or a line break. Sizing and writing share this rule so the buffer always fits what is written. */
static size_t csv_len(const char *s) {
  size_t n = strlen(s);
  if (!strpbrk(s, ",\"\r\n")) return n;
  size_t q = 0;
  for (const char *c = s; *c; c++) q += *c == '"';
  return n + q + 2;
}

/* One CSV field (csv_len(s) bytes). */
static void csv_put(char **p, const char *s) {
  char *o = *p;
  if (!strpbrk(s, ",\"\r\n")) {
    size_t n = strlen(s);
    memcpy(o, s, n), o += n;
  } else {
    *o++ = '"';
    for (; *s; s++) {
      if (*s == '"') *o++ = '"';
      *o++ = *s;
    }
    *o++ = '"';
  }
  *p = o;
}

/* A row value as CSV text into buf (numbers as written by %.17g, booleans 1 / 0, null empty). */
static const char *cell_text(const cJSON *v, char buf[40]) {
  if (cJSON_IsString(v)) return v->valuestring;
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "1" : "0";
  if (cJSON_IsNull(v)) return "";
  double x = v->valuedouble;
  if (x == floor(x) && fabs(x) < 9e15) snprintf(buf, 40, "%.0f", x);
  else snprintf(buf, 40, "%.17g", x);
  return buf;
}

/* /v1/score rows: an array of 1..max_rows objects with the same keys (the first row's, any order, each
 * once), each value a string, a finite number, a boolean or null. Rendered as CSV with a header line.
 * A key given twice in a row is refused: it made the sizing pass (which saw both values) and the
 * rendering pass (which looks each column up by name, so saw the first twice) disagree — the heap
 * overflow fuzz_serve_request found. The buffer is now sized by the same lookups the rendering does. */
static int parse_rows(const cJSON *rows, const loom_serve_limits *lim, loom_serve_request *r, loom_error *err) {
  if (!cJSON_IsArray(rows)) return loom_errorf(err, "field 'rows': expected an array of objects, got %s", type_name(rows));
  int n = cJSON_GetArraySize(rows);
  if (n < 1) return loom_errorf(err, "field 'rows': is empty — give at least one row");
  if (n > lim->max_rows) return loom_errorf(err, "field 'rows': %d rows, more than the limit of %d", n, lim->max_rows);
  const cJSON *first = rows->child;
  if (!cJSON_IsObject(first)) return loom_errorf(err, "field 'rows[0]': expected an object, got %s", type_name(first));
  int ncol = cJSON_GetArraySize(first);
  if (ncol < 1) return loom_errorf(err, "field 'rows[0]': has no columns");
  if (ncol > LOOM_SERVE_MAX_COLUMNS)
    return loom_errorf(err, "field 'rows[0]': %d columns, more than the limit of %d", ncol, LOOM_SERVE_MAX_COLUMNS);
  int i = 0;
  for (const cJSON *row = first; row; row = row->next, i++) {
    if (!cJSON_IsObject(row)) return loom_errorf(err, "field 'rows[%d]': expected an object, got %s", i, type_name(row));
    if (cJSON_GetArraySize(row) != ncol)
      return loom_errorf(err, "field 'rows[%d]': has %d columns, rows[0] has %d — every row needs the same columns", i,
                         cJSON_GetArraySize(row), ncol);
    for (const cJSON *v = row->child; v; v = v->next) {
      if (!v->string[0] || strpbrk(v->string, ",\"\r\n"))
        return loom_errorf(err, "field 'rows[%d]': column name '%.60s' is empty or holds a comma, quote or line break", i,
                           v->string);
      for (const cJSON *w = row->child; w != v; w = w->next)
        if (!strcmp(w->string, v->string)) return loom_errorf(err, "field 'rows[%d].%.60s': given twice", i, v->string);
      if (i > 0 && !cJSON_GetObjectItemCaseSensitive(first, v->string))
        return loom_errorf(err, "field 'rows[%d].%.60s': not a column of rows[0]", i, v->string);
      if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
        return loom_errorf(err, "field 'rows[%d].%.60s': not a finite number", i, v->string);
      if (!cJSON_IsString(v) && !cJSON_IsNumber(v) && !cJSON_IsBool(v) && !cJSON_IsNull(v))
        return loom_errorf(err, "field 'rows[%d].%.60s': expected a string, number, boolean or null, got %s", i,
                           v->string, type_name(v));
      char buf[40];
      size_t len = strlen(cell_text(v, buf));
      if (len > lim->max_string)
        return loom_errorf(err, "field 'rows[%d].%.60s': %zu bytes, more than the limit of %zu", i, v->string, len,
                           lim->max_string);
    }
  }
  /* Size exactly what the rendering below writes: header, then each row's cells looked up by the
   * header's names (each row now has exactly those keys, each once), separators and line ends. */
  size_t bytes = 1;
  for (const cJSON *k = first->child; k; k = k->next) bytes += csv_len(k->string) + 1;
  for (const cJSON *row = first; row; row = row->next)
    for (const cJSON *k = first->child; k; k = k->next) {
      char buf[40];
      bytes += csv_len(cell_text(cJSON_GetObjectItemCaseSensitive(row, k->string), buf)) + 1;
    }
  char *csv = loom_malloc(bytes), *p = csv;
  if (!csv) return loom_errorf(err, "out of memory for %d rows", n);
  for (const cJSON *v = first->child; v; v = v->next) {
    if (v != first->child) *p++ = ',';
    csv_put(&p, v->string);
  }
  *p++ = '\n';
  for (const cJSON *row = first; row; row = row->next) {
    for (const cJSON *k = first->child; k; k = k->next) {
      if (k != first->child) *p++ = ',';
      char buf[40];
      csv_put(&p, cell_text(cJSON_GetObjectItemCaseSensitive(row, k->string), buf));
    }
    *p++ = '\n';
  }
  *p++ = '\0';
  if ((size_t)(p - csv) != bytes) abort(); /* the sizing rule and the writer disagree: a bug, never input */
  r->csv = csv, r->n_rows = n;
  return 0;
}

static int parse_fields(const cJSON *root, const loom_serve_limits *lim, loom_serve_request *r, loom_error *err) {
  static const char *const valid[] = {
      [LOOM_SERVE_SCORE] = "rows",
      [LOOM_SERVE_RANK] = "user, query, top, exclude_seen, category",
      [LOOM_SERVE_SEARCH] = "text, image, top",
      [LOOM_SERVE_EMBED] = "user, query, items",
      [LOOM_SERVE_RELOAD] = "checkpoint",
  };
  loom_serve_endpoint ep = r->ep;
  bool have_rows = false;
  for (const cJSON *v = root->child; v; v = v->next) {
    const char *k = v->string;
    for (const cJSON *w = root->child; w != v; w = w->next)
      if (!strcmp(w->string, k)) return loom_errorf(err, "field '%.60s': given twice", k);
    int rc = 0;
    if (!strcmp(k, "user") && (ep == LOOM_SERVE_RANK || ep == LOOM_SERVE_EMBED)) {
      rc = get_string(v, k, true, lim, &r->user, err);
    } else if (!strcmp(k, "query") && (ep == LOOM_SERVE_RANK || ep == LOOM_SERVE_EMBED)) {
      if (!cJSON_IsNull(v)) rc = get_string(v, k, false, lim, &r->query, err);
    } else if (!strcmp(k, "text") && ep == LOOM_SERVE_SEARCH) {
      rc = get_string(v, k, true, lim, &r->text, err);
    } else if (!strcmp(k, "image") && ep == LOOM_SERVE_SEARCH) {
      rc = get_image(v, lim, r, err);
    } else if (!strcmp(k, "top") && (ep == LOOM_SERVE_RANK || ep == LOOM_SERVE_SEARCH)) {
      rc = get_top(v, lim, r, err);
    } else if (!strcmp(k, "exclude_seen") && ep == LOOM_SERVE_RANK) {
      if (!cJSON_IsBool(v)) rc = loom_errorf(err, "field 'exclude_seen': expected true or false, got %s", type_name(v));
      r->exclude_seen = cJSON_IsTrue(v);
    } else if (!strcmp(k, "category") && ep == LOOM_SERVE_RANK) {
      if (cJSON_IsString(v)) {
        rc = get_string(v, k, true, lim, &r->category[0], err);
        r->n_category = 1;
      } else if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        if (n < 1 || n > LOOM_SERVE_MAX_CATEGORIES)
          return loom_errorf(err, "field 'category': expected 1 to %d categories, got %d", LOOM_SERVE_MAX_CATEGORIES, n);
        int i = 0;
        for (const cJSON *c = v->child; c && rc == 0; c = c->next, i++) {
          char name[32];
          snprintf(name, sizeof name, "category[%d]", i);
          rc = get_string(c, name, true, lim, &r->category[i], err);
        }
        r->n_category = n;
      } else {
        rc = loom_errorf(err, "field 'category': expected a string or an array of strings, got %s", type_name(v));
      }
    } else if (!strcmp(k, "items") && ep == LOOM_SERVE_EMBED) {
      if (!cJSON_IsArray(v)) return loom_errorf(err, "field 'items': expected an array of item ids, got %s", type_name(v));
      int n = cJSON_GetArraySize(v);
      if (n < 1 || n > lim->max_rows)
        return loom_errorf(err, "field 'items': expected 1 to %d item ids, got %d", lim->max_rows, n);
      if (!(r->items = loom_calloc((size_t)n, sizeof *r->items))) return loom_errorf(err, "out of memory");
      int i = 0;
      for (const cJSON *c = v->child; c && rc == 0; c = c->next, i++) {
        char name[32];
        snprintf(name, sizeof name, "items[%d]", i);
        rc = get_string(c, name, true, lim, &r->items[i], err);
      }
      r->n_rows = n;
    } else if (!strcmp(k, "rows") && ep == LOOM_SERVE_SCORE) {
      rc = parse_rows(v, lim, r, err);
      have_rows = true;
    } else if (!strcmp(k, "checkpoint") && ep == LOOM_SERVE_RELOAD) {
      rc = get_string(v, k, true, lim, &r->checkpoint, err);
    } else {
      return loom_errorf(err, "field '%.60s': unknown (valid fields: %s)", k, valid[ep]);
    }
    if (rc < 0) return -1;
  }
  if (ep == LOOM_SERVE_SCORE && !have_rows) return loom_errorf(err, "field 'rows': missing — give the rows to score");
  if (ep == LOOM_SERVE_SEARCH && r->text && r->image)
    return loom_errorf(err, "field 'image': give either text or image, not both");
  if (ep == LOOM_SERVE_SEARCH && !r->text && !r->image)
    return loom_errorf(err, "field 'text': missing — give the words to search for (or an image, as base64)");
  if (ep == LOOM_SERVE_EMBED && r->items && (r->user || r->query))
    return loom_errorf(err, "field 'items': give either items or user / query, not both");
  if (ep == LOOM_SERVE_EMBED && !r->items && !r->user && !r->query)
    return loom_errorf(err, "field 'user': missing — give a user and / or a query, or items");
  return 0;
}

int loom_serve_parse(loom_serve_endpoint ep, const char *body, size_t n, const loom_serve_limits *lim,
                     loom_serve_request *req, loom_error *err) {
  loom_serve_limits def = loom_serve_default_limits();
  if (!lim) lim = &def;
  *req = (loom_serve_request){.ep = ep, .top = 10};
  if (req->top > lim->max_top) req->top = lim->max_top < 1 ? 1 : (int)lim->max_top;
  if ((unsigned)ep > LOOM_SERVE_RELOAD) return loom_errorf(err, "unknown endpoint %d", (int)ep);
  if (n > lim->max_body) return loom_errorf(err, "body: %zu bytes, more than the limit of %zu", n, lim->max_body);
  size_t lead = 0;
  while (lead < n && strchr(" \t\r\n", body[lead])) lead++;
  if (lead == n) {
    if (ep == LOOM_SERVE_RELOAD) return 0; /* an empty body: reload the checkpoint being served */
    return loom_errorf(err, "body: empty — send a JSON object");
  }
  size_t bad = bad_utf8((const unsigned char *)body, n);
  if (bad) return loom_errorf(err, "body: byte %zu is not valid UTF-8 (or is a NUL byte)", bad - 1);
  int depth = json_depth(body, n, lim->max_depth);
  if (depth > lim->max_depth) return loom_errorf(err, "body: JSON nested deeper than %d levels", lim->max_depth);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(body, n, &end, false);
  if (!root) {
    size_t at = end && end >= body && end <= body + n ? (size_t)(end - body) : 0;
    return loom_errorf(err, "body: invalid JSON near byte %zu", at);
  }
  req->owner_ = root;
  const char *p = end;
  while (p && p < body + n && strchr(" \t\r\n", *p)) p++;
  if (p && p < body + n) {
    loom_serve_request_free(req);
    return loom_errorf(err, "body: text after the JSON value at byte %zu", (size_t)(p - body));
  }
  if (!cJSON_IsObject(root)) {
    loom_errorf(err, "body: expected a JSON object, got %s", type_name(root));
    loom_serve_request_free(req);
    return -1;
  }
  if (parse_fields(root, lim, req, err) < 0) {
    loom_serve_request_free(req);
    return -1;
  }
  return 0;
}

void loom_serve_request_free(loom_serve_request *req) {
  if (!req) return;
  cJSON_Delete(req->owner_);
  loom_free(req->csv);
  loom_free((void *)req->items);
  loom_free(req->image);
  loom_serve_endpoint ep = req->ep;
  *req = (loom_serve_request){.ep = ep};
}
