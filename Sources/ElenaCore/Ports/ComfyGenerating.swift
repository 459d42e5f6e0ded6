package import Foundation

/// An image a ComfyUI run saved, as `/history` names it and `/view` serves it.
package struct ComfyImage: Sendable, Hashable {
    package var filename: String
    package var subfolder: String
    /// `output` (SaveImage) or `temp` (PreviewImage).
    package var type: String

    /// Creates a reference.
    package init(filename: String, subfolder: String, type: String) {
        self.filename = filename
        self.subfolder = subfolder
        self.type = type
    }
}

/// Where a queued prompt stands.
package enum ComfyRunState: Sendable, Hashable {
    /// Queued or running.
    case pending
    /// Finished; the images its output nodes saved.
    case succeeded([ComfyImage])
    /// A node raised while running (`execution_error`), or the run was interrupted.
    case failed(String)
}

/// One problem ComfyUI found in a graph before running it (`node_errors`).
package struct ComfyNodeError: Sendable, Hashable, CustomStringConvertible {
    package var node: String
    package var classType: String?
    /// The input at fault, when ComfyUI names one (`extra_info.input_name`).
    package var input: String?
    package var type: String
    package var message: String

    /// Creates a problem.
    package init(node: String, classType: String?, input: String?, type: String, message: String) {
        self.node = node
        self.classType = classType
        self.input = input
        self.type = type
        self.message = message
    }

    /// `node 4 (CheckpointLoaderSimple), input ckpt_name: Value not in list (value_not_in_list)`.
    package var description: String {
        "node \(node)" + (classType.map { " (\($0))" } ?? "") + (input.map { ", input \($0)" } ?? "") + ": \(message) (\(type))"
    }
}

/// A prompt ComfyUI accepted. When some of its output nodes failed validation, ComfyUI still answers 200, runs
/// the valid outputs and names the others in `node_errors`: `leftOut` holds those problems.
package struct ComfyQueued: Sendable, Hashable {
    package var promptID: String
    /// The problems of the output nodes ComfyUI will not run (nil: it runs every output).
    package var leftOut: ComfyValidationError?

    /// Creates one.
    package init(promptID: String, leftOut: ComfyValidationError? = nil) {
        self.promptID = promptID
        self.leftOut = leftOut
    }
}

/// ComfyUI did not answer at all (refused, reset, timed out): the server is down or unreachable, as opposed to an
/// answer saying something is wrong.
package struct ComfyUnreachable: Error, Sendable, CustomStringConvertible {
    package var description: String

    /// Creates one.
    package init(description: String) { self.description = description }
}

/// Text from ComfyUI on one line: its messages end in a newline and may hold several.
package func comfyLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        .joined(separator: " ")
}

/// ComfyUI refused a graph (HTTP 400): its overall message and every node problem.
package struct ComfyValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    package var type: String
    package var message: String
    package var nodeErrors: [ComfyNodeError]
    /// The output nodes left out because of these errors (`dependent_outputs`), when ComfyUI ran the others.
    package var droppedOutputs: [String]

    /// Creates the error.
    package init(type: String, message: String, nodeErrors: [ComfyNodeError], droppedOutputs: [String] = []) {
        self.type = type
        self.message = message
        self.nodeErrors = nodeErrors
        self.droppedOutputs = droppedOutputs
    }

    package var description: String {
        let nodes = nodeErrors.map(\.description)
        let problems = nodes.isEmpty ? "" : "; " + nodes.joined(separator: "; ")
        if !droppedOutputs.isEmpty {
            let outputs = droppedOutputs.count == 1 ? "output node \(droppedOutputs[0])" : "output nodes " + droppedOutputs.joined(separator: ", ")
            return "ComfyUI left out \(outputs) of the workflow (it runs the others)" + problems
        }
        return "ComfyUI refused the workflow: \(message) (\(type))" + problems
    }
}

/// A message from ComfyUI's websocket, for the prompts of one client id (`comfyui-api.md` §1a).
package enum ComfyEvent: Sendable, Hashable {
    /// The socket is open (the server's first `status` message arrived).
    case connected
    /// A node of the prompt started (`executing`).
    case executing(promptID: String, node: String)
    /// A step of a node with a progress bar (`progress`): `value` of `max`.
    case progress(promptID: String, value: Int, max: Int)
    /// The prompt finished, successfully or not (`executing` with a null node): read `/history` for the outcome.
    case finished(promptID: String)
    /// A node raised (`execution_error`).
    case failed(promptID: String, message: String)
    /// The socket closed or could not open; nothing more comes on it (follow through `/history` instead).
    case closed(reason: String)
}

/// What generation needs from ComfyUI. The real implementation is `ComfyClient` (ElenaComfy); tests run it against
/// the fake server (ElenaComfyFake) over real HTTP.
package protocol ComfyGenerating: Sendable {
    /// The server's `/system_stats` (a liveness check); throws when it does not answer.
    func systemStats() async throws -> JSONValue
    /// The values a combo input accepts (for example every checkpoint for `CheckpointLoaderSimple.ckpt_name`).
    func allowedValues(classType: String, input: String) async throws -> [String]
    /// Queues an API-format graph; returns the prompt id, and the outputs ComfyUI left out (it answers 200 and runs
    /// the rest). Throws `ComfyValidationError` for a refused graph.
    func queue(_ graph: JSONValue, clientID: String) async throws -> ComfyQueued
    /// How many prompts the server has queued or running, every client's (`GET /prompt`).
    func queueRemaining() async throws -> Int
    /// Where a prompt stands (from `/history`).
    func state(of promptID: String) async throws -> ComfyRunState
    /// The bytes of a saved image, unchanged (its PNG text chunks included).
    func image(_ image: ComfyImage) async throws -> Data
    /// Opens the websocket for `clientID`. The stream ends after `.closed`; it never throws: a socket that cannot
    /// open is `.closed` at once, and callers follow prompts through `state(of:)`.
    func events(clientID: String) -> AsyncStream<ComfyEvent>
    /// Removes queued prompts and interrupts the one running, if it is one of them.
    func cancel(_ promptIDs: [String]) async throws
}
