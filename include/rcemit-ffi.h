enum rcemit_result {
  RCEMIT_RESULT_OK = 7100,
  RCEMIT_RESULT_NULL_PARAMETER = 7101,
  RCEMIT_RESULT_INVALID_PAYLOAD = 7102,
  RCEMIT_RESULT_INVALID_CONFIG = 7103,
  RCEMIT_RESULT_QUEUE_FULL = 7104,
  RCEMIT_RESULT_UNKNOWN_FEED = 7105,
  RCEMIT_RESULT_BUFFER_TOO_SMALL = 7106,
  RCEMIT_RESULT_PANIC = 7107,
  RCEMIT_RESULT_TIMEOUT = 7108,
  RCEMIT_RESULT_TOO_MANY_FEEDS = 7109,
  RCEMIT_RESULT_ALREADY_STARTED = 7110,
};
typedef uint32_t rcemit_result;
typedef struct rcemit_stats {
  uint64_t enqueued;
  uint64_t sent;
  uint64_t bytes_sent;
  uint64_t dropped_queue_full;
  uint64_t dropped_oversize;
  uint64_t shortened;
  uint64_t invalid_payload;
  uint64_t skipped;
  uint64_t format_panics;
  uint64_t send_errors;
  uint64_t dns_failures;
  uint64_t unresolved;
  uint64_t sender_restarts;
  uint64_t spawn_failures;
  uint64_t queue_depth;
  uint64_t queue_capacity;
  uint64_t queue_bytes;
  uint64_t feeds;
  uint64_t part_failures;
} rcemit_stats;
char *rcemit_version(void);
uint32_t rcemit_payload_version(void);
rcemit_result rcemit_init(uint32_t queue_capacity);
rcemit_result rcemit_feed_open(const char *config_json,
                               size_t len,
                               uint32_t *feed_out);
rcemit_result rcemit_feed_emit(uint32_t feed,
                               const char *payload,
                               size_t len);
rcemit_result rcemit_feed_queue(uint32_t feed,
                                const char *payload,
                                size_t len);
rcemit_result rcemit_wake(void);
rcemit_result rcemit_flush(uint32_t timeout_ms);
rcemit_result rcemit_shutdown(uint32_t timeout_ms);
rcemit_result rcemit_stats_read(struct rcemit_stats *stats_out,
                                size_t size);
rcemit_result rcemit_once(const char *key,
                          size_t len,
                          uint8_t *first_out);
rcemit_result rcemit_result_message(uint32_t code,
                                    uint8_t *buf,
                                    size_t len,
                                    size_t *written_out);
rcemit_result rcemit_last_error(uint8_t *buf,
                                size_t len,
                                size_t *written_out);
