/* sha256.c — SHA-256 through Debian's libcrypto (its SHA-NI code: 1.9 GB/s here against 0.3 GB/s for
 * the FIPS 180-4 loop loom had; docs/benchmarks.md). Fingerprints a run's input files (regular files
 * only, through loom_file_open_regular, stoppable by SIGINT / SIGTERM) and checksums tensors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loom/file.h"
#include "loom/sha256.h"

/* The 1.1.1 API of libcrypto: SHA256_CTX lives inside loom_sha256, so hashing allocates nothing
 * (OpenSSL 3 deprecates it in favour of EVP, whose contexts are heap objects). */
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((loom_sha256 *)0)->state), "loom_sha256 too small for SHA256_CTX");

void loom_sha256_init(loom_sha256 *s) { SHA256_Init((SHA256_CTX *)s->state); }
void loom_sha256_update(loom_sha256 *s, const void *data, size_t n) { SHA256_Update((SHA256_CTX *)s->state, data, n); }
void loom_sha256_final(loom_sha256 *s, uint8_t digest[32]) { SHA256_Final(digest, (SHA256_CTX *)s->state); }

static void to_hex(const uint8_t d[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) hex[2 * i] = digits[d[i] >> 4], hex[2 * i + 1] = digits[d[i] & 15];
  hex[64] = 0;
}

void loom_sha256_hex(const void *data, size_t n, char hex[65]) {
  loom_sha256 s;
  uint8_t d[32];
  loom_sha256_init(&s);
  loom_sha256_update(&s, data, n);
  loom_sha256_final(&s, d);
  to_hex(d, hex);
}

int loom_sha256_file(const char *path, char hex[65], loom_error *err) {
  /* a FIFO or device (/dev/zero) is refused before a byte is read, exactly the fstat size is hashed
   * (a file that grows meanwhile is an error, not an endless hash), and a SIGINT / SIGTERM stops it
   * within a MiB */
  uint64_t size = 0;
  int fd = loom_file_open_regular(path, 0, "input", NULL, &size, err);
  if (fd == -2) return loom_errorf(err, "%s: cannot open to hash it: %s", path, strerror(errno));
  if (fd < 0) return -1;
  loom_sha256 s;
  uint8_t buf[1 << 16], d[32];
  loom_sha256_init(&s);
  uint64_t got = 0, next_poll = (uint64_t)1 << 20;
  int rc = 0;
  for (;;) {
    size_t want = sizeof buf;
    if (got + want > size + 1) want = (size_t)(size + 1 - got); /* +1: notice growth */
    if (want == 0) break;
    ssize_t k = read(fd, buf, want);
    if (k < 0 && errno == EINTR && !loom_stop_requested()) continue;
    if (k < 0 && errno == EINTR) { rc = loom_errorf(err, "%s: interrupted (SIGINT or SIGTERM) while hashing it", path); break; }
    if (k < 0) { rc = loom_errorf(err, "%s: read error while hashing it: %s", path, strerror(errno)); break; }
    if (k == 0) break;
    loom_sha256_update(&s, buf, (size_t)k);
    got += (uint64_t)k;
    if (got >= next_poll) {
      next_poll += (uint64_t)1 << 20;
      if (loom_stop_requested()) { rc = loom_errorf(err, "%s: interrupted (SIGINT or SIGTERM) while hashing it", path); break; }
    }
  }
  close(fd);
  if (rc == 0 && got != size)
    rc = loom_errorf(err, "%s: the file changed size while being hashed (%llu bytes, then %llu%s) — hash it again when it is complete",
                     path, (unsigned long long)size, (unsigned long long)got, got > size ? " or more" : "");
  if (rc < 0) return -1;
  loom_sha256_final(&s, d);
  to_hex(d, hex);
  return 0;
}
