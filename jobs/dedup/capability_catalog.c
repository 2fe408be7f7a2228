/*
 * capability_catalog.c - the built-in capability catalog v1 (spec dedup-job.md Appendix A).
 *
 * Source: /work/shared/data/reference/capability_catalog.v1.json (catalog_version "v1",
 * generated_at 2026-02-13T00:00:00Z), the same data as the Java pipeline's
 * flink-jobs/src/main/resources/reference/capability_catalog.v1.json. Carried over as data.
 *
 * Data structure: one static, read-only array of (id, name, group) sorted by ascending id with
 * unique ids (the parser relies on that order for binary search). No state, thread-safe.
 *
 * This file has no header of its own: parsers.c (the only user) declares the three accessors
 * below with identical prototypes. A catalog file configured through
 * dd_config.capability_catalog_path replaces this table at dd_parser_new() time.
 */
#include <stddef.h>
#include <stdint.h>

typedef struct capcat_row {
    int32_t id;
    const char *name;
    const char *group;
} capcat_row;

static const capcat_row CAPCAT_V1[] = {
    {0, "H.264", "transcoding"},
    {1, "MPEGTS", "transcoding"},
    {2, "MP4", "transcoding"},
    {3, "Fractional framerates", "transcoding"},
    {4, "Storage direct", "storage"},
    {5, "Storage S3", "storage"},
    {6, "Storage GCS", "storage"},
    {7, "H264 Baseline profile", "transcoding"},
    {8, "H264 Main profile", "transcoding"},
    {9, "H264 High profile", "transcoding"},
    {10, "H264 Constrained, Contained High profile", "transcoding"},
    {11, "GOP", "transcoding"},
    {12, "Auth token", "auth"},
    {13, "Scene classification", "deprecated"},
    {14, "MPEG7 signature", "transcoding"},
    {15, "HEVC decode", "transcoding"},
    {16, "HEVC encode", "transcoding"},
    {17, "VP8 decode", "transcoding"},
    {18, "VP9 decode", "transcoding"},
    {19, "VP8 encode", "transcoding"},
    {20, "VP9 encode", "transcoding"},
    {21, "H264 Decode YUV444 8-bit", "transcoding"},
    {22, "H264 Decode YUV422 8-bit", "transcoding"},
    {23, "H264 Decode YUV444 10-bit", "transcoding"},
    {24, "H264 Decode YUV422 10-bit", "transcoding"},
    {25, "H264 Decode YUV420 10-bit", "transcoding"},
    {26, "Segment slicing", "transcoding"},
    {27, "Text to image", "inference"},
    {28, "Image to image", "inference"},
    {29, "Image to video", "inference"},
    {30, "Upscale", "inference"},
    {31, "Audio to text", "inference"},
    {32, "Segment anything 2", "inference"},
    {33, "Llm", "inference"},
    {34, "Image to text", "inference"},
    {35, "Live video to video", "live-video"},
    {36, "Text to speech", "inference"},
};

/** Catalog version of the built-in table ("v1"). Static string. Thread-safe. */
const char *dd_capcat_builtin_version(void) {
    return "v1";
}

/** Number of entries of the built-in catalog (37). Thread-safe. */
size_t dd_capcat_builtin_count(void) {
    return sizeof CAPCAT_V1 / sizeof CAPCAT_V1[0];
}

/**
 * Entry @p i (0-based, ascending id) of the built-in catalog: sets *id, *name, *group (static
 * strings). Returns 0, or -1 when @p i is out of range. Thread-safe.
 */
int dd_capcat_builtin_entry(size_t i, int32_t *id, const char **name, const char **group) {
    if (i >= dd_capcat_builtin_count()) return -1;
    *id = CAPCAT_V1[i].id;
    *name = CAPCAT_V1[i].name;
    *group = CAPCAT_V1[i].group;
    return 0;
}
