"""The Python test of libstatustoken.so, through ctypes (standard library only).

    STATUSTOKEN_LIB=/path/to/libstatustoken.so STATUSTOKEN_FIXTURE=/path/to/fixture \
        python3 test/test_ctypes.py -v

The fixture is what `go run ./cmd/fixture -out DIR` writes. The codes are
read from statustoken.h (next to this directory), so that this test checks
the header's numbers and names against the library's, and the structure
layouts against the sizes the header fixes.
"""

import ctypes
import os
import random
import re
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "..", "statustoken.h")
LIB = os.environ.get("STATUSTOKEN_LIB", os.path.join(HERE, "..", "libstatustoken.so"))
FIXTURE = os.environ.get("STATUSTOKEN_FIXTURE", "")


def header_codes():
    """The enum of statustoken.h: name -> number."""
    with open(HEADER) as f:
        text = f.read()
    enum = text[text.index("enum {"):]
    enum = enum[: enum.index("};")]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"\b(ST_[A-Z_]+)\s*=\s*(\d+)", enum)}


def header_define(name):
    with open(HEADER) as f:
        m = re.search(r"#define %s (\w+)" % name, f.read())
    return int(m.group(1).rstrip("uU"), 0)


CODES = header_codes()
globals().update(CODES)  # ST_OK, ST_ERR_MALFORMED, ...
ST_MAX_TOKEN_SIZE = header_define("ST_MAX_TOKEN_SIZE")
ST_MAX_TEXT_SIZE = header_define("ST_MAX_TEXT_SIZE")
ST_MAX_TRUST_SIZE = header_define("ST_MAX_TRUST_SIZE")
ST_MAX_DIRECTORY_SIZE = header_define("ST_MAX_DIRECTORY_SIZE")
ST_MAX_SIGNATURE_SIZE = header_define("ST_MAX_SIGNATURE_SIZE")
ST_MAX_PROOF_SIZE = header_define("ST_MAX_PROOF_SIZE")
ST_MAX_BATCH = header_define("ST_MAX_BATCH")
ST_STATUS_NAME_SIZE = header_define("ST_STATUS_NAME_SIZE")
ST_FLAG_REPLAY = header_define("ST_FLAG_REPLAY")
SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1


class Options(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint32),
        ("spent_limit", ctypes.c_uint32),
        ("now", ctypes.c_int64),
        ("skew", ctypes.c_int64),
        ("min_serial", ctypes.c_uint64),
        ("workers", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


class Result(ctypes.Structure):
    _fields_ = [
        ("expiry", ctypes.c_int64),
        ("suite", ctypes.c_uint8),
        ("status", ctypes.c_uint8),
        ("replay", ctypes.c_uint8),
        ("reserved", ctypes.c_uint8),
        ("key_id", ctypes.c_uint8 * 8),
        ("status_name", ctypes.c_char * ST_STATUS_NAME_SIZE),
    ]


u8p = ctypes.POINTER(ctypes.c_uint8)
lib = ctypes.CDLL(LIB)
lib.st_verifier_new.argtypes = [ctypes.c_void_p, ctypes.c_size_t] * 4 + [
    ctypes.POINTER(Options), ctypes.POINTER(ctypes.c_size_t)]
lib.st_verifier_new.restype = ctypes.c_int
lib.st_verifier_free.argtypes = [ctypes.c_size_t]
lib.st_verifier_free.restype = ctypes.c_int
for fn in (lib.st_verify, lib.st_verify_text):
    fn.argtypes = [ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(Result)]
    fn.restype = ctypes.c_int
for fn in (lib.st_verify_batch, lib.st_verify_text_batch):
    fn.argtypes = [ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
                   ctypes.c_size_t, ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(Result)]
    fn.restype = ctypes.c_int
lib.st_error_name.argtypes = [ctypes.c_int]
lib.st_error_name.restype = ctypes.c_char_p


def name(code):
    return lib.st_error_name(code).decode()


def read(name):
    with open(os.path.join(FIXTURE, name), "rb") as f:
        return f.read()


def manifest():
    out = {}
    for line in read("fixture.txt").decode().splitlines():
        k, v = line.split(" ", 1)
        out[k] = int(v) if k in ("now", "start", "epoch_length", "expiry") else bytes.fromhex(v)
    return out


def cbuf(data):
    """A C buffer of exactly len(data) bytes (None for empty), kept alive by the caller."""
    if not data:
        return None
    return ctypes.create_string_buffer(bytes(data), len(data))


class Verifier:
    """A verifier handle, with the calls of the C API."""

    def __init__(self, files=None, options=None):
        f = {"directory": read("directory"), "signature": read("signature"),
             "proof": read("proof"), "trust": read("trust")}
        f.update(files or {})
        self.code, self.handle = new(f["directory"], f["signature"], f["proof"], f["trust"], options)

    def verify(self, token, text=False, result=None):
        b = cbuf(token)
        fn = lib.st_verify_text if text else lib.st_verify
        return fn(self.handle, b, len(token), ctypes.byref(result) if result is not None else None)

    def batch(self, tokens, text=False, results=False):
        n = len(tokens)
        bufs = [cbuf(t) for t in tokens]
        ptrs = (ctypes.c_void_p * max(n, 1))(*[ctypes.cast(b, ctypes.c_void_p) if b else None for b in bufs])
        lens = (ctypes.c_size_t * max(n, 1))(*[len(t) for t in tokens])
        codes = (ctypes.c_int32 * max(n, 1))(*([-7] * n))
        res = (Result * max(n, 1))() if results else None
        fn = lib.st_verify_text_batch if text else lib.st_verify_batch
        rc = fn(self.handle, ptrs, lens, n, codes, res)
        return rc, list(codes)[:n], (list(res)[:n] if results else None)

    def free(self):
        return lib.st_verifier_free(self.handle)


def new(directory, signature, proof, trust, options=None):
    bufs = [cbuf(x) for x in (directory, signature, proof, trust)]
    handle = ctypes.c_size_t(12345)
    rc = lib.st_verifier_new(bufs[0], len(directory), bufs[1], len(signature), bufs[2], len(proof),
                             bufs[3], len(trust), ctypes.byref(options) if options else None,
                             ctypes.byref(handle))
    if rc != ST_OK:
        assert handle.value == 0, "handle stored with code %d" % rc
    return rc, handle.value


def load_code(files=None, **opts):
    v = Verifier(files, Options(**opts) if opts else None)
    if v.code == ST_OK:
        assert v.handle != 0
        assert v.free() == ST_OK
    return v.code


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not FIXTURE:
            raise unittest.SkipTest("STATUSTOKEN_FIXTURE not set")
        cls.m = manifest()

    def assertCode(self, got, want, what=""):
        self.assertEqual(got, want, "%s: got %s, want %s" % (what, name(got), name(want)))


class TestLayout(unittest.TestCase):
    def test_sizes(self):
        self.assertEqual(ctypes.sizeof(Options), 40)
        self.assertEqual(ctypes.sizeof(Result), 56)
        self.assertEqual(Result.status_name.offset, 20)

    def test_error_names(self):
        self.assertEqual(len(CODES), 27)
        self.assertEqual(len(set(CODES.values())), len(CODES), "two codes share a number")
        for ident, code in CODES.items():
            self.assertEqual(name(code), ident)
        for code in list(range(-1, 101)) + [-2 ** 31, 2 ** 31 - 1]:
            if code not in CODES.values():
                self.assertEqual(name(code), "ST_UNKNOWN_CODE")


class TestNew(Base):
    def test_good(self):
        self.assertCode(load_code(), ST_OK)
        for opts in ({"flags": ST_FLAG_REPLAY}, {"skew": -1}, {"skew": 86400}, {"workers": 1},
                     {"now": self.m["now"]}, {"min_serial": 1}, {"now": self.m["now"] + 47 * 3600}):
            self.assertCode(load_code(**opts), ST_OK, opts)

    def test_bad_options(self):
        for opts in ({"flags": 2}, {"reserved": 1}, {"now": -1}, {"now": 2 ** 33}, {"skew": 86401},
                     {"workers": 1025}):
            self.assertCode(load_code(**opts), ST_ERR_INVALID_ARGUMENT, opts)

    def test_arguments(self):
        d, s, p, t = (cbuf(read(n)) for n in ("directory", "signature", "proof", "trust"))
        h = ctypes.c_size_t(5)
        self.assertCode(lib.st_verifier_new(d, len(d), s, len(s), p, len(p), t, len(t), None, None),
                        ST_ERR_INVALID_ARGUMENT, "NULL verifier")
        self.assertCode(lib.st_verifier_new(None, len(d), s, len(s), p, len(p), t, len(t), None, ctypes.byref(h)),
                        ST_ERR_INVALID_ARGUMENT, "NULL directory")
        self.assertEqual(h.value, 0)
        one = cbuf(b"x")
        for args, want in (
                ((d, len(d), s, len(s), p, len(p), one, ST_MAX_TRUST_SIZE + 1), ST_ERR_MALFORMED_TRUST),
                ((one, ST_MAX_DIRECTORY_SIZE + 1, s, len(s), p, len(p), t, len(t)), ST_ERR_MALFORMED_DIRECTORY),
                ((d, len(d), one, ST_MAX_SIGNATURE_SIZE + 1, p, len(p), t, len(t)), ST_ERR_DIRECTORY_SIGNATURE),
                ((d, len(d), s, len(s), one, ST_MAX_PROOF_SIZE + 1, t, len(t)), ST_ERR_NOT_LOGGED),
                ((one, SIZE_MAX, one, SIZE_MAX, one, SIZE_MAX, one, SIZE_MAX), ST_ERR_MALFORMED_TRUST)):
            self.assertCode(lib.st_verifier_new(*args, None, ctypes.byref(h)), want)

    def test_refused(self):
        sig = bytearray(read("signature"))
        sig[10] ^= 1
        d = bytearray(read("directory"))
        d[len(d) // 2] ^= 0x20
        proof = read("proof")
        i = proof.index(b"\n1\n") + 4
        changed_root = proof[:i] + (b"B" if proof[i:i + 1] == b"A" else b"A") + proof[i + 1:]
        cases = [
            ({"signature": bytes(sig)}, ST_ERR_DIRECTORY_SIGNATURE),
            ({"signature": read("signature")[:63]}, ST_ERR_DIRECTORY_SIGNATURE),
            ({"directory": bytes(d)}, ST_ERR_DIRECTORY_SIGNATURE),
            ({"directory": read("directory_malformed"), "signature": read("signature_malformed")},
             ST_ERR_MALFORMED_DIRECTORY),
            ({"directory": read("directory_invalid"), "signature": read("signature_invalid")},
             ST_ERR_INVALID_DIRECTORY),
            ({"proof": b""}, ST_ERR_NOT_LOGGED),
            ({"proof": proof[:-10]}, ST_ERR_NOT_LOGGED),
            ({"proof": changed_root}, ST_ERR_QUORUM),
            ({"proof": read("proof_log_only")}, ST_ERR_QUORUM),
            ({"trust": b""}, ST_ERR_MALFORMED_TRUST),
            ({"trust": b"root nonsense\n"}, ST_ERR_MALFORMED_TRUST),
            ({"trust": read("trust")[:-16]}, ST_ERR_MALFORMED_TRUST),
        ]
        for files, want in cases:
            self.assertCode(load_code(files), want, list(files))
        self.assertCode(load_code(min_serial=2), ST_ERR_ROLLBACK)
        self.assertCode(load_code(now=self.m["now"] + 49 * 3600), ST_ERR_STALE)


class TestVerify(Base):
    def setUp(self):
        self.v = Verifier()
        self.assertCode(self.v.code, ST_OK)

    def tearDown(self):
        self.assertCode(self.v.free(), ST_OK)

    def check_result(self, r, suite, status, status_name):
        self.assertEqual((r.suite, r.status, r.status_name.decode(), r.expiry, r.reserved),
                         (suite, status, status_name, self.m["expiry"], 0))

    def test_valid(self):
        m = self.m
        for tok, text, suite, status, sname in (
                (m["ed_valid"], False, 1, 1, "green"), (m["ed_valid_text"], True, 1, 1, "green"),
                (m["ed_red"], False, 1, 2, "red"), (m["rsa_valid"], False, 2, 1, "green"),
                (m["rsa_valid_text"], True, 2, 1, "green")):
            r = Result()
            ctypes.memset(ctypes.byref(r), 0xAA, ctypes.sizeof(r))
            self.assertCode(self.v.verify(tok, text, r), ST_OK)
            self.check_result(r, suite, status, sname)
            self.assertEqual(r.replay, 0)
        r = Result()
        self.v.verify(m["ed_valid"], False, r)
        self.assertEqual(bytes(r.key_id), m["ed_key_id"])
        self.assertEqual(bytes(r)[20 + 5:], bytes(ST_STATUS_NAME_SIZE - 5 + 3), "name padding")
        self.assertCode(self.v.verify(m["ed_valid"]), ST_OK, "NULL result")

    def test_refused(self):
        m = self.m
        for key, want in (("ed_tampered", ST_ERR_INVALID_SIGNATURE), ("rsa_tampered", ST_ERR_INVALID_SIGNATURE),
                          ("ed_wrong_status", ST_ERR_KEY_MISMATCH), ("ed_unknown_key", ST_ERR_UNKNOWN_KEY),
                          ("ed_expired", ST_ERR_EXPIRED)):
            r = Result()
            ctypes.memset(ctypes.byref(r), 0xAA, ctypes.sizeof(r))
            self.assertCode(self.v.verify(m[key], False, r), want, key)
            self.assertEqual(bytes(r), bytes(56), key + ": result not zeroed")
        self.assertCode(self.v.verify(m["ed_valid"][:-1]), ST_ERR_MALFORMED)
        self.assertCode(self.v.verify(m["ed_valid"], text=True), ST_ERR_MALFORMED)
        self.assertCode(self.v.verify(m["ed_valid_text"]), ST_ERR_MALFORMED)
        self.assertCode(self.v.verify(m["ed_valid_text"] + b"\0", text=True), ST_ERR_MALFORMED)
        self.assertCode(self.v.verify(b""), ST_ERR_MALFORMED)
        self.assertCode(lib.st_verify(self.v.handle, None, 1, None), ST_ERR_INVALID_ARGUMENT)
        self.assertCode(lib.st_verify_text(self.v.handle, None, 1, None), ST_ERR_INVALID_ARGUMENT)
        one = cbuf(b"x")
        self.assertCode(lib.st_verify(self.v.handle, one, ST_MAX_TOKEN_SIZE + 1, None), ST_ERR_MALFORMED)
        self.assertCode(lib.st_verify(self.v.handle, one, SIZE_MAX, None), ST_ERR_MALFORMED)
        self.assertCode(lib.st_verify_text(self.v.handle, one, ST_MAX_TEXT_SIZE + 1, None), ST_ERR_MALFORMED)

    def test_handles(self):
        tok = cbuf(self.m["ed_valid"])
        for h in (0, 123456789, self.v.handle + 1000, SIZE_MAX):
            self.assertCode(lib.st_verify(h, tok, 111, None), ST_ERR_INVALID_HANDLE, h)
        self.assertCode(lib.st_verifier_free(0), ST_OK)
        self.assertCode(lib.st_verifier_free(123456789), ST_ERR_INVALID_HANDLE)
        w = Verifier()
        self.assertNotEqual(w.handle, self.v.handle)
        self.assertCode(w.verify(self.m["ed_valid"]), ST_OK)
        self.assertCode(w.free(), ST_OK)
        self.assertCode(w.verify(self.m["ed_valid"]), ST_ERR_INVALID_HANDLE)
        self.assertCode(w.free(), ST_ERR_INVALID_HANDLE)
        rc, codes, _ = w.batch([self.m["ed_valid"]])
        self.assertEqual((rc, codes), (ST_ERR_INVALID_HANDLE, [ST_ERR_INVALID_HANDLE]))

    def test_panic_recovered(self):
        """A pointer near 0 makes the library fault; the Go panic is recovered, not passed to Python."""
        h = self.v.handle
        r = Result()
        self.assertCode(lib.st_verify(h, 8, 100, ctypes.byref(r)), ST_ERR_INTERNAL)
        self.assertEqual(bytes(r), bytes(56))
        tok = cbuf(self.m["ed_valid"])
        ptrs = (ctypes.c_void_p * 2)(ctypes.cast(tok, ctypes.c_void_p), 8)
        lens = (ctypes.c_size_t * 2)(111, 100)
        codes = (ctypes.c_int32 * 2)(7, 7)
        self.assertCode(lib.st_verify_batch(h, ptrs, lens, 2, codes, None), ST_ERR_INTERNAL)
        self.assertEqual(list(codes), [ST_ERR_INTERNAL] * 2)
        self.assertCode(self.v.verify(self.m["ed_valid"]), ST_OK, "after the panic")
        self.assertEqual(self.v.batch([self.m["ed_valid"]])[0], ST_OK)

    def test_batch(self):
        m = self.m
        mix = [(m["ed_valid"], ST_OK), (m["ed_tampered"], ST_ERR_INVALID_SIGNATURE), (m["rsa_valid"], ST_OK),
               (m["ed_unknown_key"], ST_ERR_UNKNOWN_KEY), (m["ed_valid"][:50], ST_ERR_MALFORMED),
               (m["ed_expired"], ST_ERR_EXPIRED), (m["ed_wrong_status"], ST_ERR_KEY_MISMATCH),
               (b"", ST_ERR_MALFORMED), (m["ed_red"], ST_OK), (m["rsa_tampered"], ST_ERR_INVALID_SIGNATURE),
               (m["ed_valid_text"], ST_ERR_MALFORMED), (m["ed_valid"], ST_OK)]
        rc, codes, results = self.v.batch([t for t, _ in mix], results=True)
        self.assertCode(rc, ST_ERR_BATCH)
        self.assertEqual([name(c) for c in codes], [name(w) for _, w in mix])
        for (tok, want), r in zip(mix, results):
            self.assertCode(self.v.verify(tok), want)
            if want != ST_OK:
                self.assertEqual(bytes(r), bytes(56))
        self.check_result(results[0], 1, 1, "green")
        self.check_result(results[2], 2, 1, "green")
        self.check_result(results[8], 1, 2, "red")

        rc, codes, results = self.v.batch([m["ed_valid_text"], m["rsa_valid_text"], b"HT1:", b"", m["ed_valid"]],
                                          text=True, results=True)
        self.assertCode(rc, ST_ERR_BATCH)
        self.assertEqual(codes, [ST_OK, ST_OK] + [ST_ERR_MALFORMED] * 3)
        self.check_result(results[1], 2, 1, "green")

        bench = [bytes.fromhex(l) for l in read("bench.txt").decode().split()]
        self.assertEqual(len(bench), 1024)
        rc, codes, _ = self.v.batch(bench)
        self.assertEqual((rc, set(codes)), (ST_OK, {ST_OK}))
        forged = list(bench)
        forged[500] = forged[500][:100] + bytes([forged[500][100] ^ 4]) + forged[500][101:]
        rc, codes, _ = self.v.batch(forged)
        self.assertCode(rc, ST_ERR_BATCH)
        self.assertEqual([i for i, c in enumerate(codes) if c != ST_OK], [500])
        self.assertCode(codes[500], ST_ERR_INVALID_SIGNATURE)

    def test_batch_arguments(self):
        h = self.v.handle
        self.assertCode(lib.st_verify_batch(h, None, None, 0, None, None), ST_OK)
        codes = (ctypes.c_int32 * 4)(77, 77, 77, 77)
        lens = (ctypes.c_size_t * 4)(0, 0, 0, 0)
        ptrs = (ctypes.c_void_p * 4)()
        self.assertCode(lib.st_verify_batch(h, ptrs, lens, ST_MAX_BATCH + 1, codes, None), ST_ERR_INVALID_ARGUMENT)
        self.assertCode(lib.st_verify_batch(h, ptrs, lens, SIZE_MAX, codes, None), ST_ERR_INVALID_ARGUMENT)
        self.assertEqual(list(codes), [77] * 4, "codes written for a count out of range")
        self.assertCode(lib.st_verify_batch(h, ptrs, lens, 4, None, None), ST_ERR_INVALID_ARGUMENT)
        self.assertCode(lib.st_verify_batch(h, None, lens, 4, codes, None), ST_ERR_INVALID_ARGUMENT)
        self.assertEqual(list(codes), [ST_ERR_INVALID_ARGUMENT] * 4)
        lens[2] = 5  # a NULL token of 5 bytes
        self.assertCode(lib.st_verify_batch(h, ptrs, lens, 4, codes, None), ST_ERR_INVALID_ARGUMENT)
        lens[2] = 0
        self.assertCode(lib.st_verify_batch(h, ptrs, lens, 4, codes, None), ST_ERR_BATCH)
        self.assertEqual(list(codes), [ST_ERR_MALFORMED] * 4)

    def test_malformed_every_length(self):
        """Inputs of 0..1000 bytes, random and derived from valid tokens, singly and in batches."""
        m = self.m
        b45 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
        total = malformed = 0
        for text in (False, True):
            ed, rsa = (m["ed_valid_text"], m["rsa_valid_text"]) if text else (m["ed_valid"], m["rsa_valid"])
            parsable = (171, 459) if text else (111, 303)
            for n in range(1001):
                rnd = random.Random(n * 2 + text)
                def noise(k):
                    return bytes(rnd.choice(b45) for _ in range(k)) if text else rnd.randbytes(k)
                variants = [(rnd.randbytes(n), False)]
                prefixed = (b"HT1:" + noise(n))[:n] if text else (bytes([1, rnd.choice((1, 2)), 1]) + noise(n))[:n]
                variants.append((prefixed, False))
                for base in (ed, rsa):
                    ext = (base + noise(n))[:n]
                    variants.append((ext, n == len(base)))
                    if n:
                        flipped = bytearray(ext)
                        flipped[rnd.randrange(n)] ^= 1 << rnd.randrange(8)
                        variants.append((bytes(flipped), False))
                variants.append((bytes(n), False))
                variants.append(((b"HT1:" + b"A" * n)[:n] if text else b"\xff" * n, False))
                singles = []
                for data, genuine in variants:
                    code = self.v.verify(data, text)
                    singles.append(code)
                    total += 1
                    what = "%s length %d" % ("text" if text else "binary", n)
                    if genuine:
                        self.assertCode(code, ST_OK, what)
                    elif n not in parsable:
                        self.assertCode(code, ST_ERR_MALFORMED, what)
                        malformed += 1
                    else:
                        self.assertTrue(ST_ERR_MALFORMED <= code <= ST_ERR_INVALID_SIGNATURE, name(code))
                rc, codes, results = self.v.batch([d for d, _ in variants], text, results=True)
                self.assertCode(rc, ST_ERR_BATCH)
                self.assertEqual(codes, singles, "batch and single disagree at length %d" % n)
                for c, r in zip(codes, results):
                    if c != ST_OK:
                        self.assertEqual(bytes(r), bytes(56))
                # The same bytes in the other form.
                rc, codes, _ = self.v.batch([d for d, _ in variants], not text)
                self.assertEqual(codes, [self.v.verify(d, not text) for d, _ in variants])
                self.assertNotIn(ST_OK, codes)
        self.assertGreater(total, 14000)
        self.assertGreater(malformed, 13000)


class TestClock(Base):
    def test_epoch_start(self):
        m = self.m
        v = Verifier(options=Options(now=m["start"]))
        self.assertCode(v.code, ST_OK)
        for key, want in (("ed_valid", ST_OK), ("ed_next", ST_ERR_NOT_YET_VALID),
                          ("ed_far", ST_ERR_TOO_FAR_AHEAD), ("ed_expired", ST_ERR_EXPIRED)):
            self.assertCode(v.verify(m[key]), want, key)
        v.free()

    def test_expiry(self):
        e = self.m["expiry"]
        for now, skew, want in ((e + 299, 0, ST_OK), (e + 300, 0, ST_ERR_EXPIRED), (e - 1, -1, ST_OK),
                                (e, -1, ST_ERR_EXPIRED), (e + 3599, 3600, ST_OK), (e + 3600, 3600, ST_ERR_EXPIRED)):
            v = Verifier(options=Options(now=now, skew=skew))
            self.assertCode(v.code, ST_OK)
            self.assertCode(v.verify(self.m["ed_valid"]), want, (now - e, skew))
            self.assertCode(v.verify(self.m["ed_valid_text"], text=True), want)
            self.assertEqual(v.batch([self.m["ed_valid"]])[1], [want])
            v.free()


class TestReplay(Base):
    def test_replay(self):
        m = self.m
        v = Verifier(options=Options(flags=ST_FLAG_REPLAY))
        r = Result()
        self.assertCode(v.verify(m["ed_valid"], False, r), ST_OK)
        self.assertEqual(r.replay, 1)
        self.assertCode(v.verify(m["ed_valid"]), ST_ERR_REPLAYED)
        self.assertCode(v.verify(m["ed_valid_text"], True), ST_ERR_REPLAYED)
        self.assertCode(v.verify(m["rsa_valid_text"], True), ST_OK)
        self.assertCode(v.verify(m["rsa_valid"]), ST_ERR_REPLAYED)
        self.assertCode(v.verify(m["ed_tampered"]), ST_ERR_INVALID_SIGNATURE)
        rc, codes, results = v.batch([m["ed_red"], m["ed_red"], m["ed_valid"]], results=True)
        self.assertEqual((rc, codes), (ST_ERR_BATCH, [ST_OK, ST_ERR_REPLAYED, ST_ERR_REPLAYED]))
        self.assertEqual(results[0].replay, 1)
        v.free()
        v = Verifier(options=Options(flags=ST_FLAG_REPLAY, spent_limit=1))
        self.assertCode(v.verify(m["ed_valid"]), ST_OK)
        self.assertCode(v.verify(m["ed_red"]), ST_ERR_STORE_FULL)
        v.free()

    def test_threads(self):
        """Threads share one replay-protected verifier: each token is accepted once."""
        bench = [bytes.fromhex(l) for l in read("bench.txt").decode().split()]
        v = Verifier(options=Options(flags=ST_FLAG_REPLAY))
        codes = [[None] * len(bench) for _ in range(4)]

        def run(t):
            if t % 2 == 0:
                for i in range(len(bench)):
                    j = (i + 97 * t) % len(bench)
                    codes[t][j] = v.verify(bench[j])
            else:
                for i in range(0, len(bench), 64):
                    idx = [(i + 256 * t + k) % len(bench) for k in range(64)]
                    _, cs, _ = v.batch([bench[j] for j in idx])
                    for j, c in zip(idx, cs):
                        codes[t][j] = c

        threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for i in range(len(bench)):
            col = sorted(codes[t][i] for t in range(4))
            self.assertEqual(col, [ST_OK] + [ST_ERR_REPLAYED] * 3, "token %d" % i)
        v.free()


if __name__ == "__main__":
    unittest.main()
