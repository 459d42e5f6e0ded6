// cvision_net.hpp - the two ways the shim runs its networks (the face detector, the mesh, the identity model;
// private to the shim).
//
// A Network is one model compiled for one input size. Input: 1 x height x width x 3 floats, RGB interleaved
// (NHWC), as the model wants them. Outputs: the model's graph outputs in order, each flattened in TFLite's
// (NHWC) order, which is also the order of the ONNX outputs these models have.
//
//   XNNPACK  the ONNX file is read by a small protobuf reader (parse_onnx), batch normalizations that follow a
//            convolution are folded into it, and the graph is rebuilt as an XNNPACK subgraph in NHWC and run
//            single-threaded. About 3x faster than OpenCV for the detector's and the mesh's small networks; about
//            10 % slower for the identity model's large 1x1 convolutions.
//   OpenCV   cv::dnn::readNetFromONNX, backend OPENCV, target CPU: the identity model's engine, and the reference
//            the native test compares XNNPACK's outputs against.
//
// Both fail through cvision_detail::fail (CVISION_ERR_DECODE) on a file that is not such a model.

#ifndef CVISION_NET_HPP
#define CVISION_NET_HPP

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cvision_detail {

// The part of an ONNX model the networks need: nodes in order, constants, input and output names.
struct OnnxTensor {
    std::vector<int64_t> dims;
    int32_t type = 0;  // TensorProto.DataType: 1 float, 7 int64
    std::vector<float> floats;
    std::vector<int64_t> ints;
    size_t count() const;
};

struct OnnxAttribute {
    float f = 0.0f;
    int64_t i = 0;
    std::string s;
    std::vector<int64_t> ints;
};

struct OnnxNode {
    std::string op, name;
    std::vector<std::string> inputs, outputs;
    std::map<std::string, OnnxAttribute> attributes;
};

struct OnnxGraph {
    std::vector<OnnxNode> nodes;
    std::map<std::string, OnnxTensor> constants;
    std::vector<std::string> inputs;  // graph inputs that are not constants
    std::vector<std::string> outputs;
};

// Parses ONNX ModelProto bytes. `what` names the file in error messages.
OnnxGraph parse_onnx(const std::string &bytes, const std::string &what);

enum class Engine { xnnpack, opencv };

// True when XNNPACK initializes on this CPU (checked once).
bool xnnpack_available();

class Network {
public:
    virtual ~Network() = default;
    int height() const { return height_; }
    int width() const { return width_; }
    float *input() { return input_.data(); }
    // Runs the model on input(); afterwards output(i) holds graph output i.
    virtual void run() = 0;
    const std::vector<float> &output(size_t index) const { return outputs_.at(index); }
    size_t output_count() const { return outputs_.size(); }

protected:
    Network(int height, int width) : height_(height), width_(width), input_(static_cast<size_t>(height) * width * 3) {}
    int height_, width_;
    std::vector<float> input_;
    std::vector<std::vector<float>> outputs_;
};

// A model file read once; networks for any input size are made from it.
class Model {
public:
    // Reads and parses `path` (`what` names it in errors: "face detector").
    Model(const std::string &path, const std::string &what, Engine engine);
    // A network for a 1 x height x width x 3 input (sizes must suit the model: multiples of 16 for these).
    std::unique_ptr<Network> compile(int height, int width) const;
    Engine engine() const { return engine_; }

private:
    std::string path_, what_, bytes_;
    Engine engine_;
    std::shared_ptr<const OnnxGraph> graph_;
};

}  // namespace cvision_detail

#endif
