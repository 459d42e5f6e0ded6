// cvision_identity.cpp - face identity: OpenCV Zoo's SFace, aligned on five points, as a 128-float embedding.
//
// cv::FaceRecognizerSF (objdetect) loads the fp32 ONNX file scripts/install-models makes, warps the face to
// 112x112 with a similarity transform from its five points (alignCrop) and runs the network (feature). The
// embedding is L2-normalised here, so the cosine of two faces is their dot product.

#include "cvision.h"
#include "cvision_detail.hpp"

#include <opencv2/core.hpp>
#include <opencv2/objdetect/face.hpp>

#include <cmath>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

struct cvision_identifier {
    cv::Ptr<cv::FaceRecognizerSF> recognizer;
    std::mutex lock;  // the network's forward pass is not thread-safe
};

namespace {

void require(bool condition, const char *message) {
    if (!condition) cvision_detail::fail(CVISION_ERR_ARGUMENT, message);
}

}  // namespace

extern "C" {

int32_t cvision_identifier_create(const char *model_onnx, cvision_identifier **out, cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return cvision_detail::guarded(status, [&] {
        require(model_onnx != nullptr, "model path is NULL");
        require(out != nullptr, "out is NULL");
        auto identifier = std::make_unique<cvision_identifier>();
        try {
            identifier->recognizer = cv::FaceRecognizerSF::create(model_onnx, "");
        } catch (const cv::Exception &e) {
            cvision_detail::fail(CVISION_ERR_DECODE, std::string("cannot load the identity model ") + model_onnx + ": " + e.what());
        }
        if (identifier->recognizer.empty()) {
            cvision_detail::fail(CVISION_ERR_DECODE, std::string("cannot load the identity model ") + model_onnx);
        }
        *out = identifier.release();
    });
}

void cvision_identifier_destroy(cvision_identifier *identifier) { delete identifier; }

int32_t cvision_identifier_embed(cvision_identifier *identifier, const cvision_image *image, const float points[10],
                                 float embedding[CVISION_EMBEDDING], cvision_status *status) {
    return cvision_detail::guarded(status, [&] {
        require(identifier != nullptr, "identifier is NULL");
        require(image != nullptr, "image is NULL");
        require(points != nullptr, "points is NULL");
        require(embedding != nullptr, "embedding is NULL");
        for (int i = 0; i < 10; ++i) require(std::isfinite(points[i]), "a point is not a finite number");
        // alignCrop reads a face as detected by YuNet: box (4), five points (10), score (1).
        cv::Mat face(1, 15, CV_32F, cv::Scalar(0));
        for (int i = 0; i < 10; ++i) face.at<float>(0, 4 + i) = points[i];
        const cv::Mat &mat = cvision_detail::image_mat(*image);
        cv::Mat aligned, feature, values;
        {
            // The output may share the network's own buffer, which the next call overwrites: copied under the lock.
            std::lock_guard<std::mutex> guard(identifier->lock);
            identifier->recognizer->alignCrop(mat, face, aligned);
            identifier->recognizer->feature(aligned, feature);
            require(feature.total() == CVISION_EMBEDDING, "the identity model did not give 128 values");
            feature.reshape(1, 1).convertTo(values, CV_32F);
        }
        double norm = cv::norm(values);
        if (!(norm > 0.0)) cvision_detail::fail(CVISION_ERR_INTERNAL, "the identity model gave an empty embedding");
        for (int i = 0; i < CVISION_EMBEDDING; ++i) embedding[i] = static_cast<float>(values.at<float>(0, i) / norm);
    });
}

}  // extern "C"
