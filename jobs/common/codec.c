/*
 * codec.c - SHA-256 hex and Base64 over OpenSSL libcrypto (see codec.h; spec dedup-job.md §4.1,
 * §5.2). Stateless: each call uses only its arguments and stack memory, so everything is
 * thread-safe. No data structure of its own.
 */
#include "jobs/common/codec.h"

#include <openssl/evp.h>
#include <string.h>

void wj_sha256_hex(const void *p, size_t n, char out[65]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        memset(out, '0', 64); /* not reachable with a working libcrypto */
        out[64] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

void wj_base64(weir_buf *out, const void *p, size_t n) {
    const unsigned char *in = p;
    /* EVP_EncodeBlock takes an int length: encode in chunks that are multiples of 3 bytes */
    const size_t chunk = (size_t)3 << 20;
    while (n > 0) {
        size_t k = n < chunk ? n : chunk;
        size_t olen = 4 * ((k + 2) / 3);
        if (weir_buf_reserve(out, olen + 1)) return;
        int w = EVP_EncodeBlock((unsigned char *)out->data + out->len, in, (int)k);
        out->len += (size_t)w;
        out->data[out->len] = '\0';
        in += k;
        n -= k;
    }
}
