import ElenaCore
import ElenaTestKit
import Testing

@Suite struct GraphTests {
    @Test func diamondOrdersPrerequisitesFirst() throws {
        var graph = Graph<String>()
        graph.add("a")
        graph.add("b", dependsOn: ["a"])
        graph.add("c", dependsOn: ["a"])
        graph.add("d", dependsOn: ["b", "c"])
        #expect(try graph.topologicalOrder() == ["a", "b", "c", "d"])
        #expect(Set(graph.dependents(of: "a")) == ["b", "c"])
        #expect(graph.dependencies(of: "d") == ["b", "c"])
        #expect(graph.dependencies(of: "unknown").isEmpty)
    }

    @Test func prerequisitesAreAddedAsNodes() throws {
        var graph = Graph<String>()
        graph.add("z", dependsOn: ["y"])
        graph.add("solo")
        #expect(Set(graph.nodes) == ["z", "y", "solo"])
        let order = try graph.topologicalOrder()
        #expect(Set(order) == ["z", "y", "solo"])
        #expect(try #require(order.firstIndex(of: "y")) < (try #require(order.firstIndex(of: "z"))))
    }

    @Test func aRepeatedEdgeCountsOnce() throws {
        var graph = Graph<String>()
        graph.add("b", dependsOn: ["a", "a"])
        graph.add("b", dependsOn: ["a"])
        #expect(graph.dependencies(of: "b") == ["a"])
        #expect(graph.dependents(of: "a") == ["b"])
        #expect(try graph.topologicalOrder() == ["a", "b"])

        // A collector of many nodes (a drop node over every item), repeats and all, in the order first given.
        var many = Graph<Int>()
        let items = Array(0..<50)
        many.add(-1, dependsOn: items + items.reversed() + [7, 7])
        many.add(-1, dependsOn: [3, 60])
        #expect(many.dependencies(of: -1) == items + [60])
        #expect(many.dependents(of: 7) == [-1])
    }

    @Test func theOrderIsTheSameEveryTime() throws {
        func build() -> Graph<Int> {
            var graph = Graph<Int>()
            for node in 0..<50 { graph.add(node, dependsOn: node >= 3 ? [node / 3, node - 2] : []) }
            return graph
        }
        let first = try build().topologicalOrder()
        for _ in 0..<5 { #expect(try build().topologicalOrder() == first) }
    }

    @Test func randomDAGsAreOrderedWithEveryEdgeRespected() throws {
        var random = SeededRandom(seed: 7)
        for _ in 0..<50 {
            let count = Int.random(in: 1...120, using: &random)
            var graph = Graph<Int>()
            var edges: [(Int, Int)] = []
            // Edges only go from a lower to a higher number, so the graph has no cycle; nodes are added shuffled.
            for node in (0..<count).shuffled(using: &random) {
                let prerequisites = (0..<Int.random(in: 0...3, using: &random)).compactMap { _ in
                    node > 0 ? Int.random(in: 0..<node, using: &random) : nil
                }
                edges += prerequisites.map { ($0, node) }
                graph.add(node, dependsOn: prerequisites)
            }
            let order = try graph.topologicalOrder()
            #expect(order.count == count)
            #expect(Set(order) == Set(0..<count))
            var position: [Int: Int] = [:]
            for (index, node) in order.enumerated() { position[node] = index }
            for (before, after) in edges {
                #expect((position[before] ?? .max) < (position[after] ?? .min), "\(before) -> \(after)")
            }
        }
    }

    @Test func aCycleIsReportedWithItsPath() throws {
        var graph = Graph<String>()
        graph.add("outside", dependsOn: ["a"])  // blocked by the cycle but not on it
        graph.add("a", dependsOn: ["c"])
        graph.add("b", dependsOn: ["a"])
        graph.add("c", dependsOn: ["b"])
        graph.add("free")
        let error = try #require(throws: Graph<String>.CycleError.self) { try graph.topologicalOrder() }
        let path = error.path
        try #require(path.count == 4)
        #expect(path.first == path.last)
        #expect(Set(path) == ["a", "b", "c"])
        for (node, next) in zip(path, path.dropFirst()) {
            #expect(graph.dependencies(of: node).contains(next), "\(node) must depend on \(next)")
        }
    }

    @Test func aSelfLoopIsACycleOfOne() throws {
        var graph = Graph<String>()
        graph.add("x", dependsOn: ["x"])
        let error = try #require(throws: Graph<String>.CycleError.self) { try graph.topologicalOrder() }
        #expect(error.path == ["x", "x"])
    }

    @Test func anEmptyGraphHasAnEmptyOrder() throws {
        #expect(try Graph<Int>().topologicalOrder() == [])
    }
}
