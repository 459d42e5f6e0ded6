/*
 * cvision.h - small C interface over OpenCV (core, imgproc, imgcodecs, dnn) and
 * zlib for elena-run. All symbols are prefixed cvision_. No function throws; every
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

/* CRC-32 (zlib's crc32, as PNG chunks use) of `length` bytes starting from `crc` (pass 0 to start). */
uint32_t cvision_crc32(uint32_t crc, const uint8_t *data, size_t length);

/* Free a buffer's data and set data = NULL, length = 0. NULL is allowed. */
void cvision_buffer_free(cvision_buffer *buffer);

/* ---------------------------------------------------------------------------
 * Perceptual fingerprints (OpenCV contrib's img_hash): the picture, not the bytes. */

enum {
    CVISION_HASH_PHASH = 0,
    CVISION_HASH_AVERAGE = 1,
    CVISION_HASH_BLOCK_MEAN = 2,
    CVISION_HASH_MARR_HILDRETH = 3,
    CVISION_HASH_CHROMA = 4
};

/* The fingerprint of an image, or of the rectangle (x, y, w, h) of it when w or h is > 0 (it must lie inside):
 * PHash and AverageHash 8 bytes, BlockMeanHash (mode 0) 32, MarrHildrethHash 72 (compared by Hamming distance);
 * CHROMA the CIELAB a and b of a 4x4 grid of the picture, 32 bytes (compared by the sum of their differences).
 * Written to out (capacity bytes, 72 is always enough); *length receives its size. */
int32_t cvision_fingerprint(const cvision_image *image, int32_t kind, int32_t x, int32_t y, int32_t w, int32_t h,
                            uint8_t *out, size_t capacity, size_t *length, cvision_status *status);

/* A NEW image: each sample times contrast plus brightness (saturated), mirrored left to right when mirror != 0, and
 * with caption (may be NULL or empty) written in white across its lower part. For measuring fingerprints. */
int32_t cvision_edit(const cvision_image *image, double contrast, double brightness, int32_t mirror, const char *caption,
                     cvision_image **out, cvision_status *status);

/* ---------------------------------------------------------------------------
 * Face detection: MediaPipe BlazeFace short-range + Face Mesh (468 points), as
 * ONNX files installed by scripts/install-models, run by XNNPACK (single thread) or
 * OpenCV's dnn module. See README.md for the pipeline. */

/* Opaque detector: both networks plus work buffers (about 20 MB resident after creation; up to about 80 MB
 * once the search has run at both scales on a 1024x1536 image; networks for other input sizes replace the
 * least recently used ones beyond 500,000 input pixels, so it stays under about 120 MB).
 * NOT thread-safe: use one per thread. Different detectors may run at once. */
typedef struct cvision_detector cvision_detector;

enum { CVISION_LANDMARKS = 468 };

typedef struct {
    float x, y, width, height;              /* detector box in image pixels */
    float score;                            /* detector score 0..1 */
    float presence;                         /* landmark model's face presence 0..1 (after the final pass) */
    float roll_degrees;                     /* face roll, 0 = upright; positive = the face is turned
                                               clockwise on screen (its left eye, on the image's right,
                                               is lower than its right eye) */
    int32_t has_landmarks;                  /* 1 when landmarks were computed (always 1 in this version) */
    float landmarks[CVISION_LANDMARKS * 2]; /* x0,y0,x1,y1,... in image pixels; may lie outside the image */
} cvision_face;

typedef struct {
    int32_t pass1_max_side; /* long side of the copy the first pass runs on; default 640, range 128..8192
                               (rounded down to a multiple of 128; images no larger are used as they are) */
    int32_t search_fallback; /* 1: when pass 1 yields no accepted face, run the detector on the whole image
                               scaled to a short side of 192, then 384 (long side at most 1024), stopping at
                               the first scale that yields one; finds faces down to about 1/20 of the short
                               side */
    int32_t second_pass;    /* 1: when the landmark model sees no face in a detector box (presence below
                               min_presence), re-detect on a square crop 3x the box and run it again; no
                               detection there rejects the box */
    int32_t refine;         /* 1: when needed, one refinement pass (ROI from the landmarks, roll from
                               points 33->263) */
    float min_score;        /* detector score threshold, default 0.5, range (0, 1]; the search fallback
                               asks at least 0.6 */
    float min_presence;     /* accept a face only if final presence >= this, default 0.9, range [0, 1] */
} cvision_detect_options;
/* "When needed": the refinement is skipped when the ROI a face's landmarks imply agrees with the ROI they
 * were computed in (centre within 8% of the side, side within 12%, roll within 6 degrees); it always runs
 * after pass 2. Defaults: every option on. */

/* Fills *options with the defaults: 640, 1, 1, 1, 0.5, 0.9. */
void cvision_detect_options_default(cvision_detect_options *options);

/* How the networks run: XNNPACK (the default, about 3x faster) or OpenCV's dnn module (the reference the
 * native test compares XNNPACK against). Both read the same ONNX files and give the same outputs to about
 * 1e-4. */
enum { CVISION_ENGINE_XNNPACK = 0, CVISION_ENGINE_OPENCV = 1 };

/* Loads both ONNX files and runs one warm-up inference, with the XNNPACK engine (OpenCV's when XNNPACK does
 * not run on this CPU; cvision_detector_engine says which). On success *out
 * receives a detector to release with cvision_detector_destroy; on failure it is set to NULL
 * (CVISION_ERR_ARGUMENT for NULL paths, CVISION_ERR_DECODE for a missing, unreadable or wrong model). */
int32_t cvision_detector_create(const char *detector_onnx, const char *landmark_onnx, cvision_detector **out,
                                cvision_status *status);

/* The same with a chosen engine (CVISION_ENGINE_*; anything else is CVISION_ERR_ARGUMENT). */
int32_t cvision_detector_create_engine(const char *detector_onnx, const char *landmark_onnx, int32_t engine,
                                       cvision_detector **out, cvision_status *status);

/* The engine a detector runs its networks on (CVISION_ENGINE_*); -1 for NULL. */
int32_t cvision_detector_engine(const cvision_detector *detector);

/* Destroy a detector. NULL is allowed. */
void cvision_detector_destroy(cvision_detector *detector);

/* Finds faces in an image (as decoded by cvision_decode: BGR, oriented). Writes up to `capacity` faces,
 * largest box first, and sets *count to the number written. Zero faces is success. options NULL means
 * the defaults. faces may be NULL only when capacity is 0 (then *count is 0). On failure *count is 0. */
int32_t cvision_detector_detect(cvision_detector *detector, const cvision_image *image,
                                const cvision_detect_options *options, cvision_face *faces, int32_t capacity,
                                int32_t *count, cvision_status *status);

/* ---------------------------------------------------------------------------
 * Face identity: OpenCV Zoo's SFace (face_recognition_sface.onnx, installed by scripts/install-models). A face is
 * aligned on five points (the similarity cv::FaceRecognizerSF::alignCrop uses) and becomes a 128-float
 * embedding, L2-normalised: the cosine of two faces is the dot product of their embeddings (the same person
 * scores about 0.7, others about 0.2). The network runs on OpenCV's dnn module, or on XNNPACK (measured slower for
 * this network here: see cvision_identity.cpp). */

typedef struct cvision_identifier cvision_identifier;

enum { CVISION_EMBEDDING = 128, CVISION_ALIGNED_SIDE = 112 };

/* Loads the model and runs it once, on OpenCV's dnn module. On failure
 * *out is NULL (CVISION_ERR_DECODE for a missing or wrong file). Thread-safe: concurrent calls on one identifier
 * each run their own copy of the network (made on first need and kept). */
int32_t cvision_identifier_create(const char *model_onnx, cvision_identifier **out, cvision_status *status);

/* The same with a chosen engine (CVISION_ENGINE_*; anything else is CVISION_ERR_ARGUMENT). */
int32_t cvision_identifier_create_engine(const char *model_onnx, int32_t engine, cvision_identifier **out,
                                         cvision_status *status);

/* The engine an identifier runs its network on (CVISION_ENGINE_*); -1 for NULL. */
int32_t cvision_identifier_engine(const cvision_identifier *identifier);

/* Destroy an identifier. NULL is allowed. */
void cvision_identifier_destroy(cvision_identifier *identifier);

/* The embedding of the face whose five points (x, y in image pixels, in this order: the eye on the image's left,
 * the eye on the image's right, the nose tip, the mouth corner on the image's left, the one on the image's right)
 * are given, in an image as cvision_decode returns it. */
int32_t cvision_identifier_embed(cvision_identifier *identifier, const cvision_image *image, const float points[10],
                                 float embedding[CVISION_EMBEDDING], cvision_status *status);

/* The aligned face the embedding is computed from: 112 x 112 BGR pixels, rows of 336 bytes, into bgr112. */
int32_t cvision_identifier_align(const cvision_image *image, const float points[10], uint8_t *bgr112,
                                 cvision_status *status);

/* cv::setNumThreads(threads) for the whole process (OpenCV's own global setting; < 0 means OpenCV's
 * default). The tool runs one image per core and calls it with 1. */
void cvision_set_threads(int32_t threads);

#ifdef __cplusplus
}
#endif

#endif /* CVISION_H */
