/* loom/config.h — run configuration: INI files, `--set section.key=value` overrides, typed values.
 *
 * A config is a list of known keys (section, key, type, default, allowed values, one line of doc).
 * Loading checks every line against that list, so a misspelt key, a value of the wrong type or a
 * value outside its choices is an error naming the file, the line, the key and what would be valid.
 * Sections a module owns (e.g. [data]) are handed, key by key, to that module's setter. The resolved
 * config (every key, defaults included) prints back as INI, which is what checkpoints store. */
#ifndef LOOM_CONFIG_H
#define LOOM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LOOM_CFG_BOOL,       /* true/false, yes/no, on/off, 1/0 */
  LOOM_CFG_INT,        /* decimal integer within [min, max] */
  LOOM_CFG_FLOAT,      /* finite number within [min, max] */
  LOOM_CFG_STRING,     /* any text (paths, queries) */
  LOOM_CFG_CHOICE,     /* one of `choices` ("a|b|c") */
  LOOM_CFG_INT_LIST,   /* comma-separated integers within [min, max]; may be empty */
  LOOM_CFG_FLOAT_LIST, /* comma-separated numbers within [min, max]; may be empty */
} loom_cfg_type;

/* The C type of the spec-struct member a key is read into by loom_config_read_spec (NONE: the key has
 * no member; it is read with the typed getters below). */
typedef enum {
  LOOM_FIELD_NONE = 0,
  LOOM_FIELD_BOOL,     /* bool     <- LOOM_CFG_BOOL */
  LOOM_FIELD_INT,      /* int      <- LOOM_CFG_INT */
  LOOM_FIELD_LONG,     /* long     <- LOOM_CFG_INT */
  LOOM_FIELD_FLOAT,    /* float    <- LOOM_CFG_FLOAT */
  LOOM_FIELD_DOUBLE,   /* double   <- LOOM_CFG_FLOAT */
  LOOM_FIELD_STR,      /* const char * into the config's storage (valid until the key is set again or the
                        * config is freed) <- LOOM_CFG_STRING or LOOM_CFG_CHOICE */
  LOOM_FIELD_ENUM,     /* an enum (int-sized) <- LOOM_CFG_CHOICE: enum_values[index of the value in choices],
                        * or that index when enum_values is NULL; parsed once, no fallback */
  LOOM_FIELD_INT_LIST, /* int[list_cap] at offset, its count (int) at count_offset <- LOOM_CFG_INT_LIST */
} loom_cfg_field;

typedef struct loom_cfg_key {
  const char *section, *key;
  loom_cfg_type type;
  const char *def;     /* default, as text */
  const char *choices; /* LOOM_CFG_CHOICE: "a|b|c" */
  double min, max;     /* numeric bounds (inclusive) */
  const char *doc;
  /* where the value lands in the section's spec struct (loom_config_read_spec); zero: nowhere */
  loom_cfg_field field;
  size_t offset;          /* offsetof(spec, member) */
  const int *enum_values; /* LOOM_FIELD_ENUM: one per choice, in the choices' order (NULL: the index) */
  size_t count_offset;    /* LOOM_FIELD_INT_LIST: offsetof(spec, count member) */
  int list_cap;           /* LOOM_FIELD_INT_LIST: elements the member holds (longer lists assert: bound the
                           * key's value count where it is checked) */
} loom_cfg_key;

/* A section owned by another module: called for every key in it, in file order. Returns 0, or -1
 * with err set (the config adds file and line). `dump` appends the section's resolved keys as INI
 * lines ("key = value\n") to buf (may be NULL); returns bytes needed. */
typedef struct loom_cfg_section {
  const char *name;
  void *ctx;
  int (*set)(void *ctx, const char *key, const char *value, loom_error *err);
  size_t (*dump)(void *ctx, char *buf, size_t cap);
} loom_cfg_section;

typedef struct loom_config loom_config;

/* A config over `keys` (n entries, kept by reference: usually a static table) holding defaults. */
loom_config *loom_config_new(const loom_cfg_key *keys, int n);
/* A config over several modules' key tables, in the order given (dump, help and did-you-mean follow it). */
loom_config *loom_config_new_tables(int n_tables, const loom_cfg_key *const *tables, const int *counts);
void loom_config_free(loom_config *c);
/* Hand section `s` (kept by reference) to another module. */
void loom_config_add_section(loom_config *c, const loom_cfg_section *s);

/* Reads an INI file (a line starting with ';' or '#' is a comment; a ';' after white space starts one). A value in
 * double quotes is taken exactly, spaces and ; # = included (\" and \\ inside). A key set twice, or a
 * section given twice, is an error naming both lines. The file must be a regular file (a FIFO, directory
 * or device is refused by name). Returns 0, or -1 with err naming path:line. */
int loom_config_load(loom_config *c, const char *path, loom_error *err);
/* Same from a string; `name` stands for the file name in messages. */
int loom_config_load_string(loom_config *c, const char *text, const char *name, loom_error *err);
/* One override "section.key=value" (the --set flag). */
int loom_config_set_arg(loom_config *c, const char *arg, loom_error *err);
/* Set one key; `where` names the source in messages ("run.ini:12", "--set"). */
int loom_config_set(loom_config *c, const char *section, const char *key, const char *value, const char *where,
                    loom_error *err);

/* Typed reads of a declared key (asserts that the key is declared with that type). */
bool loom_config_bool(const loom_config *c, const char *section, const char *key);
long loom_config_int(const loom_config *c, const char *section, const char *key);
double loom_config_float(const loom_config *c, const char *section, const char *key);
const char *loom_config_str(const loom_config *c, const char *section, const char *key);
/* Lists: number of values, written into out[0..cap). */
int loom_config_ints(const loom_config *c, const char *section, const char *key, long *out, int cap);
int loom_config_floats(const loom_config *c, const char *section, const char *key, double *out, int cap);
/* Reads every key of `section` that names a spec member (field != NONE) into the struct at `spec`:
 * the one place a section's values become typed C values. Values were checked when set, so this cannot
 * fail; call it after the last set. */
void loom_config_read_spec(const loom_config *c, const char *section, void *spec);

/* The choice of CHOICE row `k` whose enum value (LOOM_FIELD_ENUM: enum_values[i], or the index i) is
 * `value`, into buf (cap bytes; "" when none is); returns buf. For messages naming a spec's enum. */
const char *loom_cfg_choice_name(const loom_cfg_key *k, int value, char *buf, size_t cap);

/* Whether a key was set by a file or --set (rather than left at its default). */
bool loom_config_is_set(const loom_config *c, const char *section, const char *key);

/* Whether a key of an owned section (e.g. [data]) was set by a file or --set. */
bool loom_config_owned_is_set(const loom_config *c, const char *section, const char *key);

/* A key that has no effect in some configurations: when the user sets `key` ("section.key", a declared
 * key or one of an owned section) to other than its default and every condition of `when` holds, the
 * config is refused: "<file>:<line>: <key> = <value> has no effect <reason>". `when` is conditions
 * joined by " and ": "section.key=a|b" (the value is one of them; for a list every element is; ""
 * stands for empty) or "section.key!=a|b". An owned section's key that is not set reads as "", and one
 * set to "" is not reported. */
typedef struct loom_cfg_rule {
  const char *key, *when, *reason;
} loom_cfg_rule;
/* Checks rules[0..n) in order; returns 0, or -1 with err naming where the first inert key was set. */
int loom_config_check_rules(const loom_config *c, const loom_cfg_rule *rules, int n, loom_error *err);
/* One line per rule ("key  has no effect when ..."), for --help-config. */
void loom_config_print_rules(const loom_cfg_rule *rules, int n, void *file /* FILE* */);

/* v as an INI value that reads back as v: in double quotes (\" and \\ escaped) when it has leading or
 * trailing white space or holds ; # " or =, as is otherwise. Writes at most cap bytes (NUL included;
 * out may be NULL with cap 0); returns the length of the whole quoted text. */
size_t loom_config_quote(const char *v, char *out, size_t cap);

/* The resolved config as INI text (every declared key, then owned sections); caller frees with
 * loom_free. Loading it back gives the same config. */
char *loom_config_dump(const loom_config *c);
/* Edit distance of two keys (99 past 63 characters), for "did you mean" hints: the config suggests a
 * declared key within 2 edits; owned sections do the same with their own keys. */
int loom_config_edit_distance(const char *a, const char *b);
/* Human-readable reference of every key: section, key, type, default, choices, doc. */
void loom_config_print_reference(const loom_config *c, void *file /* FILE* */);

#ifdef __cplusplus
}
#endif
#endif
