import ElenaCore
import ElenaEngine
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Progress for people: one updating line on a terminal; on a pipe or in a log, a plain line every so often.
/// Per-item errors always get a line of their own on standard error, as they happen.
final class TerminalReporter: RunReporter, Sendable {
    /// What is on the screen and what was said: one writer at a time.
    private let screen: Locked<Screen>

    init(quiet: Bool) {
        let interactive = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        screen = Locked(Screen(interactive: interactive, quiet: quiet))
    }

    func finished(_ node: NodeID, subject: @autoclosure () -> String, state: NodeState, done: Int, total: Int) {
        let failed: Bool
        if case .failed = state { failed = true } else { failed = false }
        if screen.withLock({ $0.quiet }) && !failed { return }
        screen.withLock { $0.finished(node, subject: subject(), state: state, done: done, total: total) }
    }

    func generating(_ progress: GenerationProgress) { screen.withLock { $0.generating(progress) } }

    func stopping(_ reason: String) {
        screen.withLock { screen in
            screen.stopReason = reason
            screen.clearLine()
            screen.write("error: \(reason)\nstopping: no new work is started; what finished is kept\n")
        }
    }

    func note(_ text: String) {
        screen.withLock { screen in
            screen.clearLine()
            screen.write(text + "\n")
        }
    }

    /// Clears the progress line before the summary is printed.
    func finish() { screen.withLock { $0.clearLine() } }
}

/// The state behind `TerminalReporter`.
private struct Screen {
    let interactive: Bool
    let quiet: Bool
    var lastDraw = ContinuousClock.now
    var lastPlainPercent = 0
    var drawn = false
    var workDone = 0
    var lastGenerationLine = 0
    /// How often each error message was seen: after the second, the same message is not repeated per item.
    var errorCounts: [String: Int] = [:]
    /// Why the run stopped starting work: said once; the work still in flight then fails the same way, and the
    /// summary lists it, so it gets no line each.
    var stopReason: String?

    init(interactive: Bool, quiet: Bool) {
        self.interactive = interactive
        self.quiet = quiet
    }

    func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    mutating func clearLine() {
        if drawn {
            write("\r\u{1B}[K")
            drawn = false
        }
    }

    mutating func finished(_ node: NodeID, subject: @autoclosure () -> String, state: NodeState, done: Int, total: Int) {
        if case .failed(let message) = state, stopReason == nil {
            let seen = errorCounts[message, default: 0] + 1
            errorCounts[message] = seen
            if seen <= 2 {
                clearLine()
                write("error: \(subject()): \(node.stage.rawValue): \(message)\n")
            } else if seen == 3 {
                clearLine()
                write("error: more items fail with the same error; the summary lists them\n")
            }
        }
        if case .ran = state { workDone += 1 }
        guard !quiet else { return }
        if interactive {
            let now = ContinuousClock.now
            if now - lastDraw > .milliseconds(80) || done == total {
                lastDraw = now
                let width = 24
                let filled = total > 0 ? width * done / total : width
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                write("\r\u{1B}[K[\(bar)] \(done)/\(total) \(node.stage.rawValue) \(subject())")
                drawn = true
            }
        } else if workDone > 0, total >= 200 {
            let percent = done * 100 / max(1, total)
            if percent >= lastPlainPercent + 20 {
                lastPlainPercent = percent - percent % 20
                write("progress: \(done)/\(total) steps (\(lastPlainPercent)%)\n")
            }
        }
    }

    mutating func generating(_ progress: GenerationProgress) {
        guard !quiet else { return }
        func bar(_ done: Int, _ total: Int, width: Int) -> String {
            let filled = total > 0 ? width * min(done, total) / total : 0
            return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
        }
        if interactive {
            var line = "\r\u{1B}[K\(bar(progress.done, progress.total, width: 24)) \(progress.done)/\(progress.total) generate"
            if progress.done < progress.total {
                line += " \(progress.current)"
                if let step = progress.step { line += " " + bar(step.value, step.max, width: 10) + " step \(step.value)/\(step.max)" }
            }
            write(line)
            drawn = true
        } else if progress.step == nil, progress.done > 0, progress.done != lastGenerationLine {
            // On a pipe: one line per finished prompt.
            lastGenerationLine = progress.done
            write("generate: \(progress.done)/\(progress.total) prompts done\n")
        }
    }
}
