/// A directed acyclic graph stored by index: nodes get dense integer indices in the order they are added, so the
/// scheduler can keep its state in arrays. Add nodes in priority order and the topological order breaks ties by it.
/// Edges live in flat arrays (a linked list per node and direction), not in an array per node: a drop of 100,000
/// items has 600,000 nodes, and 1.2 million small arrays cost more than the rest of the graph.
package struct Graph<Node: Hashable & Sendable>: Sendable {
    /// A cycle was found; `path` lists its nodes, first repeated at the end.
    package struct CycleError: Error, Sendable {
        /// The nodes on the cycle.
        package var path: [Node]
    }

    /// One direction's edges: for each node the first and last of its edges and how many; for each edge the node
    /// it leads to and the node's next edge (-1: none). Edges are kept in the order they were added.
    struct Adjacency: Sendable {
        var first: [Int32] = []
        var last: [Int32] = []
        var count: [Int32] = []
        var target: [Int32] = []
        var next: [Int32] = []

        mutating func addNode() {
            first.append(-1)
            last.append(-1)
            count.append(0)
        }

        mutating func append(from node: Int, to other: Int) {
            let edge = Int32(target.count)
            target.append(Int32(other))
            next.append(-1)
            if last[node] >= 0 { next[Int(last[node])] = edge } else { first[node] = edge }
            last[node] = edge
            count[node] += 1
        }

        func contains(from node: Int, to other: Int) -> Bool {
            var edge = first[node]
            while edge >= 0 {
                if target[Int(edge)] == other { return true }
                edge = next[Int(edge)]
            }
            return false
        }
    }

    /// The nodes one node leads to in one direction, by index, in the order the edges were added.
    package struct Neighbours: Sequence, Sendable {
        let adjacency: Adjacency
        let start: Int32
        /// How many.
        package let count: Int

        package struct Iterator: IteratorProtocol {
            let adjacency: Adjacency
            var edge: Int32

            package mutating func next() -> Int? {
                guard edge >= 0 else { return nil }
                let index = Int(edge)
                edge = adjacency.next[index]
                return Int(adjacency.target[index])
            }
        }

        package func makeIterator() -> Iterator { Iterator(adjacency: adjacency, edge: start) }
        package var underestimatedCount: Int { count }
    }

    /// The nodes, by index.
    package private(set) var nodes: [Node] = []
    /// Each node's index.
    package private(set) var indices: [Node: Int] = [:]
    /// Prerequisites and dependents.
    private var prerequisites = Adjacency()
    private var dependents = Adjacency()

    /// An empty graph.
    package init() {}

    /// Reserves room for `count` nodes.
    package mutating func reserveCapacity(_ count: Int) {
        nodes.reserveCapacity(count)
        indices.reserveCapacity(count)
        for adjacency in [\Graph.prerequisites, \Graph.dependents] {
            self[keyPath: adjacency].first.reserveCapacity(count)
            self[keyPath: adjacency].last.reserveCapacity(count)
            self[keyPath: adjacency].count.reserveCapacity(count)
        }
    }

    @discardableResult
    private mutating func intern(_ node: Node) -> Int {
        if let index = indices[node] { return index }
        let index = nodes.count
        nodes.append(node)
        indices[node] = index
        prerequisites.addNode()
        dependents.addNode()
        return index
    }

    /// Adds a node with its prerequisites (which are added too). Each edge is kept once.
    package mutating func add(_ node: Node, dependsOn prerequisiteNodes: [Node] = []) {
        let prerequisiteIndices = prerequisiteNodes.map { intern($0) }
        let index = intern(node)
        // A drop node collects every item's node: 100,000 prerequisites are not each searched for in a list.
        var present: Set<Int>? = prerequisiteIndices.count > 8 ? Set(dependencyIndices(of: index)) : nil
        for prerequisite in prerequisiteIndices {
            if present != nil {
                guard present?.insert(prerequisite).inserted == true else { continue }
            } else if prerequisites.contains(from: index, to: prerequisite) {
                continue
            }
            prerequisites.append(from: index, to: prerequisite)
            dependents.append(from: prerequisite, to: index)
        }
    }

    /// The prerequisites of the node at `index`, by index.
    package func dependencyIndices(of index: Int) -> Neighbours {
        Neighbours(adjacency: prerequisites, start: prerequisites.first[index], count: Int(prerequisites.count[index]))
    }

    /// The dependents of the node at `index`, by index.
    package func dependentIndices(of index: Int) -> Neighbours {
        Neighbours(adjacency: dependents, start: dependents.first[index], count: Int(dependents.count[index]))
    }

    /// How many prerequisites the node at `index` has.
    package func dependencyCount(of index: Int) -> Int { Int(prerequisites.count[index]) }

    /// A node's prerequisites.
    package func dependencies(of node: Node) -> [Node] {
        indices[node].map { dependencyIndices(of: $0).map { nodes[$0] } } ?? []
    }

    /// A node's dependents.
    package func dependents(of node: Node) -> [Node] {
        indices[node].map { dependentIndices(of: $0).map { nodes[$0] } } ?? []
    }

    /// Kahn's algorithm over indices; ready nodes are taken lowest index first, so the result is stable.
    /// - Throws: `CycleError` naming the nodes on a cycle.
    package func topologicalOrder() throws(CycleError) -> [Node] {
        let (order, remaining) = kahnOrder(
            count: nodes.count, prerequisiteCount: { Int(prerequisites.count[$0]) }, dependents: dependentIndices(of:))
        if order.count < nodes.count {
            throw CycleError(path: findCycle(among: Set(remaining.indices.filter { remaining[$0] > 0 })))
        }
        return order.map { nodes[$0] }
    }

    private func findCycle(among candidates: Set<Int>) -> [Node] {
        guard let start = candidates.min() else { return [] }
        var path = [start]
        var seen: [Int: Int] = [start: 0]
        var current = start
        while let next = dependencyIndices(of: current).filter(candidates.contains).min() {
            if let position = seen[next] { return (path[position...] + [next]).map { nodes[$0] } }
            seen[next] = path.count
            path.append(next)
            current = next
        }
        return path.map { nodes[$0] }
    }
}

/// Kahn's algorithm over nodes numbered `0..<count`, the ready ones taken lowest index first, so the order is stable:
/// the indices in order, and how many prerequisites each node still waits for (above zero only on or behind a cycle,
/// whose nodes the order leaves out).
func kahnOrder<Dependents: Sequence<Int>>(
    count: Int, prerequisiteCount: (Int) -> Int, dependents: (Int) -> Dependents
) -> (order: [Int], remaining: [Int]) {
    var remaining = (0..<count).map(prerequisiteCount)
    var ready = MinHeap((0..<count).filter { remaining[$0] == 0 })
    var order: [Int] = []
    order.reserveCapacity(count)
    while let index = ready.popMin() {
        order.append(index)
        for dependent in dependents(index) {
            remaining[dependent] -= 1
            if remaining[dependent] == 0 { ready.insert(dependent) }
        }
    }
    return (order, remaining)
}
