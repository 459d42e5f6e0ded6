package import ElenaCore

/// Decides which files of a watched folder are safe to read: a file is settled once its stamp (size, modification
/// time, inode) has not changed for `quiet` seconds. Pure: the caller passes the time and what it saw.
package struct SettleTracker: Sendable {
    /// Seconds a file must stay unchanged.
    package var quiet: Double
    private var seen: [String: (stamp: FileStamp, since: Double)] = [:]

    /// Creates a tracker.
    package init(quiet: Double) {
        self.quiet = quiet
    }

    /// Records what a look at the folders found at time `now` (seconds, any origin); returns the files that changed
    /// less than `quiet` seconds ago (new files included). Files that went away are forgotten. With `wallClock`
    /// (seconds since 1970, the clock of the files' modification times), a file seen for the first time counts as
    /// unchanged since it was last modified: one untouched for minutes is settled at the first look, not
    /// `quiet` seconds later; a modification time in the future counts as now.
    package mutating func observe(_ files: [String: FileStamp], at now: Double, wallClock: Double? = nil) -> Set<String> {
        var unsettled: Set<String> = []
        var next: [String: (stamp: FileStamp, since: Double)] = [:]
        for (path, stamp) in files {
            var entry: (stamp: FileStamp, since: Double) = (stamp, now)
            if let known = seen[path], known.stamp == stamp {
                entry = known
            } else if seen[path] == nil, let wallClock {
                entry.since = now - max(0, wallClock - Double(stamp.mtimeNanoseconds) / 1e9)
            }
            next[path] = entry
            if now - entry.since < quiet { unsettled.insert(path) }
        }
        seen = next
        return unsettled
    }
}
