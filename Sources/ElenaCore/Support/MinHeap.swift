/// A binary min-heap of indices (the graph's nodes, in the order they were planned): the smallest comes out first.
/// Not generic: the generic one ran unspecialised across the module boundary (metadata look-ups and witness calls
/// on every swap), a tenth of a 500,000-node run.
package struct MinHeap: Sendable {
    package typealias Element = Int
    @usableFromInline var storage: [Element] = []

    /// An empty heap.
    @inlinable package init() {}

    /// A heap holding `elements`.
    @inlinable package init(_ elements: [Element]) {
        storage = elements
        guard storage.count > 1 else { return }
        for index in stride(from: storage.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    /// Number of elements.
    @inlinable package var count: Int { storage.count }
    /// Whether the heap is empty.
    @inlinable package var isEmpty: Bool { storage.isEmpty }
    /// The smallest element, without removing it.
    @inlinable package var min: Element? { storage.first }

    /// Adds an element.
    @inlinable package mutating func insert(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { break }
            swap(child, parent)
            child = parent
        }
    }

    /// Removes and returns the smallest element.
    @inlinable package mutating func popMin() -> Element? {
        guard !storage.isEmpty else { return nil }
        swap(0, storage.count - 1)
        let smallest = storage.removeLast()
        if !storage.isEmpty { siftDown(0) }
        return smallest
    }

    /// Exchanges two elements.
    @inlinable mutating func swap(_ a: Int, _ b: Int) {
        guard a != b else { return }
        let held = storage[a]
        storage[a] = storage[b]
        storage[b] = held
    }

    @inlinable mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < storage.count, storage[left] < storage[smallest] { smallest = left }
            if right < storage.count, storage[right] < storage[smallest] { smallest = right }
            if smallest == parent { return }
            swap(parent, smallest)
            parent = smallest
        }
    }
}
