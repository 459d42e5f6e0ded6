/*
 * loader.c - answers the CVision interface by loading libElenaOpenCV.so on first need (see cvision_loader.h).
 *
 * Where the library is looked for: $ELENA_IMAGE_LIBRARY when set (that file only); else next to the executable
 * (the build folder: .build/debug, .build/release) and then in ../lib/elena-run/ beside the executable's folder
 * (what `make install` lays out: PREFIX/bin/elena-run and PREFIX/lib/elena-run/libElenaOpenCV.so).
 *
 * The functions defined here are hidden: the executable does not export them, so the library's own calls to its
 * cvision_ functions bind to the library's definitions, never back to these.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <opencv2/core/version.hpp> /* CV_VERSION: macros only, nothing to link */
#include <xnnpack.h>

#pragma GCC visibility push(hidden)
#include "cvision_loader.h"
#pragma GCC visibility pop

#define LIBRARY_NAME "libElenaOpenCV.so"

/* Every function the library answers. */
#define LIBRARY_FUNCTIONS(X)                                                                                          \
    X(decode) X(image_from_bgr) X(image_destroy) X(image_width) X(image_height) X(image_copy_bgr) X(resize) X(encode)  \
    X(draw_cut) X(inflate) X(buffer_free) X(fingerprint) X(edit) X(detect_options_default) X(detector_create)         \
    X(detector_create_engine) X(detector_engine) X(detector_destroy) X(detector_detect) X(identifier_create)          \
    X(identifier_create_engine) X(identifier_engine) X(identifier_destroy) X(identifier_embed) X(identifier_align)    \
    X(set_threads)

static struct {
#define POINTER(name) __typeof__(cvision_##name) *name;
    LIBRARY_FUNCTIONS(POINTER)
#undef POINTER
} library;

static pthread_once_t once = PTHREAD_ONCE_INIT;
/* 1 loaded, -1 could not be loaded, 0 not tried. */
static atomic_int state;
static char load_error[480];
/* cvision_set_threads before the library is loaded: applied when it is (INT_MIN: never asked). */
static atomic_int pending_threads = INT_MIN;

/* The folder of the running executable, with its trailing slash; empty when /proc does not say. */
static void executable_folder(char *folder, size_t capacity) {
    folder[0] = '\0';
    char path[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
    if (length <= 0) return;
    path[length] = '\0';
    char *slash = strrchr(path, '/');
    if (slash == NULL) return;
    slash[1] = '\0';
    snprintf(folder, capacity, "%s", path);
}

static void load(void) {
    char candidates[2][PATH_MAX + 64];
    int count = 0;
    const char *chosen = getenv("ELENA_IMAGE_LIBRARY");
    if (chosen != NULL && chosen[0] != '\0') {
        snprintf(candidates[count++], sizeof candidates[0], "%s", chosen);
    } else {
        char folder[PATH_MAX];
        executable_folder(folder, sizeof folder);
        snprintf(candidates[count++], sizeof candidates[0], "%s" LIBRARY_NAME, folder);
        snprintf(candidates[count++], sizeof candidates[0], "%s../lib/elena-run/" LIBRARY_NAME, folder);
    }
    void *handle = NULL;
    const char *path = NULL;
    char reason[400] = "";
    for (int index = 0; index < count && handle == NULL; index++) {
        handle = dlopen(candidates[index], RTLD_NOW | RTLD_LOCAL);
        if (handle != NULL) {
            path = candidates[index];
            break;
        }
        const char *error = dlerror();
        /* A file that is there but does not load says more than one that is not there. */
        if (reason[0] == '\0' || access(candidates[index], F_OK) == 0) {
            snprintf(reason, sizeof reason, "%s", error != NULL ? error : candidates[index]);
        }
    }
    if (handle == NULL) {
        snprintf(load_error, sizeof load_error,
                 "the image library (" LIBRARY_NAME ", OpenCV) could not be loaded: %s; build it with 'swift build' "
                 "(or reinstall with 'make install'), or set ELENA_IMAGE_LIBRARY to its path",
                 reason);
        atomic_store(&state, -1);
        return;
    }
#define RESOLVE(name)                                                                                                 \
    library.name = (__typeof__(cvision_##name) *)dlsym(handle, "cvision_" #name);                                    \
    if (library.name == NULL) {                                                                                       \
        snprintf(load_error, sizeof load_error,                                                                       \
                 "the image library %s lacks cvision_" #name " (it is from another build of elena-run; rebuild it)", \
                 path);                                                                                               \
        atomic_store(&state, -1);                                                                                     \
        return;                                                                                                       \
    }
    LIBRARY_FUNCTIONS(RESOLVE)
#undef RESOLVE
    int threads = atomic_load(&pending_threads);
    if (threads != INT_MIN) library.set_threads(threads);
    atomic_store(&state, 1);
}

/* Loads the library once; whether it is there. */
static int ready(void) {
    pthread_once(&once, load);
    return atomic_load(&state) == 1;
}

/* Loaded already (an object of the library exists only once it is). */
static int loaded(void) { return atomic_load(&state) == 1; }

static int32_t unavailable(cvision_status *status) {
    if (status != NULL) {
        status->code = CVISION_ERR_INTERNAL;
        snprintf(status->message, sizeof status->message, "%s", load_error);
    }
    return CVISION_ERR_INTERNAL;
}

static void clear(cvision_buffer *buffer) {
    if (buffer != NULL) {
        buffer->data = NULL;
        buffer->length = 0;
    }
}

/* In a function with a `status`: when the library cannot be had, clears the outputs (`reset`) and returns the
 * load error. */
#define REQUIRE_LIBRARY(reset)                                                                                        \
    do {                                                                                                              \
        if (!ready()) {                                                                                               \
            reset;                                                                                                    \
            return unavailable(status);                                                                               \
        }                                                                                                             \
    } while (0)

const char *cvision_opencv_version(void) { return CV_VERSION; }

int32_t cvision_xnnpack_available(void) {
    /* What the library's xnnpack_available() asks, of the same process-wide XNNPACK (initialising is idempotent). */
    return xnn_initialize(NULL) == xnn_status_success;
}

uint32_t cvision_crc32(uint32_t crc, const uint8_t *data, size_t length) {
    if (data == NULL) return crc;
    uLong value = crc;
    while (length > 0) {
        const uInt chunk = length > 0x40000000u ? 0x40000000u : (uInt)length;
        value = crc32(value, data, chunk);
        data += chunk;
        length -= chunk;
    }
    return (uint32_t)value;
}

void cvision_set_threads(int32_t threads) {
    atomic_store(&pending_threads, threads);
    if (loaded()) library.set_threads(threads);
}

int32_t cvision_decode(const uint8_t *data, size_t length, int32_t exif_orientation, int64_t max_pixels,
                       cvision_image **out, cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.decode(data, length, exif_orientation, max_pixels, out, status);
}

int32_t cvision_image_from_bgr(const uint8_t *pixels, int32_t width, int32_t height, int32_t stride,
                               cvision_image **out, cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.image_from_bgr(pixels, width, height, stride, out, status);
}

void cvision_image_destroy(cvision_image *image) {
    if (loaded()) library.image_destroy(image);
}

int32_t cvision_image_width(const cvision_image *image) { return loaded() ? library.image_width(image) : 0; }

int32_t cvision_image_height(const cvision_image *image) { return loaded() ? library.image_height(image) : 0; }

int32_t cvision_image_copy_bgr(const cvision_image *image, uint8_t *out, size_t capacity, cvision_status *status) {
    return ready() ? library.image_copy_bgr(image, out, capacity, status) : unavailable(status);
}

int32_t cvision_resize(const cvision_image *image, int32_t width, int32_t height, int32_t interpolation,
                       cvision_image **out, cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.resize(image, width, height, interpolation, out, status);
}

int32_t cvision_encode(const cvision_image *image, int32_t x, int32_t y, int32_t w, int32_t h, int32_t format,
                       int32_t quality, cvision_buffer *out, cvision_status *status) {
    REQUIRE_LIBRARY(clear(out));
    return library.encode(image, x, y, w, h, format, quality, out, status);
}

int32_t cvision_draw_cut(const cvision_image *image, int32_t y, double dim, uint8_t b, uint8_t g, uint8_t r,
                         cvision_image **out, cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.draw_cut(image, y, dim, b, g, r, out, status);
}

int32_t cvision_inflate(const uint8_t *data, size_t length, size_t max_output, cvision_buffer *out,
                        cvision_status *status) {
    REQUIRE_LIBRARY(clear(out));
    return library.inflate(data, length, max_output, out, status);
}

void cvision_buffer_free(cvision_buffer *buffer) {
    if (loaded()) {
        library.buffer_free(buffer);
    } else {
        clear(buffer);
    }
}

int32_t cvision_fingerprint(const cvision_image *image, int32_t kind, int32_t x, int32_t y, int32_t w, int32_t h,
                            uint8_t *out, size_t capacity, size_t *length, cvision_status *status) {
    REQUIRE_LIBRARY(if (length != NULL) *length = 0);
    return library.fingerprint(image, kind, x, y, w, h, out, capacity, length, status);
}

int32_t cvision_edit(const cvision_image *image, double contrast, double brightness, int32_t mirror, const char *caption,
                     cvision_image **out, cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.edit(image, contrast, brightness, mirror, caption, out, status);
}

void cvision_detect_options_default(cvision_detect_options *options) {
    if (ready()) {
        library.detect_options_default(options);
    } else if (options != NULL) {
        /* No detector can exist without the library: what is filled in is never used. */
        memset(options, 0, sizeof *options);
    }
}

int32_t cvision_detector_create(const char *detector_onnx, const char *landmark_onnx, cvision_detector **out,
                                cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.detector_create(detector_onnx, landmark_onnx, out, status);
}

int32_t cvision_detector_create_engine(const char *detector_onnx, const char *landmark_onnx, int32_t engine,
                                       cvision_detector **out, cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.detector_create_engine(detector_onnx, landmark_onnx, engine, out, status);
}

int32_t cvision_detector_engine(const cvision_detector *detector) {
    return loaded() ? library.detector_engine(detector) : -1;
}

void cvision_detector_destroy(cvision_detector *detector) {
    if (loaded()) library.detector_destroy(detector);
}

int32_t cvision_detector_detect(cvision_detector *detector, const cvision_image *image,
                                const cvision_detect_options *options, cvision_face *faces, int32_t capacity,
                                int32_t *count, cvision_status *status) {
    REQUIRE_LIBRARY(if (count != NULL) *count = 0);
    return library.detector_detect(detector, image, options, faces, capacity, count, status);
}

int32_t cvision_identifier_create(const char *model_onnx, cvision_identifier **out, cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.identifier_create(model_onnx, out, status);
}

int32_t cvision_identifier_create_engine(const char *model_onnx, int32_t engine, cvision_identifier **out,
                                         cvision_status *status) {
    REQUIRE_LIBRARY(if (out != NULL) *out = NULL);
    return library.identifier_create_engine(model_onnx, engine, out, status);
}

int32_t cvision_identifier_engine(const cvision_identifier *identifier) {
    return loaded() ? library.identifier_engine(identifier) : -1;
}

void cvision_identifier_destroy(cvision_identifier *identifier) {
    if (loaded()) library.identifier_destroy(identifier);
}

int32_t cvision_identifier_embed(cvision_identifier *identifier, const cvision_image *image, const float points[10],
                                 float embedding[CVISION_EMBEDDING], cvision_status *status) {
    return ready() ? library.identifier_embed(identifier, image, points, embedding, status) : unavailable(status);
}

int32_t cvision_identifier_align(const cvision_image *image, const float points[10], uint8_t *bgr112,
                                 cvision_status *status) {
    return ready() ? library.identifier_align(image, points, bgr112, status) : unavailable(status);
}
