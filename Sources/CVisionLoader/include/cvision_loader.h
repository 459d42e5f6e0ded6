/*
 * cvision_loader.h - the CVision interface (../../CVision/include/cvision.h) as the tool links it: every function
 * is answered by the shared library libElenaOpenCV.so (the CVision shim and OpenCV behind it), which is loaded the
 * first time a function needs it. A run that decodes no image (a rerun whose steps are all cached, `status`,
 * `--help`) never maps OpenCV and the 150 libraries it brings (about 55 MB resident and 0.08 s of loading).
 * cvision_opencv_version and cvision_crc32 are answered here without loading it. A function that needs the library
 * and cannot have it fails with CVISION_ERR_INTERNAL, its message saying what was tried and what to do.
 */
#ifndef CVISION_LOADER_H
#define CVISION_LOADER_H

#include "../../CVision/include/cvision.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether XNNPACK runs on this CPU: the engine cvision_detector_create picks (XNNPACK when it does, OpenCV's dnn
 * module otherwise), known without loading the image library (XNNPACK is linked here; the library uses the same
 * copy of it). */
int32_t cvision_xnnpack_available(void);

#ifdef __cplusplus
}
#endif

#endif /* CVISION_LOADER_H */
