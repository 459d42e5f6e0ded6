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
    /// less than `quiet` seconds ago (new files included). Files that went away are forgotten.
    package mutating func observe(_ files: [String: FileStamp], at now: Double) -> Set<String> {
        var unsettled: Set<String> = []
        var next: [String: (stamp: FileStamp, since: Double)] = [:]
        for (path, stamp) in files {
            var entry: (stamp: FileStamp, since: Double) = (stamp, now)
            if let known = seen[path], known.stamp == stamp { entry = known }
            next[path] = entry
            if now - entry.since < quiet { unsettled.insert(path) }
        }
        seen = next
        return unsettled
    }
}
