// cvision_hash.cpp - perceptual fingerprints (OpenCV contrib's img_hash) and the picture edits the
// fingerprint measurement makes (brightness and contrast, a mirror, a caption).
//
// img_hash works on the 8-bit BGR image as decoded: PHash (a 32x32 DCT's low 8x8 block against its median, 64 bits),
// AverageHash (8x8 mean, 64 bits), BlockMeanHash mode 0 (16x16 blocks of a 256x256 resize, 256 bits) and
// MarrHildrethHash (576 bits), compared by their Hamming distance; and the chroma grid (below), the colours pHash
// does not see, compared by the sum of their differences.

#include "cvision.h"
#include "cvision_detail.hpp"

#include <opencv2/core.hpp>
#include <opencv2/img_hash.hpp>
#include <opencv2/imgproc.hpp>

#include <cstring>
#include <functional>
#include <string>

namespace {

void require(bool condition, const char *message) {
    if (!condition) cvision_detail::fail(CVISION_ERR_ARGUMENT, message);
}

cv::Ptr<cv::img_hash::ImgHashBase> hasher(int32_t kind) {
    switch (kind) {
    case CVISION_HASH_PHASH: return cv::img_hash::PHash::create();
    case CVISION_HASH_AVERAGE: return cv::img_hash::AverageHash::create();
    case CVISION_HASH_BLOCK_MEAN: return cv::img_hash::BlockMeanHash::create(cv::img_hash::BLOCK_MEAN_HASH_MODE_0);
    case CVISION_HASH_MARR_HILDRETH: return cv::img_hash::MarrHildrethHash::create();
    default: cvision_detail::fail(CVISION_ERR_ARGUMENT, "unknown fingerprint kind");
    }
}

}  // namespace

extern "C" {

int32_t cvision_fingerprint(const cvision_image *image, int32_t kind, int32_t x, int32_t y, int32_t w, int32_t h,
                            uint8_t *out, size_t capacity, size_t *length, cvision_status *status) {
    if (length != nullptr) *length = 0;
    return cvision_detail::guarded(status, [&] {
        require(image != nullptr, "image is NULL");
        require(out != nullptr && length != nullptr, "out is NULL");
        const cv::Mat &mat = cvision_detail::image_mat(*image);
        cv::Mat part = mat;
        if (w > 0 || h > 0) {
            require(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= mat.cols && y + h <= mat.rows,
                    "fingerprint rectangle must lie inside the image, with w,h >= 1");
            part = mat(cv::Rect(x, y, w, h));
        }
        cv::Mat hash;
        if (kind == CVISION_HASH_CHROMA) {
            // The colour of a 4x4 grid: each cell's mean a and b (CIELAB, 8-bit), 32 bytes. Lightness is left out,
            // so brightness and contrast barely move it; a garment in another colour does.
            // 64x64 samples first (bilinear: a few thousand pixels read, not every one), then their 4x4 means.
            cv::Mat sampled, small, lab;
            cv::resize(part, sampled, cv::Size(64, 64), 0, 0, cv::INTER_LINEAR);
            cv::resize(sampled, small, cv::Size(4, 4), 0, 0, cv::INTER_AREA);
            cv::cvtColor(small, lab, cv::COLOR_BGR2Lab);
            hash.create(1, 32, CV_8U);
            for (int i = 0; i < 16; ++i) {
                const cv::Vec3b &cell = lab.at<cv::Vec3b>(i / 4, i % 4);
                hash.at<uint8_t>(0, 2 * i) = cell[1];
                hash.at<uint8_t>(0, 2 * i + 1) = cell[2];
            }
        } else {
            hasher(kind)->compute(part, hash);
        }
        require(hash.isContinuous(), "fingerprint is not one row");
        size_t bytes = hash.total() * hash.elemSize();
        require(bytes <= capacity, "fingerprint buffer too small");
        std::memcpy(out, hash.data, bytes);
        *length = bytes;
    });
}

int32_t cvision_edit(const cvision_image *image, double contrast, double brightness, int32_t mirror, const char *caption,
                     cvision_image **out, cvision_status *status) {
    if (out != nullptr) *out = nullptr;
    return cvision_detail::guarded(status, [&] {
        require(image != nullptr && out != nullptr, "image or out is NULL");
        cv::Mat edited;
        cvision_detail::image_mat(*image).convertTo(edited, CV_8UC3, contrast, brightness);
        if (mirror != 0) cv::flip(edited, edited, 1);
        if (caption != nullptr && caption[0] != '\0') {
            // A caption across the lower part, as a screenshot or a reposted picture carries.
            double scale = std::max(0.5, edited.cols / 500.0);
            int thickness = std::max(1, static_cast<int>(scale * 2));
            cv::putText(edited, caption, cv::Point(edited.cols / 20, edited.rows * 17 / 20), cv::FONT_HERSHEY_SIMPLEX,
                        scale, cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
        }
        if (!edited.isContinuous()) edited = edited.clone();
        cvision_status inner{};
        if (cvision_image_from_bgr(edited.data, edited.cols, edited.rows, static_cast<int32_t>(edited.step[0]), out, &inner)
            != CVISION_OK) {
            cvision_detail::fail(inner.code, inner.message);
        }
    });
}

}  // extern "C"
