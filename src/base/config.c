/* config.c — INI configs with declared, typed keys (loom/config.h), and the rules that refuse keys
 * without effect (loom_config_check_rules). Values in double quotes are read exactly (quoted on write).
 * libinih does the INI syntax; a line reader of ours feeds it one line at a time so that every
 * message carries its line number, leading indentation is dropped (inih would read an indented line
 * as a continuation of the previous value) and a line too long for inih is an error, not two lines. */
#include "loom/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "loom/alloc.h"
#include "loom/file.h"

#define MAX_SECTIONS 16
#define MAX_VALUE 4096
#define MAX_OWNED 128
#define WHERE_MAX 160
#define LINE_MAX_TEXT (INI_MAX_LINE - 2) /* characters of a line, without its newline, that inih takes */

struct loom_config {
  const loom_cfg_key *keys;
  int n;
  loom_cfg_key *own_keys; /* loom_config_new_tables: the tables concatenated (keys points here) */
  char **values; /* resolved text of each key */
  int *set_line; /* line that set it in the file being loaded (0: not from this file) */
  bool *is_set;
  char (*where)[WHERE_MAX]; /* where each key was last set ("run.ini:12", "--set") */
  const loom_cfg_section *sections[MAX_SECTIONS];
  int n_sections;
  /* keys of owned sections set so far: "section.key", value, where, and the line in the file being loaded */
  struct owned_entry {
    char name[96], where[WHERE_MAX];
    char *value;
    int line;
  } owned[MAX_OWNED];
  int n_owned;
};

static int find_key(const loom_config *c, const char *section, const char *key) {
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->keys[i].section, section) == 0 && strcmp(c->keys[i].key, key) == 0) return i;
  return -1;
}

static const loom_cfg_section *find_section(const loom_config *c, const char *name) {
  for (int i = 0; i < c->n_sections; i++)
    if (strcmp(c->sections[i]->name, name) == 0) return c->sections[i];
  return NULL;
}

static bool known_section(const loom_config *c, const char *name) {
  if (find_section(c, name)) return true;
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->keys[i].section, name) == 0) return true;
  return false;
}

static loom_config *config_new(const loom_cfg_key *keys, int n, loom_cfg_key *own) {
  loom_config *c = loom_calloc(1, sizeof *c);
  if (!c) {
    loom_free(own);
    return NULL;
  }
  c->keys = keys;
  c->n = n;
  c->own_keys = own;
  c->values = loom_calloc((size_t)n, sizeof *c->values);
  c->set_line = loom_calloc((size_t)n, sizeof *c->set_line);
  c->is_set = loom_calloc((size_t)n, sizeof *c->is_set);
  c->where = loom_calloc((size_t)n, sizeof *c->where);
  if (!c->values || !c->set_line || !c->is_set || !c->where) goto fail;
  for (int i = 0; i < n; i++) {
    assert(find_key(c, keys[i].section, keys[i].key) == i && "config key declared twice");
    if (!(c->values[i] = loom_strdup(keys[i].def ? keys[i].def : ""))) goto fail;
  }
  return c;
fail:
  loom_config_free(c);
  return NULL;
}

loom_config *loom_config_new(const loom_cfg_key *keys, int n) { return config_new(keys, n, NULL); }

loom_config *loom_config_new_tables(int n_tables, const loom_cfg_key *const *tables, const int *counts) {
  int n = 0;
  for (int t = 0; t < n_tables; t++) n += counts[t];
  loom_cfg_key *all = loom_malloc((size_t)(n > 0 ? n : 1) * sizeof *all);
  if (!all) return NULL;
  for (int t = 0, at = 0; t < n_tables; at += counts[t], t++) memcpy(all + at, tables[t], (size_t)counts[t] * sizeof *all);
  return config_new(all, n, all);
}

void loom_config_free(loom_config *c) {
  if (!c) return;
  if (c->values)
    for (int i = 0; i < c->n; i++) loom_free(c->values[i]);
  loom_free(c->values);
  loom_free(c->set_line);
  loom_free(c->is_set);
  loom_free(c->where);
  for (int i = 0; i < c->n_owned; i++) loom_free(c->owned[i].value);
  loom_free(c->own_keys);
  loom_free(c);
}

void loom_config_add_section(loom_config *c, const loom_cfg_section *s) {
  assert(c->n_sections < MAX_SECTIONS);
  c->sections[c->n_sections++] = s;
}

/* ---- value checking ---- */

/* Index of v in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v) {
  size_t n = strlen(v);
  int i = 0;
  for (const char *p = choices; p; i++) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, v, n) == 0) return i;
    p = bar ? bar + 1 : NULL;
  }
  return -1;
}

static const char *type_name(loom_cfg_type t) {
  switch (t) {
  case LOOM_CFG_BOOL: return "true or false";
  case LOOM_CFG_INT: return "an integer";
  case LOOM_CFG_FLOAT: return "a number";
  case LOOM_CFG_STRING: return "text";
  case LOOM_CFG_CHOICE: return "one of the choices";
  case LOOM_CFG_INT_LIST: return "a comma-separated list of integers";
  case LOOM_CFG_FLOAT_LIST: return "a comma-separated list of numbers";
  }
  return "?";
}

static int parse_bool(const char *v, bool *out) {
  static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0) { *out = true; return 0; }
    if (strcasecmp(v, no[i]) == 0) { *out = false; return 0; }
  }
  return -1;
}

/* One number: integer or float, fully consumed (trailing spaces allowed), finite. 0 if it is. */
static int parse_number(const char *v, bool integer, double *x) {
  char *end;
  errno = 0;
  if (integer) {
    long l = strtol(v, &end, 10);
    *x = (double)l;
  } else {
    *x = strtod(v, &end);
  }
  while (end && isspace((unsigned char)*end)) end++;
  return *v == '\0' || errno == ERANGE || !end || *end || !isfinite(*x) ? -1 : 0;
}

static int check_number(const loom_cfg_key *k, const char *v, bool integer, const char *where, loom_error *err) {
  double x;
  if (parse_number(v, integer, &x) != 0)
    return loom_errorf(err, "%s: %s.%s = '%s' is not %s", where, k->section, k->key, v,
                       integer ? "an integer" : "a finite number");
  if (x < k->min || x > k->max)
    return loom_errorf(err, "%s: %s.%s = %s is outside [%g, %g]", where, k->section, k->key, v, k->min, k->max);
  return 0;
}

/* A comma-separated list: empty as a whole, or every element a number within bounds. An empty element
 * ("1,,2", "1,2,") is an error, not silently skipped (found by the malformed-input table). */
static int check_list(const loom_cfg_key *k, const char *v, const char *where, loom_error *err) {
  bool integer = k->type == LOOM_CFG_INT_LIST;
  const char *p = v;
  while (isspace((unsigned char)*p)) p++;
  if (!*p) return 0;
  for (int i = 1; p; i++) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char tok[MAX_VALUE];
    memcpy(tok, p, len);
    tok[len] = '\0';
    const char *t = tok;
    while (isspace((unsigned char)*t)) t++;
    double x;
    if (!*t)
      return loom_errorf(err, "%s: %s.%s = '%s': element %d is empty; separate the values with single commas", where,
                         k->section, k->key, v, i);
    if (parse_number(t, integer, &x) != 0)
      return loom_errorf(err, "%s: %s.%s: element %d ('%s') is not %s", where, k->section, k->key, i, t,
                         integer ? "an integer" : "a finite number");
    if (x < k->min || x > k->max)
      return loom_errorf(err, "%s: %s.%s: element %d (%s) is outside [%g, %g]", where, k->section, k->key, i, t, k->min,
                         k->max);
    p = comma ? comma + 1 : NULL;
    if (k->field == LOOM_FIELD_INT_LIST && p && i >= k->list_cap)
      return loom_errorf(err, "%s: %s.%s: more than %d values; give at most %d", where, k->section, k->key, k->list_cap,
                         k->list_cap);
  }
  return 0;
}

/* ---- quoting ---- */

static bool needs_quotes(const char *v) {
  size_t n = strlen(v);
  if (!n) return false;
  if (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]) || v[0] == '"') return true;
  return strpbrk(v, ";#\"=") != NULL;
}

size_t loom_config_quote(const char *v, char *out, size_t cap) {
  size_t o = 0;
#define PUT(ch) do { if (o + 1 < cap) out[o] = (ch); o++; } while (0)
  if (!needs_quotes(v)) {
    for (const char *p = v; *p; p++) PUT(*p);
  } else {
    PUT('"');
    for (const char *p = v; *p; p++) {
      if (*p == '"' || *p == '\\') PUT('\\');
      PUT(*p);
    }
    PUT('"');
  }
#undef PUT
  if (cap) out[o < cap ? o : cap - 1] = '\0';
  return o;
}

static int check_value(const loom_cfg_key *k, const char *v, const char *where, loom_error *err) {
  /* the dump writes "key = value": it must fit in a line the reader takes, or a saved config would not
   * load back (found by fuzz_config: "key =value" of 198 characters dumped as 199) */
  if (strlen(k->key) + 3 + loom_config_quote(v, NULL, 0) > LINE_MAX_TEXT)
    return loom_errorf(err, "%s: %s.%s is %zu characters long; '%s = value' must fit in %d characters so that the saved config loads back",
                       where, k->section, k->key, strlen(v), k->key, LINE_MAX_TEXT);
  switch (k->type) {
  case LOOM_CFG_BOOL: {
    bool b;
    if (parse_bool(v, &b) != 0)
      return loom_errorf(err, "%s: %s.%s = '%s' is not a boolean (use true or false)", where, k->section, k->key, v);
    return 0;
  }
  case LOOM_CFG_INT: return check_number(k, v, true, where, err);
  case LOOM_CFG_FLOAT: return check_number(k, v, false, where, err);
  case LOOM_CFG_STRING: return 0;
  case LOOM_CFG_CHOICE: {
    if (k->choices && *k->choices && choice_index(k->choices, v) >= 0) return 0;
    return loom_errorf(err, "%s: %s.%s = '%s' is not one of: %s", where, k->section, k->key, v, k->choices);
  }
  case LOOM_CFG_INT_LIST:
  case LOOM_CFG_FLOAT_LIST: return check_list(k, v, where, err);
  }
  return loom_errorf(err, "%s: %s.%s has an unknown type", where, k->section, k->key);
}

/* Edit distance, for "did you mean" hints. */
int loom_config_edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 63 || lb > 63) return 99;
  int d[64][64];
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return d[la][lb];
}

static int unknown_key(const loom_config *c, const char *section, const char *key, const char *where, loom_error *err) {
  const char *best = NULL;
  int best_d = 99;
  char list[1024] = "";
  size_t o = 0;
  for (int i = 0; i < c->n; i++) {
    if (strcmp(c->keys[i].section, section) != 0) continue;
    int d = loom_config_edit_distance(key, c->keys[i].key);
    if (d < best_d) best_d = d, best = c->keys[i].key;
    if (o < sizeof list) o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", c->keys[i].key);
  }
  if (best && best_d <= 2)
    return loom_errorf(err, "%s: unknown key '%s' in [%s]; did you mean '%s'?", where, key, section, best);
  return loom_errorf(err, "%s: unknown key '%s' in [%s]; valid keys: %s", where, key, section, list);
}

static int unknown_section(const loom_config *c, const char *section, const char *where, loom_error *err) {
  char list[512] = "";
  size_t o = 0;
  for (int i = 0; i < c->n; i++) {
    bool seen = false;
    for (int j = 0; j < i; j++) seen |= strcmp(c->keys[j].section, c->keys[i].section) == 0;
    if (!seen && o < sizeof list) o += (size_t)snprintf(list + o, sizeof list - o, "%s[%s]", o ? ", " : "", c->keys[i].section);
  }
  for (int i = 0; i < c->n_sections; i++)
    if (o < sizeof list) o += (size_t)snprintf(list + o, sizeof list - o, "%s[%s]", o ? ", " : "", c->sections[i]->name);
  if (!section[0]) return loom_errorf(err, "%s: a key outside any section; put it under one of %s", where, list);
  return loom_errorf(err, "%s: unknown section [%s]; valid sections: %s", where, section, list);
}

static int find_owned(const loom_config *c, const char *section, const char *key) {
  char name[96];
  snprintf(name, sizeof name, "%s.%s", section, key);
  for (int i = 0; i < c->n_owned; i++)
    if (!strcmp(c->owned[i].name, name)) return i;
  return -1;
}

/* An owned section's key was set: remember its value and where, for the rules and duplicate checks. */
static int record_owned(loom_config *c, const char *section, const char *key, const char *value, const char *where,
                        loom_error *err) {
  int i = find_owned(c, section, key);
  if (i < 0) {
    if (c->n_owned == MAX_OWNED) return loom_errorf(err, "%s: more than %d keys in owned sections", where, MAX_OWNED);
    i = c->n_owned++;
    snprintf(c->owned[i].name, sizeof c->owned[i].name, "%s.%s", section, key);
    c->owned[i].value = NULL;
    c->owned[i].line = 0;
  }
  char *copy = loom_strdup(value);
  if (!copy) return loom_errorf(err, "%s: out of memory storing %s.%s", where, section, key);
  loom_free(c->owned[i].value);
  c->owned[i].value = copy;
  snprintf(c->owned[i].where, WHERE_MAX, "%s", where);
  return 0;
}

int loom_config_set(loom_config *c, const char *section, const char *key, const char *value, const char *where,
                    loom_error *err) {
  for (const char *p = value; *p; p++)
    if ((unsigned char)*p < 0x20 && *p != '\t')
      return loom_errorf(err, "%s: %s.%s: the value holds a control character (byte 0x%02x); remove it", where, section,
                         key, (unsigned)(unsigned char)*p);
  const loom_cfg_section *owned = find_section(c, section);
  if (owned) {
    /* the module's message names the key itself (config.h: "the config adds file and line") */
    if (owned->set(owned->ctx, key, value, err) != 0) return loom_error_wrap(err, "%s", where);
    return record_owned(c, section, key, value, where, err);
  }
  if (!known_section(c, section)) return unknown_section(c, section, where, err);
  int i = find_key(c, section, key);
  if (i < 0) return unknown_key(c, section, key, where, err);
  if (check_value(&c->keys[i], value, where, err) != 0) return -1;
  char *copy = loom_strdup(value);
  if (!copy) return loom_errorf(err, "%s: out of memory storing %s.%s", where, section, key);
  loom_free(c->values[i]);
  c->values[i] = copy;
  c->is_set[i] = true;
  snprintf(c->where[i], WHERE_MAX, "%s", where);
  return 0;
}

int loom_config_set_arg(loom_config *c, const char *arg, loom_error *err) {
  const char *eq = strchr(arg, '='), *dot = strchr(arg, '.');
  if (!eq || !dot || dot > eq || dot == arg || eq == dot + 1)
    return loom_errorf(err, "--set %s: expected section.key=value, e.g. --set text.hidden=256", arg);
  char section[128], key[128];
  size_t ls = (size_t)(dot - arg), lk = (size_t)(eq - dot - 1);
  if (ls >= sizeof section || lk >= sizeof key) return loom_errorf(err, "--set %s: section or key too long", arg);
  memcpy(section, arg, ls);
  section[ls] = '\0';
  memcpy(key, dot + 1, lk);
  key[lk] = '\0';
  return loom_config_set(c, section, key, eq + 1, "--set", err);
}

/* ---- loading through inih ---- */

typedef struct {
  loom_config *c;
  const char *name;
  const char *text; /* remaining input */
  int line;         /* number of the line just handed to inih */
  int long_line;    /* first line longer than inih takes */
  bool failed;
  int fail_line;    /* line of the first entry rejected */
  loom_error *err;
  int quoted_line;  /* the line whose value was quoted, decoded into quoted[] */
  char quoted[MAX_VALUE];
  struct { char name[64]; int line; } sections[MAX_SECTIONS * 4]; /* section headers seen in this file */
  int n_seen;
} load_ctx;

static void fail_at(load_ctx *x, int line) {
  x->failed = true;
  x->fail_line = line;
}

/* A section header line "[name]": a section given twice is an error naming both lines (values would
 * otherwise silently replace each other across the two). */
static void note_section(load_ctx *x, const char *p, size_t len) {
  const char *close = memchr(p, ']', len);
  if (!close || x->failed) return;
  size_t n = (size_t)(close - p - 1);
  char name[64];
  if (n >= sizeof name) return;
  memcpy(name, p + 1, n);
  name[n] = '\0';
  for (int i = 0; i < x->n_seen; i++)
    if (!strcmp(x->sections[i].name, name)) {
      loom_errorf(x->err, "%s:%d: section [%s] appears twice (first on line %d); merge the two into one", x->name,
                  x->line, name, x->sections[i].line);
      fail_at(x, x->line);
      return;
    }
  if (x->n_seen < (int)(sizeof x->sections / sizeof x->sections[0])) {
    snprintf(x->sections[x->n_seen].name, sizeof x->sections[0].name, "%s", name);
    x->sections[x->n_seen++].line = x->line;
  }
}

/* "key = "value"": the value between double quotes, with \" and \\ the only escapes (loom_config_quote
 * writes them); after the closing quote only white space or a comment may follow. */
static void note_quoted(load_ctx *x, const char *p, size_t len) {
  /* the key ends where inih ends it: at the first '=' or ':' */
  size_t k = 0;
  while (k < len && p[k] != '=' && p[k] != ':') k++;
  const char *eq = k < len ? p + k : NULL, *end = p + len;
  if (!eq || x->failed) return;
  const char *v = eq + 1;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  if (v == end || *v != '"') return;
  size_t o = 0;
  for (v++; v < end && *v != '"'; v++) {
    if (*v == '\\' && v + 1 < end && (v[1] == '"' || v[1] == '\\')) v++;
    if (o + 1 < sizeof x->quoted) x->quoted[o++] = *v;
  }
  x->quoted[o] = '\0';
  const char *rest = v < end ? v + 1 : v;
  while (rest < end && (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n')) rest++;
  if (v == end || (rest < end && *rest != ';' && *rest != '#')) {
    loom_errorf(x->err, "%s:%d: %s — close the quoted value with \" and put nothing but a comment after it "
                        "(write \\\" for a quote inside it)", x->name, x->line,
                v == end ? "the quoted value has no closing quote" : "text after the closing quote");
    fail_at(x, x->line);
    return;
  }
  x->quoted_line = x->line;
}

/* inih's line reader: one line per call, indentation stripped, overlong lines recorded; section
 * headers and quoted values are read here, where the raw line is still whole. */
static char *read_line(char *str, int num, void *stream) {
  load_ctx *x = stream;
  if (!*x->text) return NULL;
  x->line++;
  const char *p = x->text;
  const char *nl = strchr(p, '\n');
  size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
  x->text = p + len;
  while (len && (*p == ' ' || *p == '\t')) p++, len--;
  if (len >= (size_t)num) {
    if (!x->long_line) x->long_line = x->line;
    len = 0; /* hand inih an empty line; the error is reported after parsing */
  }
  if (len && *p == '[') note_section(x, p, len);
  else if (len && *p != ';' && *p != '#') note_quoted(x, p, len);
  memcpy(str, p, len);
  str[len] = '\0';
  return str;
}

static int on_entry(void *user, const char *section, const char *name, const char *value) {
  load_ctx *x = user;
  if (x->failed) return 1;
  char where[600];
  snprintf(where, sizeof where, "%s:%d", x->name, x->line);
  bool quoted = x->quoted_line == x->line;
  if (quoted) value = x->quoted;
  /* unquoted, a ';' at the start of a value or after white space is ambiguous: inih reads the first as
   * part of the value and the second as a comment (found by fuzz_config) */
  for (const char *p = value; !quoted && *p; p++)
    if (*p == ';' && (p == value || *(p - 1) == ' ' || *(p - 1) == '\t')) {
      loom_errorf(x->err, "%s: %s.%s = '%s': a ';' %s starts a comment in INI files; put the value in double "
                          "quotes to keep the ';'",
                  where, section, name, value, p == value ? "at the start" : "after a space");
      fail_at(x, x->line);
      return 1;
    }
  int i = find_key(x->c, section, name), o = i < 0 ? find_owned(x->c, section, name) : -1;
  int first = i >= 0 ? x->c->set_line[i] : o >= 0 ? x->c->owned[o].line : 0;
  if (first) {
    loom_errorf(x->err, "%s: %s.%s is set twice (first on line %d); keep one", where, section, name, first);
    fail_at(x, x->line);
    return 1;
  }
  if (loom_config_set(x->c, section, name, value, where, x->err) != 0) {
    fail_at(x, x->line);
    return 1;
  }
  if (i >= 0) x->c->set_line[i] = x->line;
  else if ((o = find_owned(x->c, section, name)) >= 0) x->c->owned[o].line = x->line;
  return 1;
}

int loom_config_load_string(loom_config *c, const char *text, const char *name, loom_error *err) {
  load_ctx x = {.c = c, .name = name, .text = text, .err = err};
  for (int i = 0; i < c->n; i++) c->set_line[i] = 0;
  for (int i = 0; i < c->n_owned; i++) c->owned[i].line = 0;
  if (strlen(text) != 0 && memchr(text, '\0', strlen(text)) != NULL) return loom_errorf(err, "%s: not text", name);
  int rc = ini_parse_stream(read_line, &x, on_entry, &x);
  /* the first bad line wins: "[text" on line 1 explains the "key outside any section" on line 2 */
  if (rc > 0 && (!x.failed || rc < x.fail_line) && (!x.long_line || rc < x.long_line))
    return loom_errorf(err, "%s:%d: cannot read this line; expected '[section]', 'key = value' or a comment", name, rc);
  if (x.failed) return -1;
  if (x.long_line)
    return loom_errorf(err, "%s:%d: line longer than %d characters; shorten it", name, x.long_line, LINE_MAX_TEXT);
  if (rc > 0)
    return loom_errorf(err, "%s:%d: cannot read this line; expected '[section]', 'key = value' or a comment", name, rc);
  if (rc < 0) return loom_errorf(err, "%s: out of memory while parsing", name);
  return 0;
}

int loom_config_load(loom_config *c, const char *path, loom_error *err) {
  /* a FIFO, directory or device is refused by name before a read blocks or never ends */
  int fd = loom_file_open_regular(path, 0, "config", NULL, NULL, err);
  if (fd == -2) return loom_errorf(err, "%s: cannot open config: %s", path, strerror(errno));
  if (fd < 0) return -1;
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    int e = errno;
    close(fd);
    return loom_errorf(err, "%s: cannot open config: %s", path, strerror(e));
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      if (len > (1u << 20)) {
        rc = loom_errorf(err, "%s: config larger than 1 MiB; is this the right file?", path);
        break;
      }
      cap = cap ? cap * 2 : 8192;
      char *nb = loom_realloc(buf, cap);
      if (!nb) {
        rc = loom_errorf(err, "%s: out of memory reading config", path);
        break;
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) break;
  }
  if (rc == 0 && ferror(f)) rc = loom_errorf(err, "%s: read error: %s", path, strerror(errno));
  fclose(f);
  if (rc == 0) {
    buf[len] = '\0';
    if (strlen(buf) != len) {
      /* a NUL byte: find its line for the message */
      int line = 1;
      for (size_t i = 0; i < len && buf[i]; i++) line += buf[i] == '\n';
      rc = loom_errorf(err, "%s:%d: NUL byte in config; is this a text file?", path, line);
    } else {
      rc = loom_config_load_string(c, buf, path, err);
    }
  }
  loom_free(buf);
  return rc;
}

/* ---- typed reads ---- */

static int must_find(const loom_config *c, const char *section, const char *key, loom_cfg_type t) {
  int i = find_key(c, section, key);
  assert(i >= 0 && "config key not declared");
  assert((c->keys[i].type == t || (t == LOOM_CFG_STRING && c->keys[i].type == LOOM_CFG_CHOICE)) &&
         "config key read with another type");
  return i;
}

bool loom_config_bool(const loom_config *c, const char *section, const char *key) {
  bool b = false;
  parse_bool(c->values[must_find(c, section, key, LOOM_CFG_BOOL)], &b);
  return b;
}
long loom_config_int(const loom_config *c, const char *section, const char *key) {
  return strtol(c->values[must_find(c, section, key, LOOM_CFG_INT)], NULL, 10);
}
double loom_config_float(const loom_config *c, const char *section, const char *key) {
  return strtod(c->values[must_find(c, section, key, LOOM_CFG_FLOAT)], NULL);
}
const char *loom_config_str(const loom_config *c, const char *section, const char *key) {
  return c->values[must_find(c, section, key, LOOM_CFG_STRING)];
}
bool loom_config_is_set(const loom_config *c, const char *section, const char *key) {
  int i = find_key(c, section, key);
  assert(i >= 0 && "config key not declared");
  return c->is_set[i];
}

static int read_list(const char *text, bool integer, long *li, double *lf, int cap) {
  int n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    if (integer) {
      long v = strtol(p, &end, 10);
      if (n < cap) li[n] = v;
    } else {
      double v = strtod(p, &end);
      if (n < cap) lf[n] = v;
    }
    if (end == p) break;
    n++;
    p = end;
  }
  return n;
}
int loom_config_ints(const loom_config *c, const char *section, const char *key, long *out, int cap) {
  return read_list(c->values[must_find(c, section, key, LOOM_CFG_INT_LIST)], true, out, NULL, cap);
}
int loom_config_floats(const loom_config *c, const char *section, const char *key, double *out, int cap) {
  return read_list(c->values[must_find(c, section, key, LOOM_CFG_FLOAT_LIST)], false, NULL, out, cap);
}

void loom_config_read_spec(const loom_config *c, const char *section, void *spec) {
  char *base = spec;
  for (int i = 0; i < c->n; i++) {
    const loom_cfg_key *k = &c->keys[i];
    if (k->field == LOOM_FIELD_NONE || strcmp(k->section, section) != 0) continue;
    const char *v = c->values[i];
    char *at = base + k->offset;
    switch (k->field) {
    case LOOM_FIELD_BOOL: {
      assert(k->type == LOOM_CFG_BOOL);
      bool b = false;
      parse_bool(v, &b);
      memcpy(at, &b, sizeof b);
      break;
    }
    case LOOM_FIELD_INT: {
      assert(k->type == LOOM_CFG_INT && k->max <= 2147483647.0 && k->min >= -2147483648.0);
      int x = (int)strtol(v, NULL, 10);
      memcpy(at, &x, sizeof x);
      break;
    }
    case LOOM_FIELD_LONG: {
      assert(k->type == LOOM_CFG_INT);
      long x = strtol(v, NULL, 10);
      memcpy(at, &x, sizeof x);
      break;
    }
    case LOOM_FIELD_FLOAT: {
      assert(k->type == LOOM_CFG_FLOAT);
      float x = (float)strtod(v, NULL);
      memcpy(at, &x, sizeof x);
      break;
    }
    case LOOM_FIELD_DOUBLE: {
      assert(k->type == LOOM_CFG_FLOAT);
      double x = strtod(v, NULL);
      memcpy(at, &x, sizeof x);
      break;
    }
    case LOOM_FIELD_STR:
      assert(k->type == LOOM_CFG_STRING || k->type == LOOM_CFG_CHOICE);
      memcpy(at, &v, sizeof v);
      break;
    case LOOM_FIELD_ENUM: {
      assert(k->type == LOOM_CFG_CHOICE);
      int idx = choice_index(k->choices, v);
      assert(idx >= 0 && "a choice key holds one of its choices (checked when set)");
      int x = k->enum_values ? k->enum_values[idx] : idx;
      memcpy(at, &x, sizeof x);
      break;
    }
    case LOOM_FIELD_INT_LIST: {
      assert(k->type == LOOM_CFG_INT_LIST && k->list_cap > 0);
      long tmp[256];
      int n = read_list(v, true, tmp, NULL, 256);
      assert(n <= k->list_cap && n <= 256 && "list longer than its spec member: bound it where the key is checked");
      for (int j = 0; j < n; j++) {
        int x = (int)tmp[j];
        memcpy(at + (size_t)j * sizeof x, &x, sizeof x);
      }
      memcpy(base + k->count_offset, &n, sizeof n);
      break;
    }
    case LOOM_FIELD_NONE:
      break;
    }
  }
}

const char *loom_cfg_choice_name(const loom_cfg_key *k, int value, char *buf, size_t cap) {
  assert(k->type == LOOM_CFG_CHOICE && cap > 0);
  buf[0] = '\0';
  int i = 0;
  for (const char *p = k->choices; p; i++) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if ((k->enum_values ? k->enum_values[i] : i) == value) {
      snprintf(buf, cap, "%.*s", (int)len, p);
      break;
    }
    p = bar ? bar + 1 : NULL;
  }
  return buf;
}

/* ---- rules: keys that have no effect ---- */

/* The value a condition reads: a declared key's resolved value, an owned section's key as set ("" when
 * not set). *type is the declared type (LOOM_CFG_STRING for owned keys). NULL if the name is unknown. */
static const char *rule_value(const loom_config *c, const char *name, loom_cfg_type *type, int *idx, int *owned) {
  char section[64];
  const char *dot = strchr(name, '.');
  *idx = *owned = -1;
  if (!dot || (size_t)(dot - name) >= sizeof section) return NULL;
  memcpy(section, name, (size_t)(dot - name));
  section[dot - name] = '\0';
  int i = find_key(c, section, dot + 1);
  if (i >= 0) {
    *type = c->keys[i].type, *idx = i;
    return c->values[i];
  }
  if (!find_section(c, section)) return NULL;
  *type = LOOM_CFG_STRING;
  int o = find_owned(c, section, dot + 1);
  *owned = o;
  return o >= 0 ? c->owned[o].value : "";
}

/* One element against alternatives "a|b|c" ("" is an alternative too: "=|0" matches empty and 0). */
static bool one_of(const char *v, size_t n, const char *alts, loom_cfg_type t) {
  for (const char *p = alts;;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    char a[128], e[128];
    snprintf(a, sizeof a, "%.*s", (int)len, p);
    snprintf(e, sizeof e, "%.*s", (int)n, v);
    bool ba, be;
    double da, de;
    if (t == LOOM_CFG_BOOL && parse_bool(a, &ba) == 0 && parse_bool(e, &be) == 0) {
      if (ba == be) return true;
    } else if ((t == LOOM_CFG_INT_LIST || t == LOOM_CFG_FLOAT_LIST || t == LOOM_CFG_INT || t == LOOM_CFG_FLOAT) &&
               parse_number(a, false, &da) == 0 && parse_number(e, false, &de) == 0) {
      if (da == de) return true;
    } else if (!strcmp(a, e)) {
      return true;
    }
    if (!bar) return false;
    p = bar + 1;
  }
}

/* "key=alts": the value is one of alts; for lists, every element is (an empty list: alts holds ""). */
static bool value_matches(const char *v, const char *alts, loom_cfg_type t) {
  while (isspace((unsigned char)*v)) v++;
  size_t n = strlen(v);
  while (n && isspace((unsigned char)v[n - 1])) n--;
  if (t != LOOM_CFG_INT_LIST && t != LOOM_CFG_FLOAT_LIST) return one_of(v, n, alts, t);
  if (n == 0) return one_of("", 0, alts, t);
  for (const char *p = v; p < v + n;) {
    const char *comma = memchr(p, ',', (size_t)(v + n - p));
    const char *e = comma ? comma : v + n;
    while (p < e && isspace((unsigned char)*p)) p++;
    const char *q = e;
    while (q > p && isspace((unsigned char)q[-1])) q--;
    if (!one_of(p, (size_t)(q - p), alts, t)) return false;
    p = comma ? comma + 1 : e;
  }
  return true;
}

/* Whether every condition of `when` ("a.b=x|y and c.d!=z") holds. */
static bool rule_holds(const loom_config *c, const char *when) {
  for (const char *p = when; *p;) {
    const char *and = strstr(p, " and ");
    size_t len = and ? (size_t)(and - p) : strlen(p);
    char cond[256];
    snprintf(cond, sizeof cond, "%.*s", (int)len, p);
    char *eq = strchr(cond, '=');
    assert(eq && "a rule condition is section.key=values or section.key!=values");
    bool neg = eq > cond && eq[-1] == '!';
    eq[neg ? -1 : 0] = '\0';
    loom_cfg_type t;
    int i, o;
    const char *v = rule_value(c, cond, &t, &i, &o);
    assert(v && "a rule condition names an unknown key");
    if (value_matches(v, eq + 1, t) == neg) return false;
    p = and ? and + 5 : p + len;
  }
  return true;
}

int loom_config_check_rules(const loom_config *c, const loom_cfg_rule *rules, int n, loom_error *err) {
  for (int r = 0; r < n; r++) {
    loom_cfg_type t;
    int i, o;
    const char *v = rule_value(c, rules[r].key, &t, &i, &o);
    assert(v && "a rule names an unknown key");
    /* set by the user, to something other than its default: a saved config.ini lists every key, and
     * one left at its default asks for nothing the model does not already do; an owned key set to
     * empty ("numeric_cols =") names nothing */
    bool set = i >= 0 ? c->is_set[i] && strcmp(v, c->keys[i].def ? c->keys[i].def : "") != 0 : o >= 0 && v[0];
    if (!set || !rule_holds(c, rules[r].when)) continue;
    return loom_errorf(err, "%s: %s = %s has no effect %s", i >= 0 ? c->where[i] : c->owned[o].where, rules[r].key, v,
                       rules[r].reason);
  }
  return 0;
}

bool loom_config_owned_is_set(const loom_config *c, const char *section, const char *key) {
  return find_owned(c, section, key) >= 0;
}

void loom_config_print_rules(const loom_cfg_rule *rules, int n, void *file) {
  FILE *f = file;
  for (int r = 0; r < n; r++) fprintf(f, "  %-26s has no effect when %s\n", rules[r].key, rules[r].when);
}

/* ---- printing ---- */

char *loom_config_dump(const loom_config *c) {
  size_t cap = 4096, len = 0;
  char *out = loom_malloc(cap);
  if (!out) return NULL;
  out[0] = '\0';
#define APPEND(...)                                                                  \
  do {                                                                               \
    int need = snprintf(NULL, 0, __VA_ARGS__);                                       \
    if (len + (size_t)need + 1 > cap) {                                              \
      while (len + (size_t)need + 1 > cap) cap *= 2;                                 \
      char *nb = loom_realloc(out, cap);                                             \
      if (!nb) { loom_free(out); return NULL; }                                      \
      out = nb;                                                                      \
    }                                                                                \
    len += (size_t)snprintf(out + len, cap - len, __VA_ARGS__);                      \
  } while (0)
  for (int i = 0; i < c->n; i++) {
    bool first = i == 0 || strcmp(c->keys[i - 1].section, c->keys[i].section) != 0;
    if (first) APPEND("%s[%s]\n", i ? "\n" : "", c->keys[i].section);
    char q[2 * MAX_VALUE + 3]; /* every value fits its line (check_value), so it fits here quoted */
    loom_config_quote(c->values[i], q, sizeof q);
    APPEND("%s = %s\n", c->keys[i].key, q);
  }
  for (int s = 0; s < c->n_sections; s++) {
    const loom_cfg_section *sec = c->sections[s];
    APPEND("\n[%s]\n", sec->name);
    if (!sec->dump) continue;
    size_t need = sec->dump(sec->ctx, NULL, 0);
    if (len + need + 1 > cap) {
      while (len + need + 1 > cap) cap *= 2;
      char *nb = loom_realloc(out, cap);
      if (!nb) { loom_free(out); return NULL; }
      out = nb;
    }
    len += sec->dump(sec->ctx, out + len, cap - len);
  }
#undef APPEND
  return out;
}

void loom_config_print_reference(const loom_config *c, void *file) {
  FILE *f = file;
  for (int i = 0; i < c->n; i++) {
    const loom_cfg_key *k = &c->keys[i];
    if (i == 0 || strcmp(c->keys[i - 1].section, k->section) != 0) fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
    fprintf(f, "  %-20s %s (default: %s)", k->key, k->type == LOOM_CFG_CHOICE ? k->choices : type_name(k->type),
            k->def && *k->def ? k->def : "empty");
    if (k->type == LOOM_CFG_INT || k->type == LOOM_CFG_FLOAT || k->type == LOOM_CFG_INT_LIST || k->type == LOOM_CFG_FLOAT_LIST)
      fprintf(f, " in [%g, %g]", k->min, k->max);
    fprintf(f, "\n      %s\n", k->doc);
  }
  for (int s = 0; s < c->n_sections; s++) fprintf(f, "\n[%s]\n  (keys documented by its module)\n", c->sections[s]->name);
}
