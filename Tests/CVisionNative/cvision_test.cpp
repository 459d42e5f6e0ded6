// Standalone native test for Sources/CVision (not part of the Swift package).
// Build and run with Tests/CVisionNative/run.sh. Exit status is non-zero on any failure.

#include "cvision.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

using Bytes = std::vector<uint8_t>;

static int g_checks = 0;
static int g_failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        ++g_checks;                                                                   \
        if (!(cond)) {                                                                \
            ++g_failures;                                                             \
            std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
        }                                                                             \
    } while (0)

#define CHECK_CODE(expr, expected)                                                                      \
    do {                                                                                                \
        ++g_checks;                                                                                     \
        const int32_t got_ = (expr);                                                                    \
        if (got_ != (expected)) {                                                                       \
            ++g_failures;                                                                               \
            std::fprintf(stderr, "FAIL %s:%d: %s returned %d, expected %d\n", __FILE__, __LINE__, #expr, \
                         got_, (int)(expected));                                                        \
        }                                                                                               \
    } while (0)

// ---------------------------------------------------------------------------
// Helpers

static Bytes encode(const char *ext, const cv::Mat &mat, const std::vector<int> &params = {}) {
    std::vector<uchar> out;
    if (!cv::imencode(ext, mat, out, params)) {
        std::fprintf(stderr, "test setup: imencode %s failed\n", ext);
        std::exit(2);
    }
    return Bytes(out.begin(), out.end());
}

static void put32(Bytes &b, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
}

static Bytes png_chunk(const char *type, const Bytes &data) {
    Bytes c;
    put32(c, static_cast<uint32_t>(data.size()));
    c.insert(c.end(), type, type + 4);
    c.insert(c.end(), data.begin(), data.end());
    uLong crc = crc32(0, reinterpret_cast<const Bytef *>(type), 4);
    if (!data.empty()) crc = crc32(crc, data.data(), static_cast<uInt>(data.size()));
    put32(c, static_cast<uint32_t>(crc));
    return c;
}

static Bytes zlib_compress(const Bytes &raw) {
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    Bytes z(size);
    if (compress(z.data(), &size, raw.data(), static_cast<uLong>(raw.size())) != Z_OK) std::exit(2);
    z.resize(size);
    return z;
}

// Hand-built 8-bit PNG (OpenCV cannot encode 2-channel images). rows are filtered scanlines' payloads.
static Bytes handmade_png(uint32_t width, uint32_t height, uint8_t colour_type, const Bytes &raw_scanlines) {
    Bytes ihdr;
    put32(ihdr, width);
    put32(ihdr, height);
    ihdr.insert(ihdr.end(), {8, colour_type, 0, 0, 0});
    Bytes png{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    for (const Bytes &c : {png_chunk("IHDR", ihdr), png_chunk("IDAT", zlib_compress(raw_scanlines)), png_chunk("IEND", {})})
        png.insert(png.end(), c.begin(), c.end());
    return png;
}

struct Image {
    cvision_image *ptr = nullptr;
    Image() = default;
    Image(Image &&other) noexcept : ptr(other.ptr) { other.ptr = nullptr; }
    Image(const Image &) = delete;
    Image &operator=(const Image &) = delete;
    ~Image() { cvision_image_destroy(ptr); }
    int w() const { return cvision_image_width(ptr); }
    int h() const { return cvision_image_height(ptr); }
};

struct Buffer {
    cvision_buffer buf{nullptr, 0};
    Buffer() = default;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    ~Buffer() { cvision_buffer_free(&buf); }
    Bytes bytes() const { return Bytes(buf.data, buf.data + buf.length); }
};

static cv::Mat pixels_of(const Image &img) {
    cv::Mat mat(img.h(), img.w(), CV_8UC3);
    cvision_status st;
    CHECK_CODE(cvision_image_copy_bgr(img.ptr, mat.data, mat.total() * 3, &st), CVISION_OK);
    return mat;
}

static int32_t decode(const Bytes &bytes, Image &img, cvision_status &st, int32_t orientation = 1, int64_t max_pixels = 0) {
    return cvision_decode(bytes.data(), bytes.size(), orientation, max_pixels, &img.ptr, &st);
}

static bool near(const cv::Vec3b &p, int b, int g, int r, int tolerance) {
    return std::abs(p[0] - b) <= tolerance && std::abs(p[1] - g) <= tolerance && std::abs(p[2] - r) <= tolerance;
}

static bool same_pixels(const cv::Mat &a, const cv::Mat &b) {
    return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

static Image from_mat(const cv::Mat &bgr) {
    Image img;
    CHECK_CODE(cvision_image_from_bgr(bgr.data, bgr.cols, bgr.rows, static_cast<int32_t>(bgr.step), &img.ptr, nullptr), CVISION_OK);
    return img;
}

static cv::Mat gradient(int width, int height) {
    cv::Mat m(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x * 7 + y), static_cast<uchar>(y * 11), static_cast<uchar>((x ^ y) * 13));
    return m;
}

// Marker segments (second byte after 0xFF) of a JPEG up to the first SOS.
static std::vector<int> jpeg_header_markers(const Bytes &j) {
    std::vector<int> markers;
    size_t i = 2;
    while (i + 4 <= j.size() && j[i] == 0xFF) {
        const int marker = j[i + 1];
        markers.push_back(marker);
        if (marker == 0xDA) break;
        i += 2 + ((j[i + 2] << 8) | j[i + 3]);
    }
    return markers;
}

static std::vector<std::string> png_chunk_types(const Bytes &p) {
    std::vector<std::string> types;
    size_t i = 8;
    while (i + 12 <= p.size()) {
        const size_t length = (size_t(p[i]) << 24) | (size_t(p[i + 1]) << 16) | (size_t(p[i + 2]) << 8) | p[i + 3];
        types.emplace_back(reinterpret_cast<const char *>(&p[i + 4]), 4);
        i += 12 + length;
    }
    return types;
}

// ---------------------------------------------------------------------------
// Tests

static void test_version() {
    CHECK(std::strcmp(cvision_opencv_version(), CV_VERSION) == 0);
}

static void test_decode_8bit_png_exact() {
    const cv::Mat src = gradient(33, 17);
    Image img;
    cvision_status st;
    CHECK_CODE(decode(encode(".png", src), img, st), CVISION_OK);
    CHECK(st.code == 0 && st.message[0] == '\0');
    CHECK(img.w() == 33 && img.h() == 17);
    CHECK(same_pixels(pixels_of(img), src));
}

static void test_decode_16bit_png() {
    cv::Mat src(3, 4, CV_16UC3);
    const uint16_t samples[] = {0, 128, 129, 257, 25700, 32896, 65535, 1000, 60000, 385, 386, 65278};
    for (int i = 0; i < 12; ++i) src.at<cv::Vec3w>(i / 4, i % 4) = cv::Vec3w(samples[i], 65535, 0);
    const Bytes png = encode(".png", src);
    CHECK(cv::imdecode(png, cv::IMREAD_UNCHANGED).depth() == CV_16U);  // really a 16-bit PNG
    Image img;
    cvision_status st;
    CHECK_CODE(decode(png, img, st), CVISION_OK);
    const cv::Mat px = pixels_of(img);
    for (int i = 0; i < 12; ++i) {
        const int expected = static_cast<int>(std::lround(samples[i] / 257.0));
        CHECK(px.at<cv::Vec3b>(i / 4, i % 4) == cv::Vec3b(static_cast<uchar>(expected), 255, 0));
    }
    // 16-bit grayscale too.
    cv::Mat gray16(2, 2, CV_16UC1, cv::Scalar(257 * 42));
    Image g;
    CHECK_CODE(decode(encode(".png", gray16), g, st), CVISION_OK);
    CHECK(pixels_of(g).at<cv::Vec3b>(1, 1) == cv::Vec3b(42, 42, 42));
}

static void test_decode_gray_png() {
    cv::Mat gray(5, 7, CV_8UC1);
    for (int i = 0; i < 35; ++i) gray.data[i] = static_cast<uchar>(i * 7);
    const Bytes png = encode(".png", gray);
    CHECK(cv::imdecode(png, cv::IMREAD_UNCHANGED).channels() == 1);
    Image img;
    cvision_status st;
    CHECK_CODE(decode(png, img, st), CVISION_OK);
    const cv::Mat px = pixels_of(img);
    bool all = img.w() == 7 && img.h() == 5;
    for (int i = 0; i < 35 && all; ++i) all = px.at<cv::Vec3b>(i / 7, i % 7) == cv::Vec3b(gray.data[i], gray.data[i], gray.data[i]);
    CHECK(all);
}

static void test_decode_rgba_png_composites_over_white() {
    cv::Mat bgra(2, 3, CV_8UC4);
    bgra.at<cv::Vec4b>(0, 0) = cv::Vec4b(10, 20, 30, 0);     // fully transparent -> white
    bgra.at<cv::Vec4b>(0, 1) = cv::Vec4b(10, 20, 30, 255);   // opaque -> unchanged
    bgra.at<cv::Vec4b>(0, 2) = cv::Vec4b(0, 100, 200, 128);  // half
    bgra.at<cv::Vec4b>(1, 0) = cv::Vec4b(0, 0, 0, 0);        // transparent black -> white
    bgra.at<cv::Vec4b>(1, 1) = cv::Vec4b(255, 0, 0, 51);     // 20% blue
    bgra.at<cv::Vec4b>(1, 2) = cv::Vec4b(1, 2, 3, 254);
    const Bytes png = encode(".png", bgra);
    CHECK(cv::imdecode(png, cv::IMREAD_UNCHANGED).channels() == 4);
    Image img;
    cvision_status st;
    CHECK_CODE(decode(png, img, st), CVISION_OK);
    const cv::Mat px = pixels_of(img);
    auto blend = [](int c, int a) { return static_cast<int>(std::lround(c * a / 255.0 + 255.0 * (255 - a) / 255.0)); };
    CHECK(px.at<cv::Vec3b>(0, 0) == cv::Vec3b(255, 255, 255));
    CHECK(px.at<cv::Vec3b>(0, 1) == cv::Vec3b(10, 20, 30));
    CHECK(near(px.at<cv::Vec3b>(0, 2), blend(0, 128), blend(100, 128), blend(200, 128), 1));
    CHECK(px.at<cv::Vec3b>(1, 0) == cv::Vec3b(255, 255, 255));
    CHECK(near(px.at<cv::Vec3b>(1, 1), 255, blend(0, 51), blend(0, 51), 1));
    CHECK(near(px.at<cv::Vec3b>(1, 2), blend(1, 254), blend(2, 254), blend(3, 254), 1));
}

static void test_decode_gray_alpha_png() {
    // colour type 4 (gray + alpha), 3x1: (0, a=0), (0, a=128), (200, a=255)
    const Bytes png = handmade_png(3, 1, 4, Bytes{0, 0, 0, 0, 128, 200, 255});
    Image img;
    cvision_status st;
    CHECK_CODE(decode(png, img, st), CVISION_OK);
    const cv::Mat px = pixels_of(img);
    CHECK(px.at<cv::Vec3b>(0, 0) == cv::Vec3b(255, 255, 255));
    CHECK(near(px.at<cv::Vec3b>(0, 1), 127, 127, 127, 1));
    CHECK(px.at<cv::Vec3b>(0, 2) == cv::Vec3b(200, 200, 200));
}

static void test_decode_float_tiff() {
    cv::Mat f(2, 2, CV_32FC3, cv::Scalar(0.0, 0.5, 1.0));
    f.at<cv::Vec3f>(1, 1) = cv::Vec3f(-1.0f, 2.0f, 0.2f);  // out of range saturates
    // OpenCV writes 3-channel float TIFF as lossy SGILOG unless compression is forced off.
    const Bytes tiff = encode(".tiff", f, {cv::IMWRITE_TIFF_COMPRESSION, 1});
    CHECK(cv::imdecode(tiff, cv::IMREAD_UNCHANGED).depth() == CV_32F);
    Image img;
    cvision_status st;
    CHECK_CODE(decode(tiff, img, st), CVISION_OK);
    const cv::Mat px = pixels_of(img);
    CHECK(px.at<cv::Vec3b>(0, 0) == cv::Vec3b(0, 128, 255));
    CHECK(px.at<cv::Vec3b>(1, 1) == cv::Vec3b(0, 255, 51));
}

static void test_decode_other_formats() {
    const cv::Mat src = gradient(24, 16);
    for (const char *ext : {".bmp", ".tiff", ".webp"}) {
        std::vector<int> params;
        if (std::strcmp(ext, ".webp") == 0) params = {cv::IMWRITE_WEBP_QUALITY, 101};  // >100 = lossless
        Image img;
        cvision_status st;
        CHECK_CODE(decode(encode(ext, src, params), img, st), CVISION_OK);
        CHECK(img.w() == 24 && img.h() == 16);
        if (img.ptr != nullptr) CHECK(same_pixels(pixels_of(img), src));
    }
}

static void test_decode_truncated_jpeg() {
    cv::Mat noisy(64, 96, CV_8UC3);
    cv::randu(noisy, 0, 256);
    const Bytes jpg = encode(".jpg", noisy, {cv::IMWRITE_JPEG_QUALITY, 90});
    // OpenCV on its own accepts a baseline JPEG cut in half (libjpeg fills the rest with grey).
    const Bytes half(jpg.begin(), jpg.begin() + jpg.size() / 2);
    CHECK(!cv::imdecode(half, cv::IMREAD_UNCHANGED).empty());

    for (size_t cut : {jpg.size() - 1, jpg.size() - 2, jpg.size() - 50, jpg.size() / 2, size_t(700), size_t(100), size_t(3), size_t(1)}) {
        const Bytes truncated(jpg.begin(), jpg.begin() + cut);
        Image img;
        cvision_status st;
        CHECK_CODE(decode(truncated, img, st), CVISION_ERR_DECODE);
        CHECK(img.ptr == nullptr);
        CHECK(st.message[0] != '\0');
    }
    // The complete file, and the file with trailing junk after EOI, still decode.
    Image whole;
    cvision_status st;
    CHECK_CODE(decode(jpg, whole, st), CVISION_OK);
    Bytes padded = jpg;
    padded.insert(padded.end(), {0x00, 0x00, 0x12, 0x34});
    Image pad;
    CHECK_CODE(decode(padded, pad, st), CVISION_OK);
    // A progressive JPEG also passes the completeness check.
    Image prog;
    CHECK_CODE(decode(encode(".jpg", noisy, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}), prog, st), CVISION_OK);
}

static void test_decode_garbage_and_empty() {
    std::mt19937 rng(1234);
    Bytes garbage(4096);
    for (auto &b : garbage) b = static_cast<uint8_t>(rng());
    Image img;
    cvision_status st;
    CHECK_CODE(decode(garbage, img, st), CVISION_ERR_DECODE);
    CHECK(img.ptr == nullptr);
    CHECK(std::strstr(st.message, "not a decodable image") != nullptr);

    // Truncated PNG.
    const Bytes png = encode(".png", gradient(64, 64));
    CHECK_CODE(decode(Bytes(png.begin(), png.begin() + png.size() / 2), img, st), CVISION_ERR_DECODE);

    // GIF is not supported by OpenCV 4.6.
    const Bytes gif{0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21, 0xf9, 4, 1, 0,
                    0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b};
    CHECK_CODE(decode(gif, img, st), CVISION_ERR_DECODE);

    const uint8_t byte = 0;
    CHECK_CODE(cvision_decode(&byte, 0, 1, 0, &img.ptr, &st), CVISION_ERR_DECODE);
    CHECK(std::strcmp(st.message, "empty input") == 0);
    CHECK_CODE(cvision_decode(nullptr, 0, 1, 0, &img.ptr, &st), CVISION_ERR_DECODE);
    CHECK_CODE(cvision_decode(nullptr, 10, 1, 0, &img.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_decode(png.data(), png.size(), 1, 0, nullptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_decode(garbage.data(), garbage.size(), 1, 0, &img.ptr, nullptr), CVISION_ERR_DECODE);
    CHECK_CODE(cvision_decode(png.data(), size_t(INT32_MAX) + 1, 1, 0, &img.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK(img.ptr == nullptr);
}

static void test_decode_huge_header() {
    // IHDR claims 100000 x 100000 (above OpenCV's own 2^30-pixel limit).
    const Bytes png = handmade_png(100000, 100000, 2, Bytes{0, 1, 2, 3});
    Image img;
    cvision_status st;
    CHECK_CODE(decode(png, img, st, 1, 0), CVISION_ERR_DECODE);
    CHECK(img.ptr == nullptr);
}

static void test_max_pixels() {
    const Bytes png = encode(".png", gradient(40, 20));
    Image img;
    cvision_status st;
    CHECK_CODE(decode(png, img, st, 1, 799), CVISION_ERR_TOO_LARGE);
    CHECK(img.ptr == nullptr && st.code == CVISION_ERR_TOO_LARGE && st.message[0] != '\0');
    CHECK_CODE(decode(png, img, st, 1, 800), CVISION_OK);
    Image unlimited;
    CHECK_CODE(decode(png, unlimited, st, 1, -1), CVISION_OK);
}

static void test_orientation_jpeg_40x20() {
    // 40x20 grey JPEG with a red block at the top-left and a green block at the top-right.
    cv::Mat src(20, 40, CV_8UC3, cv::Scalar(128, 128, 128));
    src(cv::Rect(0, 0, 10, 10)).setTo(cv::Scalar(0, 0, 255));
    src(cv::Rect(30, 0, 10, 10)).setTo(cv::Scalar(0, 255, 0));
    const Bytes jpg = encode(".jpg", src, {cv::IMWRITE_JPEG_QUALITY, 95});
    Image plain, rotated;
    cvision_status st;
    CHECK_CODE(decode(jpg, plain, st, 1), CVISION_OK);
    CHECK(plain.w() == 40 && plain.h() == 20);
    CHECK_CODE(decode(jpg, rotated, st, 6), CVISION_OK);
    CHECK(rotated.w() == 20 && rotated.h() == 40);
    if (rotated.w() != 20 || rotated.h() != 40) return;
    const cv::Mat px = pixels_of(rotated);
    // Rotating 90 degrees clockwise: top-left -> top-right, top-right -> bottom-right.
    CHECK(near(px.at<cv::Vec3b>(5, 14), 0, 0, 255, 40));   // red now at the top-right corner
    CHECK(near(px.at<cv::Vec3b>(34, 14), 0, 255, 0, 40));  // green now at the bottom-right corner
    CHECK(near(px.at<cv::Vec3b>(5, 5), 128, 128, 128, 40));
    CHECK(near(px.at<cv::Vec3b>(34, 5), 128, 128, 128, 40));
}

static void test_embedded_exif_orientation_is_ignored() {
    // A JPEG carrying EXIF orientation 6: OpenCV's IMREAD_COLOR would rotate it, the shim must not
    // (the caller passes the orientation explicitly, so it is applied exactly once).
    const Bytes jpg = encode(".jpg", cv::Mat(20, 40, CV_8UC3, cv::Scalar(1, 2, 3)));
    Bytes app1{0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2A, 0, 8, 0, 0, 0,
               1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
    app1[3] = static_cast<uint8_t>(app1.size() - 2);
    Bytes tagged(jpg.begin(), jpg.begin() + 2);
    tagged.insert(tagged.end(), app1.begin(), app1.end());
    tagged.insert(tagged.end(), jpg.begin() + 2, jpg.end());
    CHECK(cv::imdecode(tagged, cv::IMREAD_COLOR).cols == 20);  // proves the tag is there and readable
    Image plain, rotated;
    cvision_status st;
    CHECK_CODE(decode(tagged, plain, st, 1), CVISION_OK);
    CHECK(plain.w() == 40 && plain.h() == 20);
    CHECK_CODE(decode(tagged, rotated, st, 6), CVISION_OK);
    CHECK(rotated.w() == 20 && rotated.h() == 40);
}

static void test_all_orientations_exact() {
    const int W = 3, H = 2;
    cv::Mat src(H, W, CV_8UC3);
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) src.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x), static_cast<uchar>(y), 77);
    const Bytes png = encode(".png", src);
    // Expected source coordinate for each output coordinate, per EXIF orientation.
    const std::function<cv::Point(int, int)> map[9] = {
        [&](int x, int y) { return cv::Point(x, y); },                  // 0 -> treated as 1
        [&](int x, int y) { return cv::Point(x, y); },                  // 1
        [&](int x, int y) { return cv::Point(W - 1 - x, y); },          // 2 mirror horizontal
        [&](int x, int y) { return cv::Point(W - 1 - x, H - 1 - y); },  // 3 rotate 180
        [&](int x, int y) { return cv::Point(x, H - 1 - y); },          // 4 mirror vertical
        [&](int x, int y) { return cv::Point(y, x); },                  // 5 transpose
        [&](int x, int y) { return cv::Point(y, H - 1 - x); },          // 6 rotate 90 CW
        [&](int x, int y) { return cv::Point(W - 1 - y, H - 1 - x); },  // 7 transverse
        [&](int x, int y) { return cv::Point(W - 1 - y, x); },          // 8 rotate 90 CCW
    };
    for (int o = 0; o <= 8; ++o) {
        Image img;
        cvision_status st;
        CHECK_CODE(decode(png, img, st, o), CVISION_OK);
        const bool swapped = o >= 5;
        CHECK(img.w() == (swapped ? H : W) && img.h() == (swapped ? W : H));
        if (img.w() != (swapped ? H : W) || img.h() != (swapped ? W : H)) continue;
        const cv::Mat px = pixels_of(img);
        bool ok = true;
        for (int y = 0; y < px.rows; ++y)
            for (int x = 0; x < px.cols; ++x) {
                const cv::Point p = map[o](x, y);
                ok = ok && px.at<cv::Vec3b>(y, x) == src.at<cv::Vec3b>(p.y, p.x);
            }
        if (!ok) std::fprintf(stderr, "orientation %d mismatch\n", o);
        CHECK(ok);
    }
    for (int o : {-1, 9, 1000}) {
        Image img;
        cvision_status st;
        CHECK_CODE(decode(png, img, st, o), CVISION_OK);
        CHECK(img.w() == W && img.h() == H && same_pixels(pixels_of(img), src));
    }
}

static void test_from_bgr_and_copy() {
    // Padded stride: 5 pixels wide, 20 bytes per row.
    const int width = 5, height = 3, stride = 20;
    Bytes pixels(size_t(stride) * height, 0xEE);
    for (int y = 0; y < height; ++y)
        for (int i = 0; i < width * 3; ++i) pixels[size_t(y) * stride + i] = static_cast<uint8_t>(y * 100 + i);
    Image img;
    cvision_status st;
    CHECK_CODE(cvision_image_from_bgr(pixels.data(), width, height, stride, &img.ptr, &st), CVISION_OK);
    CHECK(img.w() == width && img.h() == height);
    Bytes packed(size_t(width) * height * 3);
    CHECK_CODE(cvision_image_copy_bgr(img.ptr, packed.data(), packed.size(), &st), CVISION_OK);
    bool ok = true;
    for (int y = 0; y < height; ++y)
        for (int i = 0; i < width * 3; ++i) ok = ok && packed[size_t(y) * width * 3 + i] == static_cast<uint8_t>(y * 100 + i);
    CHECK(ok);

    CHECK_CODE(cvision_image_copy_bgr(img.ptr, packed.data(), packed.size() - 1, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_image_copy_bgr(img.ptr, nullptr, packed.size(), &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_image_copy_bgr(nullptr, packed.data(), packed.size(), nullptr), CVISION_ERR_ARGUMENT);

    Image bad;
    CHECK_CODE(cvision_image_from_bgr(pixels.data(), width, height, width * 3 - 1, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_image_from_bgr(pixels.data(), 0, height, stride, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_image_from_bgr(pixels.data(), width, -1, stride, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_image_from_bgr(nullptr, width, height, stride, &bad.ptr, nullptr), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_image_from_bgr(pixels.data(), width, height, stride, nullptr, &st), CVISION_ERR_ARGUMENT);
    // width*3 overflows int32: stride can never be large enough.
    CHECK_CODE(cvision_image_from_bgr(pixels.data(), INT32_MAX, 1, INT32_MAX, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK(bad.ptr == nullptr);

    CHECK(cvision_image_width(nullptr) == 0 && cvision_image_height(nullptr) == 0);
    cvision_image_destroy(nullptr);
}

static void test_resize() {
    Image src = from_mat(cv::Mat(30, 40, CV_8UC3, cv::Scalar(10, 20, 30)));
    for (int interpolation : {0, 1}) {
        Image small;
        cvision_status st;
        CHECK_CODE(cvision_resize(src.ptr, 13, 7, interpolation, &small.ptr, &st), CVISION_OK);
        CHECK(small.w() == 13 && small.h() == 7);
        if (small.ptr != nullptr) CHECK(cv::norm(pixels_of(small), cv::Mat(7, 13, CV_8UC3, cv::Scalar(10, 20, 30)), cv::NORM_INF) == 0);
    }
    Image big;
    CHECK_CODE(cvision_resize(src.ptr, 81, 59, 0, &big.ptr, nullptr), CVISION_OK);
    CHECK(big.w() == 81 && big.h() == 59);
    Image bad;
    cvision_status st;
    CHECK_CODE(cvision_resize(src.ptr, 10, 10, 2, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_resize(src.ptr, 0, 10, 0, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_resize(src.ptr, 10, -5, 0, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_resize(src.ptr, INT32_MAX, INT32_MAX, 0, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    // Allocation failure (6.9e18 bytes can never be allocated) is reported, not thrown.
    CHECK_CODE(cvision_resize(src.ptr, INT32_MAX, 1 << 30, 1, &bad.ptr, &st), CVISION_ERR_MEMORY);
    const size_t length = std::strlen(st.message);
    CHECK(length > 0 && st.message[length - 1] != '\n');
    CHECK_CODE(cvision_resize(nullptr, 10, 10, 0, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_resize(src.ptr, 10, 10, 0, nullptr, &st), CVISION_ERR_ARGUMENT);
    CHECK(bad.ptr == nullptr);
}

static void test_encode_png_round_trip_and_crop() {
    const cv::Mat src = gradient(50, 40);
    Image img = from_mat(src);
    Buffer whole, crop, again;
    cvision_status st;
    CHECK_CODE(cvision_encode(img.ptr, 0, 0, 50, 40, CVISION_FORMAT_PNG, 0, &whole.buf, &st), CVISION_OK);
    CHECK(st.code == 0 && st.message[0] == '\0');
    CHECK(same_pixels(cv::imdecode(whole.bytes(), cv::IMREAD_UNCHANGED), src));

    CHECK_CODE(cvision_encode(img.ptr, 7, 5, 20, 11, CVISION_FORMAT_PNG, 55, &crop.buf, &st), CVISION_OK);
    CHECK(same_pixels(cv::imdecode(crop.bytes(), cv::IMREAD_UNCHANGED), src(cv::Rect(7, 5, 20, 11))));
    // Round trip through cvision_decode too.
    Image back;
    CHECK_CODE(decode(crop.bytes(), back, st), CVISION_OK);
    CHECK(same_pixels(pixels_of(back), src(cv::Rect(7, 5, 20, 11))));

    CHECK_CODE(cvision_encode(img.ptr, 7, 5, 20, 11, CVISION_FORMAT_PNG, 90, &again.buf, nullptr), CVISION_OK);
    CHECK(crop.bytes() == again.bytes());  // deterministic, quality ignored
    const std::vector<std::string> chunks = png_chunk_types(crop.bytes());
    CHECK((chunks == std::vector<std::string>{"IHDR", "IDAT", "IEND"}));  // no metadata chunks
}

static void test_encode_jpeg_round_trip() {
    cv::Mat src(32, 48, CV_8UC3, cv::Scalar(40, 90, 200));
    src(cv::Rect(16, 8, 16, 16)).setTo(cv::Scalar(250, 250, 250));
    Image img = from_mat(src);
    Buffer a, b, low;
    cvision_status st;
    CHECK_CODE(cvision_encode(img.ptr, 16, 8, 32, 24, CVISION_FORMAT_JPEG, 92, &a.buf, &st), CVISION_OK);
    CHECK_CODE(cvision_encode(img.ptr, 16, 8, 32, 24, CVISION_FORMAT_JPEG, 92, &b.buf, &st), CVISION_OK);
    CHECK(a.buf.length > 0 && a.bytes() == b.bytes());
    const Bytes jpg = a.bytes();
    CHECK(jpg.size() > 4 && jpg[0] == 0xFF && jpg[1] == 0xD8 && jpg[jpg.size() - 2] == 0xFF && jpg[jpg.size() - 1] == 0xD9);
    const std::vector<int> markers = jpeg_header_markers(jpg);
    bool baseline = false, progressive = false, metadata = false;
    for (int m : markers) {
        baseline = baseline || m == 0xC0;
        progressive = progressive || m == 0xC2;
        metadata = metadata || (m >= 0xE1 && m <= 0xEF) || m == 0xFE;  // APP1..APP15 (EXIF, XMP, ICC...) or COM
    }
    CHECK(baseline && !progressive && !metadata);

    Image back;
    CHECK_CODE(decode(jpg, back, st), CVISION_OK);
    CHECK(back.w() == 32 && back.h() == 24);
    if (back.ptr != nullptr) {
        const cv::Mat px = pixels_of(back);
        CHECK(near(px.at<cv::Vec3b>(8, 8), 250, 250, 250, 12));    // inside the white square
        CHECK(near(px.at<cv::Vec3b>(20, 28), 40, 90, 200, 12));   // background
    }
    CHECK_CODE(cvision_encode(img.ptr, 0, 0, 48, 32, CVISION_FORMAT_JPEG, 1, &low.buf, &st), CVISION_OK);
    CHECK(low.buf.length > 0 && !cv::imdecode(low.bytes(), cv::IMREAD_UNCHANGED).empty());

    Buffer bad;
    CHECK_CODE(cvision_encode(img.ptr, 0, 0, 48, 32, CVISION_FORMAT_JPEG, 0, &bad.buf, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_encode(img.ptr, 0, 0, 48, 32, CVISION_FORMAT_JPEG, 101, &bad.buf, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_encode(img.ptr, 0, 0, 48, 32, 2, 90, &bad.buf, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_encode(img.ptr, 0, 0, 48, 32, -1, 90, &bad.buf, nullptr), CVISION_ERR_ARGUMENT);
    CHECK(bad.buf.data == nullptr && bad.buf.length == 0);
}

static void test_encode_rect_out_of_bounds() {
    Image img = from_mat(gradient(20, 10));
    struct Case { int x, y, w, h; };
    const Case cases[] = {
        {-1, 0, 5, 5}, {0, -1, 5, 5}, {16, 0, 5, 5}, {0, 6, 5, 5}, {0, 0, 21, 10}, {0, 0, 20, 11},
        {0, 0, 0, 5}, {0, 0, 5, 0}, {0, 0, -5, 5}, {20, 0, 1, 1}, {0, 10, 1, 1},
        {INT32_MAX, 0, INT32_MAX, 1}, {1, 0, INT32_MAX, 1}, {0, 1, 1, INT32_MAX}, {INT32_MIN, 0, 5, 5},
    };
    for (const Case &c : cases) {
        Buffer out;
        cvision_status st;
        CHECK_CODE(cvision_encode(img.ptr, c.x, c.y, c.w, c.h, CVISION_FORMAT_PNG, 0, &out.buf, &st), CVISION_ERR_ARGUMENT);
        CHECK(out.buf.data == nullptr && out.buf.length == 0 && st.message[0] != '\0');
    }
    Buffer edge;
    CHECK_CODE(cvision_encode(img.ptr, 19, 9, 1, 1, CVISION_FORMAT_PNG, 0, &edge.buf, nullptr), CVISION_OK);
    cvision_buffer_free(&edge.buf);  // out parameters are overwritten, never freed, by the shim
    CHECK(edge.buf.data == nullptr && edge.buf.length == 0);
    CHECK_CODE(cvision_encode(nullptr, 0, 0, 1, 1, CVISION_FORMAT_PNG, 0, &edge.buf, nullptr), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_encode(img.ptr, 0, 0, 1, 1, CVISION_FORMAT_PNG, 0, nullptr, nullptr), CVISION_ERR_ARGUMENT);
}

static void test_draw_cut() {
    Image img = from_mat(cv::Mat(10, 4, CV_8UC3, cv::Scalar(200, 100, 50)));
    Image out;
    cvision_status st;
    CHECK_CODE(cvision_draw_cut(img.ptr, 4, 0.55, 0, 0, 255, &out.ptr, &st), CVISION_OK);
    CHECK(out.w() == 4 && out.h() == 10);
    const cv::Mat px = pixels_of(out);
    CHECK(near(px.at<cv::Vec3b>(0, 0), 90, 45, 22, 1));  // 45% brightness: 200*.45=90, 100*.45=45, 50*.45=22.5
    CHECK(near(px.at<cv::Vec3b>(3, 3), 90, 45, 22, 1));
    CHECK(px.at<cv::Vec3b>(4, 0) == cv::Vec3b(0, 0, 255));   // line rows 4 and 5
    CHECK(px.at<cv::Vec3b>(5, 3) == cv::Vec3b(0, 0, 255));
    CHECK(px.at<cv::Vec3b>(6, 0) == cv::Vec3b(200, 100, 50));
    CHECK(px.at<cv::Vec3b>(9, 3) == cv::Vec3b(200, 100, 50));
    CHECK(pixels_of(img).at<cv::Vec3b>(0, 0) == cv::Vec3b(200, 100, 50));  // source untouched

    Image low, high, none;
    CHECK_CODE(cvision_draw_cut(img.ptr, -7, 0.5, 1, 2, 3, &low.ptr, nullptr), CVISION_OK);
    const cv::Mat lp = pixels_of(low);
    CHECK(lp.at<cv::Vec3b>(0, 0) == cv::Vec3b(1, 2, 3) && lp.at<cv::Vec3b>(1, 0) == cv::Vec3b(1, 2, 3));
    CHECK(lp.at<cv::Vec3b>(2, 0) == cv::Vec3b(200, 100, 50));
    CHECK_CODE(cvision_draw_cut(img.ptr, 500, 1.0, 1, 2, 3, &high.ptr, nullptr), CVISION_OK);
    const cv::Mat hp = pixels_of(high);
    CHECK(hp.at<cv::Vec3b>(7, 0) == cv::Vec3b(0, 0, 0));
    CHECK(hp.at<cv::Vec3b>(8, 0) == cv::Vec3b(1, 2, 3) && hp.at<cv::Vec3b>(9, 0) == cv::Vec3b(1, 2, 3));
    CHECK_CODE(cvision_draw_cut(img.ptr, 2, 0.0, 9, 9, 9, &none.ptr, nullptr), CVISION_OK);
    CHECK(pixels_of(none).at<cv::Vec3b>(0, 0) == cv::Vec3b(200, 100, 50));

    Image one_row_src = from_mat(cv::Mat(1, 3, CV_8UC3, cv::Scalar(5, 5, 5)));
    Image one_row;
    CHECK_CODE(cvision_draw_cut(one_row_src.ptr, 0, 0.5, 7, 8, 9, &one_row.ptr, nullptr), CVISION_OK);
    CHECK(pixels_of(one_row).at<cv::Vec3b>(0, 2) == cv::Vec3b(7, 8, 9));

    Image bad;
    CHECK_CODE(cvision_draw_cut(img.ptr, 4, 1.5, 0, 0, 0, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_draw_cut(img.ptr, 4, -0.1, 0, 0, 0, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_draw_cut(img.ptr, 4, std::nan(""), 0, 0, 0, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_draw_cut(nullptr, 4, 0.5, 0, 0, 0, &bad.ptr, &st), CVISION_ERR_ARGUMENT);
    CHECK_CODE(cvision_draw_cut(img.ptr, 4, 0.5, 0, 0, 0, nullptr, &st), CVISION_ERR_ARGUMENT);
    CHECK(bad.ptr == nullptr);
}

static void test_inflate() {
    std::string text = "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123456789, Size: 832x1216";
    const Bytes raw(text.begin(), text.end());
    const Bytes z = zlib_compress(raw);
    cvision_status st;
    {
        Buffer out;
        CHECK_CODE(cvision_inflate(z.data(), z.size(), 1 << 20, &out.buf, &st), CVISION_OK);
        CHECK(out.bytes() == raw);
    }
    {
        Buffer exact;
        CHECK_CODE(cvision_inflate(z.data(), z.size(), raw.size(), &exact.buf, &st), CVISION_OK);
        CHECK(exact.bytes() == raw);
    }
    {
        Buffer small;
        CHECK_CODE(cvision_inflate(z.data(), z.size(), raw.size() - 1, &small.buf, &st), CVISION_ERR_TOO_LARGE);
        CHECK(small.buf.data == nullptr && small.buf.length == 0 && st.message[0] != '\0');
        CHECK_CODE(cvision_inflate(z.data(), z.size(), 0, &small.buf, nullptr), CVISION_ERR_TOO_LARGE);
    }
    {
        // Large, highly compressible output: several buffer growths; a zip bomb is cut off at the limit.
        Bytes big(3 << 20);
        for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>((i * 31) % 251);
        const Bytes bz = zlib_compress(big);
        Buffer out, capped;
        CHECK_CODE(cvision_inflate(bz.data(), bz.size(), big.size(), &out.buf, &st), CVISION_OK);
        CHECK(out.bytes() == big);
        CHECK_CODE(cvision_inflate(bz.data(), bz.size(), 1 << 20, &capped.buf, &st), CVISION_ERR_TOO_LARGE);
        Buffer unlimited;
        CHECK_CODE(cvision_inflate(bz.data(), bz.size(), SIZE_MAX, &unlimited.buf, &st), CVISION_OK);
        CHECK(unlimited.buf.length == big.size());
    }
    {
        Buffer empty_payload;
        const Bytes ez = zlib_compress(Bytes{});
        CHECK_CODE(cvision_inflate(ez.data(), ez.size(), 0, &empty_payload.buf, &st), CVISION_OK);
        CHECK(empty_payload.buf.length == 0);
    }
    {
        Buffer out;
        Bytes corrupt = z;
        corrupt[0] = 0x12;  // bad zlib header
        CHECK_CODE(cvision_inflate(corrupt.data(), corrupt.size(), 1 << 20, &out.buf, &st), CVISION_ERR_DECODE);
        Bytes bad_checksum = z;
        bad_checksum.back() ^= 0xFF;
        CHECK_CODE(cvision_inflate(bad_checksum.data(), bad_checksum.size(), 1 << 20, &out.buf, &st), CVISION_ERR_DECODE);
        CHECK_CODE(cvision_inflate(z.data(), z.size() / 2, 1 << 20, &out.buf, &st), CVISION_ERR_DECODE);  // truncated
        CHECK_CODE(cvision_inflate(raw.data(), raw.size(), 1 << 20, &out.buf, &st), CVISION_ERR_DECODE);  // not zlib
        CHECK_CODE(cvision_inflate(z.data(), 0, 1 << 20, &out.buf, &st), CVISION_ERR_DECODE);
        CHECK_CODE(cvision_inflate(nullptr, 5, 1 << 20, &out.buf, &st), CVISION_ERR_ARGUMENT);
        CHECK_CODE(cvision_inflate(z.data(), z.size(), 1 << 20, nullptr, &st), CVISION_ERR_ARGUMENT);
        CHECK(out.buf.data == nullptr);
    }
    {
        Buffer trailing;
        Bytes padded = z;
        padded.insert(padded.end(), {1, 2, 3});
        CHECK_CODE(cvision_inflate(padded.data(), padded.size(), 1 << 20, &trailing.buf, &st), CVISION_OK);
        CHECK(trailing.bytes() == raw);
    }
    cvision_buffer_free(nullptr);
    cvision_buffer manual{nullptr, 0};
    cvision_buffer_free(&manual);
    CHECK(manual.data == nullptr && manual.length == 0);
}

int main() {
    test_version();
    test_decode_8bit_png_exact();
    test_decode_16bit_png();
    test_decode_gray_png();
    test_decode_rgba_png_composites_over_white();
    test_decode_gray_alpha_png();
    test_decode_float_tiff();
    test_decode_other_formats();
    test_decode_truncated_jpeg();
    test_decode_garbage_and_empty();
    test_decode_huge_header();
    test_max_pixels();
    test_orientation_jpeg_40x20();
    test_embedded_exif_orientation_is_ignored();
    test_all_orientations_exact();
    test_from_bgr_and_copy();
    test_resize();
    test_encode_png_round_trip_and_crop();
    test_encode_jpeg_round_trip();
    test_encode_rect_out_of_bounds();
    test_draw_cut();
    test_inflate();
    std::printf("cvision native test (OpenCV %s): %d checks, %d failures\n", cvision_opencv_version(), g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
