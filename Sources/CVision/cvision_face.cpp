// cvision_face.cpp - face detector: MediaPipe BlazeFace short-range + Face Mesh 468, as ONNX files run by
// XNNPACK (or, for reference, OpenCV's dnn module; see cvision_net.hpp). See include/cvision.h, README.md
// and /models/README.md.
//
// Coordinates are continuous image coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), so its centre is
// (i + 0.5, j + 0.5). The networks' outputs use the same convention for their input tensors.
//
// Pipeline for one image:
//   pass 1   the image scaled (INTER_LINEAR) to a long side of pass1_max_side, then (INTER_AREA) to a long
//            side of 128 in the detector's input (96x128 for a 2:3 portrait; the network is fully
//            convolutional, so the input need only have sides that are multiples of 16) -> boxes, 6
//            keypoints, scores -> weighted NMS.
//   search   if pass 1 yields no accepted face: the detector on the whole image scaled to a short side of
//            192, then 384 (one forward covers every position), with a detector score of at least 0.6;
//            stop at the first scale that yields a face.
//   per face (largest box first):
//   mesh     ROI: centre of the box, side 1.5*max(w,h), roll from the eye keypoints; warpAffine to
//            192x192 (BORDER_REPLICATE); 468 points mapped back through the inverse affine; presence.
//   pass 2   only when that presence is too low: re-detect on a square crop 3x the box around its centre
//            (no detection there: rejected), and the mesh again.
//   refine   ROI from the mesh (roll from points 33->263, box of all points in the face frame x1.5,
//            square) and the mesh again, unless that ROI agrees with the one the mesh ran in (centre
//            within 8% of the side, side within 12%, roll within 6 degrees): then the landmarks are final.
//   accept   final presence >= min_presence.

#include "cvision.h"
#include "cvision_detail.hpp"
#include "cvision_net.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using cvision_detail::fail;
using cvision_detail::Engine;
using cvision_detail::Model;
using cvision_detail::Network;

constexpr int kDetectorSize = 128;
constexpr int kMeshSize = 192;
constexpr int kAnchors = 896;
constexpr int kRegressors = 16;
constexpr float kPi = 3.14159265358979323846f;
constexpr float kNmsIou = 0.3f;
constexpr float kRoiScale = 1.5f;          // ROI side = 1.5 x the detector box (MediaPipe)
constexpr float kRedetectScale = 3.0f;     // pass 2 crop side = 3 x the pass-1 box
constexpr float kAgreeShift = 0.08f;       // landmarks final when the ROI they imply is within 8% of the side,
constexpr float kAgreeSide = 0.12f;        // ... its side within 12%,
constexpr float kAgreeRollDegrees = 6.0f;  // ... and its roll within 6 degrees of the detector's
constexpr int kSearchSides[] = {192, 384};  // search: the detector's input short side at each scale
constexpr int kSearchMaxSide = 1024;       // ... and at most this long side
constexpr float kSearchMinScore = 0.6f;    // ... and a detector score of at least this (pass 1: min_score)
constexpr double kSearchMaxScale = 2.0;    // ... and at most this scale (small images)
constexpr int kSearchMinShort = 32;        // no search on images with a shorter side than this
constexpr int kStride = 16;                // the detector's total stride: input sides are multiples of it
constexpr long kNetworkPixels = 500000;    // detector networks kept per handle, one per input size: at most
                                           // this many input pixels between them (activations take about
                                           // 200 bytes per input pixel: 40 MB for 384x576); least recently
                                           // used first out

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

// Writes packed 8-bit BGR pixels into a network's NHWC RGB float input as value * scale + offset.
void fill_input(const cv::Mat &bgr, float *input, float scale, float offset) {
    for (int y = 0; y < bgr.rows; ++y) {
        const uint8_t *p = bgr.ptr<uint8_t>(y);
        for (int x = 0; x < bgr.cols; ++x, p += 3, input += 3) {
            input[0] = p[2] * scale + offset;
            input[1] = p[1] * scale + offset;
            input[2] = p[0] * scale + offset;
        }
    }
}

// Checks a network output's element count (the layouts are fixed by the model files).
const float *output_data(const Network &net, size_t index, size_t expected, const char *name) {
    if (index >= net.output_count() || net.output(index).size() != expected)
        fail(CVISION_ERR_DECODE, std::string("model output ") + name + " has an unexpected shape (wrong model file?)");
    return net.output(index).data();
}

// MediaPipe SsdAnchorsCalculator for face_detection_short_range, for an input of `width` x `height`: strides
// 8, 16, 16, 16, anchor offset 0.5, fixed size 1. The three stride-16 layers share one grid with 2 anchors
// each, so: the stride-8 grid with 2 anchors per cell, then the stride-16 grid with 6 per cell (row by row,
// anchors of a cell together). Centres in input pixels. (128x128 gives MediaPipe's 896 anchors.)
std::vector<cv::Point2f> make_anchors(int width, int height) {
    std::vector<cv::Point2f> anchors;
    for (const auto &[stride, per_cell] : {std::pair<int, int>{8, 2}, std::pair<int, int>{16, 6}})
        for (int y = 0; y < height / stride; ++y)
            for (int x = 0; x < width / stride; ++x)
                for (int k = 0; k < per_cell; ++k) anchors.emplace_back((x + 0.5f) * stride, (y + 0.5f) * stride);
    return anchors;
}

}  // namespace

// A detector network compiled for one input size, with its anchors.
struct DetectorNet {
    std::unique_ptr<Network> net;
    std::vector<cv::Point2f> anchors;
    uint64_t last_use = 0;
};

struct cvision_detector {
    Model detector_model;
    Model mesh_model;
    std::map<std::pair<int, int>, DetectorNet> detectors;  // by (height, width)
    uint64_t uses = 0;
    std::unique_ptr<Network> mesh;
    // Reused between calls (no allocation per image once sizes repeat).
    cv::Mat small;                                                                  // pass-1 copy
    cv::Mat letterbox;                                                              // detect_region input
    cv::Mat scaled;                                                                 // search input
    cv::Mat crop = cv::Mat(kMeshSize, kMeshSize, CV_8UC3);
    std::vector<Detection> candidates;

    cvision_detector(const char *detector_path, const char *mesh_path, Engine engine);

    // The detector network for a `width` x `height` input (made on first use).
    DetectorNet &detector(int width, int height);
    // Runs the detector on `region` (image coordinates; may extend past the image, which reads as black)
    // of `src`, letterboxed into 128 pixels on its long side, and returns the NMS'd detections in image
    // coordinates.
    std::vector<Detection> detect_region(const Source &src, const cv::Rect2d &region, float min_score);
    // Runs the detector on the whole image (`size`, held by `src`) scaled by `scale`, padded with black to
    // multiples of 16, and returns the NMS'd detections in image coordinates.
    std::vector<Detection> detect_scaled(const Source &src, cv::Size size, double scale, float min_score);
    // Decodes the detector's outputs: input pixel (u, v) is image point (ox + u * sx, oy + v * sy).
    std::vector<Detection> decode(DetectorNet &d, double sx, double sy, double ox, double oy, float min_score);
    // Face Mesh on the ROI of the full-resolution image.
    Mesh run_mesh(const cv::Mat &image, const Roi &roi);
};

namespace {

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

cvision_detector::cvision_detector(const char *detector_path, const char *mesh_path, Engine engine)
    : detector_model(detector_path, "face detector", engine), mesh_model(mesh_path, "face landmark", engine) {
    // Warm-up: compile both networks for their usual sizes and run them once, which keeps the first image's
    // time normal and checks that the files are the expected models.
    try {
        DetectorNet &d = detector(kDetectorSize, kDetectorSize);
        d.net->run();
        output_data(*d.net, 0, static_cast<size_t>(kAnchors) * kRegressors, "regressors");
        output_data(*d.net, 1, kAnchors, "classificators");
        mesh = mesh_model.compile(kMeshSize, kMeshSize);
        mesh->run();
        output_data(*mesh, 0, CVISION_LANDMARKS * 3, "conv2d_21");
        output_data(*mesh, 1, 1, "conv2d_31");
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const cv::Exception &e) {
        if (e.code == cv::Error::StsNoMem) throw;
        fail(CVISION_ERR_DECODE, std::string("the model files do not run as the face detector and landmark models "
                                             "(swapped or wrong files?): ") + e.err);
    } catch (const std::exception &e) {
        fail(CVISION_ERR_DECODE, std::string("the model files do not run as the face detector and landmark models "
                                             "(swapped or wrong files?): ") + e.what());
    }
}

DetectorNet &cvision_detector::detector(int width, int height) {
    const std::pair<int, int> key(height, width);
    auto it = detectors.find(key);
    if (it != detectors.end()) {
        it->second.last_use = ++uses;
        return it->second;
    }
    const auto pixels = [](const std::pair<int, int> &size) { return static_cast<long>(size.first) * size.second; };
    long total = pixels(key);
    for (const auto &[size, net] : detectors) total += pixels(size);
    while (total > kNetworkPixels && !detectors.empty()) {
        auto oldest = std::min_element(detectors.begin(), detectors.end(), [](const auto &a, const auto &b) {
            return a.second.last_use < b.second.last_use;
        });
        total -= pixels(oldest->first);
        detectors.erase(oldest);
    }
    DetectorNet d{detector_model.compile(height, width), make_anchors(width, height), ++uses};
    return detectors.emplace(key, std::move(d)).first->second;
}

std::vector<Detection> cvision_detector::detect_region(const Source &src, const cv::Rect2d &region, float min_score) {
    const cv::Mat &mat = *src.mat;
    // Region in source pixels, scaled to a long side of 128 with its aspect ratio kept, and centred in an input
    // whose sides are that rounded up to multiples of 16 (128x128 for a square region, 96x128 for a 2:3 one:
    // the network is fully convolutional, so the letterbox need not be square).
    const double rx = region.x * src.scale_x, ry = region.y * src.scale_y;
    const double rw = region.width * src.scale_x, rh = region.height * src.scale_y;
    const double k = kDetectorSize / std::max(rw, rh);  // input pixels per source pixel
    const auto padded = [](double side) {
        return std::min(kDetectorSize, (static_cast<int>(std::ceil(side - 1e-6)) + kStride - 1) / kStride * kStride);
    };
    const int in_w = padded(rw * k), in_h = padded(rh * k);
    const double off_x = (in_w - rw * k) / 2, off_y = (in_h - rh * k) / 2;
    // The part of the region inside the source, in whole source pixels, and where it lands in the input.
    const int x0 = std::max(0, static_cast<int>(std::floor(rx))), y0 = std::max(0, static_cast<int>(std::floor(ry)));
    const int x1 = std::min(mat.cols, static_cast<int>(std::ceil(rx + rw)));
    const int y1 = std::min(mat.rows, static_cast<int>(std::ceil(ry + rh)));
    const auto to_input = [](double v, int side) { return std::clamp(static_cast<int>(std::lround(v)), 0, side); };
    const int u0 = to_input(off_x + (x0 - rx) * k, in_w), u1 = to_input(off_x + (x1 - rx) * k, in_w);
    const int v0 = to_input(off_y + (y0 - ry) * k, in_h), v1 = to_input(off_y + (y1 - ry) * k, in_h);
    if (x1 <= x0 || y1 <= y0 || u1 <= u0 || v1 <= v0) return {};

    letterbox.create(in_h, in_w, CV_8UC3);
    letterbox.setTo(cv::Scalar::all(0));
    cv::Mat dst = letterbox(cv::Rect(u0, v0, u1 - u0, v1 - v0));
    const bool shrink = x1 - x0 > u1 - u0 || y1 - y0 > v1 - v0;
    cv::resize(mat(cv::Rect(x0, y0, x1 - x0, y1 - y0)), dst, dst.size(), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    DetectorNet &d = detector(in_w, in_h);
    fill_input(letterbox, d.net->input(), 1.0f / 127.5f, -1.0f);
    d.net->run();

    // Input pixel (continuous) -> image coordinates.
    const double sx = static_cast<double>(x1 - x0) / (u1 - u0) / src.scale_x;
    const double sy = static_cast<double>(y1 - y0) / (v1 - v0) / src.scale_y;
    return decode(d, sx, sy, x0 / src.scale_x - u0 * sx, y0 / src.scale_y - v0 * sy, min_score);
}

std::vector<Detection> cvision_detector::detect_scaled(const Source &src, cv::Size size, double scale,
                                                       float min_score) {
    const int w = std::max(1, static_cast<int>(std::lround(size.width * scale)));
    const int h = std::max(1, static_cast<int>(std::lround(size.height * scale)));
    const auto padded = [](int side) { return (side + kStride - 1) / kStride * kStride; };
    DetectorNet &d = detector(padded(w), padded(h));
    scaled.create(d.net->height(), d.net->width(), CV_8UC3);
    scaled.setTo(cv::Scalar::all(0));
    cv::Mat dst = scaled(cv::Rect(0, 0, w, h));
    // Bilinear up to a 3x reduction (as the pass-1 copy is made; INTER_AREA costs 10x more at such ratios).
    cv::resize(*src.mat, dst, dst.size(), 0, 0, 3 * w < src.mat->cols ? cv::INTER_AREA : cv::INTER_LINEAR);
    fill_input(scaled, d.net->input(), 1.0f / 127.5f, -1.0f);
    d.net->run();
    return decode(d, static_cast<double>(size.width) / w, static_cast<double>(size.height) / h, 0.0, 0.0, min_score);
}

std::vector<Detection> cvision_detector::decode(DetectorNet &d, double sx, double sy, double ox, double oy,
                                                float min_score) {
    const size_t anchors = d.anchors.size();
    const float *reg = output_data(*d.net, 0, anchors * kRegressors, "regressors");
    const float *logits = output_data(*d.net, 1, anchors, "classificators");
    const auto to_image = [&](float u, float v) {
        return cv::Point2f(static_cast<float>(ox + u * sx), static_cast<float>(oy + v * sy));
    };
    candidates.clear();
    for (size_t i = 0; i < anchors; ++i) {
        const float score = sigmoid(logits[i]);
        if (score < min_score) continue;
        const float *r = reg + i * kRegressors;
        const float ax = d.anchors[i].x, ay = d.anchors[i].y;
        const float cx = r[0] + ax, cy = r[1] + ay, w = r[2], h = r[3];
        if (!(w > 0.0f && h > 0.0f)) continue;
        Detection det;
        det.score = score;
        const cv::Point2f tl = to_image(cx - w / 2, cy - h / 2), br = to_image(cx + w / 2, cy + h / 2);
        det.box = cv::Rect2f(tl, br);
        for (int k = 0; k < 6; ++k) det.kp[k] = to_image(r[4 + 2 * k] + ax, r[5 + 2 * k] + ay);
        candidates.push_back(det);
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
    fill_input(crop, mesh->input(), 1.0f / 255.0f, 0.0f);
    mesh->run();
    const float *xyz = output_data(*mesh, 0, CVISION_LANDMARKS * 3, "conv2d_21");
    const float *presence = output_data(*mesh, 1, 1, "conv2d_31");

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
        if (faces.empty() && opt_.search_fallback && short_side_ >= kSearchMinShort) {
            const int long_side = std::max(image_.cols, image_.rows);
            double previous = static_cast<double>(kDetectorSize) / long_side;  // pass 1's scale
            for (int target : kSearchSides) {
                const double scale = std::min({static_cast<double>(target) / short_side_,
                                               static_cast<double>(kSearchMaxSide) / long_side, kSearchMaxScale});
                if (scale < previous * 1.25) continue;  // hardly finer than what already ran
                previous = scale;
                std::vector<Detection> found = det_.detect_scaled(source_at(scale), image_.size(), scale, search_score());
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
    // The source with enough pixels to be scaled by `scale` (input pixels per image pixel) without enlarging:
    // the pass-1 copy when it has them (cheaper), else the full image.
    Source source_at(double scale) const {
        return std::min(small_.scale_x, small_.scale_y) >= scale ? small_ : Source{&image_, 1.0, 1.0};
    }

    // The search looks at about ten times as many positions as pass 1, so it asks more of a detection.
    float search_score() const { return std::max(opt_.min_score, kSearchMinScore); }

    // Pass 2: the detection nearest to `d`'s centre in a square crop 3x its box, if any lies within its
    // long side of it.
    bool redetect(Detection &d, float min_score) {
        const float side = kRedetectScale * std::max(d.box.width, d.box.height);
        const cv::Point2f centre(d.box.x + d.box.width / 2, d.box.y + d.box.height / 2);
        const cv::Rect2d region(centre.x - side / 2, centre.y - side / 2, side, side);
        const std::vector<Detection> found = det_.detect_region(source_at(kDetectorSize / side), region, min_score);
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
    void consider(std::vector<Detection> detections, bool from_search, int32_t capacity, std::vector<Found> &faces) {
        std::stable_sort(detections.begin(), detections.end(),
                         [](const Detection &a, const Detection &b) { return a.box.area() > b.box.area(); });
        for (Detection &d : detections) {
            if (static_cast<int32_t>(faces.size()) >= capacity) return;
            Found f;
            if (!process(d, from_search, f)) continue;
            const bool duplicate = std::any_of(faces.begin(), faces.end(), [&](const Found &g) {
                return iou(g.detection.box, f.detection.box) > 0.5f;
            });
            if (!duplicate) faces.push_back(f);
        }
    }

    bool process(Detection d, bool from_search, Found &out) {
        Mesh mesh = det_.run_mesh(image_, roi_from_detection(d));
        bool needed = false;
        if (!(mesh.presence >= opt_.min_presence)) {
            // The landmark model sees no face in the box: a false detection, or a box too coarse for it. Pass 2
            // tells them apart (a false detection usually ends here, which is the cheap way out).
            if (!opt_.second_pass || !redetect(d, from_search ? search_score() : opt_.min_score)) return false;
            mesh = det_.run_mesh(image_, roi_from_detection(d));
            needed = true;
        }
        // The landmarks from the detector's box are final when the ROI they imply agrees with the one they were
        // computed in (any face size: the test is relative to the ROI); otherwise they run again in their own.
        if (opt_.refine && (needed || !agree(roi_from_detection(d), roi_from_mesh(mesh))))
            mesh = det_.run_mesh(image_, roi_from_mesh(mesh));
        if (!(mesh.presence >= opt_.min_presence)) return false;
        out.detection = d;
        out.mesh = mesh;
        return true;
    }

    // Two ROIs agree when their centres, sides and rolls differ by under kAgreeShift of the side, kAgreeSide
    // and kAgreeRollDegrees.
    static bool agree(const Roi &a, const Roi &b) {
        const float side = std::max(a.side, b.side);
        return std::hypot(a.centre.x - b.centre.x, a.centre.y - b.centre.y) < kAgreeShift * side &&
               std::fabs(a.side - b.side) < kAgreeSide * side &&
               degrees(std::fabs(normalize_radians(a.roll - b.roll))) < kAgreeRollDegrees;
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
    options->search_fallback = 1;
    options->second_pass = 1;
    options->refine = 1;
    options->min_score = 0.5f;
    options->min_presence = 0.9f;
}

int32_t cvision_detector_create_engine(const char *detector_onnx, const char *landmark_onnx, int32_t engine,
                                       cvision_detector **out, cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return cvision_detail::guarded(status, [&] {
        require(out != nullptr, "out is NULL");
        require(detector_onnx != nullptr && landmark_onnx != nullptr, "model path is NULL");
        require(engine == CVISION_ENGINE_XNNPACK || engine == CVISION_ENGINE_OPENCV,
                "engine must be CVISION_ENGINE_XNNPACK or CVISION_ENGINE_OPENCV");
        const Engine chosen = engine == CVISION_ENGINE_OPENCV ? Engine::opencv : Engine::xnnpack;
        *out = new cvision_detector(detector_onnx, landmark_onnx, chosen);
    });
}

int32_t cvision_detector_create(const char *detector_onnx, const char *landmark_onnx, cvision_detector **out,
                                cvision_status *status) {
    const int32_t engine = cvision_detail::xnnpack_available() ? CVISION_ENGINE_XNNPACK : CVISION_ENGINE_OPENCV;
    return cvision_detector_create_engine(detector_onnx, landmark_onnx, engine, out, status);
}

int32_t cvision_detector_engine(const cvision_detector *detector) {
    if (detector == nullptr) return -1;
    return detector->detector_model.engine() == Engine::opencv ? CVISION_ENGINE_OPENCV : CVISION_ENGINE_XNNPACK;
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
