// cvision_net.cpp - ONNX reader and the XNNPACK and OpenCV networks. See cvision_net.hpp.

#include "cvision.h"
#include "cvision_net.hpp"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <xnnpack.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <new>
#include <set>
#include <sstream>

namespace cvision_detail {
[[noreturn]] void fail(int32_t code, const std::string &message);
}

namespace cvision_detail {

size_t OnnxTensor::count() const {
    size_t n = 1;
    for (int64_t d : dims) n *= static_cast<size_t>(d);
    return n;
}

namespace {

// --- Protobuf wire format (just what ONNX needs) -----------------------------------------------------------

class Reader {
public:
    Reader(const char *begin, const char *end, const std::string &what) : p_(begin), end_(end), what_(what) {}
    bool done() const { return p_ >= end_; }

    uint64_t varint() {
        uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ >= end_) bad("truncated varint");
            const uint8_t byte = static_cast<uint8_t>(*p_++);
            value |= static_cast<uint64_t>(byte & 0x7f) << shift;
            if ((byte & 0x80) == 0) return value;
        }
        bad("varint too long");
    }
    // Next field: sets number and wire type.
    void key(uint32_t &field, uint32_t &wire) {
        const uint64_t k = varint();
        field = static_cast<uint32_t>(k >> 3);
        wire = static_cast<uint32_t>(k & 7);
    }
    Reader message() {
        const uint64_t length = varint();
        if (length > static_cast<uint64_t>(end_ - p_)) bad("length past the end");
        Reader sub(p_, p_ + length, what_);
        p_ += length;
        return sub;
    }
    std::string bytes() {
        Reader sub = message();
        return std::string(sub.p_, sub.end_);
    }
    float fixed32() {
        if (end_ - p_ < 4) bad("truncated float");
        float f;
        std::memcpy(&f, p_, 4);
        p_ += 4;
        return f;
    }
    void skip(uint32_t wire) {
        switch (wire) {
        case 0: varint(); break;
        case 1: advance(8); break;
        case 2: message(); break;
        case 5: advance(4); break;
        default: bad("unsupported wire type " + std::to_string(wire));
        }
    }
    // Repeated int64: packed (wire 2) or one value (wire 0).
    void ints(uint32_t wire, std::vector<int64_t> &out) {
        if (wire == 0) {
            out.push_back(static_cast<int64_t>(varint()));
        } else if (wire == 2) {
            Reader sub = message();
            while (!sub.done()) out.push_back(static_cast<int64_t>(sub.varint()));
        } else {
            bad("bad wire type for an integer list");
        }
    }
    void floats(uint32_t wire, std::vector<float> &out) {
        if (wire == 5) {
            out.push_back(fixed32());
        } else if (wire == 2) {
            Reader sub = message();
            while (!sub.done()) out.push_back(sub.fixed32());
        } else {
            bad("bad wire type for a float list");
        }
    }
    [[noreturn]] void bad(const std::string &why) const {
        fail(CVISION_ERR_DECODE, "the " + what_ + " model is not a readable ONNX file (" + why + ")");
    }

private:
    void advance(ptrdiff_t n) {
        if (end_ - p_ < n) bad("truncated field");
        p_ += n;
    }
    const char *p_;
    const char *end_;
    const std::string &what_;
};

OnnxTensor parse_tensor(Reader r, std::string &name) {
    OnnxTensor t;
    std::string raw;
    while (!r.done()) {
        uint32_t field, wire;
        r.key(field, wire);
        switch (field) {
        case 1: r.ints(wire, t.dims); break;
        case 2: t.type = static_cast<int32_t>(r.varint()); break;
        case 4: r.floats(wire, t.floats); break;
        case 7: r.ints(wire, t.ints); break;
        case 8: name = r.bytes(); break;
        case 9: raw = r.bytes(); break;
        case 14: if (r.varint() != 0) r.bad("external tensor data"); break;
        default: r.skip(wire);
        }
    }
    size_t n = 1;
    for (int64_t d : t.dims) {
        if (d < 0 || d > (1 << 24)) r.bad("tensor " + name + " has a bad dimension");
        n *= static_cast<size_t>(d);
        if (n > (size_t(1) << 28)) r.bad("tensor " + name + " is too large");
    }
    if (t.type == 1) {
        if (!raw.empty()) {
            if (raw.size() != n * 4) r.bad("tensor " + name + " has the wrong size");
            t.floats.resize(n);
            std::memcpy(t.floats.data(), raw.data(), raw.size());
        }
        if (t.floats.size() != n) r.bad("tensor " + name + " has the wrong size");
    } else if (t.type == 7) {
        if (!raw.empty()) {
            if (raw.size() != n * 8) r.bad("tensor " + name + " has the wrong size");
            t.ints.resize(n);
            std::memcpy(t.ints.data(), raw.data(), raw.size());
        }
        if (t.ints.size() != n) r.bad("tensor " + name + " has the wrong size");
    } else {
        r.bad("tensor " + name + " has unsupported type " + std::to_string(t.type));
    }
    return t;
}

std::pair<std::string, OnnxAttribute> parse_attribute(Reader r) {
    std::string name;
    OnnxAttribute a;
    while (!r.done()) {
        uint32_t field, wire;
        r.key(field, wire);
        switch (field) {
        case 1: name = r.bytes(); break;
        case 2: a.f = r.fixed32(); break;
        case 3: a.i = static_cast<int64_t>(r.varint()); break;
        case 4: a.s = r.bytes(); break;
        case 8: r.ints(wire, a.ints); break;
        default: r.skip(wire);
        }
    }
    return {name, a};
}

OnnxNode parse_node(Reader r) {
    OnnxNode n;
    while (!r.done()) {
        uint32_t field, wire;
        r.key(field, wire);
        switch (field) {
        case 1: n.inputs.push_back(r.bytes()); break;
        case 2: n.outputs.push_back(r.bytes()); break;
        case 3: n.name = r.bytes(); break;
        case 4: n.op = r.bytes(); break;
        case 5: n.attributes.insert(parse_attribute(r.message())); break;
        default: r.skip(wire);
        }
    }
    return n;
}

std::string value_info_name(Reader r) {
    std::string name;
    while (!r.done()) {
        uint32_t field, wire;
        r.key(field, wire);
        if (field == 1) name = r.bytes();
        else r.skip(wire);
    }
    return name;
}

OnnxGraph parse_graph(Reader r) {
    OnnxGraph g;
    std::vector<std::string> declared_inputs;
    while (!r.done()) {
        uint32_t field, wire;
        r.key(field, wire);
        switch (field) {
        case 1: g.nodes.push_back(parse_node(r.message())); break;
        case 5: {
            std::string name;
            OnnxTensor t = parse_tensor(r.message(), name);
            g.constants[name] = std::move(t);
            break;
        }
        case 11: declared_inputs.push_back(value_info_name(r.message())); break;
        case 12: g.outputs.push_back(value_info_name(r.message())); break;
        default: r.skip(wire);
        }
    }
    for (const std::string &name : declared_inputs)
        if (g.constants.count(name) == 0) g.inputs.push_back(name);
    return g;
}

}  // namespace

OnnxGraph parse_onnx(const std::string &bytes, const std::string &what) {
    Reader r(bytes.data(), bytes.data() + bytes.size(), what);
    bool found = false;
    OnnxGraph graph;
    while (!r.done()) {
        uint32_t field, wire;
        r.key(field, wire);
        if (field == 7 && wire == 2) {
            graph = parse_graph(r.message());
            found = true;
        } else {
            r.skip(wire);
        }
    }
    if (!found || graph.nodes.empty()) r.bad("no graph");
    if (graph.inputs.size() != 1) r.bad("expected one input, found " + std::to_string(graph.inputs.size()));
    if (graph.outputs.empty()) r.bad("no outputs");
    return graph;
}

namespace {

// --- XNNPACK -------------------------------------------------------------------------------------------------

void check_xnn(xnn_status status, const std::string &what) {
    if (status == xnn_status_out_of_memory) throw std::bad_alloc();  // CVISION_ERR_MEMORY, like every allocation
    if (status != xnn_status_success)
        fail(CVISION_ERR_INTERNAL,
             "XNNPACK failed (" + what + ", status " + std::to_string(static_cast<int>(status)) + ")");
}

xnn_status xnnpack_status() {
    static std::once_flag once;
    static xnn_status status = xnn_status_uninitialized;
    std::call_once(once, [] { status = xnn_initialize(nullptr); });
    return status;
}

void initialize_xnnpack() {
    const xnn_status status = xnnpack_status();
    if (status == xnn_status_unsupported_hardware) fail(CVISION_ERR_INTERNAL, "XNNPACK does not support this CPU");
    check_xnn(status, "initialize");
}

// Bounds on layer attributes (these models use pads up to 64 channels, strides of 2, no dilation): anything
// outside is not such a model, and refusing it keeps the shape arithmetic far from overflow.
constexpr int64_t kMaxPad = 4096;
constexpr int64_t kMaxStep = 16;
// ... and on memory: one layer output, and all of them (the largest input the detector gets, 1024x1024, needs
// 6.3 million elements for its largest layer and about 50 million in all).
constexpr size_t kMaxElements = size_t(1) << 25;
constexpr size_t kMaxTotalElements = size_t(1) << 28;

// BatchNormalization as a per-channel affine y = x * scale + shift, from its four constants (gamma, beta, mean,
// variance) and epsilon. False when they are not float constants of `channels` values each.
bool batch_norm_affine(const OnnxGraph &g, const OnnxNode &n, size_t channels, std::vector<float> &scale,
                       std::vector<float> &shift) {
    if (n.inputs.size() != 5) return false;
    const OnnxTensor *c[4];
    for (int i = 0; i < 4; ++i) {
        auto it = g.constants.find(n.inputs[1 + i]);
        if (it == g.constants.end() || it->second.type != 1 || it->second.count() != channels) return false;
        c[i] = &it->second;
    }
    auto eps = n.attributes.find("epsilon");
    const double epsilon = eps == n.attributes.end() ? 1e-5 : eps->second.f;
    scale.resize(channels);
    shift.resize(channels);
    for (size_t k = 0; k < channels; ++k) {
        const double s = double(c[0]->floats[k]) / std::sqrt(double(c[3]->floats[k]) + epsilon);
        scale[k] = float(s);
        shift[k] = float(double(c[1]->floats[k]) - double(c[2]->floats[k]) * s);
    }
    return true;
}

// Folds each BatchNormalization that follows a Conv (as that Conv's only reader) into the Conv's weights and
// bias, as inference engines do: the network computes the same function with one layer less. Batch
// normalizations that follow anything else stay, and run as a per-channel multiply and add.
OnnxGraph fold_batch_norms(OnnxGraph g) {
    std::map<std::string, int> readers;
    std::map<std::string, size_t> producer;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        for (const std::string &in : g.nodes[i].inputs) ++readers[in];
        if (g.nodes[i].outputs.size() == 1) producer[g.nodes[i].outputs[0]] = i;
    }
    for (const std::string &out : g.outputs) ++readers[out];  // a graph output is never folded away
    std::vector<bool> folded(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const OnnxNode &bn = g.nodes[i];
        if (bn.op != "BatchNormalization" || bn.inputs.empty() || bn.outputs.size() != 1) continue;
        auto p = producer.find(bn.inputs[0]);
        if (p == producer.end() || readers[bn.inputs[0]] != 1) continue;
        OnnxNode &conv = g.nodes[p->second];
        if (conv.op != "Conv" || conv.inputs.size() < 2) continue;
        auto w = g.constants.find(conv.inputs[1]);
        if (w == g.constants.end() || w->second.type != 1 || w->second.dims.size() != 4) continue;
        const size_t out_c = size_t(w->second.dims[0]);
        std::vector<float> scale, shift, bias(out_c, 0.0f);
        if (!batch_norm_affine(g, bn, out_c, scale, shift)) continue;
        if (conv.inputs.size() >= 3 && !conv.inputs[2].empty()) {
            auto b = g.constants.find(conv.inputs[2]);
            if (b == g.constants.end() || b->second.type != 1 || b->second.count() != out_c) continue;
            bias = b->second.floats;
        }
        OnnxTensor weight = w->second, folded_bias;
        const size_t per_output = weight.count() / out_c;
        for (size_t o = 0; o < out_c; ++o) {
            for (size_t k = 0; k < per_output; ++k) weight.floats[o * per_output + k] *= scale[o];
            bias[o] = bias[o] * scale[o] + shift[o];
        }
        folded_bias.type = 1;
        folded_bias.dims = {int64_t(out_c)};
        folded_bias.floats = std::move(bias);
        const std::string name = bn.outputs[0];
        g.constants[name + "/folded_weight"] = std::move(weight);
        g.constants[name + "/folded_bias"] = std::move(folded_bias);
        conv.inputs = {conv.inputs[0], name + "/folded_weight", name + "/folded_bias"};
        conv.outputs[0] = name;
        folded[i] = true;
    }
    std::vector<OnnxNode> kept;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (!folded[i]) kept.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(kept);
    return g;
}

// A value while the graph is rebuilt: its NHWC shape, and what it is in XNNPACK.
struct Value {
    std::vector<size_t> shape;        // NHWC for 4-D values
    std::vector<size_t> unflattened;  // a Flatten's output: the NHWC shape it was (its element order is NHWC's)
    uint32_t id = XNN_INVALID_VALUE_ID;  // tensor id, when it is a real tensor
    std::string source;               // the real tensor this value is (itself, or what a Transpose views)
    std::vector<std::string> parts;   // a flattened view or concatenation: the real values it is made of
    bool flat = false;                // a Reshape/Concat view: only usable as a graph output
};

class XnnNetwork final : public Network {
public:
    XnnNetwork(const OnnxGraph &g, int height, int width, const std::string &what)
        : Network(height, width), what_(what) {
        initialize_xnnpack();
        check_xnn(xnn_create_subgraph(0, 0, &subgraph_), "create subgraph");
        try {
            build(g);
            check_xnn(xnn_create_runtime_v2(subgraph_, nullptr, 0, &runtime_), "create runtime");
            check_xnn(xnn_setup_runtime(runtime_, externals_.size(), externals_.data()), "set up runtime");
        } catch (...) {
            release();
            throw;
        }
        xnn_delete_subgraph(subgraph_);
        subgraph_ = nullptr;
    }
    ~XnnNetwork() override { release(); }

    void run() override {
        const xnn_status status = xnn_invoke_runtime(runtime_);
        if (status != xnn_status_success) check_xnn(status, "run the " + what_ + " model");
    }

private:
    [[noreturn]] void unsupported(const OnnxNode &n, const std::string &why) const {
        fail(CVISION_ERR_DECODE,
             "the " + what_ + " model has a node XNNPACK cannot run here (" + n.op + " " + n.name + ": " + why + ")");
    }

    const OnnxTensor &constant(const OnnxGraph &g, const OnnxNode &n, size_t input) const {
        if (input >= n.inputs.size()) unsupported(n, "missing input");
        auto it = g.constants.find(n.inputs[input]);
        if (it == g.constants.end() || it->second.type != 1)
            unsupported(n, "input " + n.inputs[input] + " is not a float constant");
        return it->second;
    }

    Value &value(const OnnxNode &n, size_t input) {
        if (input >= n.inputs.size()) unsupported(n, "missing input");
        auto it = values_.find(n.inputs[input]);
        if (it == values_.end()) unsupported(n, "input " + n.inputs[input] + " is not computed before it");
        if (it->second.flat) unsupported(n, "a reshaped value used by a layer");
        return it->second;
    }

    // Static weights: kept until the runtime is gone.
    const float *keep(std::vector<float> data) {
        storage_.push_back(std::move(data));
        return storage_.back().data();
    }

    uint32_t tensor(const std::vector<size_t> &shape, const float *data, uint32_t flags = 0) {
        uint32_t id = XNN_INVALID_VALUE_ID;
        check_xnn(xnn_define_tensor_value(subgraph_, xnn_datatype_fp32, shape.size(), shape.data(), data,
                                          XNN_INVALID_VALUE_ID, flags, &id),
                  "define tensor");
        return id;
    }

    static int64_t attribute(const OnnxNode &n, const char *name, int64_t fallback) {
        auto it = n.attributes.find(name);
        return it == n.attributes.end() ? fallback : it->second.i;
    }
    static std::vector<int64_t> attribute_ints(const OnnxNode &n, const char *name, std::vector<int64_t> fallback) {
        auto it = n.attributes.find(name);
        return it == n.attributes.end() ? fallback : it->second.ints;
    }

    void build(const OnnxGraph &g) {
        // Which values the graph outputs are made of (through Transpose/Reshape/Concat views), and how
        // many nodes read each value (for fusing a ReLU into the layer before it).
        std::map<std::string, int> readers;
        for (const OnnxNode &n : g.nodes)
            for (const std::string &in : n.inputs) ++readers[in];

        Value input;
        input.shape = {1, static_cast<size_t>(height_), static_cast<size_t>(width_), 3};
        input.id = tensor(input.shape, nullptr, XNN_VALUE_FLAG_EXTERNAL_INPUT);
        input.source = g.inputs[0];
        externals_.push_back({input.id, input_.data()});
        values_[g.inputs[0]] = input;

        // Output tensors cannot be declared after the fact, so the whole graph is planned first: every
        // node's output shape, and which real tensors end up in a graph output.
        plan_ = true;
        for (const OnnxNode &n : g.nodes) add(g, n, readers);
        std::set<std::string> exported;
        for (const std::string &out : g.outputs) {
            auto it = values_.find(out);
            if (it == values_.end())
                fail(CVISION_ERR_DECODE, "the " + what_ + " model's output " + out + " is never computed");
            const Value &v = it->second;
            for (const std::string &part : v.parts.empty() ? std::vector<std::string>{v.source} : v.parts)
                exported.insert(part);
        }
        // Second pass: define for real.
        Value kept = values_[g.inputs[0]];
        values_.clear();
        values_[g.inputs[0]] = kept;
        fused_.clear();
        relu_of_.clear();
        plan_ = false;
        exported_ = exported;
        for (const OnnxNode &n : g.nodes) add(g, n, readers);

        // Each graph output is one buffer; its parts are written straight into their places in it.
        outputs_.reserve(g.outputs.size());
        for (const std::string &out : g.outputs) {
            const Value &v = values_.at(out);
            const std::vector<std::string> parts = v.parts.empty() ? std::vector<std::string>{v.source} : v.parts;
            size_t total = 0;
            for (const std::string &part : parts) total += elements(values_.at(part).shape);
            outputs_.emplace_back(total);
            size_t offset = 0;
            for (const std::string &part : parts) {
                externals_.push_back({values_.at(part).id, outputs_.back().data() + offset});
                offset += elements(values_.at(part).shape);
            }
        }
    }

    static size_t elements(const std::vector<size_t> &shape) {
        size_t n = 1;
        for (size_t d : shape) n *= d;
        return n;
    }

    // Defines node `n` (or, when planning, only records its output's shape).
    void add(const OnnxGraph &g, const OnnxNode &n, std::map<std::string, int> &readers) {
        if (n.outputs.size() != 1) unsupported(n, "expected one output");
        const std::string &out = n.outputs[0];
        if (fused_.count(out)) return;  // a ReLU already applied by the layer before it
        if (n.op == "Conv") return conv(g, n, readers);
        if (n.op == "Relu") {
            const Value &in = value(n, 0);
            return unary(n, in.shape, [&](uint32_t x, uint32_t y) {
                return xnn_define_clamp(subgraph_, 0.0f, std::numeric_limits<float>::infinity(), x, y, 0);
            });
        }
        if (n.op == "PRelu") {
            const Value &in = value(n, 0);
            const OnnxTensor &slope = constant(g, n, 1);
            const size_t channels = in.shape[3];
            if (slope.count() != channels) unsupported(n, "slope size");
            const std::vector<size_t> shape = in.shape;
            uint32_t slope_id = plan_ ? 0 : tensor({channels}, keep(slope.floats));
            return unary(n, shape,
                         [&](uint32_t x, uint32_t y) { return xnn_define_prelu(subgraph_, x, slope_id, y, 0); });
        }
        if (n.op == "Add") {
            const Value &a = value(n, 0), &b = value(n, 1);
            if (a.shape != b.shape) unsupported(n, "operands of different shapes");
            const bool relu = fuse_relu(g, n, readers);
            const std::vector<size_t> shape = a.shape;
            const uint32_t ia = a.id, ib = b.id;
            return define(n, shape, relu, [&](uint32_t y) {
                return xnn_define_add2(subgraph_, relu ? 0.0f : -std::numeric_limits<float>::infinity(),
                                       std::numeric_limits<float>::infinity(), ia, ib, y, 0);
            });
        }
        if (n.op == "Pad") {
            const Value &in = value(n, 0);
            const OnnxTensor *pads = nullptr;
            if (n.inputs.size() >= 2) {
                auto it = g.constants.find(n.inputs[1]);
                if (it != g.constants.end() && it->second.type == 7) pads = &it->second;
            }
            if (pads == nullptr || pads->ints.size() != 8) unsupported(n, "pads must be a constant of 8");
            auto mode = n.attributes.find("mode");
            if (mode != n.attributes.end() && mode->second.s != "constant") unsupported(n, "mode " + mode->second.s);
            if (n.inputs.size() >= 3 && !n.inputs[2].empty()) unsupported(n, "a pad value");
            const std::vector<int64_t> &p = pads->ints;  // NCHW begin, NCHW end
            for (int64_t v : p)
                if (v < 0 || v > kMaxPad) unsupported(n, "pads outside 0.." + std::to_string(kMaxPad));
            const size_t pre[4] = {size_t(p[0]), size_t(p[2]), size_t(p[3]), size_t(p[1])};
            const size_t post[4] = {size_t(p[4]), size_t(p[6]), size_t(p[7]), size_t(p[5])};
            std::vector<size_t> shape = in.shape;
            for (int i = 0; i < 4; ++i) shape[i] += pre[i] + post[i];
            return unary(n, shape, [&](uint32_t x, uint32_t y) {
                return xnn_define_static_constant_pad(subgraph_, pre, post, 0.0f, x, y, 0);
            });
        }
        if (n.op == "MaxPool") return max_pool(n);
        if (n.op == "BatchNormalization") return batch_norm(g, n);
        if (n.op == "Sub" || n.op == "Mul") return scalar_arithmetic(g, n);
        if (n.op == "Flatten") return flatten(n);
        if (n.op == "Gemm") return gemm(g, n);
        if (n.op == "Transpose") {
            // NCHW -> NHWC is what every value already is here.
            if (attribute_ints(n, "perm", {}) != std::vector<int64_t>{0, 2, 3, 1}) unsupported(n, "only perm 0,2,3,1");
            Value v = value(n, 0);
            values_[out] = v;
            return;
        }
        if (n.op == "Reshape") {
            // Only as the flattening of a layer's output into a graph output (the detector's heads).
            Value v;
            v.flat = true;
            v.parts = {value(n, 0).source};
            values_[out] = v;
            return;
        }
        if (n.op == "Concat") {
            if (attribute(n, "axis", -1) != 1) unsupported(n, "only axis 1");
            Value v;
            v.flat = true;
            for (const std::string &in : n.inputs) {
                auto it = values_.find(in);
                if (it == values_.end() || !it->second.flat) unsupported(n, "only reshaped outputs are concatenated");
                v.parts.insert(v.parts.end(), it->second.parts.begin(), it->second.parts.end());
            }
            values_[out] = v;
            return;
        }
        unsupported(n, "operator not supported");
    }

    template <typename Define>
    void unary(const OnnxNode &n, const std::vector<size_t> &shape, Define definition) {
        const uint32_t x = value(n, 0).id;
        define(n, shape, false, [&](uint32_t y) { return definition(x, y); });
    }

    template <typename Define>
    void define(const OnnxNode &n, const std::vector<size_t> &shape, bool relu, Define definition) {
        const std::string &out = n.outputs[0];
        const size_t size = elements(shape);
        if (size > kMaxElements || (plan_ && (planned_ += size) > kMaxTotalElements))
            unsupported(n, "its outputs would need more memory than these models ever do");
        Value v;
        v.shape = shape;
        if (!plan_) {
            v.id = tensor(shape, nullptr, exported_.count(out) ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : 0);
            check_xnn(definition(v.id), n.op + " " + n.name);
        }
        v.source = out;
        values_[out] = v;
        if (relu) {
            values_[relu_of_.at(out)] = v;
            fused_.insert(relu_of_.at(out));
        }
    }

    // True when `n`'s only reader is a Relu: the layer then clamps at 0 itself and the Relu is skipped.
    bool fuse_relu(const OnnxGraph &g, const OnnxNode &n, std::map<std::string, int> &readers) {
        const std::string &out = n.outputs[0];
        if (readers[out] != 1 || exported_.count(out)) return false;
        for (const OnnxNode &m : g.nodes)
            if (m.op == "Relu" && m.inputs.size() == 1 && m.inputs[0] == out && m.outputs.size() == 1 &&
                !exported_.count(m.outputs[0]) && !graph_output(g, out)) {
                relu_of_[out] = m.outputs[0];
                return true;
            }
        return false;
    }
    static bool graph_output(const OnnxGraph &g, const std::string &name) {
        for (const std::string &o : g.outputs)
            if (o == name) return true;
        return false;
    }

    void conv(const OnnxGraph &g, const OnnxNode &n, std::map<std::string, int> &readers) {
        const Value &in = value(n, 0);
        const OnnxTensor &w = constant(g, n, 1);
        if (w.dims.size() != 4) unsupported(n, "kernel rank");
        const size_t out_c = size_t(w.dims[0]), in_per_group = size_t(w.dims[1]);
        const size_t kh = size_t(w.dims[2]), kw = size_t(w.dims[3]);
        const size_t in_c = in.shape[3];
        const int64_t group = attribute(n, "group", 1);
        const std::vector<int64_t> strides = attribute_ints(n, "strides", {1, 1});
        const std::vector<int64_t> dilations = attribute_ints(n, "dilations", {1, 1});
        const std::vector<int64_t> pads = attribute_ints(n, "pads", {0, 0, 0, 0});  // top, left, bottom, right
        auto pad = n.attributes.find("auto_pad");
        if (pad != n.attributes.end() && pad->second.s != "NOTSET") unsupported(n, "auto_pad");
        if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4) unsupported(n, "attributes");
        for (int64_t v : strides) if (v < 1 || v > kMaxStep) unsupported(n, "stride");
        for (int64_t v : dilations) if (v < 1 || v > kMaxStep) unsupported(n, "dilation");
        for (int64_t v : pads) if (v < 0 || v > kMaxPad) unsupported(n, "pads");
        const bool depthwise = group > 1 && size_t(group) == in_c && size_t(group) == out_c && in_per_group == 1;
        if (!depthwise && !(group == 1 && in_per_group == in_c)) unsupported(n, "groups");
        std::vector<float> bias(out_c, 0.0f);
        if (n.inputs.size() >= 3 && !n.inputs[2].empty()) {
            const OnnxTensor &b = constant(g, n, 2);
            if (b.count() != out_c) unsupported(n, "bias size");
            bias = b.floats;
        }
        const auto extent = [](size_t size, int64_t before, int64_t after, size_t k, int64_t stride,
                               int64_t dilation) -> size_t {
            const int64_t effective = dilation * (int64_t(k) - 1) + 1;
            const int64_t padded = int64_t(size) + before + after;
            return padded < effective ? 0 : size_t((padded - effective) / stride + 1);
        };
        const size_t oh = extent(in.shape[1], pads[0], pads[2], kh, strides[0], dilations[0]);
        const size_t ow = extent(in.shape[2], pads[1], pads[3], kw, strides[1], dilations[1]);
        if (oh == 0 || ow == 0) unsupported(n, "input too small");
        const bool relu = fuse_relu(g, n, readers);
        const float hi = std::numeric_limits<float>::infinity(), lo = relu ? 0.0f : -hi;
        const uint32_t x = in.id;
        const std::vector<size_t> shape{in.shape[0], oh, ow, out_c};
        if (plan_) return define(n, shape, relu, [](uint32_t) { return xnn_status_success; });
        // ONNX kernels are OIHW; XNNPACK wants OHWI, and 1HWC for depthwise.
        std::vector<float> filter(w.floats.size());
        if (depthwise) {
            for (size_t c = 0; c < out_c; ++c)
                for (size_t y = 0; y < kh; ++y)
                    for (size_t xx = 0; xx < kw; ++xx)
                        filter[(y * kw + xx) * out_c + c] = w.floats[(c * kh + y) * kw + xx];
        } else {
            for (size_t o = 0; o < out_c; ++o)
                for (size_t i = 0; i < in_per_group; ++i)
                    for (size_t y = 0; y < kh; ++y)
                        for (size_t xx = 0; xx < kw; ++xx)
                            filter[((o * kh + y) * kw + xx) * in_per_group + i] =
                                w.floats[((o * in_per_group + i) * kh + y) * kw + xx];
        }
        const std::vector<size_t> filter_shape =
            depthwise ? std::vector<size_t>{1, kh, kw, out_c} : std::vector<size_t>{out_c, kh, kw, in_per_group};
        const uint32_t filter_id = tensor(filter_shape, keep(std::move(filter)));
        const uint32_t bias_id = tensor({out_c}, keep(std::move(bias)));
        const uint32_t top = uint32_t(pads[0]), left = uint32_t(pads[1]);
        const uint32_t bottom = uint32_t(pads[2]), right = uint32_t(pads[3]);
        const uint32_t sh = uint32_t(strides[0]), sw = uint32_t(strides[1]);
        const uint32_t dh = uint32_t(dilations[0]), dw = uint32_t(dilations[1]);
        define(n, shape, relu, [&](uint32_t y) {
            if (depthwise)
                return xnn_define_depthwise_convolution_2d(subgraph_, top, right, bottom, left, uint32_t(kh), uint32_t(kw), sh,
                                                           sw, dh, dw, 1, in_c, lo, hi, x, filter_id, bias_id, y, 0);
            return xnn_define_convolution_2d(subgraph_, top, right, bottom, left, uint32_t(kh), uint32_t(kw), sh, sw, dh, dw, 1,
                                             in_c, out_c, lo, hi, x, filter_id, bias_id, y, 0);
        });
    }

    // What fold_batch_norms left: x * scale + shift per channel (the last axis), as a multiply and an add.
    void batch_norm(const OnnxGraph &g, const OnnxNode &n) {
        const Value &in = value(n, 0);
        const size_t channels = in.shape.back();
        std::vector<float> scale, shift;
        if (!batch_norm_affine(g, n, channels, scale, shift)) unsupported(n, "parameters are not constants per channel");
        const std::vector<size_t> shape = in.shape;
        const uint32_t x = in.id;
        const float inf = std::numeric_limits<float>::infinity();
        uint32_t scaled = XNN_INVALID_VALUE_ID, scale_id = 0, shift_id = 0;
        if (!plan_) {
            scale_id = tensor({channels}, keep(std::move(scale)));
            shift_id = tensor({channels}, keep(std::move(shift)));
            scaled = tensor(shape, nullptr);
            check_xnn(xnn_define_multiply2(subgraph_, -inf, inf, x, scale_id, scaled, 0), n.op + " " + n.name);
        }
        define(n, shape, false, [&](uint32_t y) { return xnn_define_add2(subgraph_, -inf, inf, scaled, shift_id, y, 0); });
    }

    // Sub and Mul by a constant number (the identity model's input scaling).
    void scalar_arithmetic(const OnnxGraph &g, const OnnxNode &n) {
        const Value &in = value(n, 0);
        const OnnxTensor &c = constant(g, n, 1);
        if (c.count() != 1) unsupported(n, "only a single constant number is supported as the second operand");
        const std::vector<size_t> shape = in.shape;
        const uint32_t x = in.id;
        const bool subtract = n.op == "Sub";
        uint32_t c_id = plan_ ? 0 : tensor({1}, keep(c.floats));
        const float inf = std::numeric_limits<float>::infinity();
        define(n, shape, false, [&](uint32_t y) {
            return subtract ? xnn_define_subtract(subgraph_, -inf, inf, x, c_id, y, 0)
                            : xnn_define_multiply2(subgraph_, -inf, inf, x, c_id, y, 0);
        });
    }

    // Flatten of a 4-D value into 1 x (everything): its elements stay in NHWC order, which the Gemm reading it
    // accounts for (ONNX flattens NCHW).
    void flatten(const OnnxNode &n) {
        const Value &in = value(n, 0);
        if (attribute(n, "axis", 1) != 1 || in.shape.size() != 4 || in.shape[0] != 1) unsupported(n, "only 1 x H x W x C at axis 1");
        const std::vector<size_t> from = in.shape, shape{1, elements(in.shape)};
        const uint32_t x = in.id;
        define(n, shape, false, [&](uint32_t y) { return xnn_define_static_reshape(subgraph_, 2, shape.data(), x, y, 0); });
        values_[n.outputs[0]].unflattened = from;
    }

    // Gemm of a 1 x K value with constant weights: a fully connected layer.
    void gemm(const OnnxGraph &g, const OnnxNode &n) {
        const Value &in = value(n, 0);
        const OnnxTensor &w = constant(g, n, 1);
        if (in.shape.size() != 2 || in.shape[0] != 1) unsupported(n, "only a 1 x K input");
        auto attr_f = [&](const char *name) {
            auto it = n.attributes.find(name);
            return it == n.attributes.end() ? 1.0f : it->second.f;
        };
        if (attr_f("alpha") != 1.0f || attr_f("beta") != 1.0f || attribute(n, "transA", 0) != 0) unsupported(n, "alpha, beta or transA");
        const bool transposed = attribute(n, "transB", 0) != 0;
        const size_t k = in.shape[1];
        if (w.dims.size() != 2 || size_t(w.dims[transposed ? 1 : 0]) != k) unsupported(n, "weights do not match the input");
        const size_t outputs = size_t(w.dims[transposed ? 0 : 1]);
        std::vector<float> bias(outputs, 0.0f);
        if (n.inputs.size() >= 3 && !n.inputs[2].empty()) {
            const OnnxTensor &b = constant(g, n, 2);
            if (b.count() != outputs) unsupported(n, "bias size");
            bias = b.floats;
        }
        const std::vector<size_t> shape{1, outputs}, from = in.unflattened;
        const uint32_t x = in.id;
        if (plan_) return define(n, shape, false, [](uint32_t) { return xnn_status_success; });
        // XNNPACK wants [outputs][K]. A flattened input is in NHWC order: column (y*W + x)*C + c takes ONNX's
        // column c*H*W + y*W + x.
        std::vector<float> filter(outputs * k);
        const size_t hw = from.size() == 4 ? from[1] * from[2] : 1, channels = from.size() == 4 ? from[3] : k;
        for (size_t o = 0; o < outputs; ++o)
            for (size_t j = 0; j < k; ++j) {
                const size_t source = from.size() == 4 ? (j % channels) * hw + j / channels : j;
                filter[o * k + j] = transposed ? w.floats[o * k + source] : w.floats[source * outputs + o];
            }
        const uint32_t filter_id = tensor({outputs, k}, keep(std::move(filter)));
        const uint32_t bias_id = tensor({outputs}, keep(std::move(bias)));
        const float inf = std::numeric_limits<float>::infinity();
        define(n, shape, false,
               [&](uint32_t y) { return xnn_define_fully_connected(subgraph_, -inf, inf, x, filter_id, bias_id, y, 0); });
    }

    void max_pool(const OnnxNode &n) {
        const Value &in = value(n, 0);
        const std::vector<int64_t> kernel = attribute_ints(n, "kernel_shape", {});
        const std::vector<int64_t> strides = attribute_ints(n, "strides", {1, 1});
        auto pad = n.attributes.find("auto_pad");
        const std::string mode = pad == n.attributes.end() ? "NOTSET" : pad->second.s;
        if (kernel.size() != 2 || strides.size() != 2) unsupported(n, "attributes");
        for (int64_t v : kernel) if (v < 1 || v > kMaxPad) unsupported(n, "kernel");
        for (int64_t v : strides) if (v < 1 || v > kMaxStep) unsupported(n, "stride");
        const std::vector<int64_t> explicit_pads = attribute_ints(n, "pads", {});
        if (!explicit_pads.empty() && explicit_pads != std::vector<int64_t>{0, 0, 0, 0}) unsupported(n, "explicit pads");
        size_t padding[2][2] = {{0, 0}, {0, 0}};  // [axis][before, after]
        std::vector<size_t> shape = in.shape;
        for (int axis = 0; axis < 2; ++axis) {
            const int64_t size = int64_t(in.shape[1 + axis]), k = kernel[axis], s = strides[axis];
            int64_t out;
            if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
                out = (size + s - 1) / s;
                const int64_t total = std::max<int64_t>(0, (out - 1) * s + k - size);
                const int64_t small = total / 2;
                padding[axis][0] = size_t(mode == "SAME_UPPER" ? small : total - small);
                padding[axis][1] = size_t(total) - padding[axis][0];
            } else if (mode == "VALID" || mode == "NOTSET") {
                out = size < k ? 0 : (size - k) / s + 1;
            } else {
                unsupported(n, "auto_pad " + mode);
            }
            if (out < 1) unsupported(n, "input too small");
            shape[1 + axis] = size_t(out);
        }
        const uint32_t x = in.id;
        const uint32_t top = uint32_t(padding[0][0]), bottom = uint32_t(padding[0][1]);
        const uint32_t left = uint32_t(padding[1][0]), right = uint32_t(padding[1][1]);
        const float inf = std::numeric_limits<float>::infinity();
        define(n, shape, false, [&](uint32_t y) {
            return xnn_define_max_pooling_2d(subgraph_, top, right, bottom, left, uint32_t(kernel[0]), uint32_t(kernel[1]),
                                             uint32_t(strides[0]), uint32_t(strides[1]), 1, 1, -inf, inf, x, y, 0);
        });
    }

    void release() {
        if (runtime_ != nullptr) xnn_delete_runtime(runtime_);
        if (subgraph_ != nullptr) xnn_delete_subgraph(subgraph_);
        runtime_ = nullptr;
        subgraph_ = nullptr;
    }

    std::string what_;
    xnn_subgraph_t subgraph_ = nullptr;
    xnn_runtime_t runtime_ = nullptr;
    bool plan_ = false;
    size_t planned_ = 0;  // elements of every output, summed while planning
    std::map<std::string, Value> values_;
    std::set<std::string> fused_, exported_;
    std::map<std::string, std::string> relu_of_;
    std::vector<std::vector<float>> storage_;
    std::vector<xnn_external_value> externals_;
};

// --- OpenCV -------------------------------------------------------------------------------------------------

class OpenCVNetwork final : public Network {
public:
    OpenCVNetwork(const std::string &bytes, const OnnxGraph &g, int height, int width, const std::string &what)
        : Network(height, width), names_(g.outputs.begin(), g.outputs.end()) {
        try {
            net_ = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
        } catch (const cv::Exception &e) {
            if (e.code == cv::Error::StsNoMem) throw;
            fail(CVISION_ERR_DECODE, "cannot load the " + what + " model: " + e.err);
        }
        if (net_.empty()) fail(CVISION_ERR_DECODE, "cannot load the " + what + " model");
        net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        const int dims[4] = {1, 3, height, width};
        blob_ = cv::Mat(4, dims, CV_32F, cv::Scalar(0));
        outputs_.resize(names_.size());
    }

    void run() override {
        // NHWC RGB -> NCHW planes.
        const size_t plane = static_cast<size_t>(height_) * width_;
        float *planes = blob_.ptr<float>();
        const float *p = input_.data();
        for (size_t i = 0; i < plane; ++i, p += 3) {
            planes[i] = p[0];
            planes[plane + i] = p[1];
            planes[2 * plane + i] = p[2];
        }
        net_.setInput(blob_);
        net_.forward(mats_, names_);
        for (size_t i = 0; i < mats_.size(); ++i) {
            const cv::Mat &m = mats_[i];
            if (m.type() != CV_32F || !m.isContinuous()) fail(CVISION_ERR_DECODE, "unexpected model output type");
            outputs_[i].assign(m.ptr<float>(), m.ptr<float>() + m.total());
        }
    }

private:
    cv::dnn::Net net_;
    std::vector<cv::String> names_;
    cv::Mat blob_;
    std::vector<cv::Mat> mats_;
};

}  // namespace

bool xnnpack_available() { return xnnpack_status() == xnn_status_success; }

Model::Model(const std::string &path, const std::string &what, Engine engine)
    : path_(path), what_(what), engine_(engine) {
    std::ifstream file(path, std::ios::binary);
    if (!file) fail(CVISION_ERR_DECODE, "cannot load the " + what + " model " + path + ": cannot open the file");
    std::ostringstream buffer;
    buffer << file.rdbuf();
    bytes_ = buffer.str();
    if (bytes_.empty()) fail(CVISION_ERR_DECODE, "cannot load the " + what + " model " + path + ": the file is empty");
    OnnxGraph graph = parse_onnx(bytes_, what + " (" + path + ")");
    // Each engine keeps only what its networks are made from: XNNPACK the graph, OpenCV the file's bytes (and the
    // outputs' names). The identity model is 38 MB either way.
    if (engine == Engine::xnnpack) {
        graph = fold_batch_norms(std::move(graph));
        std::string().swap(bytes_);
    } else {
        graph.nodes.clear();
        graph.constants.clear();
    }
    graph_ = std::make_shared<const OnnxGraph>(std::move(graph));
}

std::unique_ptr<Network> Model::compile(int height, int width) const {
    if (engine_ == Engine::opencv) return std::make_unique<OpenCVNetwork>(bytes_, *graph_, height, width, what_);
    return std::make_unique<XnnNetwork>(*graph_, height, width, what_);
}

}  // namespace cvision_detail
