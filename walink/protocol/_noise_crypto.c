/*
 * The Noise handshake's symmetric primitives in C, on the OpenSSL 3 libcrypto the interpreter's
 * hashlib already uses: the twin of the pure-Python functions in _noise_crypto.py, which are the
 * reference (tests/protocol/test_noise_crypto.py holds the two byte-exact against each other).
 *
 * Why it exists: a handshake pair runs eight HKDFs, eight AES-GCM operations under keys used once
 * or twice, and a dozen SHA-256 hashes. Through hashlib and cryptography that is some 150 Python
 * calls, each costing more than the hashing it does (SHA-NI hashes a block in a few dozen
 * nanoseconds); here each primitive is one call. Nothing else of the protocol is in C: the
 * handshake's order, its checks and its errors stay in noise.py.
 *
 *   hkdf(salt, ikm) -> (first, second)        RFC 5869 HKDF-SHA256, empty info, 64 bytes, halved
 *   seal(key, counter, plaintext, h) -> (ciphertext, sha256(h + ciphertext))
 *   unseal(key, counter, ciphertext, h) -> (plaintext, sha256(h + ciphertext)) or None
 *   mix(h, data) -> sha256(h + data)
 *
 * seal and unseal are AES-256-GCM with h as the associated data and the Noise nonce (8 zero bytes,
 * then the counter big-endian in 32 bits); unseal returns None when the tag does not verify (the
 * caller raises its own typed error). Arguments must be bytes; sizes are checked and refused with
 * ValueError. Key material on the C stack is wiped before returning.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#if OPENSSL_VERSION_MAJOR < 3
#error "walink's Noise accelerator needs OpenSSL 3 (EVP_MD_fetch, EVP_CIPHER_fetch)"
#endif

#ifndef WALINK_SOURCE_SHA256
#define WALINK_SOURCE_SHA256 ""
#endif

#define HASH_SIZE 32
#define BLOCK_SIZE 64
#define KEY_SIZE 32
#define TAG_SIZE 16
#define IV_SIZE 12
#define MAX_COUNTER 0xFFFFFFFFul

/* Fetched once at import: an implicit fetch on every EVP init would look the algorithm up again. */
static EVP_MD *sha256_md = NULL;
static EVP_CIPHER *aes_gcm = NULL;

static PyObject *
set_openssl_error(const char *what)
{
    PyErr_Format(PyExc_RuntimeError, "OpenSSL failed in %s", what);
    return NULL;
}

/* sha256(a || b) into out; 1 on success. */
static int
sha256_pair(EVP_MD_CTX *ctx, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
            uint8_t out[HASH_SIZE])
{
    return EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 &&
           EVP_DigestUpdate(ctx, a, a_len) == 1 && (b_len == 0 || EVP_DigestUpdate(ctx, b, b_len) == 1) &&
           EVP_DigestFinal_ex(ctx, out, NULL) == 1;
}

/* HMAC-SHA256(key, m1 || m2) into out (RFC 2104); 1 on success. */
static int
hmac_sha256(EVP_MD_CTX *ctx, const uint8_t *key, size_t key_len, const uint8_t *m1, size_t m1_len,
            const uint8_t *m2, size_t m2_len, uint8_t out[HASH_SIZE])
{
    uint8_t block[BLOCK_SIZE];
    uint8_t pad[BLOCK_SIZE];
    uint8_t inner[HASH_SIZE];
    int ok = 1;
    size_t i;

    memset(block, 0, sizeof block);
    if (key_len > BLOCK_SIZE) { /* a key longer than a block is hashed first */
        ok = sha256_pair(ctx, key, key_len, NULL, 0, block);
    }
    else if (key_len > 0) {
        memcpy(block, key, key_len);
    }
    for (i = 0; i < BLOCK_SIZE; i++) pad[i] = block[i] ^ 0x36;
    ok = ok && EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 &&
         EVP_DigestUpdate(ctx, pad, BLOCK_SIZE) == 1 &&
         (m1_len == 0 || EVP_DigestUpdate(ctx, m1, m1_len) == 1) &&
         (m2_len == 0 || EVP_DigestUpdate(ctx, m2, m2_len) == 1) &&
         EVP_DigestFinal_ex(ctx, inner, NULL) == 1;
    for (i = 0; i < BLOCK_SIZE; i++) pad[i] = block[i] ^ 0x5c;
    ok = ok && sha256_pair(ctx, pad, BLOCK_SIZE, inner, HASH_SIZE, out);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok;
}

/* 1 when there are `expected` arguments, all bytes; else 0 with a TypeError. */
static int
check_bytes(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expected, const char *name)
{
    Py_ssize_t i;
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, expected, nargs);
        return 0;
    }
    for (i = 0; i < nargs; i++) {
        if (!PyBytes_Check(args[i])) {
            PyErr_Format(PyExc_TypeError, "%s() argument %zd must be bytes, not %.100s", name, i + 1,
                         Py_TYPE(args[i])->tp_name);
            return 0;
        }
    }
    return 1;
}

static PyObject *
noise_hkdf(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const uint8_t *salt, *ikm;
    Py_ssize_t salt_len, ikm_len;
    uint8_t prk[HASH_SIZE];
    uint8_t first[HASH_SIZE];
    uint8_t second[HASH_SIZE];
    static const uint8_t one = 0x01, two = 0x02;
    EVP_MD_CTX *ctx;
    int ok;
    PyObject *result = NULL;

    (void)module;
    if (!check_bytes(args, nargs, 2, "hkdf")) return NULL;
    salt = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    salt_len = PyBytes_GET_SIZE(args[0]);
    ikm = (const uint8_t *)PyBytes_AS_STRING(args[1]);
    ikm_len = PyBytes_GET_SIZE(args[1]);

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return PyErr_NoMemory();
    /* extract, then the two expand blocks: T(1) = HMAC(PRK, 0x01), T(2) = HMAC(PRK, T(1) | 0x02) */
    ok = hmac_sha256(ctx, salt, (size_t)salt_len, ikm, (size_t)ikm_len, NULL, 0, prk) &&
         hmac_sha256(ctx, prk, HASH_SIZE, &one, 1, NULL, 0, first) &&
         hmac_sha256(ctx, prk, HASH_SIZE, first, HASH_SIZE, &two, 1, second);
    EVP_MD_CTX_free(ctx);
    if (ok) {
        result = Py_BuildValue("(y#y#)", (const char *)first, (Py_ssize_t)HASH_SIZE,
                               (const char *)second, (Py_ssize_t)HASH_SIZE);
    }
    else {
        set_openssl_error("hkdf");
    }
    OPENSSL_cleanse(prk, sizeof prk);
    OPENSSL_cleanse(first, sizeof first);
    OPENSSL_cleanse(second, sizeof second);
    return result;
}

/* The parts seal and unseal share: the key, the nonce from the counter, the text and h. */
typedef struct {
    const uint8_t *key;
    uint8_t iv[IV_SIZE];
    const uint8_t *text;
    Py_ssize_t text_len;
    const uint8_t *h;
    Py_ssize_t h_len;
} aead_args;

static int
parse_aead_args(PyObject *const *args, Py_ssize_t nargs, const char *name, aead_args *out)
{
    unsigned long counter;
    Py_ssize_t i;

    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "%s() takes 4 arguments (%zd given)", name, nargs);
        return 0;
    }
    for (i = 0; i < 4; i++) {
        if (i == 1 ? !PyLong_Check(args[i]) : !PyBytes_Check(args[i])) {
            PyErr_Format(PyExc_TypeError, "%s() argument %zd must be %s, not %.100s", name, i + 1,
                         i == 1 ? "int" : "bytes", Py_TYPE(args[i])->tp_name);
            return 0;
        }
    }
    if (PyBytes_GET_SIZE(args[0]) != KEY_SIZE) {
        PyErr_Format(PyExc_ValueError, "%s(): the key is %d bytes, not %zd", name, KEY_SIZE,
                     PyBytes_GET_SIZE(args[0]));
        return 0;
    }
    counter = PyLong_AsUnsignedLong(args[1]);
    if (counter == (unsigned long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s(): the counter is in 0..2^32-1", name);
        return 0;
    }
    if (counter > MAX_COUNTER) {
        PyErr_Format(PyExc_ValueError, "%s(): the counter is in 0..2^32-1", name);
        return 0;
    }
    /* EVP lengths are ints; a handshake message is far smaller (the frame limit is 16 MiB) */
    if (PyBytes_GET_SIZE(args[2]) > INT_MAX - TAG_SIZE || PyBytes_GET_SIZE(args[3]) > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s(): too long for one AES-GCM call", name);
        return 0;
    }
    out->key = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    memset(out->iv, 0, 8);
    out->iv[8] = (uint8_t)(counter >> 24);
    out->iv[9] = (uint8_t)(counter >> 16);
    out->iv[10] = (uint8_t)(counter >> 8);
    out->iv[11] = (uint8_t)counter;
    out->text = (const uint8_t *)PyBytes_AS_STRING(args[2]);
    out->text_len = PyBytes_GET_SIZE(args[2]);
    out->h = (const uint8_t *)PyBytes_AS_STRING(args[3]);
    out->h_len = PyBytes_GET_SIZE(args[3]);
    return 1;
}

/* (text, sha256(h + ciphertext)) as a new tuple, stealing the reference to text. */
static PyObject *
with_next_hash(PyObject *text, const aead_args *a, const uint8_t *ciphertext, Py_ssize_t length)
{
    uint8_t next_h[HASH_SIZE];
    EVP_MD_CTX *ctx;
    int ok;
    PyObject *result;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        Py_DECREF(text);
        return PyErr_NoMemory();
    }
    ok = sha256_pair(ctx, a->h, (size_t)a->h_len, ciphertext, (size_t)length, next_h);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        Py_DECREF(text);
        return set_openssl_error("sha256");
    }
    result = Py_BuildValue("(Ny#)", text, (const char *)next_h, (Py_ssize_t)HASH_SIZE);
    return result;
}

static PyObject *
noise_seal(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    aead_args a;
    EVP_CIPHER_CTX *ctx;
    PyObject *ciphertext;
    uint8_t *out;
    int length = 0, final_length = 0, ok;

    (void)module;
    if (!parse_aead_args(args, nargs, "seal", &a)) return NULL;
    ciphertext = PyBytes_FromStringAndSize(NULL, a.text_len + TAG_SIZE);
    if (ciphertext == NULL) return NULL;
    out = (uint8_t *)PyBytes_AS_STRING(ciphertext);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        Py_DECREF(ciphertext);
        return PyErr_NoMemory();
    }
    ok = EVP_EncryptInit_ex2(ctx, aes_gcm, a.key, a.iv, NULL) == 1 &&
         (a.h_len == 0 || EVP_EncryptUpdate(ctx, NULL, &length, a.h, (int)a.h_len) == 1) &&
         EVP_EncryptUpdate(ctx, out, &length, a.text, (int)a.text_len) == 1 &&
         EVP_EncryptFinal_ex(ctx, out + length, &final_length) == 1 &&
         length + final_length == a.text_len &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_SIZE, out + a.text_len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        Py_DECREF(ciphertext);
        return set_openssl_error("seal");
    }
    return with_next_hash(ciphertext, &a, out, a.text_len + TAG_SIZE);
}

static PyObject *
noise_unseal(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    aead_args a;
    EVP_CIPHER_CTX *ctx;
    PyObject *plaintext;
    uint8_t *out;
    uint8_t tag[TAG_SIZE];
    Py_ssize_t body_len;
    int length = 0, final_length = 0, ok, verified;

    (void)module;
    if (!parse_aead_args(args, nargs, "unseal", &a)) return NULL;
    if (a.text_len < TAG_SIZE) Py_RETURN_NONE; /* no room for a tag: it cannot verify */
    body_len = a.text_len - TAG_SIZE;
    memcpy(tag, a.text + body_len, TAG_SIZE);
    plaintext = PyBytes_FromStringAndSize(NULL, body_len);
    if (plaintext == NULL) return NULL;
    out = (uint8_t *)PyBytes_AS_STRING(plaintext);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        Py_DECREF(plaintext);
        return PyErr_NoMemory();
    }
    ok = EVP_DecryptInit_ex2(ctx, aes_gcm, a.key, a.iv, NULL) == 1 &&
         (a.h_len == 0 || EVP_DecryptUpdate(ctx, NULL, &length, a.h, (int)a.h_len) == 1) &&
         EVP_DecryptUpdate(ctx, out, &length, a.text, (int)body_len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_SIZE, tag) == 1;
    /* the final step is where the tag is compared: failing there means "does not verify" */
    verified = ok && EVP_DecryptFinal_ex(ctx, out + length, &final_length) == 1 &&
               length + final_length == body_len;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        Py_DECREF(plaintext);
        return set_openssl_error("unseal");
    }
    if (!verified) {
        /* the unverified plaintext never leaves: wipe it before letting it go */
        OPENSSL_cleanse(out, (size_t)body_len);
        Py_DECREF(plaintext);
        Py_RETURN_NONE;
    }
    return with_next_hash(plaintext, &a, a.text, a.text_len);
}

static PyObject *
noise_mix(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    uint8_t out[HASH_SIZE];
    EVP_MD_CTX *ctx;
    int ok;

    (void)module;
    if (!check_bytes(args, nargs, 2, "mix")) return NULL;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return PyErr_NoMemory();
    ok = sha256_pair(ctx, (const uint8_t *)PyBytes_AS_STRING(args[0]),
                     (size_t)PyBytes_GET_SIZE(args[0]), (const uint8_t *)PyBytes_AS_STRING(args[1]),
                     (size_t)PyBytes_GET_SIZE(args[1]), out);
    EVP_MD_CTX_free(ctx);
    if (!ok) return set_openssl_error("mix");
    return PyBytes_FromStringAndSize((const char *)out, HASH_SIZE);
}

static PyMethodDef noise_methods[] = {
    {"hkdf", (PyCFunction)(void (*)(void))noise_hkdf, METH_FASTCALL,
     "hkdf(salt, ikm) -> (first, second): HKDF-SHA256, empty info, the two 32-byte halves."},
    {"seal", (PyCFunction)(void (*)(void))noise_seal, METH_FASTCALL,
     "seal(key, counter, plaintext, h) -> (ciphertext, sha256(h + ciphertext))."},
    {"unseal", (PyCFunction)(void (*)(void))noise_unseal, METH_FASTCALL,
     "unseal(key, counter, ciphertext, h) -> (plaintext, sha256(h + ciphertext)), or None."},
    {"mix", (PyCFunction)(void (*)(void))noise_mix, METH_FASTCALL,
     "mix(h, data) -> sha256(h + data)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef noise_module = {
    PyModuleDef_HEAD_INIT,
    "walink.protocol._noise_crypto_c",
    "The Noise handshake's symmetric primitives on libcrypto (see _noise_crypto.py).",
    -1,
    noise_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__noise_crypto_c(void)
{
    PyObject *module;

    if (sha256_md == NULL) sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    if (aes_gcm == NULL) aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (sha256_md == NULL || aes_gcm == NULL) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL offers no SHA-256 or AES-256-GCM");
        return NULL;
    }
    module = PyModule_Create(&noise_module);
    if (module == NULL) return NULL;
    if (PyModule_AddStringConstant(module, "SOURCE_SHA256", WALINK_SOURCE_SHA256) < 0 ||
        PyModule_AddStringConstant(module, "OPENSSL_VERSION", OpenSSL_version(OPENSSL_VERSION)) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
