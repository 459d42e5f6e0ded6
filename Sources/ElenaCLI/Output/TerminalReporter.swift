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
    /// Set once: read for every node (600,000 of a 100,000-item drop) without taking the screen's lock.
    private let quiet: Bool

    init(quiet: Bool) {
        let interactive = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        screen = Locked(Screen(interactive: interactive, quiet: quiet))
        self.quiet = quiet
    }

    func finished(_ node: NodeID, subject: @autoclosure () -> String, state: NodeState, progress: RunProgress) {
        let failed: Bool
        if case .failed = state { failed = true } else { failed = false }
        if quiet && !failed { return }
        screen.withLock { $0.finished(node, subject: subject(), state: state, progress: progress) }
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
    /// When the first step settled: the rate counts from there.
    var started: ContinuousClock.Instant?
    var lastPlainPercent = 0
    var drawn = false
    /// How many lines the progress took when last drawn.
    var drawnLines = 1
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
            // The progress may take several lines (a pool of servers): each is cleared, from the last one up.
            write("\r\u{1B}[K" + String(repeating: "\u{1B}[1A\r\u{1B}[K", count: max(0, drawnLines - 1)))
            drawn = false
            drawnLines = 1
        }
    }

    mutating func finished(_ node: NodeID, subject: @autoclosure () -> String, state: NodeState, progress: RunProgress) {
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
        guard !quiet, progress.imagesTotal > 0 else { return }
        let now = ContinuousClock.now
        let started = self.started ?? now
        self.started = started
        let elapsed = Double((now - started).components.attoseconds) / 1e18 + Double((now - started).components.seconds)
        if interactive {
            if now - lastDraw > .milliseconds(80) || progress.steps == progress.stepsTotal {
                lastDraw = now
                let line = ProgressText.bar(
                    progress, elapsed: elapsed, stage: node.stage.rawValue, subject: subject(), width: Self.terminalWidth())
                write("\r\u{1B}[K" + line)
                drawn = true
            }
        } else if workDone > 0, progress.imagesTotal >= 20 {
            // On a pipe or in a log: a line per tenth of the images, only when something ran (a no-op rerun is quiet).
            let percent = progress.images * 100 / progress.imagesTotal
            if percent >= lastPlainPercent + 10 {
                lastPlainPercent = percent - percent % 10
                write(ProgressText.plainLine(progress, elapsed: elapsed) + "\n")
            }
        }
    }

    /// The terminal's width in columns (80 when it cannot be told).
    static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init) ?? 80
    }

    mutating func generating(_ progress: GenerationProgress) {
        guard !quiet else { return }
        func bar(_ done: Int, _ total: Int, width: Int) -> String {
            let filled = total > 0 ? width * min(done, total) / total : 0
            return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
        }
        if interactive && !progress.servers.isEmpty {
            // A pool: the count, then one line per server with what it does.
            let lines = ProgressText.poolLines(progress)
            clearLine()
            write(lines.joined(separator: "\n"))
            drawnLines = lines.count
            drawn = true
        } else if interactive {
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
            write("generate: \(progress.done)/\(progress.total) prompts done" + (progress.servers.isEmpty ? "" : " (\(progress.current))") + "\n")
        }
    }
}

/// The words of the progress display, apart from the terminal: images (not steps), the rate and the time left.
enum ProgressText {
    /// Images a second, once there is something to measure.
    static func rate(_ progress: RunProgress, elapsed: Double) -> Double? {
        guard progress.images > 0, elapsed >= 0.5 else { return nil }
        return Double(progress.images) / elapsed
    }

    /// `0:07`, `3:12`, `1:02:03`.
    static func duration(_ seconds: Double) -> String {
        let total = max(0, Int(seconds.rounded()))
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0
            ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }

    /// `3.4/s, about 0:41 left` (the rate and what is left), or nil before there is a rate.
    static func pace(_ progress: RunProgress, elapsed: Double) -> String? {
        guard let rate = rate(progress, elapsed: elapsed) else { return nil }
        let figure = rate >= 10 ? String(format: "%.0f", rate) : String(format: "%.1f", rate)
        let left = Double(progress.imagesTotal - progress.images) / rate
        return progress.images < progress.imagesTotal ? "\(figure)/s, about \(duration(left)) left" : "\(figure)/s"
    }

    /// The terminal's line: `[########........] 37/200 images  3.4/s, about 0:41 left  crop ComfyUI_00012_.png`,
    /// cut to fit `width` columns.
    static func bar(_ progress: RunProgress, elapsed: Double, stage: String, subject: String, width: Int) -> String {
        let cells = 20
        let filled = cells * progress.images / max(1, progress.imagesTotal)
        var line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled) + "] "
        line += "\(progress.images)/\(progress.imagesTotal) image\(progress.imagesTotal == 1 ? "" : "s")"
        if let pace = pace(progress, elapsed: elapsed) { line += "  " + pace }
        line += "  \(stage) \(subject)"
        return line.count < width ? line : String(line.prefix(max(10, width - 2))) + "…"
    }

    /// A pool's progress on a terminal: the count, then one line per server with what it does.
    static func poolLines(_ progress: GenerationProgress) -> [String] {
        let cells = 20
        let filled = cells * min(progress.done, progress.total) / max(1, progress.total)
        let width = progress.servers.map(\.server.count).max() ?? 0
        return ["[" + String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled) + "] "
            + "\(progress.done)/\(progress.total) prompts generated on \(progress.servers.count) servers"]
            + progress.servers.map { "  " + $0.server.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.doing }
    }

    /// The line on a pipe: `progress: 40/200 images (20%), 3.4/s, about 0:47 left`.
    static func plainLine(_ progress: RunProgress, elapsed: Double) -> String {
        let percent = progress.images * 100 / max(1, progress.imagesTotal)
        let pace = pace(progress, elapsed: elapsed).map { ", " + $0 } ?? ""
        return "progress: \(progress.images)/\(progress.imagesTotal) images (\(percent)%)\(pace)"
    }
}
