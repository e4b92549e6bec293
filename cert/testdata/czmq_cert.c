/*
 * czmq_cert.c writes CZMQ certificate pairs for the cert package's golden
 * tests. It is built and run only by generate.sh, never by the tests.
 *
 * Usage: czmq_cert DIR
 * Writes DIR/client and DIR/client_secret (the published libzmq test client
 * key pair, with metadata) and DIR/server and DIR/server_secret (a fresh key
 * pair, no metadata).
 */
#include <czmq.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    /* The client key pair from libzmq's zmq_curve man page: test material. */
    const char *public_txt = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    const char *secret_txt = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
    byte public_key[32], secret_key[32];
    if (!zmq_z85_decode(public_key, public_txt) || !zmq_z85_decode(secret_key, secret_txt)) {
        fprintf(stderr, "z85 decode failed\n");
        return 1;
    }
    char path[4096];

    zcert_t *client = zcert_new_from(public_key, secret_key);
    zcert_set_meta(client, "name", "%s", "example-client");
    zcert_set_meta(client, "email", "%s", "client@example.invalid");
    zcert_set_meta(client, "organization", "%s", "O'Example # Ltd");
    snprintf(path, sizeof path, "%s/client", argv[1]);
    if (zcert_save(client, path) != 0) {
        fprintf(stderr, "zcert_save %s failed\n", path);
        return 1;
    }
    zcert_destroy(&client);

    zcert_t *server = zcert_new();
    snprintf(path, sizeof path, "%s/server", argv[1]);
    if (zcert_save(server, path) != 0) {
        fprintf(stderr, "zcert_save %s failed\n", path);
        return 1;
    }
    zcert_destroy(&server);
    return 0;
}
