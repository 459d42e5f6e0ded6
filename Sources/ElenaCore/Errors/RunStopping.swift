/// An error that may say the run's surroundings refuse all further work of its kind, not that one item is bad: the
/// library's disk is full or read-only, the ledger database is gone. The runner stops starting work when a step
/// fails with one whose `stopReason` is set (every remaining item would fail the same way), says so once, and the
/// next run goes on where this one stopped.
package protocol RunStopping: Error {
    /// One sentence for the end of the run: what happened and what to do; nil when this error is about one item
    /// only (a file-system error other than a full or read-only disk).
    var stopReason: String? { get }
}
