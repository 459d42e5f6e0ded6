/// A directed acyclic graph stored by index: nodes get dense integer indices in the order they are added, so the
/// scheduler can keep its state in arrays. Add nodes in priority order and the topological order breaks ties by it.
package struct Graph<Node: Hashable & Sendable>: Sendable {
    /// A cycle was found; `path` lists its nodes, first repeated at the end.
    package struct CycleError: Error, Sendable {
        /// The nodes on the cycle.
        package var path: [Node]
    }

    /// The nodes, by index.
    package private(set) var nodes: [Node] = []
    /// Each node's index.
    package private(set) var indices: [Node: Int] = [:]
    /// Each node's prerequisites, by index.
    package private(set) var dependencyIndices: [[Int]] = []
    /// Each node's dependents, by index.
    package private(set) var dependentIndices: [[Int]] = []

    /// An empty graph.
    package init() {}

    /// Reserves room for `count` nodes.
    package mutating func reserveCapacity(_ count: Int) {
        nodes.reserveCapacity(count)
        indices.reserveCapacity(count)
        dependencyIndices.reserveCapacity(count)
        dependentIndices.reserveCapacity(count)
    }

    @discardableResult
    private mutating func intern(_ node: Node) -> Int {
        if let index = indices[node] { return index }
        let index = nodes.count
        nodes.append(node)
        indices[node] = index
        dependencyIndices.append([])
        dependentIndices.append([])
        return index
    }

    /// Adds a node with its prerequisites (which are added too). Each edge is kept once.
    package mutating func add(_ node: Node, dependsOn prerequisites: [Node] = []) {
        let prerequisiteIndices = prerequisites.map { intern($0) }
        let index = intern(node)
        // A drop node collects every item's node: 100,000 prerequisites are not each searched for in a list.
        var present: Set<Int>? = prerequisiteIndices.count > 8 ? Set(dependencyIndices[index]) : nil
        for prerequisite in prerequisiteIndices {
            if present != nil {
                guard present?.insert(prerequisite).inserted == true else { continue }
            } else if dependencyIndices[index].contains(prerequisite) {
                continue
            }
            dependencyIndices[index].append(prerequisite)
            dependentIndices[prerequisite].append(index)
        }
    }

    /// A node's prerequisites.
    package func dependencies(of node: Node) -> [Node] {
        indices[node].map { dependencyIndices[$0].map { nodes[$0] } } ?? []
    }

    /// A node's dependents.
    package func dependents(of node: Node) -> [Node] {
        indices[node].map { dependentIndices[$0].map { nodes[$0] } } ?? []
    }

    /// Kahn's algorithm over indices; ready nodes are taken lowest index first, so the result is stable.
    /// - Throws: `CycleError` naming the nodes on a cycle.
    package func topologicalOrder() throws(CycleError) -> [Node] {
        var remaining = dependencyIndices.map(\.count)
        var ready = MinHeap(remaining.indices.filter { remaining[$0] == 0 })
        var order: [Node] = []
        order.reserveCapacity(nodes.count)
        while let index = ready.popMin() {
            order.append(nodes[index])
            for dependent in dependentIndices[index] {
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { ready.insert(dependent) }
            }
        }
        if order.count < nodes.count {
            throw CycleError(path: findCycle(among: Set(remaining.indices.filter { remaining[$0] > 0 })))
        }
        return order
    }

    private func findCycle(among candidates: Set<Int>) -> [Node] {
        guard let start = candidates.min() else { return [] }
        var path = [start]
        var seen: [Int: Int] = [start: 0]
        var current = start
        while let next = dependencyIndices[current].filter(candidates.contains).min() {
            if let position = seen[next] { return (path[position...] + [next]).map { nodes[$0] } }
            seen[next] = path.count
            path.append(next)
            current = next
        }
        return path.map { nodes[$0] }
    }
}
