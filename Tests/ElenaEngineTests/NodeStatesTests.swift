import ElenaCore
import ElenaEngine
import Testing

/// A run's states are found by node through the graph's arithmetic: every node of every part of the layout (drop
/// nodes before and after the units, items, jobs), and nothing for a node the graph does not hold.
@Suite struct NodeStatesTests {
    static let stages = [
        StageDeclaration(.outbox, level: .drop),
        StageDeclaration(.ingest, level: .item),
        StageDeclaration(.crop, level: .item, reads: [.ingest]),
        StageDeclaration(.similar, level: .drop, reads: [.crop], policy: .available),
    ]

    static func expectEveryNodeFound(_ graph: PlanGraph, absent: [NodeID]) {
        // Each node's state names its own index, so a lookup that lands on another node is seen.
        let states = NodeStates(graph: graph, slots: graph.nodes.indices.map { .failed("node \($0)") })
        for (index, node) in graph.nodes.enumerated() {
            guard case .failed(let text)? = states[node] else {
                Issue.record("\(node) has no state")
                continue
            }
            #expect(text == "node \(index)", "\(node)")
        }
        for node in absent { #expect(states[node] == nil, "\(node) is not in the graph, so it has no state") }
    }

    @Test func itemsAndDropNodes() {
        let graph = PlanGraph(Self.stages, unitCount: 4)
        #expect(graph.nodes.count == 10)
        Self.expectEveryNodeFound(
            graph, absent: [NodeID(.crop, item: 4), NodeID(.crop, item: -1), NodeID(.review, item: 0), NodeID(.crop, job: 0),
                NodeID(.vault, item: nil)])
    }

    @Test func jobs() {
        let graph = PlanGraph([StageDeclaration(.generate, level: .job)], unitCount: 3, unitsAreJobs: true)
        #expect(Array(graph.nodes) == (0..<3).map { NodeID(.generate, job: $0) })
        Self.expectEveryNodeFound(graph, absent: [NodeID(.generate, item: 0), NodeID(.generate, job: 3)])
    }

    @Test func noUnits() {
        let graph = PlanGraph(Self.stages, unitCount: 0)
        #expect(Array(graph.nodes) == [NodeID(.outbox, item: nil), NodeID(.similar, item: nil)])
        Self.expectEveryNodeFound(graph, absent: [NodeID(.ingest, item: 0)])
    }

    /// An output's stamp and value share one box: setting one keeps the other, and clearing both leaves an output
    /// equal to one made without them.
    @Test func anOutputsStampAndValueAreSetApart() {
        let stamp = FileStamp(size: 10, mtimeNanoseconds: 20, inode: 30)
        var output = NodeOutput(digest: Digest.of("x"), artifactPath: "a.png", artifactStamp: stamp, summary: .null, value: 3)
        #expect(output.artifactStamp == stamp && output.value as? Int == 3)
        output.value = nil
        #expect(output.artifactStamp == stamp && output.value == nil)
        output.value = "seven"
        output.artifactStamp = nil
        #expect(output.artifactStamp == nil && output.value as? String == "seven")
        output.value = nil
        #expect(output == NodeOutput(digest: Digest.of("x"), artifactPath: "a.png"))
        var copy = output
        copy.artifactStamp = stamp
        #expect(output.artifactStamp == nil && copy.artifactStamp == stamp, "a copy is a value of its own")
    }
}
