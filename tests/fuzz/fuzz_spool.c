/* fuzz_spool.c — libFuzzer target for the spool reader (agent/output/spool.c).
 *
 * Each input is written as a journal file (the first byte, when odd, also
 * makes an acknowledged position from the next eight) and opened: the
 * torn-tail cut and the resynchronisation over damaged records run on it.
 * Every record handed out afterwards must carry a payload of the length
 * it claims within the file, and appending after the repair must give a
 * record that reads back.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/output/spool.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64], ack_path[72], lost_path[72];

static void write_file(const char *p, const uint8_t *d, size_t n)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, d, n) != (ssize_t)n)
        abort();
    close(fd);
}

static void remove_files(void)
{
    char tmp[80];
    unlink(path);
    unlink(ack_path);
    unlink(lost_path);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    snprintf(tmp, sizeof(tmp), "%s.tmp", lost_path);
    unlink(tmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        /* tmpfs when there is one: the spool fsyncs, a disk would make
         * the fuzzer crawl */
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof(path), "%s/canh-fuzz-spool-%ld", dir, (long)getpid());
        snprintf(ack_path, sizeof(ack_path), "%s.ack", path);
        snprintf(lost_path, sizeof(lost_path), "%s.lost", path);
        log_set_level(LOG_LEVEL_ERR);
        atexit(remove_files);
    }
    unlink(ack_path);
    unlink(lost_path);
    if (size > 9 && (data[0] & 1)) {
        /* an ack file: magic, the next 8 bytes as the acknowledged offset,
         * and a CRC that is right when the first byte says so */
        uint8_t rec[16] = {0x43, 0x4e, 0x48, 0x41};
        memcpy(rec + 4, data + 1, 8);
        uint32_t crc = (uint32_t)crc32(0L, rec, 12) ^ (data[0] & 2 ? 0 : 1);
        for (int i = 0; i < 4; i++)
            rec[12 + i] = (uint8_t)(crc >> (8 * i));
        write_file(ack_path, rec, sizeof(rec));
        data += 9;
        size -= 9;
    }
    write_file(path, data, size);
    char err[256];
    struct spool *s = spool_open(path, 1 << 20, 4, err, sizeof(err));
    if (!s)
        return 0;
    uint64_t off = spool_head(s), end = spool_tail(s);
    const char *payload;
    size_t len;
    int rc, n = 0;
    while ((rc = spool_read(s, &off, &payload, &len)) == 1) {
        if (len > SPOOL_MAX_RECORD || off > end)
            abort();
        volatile char sink = len ? payload[len - 1] : 0;
        (void)sink;
        n++;
    }
    if (rc != 0) /* open checked every record: none may fail now */
        abort();
    uint64_t new_end;
    if (spool_append(s, "{\"x\":1}", 7, &new_end) == 0) {
        off = new_end - 7 - SPOOL_RECORD_OVERHEAD;
        if (spool_read(s, &off, &payload, &len) != 1 || len != 7 || memcmp(payload, "{\"x\":1}", 7))
            abort();
    }
    spool_close(s);
    (void)n;
    return 0;
}
