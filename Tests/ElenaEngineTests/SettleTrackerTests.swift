import ElenaCore
import ElenaEngine
import Testing

/// Which files of a watched folder are safe to read.
@Suite struct SettleTrackerTests {
    static func stamp(_ size: Int64, modifiedAt seconds: Double) -> FileStamp {
        FileStamp(size: size, mtimeNanoseconds: Int64(seconds * 1e9), inode: 7)
    }

    /// A file untouched for minutes is settled at the first look (`watch` began with "401 files still being
    /// written" for files minutes old); one modified just now waits `quiet` seconds; one that changes starts again.
    @Test func oldFilesAreSettledAtOnceAndNewOnesAfterTheQuietTime() {
        var tracker = SettleTracker(quiet: 2)
        let wall = 1_000_000.0
        let first = tracker.observe(
            ["old.png": Self.stamp(10, modifiedAt: wall - 300), "new.png": Self.stamp(10, modifiedAt: wall - 0.5),
             "future.png": Self.stamp(10, modifiedAt: wall + 60)],
            at: 50, wallClock: wall)
        #expect(first == ["new.png", "future.png"])
        let later = tracker.observe(
            ["old.png": Self.stamp(10, modifiedAt: wall - 300), "new.png": Self.stamp(10, modifiedAt: wall - 0.5),
             "future.png": Self.stamp(10, modifiedAt: wall + 60)],
            at: 51.6, wallClock: wall + 1.6)
        #expect(later == ["future.png"], "new.png was last modified 2.1 s ago")
        let changed = tracker.observe(
            ["old.png": Self.stamp(11, modifiedAt: wall + 1.7), "new.png": Self.stamp(10, modifiedAt: wall - 0.5)],
            at: 51.8, wallClock: wall + 1.8)
        #expect(changed == ["old.png"], "a change starts the quiet time again; a file gone is forgotten")
    }

    /// Without the wall clock, every file seen for the first time waits the quiet time (the tests' own clock).
    @Test func withoutTheWallClockNewFilesWait() {
        var tracker = SettleTracker(quiet: 2)
        #expect(tracker.observe(["a.png": Self.stamp(1, modifiedAt: 0)], at: 0) == ["a.png"])
        #expect(tracker.observe(["a.png": Self.stamp(1, modifiedAt: 0)], at: 2).isEmpty)
    }
}
