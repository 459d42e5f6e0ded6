import ElenaCore
import ElenaTestKit
import Testing

@Suite struct MinHeapTests {
    @Test func popsInAscendingOrder() {
        var random = SeededRandom(seed: 11)
        for size in [0, 1, 2, 3, 7, 100, 1000] {
            let values = (0..<size).map { _ in Int.random(in: -50...50, using: &random) }  // with duplicates
            var heap = MinHeap(values)
            #expect(heap.count == size)
            var popped: [Int] = []
            while let value = heap.popMin() { popped.append(value) }
            #expect(popped == values.sorted(), "size \(size)")
            #expect(heap.isEmpty)
        }
    }

    @Test func insertsKeepTheSmallestOnTop() {
        var heap = MinHeap()
        #expect(heap.isEmpty)
        #expect(heap.min == nil)
        #expect(heap.popMin() == nil)
        var inserted: [Int] = []
        for value in [5, 3, 8, 1, 9, 1] {
            heap.insert(value)
            inserted.append(value)
            #expect(heap.min == inserted.min())
        }
        #expect(heap.count == 6)
        #expect(heap.popMin() == 1)
        #expect(heap.popMin() == 1)
        heap.insert(0)
        #expect(heap.min == 0)
        #expect([heap.popMin(), heap.popMin(), heap.popMin(), heap.popMin(), heap.popMin()] == [0, 3, 5, 8, 9])
        #expect(heap.popMin() == nil)
    }

    @Test func interleavedInsertsAndPopsMatchASortedList() {
        var random = SeededRandom(seed: 12)
        var heap = MinHeap()
        var reference: [Int] = []
        for _ in 0..<2000 {
            if Bool.random(using: &random) || reference.isEmpty {
                let value = Int.random(in: 0...100, using: &random)
                heap.insert(value)
                reference.append(value)
            } else {
                reference.sort()
                #expect(heap.popMin() == reference.removeFirst())
            }
            #expect(heap.count == reference.count)
            #expect(heap.min == reference.min())
        }
    }
}
