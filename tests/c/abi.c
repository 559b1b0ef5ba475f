/*
 * The C ABI from C: compiled and run by tests/c_abi.rs against the freshly built librcemit.so.
 *
 * usage: abi PAYLOAD_FILE DATAGRAM_OUT_FILE
 * Binds a UDP listener on 127.0.0.1, opens a json feed to it, checks every failure path of the API, emits the
 * payload read from PAYLOAD_FILE three times, flushes, reads the counters, and writes the first datagram that
 * arrived (if any) to DATAGRAM_OUT_FILE. Prints "ok" and exits 0 when every check passed.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rcemit.h"

static int failures = 0;

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                           \
        }                                                                         \
    } while (0)

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void last_error(char *out, size_t cap) {
    size_t written = 12345;
    rcemit_result r = rcemit_last_error((uint8_t *)out, cap, &written);
    CHECK(r == RCEMIT_RESULT_OK);
    CHECK(written < cap && out[written] == '\0');
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: abi PAYLOAD_FILE DATAGRAM_OUT_FILE\n");
        return 2;
    }
    size_t payload_len = 0;
    char *payload = read_file(argv[1], &payload_len);
    CHECK(payload != NULL && payload_len > 4);

    /* Versions. */
    CHECK(strcmp(rcemit_version(), "") != 0);
    CHECK(rcemit_payload_version() == 3);

    /* Before any emit: counters are zero, flush has nothing to do. */
    rcemit_stats stats;
    memset(&stats, 0xAB, sizeof stats);
    CHECK(rcemit_stats_read(&stats, sizeof stats) == RCEMIT_RESULT_OK);
    CHECK(stats.enqueued == 0 && stats.sent == 0 && stats.queue_capacity == 10000);
    CHECK(stats.part_failures == 0);
    /* A caller whose struct ends before part_failures (an older header) gets nothing past its end. */
    memset(&stats, 0xAB, sizeof stats);
    CHECK(rcemit_stats_read(&stats, offsetof(rcemit_stats, part_failures)) == RCEMIT_RESULT_OK);
    CHECK(stats.feeds == 0 && stats.part_failures == 0xABABABABABABABABull);
    CHECK(rcemit_stats_read(&stats, 7) == RCEMIT_RESULT_BUFFER_TOO_SMALL);
    CHECK(rcemit_flush(1000) == RCEMIT_RESULT_OK);
    CHECK(rcemit_init(64) == RCEMIT_RESULT_OK);
    CHECK(rcemit_init(2000000) == RCEMIT_RESULT_INVALID_CONFIG);

    /* A loopback listener. */
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(sock, (struct sockaddr *)&addr, sizeof addr) == 0);
    socklen_t addr_len = sizeof addr;
    CHECK(getsockname(sock, (struct sockaddr *)&addr, &addr_len) == 0);
    struct timeval timeout = {2, 0};
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    /* Opening feeds: success, bad configurations, NULL pointers; outputs untouched on failure. */
    char config[512];
    snprintf(config, sizeof config,
             "{\"uri\": \"udp://127.0.0.1:%d\", \"format\": \"json\", \"canonical_server\": \"http://localhost\","
             " \"server_name\": \"localhost\", \"script_path\": \"/w\", \"script\": \"/w/index.php\","
             " \"wiki_id\": \"testwiki\"}",
             ntohs(addr.sin_port));
    uint32_t feed = 0;
    CHECK(rcemit_feed_open(config, strlen(config), &feed) == RCEMIT_RESULT_OK);
    CHECK(feed != 0);
    uint32_t again = 0;
    CHECK(rcemit_feed_open(config, strlen(config), &again) == RCEMIT_RESULT_OK && again == feed);

    uint32_t untouched = 4242;
    const char *bad = "{\"uri\": \"udp://127.0.0.1:9\", \"colour\": \"red\"}";
    CHECK(rcemit_feed_open(bad, strlen(bad), &untouched) == RCEMIT_RESULT_INVALID_CONFIG);
    CHECK(untouched == 4242);
    char message[1024];
    last_error(message, sizeof message);
    CHECK(strstr(message, "\"colour\"") != NULL);
    const char *bad_uri = "{\"uri\": \"udp://[::1:9\"}";
    CHECK(rcemit_feed_open(bad_uri, strlen(bad_uri), &untouched) == RCEMIT_RESULT_INVALID_CONFIG);
    last_error(message, sizeof message);
    CHECK(strstr(message, "\"uri\"") != NULL);
    CHECK(rcemit_feed_open("{", 1, &untouched) == RCEMIT_RESULT_INVALID_CONFIG);
    CHECK(rcemit_feed_open(NULL, 5, &untouched) == RCEMIT_RESULT_NULL_PARAMETER);
    CHECK(rcemit_feed_open(config, strlen(config), NULL) == RCEMIT_RESULT_NULL_PARAMETER);
    CHECK(untouched == 4242);

    /* Result messages: known, unknown, buffer too small (nothing written). */
    size_t written = 0;
    CHECK(rcemit_result_message(RCEMIT_RESULT_OK, (uint8_t *)message, sizeof message, &written) == RCEMIT_RESULT_OK);
    CHECK(written == 2 && strcmp(message, "ok") == 0);
    CHECK(rcemit_result_message(RCEMIT_RESULT_QUEUE_FULL, (uint8_t *)message, sizeof message, &written) ==
          RCEMIT_RESULT_OK);
    CHECK(strstr(message, "queue") != NULL);
    CHECK(rcemit_result_message(1, (uint8_t *)message, sizeof message, &written) == RCEMIT_RESULT_OK);
    CHECK(strstr(message, "unknown") != NULL);
    size_t kept = 99;
    memcpy(message, "XYZ", 4);
    CHECK(rcemit_result_message(RCEMIT_RESULT_PANIC, (uint8_t *)message, 3, &kept) == RCEMIT_RESULT_BUFFER_TOO_SMALL);
    CHECK(kept == 99 && strcmp(message, "XYZ") == 0);
    CHECK(rcemit_result_message(RCEMIT_RESULT_OK, NULL, 10, &kept) == RCEMIT_RESULT_NULL_PARAMETER);
    CHECK(rcemit_result_message(RCEMIT_RESULT_OK, (uint8_t *)message, 10, NULL) == RCEMIT_RESULT_NULL_PARAMETER);
    CHECK(rcemit_stats_read(NULL, sizeof stats) == RCEMIT_RESULT_NULL_PARAMETER);

    /* Once per process: the first time only; NULL refused, nothing written. */
    uint8_t first = 7;
    CHECK(rcemit_once("abi-key", 7, &first) == RCEMIT_RESULT_OK && first == 1);
    CHECK(rcemit_once("abi-key", 7, &first) == RCEMIT_RESULT_OK && first == 0);
    first = 7;
    CHECK(rcemit_once("abi-key", 7, NULL) == RCEMIT_RESULT_NULL_PARAMETER && first == 7);

    /* Emit: garbage handles and NULL are refused; valid ones return at once. */
    CHECK(rcemit_feed_emit(0, payload, payload_len) == RCEMIT_RESULT_UNKNOWN_FEED);
    CHECK(rcemit_feed_emit(0xDEADBEEF, payload, payload_len) == RCEMIT_RESULT_UNKNOWN_FEED);
    CHECK(rcemit_feed_emit(feed, NULL, payload_len) == RCEMIT_RESULT_NULL_PARAMETER);
    for (int i = 0; i < 2; i++) {
        CHECK(rcemit_feed_emit(feed, payload, payload_len) == RCEMIT_RESULT_OK);
    }
    /* Queued without a wake, then woken: the flush below counts it sent like the others. */
    CHECK(rcemit_feed_queue(0, payload, payload_len) == RCEMIT_RESULT_UNKNOWN_FEED);
    CHECK(rcemit_feed_queue(feed, NULL, payload_len) == RCEMIT_RESULT_NULL_PARAMETER);
    CHECK(rcemit_feed_queue(feed, payload, payload_len) == RCEMIT_RESULT_OK);
    CHECK(rcemit_wake() == RCEMIT_RESULT_OK);
    CHECK(rcemit_feed_emit(feed, "garbage", 7) == RCEMIT_RESULT_OK);
    CHECK(rcemit_flush(5000) == RCEMIT_RESULT_OK);
    CHECK(rcemit_init(64) == RCEMIT_RESULT_OK);
    CHECK(rcemit_init(65) == RCEMIT_RESULT_ALREADY_STARTED);

    CHECK(rcemit_stats_read(&stats, sizeof stats) == RCEMIT_RESULT_OK);
    CHECK(stats.enqueued == 4);
    CHECK(stats.invalid_payload == 1);
    CHECK(stats.sent == 3 && stats.format_panics == 0);
    CHECK(stats.queue_depth == 0 && stats.queue_capacity == 64 && stats.feeds == 1);

    /* Whatever arrived first goes to the Rust side, which knows what the formatter produces. */
    char datagram[65536];
    ssize_t n = stats.sent > 0 ? recv(sock, datagram, sizeof datagram, 0) : 0;
    CHECK(n >= 0);
    FILE *out = fopen(argv[2], "wb");
    CHECK(out != NULL);
    if (out) {
        fwrite(datagram, 1, n > 0 ? (size_t)n : 0, out);
        fclose(out);
    }
    CHECK(rcemit_shutdown(5000) == RCEMIT_RESULT_OK);

    printf("sent=%llu format_panics=%llu\n", (unsigned long long)stats.sent,
           (unsigned long long)stats.format_panics);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
