/// A directed acyclic graph of nodes with a deterministic topological order.
public struct Graph<Node: Hashable & Comparable & Sendable>: Sendable {
    /// A cycle was found; `path` lists its nodes, first repeated at the end.
    public struct CycleError: Error, Sendable {
        /// The nodes on the cycle.
        public var path: [Node]
    }

    /// Each node's prerequisites.
    public private(set) var dependencies: [Node: [Node]] = [:]
    /// Each node's dependents.
    public private(set) var dependents: [Node: [Node]] = [:]

    /// An empty graph.
    public init() {}

    /// Adds a node with its prerequisites (which are added too).
    public mutating func add(_ node: Node, dependsOn prerequisites: [Node] = []) {
        dependencies[node, default: []].append(contentsOf: prerequisites)
        dependents[node, default: []] += []
        for prerequisite in prerequisites {
            dependencies[prerequisite, default: []] += []
            dependents[prerequisite, default: []].append(node)
        }
    }

    /// All nodes.
    public var nodes: [Node] { Array(dependencies.keys) }

    /// Kahn's algorithm; ties broken by the nodes' order so the result is stable.
    /// - Throws: `CycleError` naming the nodes on a cycle.
    public func topologicalOrder() throws(CycleError) -> [Node] {
        var remaining = dependencies.mapValues { Set($0).count }
        var ready = MinHeap(remaining.filter { $0.value == 0 }.map(\.key))
        var order: [Node] = []
        order.reserveCapacity(remaining.count)
        while let node = ready.popMin() {
            order.append(node)
            for dependent in Set(dependents[node] ?? []) {
                remaining[dependent, default: 0] -= 1
                if remaining[dependent] == 0 { ready.insert(dependent) }
            }
        }
        if order.count < remaining.count {
            throw CycleError(path: findCycle(among: Set(remaining.filter { $0.value > 0 }.map(\.key))))
        }
        return order
    }

    private func findCycle(among candidates: Set<Node>) -> [Node] {
        guard let start = candidates.min() else { return [] }
        var path: [Node] = [start]
        var seen: [Node: Int] = [start: 0]
        var current = start
        while let next = (dependencies[current] ?? []).filter(candidates.contains).min() {
            if let index = seen[next] { return Array(path[index...]) + [next] }
            seen[next] = path.count
            path.append(next)
            current = next
        }
        return path
    }
}
