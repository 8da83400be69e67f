/* loom/sha256.h — SHA-256 (FIPS 180-4), streaming, for recording the input files of a training run in
 * its checkpoints and checksumming tensors; libcrypto does the work. */
#ifndef LOOM_SHA256_H
#define LOOM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_sha256 {
  _Alignas(16) unsigned char state[128]; /* libcrypto's SHA256_CTX: no allocation, nothing to free */
} loom_sha256;

void loom_sha256_init(loom_sha256 *s);
void loom_sha256_update(loom_sha256 *s, const void *data, size_t n);
/* digest = SHA-256 of everything fed since init. */
void loom_sha256_final(loom_sha256 *s, uint8_t digest[32]);
/* hex (65 bytes incl. NUL) = lower-case hex SHA-256 of data. */
void loom_sha256_hex(const void *data, size_t n, char hex[65]);
/* hex = SHA-256 of the file at path; -1 with err naming the file when it cannot be read. */
int loom_sha256_file(const char *path, char hex[65], loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
