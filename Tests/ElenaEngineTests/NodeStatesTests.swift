import ElenaCore
import ElenaEngine
import Testing

/// A run's states are found by node whatever the graph's layout: by arithmetic when items are laid out one after
/// another with their stages in one order (as the planner does), by the graph's index otherwise.
@Suite struct NodeStatesTests {
    /// Each node's state names its own index, so a lookup that lands on another node is seen.
    static func states(of graph: Graph<NodeID>) -> NodeStates {
        NodeStates(graph: graph, slots: graph.nodes.indices.map { .failed("node \($0)") })
    }

    static func expectEveryNodeFound(_ graph: Graph<NodeID>) {
        let states = states(of: graph)
        for (index, node) in graph.nodes.enumerated() {
            guard case .failed(let text)? = states[node] else {
                Issue.record("\(node) has no state")
                continue
            }
            #expect(text == "node \(index)", "\(node)")
        }
        #expect(states[NodeID(.crop, item: 99)] == nil, "a node the graph does not hold has no state")
    }

    @Test func itemsLaidOutOneAfterAnother() {
        var graph = Graph<NodeID>()
        graph.add(NodeID(.outbox, item: nil))
        for item in 0..<4 {
            graph.add(NodeID(.ingest, item: item))
            graph.add(NodeID(.crop, item: item), dependsOn: [NodeID(.ingest, item: item)])
        }
        graph.add(NodeID(.similar, item: nil), dependsOn: (0..<4).map { NodeID(.crop, item: $0) })
        Self.expectEveryNodeFound(graph)
    }

    @Test func itemsInAnyOtherLayout() {
        var graph = Graph<NodeID>()
        // Item 1 first, item 0 with one stage fewer, stages in another order for item 2, a drop node between.
        graph.add(NodeID(.ingest, item: 1))
        graph.add(NodeID(.crop, item: 1))
        graph.add(NodeID(.ingest, item: 0))
        graph.add(NodeID(.outbox, item: nil))
        graph.add(NodeID(.crop, item: 2))
        graph.add(NodeID(.ingest, item: 2))
        graph.add(NodeID(.crop, item: 0), dependsOn: [NodeID(.ingest, item: 0)])
        Self.expectEveryNodeFound(graph)
    }
}
