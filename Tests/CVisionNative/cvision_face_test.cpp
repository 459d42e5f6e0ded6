// Native test of the CVision face detector (not part of the Swift package). Run by Tests/CVisionNative/run.sh.
//
//   cvision_face_test MODELS IMAGES OVERLAYS           checks; writes overlay PNGs into OVERLAYS
//   cvision_face_test MODELS IMAGES OVERLAYS --leak    create a detector, detect 5 images, destroy (valgrind)
//   cvision_face_test MODELS IMAGES OVERLAYS --bench   timings on 1024x1536 images, single thread
//
// MODELS holds face_detection_short_range.onnx and face_landmark.onnx (scripts/install-models). IMAGES holds
// astronaut.png, camera.png, coffee.png, rocket.jpg, chelsea.png and motorcycle_left.png from the
// scikit-image 0.26.0 wheel. The variants of the astronaut portrait are made here, each with the affine map
// from the original 512x512 portrait, so reference points checked by eye there can be checked everywhere.

#include "cvision.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect/face.hpp>
#include <opencv2/core/utils/logger.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

static int g_checks = 0;
static int g_failures = 0;

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        ++g_checks;                                                                    \
        if (!(cond)) {                                                                 \
            ++g_failures;                                                              \
            std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);       \
            std::fprintf(stderr, __VA_ARGS__);                                         \
            std::fputc('\n', stderr);                                                  \
        }                                                                              \
    } while (0)

namespace {

std::string g_models, g_images, g_overlays;

// Reference points on the original 512x512 astronaut portrait (continuous pixel coordinates: pixel (i, j)
// covers [i, i+1) x [j, j+1)), placed by eye on 6x and 12x zooms of the bare image with a pixel grid: the
// landmark index, the point, and the tolerance in original pixels (scaled with the variant). The mouth is
// open (teeth show), so 13 and 14 are apart.
struct Reference {
    int index;
    const char *name;
    cv::Point2f at;
    float tolerance;
};
const Reference kReferences[] = {
    {152, "chin bottom", {222.0f, 176.3f}, 3.0f},
    {2, "nose bottom", {223.5f, 133.5f}, 2.5f},
    {0, "upper-lip top", {223.5f, 139.3f}, 2.5f},
    {13, "upper-lip bottom", {223.5f, 142.5f}, 2.5f},
    {14, "lower-lip top", {223.0f, 148.8f}, 2.5f},
    {17, "lower-lip bottom", {222.5f, 154.2f}, 3.0f},
};

struct Variant {
    std::string name;
    cv::Mat bgr;
    cv::Matx23f from_portrait;  // original portrait -> variant (continuous coordinates); zero if n/a
    float roll = 0.0f;          // expected roll in degrees (positive = clockwise on screen)
    bool positive = true;
    bool mapped = true;
    float roll_tolerance = 5.0f;  // degrees
};

cv::Mat load(const std::string &file) {
    cv::Mat m = cv::imread(g_images + "/" + file, cv::IMREAD_COLOR);
    if (m.empty()) {
        std::fprintf(stderr, "cannot read %s/%s\n", g_images.c_str(), file.c_str());
        std::exit(2);
    }
    return m;
}

cv::Point2f map_point(const cv::Matx23f &m, cv::Point2f p) {
    return {m(0, 0) * p.x + m(0, 1) * p.y + m(0, 2), m(1, 0) * p.x + m(1, 1) * p.y + m(1, 2)};
}

// a then b
cv::Matx23f compose(const cv::Matx23f &b, const cv::Matx23f &a) {
    const cv::Matx33f A(a(0, 0), a(0, 1), a(0, 2), a(1, 0), a(1, 1), a(1, 2), 0, 0, 1);
    const cv::Matx33f B(b(0, 0), b(0, 1), b(0, 2), b(1, 0), b(1, 1), b(1, 2), 0, 0, 1);
    const cv::Matx33f C = B * A;
    return cv::Matx23f(C(0, 0), C(0, 1), C(0, 2), C(1, 0), C(1, 1), C(1, 2));
}

// Rotates `src` by `degrees` counter-clockwise on screen (like Pillow's rotate) about its centre, grey fill.
// Returns the continuous-coordinate map.
cv::Matx23f rotate(const cv::Mat &src, cv::Mat &dst, float degrees) {
    const cv::Point2f centre(src.cols / 2.0f, src.rows / 2.0f);
    const cv::Mat m = cv::getRotationMatrix2D(centre, degrees, 1.0);  // continuous == index map for a rotation about
    cv::Mat index = m.clone();                                         // the centre, shifted by 0.5 on both sides
    index.at<double>(0, 2) += 0.5 * (m.at<double>(0, 0) + m.at<double>(0, 1)) - 0.5;
    index.at<double>(1, 2) += 0.5 * (m.at<double>(1, 0) + m.at<double>(1, 1)) - 0.5;
    cv::warpAffine(src, dst, index, src.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(128));
    cv::Matx23f out;
    for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 3; ++c) out(r, c) = static_cast<float>(m.at<double>(r, c));
    return out;
}

std::vector<Variant> make_variants() {
    const cv::Mat portrait = load("astronaut.png");
    std::vector<Variant> v;
    const cv::Matx23f identity(1, 0, 0, 0, 1, 0);
    v.push_back({"astronaut", portrait, identity});

    // The portrait at 1024 wide at the top of a 1024x1536 grey canvas.
    cv::Mat tall(1536, 1024, CV_8UC3, cv::Scalar::all(128));
    cv::resize(portrait, tall(cv::Rect(0, 0, 1024, 1024)), cv::Size(1024, 1024), 0, 0, cv::INTER_CUBIC);
    const cv::Matx23f to_tall(2, 0, 0, 0, 2, 0);
    v.push_back({"tall", tall, to_tall});

    for (float angle : {15.0f, -30.0f}) {
        cv::Mat rotated;
        const cv::Matx23f m = rotate(tall, rotated, angle);
        v.push_back({angle > 0 ? "rot+15" : "rot-30", rotated, compose(m, to_tall), -angle});
    }

    cv::Mat mirror;
    cv::flip(tall, mirror, 1);
    v.push_back({"mirror", mirror, compose(cv::Matx23f(-1, 0, 1024, 0, 1, 0), to_tall)});

    // The head (face about 100 px wide at scale 1) and at half size, pasted into a grey 1024x1536 canvas.
    const cv::Rect head(120, 0, 210, 250);
    for (const auto &[name, scale, px, py] : {std::tuple<const char *, float, int, int>{"face100", 1.0f, 600, 1000},
                                              std::tuple<const char *, float, int, int>{"face50", 0.5f, 200, 700}}) {
        cv::Mat canvas(1536, 1024, CV_8UC3, cv::Scalar::all(128));
        const cv::Size size(static_cast<int>(std::lround(head.width * scale)), static_cast<int>(std::lround(head.height * scale)));
        cv::resize(portrait(head), canvas(cv::Rect(cv::Point(px, py), size)), size, 0, 0, cv::INTER_AREA);
        v.push_back({name, canvas, cv::Matx23f(scale, 0, px - scale * head.x, 0, scale, py - scale * head.y)});
    }

    // A 1024x1536 crop of the portrait scaled 3x: the face fills the frame.
    cv::Mat big;
    cv::resize(portrait, big, cv::Size(1536, 1536), 0, 0, cv::INTER_CUBIC);
    v.push_back({"full", big(cv::Rect(160, 0, 1024, 1536)).clone(), cv::Matx23f(3, 0, -160, 0, 3, 0)});

    Variant camera{"camera", load("camera.png"), cv::Matx23f()};
    camera.mapped = false;
    // The cameraman's head is turned far to the side, so the eye-corner line (33 -> 263) that defines roll
    // is foreshortened: small ROI changes move it by a few degrees (4.8 to 5.7 seen). Upright within 8.
    camera.roll_tolerance = 8.0f;
    v.push_back(camera);
    for (const char *file : {"coffee.png", "rocket.jpg", "chelsea.png", "motorcycle_left.png"}) {
        Variant n{std::string(file).substr(0, std::string(file).find('.')), load(file), cv::Matx23f()};
        n.positive = false;
        n.mapped = false;
        v.push_back(n);
    }
    return v;
}

struct Image {
    cvision_image *ptr = nullptr;
    explicit Image(const cv::Mat &bgr) {
        cvision_status st;
        if (cvision_image_from_bgr(bgr.data, bgr.cols, bgr.rows, static_cast<int32_t>(bgr.step), &ptr, &st) != CVISION_OK) {
            std::fprintf(stderr, "cvision_image_from_bgr: %s\n", st.message);
            std::exit(2);
        }
    }
    Image(const Image &) = delete;
    Image &operator=(const Image &) = delete;
    ~Image() { cvision_image_destroy(ptr); }
};

struct Detector {
    cvision_detector *ptr = nullptr;
    // engine -1: cvision_detector_create's choice (XNNPACK where it runs, as on every machine this runs on).
    explicit Detector(int32_t engine = -1) {
        cvision_status st;
        const std::string det = g_models + "/face_detection_short_range.onnx", lm = g_models + "/face_landmark.onnx";
        const int32_t rc = engine < 0 ? cvision_detector_create(det.c_str(), lm.c_str(), &ptr, &st)
                                      : cvision_detector_create_engine(det.c_str(), lm.c_str(), engine, &ptr, &st);
        if (rc != CVISION_OK) {
            std::fprintf(stderr, "cvision_detector_create: %s\n", st.message);
            std::exit(2);
        }
    }
    Detector(const Detector &) = delete;
    Detector &operator=(const Detector &) = delete;
    ~Detector() { cvision_detector_destroy(ptr); }
};

std::vector<cvision_face> detect(Detector &d, const cv::Mat &bgr, const cvision_detect_options *options = nullptr,
                                 int capacity = 4) {
    Image img(bgr);
    std::vector<cvision_face> faces(capacity);
    int32_t count = -1;
    cvision_status st;
    const int32_t rc = cvision_detector_detect(d.ptr, img.ptr, options, faces.data(), capacity, &count, &st);
    CHECK(rc == CVISION_OK, "detect returned %d: %s", rc, st.message);
    faces.resize(rc == CVISION_OK ? count : 0);
    return faces;
}

cv::Point2f landmark(const cvision_face &f, int i) { return {f.landmarks[2 * i], f.landmarks[2 * i + 1]}; }

// The lower jaw arc of FACEMESH_FACE_OVAL, ear to ear through the chin (152).
const int kJaw[] = {58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288};

void draw_point(cv::Mat &img, cv::Point2f p, const cv::Scalar &colour, int radius) {
    // Points are continuous coordinates; cv::circle takes pixel indices (with 4 fractional bits).
    cv::circle(img, cv::Point(cvRound((p.x - 0.5f) * 16), cvRound((p.y - 0.5f) * 16)), radius * 16, colour, -1, cv::LINE_AA, 4);
}

void write_overlay(const Variant &v, const std::vector<cvision_face> &faces) {
    cv::Mat img = v.bgr.clone();
    const int r = std::max(1, std::min(img.cols, img.rows) / 400);
    for (const cvision_face &f : faces) {
        cv::rectangle(img, cv::Rect2f(f.x, f.y, f.width, f.height), cv::Scalar(0, 255, 255), r);
        for (int i = 0; i < CVISION_LANDMARKS; ++i) draw_point(img, landmark(f, i), cv::Scalar(255, 255, 255), std::max(1, r / 2));
        for (size_t i = 0; i + 1 < std::size(kJaw); ++i)
            cv::line(img, landmark(f, kJaw[i]), landmark(f, kJaw[i + 1]), cv::Scalar(0, 200, 255), r);
        for (int i : {0, 13, 14, 17}) draw_point(img, landmark(f, i), cv::Scalar(255, 0, 0), r + 1);
        draw_point(img, landmark(f, 2), cv::Scalar(0, 255, 0), r + 1);
        draw_point(img, landmark(f, 152), cv::Scalar(0, 0, 255), r + 1);
        char label[96];
        std::snprintf(label, sizeof label, "score %.2f presence %.3f roll %.1f", f.score, f.presence, f.roll_degrees);
        cv::putText(img, label, cv::Point(static_cast<int>(f.x), std::max(12, static_cast<int>(f.y) - 6)),
                    cv::FONT_HERSHEY_SIMPLEX, 0.4 * r, cv::Scalar(0, 255, 255), r);
    }
    cv::imwrite(g_overlays + "/" + v.name + ".png", img);
    // A 4x zoom of the lower face (nose to chin) of the first face, for checking the points by eye.
    if (!faces.empty()) {
        const cvision_face &f = faces[0];
        const cv::Point2f nose = landmark(f, 2), chin = landmark(f, 152);
        const float h = std::max(8.0f, std::hypot(chin.x - nose.x, chin.y - nose.y));
        cv::Rect box(cvRound((nose.x + chin.x) / 2 - 1.2f * h), cvRound(nose.y - 0.5f * h), cvRound(2.4f * h), cvRound(2.1f * h));
        box &= cv::Rect(0, 0, v.bgr.cols, v.bgr.rows);
        if (box.area() > 0) {
            const int zoom = std::max(1, (800 + box.height / 2) / box.height);
            cv::Mat crop;
            cv::resize(v.bgr(box), crop, cv::Size(), zoom, zoom, cv::INTER_NEAREST);
            for (int i = 0; i < CVISION_LANDMARKS; ++i) {
                const cv::Point2f p = (landmark(f, i) - cv::Point2f(box.tl())) * zoom;
                const bool key = i == 0 || i == 2 || i == 13 || i == 14 || i == 17 || i == 152;
                if (!key) draw_point(crop, p, cv::Scalar(255, 255, 255), 1);
            }
            for (size_t i = 0; i + 1 < std::size(kJaw); ++i)
                cv::line(crop, (landmark(f, kJaw[i]) - cv::Point2f(box.tl())) * zoom,
                         (landmark(f, kJaw[i + 1]) - cv::Point2f(box.tl())) * zoom, cv::Scalar(0, 200, 255), 1, cv::LINE_AA);
            for (int i : {0, 13, 14, 17}) draw_point(crop, (landmark(f, i) - cv::Point2f(box.tl())) * zoom, cv::Scalar(255, 0, 0), 3);
            draw_point(crop, (landmark(f, 2) - cv::Point2f(box.tl())) * zoom, cv::Scalar(0, 255, 0), 3);
            draw_point(crop, (landmark(f, 152) - cv::Point2f(box.tl())) * zoom, cv::Scalar(0, 0, 255), 3);
            cv::imwrite(g_overlays + "/" + v.name + "-zoom.png", crop);
        }
    }
}

// A whole file's bytes (empty when it cannot be read), and writing bytes to a file (for the model-file tests).
std::vector<char> read_file(const std::string &path) {
    std::vector<char> bytes;
    if (std::FILE *f = std::fopen(path.c_str(), "rb")) {
        char buffer[65536];
        size_t n;
        while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) bytes.insert(bytes.end(), buffer, buffer + n);
        std::fclose(f);
    }
    return bytes;
}

void write_file(const std::string &path, const char *data, size_t length) {
    std::FILE *out = std::fopen(path.c_str(), "wb");
    CHECK(out != nullptr && std::fwrite(data, 1, length, out) == length, "cannot write %s", path.c_str());
    if (out != nullptr) std::fclose(out);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------------------

void test_variants(Detector &d) {
    for (const Variant &v : make_variants()) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::vector<cvision_face> faces = detect(d, v.bgr);
        const double ms = ms_since(t0);
        write_overlay(v, faces);
        std::printf("%-16s %4dx%-4d %6.1f ms  faces %zu", v.name.c_str(), v.bgr.cols, v.bgr.rows, ms, faces.size());
        for (const cvision_face &f : faces)
            std::printf("  [box %.0f,%.0f %.0fx%.0f score %.3f presence %.3f roll %.1f]", f.x, f.y, f.width, f.height,
                        f.score, f.presence, f.roll_degrees);
        std::printf("\n");
        if (!v.positive) {
            CHECK(faces.empty(), "%s: expected no accepted face, got %zu", v.name.c_str(), faces.size());
            continue;
        }
        CHECK(faces.size() == 1, "%s: expected 1 face, got %zu", v.name.c_str(), faces.size());
        if (faces.empty()) continue;
        const cvision_face &f = faces[0];
        CHECK(f.presence >= 0.9f, "%s: presence %.3f", v.name.c_str(), f.presence);
        CHECK(f.has_landmarks == 1, "%s", v.name.c_str());
        CHECK(std::fabs(f.roll_degrees - v.roll) <= v.roll_tolerance, "%s: roll %.1f, expected %.1f +- %.0f", v.name.c_str(),
              f.roll_degrees, v.roll, v.roll_tolerance);
        if (!v.mapped) continue;
        const float scale = std::sqrt(std::fabs(v.from_portrait(0, 0) * v.from_portrait(1, 1) - v.from_portrait(0, 1) * v.from_portrait(1, 0)));
        for (const Reference &r : kReferences) {
            const cv::Point2f want = map_point(v.from_portrait, r.at), got = landmark(f, r.index);
            const float dist = std::hypot(got.x - want.x, got.y - want.y);
            std::printf("    %-17s %3d at (%7.1f, %7.1f), reference (%7.1f, %7.1f): %5.1f px (limit %.1f)\n", r.name, r.index,
                        got.x, got.y, want.x, want.y, dist, r.tolerance * scale);
            CHECK(dist <= r.tolerance * scale, "%s: landmark %d (%s) is %.1f px from the reference", v.name.c_str(), r.index, r.name, dist);
        }
        // The box must contain the reference nose bottom.
        const cv::Point2f nose = map_point(v.from_portrait, kReferences[1].at);
        CHECK(cv::Rect2f(f.x, f.y, f.width, f.height).contains(nose), "%s: nose outside the box", v.name.c_str());
    }
}

void test_options_and_errors(Detector &d) {
    const cv::Mat portrait = load("astronaut.png");
    Image img(portrait);
    cvision_detect_options o;
    cvision_detect_options_default(&o);
    CHECK(o.pass1_max_side == 640 && o.search_fallback == 1 && o.second_pass == 1 && o.refine == 1 && o.min_score == 0.5f &&
              o.min_presence == 0.9f, "defaults");
    cvision_face face;
    int32_t count = -1;
    cvision_status st;

    // Capacity 0: success, nothing written; faces may be NULL then.
    CHECK(cvision_detector_detect(d.ptr, img.ptr, &o, nullptr, 0, &count, &st) == CVISION_OK && count == 0, "capacity 0");
    // Minimal pipeline (every option off) still finds the face.
    cvision_detect_options minimal = o;
    minimal.search_fallback = minimal.second_pass = minimal.refine = 0;
    CHECK(cvision_detector_detect(d.ptr, img.ptr, &minimal, &face, 1, &count, &st) == CVISION_OK && count == 1, "minimal: %s", st.message);

    // Bad arguments.
    struct Bad {
        const char *what;
        cvision_detect_options options;
    };
    std::vector<Bad> bad;
    for (int32_t side : {0, 127, 8193}) bad.push_back({"pass1_max_side", o}), bad.back().options.pass1_max_side = side;
    for (float s : {0.0f, -0.1f, 1.5f, NAN}) bad.push_back({"min_score", o}), bad.back().options.min_score = s;
    for (float p : {-0.1f, 1.01f, NAN}) bad.push_back({"min_presence", o}), bad.back().options.min_presence = p;
    for (const Bad &b : bad) {
        count = -1;
        CHECK(cvision_detector_detect(d.ptr, img.ptr, &b.options, &face, 1, &count, &st) == CVISION_ERR_ARGUMENT && count == 0 &&
                  st.message[0] != '\0', "%s", b.what);
    }
    CHECK(cvision_detector_detect(nullptr, img.ptr, &o, &face, 1, &count, &st) == CVISION_ERR_ARGUMENT, "NULL detector");
    CHECK(cvision_detector_detect(d.ptr, nullptr, &o, &face, 1, &count, &st) == CVISION_ERR_ARGUMENT, "NULL image");
    CHECK(cvision_detector_detect(d.ptr, img.ptr, &o, nullptr, 1, &count, &st) == CVISION_ERR_ARGUMENT, "NULL faces");
    CHECK(cvision_detector_detect(d.ptr, img.ptr, &o, &face, -1, &count, &st) == CVISION_ERR_ARGUMENT, "negative capacity");
    CHECK(cvision_detector_detect(d.ptr, img.ptr, &o, &face, 1, nullptr, nullptr) == CVISION_ERR_ARGUMENT, "NULL count");

    // Tiny and extreme images: no crash, no face.
    for (const cv::Size size : {cv::Size(1, 1), cv::Size(3, 200), cv::Size(2000, 7), cv::Size(64, 64)}) {
        const cv::Mat flat(size, CV_8UC3, cv::Scalar(90, 120, 150));
        const std::vector<cvision_face> faces = detect(d, flat);
        CHECK(faces.empty(), "%dx%d: %zu faces", size.width, size.height, faces.size());
    }

    // Loading errors.
    cvision_detector *det = reinterpret_cast<cvision_detector *>(&face);
    const std::string good = g_models + "/face_detection_short_range.onnx", lm = g_models + "/face_landmark.onnx";
    CHECK(cvision_detector_create("/nonexistent/model.onnx", lm.c_str(), &det, &st) == CVISION_ERR_DECODE && det == nullptr &&
              std::strstr(st.message, "/nonexistent/model.onnx") != nullptr, "missing file: %s", st.message);
    // OpenCV logs its own shape errors for the swapped files; keep the test output clean.
    const cv::utils::logging::LogLevel level = cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    CHECK(cvision_detector_create(lm.c_str(), good.c_str(), &det, &st) == CVISION_ERR_DECODE && det == nullptr,
          "swapped files: %s", st.message);
    cv::utils::logging::setLogLevel(level);
    const std::string not_onnx = g_images + "/astronaut.png";
    CHECK(cvision_detector_create(not_onnx.c_str(), lm.c_str(), &det, &st) == CVISION_ERR_DECODE && det == nullptr,
          "not ONNX: %s", st.message);
    // Truncated model files (cut at many points, including inside the graph and the weights): refused, never a
    // crash. The shim reads the protobuf itself, so this is its parser's test.
    {
        const std::vector<char> bytes = read_file(good);
        CHECK(bytes.size() > 1000, "read %s", good.c_str());
        const std::string cut = g_overlays + "/truncated.onnx";
        int refused = 0, cuts = 0;
        for (size_t length : {size_t(1), size_t(2), size_t(7), size_t(100), size_t(1000), bytes.size() / 3, bytes.size() / 2,
                              bytes.size() - 100, bytes.size() - 1}) {
            write_file(cut, bytes.data(), length);
            ++cuts;
            det = nullptr;
            const int32_t rc = cvision_detector_create(cut.c_str(), lm.c_str(), &det, &st);
            if (rc == CVISION_ERR_DECODE && det == nullptr && st.message[0] != '\0') ++refused;
            else std::fprintf(stderr, "truncated at %zu: rc %d (%s)\n", length, rc, st.message);
            cvision_detector_destroy(det);
        }
        std::remove(cut.c_str());
        CHECK(refused == cuts, "%d of %d truncated models refused", refused, cuts);
    }
    CHECK(cvision_detector_create(nullptr, lm.c_str(), &det, &st) == CVISION_ERR_ARGUMENT && det == nullptr, "NULL path");
    CHECK(cvision_detector_create(good.c_str(), lm.c_str(), nullptr, &st) == CVISION_ERR_ARGUMENT, "NULL out");
    cvision_detector_destroy(nullptr);
    cvision_detect_options_default(nullptr);
}

// XNNPACK (the default engine) against OpenCV's dnn module (the reference) on every variant: the same faces,
// and landmarks within a tenth of a pixel (the networks' outputs differ by about 1e-4; 0.045 px seen).
void test_engines(Detector &xnnpack) {
    Detector opencv(CVISION_ENGINE_OPENCV);
    CHECK(cvision_detector_engine(xnnpack.ptr) == CVISION_ENGINE_XNNPACK && cvision_detector_engine(opencv.ptr) == CVISION_ENGINE_OPENCV &&
              cvision_detector_engine(nullptr) == -1, "cvision_detector_engine");
    double worst = 0.0;
    int compared = 0;
    for (const Variant &v : make_variants()) {
        const std::vector<cvision_face> a = detect(xnnpack, v.bgr), b = detect(opencv, v.bgr);
        CHECK(a.size() == b.size(), "%s: XNNPACK found %zu faces, OpenCV %zu", v.name.c_str(), a.size(), b.size());
        for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
            CHECK(std::fabs(a[i].score - b[i].score) < 1e-3f && std::fabs(a[i].presence - b[i].presence) < 1e-3f, "%s: scores differ",
                  v.name.c_str());
            for (int k = 0; k < CVISION_LANDMARKS; ++k) {
                const double d = std::hypot(landmark(a[i], k).x - landmark(b[i], k).x, landmark(a[i], k).y - landmark(b[i], k).y);
                worst = std::max(worst, d);
                ++compared;
            }
        }
    }
    std::printf("engines: %d landmarks compared, largest XNNPACK-OpenCV distance %.4f px\n", compared, worst);
    CHECK(compared > 0 && worst < 0.1, "XNNPACK and OpenCV landmarks differ by %.4f px", worst);
    int32_t bad = -1;
    cvision_detector *det = nullptr;
    cvision_status st;
    const std::string path = g_models + "/face_detection_short_range.onnx", lm = g_models + "/face_landmark.onnx";
    bad = cvision_detector_create_engine(path.c_str(), lm.c_str(), 7, &det, &st);
    CHECK(bad == CVISION_ERR_ARGUMENT && det == nullptr, "unknown engine: %d", bad);
}

// The five points identity aligns on, from the mesh (as ElenaVision's Face.alignment takes them).
std::vector<float> five_points(const cvision_face &f) {
    const auto mid = [&](int a, int b) { return (landmark(f, a) + landmark(f, b)) * 0.5f; };
    const cv::Point2f p[5] = {mid(33, 133), mid(362, 263), landmark(f, 1), landmark(f, 61), landmark(f, 291)};
    std::vector<float> out;
    for (const cv::Point2f &q : p) {
        out.push_back(q.x);
        out.push_back(q.y);
    }
    return out;
}

struct Identifier {
    cvision_identifier *ptr = nullptr;
    explicit Identifier(int32_t engine) {
        cvision_status st;
        const std::string path = g_models + "/face_recognition_sface.onnx";
        if (cvision_identifier_create_engine(path.c_str(), engine, &ptr, &st) != CVISION_OK) {
            std::fprintf(stderr, "cvision_identifier_create_engine: %s\n", st.message);
            std::exit(2);
        }
    }
    Identifier(const Identifier &) = delete;
    Identifier &operator=(const Identifier &) = delete;
    ~Identifier() { cvision_identifier_destroy(ptr); }
    std::vector<float> embed(const Image &img, const std::vector<float> &points) {
        std::vector<float> e(CVISION_EMBEDDING, 0.0f);
        cvision_status st;
        const int32_t rc = cvision_identifier_embed(ptr, img.ptr, points.data(), e.data(), &st);
        CHECK(rc == CVISION_OK, "embed returned %d: %s", rc, st.message);
        return e;
    }
};

double dot(const std::vector<float> &a, const std::vector<float> &b) {
    double d = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) d += double(a[i]) * b[i];
    return d;
}

// Identity on XNNPACK (the default) against OpenCV's dnn module and against cv::FaceRecognizerSF (alignCrop and
// feature), which is what elena-run used before: the same aligned pixels (within two levels: alignCrop computes
// the same transform another way, and its last digits differ) and the same embeddings, on every variant's faces. Concurrent callers get the same
// answers as one caller. Wrong arguments are refused.
void test_identity(Detector &d) {
    Identifier xnnpack(CVISION_ENGINE_XNNPACK), opencv(CVISION_ENGINE_OPENCV);
    CHECK(cvision_identifier_engine(xnnpack.ptr) == CVISION_ENGINE_XNNPACK &&
              cvision_identifier_engine(opencv.ptr) == CVISION_ENGINE_OPENCV && cvision_identifier_engine(nullptr) == -1,
          "cvision_identifier_engine");
    cv::Ptr<cv::FaceRecognizerSF> reference = cv::FaceRecognizerSF::create(g_models + "/face_recognition_sface.onnx", "");
    double worst_engines = 1.0, worst_reference = 1.0;
    int worst_pixel = 0, faces = 0;
    struct Job {
        const Image *img;
        std::vector<float> points, expected;
    };
    std::vector<std::unique_ptr<Image>> images;
    std::vector<Job> jobs;
    for (const Variant &v : make_variants()) {
        images.push_back(std::make_unique<Image>(v.bgr));
        const Image &img = *images.back();
        for (const cvision_face &f : detect(d, v.bgr)) {
            const std::vector<float> points = five_points(f);
            const std::vector<float> a = xnnpack.embed(img, points), b = opencv.embed(img, points);
            cv::Mat row(1, 15, CV_32F, cv::Scalar(0)), aligned, feature;
            for (int i = 0; i < 10; ++i) row.at<float>(0, 4 + i) = points[i];
            reference->alignCrop(v.bgr, row, aligned);
            reference->feature(aligned, feature);
            std::vector<float> c(feature.ptr<float>(), feature.ptr<float>() + CVISION_EMBEDDING);
            const double norm = std::sqrt(dot(c, c));
            for (float &x : c) x = float(x / norm);
            cv::Mat ours(CVISION_ALIGNED_SIDE, CVISION_ALIGNED_SIDE, CV_8UC3);
            cvision_status st;
            CHECK(cvision_identifier_align(img.ptr, points.data(), ours.data, &st) == CVISION_OK, "align: %s", st.message);
            cv::Mat difference;
            cv::absdiff(ours, aligned, difference);
            double most = 0;
            cv::minMaxLoc(difference.reshape(1), nullptr, &most);
            worst_pixel = std::max(worst_pixel, int(most));
            worst_engines = std::min(worst_engines, dot(a, b));
            worst_reference = std::min(worst_reference, dot(a, c));
            jobs.push_back({&img, points, a});
            ++faces;
        }
    }
    std::printf("identity: %d faces, cosine XNNPACK-OpenCV at least %.6f, XNNPACK-FaceRecognizerSF at least %.6f, "
                "aligned pixels differ by at most %d\n", faces, worst_engines, worst_reference, worst_pixel);
    CHECK(faces >= 5, "identity: only %d faces", faces);
    CHECK(worst_engines > 0.9999, "XNNPACK and OpenCV embeddings differ: cosine %.6f", worst_engines);
    CHECK(worst_reference > 0.999, "XNNPACK and FaceRecognizerSF embeddings differ: cosine %.6f", worst_reference);
    CHECK(worst_pixel <= 2, "aligned faces differ from alignCrop's by %d levels", worst_pixel);

    // Two threads at once, each through every face three times: each answer is the one a single caller got.
    int wrong[2] = {0, 0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t)
        threads.emplace_back([&, t] {
            for (int round = 0; round < 3; ++round)
                for (const Job &job : jobs) {
                    std::vector<float> e(CVISION_EMBEDDING);
                    cvision_status st;
                    if (cvision_identifier_embed(xnnpack.ptr, job.img->ptr, job.points.data(), e.data(), &st) != CVISION_OK ||
                        e != job.expected)
                        ++wrong[t];
                }
        });
    for (std::thread &t : threads) t.join();
    CHECK(wrong[0] == 0 && wrong[1] == 0, "concurrent embeddings differ: %d and %d", wrong[0], wrong[1]);

    cvision_identifier *id = nullptr;
    cvision_status st;
    const std::string path = g_models + "/face_recognition_sface.onnx";
    CHECK(cvision_identifier_create_engine(path.c_str(), 7, &id, &st) == CVISION_ERR_ARGUMENT && id == nullptr,
          "unknown engine");
    const std::string detector = g_models + "/face_detection_short_range.onnx";
    CHECK(cvision_identifier_create(detector.c_str(), &id, &st) == CVISION_ERR_DECODE && id == nullptr,
          "the face detector taken for the identity model: %s", st.message);
    const std::vector<float> same(10, 50.0f);
    std::vector<float> e(CVISION_EMBEDDING);
    CHECK(cvision_identifier_embed(xnnpack.ptr, jobs[0].img->ptr, same.data(), e.data(), &st) == CVISION_ERR_ARGUMENT,
          "five points in one place");
}

// A detector keeps networks for at most 500,000 input pixels: images of many sizes that all need the search
// make it drop and rebuild networks, and the answers stay the same.
void test_network_reuse(Detector &d) {
    Variant face100;
    for (const Variant &v : make_variants())
        if (v.name == "face100") face100 = v;
    const std::vector<cvision_face> first = detect(d, face100.bgr);
    CHECK(first.size() == 1, "face100: %zu faces", first.size());
    for (int width : {1000, 1040, 1080, 1120, 1160}) {  // each needs its own 192 and 384 search networks
        cv::Mat wider(face100.bgr.rows, width, CV_8UC3, cv::Scalar::all(128));
        const cv::Rect common(0, 0, std::min(width, face100.bgr.cols), face100.bgr.rows);
        face100.bgr(common).copyTo(wider(common));
        CHECK(detect(d, wider).size() == 1, "face100 at width %d", width);
    }
    const std::vector<cvision_face> again = detect(d, face100.bgr);
    CHECK(again.size() == 1 && first.size() == 1 && std::fabs(again[0].y - first[0].y) < 1e-3f &&
              std::fabs(landmark(again[0], 152).y - landmark(first[0], 152).y) < 1e-3f,
          "face100 after the networks were rebuilt");
}

// Damaged model files (seeded random byte changes, 100 per model by default): every one loads and detects, or is refused
// with an error; none crashes. The shim parses and rebuilds the graph itself, so this is that code's fuzz test.
void test_damaged_models(const std::string &workdir) {
    const std::string names[2] = {"/face_detection_short_range.onnx", "/face_landmark.onnx"};
    cv::Mat portrait;
    for (const Variant &v : make_variants())
        if (v.name == "tall") portrait = v.bgr;
    Image img(portrait);
    // CVISION_FUZZ_SEED / CVISION_FUZZ_ROUNDS run a longer or different campaign by hand.
    const char *seed_text = std::getenv("CVISION_FUZZ_SEED"), *rounds_text = std::getenv("CVISION_FUZZ_ROUNDS");
    const uint64_t seed = seed_text != nullptr ? std::strtoull(seed_text, nullptr, 10) : 20261125;
    const int rounds = rounds_text != nullptr ? std::atoi(rounds_text) : 100;
    cv::RNG rng(seed);
    int loaded = 0, refused = 0, other = 0;
    for (int which = 0; which < 2; ++which) {
        const std::vector<char> original = read_file(g_models + names[which]);
        CHECK(original.size() > 1000, "read %s", names[which].c_str());
        if (original.size() <= 1000) continue;
        for (int round = 0; round < rounds; ++round) {
            std::vector<char> bytes = original;
            const int changes = 1 + rng.uniform(0, 8);
            // Half of the changes land in the first 8 KB, where the graph's nodes and attributes are (the rest
            // of the file is mostly weights).
            for (int c = 0; c < changes; ++c) {
                const int span = rng.uniform(0, 2) == 0 ? std::min<int>(8192, static_cast<int>(bytes.size())) : static_cast<int>(bytes.size());
                bytes[rng.uniform(0, span)] = static_cast<char>(rng.uniform(0, 256));
            }
            const std::string path = workdir + "/damaged.onnx";
            write_file(path, bytes.data(), bytes.size());
            const std::string det = which == 0 ? path : g_models + names[0], lm = which == 1 ? path : g_models + names[1];
            cvision_detector *d = nullptr;
            cvision_status st;
            const int32_t rc = cvision_detector_create(det.c_str(), lm.c_str(), &d, &st);
            if (rc == CVISION_OK) {
                ++loaded;
                cvision_face faces[4];
                int32_t count = -1;
                const int32_t detected = cvision_detector_detect(d, img.ptr, nullptr, faces, 4, &count, &st);
                CHECK(detected == CVISION_OK ? count >= 0 && count <= 4 : count == 0, "detect with a damaged model: rc %d", detected);
            } else if (rc == CVISION_ERR_DECODE || rc == CVISION_ERR_INTERNAL || rc == CVISION_ERR_MEMORY) {
                ++refused;
                CHECK(d == nullptr && st.message[0] != '\0', "refusal without a message");
            } else {
                ++other;
            }
            cvision_detector_destroy(d);
            std::remove(path.c_str());
        }
    }
    std::printf("damaged models (seed %llu): %d loaded and ran, %d refused, %d other\n", static_cast<unsigned long long>(seed),
                loaded, refused, other);
    CHECK(other == 0 && loaded + refused == 2 * rounds, "damaged models: %d loaded, %d refused, %d other", loaded, refused, other);
}

// Capacity and ordering: two heads side by side (both large enough for pass 1), largest first; capacity 1
// keeps the largest.
void test_two_faces(Detector &d) {
    const cv::Mat portrait = load("astronaut.png");
    const cv::Rect head(120, 0, 210, 250);
    cv::Mat canvas(650, 1000, CV_8UC3, cv::Scalar::all(128));
    cv::resize(portrait(head), canvas(cv::Rect(0, 25, 504, 600)), cv::Size(504, 600), 0, 0, cv::INTER_CUBIC);
    cv::resize(portrait(head), canvas(cv::Rect(600, 100, 336, 400)), cv::Size(336, 400), 0, 0, cv::INTER_CUBIC);
    Variant v{"two-faces", canvas, cv::Matx23f()};
    const std::vector<cvision_face> faces = detect(d, canvas);
    write_overlay(v, faces);
    CHECK(faces.size() == 2, "two faces: got %zu", faces.size());
    if (faces.size() == 2) CHECK(faces[0].width > faces[1].width && faces[0].x < 504 && faces[1].x > 600, "order");
    const std::vector<cvision_face> one = detect(d, canvas, nullptr, 1);
    CHECK(one.size() == 1 && one[0].x < 504, "capacity 1 keeps the largest");
}

void leak_run() {
    Detector d;
    const std::vector<Variant> variants = make_variants();
    int found = 0;
    for (const char *name : {"tall", "rot-30", "face100", "full", "coffee"})
        for (const Variant &v : variants)
            if (v.name == name) found += static_cast<int>(detect(d, v.bgr).size());
    std::printf("leak run: 5 images, %d faces\n", found);
}

double median_ms(int runs, const std::function<void()> &body) {
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        body();
        t.push_back(ms_since(t0));
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void bench() {
    cvision_set_threads(1);
    const auto t0 = std::chrono::steady_clock::now();
    Detector d;
    std::printf("detector create (load both models + warm-up): %.1f ms\n", ms_since(t0));
    const std::vector<Variant> variants = make_variants();
    cvision_detect_options full, minimal, pass1;
    cvision_detect_options_default(&full);
    minimal = full;
    minimal.search_fallback = minimal.second_pass = minimal.refine = 0;
    pass1 = minimal;
    pass1.min_score = 1.0f;  // nothing passes: pass 1 only, no landmarks
    std::vector<cvision_face> faces(4);
    int32_t count = 0;
    std::printf("median ms per call, 1024x1536; 'minimal' = every option off (pass 1 + one landmark pass)\n");
    for (const char *name : {"tall", "full", "rot+15", "rot-30", "mirror", "face100", "no-face"}) {
        cv::Mat bgr;
        for (const Variant &x : variants)
            if (x.name == name) bgr = x.bgr;
        if (bgr.empty())  // no face at all: coffee stretched to 1024x1536
            for (const Variant &x : variants)
                if (x.name == "coffee") cv::resize(x.bgr, bgr, cv::Size(1024, 1536), 0, 0, cv::INTER_CUBIC);
        Image img(bgr);
        const int runs = std::strcmp(name, "face100") == 0 || std::strcmp(name, "no-face") == 0 ? 7 : 31;
        const auto run = [&](const cvision_detect_options &o) {
            return median_ms(runs, [&] { cvision_detector_detect(d.ptr, img.ptr, &o, faces.data(), 4, &count, nullptr); });
        };
        const double p1 = run(pass1), mini = run(minimal), def = run(full);
        std::printf("%-8s pass 1 only %6.2f | minimal %6.2f | default pipeline %7.2f  (%d face%s)\n", name, p1, mini, def, count,
                    count == 1 ? "" : "s");
    }
    // The throughput goal: decode + detect + crop + encode against decode + encode, JPEG q92 1024x1536.
    for (const char *name : {"tall", "full"}) {
        const Variant *v = nullptr;
        for (const Variant &x : variants)
            if (x.name == name) v = &x;
        std::vector<uchar> jpeg;
        cv::imencode(".jpg", v->bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, 92});
        const auto decode_encode = [&](bool with_detect) {
            cvision_image *img = nullptr;
            cvision_decode(jpeg.data(), jpeg.size(), 1, 0, &img, nullptr);
            int y = 0;
            if (with_detect) {
                cvision_detector_detect(d.ptr, img, &full, faces.data(), 1, &count, nullptr);
                y = count > 0 ? std::min(1535, static_cast<int>(faces[0].landmarks[2 * 152 + 1]) + 20) : 0;
            }
            cvision_buffer out{nullptr, 0};
            cvision_encode(img, 0, y, 1024, 1536 - y, CVISION_FORMAT_JPEG, 92, &out, nullptr);
            cvision_buffer_free(&out);
            cvision_image_destroy(img);
        };
        const double floor = median_ms(30, [&] { decode_encode(false); });
        const double with = median_ms(30, [&] { decode_encode(true); });
        std::printf("%-8s JPEG q92: decode+encode %.2f ms | decode+detect+crop below the chin+encode %.2f ms | throughput "
                    "ratio %.2f\n", name, floor, with, floor / with);
    }
    // Identity: one face aligned and measured, on each engine (the tool uses the faster; see cvision_identity.cpp).
    for (const Variant &v : variants) {
        if (v.name != "full") continue;
        const std::vector<cvision_face> found = detect(d, v.bgr);
        if (found.empty()) break;
        const std::vector<float> points = five_points(found[0]);
        Image img(v.bgr);
        std::vector<float> e(CVISION_EMBEDDING);
        for (int32_t engine : {CVISION_ENGINE_OPENCV, CVISION_ENGINE_XNNPACK}) {
            Identifier id(engine);
            const double each = median_ms(31, [&] { cvision_identifier_embed(id.ptr, img.ptr, points.data(), e.data(), nullptr); });
            std::printf("identity, one face: %-7s %.2f ms\n", engine == CVISION_ENGINE_OPENCV ? "OpenCV" : "XNNPACK", each);
        }
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: cvision_face_test MODELS IMAGES OVERLAYS [--leak|--bench]\n");
        return 2;
    }
    g_models = argv[1];
    g_images = argv[2];
    g_overlays = argv[3];
    const std::string mode = argc > 4 ? argv[4] : "";
    if (mode == "--leak") {
        leak_run();
        return 0;
    }
    if (mode == "--bench") {
        bench();
        return 0;
    }
    cvision_set_threads(1);
    Detector d;
    test_variants(d);
    test_engines(d);
    test_identity(d);
    test_network_reuse(d);
    test_damaged_models(g_overlays);
    test_two_faces(d);
    test_options_and_errors(d);
    std::printf("cvision face test: %d checks, %d failures (overlays in %s)\n", g_checks, g_failures, g_overlays.c_str());
    return g_failures == 0 ? 0 : 1;
}
