/* boxperf: the CURVE message crypto of native libzmq, alone, in one thread.
 *
 *   boxperf -size N -count N
 *
 * libzmq 4.3.4 (Debian, built with libsodium) seals every CURVE MESSAGE with
 * crypto_box_afternm over 32 zero bytes, the flags byte and the payload, and
 * opens it with crypto_box_open_afternm (curve_mechanism_base.cpp). This
 * program does exactly that crypto, and nothing else: no copies into fresh
 * messages, no sockets, -count times a seal and an open of a -size byte
 * payload under one precomputed key, the nonce counting up. Its twin
 * bench/boxperf (Go) does the same with zmtpsec's internal/box, so that
 * run-native.sh can say how fast the two crypto libraries are on this
 * machine, in the same run as the socket figures they bound.
 *
 * Output, as zmqperf's:
 *   RESULT role=box_thr impl=libsodium mech=curve size=S count=N msgs_per_s=R mbit_per_s=M seconds=T
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_long(const char *flag, const char *s, long min)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < min) {
		fprintf(stderr, "boxperf: -%s %s: want a number >= %ld\n", flag, s, min);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long size = 16, count = 1000000;
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "-size") == 0)
			size = parse_long("size", argv[++i], 0);
		else if (i + 1 < argc && strcmp(argv[i], "-count") == 0)
			count = parse_long("count", argv[++i], 1);
		else {
			fprintf(stderr, "usage: boxperf [-size N] [-count N]\n");
			return 2;
		}
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "boxperf: sodium_init failed\n");
		return 1;
	}
	unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	unsigned char k[crypto_box_BEFORENMBYTES];
	crypto_box_keypair(pk, sk);
	if (crypto_box_beforenm(k, pk, sk) != 0) {
		fprintf(stderr, "boxperf: crypto_box_beforenm failed\n");
		return 1;
	}
	/* As libzmq lays it out: ZEROBYTES of zeros, the flags byte, the
	 * payload; the box has BOXZEROBYTES of zeros in front. */
	size_t mlen = crypto_box_ZEROBYTES + 1 + (size_t)size;
	unsigned char *m = calloc(1, mlen), *c = calloc(1, mlen), *out = calloc(1, mlen);
	if (m == NULL || c == NULL || out == NULL) {
		fprintf(stderr, "boxperf: out of memory\n");
		return 1;
	}
	memset(m + crypto_box_ZEROBYTES + 1, 'x', (size_t)size);
	unsigned char nonce[crypto_box_NONCEBYTES] = "CurveZMQMESSAGEC";
	double t0 = now();
	for (long i = 0; i < count; i++) {
		uint64_t n = (uint64_t)i + 1;
		for (int b = 0; b < 8; b++)
			nonce[16 + b] = (unsigned char)(n >> (56 - 8 * b));
		crypto_box_afternm(c, m, mlen, nonce, k);
		if (crypto_box_open_afternm(out, c, mlen, nonce, k) != 0) {
			fprintf(stderr, "boxperf: open failed\n");
			return 1;
		}
	}
	double el = now() - t0;
	double rate = el > 0 ? (double)count / el : 0;
	printf("RESULT role=box_thr impl=libsodium mech=curve size=%ld count=%ld msgs_per_s=%.0f mbit_per_s=%.1f seconds=%.3f\n",
	       size, count, rate, rate * (double)size * 8 / 1e6, el);
	printf("box_thr: %ld seals and opens of %ld B in %.3f s: %.3f M/s (libsodium %s)\n", count, size, el,
	       rate / 1e6, sodium_version_string());
	free(m);
	free(c);
	free(out);
	return 0;
}
