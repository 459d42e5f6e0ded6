// cvision_face.cpp - face detector: MediaPipe BlazeFace short-range + Face Mesh 468, as ONNX files run by
// OpenCV's dnn module. See include/cvision.h, README.md and /models/README.md.
//
// Coordinates are continuous image coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), so its centre is
// (i + 0.5, j + 0.5). The networks' outputs use the same convention for their input tensors.
//
// Pipeline for one image:
//   pass 1   the image scaled (INTER_LINEAR) to a long side of pass1_max_side, letterboxed into the
//            detector's 128x128 input -> boxes, 6 keypoints, scores -> weighted NMS.
//   tiled    if pass 1 yields no accepted face: square windows of side short, short/2, short/4 at 50%
//            overlap; stop at the first size that yields a face.
//   per face (largest box first):
//   pass 2   (when needed) re-detect on a square crop 3x the box around its centre.
//   mesh     ROI: centre of the box, side 1.5*max(w,h), roll from the eye keypoints; warpAffine to
//            192x192 (BORDER_REPLICATE); 468 points mapped back through the inverse affine; presence.
//   refine   (when needed) ROI from the mesh (roll from points 33->263, box of all points in the face
//            frame x1.5, square) and the mesh again.
//   accept   presence >= min_presence, and pass 2 (when it ran) found the face again.

#include "cvision.h"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

// Defined in cvision.cpp.
namespace cvision_detail {
const cv::Mat &image_mat(const cvision_image &image);
[[noreturn]] void fail(int32_t code, const std::string &message);
int32_t guarded(cvision_status *status, const std::function<void()> &body) noexcept;
}  // namespace cvision_detail

namespace {

using cvision_detail::fail;

constexpr int kDetectorSize = 128;
constexpr int kMeshSize = 192;
constexpr int kAnchors = 896;
constexpr int kRegressors = 16;
constexpr float kPi = 3.14159265358979323846f;
constexpr float kNmsIou = 0.3f;
constexpr float kRoiScale = 1.5f;          // ROI side = 1.5 x the detector box (MediaPipe)
constexpr float kRedetectScale = 3.0f;     // pass 2 crop side = 3 x the pass-1 box
constexpr float kLargeFace = 0.2f;         // box side >= 20% of the short side: pass 2/refine not needed
constexpr float kSmallRollDegrees = 10.0f;  // ... and |roll| below this
constexpr int kMinWindow = 64;             // tiled search: smallest window side in image pixels

// Face Mesh points used here (checked by eye; see README.md).
constexpr int kRightEyeOuter = 33;   // subject's right eye, outer corner (image left)
constexpr int kLeftEyeOuter = 263;   // subject's left eye, outer corner (image right)

void require(bool condition, const char *message) {
    if (!condition) fail(CVISION_ERR_ARGUMENT, message);
}

float sigmoid(float logit) { return 1.0f / (1.0f + std::exp(-std::clamp(logit, -100.0f, 100.0f))); }

float degrees(float radians) { return radians * 180.0f / kPi; }

// Normalizes an angle to (-pi, pi].
float normalize_radians(float a) {
    a = std::fmod(a + kPi, 2.0f * kPi);
    if (a <= 0.0f) a += 2.0f * kPi;
    return a - kPi;
}

// Roll of the line from `from` (subject's right, image left) to `to` (subject's left): 0 when level,
// positive when `to` is lower, i.e. the face is turned clockwise on screen. MediaPipe:
// rotation = target_angle - atan2(-(y1 - y0), x1 - x0) with target_angle 0.
float roll_between(cv::Point2f from, cv::Point2f to) {
    return normalize_radians(-std::atan2(-(to.y - from.y), to.x - from.x));
}

struct Detection {
    float score = 0.0f;
    cv::Rect2f box;                 // image coordinates
    std::array<cv::Point2f, 6> kp;  // right eye, left eye, nose tip, mouth centre, right ear, left ear
};

float iou(const cv::Rect2f &a, const cv::Rect2f &b) {
    const float inter = (a & b).area();
    const float uni = a.area() + b.area() - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

// MediaPipe's weighted NMS: the best remaining candidate absorbs every candidate overlapping it by more
// than the threshold; box and keypoints become the score-weighted mean, the score stays the best one's.
std::vector<Detection> weighted_nms(std::vector<Detection> candidates) {
    std::sort(candidates.begin(), candidates.end(), [](const Detection &a, const Detection &b) { return a.score > b.score; });
    std::vector<Detection> kept;
    std::vector<bool> used(candidates.size(), false);
    for (size_t i = 0; i < candidates.size(); ++i) {
        if (used[i]) continue;
        const Detection &best = candidates[i];
        float total = 0.0f, x0 = 0.0f, y0 = 0.0f, x1 = 0.0f, y1 = 0.0f;
        std::array<cv::Point2f, 6> kp{};
        for (size_t j = i; j < candidates.size(); ++j) {
            if (used[j]) continue;
            const Detection &c = candidates[j];
            if (j != i && iou(best.box, c.box) <= kNmsIou) continue;
            used[j] = true;
            total += c.score;
            x0 += c.score * c.box.x;
            y0 += c.score * c.box.y;
            x1 += c.score * (c.box.x + c.box.width);
            y1 += c.score * (c.box.y + c.box.height);
            for (size_t k = 0; k < kp.size(); ++k) kp[k] += c.score * c.kp[k];
        }
        Detection merged;
        merged.score = best.score;
        merged.box = cv::Rect2f(x0 / total, y0 / total, (x1 - x0) / total, (y1 - y0) / total);
        for (size_t k = 0; k < kp.size(); ++k) merged.kp[k] = kp[k] / total;
        kept.push_back(merged);
    }
    return kept;
}

// A source for the detector: `mat` holds the image scaled by (scale_x, scale_y) mat pixels per image pixel.
struct Source {
    const cv::Mat *mat;
    double scale_x, scale_y;
};

struct Roi {
    cv::Point2f centre;  // image coordinates
    float side = 0.0f;   // image pixels
    float roll = 0.0f;   // radians, see roll_between
};

struct Mesh {
    std::array<cv::Point2f, CVISION_LANDMARKS> points;
    float presence = 0.0f;
    float roll = 0.0f;  // radians, from points 33 -> 263
};

// Writes packed 8-bit BGR pixels into an NCHW float RGB blob as value * scale + offset.
void fill_rgb_blob(const cv::Mat &bgr, cv::Mat &blob, float scale, float offset) {
    const size_t plane = static_cast<size_t>(bgr.rows) * bgr.cols;
    float *r = blob.ptr<float>();
    float *g = r + plane;
    float *b = g + plane;
    for (int y = 0; y < bgr.rows; ++y) {
        const uint8_t *p = bgr.ptr<uint8_t>(y);
        for (int x = 0; x < bgr.cols; ++x, p += 3) {
            *b++ = p[0] * scale + offset;
            *g++ = p[1] * scale + offset;
            *r++ = p[2] * scale + offset;
        }
    }
}

cv::Mat blob_of(int side) {
    const int dims[4] = {1, 3, side, side};
    return cv::Mat(4, dims, CV_32F, cv::Scalar(0));
}

// Checks a network output's element count (the layouts are fixed by the model files).
const float *output_data(const cv::Mat &out, size_t expected, const char *name) {
    if (out.type() != CV_32F || out.total() != expected || !out.isContinuous())
        fail(CVISION_ERR_DECODE, std::string("model output ") + name + " has an unexpected shape (wrong model file?)");
    return out.ptr<float>();
}

}  // namespace

struct cvision_detector {
    cv::dnn::Net detector;
    cv::dnn::Net mesh;
    std::vector<cv::Point2f> anchors;  // normalized centres, MediaPipe's SSD anchor order
    std::vector<cv::String> detector_outputs{"regressors", "classificators"};
    std::vector<cv::String> mesh_outputs{"conv2d_21", "conv2d_31"};
    // Reused between calls (no allocation per image once sizes repeat).
    cv::Mat small;                                                                  // pass-1 copy
    cv::Mat letterbox = cv::Mat(kDetectorSize, kDetectorSize, CV_8UC3);
    cv::Mat detector_blob = blob_of(kDetectorSize);
    cv::Mat crop = cv::Mat(kMeshSize, kMeshSize, CV_8UC3);
    cv::Mat mesh_blob = blob_of(kMeshSize);
    std::vector<cv::Mat> outputs;
    std::vector<Detection> candidates;

    cvision_detector(const char *detector_path, const char *mesh_path);

    // Runs the detector on `region` (image coordinates; may extend past the image, which reads as black)
    // of `src`, letterboxed into 128x128, and returns the NMS'd detections in image coordinates.
    std::vector<Detection> detect_region(const Source &src, const cv::Rect2d &region, float min_score);
    // Face Mesh on the ROI of the full-resolution image.
    Mesh run_mesh(const cv::Mat &image, const Roi &roi);
};

namespace {

std::vector<cv::Point2f> make_anchors() {
    // MediaPipe SsdAnchorsCalculator for face_detection_short_range: strides 8, 16, 16, 16, anchor offset
    // 0.5, fixed size 1. The three stride-16 layers share one 8x8 grid with 2 anchors each, so: a 16x16
    // grid with 2 anchors per cell, then an 8x8 grid with 6 per cell (row by row, anchors of a cell together).
    std::vector<cv::Point2f> anchors;
    anchors.reserve(kAnchors);
    for (const auto &[grid, per_cell] : {std::pair<int, int>{16, 2}, std::pair<int, int>{8, 6}})
        for (int y = 0; y < grid; ++y)
            for (int x = 0; x < grid; ++x)
                for (int k = 0; k < per_cell; ++k) anchors.emplace_back((x + 0.5f) / grid, (y + 0.5f) / grid);
    return anchors;
}

cv::dnn::Net load_net(const char *path, const char *what) {
    cv::dnn::Net net;
    try {
        net = cv::dnn::readNetFromONNX(path);
    } catch (const cv::Exception &e) {
        if (e.code == cv::Error::StsNoMem) throw;
        fail(CVISION_ERR_DECODE, std::string("cannot load the ") + what + " model " + path + ": " + e.err);
    }
    if (net.empty()) fail(CVISION_ERR_DECODE, std::string("cannot load the ") + what + " model " + path);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return net;
}

// ROI for the mesh from a detection: centre of the box, side 1.5 x its long side, roll from the eyes.
Roi roi_from_detection(const Detection &d) {
    Roi roi;
    roi.centre = cv::Point2f(d.box.x + d.box.width / 2, d.box.y + d.box.height / 2);
    roi.side = kRoiScale * std::max(d.box.width, d.box.height);
    roi.roll = roll_between(d.kp[0], d.kp[1]);
    return roi;
}

// ROI from a mesh (MediaPipe's tracking ROI): roll from points 33 -> 263; the box of all points in the face
// frame (rotated by -roll), x1.5, square.
Roi roi_from_mesh(const Mesh &mesh) {
    const float c = std::cos(mesh.roll), s = std::sin(mesh.roll);
    float lo_x = INFINITY, lo_y = INFINITY, hi_x = -INFINITY, hi_y = -INFINITY;
    for (const cv::Point2f &p : mesh.points) {  // rotate by -roll: face frame
        const float fx = c * p.x + s * p.y, fy = -s * p.x + c * p.y;
        lo_x = std::min(lo_x, fx), hi_x = std::max(hi_x, fx);
        lo_y = std::min(lo_y, fy), hi_y = std::max(hi_y, fy);
    }
    const float mx = (lo_x + hi_x) / 2, my = (lo_y + hi_y) / 2;
    Roi roi;
    roi.centre = cv::Point2f(c * mx - s * my, s * mx + c * my);  // rotate back by +roll
    roi.side = kRoiScale * std::max(hi_x - lo_x, hi_y - lo_y);
    roi.roll = mesh.roll;
    return roi;
}

// Crop (continuous 192x192 coordinates) -> image: centre + R(roll) * (p - 96) * side / 192.
cv::Matx23d crop_to_image(const Roi &roi) {
    const double k = roi.side / kMeshSize, c = std::cos(roi.roll) * k, s = std::sin(roi.roll) * k;
    const double h = kMeshSize / 2.0;
    return cv::Matx23d(c, -s, roi.centre.x - c * h + s * h,  //
                       s, c, roi.centre.y - s * h - c * h);
}

cv::Point2f apply(const cv::Matx23d &m, float x, float y) {
    return cv::Point2f(static_cast<float>(m(0, 0) * x + m(0, 1) * y + m(0, 2)),
                       static_cast<float>(m(1, 0) * x + m(1, 1) * y + m(1, 2)));
}

}  // namespace

cvision_detector::cvision_detector(const char *detector_path, const char *mesh_path)
    : detector(load_net(detector_path, "face detector")), mesh(load_net(mesh_path, "face landmark")),
      anchors(make_anchors()) {
    // Warm-up: OpenCV allocates its layer buffers on the first forward; doing it here keeps the first
    // image's time normal, and checks that the files are the expected models.
    try {
        detector.setInput(detector_blob);
        detector.forward(outputs, detector_outputs);
        if (outputs.size() != 2) fail(CVISION_ERR_DECODE, "the face detector model has the wrong outputs");
        output_data(outputs[0], static_cast<size_t>(kAnchors) * kRegressors, "regressors");
        output_data(outputs[1], kAnchors, "classificators");
        mesh.setInput(mesh_blob);
        mesh.forward(outputs, mesh_outputs);
        if (outputs.size() != 2) fail(CVISION_ERR_DECODE, "the face landmark model has the wrong outputs");
        output_data(outputs[0], CVISION_LANDMARKS * 3, "conv2d_21");
        output_data(outputs[1], 1, "conv2d_31");
    } catch (const cv::Exception &e) {
        if (e.code == cv::Error::StsNoMem) throw;
        fail(CVISION_ERR_DECODE, std::string("the model files do not run as the face detector and landmark models "
                                             "(swapped or wrong files?): ") + e.err);
    }
}

std::vector<Detection> cvision_detector::detect_region(const Source &src, const cv::Rect2d &region, float min_score) {
    const cv::Mat &mat = *src.mat;
    // Region in source pixels, placed centred in the 128x128 input with its aspect ratio kept.
    const double rx = region.x * src.scale_x, ry = region.y * src.scale_y;
    const double rw = region.width * src.scale_x, rh = region.height * src.scale_y;
    const double k = kDetectorSize / std::max(rw, rh);  // input pixels per source pixel
    const double off_x = (kDetectorSize - rw * k) / 2, off_y = (kDetectorSize - rh * k) / 2;
    // The part of the region inside the source, in whole source pixels, and where it lands in the input.
    const int x0 = std::max(0, static_cast<int>(std::floor(rx))), y0 = std::max(0, static_cast<int>(std::floor(ry)));
    const int x1 = std::min(mat.cols, static_cast<int>(std::ceil(rx + rw)));
    const int y1 = std::min(mat.rows, static_cast<int>(std::ceil(ry + rh)));
    const auto to_input = [](double v) { return std::clamp(static_cast<int>(std::lround(v)), 0, kDetectorSize); };
    const int u0 = to_input(off_x + (x0 - rx) * k), u1 = to_input(off_x + (x1 - rx) * k);
    const int v0 = to_input(off_y + (y0 - ry) * k), v1 = to_input(off_y + (y1 - ry) * k);
    if (x1 <= x0 || y1 <= y0 || u1 <= u0 || v1 <= v0) return {};

    letterbox.setTo(cv::Scalar::all(0));
    cv::Mat dst = letterbox(cv::Rect(u0, v0, u1 - u0, v1 - v0));
    const bool shrink = x1 - x0 > u1 - u0 || y1 - y0 > v1 - v0;
    cv::resize(mat(cv::Rect(x0, y0, x1 - x0, y1 - y0)), dst, dst.size(), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    fill_rgb_blob(letterbox, detector_blob, 1.0f / 127.5f, -1.0f);

    detector.setInput(detector_blob);
    detector.forward(outputs, detector_outputs);
    const float *reg = output_data(outputs[0], static_cast<size_t>(kAnchors) * kRegressors, "regressors");
    const float *logits = output_data(outputs[1], kAnchors, "classificators");

    // Input pixel (continuous) -> image coordinates.
    const double sx = static_cast<double>(x1 - x0) / (u1 - u0) / src.scale_x;
    const double sy = static_cast<double>(y1 - y0) / (v1 - v0) / src.scale_y;
    const double ox = x0 / src.scale_x - u0 * sx, oy = y0 / src.scale_y - v0 * sy;
    const auto to_image = [&](float u, float v) {
        return cv::Point2f(static_cast<float>(ox + u * sx), static_cast<float>(oy + v * sy));
    };

    candidates.clear();
    for (int i = 0; i < kAnchors; ++i) {
        const float score = sigmoid(logits[i]);
        if (score < min_score) continue;
        const float *r = reg + static_cast<size_t>(i) * kRegressors;
        const float ax = anchors[i].x * kDetectorSize, ay = anchors[i].y * kDetectorSize;
        const float cx = r[0] + ax, cy = r[1] + ay, w = r[2], h = r[3];
        if (!(w > 0.0f && h > 0.0f)) continue;
        Detection d;
        d.score = score;
        const cv::Point2f tl = to_image(cx - w / 2, cy - h / 2), br = to_image(cx + w / 2, cy + h / 2);
        d.box = cv::Rect2f(tl, br);
        for (int k2 = 0; k2 < 6; ++k2) d.kp[k2] = to_image(r[4 + 2 * k2] + ax, r[5 + 2 * k2] + ay);
        candidates.push_back(d);
    }
    return weighted_nms(candidates);
}

Mesh cvision_detector::run_mesh(const cv::Mat &image, const Roi &roi) {
    const cv::Matx23d to_image = crop_to_image(roi);
    // warpAffine works on pixel indices (centre at the integer): index = continuous - 0.5 on both sides.
    cv::Matx23d inverse_map = to_image;
    inverse_map(0, 2) += 0.5 * (to_image(0, 0) + to_image(0, 1)) - 0.5;
    inverse_map(1, 2) += 0.5 * (to_image(1, 0) + to_image(1, 1)) - 0.5;
    cv::warpAffine(image, crop, inverse_map, crop.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
    fill_rgb_blob(crop, mesh_blob, 1.0f / 255.0f, 0.0f);

    mesh.setInput(mesh_blob);
    mesh.forward(outputs, mesh_outputs);
    const float *xyz = output_data(outputs[0], CVISION_LANDMARKS * 3, "conv2d_21");
    const float *presence = output_data(outputs[1], 1, "conv2d_31");

    Mesh result;
    for (int i = 0; i < CVISION_LANDMARKS; ++i) result.points[i] = apply(to_image, xyz[3 * i], xyz[3 * i + 1]);
    result.presence = sigmoid(presence[0]);
    result.roll = roll_between(result.points[kRightEyeOuter], result.points[kLeftEyeOuter]);
    return result;
}

namespace {

struct Found {
    Detection detection;
    Mesh mesh;
};

// The per-image pipeline (see the top of the file).
class Pipeline {
public:
    Pipeline(cvision_detector &d, const cv::Mat &image, const cvision_detect_options &o)
        : det_(d), image_(image), opt_(o), short_side_(std::min(image.cols, image.rows)) {
        // The copy is an exact multiple (factor x) of the letterboxed content, so the reduction to 128 takes
        // INTER_AREA's fast integer path (0.25 ms instead of 0.67 ms at 640). Its aspect ratio may differ from
        // the image's by under a pixel; the x and y scales are tracked separately, so coordinates stay exact.
        const int long_side = std::max(image.cols, image.rows);
        const int factor = o.pass1_max_side / kDetectorSize;
        if (long_side > factor * kDetectorSize) {
            const double k = static_cast<double>(kDetectorSize) / long_side;
            const cv::Size size(factor * std::max(1, static_cast<int>(std::lround(image.cols * k))),
                                factor * std::max(1, static_cast<int>(std::lround(image.rows * k))));
            cv::resize(image, det_.small, size, 0, 0, cv::INTER_LINEAR);
            small_ = Source{&det_.small, static_cast<double>(size.width) / image.cols,
                            static_cast<double>(size.height) / image.rows};
        } else {
            small_ = Source{&image_, 1.0, 1.0};
        }
    }

    std::vector<Found> run(int32_t capacity) {
        std::vector<Found> faces;
        const cv::Rect2d whole(0, 0, image_.cols, image_.rows);
        consider(det_.detect_region(small_, whole, opt_.min_score), false, capacity, faces);
        if (faces.empty() && opt_.tiled_fallback) {
            for (int divisor : {1, 2, 4}) {
                const int side = short_side_ / divisor;
                if (side < kMinWindow) break;
                std::vector<Detection> found = tiled(side);
                if (found.empty()) continue;
                consider(std::move(found), true, capacity, faces);
                if (!faces.empty()) break;
            }
        }
        std::stable_sort(faces.begin(), faces.end(), [](const Found &a, const Found &b) {
            return a.detection.box.area() > b.detection.box.area();
        });
        return faces;
    }

private:
    // The source with enough pixels for a region of `side` image pixels to fill `target` input pixels:
    // the pass-1 copy when it has them (cheaper), else the full image.
    Source source_for(double side, int target) const {
        return side * std::min(small_.scale_x, small_.scale_y) >= target ? small_ : Source{&image_, 1.0, 1.0};
    }

    std::vector<Detection> tiled(int side) {
        if (side >= std::max(image_.cols, image_.rows)) return {};  // pass 1 already saw exactly this
        const auto starts = [side](int length) {
            std::vector<int> s;
            const int stride = std::max(1, side / 2);
            for (int p = 0; p + side < length; p += stride) s.push_back(p);
            s.push_back(std::max(0, length - side));
            return s;
        };
        const Source src = source_for(side, kDetectorSize);
        std::vector<Detection> all;
        for (int y : starts(image_.rows))
            for (int x : starts(image_.cols)) {
                std::vector<Detection> found = det_.detect_region(src, cv::Rect2d(x, y, side, side), opt_.min_score);
                all.insert(all.end(), found.begin(), found.end());
            }
        return all.empty() ? all : weighted_nms(std::move(all));
    }

    // Pass 2: the detection nearest to `d`'s centre in a square crop 3x its box, if any lies within its
    // long side of it.
    bool redetect(Detection &d) {
        const float side = kRedetectScale * std::max(d.box.width, d.box.height);
        const cv::Point2f centre(d.box.x + d.box.width / 2, d.box.y + d.box.height / 2);
        const cv::Rect2d region(centre.x - side / 2, centre.y - side / 2, side, side);
        const std::vector<Detection> found = det_.detect_region(source_for(side, kDetectorSize), region, opt_.min_score);
        const float limit = std::max(d.box.width, d.box.height);
        float best = INFINITY;
        const Detection *pick = nullptr;
        for (const Detection &f : found) {
            const float dist = std::hypot(f.box.x + f.box.width / 2 - centre.x, f.box.y + f.box.height / 2 - centre.y);
            if (dist < limit && dist < best) best = dist, pick = &f;
        }
        if (pick == nullptr) return false;
        d = *pick;
        return true;
    }

    // Runs pass 2, mesh and refinement on each detection, largest first, until `capacity` faces are
    // accepted; appends the accepted ones.
    void consider(std::vector<Detection> detections, bool from_tiles, int32_t capacity, std::vector<Found> &faces) {
        std::stable_sort(detections.begin(), detections.end(),
                         [](const Detection &a, const Detection &b) { return a.box.area() > b.box.area(); });
        for (Detection &d : detections) {
            if (static_cast<int32_t>(faces.size()) >= capacity) return;
            Found f;
            if (!process(d, from_tiles, f)) continue;
            const bool duplicate = std::any_of(faces.begin(), faces.end(), [&](const Found &g) {
                return iou(g.detection.box, f.detection.box) > 0.5f;
            });
            if (!duplicate) faces.push_back(f);
        }
    }

    bool process(Detection d, bool from_tiles, Found &out) {
        const bool large = std::max(d.box.width, d.box.height) >= kLargeFace * short_side_;
        const float roll = degrees(roll_between(d.kp[0], d.kp[1]));
        bool needed = from_tiles || !large || std::fabs(roll) >= kSmallRollDegrees;
        if (needed && opt_.second_pass && !redetect(d)) return false;
        Mesh mesh = det_.run_mesh(image_, roi_from_detection(d));
        if (!needed) {
            // The shortcut is safe only if the mesh agrees with the detector; otherwise do the full work.
            const float disagreement = degrees(std::fabs(normalize_radians(mesh.roll - roll_between(d.kp[0], d.kp[1]))));
            if (disagreement >= kSmallRollDegrees || mesh.presence < opt_.min_presence) {
                needed = true;
                if (opt_.second_pass) {
                    if (!redetect(d)) return false;
                    mesh = det_.run_mesh(image_, roi_from_detection(d));
                }
            }
        }
        if (needed && opt_.refine) mesh = det_.run_mesh(image_, roi_from_mesh(mesh));
        if (!(mesh.presence >= opt_.min_presence)) return false;
        out.detection = d;
        out.mesh = mesh;
        return true;
    }

    cvision_detector &det_;
    const cv::Mat &image_;
    const cvision_detect_options &opt_;
    const int short_side_;
    Source small_{nullptr, 1.0, 1.0};
};

void check_options(const cvision_detect_options &o) {
    require(o.pass1_max_side >= kDetectorSize && o.pass1_max_side <= 8192, "pass1_max_side must be 128..8192");
    require(o.min_score > 0.0f && o.min_score <= 1.0f, "min_score must be in (0, 1]");  // also rejects NaN
    require(o.min_presence >= 0.0f && o.min_presence <= 1.0f, "min_presence must be in [0, 1]");
}

void write_face(const Found &f, cvision_face &out) {
    out.x = f.detection.box.x;
    out.y = f.detection.box.y;
    out.width = f.detection.box.width;
    out.height = f.detection.box.height;
    out.score = f.detection.score;
    out.presence = f.mesh.presence;
    out.roll_degrees = degrees(f.mesh.roll);
    out.has_landmarks = 1;
    for (int i = 0; i < CVISION_LANDMARKS; ++i) {
        out.landmarks[2 * i] = f.mesh.points[i].x;
        out.landmarks[2 * i + 1] = f.mesh.points[i].y;
    }
}

}  // namespace

extern "C" {

void cvision_detect_options_default(cvision_detect_options *options) {
    if (options == nullptr) return;
    options->pass1_max_side = 640;
    options->tiled_fallback = 1;
    options->second_pass = 1;
    options->refine = 1;
    options->min_score = 0.5f;
    options->min_presence = 0.9f;
}

int32_t cvision_detector_create(const char *detector_onnx, const char *landmark_onnx, cvision_detector **out,
                                cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return cvision_detail::guarded(status, [&] {
        require(out != nullptr, "out is NULL");
        require(detector_onnx != nullptr && landmark_onnx != nullptr, "model path is NULL");
        *out = new cvision_detector(detector_onnx, landmark_onnx);
    });
}

void cvision_detector_destroy(cvision_detector *detector) { delete detector; }

int32_t cvision_detector_detect(cvision_detector *detector, const cvision_image *image,
                                const cvision_detect_options *options, cvision_face *faces, int32_t capacity,
                                int32_t *count, cvision_status *status) {
    if (count != nullptr) *count = 0;
    return cvision_detail::guarded(status, [&] {
        require(detector != nullptr, "detector is NULL");
        require(image != nullptr, "image is NULL");
        require(count != nullptr, "count is NULL");
        require(capacity >= 0, "capacity must be >= 0");
        require(faces != nullptr || capacity == 0, "faces is NULL");
        cvision_detect_options defaults;
        cvision_detect_options_default(&defaults);
        const cvision_detect_options &opt = options != nullptr ? *options : defaults;
        check_options(opt);
        if (capacity == 0) return;
        const cv::Mat &mat = cvision_detail::image_mat(*image);
        const std::vector<Found> found = Pipeline(*detector, mat, opt).run(capacity);
        for (size_t i = 0; i < found.size(); ++i) write_face(found[i], faces[i]);
        *count = static_cast<int32_t>(found.size());
    });
}

void cvision_set_threads(int32_t threads) { cv::setNumThreads(threads); }

}  // extern "C"
