// cvision.cpp - C boundary over OpenCV and zlib. See include/cvision.h and README.md. The face detector
// lives in cvision_face.cpp.
//
// Every exported function runs its body inside guarded(), which converts every
// C++ exception into a status code and message; nothing throws across the C ABI.

#include "cvision.h"
#include "cvision_detail.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// Invariant: mat is CV_8UC3 and continuous.
struct cvision_image {
    cv::Mat mat;
};

namespace {

// Internal failure with a cvision status code; thrown inside, caught by guarded().
class ShimError : public std::runtime_error {
public:
    ShimError(int32_t code, const std::string &message) : std::runtime_error(message), code_(code) {}
    int32_t code() const noexcept { return code_; }

private:
    int32_t code_;
};

[[noreturn]] void fail(int32_t code, const std::string &message) { throw ShimError(code, message); }

void require(bool condition, const char *message) {
    if (!condition) fail(CVISION_ERR_ARGUMENT, message);
}

int32_t set_status(cvision_status *status, int32_t code, const char *message) noexcept {
    if (status != nullptr) {
        status->code = code;
        std::snprintf(status->message, sizeof status->message, "%s", message != nullptr ? message : "");
        size_t end = std::strlen(status->message);  // OpenCV messages end with a newline
        while (end > 0 && (status->message[end - 1] == '\n' || status->message[end - 1] == ' ')) status->message[--end] = '\0';
    }
    return code;
}

bool is_out_of_memory(const cv::Exception &e) { return e.code == cv::Error::StsNoMem; }

// Runs body and maps whatever it throws to a status code. Never throws.
template <class Body>
int32_t guarded(cvision_status *status, Body &&body) noexcept {
    try {
        body();
        return set_status(status, CVISION_OK, "");
    } catch (const ShimError &e) {
        return set_status(status, e.code(), e.what());
    } catch (const cv::Exception &e) {  // what() reads "OpenCV(4.x) file:line: error: ..."
        return set_status(status, is_out_of_memory(e) ? CVISION_ERR_MEMORY : CVISION_ERR_INTERNAL, e.what());
    } catch (const std::bad_alloc &) {
        return set_status(status, CVISION_ERR_MEMORY, "out of memory");
    } catch (const std::exception &e) {
        return set_status(status, CVISION_ERR_INTERNAL, e.what());
    } catch (...) {
        return set_status(status, CVISION_ERR_INTERNAL, "unknown exception");
    }
}

// width*height*3 in bytes, or -1 if a side is < 1 or the product overflows int64.
int64_t bgr_byte_count(int64_t width, int64_t height) {
    if (width < 1 || height < 1) return -1;
    if (width > INT64_MAX / 3 / height) return -1;
    return width * height * 3;
}

void require_size(int32_t width, int32_t height) {
    const int64_t bytes = bgr_byte_count(width, height);
    require(bytes > 0 && static_cast<uint64_t>(bytes) <= SIZE_MAX, "width and height must be >= 1 and width*height*3 must fit in memory");
}

cvision_image *wrap(cv::Mat mat) {
    if (!mat.isContinuous()) mat = mat.clone();
    return new cvision_image{std::move(mat)};
}

// ---------------------------------------------------------------------------
// Decoding

// True when a JPEG's marker structure reaches an EOI marker. libjpeg fills the
// missing part of a truncated baseline JPEG with grey and OpenCV reports success,
// so truncation has to be detected here.
size_t skip_entropy_coded_data(const uint8_t *d, size_t n, size_t i) {
    while (i + 1 < n) {
        if (d[i] == 0xFF) {
            const uint8_t next = d[i + 1];
            const bool stuffed_or_restart = next == 0x00 || (next >= 0xD0 && next <= 0xD7);
            if (!stuffed_or_restart) return i;  // a real marker starts here
            i += 2;
        } else {
            ++i;
        }
    }
    return n;
}

bool jpeg_reaches_eoi(const uint8_t *d, size_t n) {
    size_t i = 2;  // after SOI
    while (i < n) {
        if (d[i] != 0xFF) {  // tolerate stray bytes between segments, as libjpeg does
            ++i;
            continue;
        }
        while (i < n && d[i] == 0xFF) ++i;  // fill bytes
        if (i >= n) return false;
        const uint8_t marker = d[i++];
        if (marker == 0xD9) return true;
        const bool standalone = marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7);
        if (standalone) continue;
        if (i + 2 > n) return false;
        const size_t segment = (static_cast<size_t>(d[i]) << 8) | d[i + 1];
        if (segment < 2 || segment > n - i) return false;
        i += segment;
        if (marker == 0xDA) i = skip_entropy_coded_data(d, n, i);  // start of scan
    }
    return false;
}

bool looks_like_jpeg(const uint8_t *d, size_t n) { return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF; }

cv::Mat decode_unchanged(const uint8_t *data, size_t length) {
    const cv::Mat wrapped(1, static_cast<int>(length), CV_8UC1, const_cast<uint8_t *>(data));
    try {
        return cv::imdecode(wrapped, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception &e) {
        if (is_out_of_memory(e)) throw;
        fail(CVISION_ERR_DECODE, std::string("not a decodable image: ") + e.what());
    }
}

// Any sample depth -> 8 bit: 16-bit / 257 (rounded), float * 255 (saturated).
cv::Mat to_depth8(const cv::Mat &src) {
    cv::Mat dst;
    switch (src.depth()) {
    case CV_8U:
        return src;
    case CV_16U:
        src.convertTo(dst, CV_8U, 1.0 / 257.0);
        return dst;
    case CV_16F:
    case CV_32F:
    case CV_64F:
        src.convertTo(dst, CV_8U, 255.0);
        return dst;
    default:
        fail(CVISION_ERR_DECODE, "unsupported sample depth (signed integer image)");
    }
}

inline uint8_t over_white(int color, int alpha) {
    return static_cast<uint8_t>((color * alpha + 255 * (255 - alpha) + 127) / 255);
}

// Alpha-composites an 8-bit gray+alpha (2 channels) or BGRA (4 channels) image over white.
cv::Mat composite_over_white(const cv::Mat &src) {
    const int channels = src.channels();
    cv::Mat dst(src.rows, src.cols, CV_8UC3);
    for (int y = 0; y < src.rows; ++y) {
        const uint8_t *in = src.ptr<uint8_t>(y);
        uint8_t *out = dst.ptr<uint8_t>(y);
        for (int x = 0; x < src.cols; ++x, in += channels, out += 3) {
            const int alpha = in[channels - 1];
            if (channels == 2) {
                out[0] = out[1] = out[2] = over_white(in[0], alpha);
            } else {
                out[0] = over_white(in[0], alpha);
                out[1] = over_white(in[1], alpha);
                out[2] = over_white(in[2], alpha);
            }
        }
    }
    return dst;
}

cv::Mat to_bgr(const cv::Mat &src) {
    cv::Mat dst;
    switch (src.channels()) {
    case 1:
        cv::cvtColor(src, dst, cv::COLOR_GRAY2BGR);
        return dst;
    case 2:
    case 4:
        return composite_over_white(src);
    case 3:
        return src;
    default:
        fail(CVISION_ERR_DECODE, "unsupported channel count");
    }
}

// EXIF/TIFF orientation 1..8; other values mean 1 (no change).
cv::Mat apply_orientation(const cv::Mat &src, int32_t orientation) {
    cv::Mat dst;
    cv::Mat tmp;
    switch (orientation) {
    case 2: cv::flip(src, dst, 1); break;                                // mirror horizontal
    case 3: cv::rotate(src, dst, cv::ROTATE_180); break;                  // rotate 180
    case 4: cv::flip(src, dst, 0); break;                                // mirror vertical
    case 5: cv::transpose(src, dst); break;                              // transpose
    case 6: cv::rotate(src, dst, cv::ROTATE_90_CLOCKWISE); break;         // rotate 90 CW
    case 7: cv::transpose(src, tmp); cv::flip(tmp, dst, -1); break;      // transverse
    case 8: cv::rotate(src, dst, cv::ROTATE_90_COUNTERCLOCKWISE); break;  // rotate 90 CCW
    default: return src;
    }
    return dst;
}

cv::Mat decode_to_bgr(const uint8_t *data, size_t length, int32_t orientation, int64_t max_pixels) {
    require(length <= static_cast<size_t>(INT_MAX), "input is longer than INT_MAX bytes");
    if (looks_like_jpeg(data, length) && !jpeg_reaches_eoi(data, length))
        fail(CVISION_ERR_DECODE, "truncated JPEG (no end-of-image marker)");
    const cv::Mat raw = decode_unchanged(data, length);
    if (raw.empty()) fail(CVISION_ERR_DECODE, "not a decodable image");
    const int64_t pixels = static_cast<int64_t>(raw.cols) * raw.rows;
    if (max_pixels > 0 && pixels > max_pixels)
        fail(CVISION_ERR_TOO_LARGE, "image is " + std::to_string(raw.cols) + "x" + std::to_string(raw.rows) +
                                        ", above the limit of " + std::to_string(max_pixels) + " pixels");
    return apply_orientation(to_bgr(to_depth8(raw)), orientation);
}

// ---------------------------------------------------------------------------
// Encoding and drawing

std::vector<int> encode_params(int32_t format, int32_t quality) {
    if (format == CVISION_FORMAT_JPEG) {
        require(quality >= 1 && quality <= 100, "JPEG quality must be 1..100");
        return {cv::IMWRITE_JPEG_QUALITY, quality, cv::IMWRITE_JPEG_PROGRESSIVE, 0, cv::IMWRITE_JPEG_OPTIMIZE, 0};
    }
    require(format == CVISION_FORMAT_PNG, "format must be CVISION_FORMAT_JPEG or CVISION_FORMAT_PNG");
    return {cv::IMWRITE_PNG_COMPRESSION, 6, cv::IMWRITE_PNG_STRATEGY, cv::IMWRITE_PNG_STRATEGY_DEFAULT};
}

cvision_buffer copy_to_buffer(const std::vector<uchar> &bytes) {
    cvision_buffer buffer{nullptr, 0};
    if (bytes.empty()) return buffer;
    buffer.data = static_cast<uint8_t *>(std::malloc(bytes.size()));
    if (buffer.data == nullptr) throw std::bad_alloc();
    std::memcpy(buffer.data, bytes.data(), bytes.size());
    buffer.length = bytes.size();
    return buffer;
}

cvision_buffer encode_region(const cv::Mat &mat, const cv::Rect &rect, int32_t format, int32_t quality) {
    const std::vector<int> params = encode_params(format, quality);
    const char *extension = format == CVISION_FORMAT_JPEG ? ".jpg" : ".png";
    std::vector<uchar> bytes;
    bool ok = false;
    try {
        ok = cv::imencode(extension, mat(rect), bytes, params);
    } catch (const cv::Exception &e) {
        if (is_out_of_memory(e)) throw;
        fail(CVISION_ERR_ENCODE, e.what());
    }
    if (!ok || bytes.empty()) fail(CVISION_ERR_ENCODE, "encoder produced no output");
    return copy_to_buffer(bytes);
}

bool rect_inside(const cv::Mat &mat, int32_t x, int32_t y, int32_t w, int32_t h) {
    return x >= 0 && y >= 0 && w >= 1 && h >= 1 && static_cast<int64_t>(x) + w <= mat.cols &&
           static_cast<int64_t>(y) + h <= mat.rows;
}

cv::Mat draw_cut(const cv::Mat &src, int32_t y, double dim, const cv::Scalar &colour) {
    cv::Mat dst = src.clone();
    const int dimmed_rows = std::clamp(y, 0, dst.rows);
    if (dimmed_rows > 0 && dim > 0.0) {
        cv::Mat band = dst.rowRange(0, dimmed_rows);
        band.convertTo(band, -1, 1.0 - dim);
    }
    const int thickness = std::min(2, dst.rows);
    const int line_top = std::clamp(y, 0, dst.rows - thickness);
    dst.rowRange(line_top, line_top + thickness).setTo(colour);
    return dst;
}

// ---------------------------------------------------------------------------
// Inflate

// malloc-backed growable byte buffer (released with free(), like cvision_buffer).
class ByteBuffer {
public:
    ByteBuffer() = default;
    ByteBuffer(const ByteBuffer &) = delete;
    ByteBuffer &operator=(const ByteBuffer &) = delete;
    ~ByteBuffer() { std::free(data_); }

    uint8_t *data() const { return data_; }
    size_t capacity() const { return capacity_; }

    void reserve(size_t capacity) {
        void *grown = std::realloc(data_, capacity);
        if (grown == nullptr) throw std::bad_alloc();
        data_ = static_cast<uint8_t *>(grown);
        capacity_ = capacity;
    }

    // Hands the bytes over as a cvision_buffer of `length` bytes (shrunk to fit).
    cvision_buffer release(size_t length) {
        cvision_buffer out{nullptr, 0};
        if (length == 0) return out;
        if (length < capacity_) {
            if (void *shrunk = std::realloc(data_, length)) data_ = static_cast<uint8_t *>(shrunk);
        }
        out.data = data_;
        out.length = length;
        data_ = nullptr;
        capacity_ = 0;
        return out;
    }

private:
    uint8_t *data_ = nullptr;
    size_t capacity_ = 0;
};

class ZlibInflater {
public:
    ZlibInflater() {
        const int rc = inflateInit(&stream_);
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        if (rc != Z_OK) fail(CVISION_ERR_INTERNAL, "inflateInit failed");
    }
    ZlibInflater(const ZlibInflater &) = delete;
    ZlibInflater &operator=(const ZlibInflater &) = delete;
    ~ZlibInflater() { inflateEnd(&stream_); }
    z_stream &stream() { return stream_; }

private:
    z_stream stream_{};
};

size_t grown_capacity(size_t current, size_t limit) { return current > limit / 2 ? limit : current * 2; }

cvision_buffer inflate_bytes(const uint8_t *data, size_t length, size_t max_output) {
    // One byte beyond max_output is enough to tell "exactly max_output" from "too large".
    const size_t limit = max_output == SIZE_MAX ? SIZE_MAX : max_output + 1;
    const size_t guess = length > SIZE_MAX / 4 ? SIZE_MAX : std::max<size_t>(length * 4, 4096);
    ByteBuffer buffer;
    buffer.reserve(std::min(limit, guess));

    ZlibInflater inflater;
    z_stream &z = inflater.stream();
    size_t consumed = 0;  // bytes of `data` handed to zlib so far
    size_t produced = 0;
    for (;;) {
        if (z.avail_in == 0 && consumed < length) {
            const size_t chunk = std::min<size_t>(length - consumed, UINT_MAX);
            z.next_in = const_cast<Bytef *>(data + consumed);
            z.avail_in = static_cast<uInt>(chunk);
            consumed += chunk;
        }
        if (produced == buffer.capacity()) {
            if (buffer.capacity() >= limit) break;  // reported as too large below
            buffer.reserve(grown_capacity(buffer.capacity(), limit));
        }
        const size_t space = std::min<size_t>(buffer.capacity() - produced, UINT_MAX);
        z.next_out = buffer.data() + produced;
        z.avail_out = static_cast<uInt>(space);
        const int rc = inflate(&z, Z_NO_FLUSH);
        produced += space - z.avail_out;
        if (produced > max_output) break;
        if (rc == Z_STREAM_END) return buffer.release(produced);
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && (z.avail_in > 0 || consumed < length)) continue;
        if (rc == Z_BUF_ERROR) fail(CVISION_ERR_DECODE, "truncated zlib stream");
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        if (rc == Z_NEED_DICT) fail(CVISION_ERR_DECODE, "zlib stream needs a preset dictionary");
        fail(CVISION_ERR_DECODE, std::string("corrupt zlib stream: ") + (z.msg != nullptr ? z.msg : "unknown error"));
    }
    fail(CVISION_ERR_TOO_LARGE, "inflated data exceeds " + std::to_string(max_output) + " bytes");
}

}  // namespace

// Declared in cvision_detail.hpp for the shim's other files (the detector, the fingerprints, the identity model):
// the same error model and access to an image's pixels without a copy.
namespace cvision_detail {

const cv::Mat &image_mat(const cvision_image &image) { return image.mat; }

[[noreturn]] void fail(int32_t code, const std::string &message) { ::fail(code, message); }

int32_t guarded(cvision_status *status, const std::function<void()> &body) noexcept { return ::guarded(status, body); }

}  // namespace cvision_detail

// ---------------------------------------------------------------------------
// Exported C functions

extern "C" {

const char *cvision_opencv_version(void) { return CV_VERSION; }

int32_t cvision_decode(const uint8_t *data, size_t length, int32_t exif_orientation, int64_t max_pixels,
                       cvision_image **out, cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return guarded(status, [&] {
        require(out != nullptr, "out is NULL");
        if (length == 0) fail(CVISION_ERR_DECODE, "empty input");
        require(data != nullptr, "data is NULL");
        *out = wrap(decode_to_bgr(data, length, exif_orientation, max_pixels));
    });
}

int32_t cvision_image_from_bgr(const uint8_t *pixels, int32_t width, int32_t height, int32_t stride,
                               cvision_image **out, cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return guarded(status, [&] {
        require(out != nullptr, "out is NULL");
        require(pixels != nullptr, "pixels is NULL");
        require_size(width, height);
        require(stride >= static_cast<int64_t>(width) * 3, "stride must be >= width*3");
        cv::Mat mat(height, width, CV_8UC3);
        const size_t row_bytes = static_cast<size_t>(width) * 3;
        for (int32_t y = 0; y < height; ++y)
            std::memcpy(mat.ptr<uint8_t>(y), pixels + static_cast<size_t>(y) * static_cast<size_t>(stride), row_bytes);
        *out = wrap(std::move(mat));
    });
}

void cvision_image_destroy(cvision_image *image) { delete image; }

int32_t cvision_image_width(const cvision_image *image) { return image != nullptr ? image->mat.cols : 0; }

int32_t cvision_image_height(const cvision_image *image) { return image != nullptr ? image->mat.rows : 0; }

int32_t cvision_image_copy_bgr(const cvision_image *image, uint8_t *out, size_t capacity, cvision_status *status) {
    return guarded(status, [&] {
        require(image != nullptr, "image is NULL");
        require(out != nullptr, "out is NULL");
        const cv::Mat &mat = image->mat;
        const size_t row_bytes = static_cast<size_t>(mat.cols) * 3;
        require(capacity / row_bytes >= static_cast<size_t>(mat.rows), "capacity is smaller than width*height*3");
        for (int y = 0; y < mat.rows; ++y)
            std::memcpy(out + static_cast<size_t>(y) * row_bytes, mat.ptr<uint8_t>(y), row_bytes);
    });
}

int32_t cvision_resize(const cvision_image *image, int32_t width, int32_t height, int32_t interpolation,
                       cvision_image **out, cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return guarded(status, [&] {
        require(out != nullptr, "out is NULL");
        require(image != nullptr, "image is NULL");
        require_size(width, height);
        require(interpolation == 0 || interpolation == 1, "interpolation must be 0 (area) or 1 (linear)");
        cv::Mat resized;
        cv::resize(image->mat, resized, cv::Size(width, height), 0, 0,
                   interpolation == 0 ? cv::INTER_AREA : cv::INTER_LINEAR);
        *out = wrap(std::move(resized));
    });
}

int32_t cvision_encode(const cvision_image *image, int32_t x, int32_t y, int32_t w, int32_t h, int32_t format,
                       int32_t quality, cvision_buffer *out, cvision_status *status) {
    if (out != nullptr) *out = cvision_buffer{nullptr, 0};
    return guarded(status, [&] {
        require(out != nullptr, "out is NULL");
        require(image != nullptr, "image is NULL");
        require(rect_inside(image->mat, x, y, w, h), "crop rectangle must lie inside the image, with w,h >= 1");
        *out = encode_region(image->mat, cv::Rect(x, y, w, h), format, quality);
    });
}

int32_t cvision_draw_cut(const cvision_image *image, int32_t y, double dim, uint8_t b, uint8_t g, uint8_t r,
                         cvision_image **out, cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return guarded(status, [&] {
        require(out != nullptr, "out is NULL");
        require(image != nullptr, "image is NULL");
        require(dim >= 0.0 && dim <= 1.0, "dim must be in [0, 1]");  // also rejects NaN
        *out = wrap(draw_cut(image->mat, y, dim, cv::Scalar(b, g, r)));
    });
}

int32_t cvision_inflate(const uint8_t *data, size_t length, size_t max_output, cvision_buffer *out,
                        cvision_status *status) {
    if (out != nullptr) *out = cvision_buffer{nullptr, 0};
    return guarded(status, [&] {
        require(out != nullptr, "out is NULL");
        if (length == 0) fail(CVISION_ERR_DECODE, "empty input");
        require(data != nullptr, "data is NULL");
        *out = inflate_bytes(data, length, max_output);
    });
}

void cvision_buffer_free(cvision_buffer *buffer) {
    if (buffer == nullptr) return;
    std::free(buffer->data);
    buffer->data = nullptr;
    buffer->length = 0;
}

}  // extern "C"
