/*
 * zmqperf: the native libzmq side of zmtpsec's two-process performance
 * comparison. It has the roles, flags and output of cmd/zmtpperf, so that
 * either side of a measurement can be libzmq or zmtpsec:
 *
 *   zmqperf local_thr  [flags]   bind a PULL, receive -count messages of
 *                                -size bytes, print the throughput
 *   zmqperf remote_thr [flags]   connect a PUSH, send -count messages
 *   zmqperf local_lat  [flags]   bind a REP, echo -count+1 messages
 *   zmqperf remote_lat [flags]   connect a REQ, one warm-up round trip and
 *                                -count timed ones; print p50/p90/p99/mean
 *   zmqperf conn_srv   [flags]   bind a ROUTER, echo -count*-clients
 *                                messages, one per connection
 *   zmqperf conn_cli   [flags]   -clients threads, each -count times:
 *                                new DEALER, connect, handshake, one round
 *                                trip, close; print connections/s
 *
 * Flags (one dash or two, "-flag value" or "-flag=value"):
 *   -endpoint E      tcp://127.0.0.1:5555 by default; "*" as the port of a
 *                    bind picks a free one (printed on the READY line)
 *   -size N          payload bytes (default 16)
 *   -count N         messages, round trips or connections per client
 *                    (default 1000000, 10000, 1000 by role)
 *   -clients K       conn_srv, conn_cli: concurrent clients (default 1)
 *   -mechanism M     null, plain or curve (default null)
 *   -server-key F    CURVE client: the server's public key, from a file
 *                    holding 40 Z85 characters or a public certificate
 *   -secret F        CURVE: our secret key, from a file holding 40 Z85
 *                    characters or a secret certificate
 *   -io-threads N    libzmq I/O threads (default 1; conn_srv and conn_cli
 *                    use at least -clients)
 *   -timeout D       give up when a wait lasts longer (default 60s; units
 *                    ms, s, m)
 *
 * Without -server-key and -secret, CURVE uses the fixed test keys below,
 * the same as cmd/zmtpperf's, so the two agree with no setup. They are test
 * keys, published here: never use them for anything else. PLAIN uses the
 * user "perf" with the password "perf"; the server runs a ZAP handler
 * thread that accepts exactly those credentials (libzmq's PLAIN server asks
 * ZAP about every client and refuses all when no handler is bound).
 *
 * Output: one machine-readable line per result, then a human line, e.g.
 *   RESULT role=local_thr impl=libzmq mech=curve size=16 count=1000000
 *          msgs_per_s=... mbit_per_s=... seconds=...
 * A binding role prints "READY endpoint=..." once it listens. Exit status:
 * 0 success, 1 failure, 2 usage error.
 *
 * Build: cc -O2 -o zmqperf zmqperf.c $(pkg-config --cflags --libs libzmq)
 * -lpthread (build.sh does it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

/* The fixed CURVE test keys, Z85 (the same in cmd/zmtpperf). */
static const char server_public_z85[] = "*[W1K*kqse>gLDJOG!O]xTt9EB4-l6/o[.?SUr}#";
static const char server_secret_z85[] = "}Da$okVFe(Y1jLW56O(L/8uoQ(+q7s<vwDy39ioi";
static const char client_public_z85[] = "o>-*E2X-OHNNYWvr}F{6G@[CGm3fwDh//+9IV7!H";
static const char client_secret_z85[] = "mycm?]wI]<S[X^d]Hl?]jl]sBUv{:y[/.LVS6IVt";

/* The fixed PLAIN credentials (the same in cmd/zmtpperf). */
static const char plain_user[] = "perf";
static const char plain_password[] = "perf";

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

enum mech { MECH_NULL, MECH_PLAIN, MECH_CURVE };

static const char *mech_names[] = {"null", "plain", "curve"};

struct options {
	const char *role;
	const char *endpoint;
	long size;
	long count;
	int clients;
	enum mech mech;
	int io_threads;
	int timeout_ms;
	char server_public[41]; /* CURVE, Z85 */
	char our_public[41];
	char our_secret[41];
};

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("zmqperf: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("zmqperf: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nusage: zmqperf local_thr|remote_thr|local_lat|remote_lat|conn_srv|conn_cli"
	      " [-endpoint E] [-size N] [-count N] [-clients K] [-mechanism null|plain|curve]"
	      " [-server-key FILE] [-secret FILE] [-io-threads N] [-timeout D]\n",
	      stderr);
	exit(2);
}

/* zerr dies with the libzmq error of the call that failed. */
static void zerr(const char *what)
{
	if (errno == EAGAIN)
		die("%s: timed out (-timeout)", what);
	die("%s: %s", what, zmq_strerror(errno));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_long(const char *flag, const char *s, long min)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min)
		usage_error("-%s %s: want an integer >= %ld", flag, s, min);
	return v;
}

/* parse_duration_ms reads "60s", "500ms", "2m" or a bare number of seconds. */
static int parse_duration_ms(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || v <= 0)
		usage_error("-timeout %s: want a positive duration such as 60s", s);
	if (strcmp(end, "ms") == 0)
		;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		v *= 1000;
	else if (strcmp(end, "m") == 0)
		v *= 60000;
	else
		usage_error("-timeout %s: want a unit of ms, s or m", s);
	if (v < 1 || v > 2e9)
		usage_error("-timeout %s: out of range", s);
	return (int)v;
}

/*
 * read_key reads a CURVE key from path into z85 (41 bytes): the file is
 * either 40 Z85 characters (surrounding white space ignored) or a ZPL
 * certificate, whose `name = "..."` line is taken (name is "public-key" or
 * "secret-key").
 */
static void read_key(const char *path, const char *name, char *z85)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *s = buf;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (len == 40 && memchr(s, '\n', len) == NULL) {
		memcpy(z85, s, 40);
		z85[40] = '\0';
		return;
	}
	for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (strncmp(line, name, strlen(name)) != 0)
			continue;
		char *q = strchr(line, '"');
		if (q == NULL || strlen(q) < 42 || q[41] != '"')
			die("%s: malformed %s line", path, name);
		memcpy(z85, q + 1, 40);
		z85[40] = '\0';
		return;
	}
	die("%s: no %s: want 40 Z85 characters or a certificate", path, name);
}

static void set_int(void *s, int opt, int v, const char *what)
{
	if (zmq_setsockopt(s, opt, &v, sizeof v) != 0)
		zerr(what);
}

static void set_str(void *s, int opt, const char *v, size_t len, const char *what)
{
	if (zmq_setsockopt(s, opt, v, len) != 0)
		zerr(what);
}

/*
 * new_socket makes a socket of type with bounded waits and the security
 * of a server (the binding side) or a client.
 */
static void *new_socket(void *ctx, int type, const struct options *o, int server)
{
	void *s = zmq_socket(ctx, type);
	if (s == NULL)
		zerr("zmq_socket");
	set_int(s, ZMQ_RCVTIMEO, o->timeout_ms, "ZMQ_RCVTIMEO");
	set_int(s, ZMQ_SNDTIMEO, o->timeout_ms, "ZMQ_SNDTIMEO");
	set_int(s, ZMQ_LINGER, o->timeout_ms, "ZMQ_LINGER");
	switch (o->mech) {
	case MECH_NULL:
		break;
	case MECH_PLAIN:
		if (server) {
			set_int(s, ZMQ_PLAIN_SERVER, 1, "ZMQ_PLAIN_SERVER");
		} else {
			set_str(s, ZMQ_PLAIN_USERNAME, plain_user, strlen(plain_user), "ZMQ_PLAIN_USERNAME");
			set_str(s, ZMQ_PLAIN_PASSWORD, plain_password, strlen(plain_password), "ZMQ_PLAIN_PASSWORD");
		}
		break;
	case MECH_CURVE:
		/* Z85 keys are given with their terminating NUL: 41 bytes. */
		if (server) {
			set_int(s, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER");
			set_str(s, ZMQ_CURVE_SECRETKEY, o->our_secret, 41, "ZMQ_CURVE_SECRETKEY");
		} else {
			set_str(s, ZMQ_CURVE_SERVERKEY, o->server_public, 41, "ZMQ_CURVE_SERVERKEY");
			set_str(s, ZMQ_CURVE_PUBLICKEY, o->our_public, 41, "ZMQ_CURVE_PUBLICKEY");
			set_str(s, ZMQ_CURVE_SECRETKEY, o->our_secret, 41, "ZMQ_CURVE_SECRETKEY");
		}
		break;
	}
	return s;
}

static void *new_context(const struct options *o, int io_threads)
{
	void *ctx = zmq_ctx_new();
	if (ctx == NULL)
		zerr("zmq_ctx_new");
	if (zmq_ctx_set(ctx, ZMQ_IO_THREADS, io_threads) != 0)
		zerr("ZMQ_IO_THREADS");
	(void)o;
	return ctx;
}

/* bind_ready binds s and prints the READY line with the bound endpoint. */
static void bind_ready(void *s, const struct options *o)
{
	if (zmq_bind(s, o->endpoint) != 0)
		zerr(o->endpoint);
	char ep[256];
	size_t len = sizeof ep;
	if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
		zerr("ZMQ_LAST_ENDPOINT");
	printf("READY endpoint=%s\n", ep);
	fflush(stdout);
}

/*
 * The ZAP handler of a PLAIN server: a thread answering on the context's
 * ZAP endpoint, 200 for the fixed credentials and 400 for anything else,
 * until the context is terminated.
 */
static void *zap_handler(void *arg)
{
	void *h = arg;
	for (;;) {
		char frames[8][256];
		size_t lens[8];
		int n = 0, more = 1;
		while (more) {
			char buf[256];
			int len = zmq_recv(h, buf, sizeof buf, 0);
			if (len < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue; /* RCVTIMEO: no request yet */
				zmq_close(h); /* ETERM: the context is ending */
				return NULL;
			}
			if (len > (int)sizeof buf)
				len = sizeof buf;
			if (n < 8) {
				memcpy(frames[n], buf, (size_t)len);
				lens[n] = (size_t)len;
			}
			n++;
			int m = 0;
			size_t ml = sizeof m;
			zmq_getsockopt(h, ZMQ_RCVMORE, &m, &ml);
			more = m;
		}
		/* version, request id, domain, address, identity, mechanism, user, password */
		int ok = n == 8 && lens[5] == 5 && memcmp(frames[5], "PLAIN", 5) == 0 &&
			 lens[6] == strlen(plain_user) && memcmp(frames[6], plain_user, lens[6]) == 0 &&
			 lens[7] == strlen(plain_password) && memcmp(frames[7], plain_password, lens[7]) == 0;
		const char *status = ok ? "200" : "400";
		const char *text = ok ? "OK" : "bad credentials";
		zmq_send(h, "1.0", 3, ZMQ_SNDMORE);
		zmq_send(h, n > 1 ? frames[1] : "", n > 1 ? lens[1] : 0, ZMQ_SNDMORE);
		zmq_send(h, status, 3, ZMQ_SNDMORE);
		zmq_send(h, text, strlen(text), ZMQ_SNDMORE);
		zmq_send(h, ok ? plain_user : "", ok ? strlen(plain_user) : 0, ZMQ_SNDMORE);
		zmq_send(h, "", 0, 0);
	}
}

/* start_zap starts the ZAP handler thread of a PLAIN server, if needed. */
static int start_zap(void *ctx, const struct options *o, pthread_t *t)
{
	if (o->mech != MECH_PLAIN)
		return 0;
	void *h = zmq_socket(ctx, ZMQ_REP);
	if (h == NULL)
		zerr("zmq_socket (ZAP)");
	set_int(h, ZMQ_LINGER, 0, "ZMQ_LINGER (ZAP)");
	if (zmq_bind(h, ZAP_ENDPOINT) != 0)
		zerr(ZAP_ENDPOINT);
	/* pthread_create is the full memory barrier libzmq asks for when a
	 * socket moves to another thread. */
	if (pthread_create(t, NULL, zap_handler, h) != 0)
		die("pthread_create: %s", strerror(errno));
	return 1;
}

/* finish closes s and terminates ctx, which waits for the linger. */
static void finish(void *ctx, void *s, int zap, pthread_t zt)
{
	if (s != NULL)
		zmq_close(s);
	if (zmq_ctx_term(ctx) != 0)
		zerr("zmq_ctx_term");
	if (zap)
		pthread_join(zt, NULL);
}

static void result_prefix(const struct options *o)
{
	printf("RESULT role=%s impl=libzmq mech=%s size=%ld count=%ld", o->role, mech_names[o->mech], o->size,
	       o->count);
}

/* recv_check receives one message into msg and checks its shape. */
static void recv_check(void *s, zmq_msg_t *msg, const struct options *o, const char *what)
{
	if (zmq_msg_recv(msg, s, 0) < 0)
		zerr(what);
	if ((long)zmq_msg_size(msg) != o->size)
		die("%s: got %zu bytes, want %ld", what, zmq_msg_size(msg), o->size);
	if (zmq_msg_more(msg))
		die("%s: got a multipart message, want one frame", what);
}

static void local_thr(const struct options *o)
{
	void *ctx = new_context(o, o->io_threads);
	pthread_t zt;
	int zap = start_zap(ctx, o, &zt);
	void *s = new_socket(ctx, ZMQ_PULL, o, 1);
	bind_ready(s, o);
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	recv_check(s, &msg, o, "recv");
	double t0 = now();
	for (long i = 1; i < o->count; i++)
		recv_check(s, &msg, o, "recv");
	double el = now() - t0;
	zmq_msg_close(&msg);
	finish(ctx, s, zap, zt);
	/* The clock starts when the first message arrives, as in libzmq's
	 * local_thr, so count-1 messages arrive in el. */
	double rate = el > 0 ? (double)(o->count - 1) / el : 0;
	result_prefix(o);
	printf(" msgs_per_s=%.0f mbit_per_s=%.1f seconds=%.3f\n", rate, rate * (double)o->size * 8 / 1e6, el);
	printf("local_thr: %ld messages of %ld B in %.3f s: %.3f M msgs/s, %.1f Mbit/s (libzmq %s)\n", o->count,
	       o->size, el, rate / 1e6, rate * (double)o->size * 8 / 1e6, mech_names[o->mech]);
}

static void remote_thr(const struct options *o)
{
	void *ctx = new_context(o, o->io_threads);
	void *s = new_socket(ctx, ZMQ_PUSH, o, 0);
	if (zmq_connect(s, o->endpoint) != 0)
		zerr(o->endpoint);
	double t0 = now();
	for (long i = 0; i < o->count; i++) {
		zmq_msg_t msg;
		if (zmq_msg_init_size(&msg, (size_t)o->size) != 0)
			zerr("zmq_msg_init_size");
		if (o->size > 0)
			memset(zmq_msg_data(&msg), 'x', (size_t)o->size);
		if (zmq_msg_send(&msg, s, 0) < 0)
			zerr("send");
	}
	finish(ctx, s, 0, (pthread_t)0); /* waits until everything went out */
	double el = now() - t0;
	double rate = el > 0 ? (double)o->count / el : 0;
	result_prefix(o);
	printf(" msgs_per_s=%.0f mbit_per_s=%.1f seconds=%.3f\n", rate, rate * (double)o->size * 8 / 1e6, el);
	printf("remote_thr: sent %ld messages of %ld B in %.3f s, close included (libzmq %s)\n", o->count, o->size,
	       el, mech_names[o->mech]);
}

static void local_lat(const struct options *o)
{
	void *ctx = new_context(o, o->io_threads);
	pthread_t zt;
	int zap = start_zap(ctx, o, &zt);
	void *s = new_socket(ctx, ZMQ_REP, o, 1);
	bind_ready(s, o);
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	for (long i = 0; i < o->count + 1; i++) { /* one warm-up round trip */
		recv_check(s, &msg, o, "recv");
		if (zmq_msg_send(&msg, s, 0) < 0)
			zerr("send");
	}
	zmq_msg_close(&msg);
	finish(ctx, s, zap, zt);
	printf("local_lat: echoed %ld messages of %ld B (libzmq %s)\n", o->count + 1, o->size, mech_names[o->mech]);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* percentile is the nearest-rank percentile p of the sorted v[0..n-1]. */
static double percentile(const double *v, long n, int p)
{
	long rank = (n * p + 99) / 100; /* ceil(n*p/100) */
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static void remote_lat(const struct options *o)
{
	if (o->count < 1)
		usage_error("remote_lat needs -count >= 1");
	void *ctx = new_context(o, o->io_threads);
	void *s = new_socket(ctx, ZMQ_REQ, o, 0);
	if (zmq_connect(s, o->endpoint) != 0)
		zerr(o->endpoint);
	double *lat = malloc(sizeof(double) * (size_t)o->count);
	char *payload = malloc((size_t)o->size + 1);
	if (lat == NULL || payload == NULL)
		die("out of memory");
	memset(payload, 'x', (size_t)o->size);
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	double total = 0;
	for (long i = -1; i < o->count; i++) { /* i == -1: the warm-up */
		double t0 = now();
		if (zmq_send(s, payload, (size_t)o->size, 0) < 0)
			zerr("send");
		recv_check(s, &msg, o, "recv");
		double d = now() - t0;
		if (i >= 0) {
			lat[i] = d;
			total += d;
		}
	}
	zmq_msg_close(&msg);
	finish(ctx, s, 0, (pthread_t)0);
	qsort(lat, (size_t)o->count, sizeof(double), cmp_double);
	double p50 = percentile(lat, o->count, 50) * 1e6, p90 = percentile(lat, o->count, 90) * 1e6,
	       p99 = percentile(lat, o->count, 99) * 1e6, mean = total / (double)o->count * 1e6;
	result_prefix(o);
	printf(" p50_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f seconds=%.3f\n", p50, p90, p99, mean, total);
	printf("remote_lat: %ld round trips of %ld B: p50 %.2f us, p90 %.2f us, p99 %.2f us, mean %.2f us (libzmq "
	       "%s)\n",
	       o->count, o->size, p50, p90, p99, mean, mech_names[o->mech]);
	free(lat);
	free(payload);
}

static void conn_srv(const struct options *o)
{
	int io = o->io_threads > o->clients ? o->io_threads : o->clients;
	void *ctx = new_context(o, io);
	pthread_t zt;
	int zap = start_zap(ctx, o, &zt);
	void *s = new_socket(ctx, ZMQ_ROUTER, o, 1);
	bind_ready(s, o);
	long total = o->count * o->clients;
	zmq_msg_t id, msg;
	zmq_msg_init(&id);
	zmq_msg_init(&msg);
	for (long i = 0; i < total; i++) {
		if (zmq_msg_recv(&id, s, 0) < 0)
			zerr("recv routing id");
		if (!zmq_msg_more(&id))
			die("recv: a message without a routing id");
		recv_check(s, &msg, o, "recv");
		if (zmq_msg_send(&id, s, ZMQ_SNDMORE) < 0 || zmq_msg_send(&msg, s, 0) < 0)
			zerr("send");
	}
	zmq_msg_close(&id);
	zmq_msg_close(&msg);
	finish(ctx, s, zap, zt);
	printf("conn_srv: served %ld connections (libzmq %s)\n", total, mech_names[o->mech]);
}

struct client {
	pthread_t t;
	void *ctx;
	const struct options *o;
	const char *err; /* NULL on success */
	int errnum;
};

static void *client_loop(void *arg)
{
	struct client *c = arg;
	const struct options *o = c->o;
	char *payload = malloc((size_t)o->size + 1);
	char *in = malloc((size_t)o->size + 1);
	if (payload == NULL || in == NULL) {
		c->err = "out of memory";
		return NULL;
	}
	memset(payload, 'x', (size_t)o->size);
	for (long i = 0; i < o->count && c->err == NULL; i++) {
		void *s = new_socket(c->ctx, ZMQ_DEALER, o, 0);
		set_int(s, ZMQ_LINGER, 0, "ZMQ_LINGER");
		if (zmq_connect(s, o->endpoint) != 0) {
			c->err = "connect";
		} else if (zmq_send(s, payload, (size_t)o->size, 0) < 0) {
			c->err = "send";
		} else {
			int n = zmq_recv(s, in, (size_t)o->size + 1, 0);
			if (n < 0)
				c->err = "recv";
			else if (n != o->size) {
				c->err = "recv: wrong size";
				errno = 0;
			}
		}
		c->errnum = errno;
		zmq_close(s);
	}
	free(payload);
	free(in);
	return NULL;
}

static void conn_cli(const struct options *o)
{
	int io = o->io_threads > o->clients ? o->io_threads : o->clients;
	void *ctx = new_context(o, io);
	struct client *cs = calloc((size_t)o->clients, sizeof *cs);
	if (cs == NULL)
		die("out of memory");
	double t0 = now();
	for (int i = 0; i < o->clients; i++) {
		cs[i].ctx = ctx;
		cs[i].o = o;
		if (pthread_create(&cs[i].t, NULL, client_loop, &cs[i]) != 0)
			die("pthread_create: %s", strerror(errno));
	}
	for (int i = 0; i < o->clients; i++)
		pthread_join(cs[i].t, NULL);
	double el = now() - t0;
	for (int i = 0; i < o->clients; i++) {
		if (cs[i].err != NULL) {
			errno = cs[i].errnum;
			if (errno != 0)
				zerr(cs[i].err);
			die("%s", cs[i].err);
		}
	}
	finish(ctx, NULL, 0, (pthread_t)0);
	long total = o->count * o->clients;
	double rate = el > 0 ? (double)total / el : 0;
	result_prefix(o);
	printf(" clients=%d conns_per_s=%.1f seconds=%.3f\n", o->clients, rate, el);
	printf("conn_cli: %ld connections (%d clients) in %.3f s: %.1f connections/s (libzmq %s)\n", total,
	       o->clients, el, rate, mech_names[o->mech]);
	free(cs);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct options o = {
		.endpoint = "tcp://127.0.0.1:5555",
		.size = 16,
		.count = -1,
		.clients = 1,
		.mech = MECH_NULL,
		.io_threads = 1,
		.timeout_ms = 60000,
	};
	const char *server_key_file = NULL, *secret_file = NULL;
	if (argc < 2 || argv[1][0] == '-')
		usage_error("the role comes first");
	o.role = argv[1];
	static const struct option longopts[] = {
		{"endpoint", required_argument, NULL, 'e'},   {"size", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'n'},      {"clients", required_argument, NULL, 'k'},
		{"mechanism", required_argument, NULL, 'm'},  {"server-key", required_argument, NULL, 'S'},
		{"secret", required_argument, NULL, 'x'},     {"io-threads", required_argument, NULL, 'i'},
		{"timeout", required_argument, NULL, 't'},    {NULL, 0, NULL, 0},
	};
	optind = 2;
	opterr = 0;
	int c;
	while ((c = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o.endpoint = optarg;
			break;
		case 's':
			o.size = parse_long("size", optarg, 0);
			break;
		case 'n':
			o.count = parse_long("count", optarg, 1);
			break;
		case 'k':
			o.clients = (int)parse_long("clients", optarg, 1);
			break;
		case 'm':
			if (strcmp(optarg, "null") == 0)
				o.mech = MECH_NULL;
			else if (strcmp(optarg, "plain") == 0)
				o.mech = MECH_PLAIN;
			else if (strcmp(optarg, "curve") == 0)
				o.mech = MECH_CURVE;
			else
				usage_error("-mechanism %s: want null, plain or curve", optarg);
			break;
		case 'S':
			server_key_file = optarg;
			break;
		case 'x':
			secret_file = optarg;
			break;
		case 'i':
			o.io_threads = (int)parse_long("io-threads", optarg, 1);
			break;
		case 't':
			o.timeout_ms = parse_duration_ms(optarg);
			break;
		default:
			usage_error("unknown flag or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind != argc)
		usage_error("unexpected argument %s", argv[optind]);

	int server;
	void (*role)(const struct options *);
	long default_count;
	if (strcmp(o.role, "local_thr") == 0) {
		role = local_thr, server = 1, default_count = 1000000;
	} else if (strcmp(o.role, "remote_thr") == 0) {
		role = remote_thr, server = 0, default_count = 1000000;
	} else if (strcmp(o.role, "local_lat") == 0) {
		role = local_lat, server = 1, default_count = 10000;
	} else if (strcmp(o.role, "remote_lat") == 0) {
		role = remote_lat, server = 0, default_count = 10000;
	} else if (strcmp(o.role, "conn_srv") == 0) {
		role = conn_srv, server = 1, default_count = 1000;
	} else if (strcmp(o.role, "conn_cli") == 0) {
		role = conn_cli, server = 0, default_count = 1000;
	} else {
		usage_error("unknown role %s", o.role);
		return 2;
	}
	if (o.count < 0)
		o.count = default_count;

	if (o.mech != MECH_CURVE && (server_key_file != NULL || secret_file != NULL))
		usage_error("-server-key and -secret need -mechanism curve");
	if (server && server_key_file != NULL)
		usage_error("-server-key is for the connecting side (the CURVE client)");
	if (o.mech == MECH_CURVE) {
		if (server_key_file != NULL)
			read_key(server_key_file, "public-key", o.server_public);
		else
			memcpy(o.server_public, server_public_z85, 41);
		if (secret_file != NULL)
			read_key(secret_file, "secret-key", o.our_secret);
		else
			memcpy(o.our_secret, server ? server_secret_z85 : client_secret_z85, 41);
		if (secret_file == NULL)
			memcpy(o.our_public, server ? server_public_z85 : client_public_z85, 41);
		else if (zmq_curve_public(o.our_public, o.our_secret) != 0)
			die("%s: not a CURVE secret key: %s", secret_file, zmq_strerror(errno));
	}
	role(&o);
	return 0;
}
