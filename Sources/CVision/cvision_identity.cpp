// cvision_identity.cpp - face identity: OpenCV Zoo's SFace, aligned on five points, as a 128-float embedding.
//
// The face is warped to 112x112 by the similarity transform that best maps its five points onto SFace's
// template (least squares, no reflection: what cv::FaceRecognizerSF::alignCrop computes), and the network runs
// on OpenCV's dnn module or on XNNPACK, as a cvision_detail::Network like the detector's. The native test checks
// both engines against each other and against cv::FaceRecognizerSF. Each concurrent caller runs a network of
// its own, so two workers measure two faces at once. The embedding is L2-normalised here, so the cosine of two
// faces is their dot product.

#include "cvision.h"
#include "cvision_detail.hpp"
#include "cvision_net.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using cvision_detail::Engine;
using cvision_detail::Model;
using cvision_detail::Network;

struct cvision_identifier {
    std::unique_ptr<Model> model;
    std::mutex lock;                                // guards `idle`
    std::vector<std::unique_ptr<Network>> idle;     // networks between calls: as many as callers ever ran at once
};

namespace {

constexpr int kFaceSize = CVISION_ALIGNED_SIDE;
// Where SFace wants the five points in its 112x112 input (the template cv::FaceRecognizerSF aligns to).
constexpr double kTemplate[5][2] = {
    {38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}};

void require(bool condition, const char *message) {
    if (!condition) cvision_detail::fail(CVISION_ERR_ARGUMENT, message);
}

// The 2x3 similarity (scale, rotation, shift) taking the points onto the template with the least squared error.
cv::Matx23d alignment(const float points[10]) {
    double px = 0, py = 0, qx = 0, qy = 0;
    for (int i = 0; i < 5; ++i) {
        px += points[2 * i] / 5.0;
        py += points[2 * i + 1] / 5.0;
        qx += kTemplate[i][0] / 5.0;
        qy += kTemplate[i][1] / 5.0;
    }
    double spread = 0, a = 0, b = 0;
    for (int i = 0; i < 5; ++i) {
        const double x = points[2 * i] - px, y = points[2 * i + 1] - py;
        const double u = kTemplate[i][0] - qx, v = kTemplate[i][1] - qy;
        spread += x * x + y * y;
        a += x * u + y * v;
        b += x * v - y * u;
    }
    if (!(spread > 1e-6)) cvision_detail::fail(CVISION_ERR_ARGUMENT, "the five points of the face coincide");
    a /= spread;
    b /= spread;
    return cv::Matx23d(a, -b, qx - (a * px - b * py), b, a, qy - (b * px + a * py));
}

// A network from the pool, given back when the call ends (also when it throws).
class Borrowed {
public:
    explicit Borrowed(cvision_identifier &id) : id_(id) {
        {
            std::lock_guard<std::mutex> guard(id_.lock);
            if (!id_.idle.empty()) {
                net_ = std::move(id_.idle.back());
                id_.idle.pop_back();
            }
        }
        if (!net_) net_ = id_.model->compile(kFaceSize, kFaceSize);
    }
    ~Borrowed() {
        std::lock_guard<std::mutex> guard(id_.lock);
        id_.idle.push_back(std::move(net_));
    }
    Network &operator*() { return *net_; }

private:
    cvision_identifier &id_;
    std::unique_ptr<Network> net_;
};

}  // namespace

extern "C" {

int32_t cvision_identifier_create_engine(const char *model_onnx, int32_t engine, cvision_identifier **out,
                                         cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return cvision_detail::guarded(status, [&] {
        require(model_onnx != nullptr, "model path is NULL");
        require(out != nullptr, "out is NULL");
        require(engine == CVISION_ENGINE_XNNPACK || engine == CVISION_ENGINE_OPENCV,
                "engine must be CVISION_ENGINE_XNNPACK or CVISION_ENGINE_OPENCV");
        auto identifier = std::make_unique<cvision_identifier>();
        identifier->model = std::make_unique<Model>(model_onnx, "identity",
                                                    engine == CVISION_ENGINE_OPENCV ? Engine::opencv : Engine::xnnpack);
        // One network now: a model that is not SFace is refused here rather than at the first face.
        std::unique_ptr<Network> first = identifier->model->compile(kFaceSize, kFaceSize);
        first->run();
        if (first->output_count() != 1 || first->output(0).size() != CVISION_EMBEDDING)
            cvision_detail::fail(CVISION_ERR_DECODE, std::string("the identity model ") + model_onnx +
                                                         " does not give one embedding of 128 values");
        identifier->idle.push_back(std::move(first));
        *out = identifier.release();
    });
}

// OpenCV's dnn by default: unlike the detector's small networks, SFace is 1.15 billion multiply-adds of large 1x1
// convolutions, where OpenCV 4.6 was measured faster than this XNNPACK (33.5 ms a face against 37.7 ms, one
// thread, `Tests/CVisionNative/run.sh --bench`).
int32_t cvision_identifier_create(const char *model_onnx, cvision_identifier **out, cvision_status *status) {
    return cvision_identifier_create_engine(model_onnx, CVISION_ENGINE_OPENCV, out, status);
}

int32_t cvision_identifier_engine(const cvision_identifier *identifier) {
    if (identifier == nullptr) return -1;
    return identifier->model->engine() == Engine::opencv ? CVISION_ENGINE_OPENCV : CVISION_ENGINE_XNNPACK;
}

void cvision_identifier_destroy(cvision_identifier *identifier) { delete identifier; }

int32_t cvision_identifier_align(const cvision_image *image, const float points[10], uint8_t *bgr112,
                                 cvision_status *status) {
    return cvision_detail::guarded(status, [&] {
        require(image != nullptr, "image is NULL");
        require(points != nullptr, "points is NULL");
        require(bgr112 != nullptr, "output is NULL");
        for (int i = 0; i < 10; ++i) require(std::isfinite(points[i]), "a point is not a finite number");
        cv::Mat aligned(kFaceSize, kFaceSize, CV_8UC3, bgr112);
        cv::warpAffine(cvision_detail::image_mat(*image), aligned, cv::Mat(alignment(points)), aligned.size(),
                       cv::INTER_LINEAR);
    });
}

int32_t cvision_identifier_embed(cvision_identifier *identifier, const cvision_image *image, const float points[10],
                                 float embedding[CVISION_EMBEDDING], cvision_status *status) {
    return cvision_detail::guarded(status, [&] {
        require(identifier != nullptr, "identifier is NULL");
        require(embedding != nullptr, "embedding is NULL");
        uint8_t aligned[kFaceSize * kFaceSize * 3];
        cvision_status inner;
        if (cvision_identifier_align(image, points, aligned, &inner) != CVISION_OK)
            cvision_detail::fail(inner.code, inner.message);
        Borrowed net(*identifier);
        // The network takes RGB, 0-255 (it scales its input itself).
        float *in = (*net).input();
        for (int i = 0; i < kFaceSize * kFaceSize; ++i) {
            in[3 * i] = aligned[3 * i + 2];
            in[3 * i + 1] = aligned[3 * i + 1];
            in[3 * i + 2] = aligned[3 * i];
        }
        (*net).run();
        const std::vector<float> &values = (*net).output(0);
        double norm = 0;
        for (float v : values) norm += double(v) * v;
        norm = std::sqrt(norm);
        if (!(norm > 0.0) || !std::isfinite(norm))
            cvision_detail::fail(CVISION_ERR_INTERNAL, "the identity model gave an empty embedding");
        for (int i = 0; i < CVISION_EMBEDDING; ++i) embedding[i] = static_cast<float>(values[i] / norm);
    });
}

}  // extern "C"
