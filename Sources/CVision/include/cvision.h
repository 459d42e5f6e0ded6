/*
 * cvision.h - small C interface over OpenCV (core, imgproc, imgcodecs) and zlib
 * for elena-run. All symbols are prefixed cvision_. No function throws; every
 * failure is reported as a status code (return value and status->code) plus a
 * NUL-terminated message in status->message. See README.md for ownership rules.
 */
#ifndef CVISION_H
#define CVISION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque image: 8-bit, 3-channel BGR, orientation already applied. */
typedef struct cvision_image cvision_image;

/* Byte buffer allocated by the shim; release with cvision_buffer_free. */
typedef struct {
    uint8_t *data;
    size_t length;
} cvision_buffer;

/* Result of a call. code 0 = ok; message is NUL-terminated, empty on success. */
typedef struct {
    int32_t code;
    char message[512];
} cvision_status;

enum {
    CVISION_OK = 0,
    CVISION_ERR_ARGUMENT = 1,  /* null pointer, bad rectangle, bad format, bad quality... */
    CVISION_ERR_DECODE = 2,    /* bytes are not a decodable image (corrupt, truncated, unknown format, empty) */
    CVISION_ERR_TOO_LARGE = 3, /* width*height above the caller's max_pixels (or inflate output above max_output) */
    CVISION_ERR_ENCODE = 4,
    CVISION_ERR_MEMORY = 5,    /* allocation failure */
    CVISION_ERR_INTERNAL = 6   /* any other exception */
};

enum { CVISION_FORMAT_JPEG = 0, CVISION_FORMAT_PNG = 1 };

/* OpenCV version string (CV_VERSION), static storage; never NULL. */
const char *cvision_opencv_version(void);

/* Decode an encoded image (PNG, JPEG, WebP, BMP, TIFF, ... whatever OpenCV reads)
 * from memory into 8-bit BGR: 16-bit samples are scaled by 1/257, float by 255,
 * gray is expanded, alpha is composited over white. Then the EXIF orientation
 * (1..8; anything else means 1) is applied. A JPEG that ends before its EOI
 * marker is rejected as truncated. max_pixels > 0 limits width*height
 * (CVISION_ERR_TOO_LARGE). On success *out receives a new image the caller must
 * destroy with cvision_image_destroy; on failure *out is set to NULL. */
int32_t cvision_decode(const uint8_t *data, size_t length, int32_t exif_orientation, int64_t max_pixels,
                       cvision_image **out, cvision_status *status);

/* Build an image from caller-owned packed BGR pixels (row stride in bytes
 * >= width*3). The pixels are copied; the caller keeps ownership of them. */
int32_t cvision_image_from_bgr(const uint8_t *pixels, int32_t width, int32_t height, int32_t stride,
                               cvision_image **out, cvision_status *status);

/* Destroy an image. NULL is allowed. */
void cvision_image_destroy(cvision_image *image);

/* Image width in pixels (0 for NULL). */
int32_t cvision_image_width(const cvision_image *image);

/* Image height in pixels (0 for NULL). */
int32_t cvision_image_height(const cvision_image *image);

/* Copy the image's BGR pixels (packed, stride width*3) into a caller buffer of
 * `capacity` bytes, which must be >= width*height*3. */
int32_t cvision_image_copy_bgr(const cvision_image *image, uint8_t *out, size_t capacity, cvision_status *status);

/* Resize to exactly width x height (both >= 1). interpolation: 0 = INTER_AREA
 * (thumbnails), 1 = INTER_LINEAR (fast). *out receives a new image. */
int32_t cvision_resize(const cvision_image *image, int32_t width, int32_t height, int32_t interpolation,
                       cvision_image **out, cvision_status *status);

/* Encode the rectangle (x, y, w, h), which must lie inside the image with
 * w,h >= 1, as JPEG (quality 1..100, baseline) or PNG (quality ignored,
 * compression level 6). The output carries no metadata and is deterministic.
 * *out receives a buffer the caller frees with cvision_buffer_free; on failure
 * it is set to {NULL, 0}. */
int32_t cvision_encode(const cvision_image *image, int32_t x, int32_t y, int32_t w, int32_t h,
                       int32_t format, int32_t quality, cvision_buffer *out, cvision_status *status);

/* Review-thumbnail overlay. Returns a NEW image where rows [0, y) (y clamped to
 * [0, height]) are multiplied by (1 - dim), dim in [0, 1], and a 2-pixel line of
 * colour (b, g, r) covers rows y and y+1, moved up as needed to stay inside. */
int32_t cvision_draw_cut(const cvision_image *image, int32_t y, double dim, uint8_t b, uint8_t g, uint8_t r,
                         cvision_image **out, cvision_status *status);

/* zlib inflate of an RFC 1950 stream (as in PNG zTXt/iTXt). CVISION_ERR_DECODE
 * on corrupt, truncated or empty input; CVISION_ERR_TOO_LARGE if the output would
 * exceed max_output bytes. Bytes after the end of the stream are ignored.
 * *out is freed with cvision_buffer_free (data may be NULL when length is 0). */
int32_t cvision_inflate(const uint8_t *data, size_t length, size_t max_output, cvision_buffer *out,
                        cvision_status *status);

/* Free a buffer's data and set data = NULL, length = 0. NULL is allowed. */
void cvision_buffer_free(cvision_buffer *buffer);

#ifdef __cplusplus
}
#endif

#endif /* CVISION_H */
