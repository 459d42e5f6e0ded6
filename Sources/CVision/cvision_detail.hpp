// cvision_detail.hpp - what cvision.cpp shares with the shim's other files (private to the shim): the one error
// model (fail throws, guarded maps what is thrown to a status) and access to an image's pixels without a copy.
// cvision.cpp includes it too, so the compiler holds its definitions to these declarations.

#ifndef CVISION_DETAIL_HPP
#define CVISION_DETAIL_HPP

#include "cvision.h"

#include <opencv2/core.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace cvision_detail {
const cv::Mat &image_mat(const cvision_image &image);
[[noreturn]] void fail(int32_t code, const std::string &message);
int32_t guarded(cvision_status *status, const std::function<void()> &body) noexcept;
}  // namespace cvision_detail

#endif
