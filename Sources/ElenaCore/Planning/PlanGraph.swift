/// A drop's graph, laid out by rule instead of stored edge by edge. Every unit (an item, or a job of a source plan)
/// runs the same stages wired the same way, so the graph is its stages' wiring repeated: the node at an index and
/// the nodes it depends on are worked out when asked for. A drop of 100,000 items has 600,000 nodes and a million
/// edges; stored, with a dictionary of the nodes, they took about as much memory as the plan's items and most of
/// the planning time.
///
/// Nodes are numbered in the order work should start: the drop stages declared before the first unit stage (they
/// feed the units), then each unit's stages, unit by unit, in pipeline order, then the other drop stages.
package struct PlanGraph: Sendable {
    /// Drop stages numbered before the units, in pipeline order.
    package var head: [StageName] { wiring.head }
    /// The stages every unit runs, in pipeline order.
    package var unitStages: [StageName] { wiring.unitStages }
    /// Drop stages numbered after the units, in pipeline order.
    package var tail: [StageName] { wiring.tail }
    /// How many units.
    package let unitCount: Int
    /// Whether the units are jobs (a source plan) rather than items.
    package let unitsAreJobs: Bool
    private let firstUnitNode: Int
    private let tailStart: Int
    /// The stages' wiring, shared by every copy of the graph (the runner asks for a node's neighbours millions of
    /// times: a copy is one reference, not a dozen arrays).
    private let wiring: Wiring

    private final class Wiring: Sendable {
        let head: [StageName]
        let unitStages: [StageName]
        let tail: [StageName]
        /// Per unit stage (by position): the positions in the same unit it reads, in the order declared; the drop
        /// nodes it waits for (by index); the positions that read it; the drop nodes that collect it (by index).
        let reads: [[Int]]
        let waitsFor: [[Int]]
        let readBy: [[Int]]
        let collectedBy: [[Int]]
        /// Per drop stage (head, then tail): the drop nodes it waits for (by index) and the unit positions it
        /// collects from every unit; the drop nodes that wait for it (by index) and the unit positions that do.
        let dropWaitsFor: [[Int]]
        let dropCollects: [[Int]]
        let dropWaitedOnByDrops: [[Int]]
        let dropWaitedOnByUnits: [[Int]]

        init(
            head: [StageName], unitStages: [StageName], tail: [StageName], reads: [[Int]], waitsFor: [[Int]], readBy: [[Int]],
            collectedBy: [[Int]], dropWaitsFor: [[Int]], dropCollects: [[Int]], dropWaitedOnByDrops: [[Int]],
            dropWaitedOnByUnits: [[Int]]
        ) {
            self.head = head
            self.unitStages = unitStages
            self.tail = tail
            self.reads = reads
            self.waitsFor = waitsFor
            self.readBy = readBy
            self.collectedBy = collectedBy
            self.dropWaitsFor = dropWaitsFor
            self.dropCollects = dropCollects
            self.dropWaitedOnByDrops = dropWaitedOnByDrops
            self.dropWaitedOnByUnits = dropWaitedOnByUnits
        }
    }

    /// The graph of `stages` (in pipeline order) over `unitCount` units: the drop stages (`.drop`) once, every other
    /// stage once per unit. An item stage depends on the stages of its own unit it reads and on the drop stages it
    /// comes after; a drop stage on the drop stages it comes after and on every unit's node of each stage it
    /// collects (unit by unit). Names of stages that are not among `stages` are left out.
    package init(_ stages: [StageDeclaration], unitCount: Int, unitsAreJobs: Bool = false) {
        let firstUnitStage = stages.firstIndex { $0.level != .drop } ?? stages.count
        let unit = stages.filter { $0.level != .drop }
        let head = stages[..<firstUnitStage].filter { $0.level == .drop }
        let drops = head + stages[firstUnitStage...].filter { $0.level == .drop }
        self.unitCount = unitCount
        self.unitsAreJobs = unitsAreJobs
        firstUnitNode = head.count
        tailStart = head.count + unitCount * unit.count

        let unitPosition = Dictionary(unit.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        let headCount = head.count
        let tailStart = self.tailStart
        // A drop stage's slot (head, then tail) and its node's index, each way.
        func dropIndex(ofSlot slot: Int) -> Int { slot < headCount ? slot : tailStart + slot - headCount }
        func dropSlot(of index: Int) -> Int { index < headCount ? index : index - tailStart + headCount }
        var indexOfDrop: [StageName: Int] = [:]
        for (slot, stage) in drops.enumerated() where indexOfDrop[stage.name] == nil {
            indexOfDrop[stage.name] = dropIndex(ofSlot: slot)
        }
        func unique(_ values: [Int]) -> [Int] {
            var seen = Set<Int>()
            return values.filter { seen.insert($0).inserted }
        }
        let reads = unit.map { stage in unique(stage.reads.compactMap { unitPosition[$0] }) }
        let waitsFor = unit.map { stage in unique(stage.after.compactMap { indexOfDrop[$0] }) }
        let dropWaitsFor = drops.map { stage in unique(stage.after.compactMap { indexOfDrop[$0] }) }
        let dropCollects = drops.map { stage in unique(stage.reads.compactMap { unitPosition[$0] }) }

        var readBy = [[Int]](repeating: [], count: unit.count)
        var collectedBy = [[Int]](repeating: [], count: unit.count)
        var byDrops = [[Int]](repeating: [], count: drops.count)
        var byUnits = [[Int]](repeating: [], count: drops.count)
        for (position, read) in reads.enumerated() {
            for other in read { readBy[other].append(position) }
            for index in waitsFor[position] { byUnits[dropSlot(of: index)].append(position) }
        }
        for slot in drops.indices {
            let index = dropIndex(ofSlot: slot)
            for position in dropCollects[slot] { collectedBy[position].append(index) }
            for other in dropWaitsFor[slot] { byDrops[dropSlot(of: other)].append(index) }
        }
        wiring = Wiring(
            head: head.map(\.name), unitStages: unit.map(\.name), tail: drops[headCount...].map(\.name), reads: reads,
            waitsFor: waitsFor, readBy: readBy, collectedBy: collectedBy, dropWaitsFor: dropWaitsFor,
            dropCollects: dropCollects, dropWaitedOnByDrops: byDrops, dropWaitedOnByUnits: byUnits)
    }

    /// Where a node index lies: a drop stage's slot (head, then tail) or a unit and its stage's position.
    private enum Place {
        case drop(slot: Int)
        case unit(Int, position: Int)
    }

    private func place(of index: Int) -> Place {
        if index < firstUnitNode { return .drop(slot: index) }
        if index >= tailStart { return .drop(slot: firstUnitNode + index - tailStart) }
        let (unit, position) = (index - firstUnitNode).quotientAndRemainder(dividingBy: wiring.unitStages.count)
        return .unit(unit, position: position)
    }

    /// The nodes, by index.
    package var nodes: Nodes { Nodes(graph: self) }

    /// The node at `index` (0 ..< `nodes.count`).
    package func node(at index: Int) -> NodeID {
        switch place(of: index) {
        case .drop(let slot):
            return NodeID(slot < firstUnitNode ? wiring.head[slot] : wiring.tail[slot - firstUnitNode], item: nil)
        case .unit(let unit, let position):
            let stage = wiring.unitStages[position]
            return unitsAreJobs ? NodeID(stage, job: unit) : NodeID(stage, item: unit)
        }
    }

    /// The position of a unit's node among `unitStages`; nil for a drop node.
    package func unitPosition(of index: Int) -> Int? {
        guard index >= firstUnitNode, index < tailStart else { return nil }
        return (index - firstUnitNode) % wiring.unitStages.count
    }

    /// The indices of the nodes of `units` (contiguous: a unit's nodes follow one another, unit after unit).
    package func nodeIndices(ofUnits units: Range<Int>) -> Range<Int> {
        let width = wiring.unitStages.count
        return (firstUnitNode + units.lowerBound * width)..<(firstUnitNode + units.upperBound * width)
    }

    /// A node's index, worked out from its stage and unit; nil when the graph has no such node.
    package func index(of node: NodeID) -> Int? {
        let unit: Int
        switch node.unit {
        case .drop:
            if let slot = head.firstIndex(of: node.stage) { return slot }
            return tail.firstIndex(of: node.stage).map { tailStart + $0 }
        case .item(let index):
            guard !unitsAreJobs else { return nil }
            unit = index
        case .job(let index):
            guard unitsAreJobs else { return nil }
            unit = index
        }
        guard unit >= 0, unit < unitCount, let position = unitStages.firstIndex(of: node.stage) else { return nil }
        return firstUnitNode + unit * unitStages.count + position
    }

    /// The prerequisites of the node at `index`, by index: for a unit's node, the nodes of its unit it reads, then
    /// the drop nodes it waits for; for a drop node, the drop nodes it waits for, then what it collects, unit by unit.
    package func dependencyIndices(of index: Int) -> Neighbours {
        switch place(of: index) {
        case .unit(let unit, let position):
            return Neighbours(
                local: wiring.reads[position], base: firstUnitNode + unit * wiring.unitStages.count, fixed: wiring.waitsFor[position])
        case .drop(let slot):
            return Neighbours(fixed: wiring.dropWaitsFor[slot], everyUnit: wiring.dropCollects[slot], graph: self)
        }
    }

    /// The dependents of the node at `index`, by index.
    package func dependentIndices(of index: Int) -> Neighbours {
        switch place(of: index) {
        case .unit(let unit, let position):
            return Neighbours(
                local: wiring.readBy[position], base: firstUnitNode + unit * wiring.unitStages.count,
                fixed: wiring.collectedBy[position])
        case .drop(let slot):
            return Neighbours(fixed: wiring.dropWaitedOnByDrops[slot], everyUnit: wiring.dropWaitedOnByUnits[slot], graph: self)
        }
    }

    /// How many prerequisites the node at `index` has.
    package func dependencyCount(of index: Int) -> Int { dependencyIndices(of: index).count }

    /// A node's prerequisites.
    package func dependencies(of node: NodeID) -> [NodeID] {
        index(of: node).map { dependencyIndices(of: $0).map(self.node(at:)) } ?? []
    }

    /// A node's dependents.
    package func dependents(of node: NodeID) -> [NodeID] {
        index(of: node).map { dependentIndices(of: $0).map(self.node(at:)) } ?? []
    }

    /// The nodes in a stable topological order (Kahn's algorithm, lowest index first among the ready). The stages'
    /// wiring is checked for a cycle when planning, so the nodes have none; a node on one would be left out.
    package func topologicalOrder() -> [NodeID] {
        kahnOrder(count: nodes.count, prerequisiteCount: dependencyCount(of:), dependents: dependentIndices(of:)).order
            .map(node(at:))
    }

    /// The nodes, by index.
    package struct Nodes: RandomAccessCollection, Sendable {
        let graph: PlanGraph
        package var startIndex: Int { 0 }
        package var endIndex: Int { graph.tailStart + graph.wiring.tail.count }
        package subscript(position: Int) -> NodeID { graph.node(at: position) }
    }

    /// Some nodes of the graph by index, in order: positions within one unit (`local`, offset by `base`), then
    /// nodes by index (`fixed`), then positions in every unit, unit by unit (`everyUnit`). Nothing is allocated
    /// to list them: the lists belong to the graph.
    package struct Neighbours: Sequence, Sendable {
        let local: [Int]
        let base: Int
        let fixed: [Int]
        let everyUnit: [Int]
        let firstUnitNode: Int
        let unitCount: Int
        let unitWidth: Int

        init(local: [Int], base: Int, fixed: [Int]) {
            self.local = local
            self.base = base
            self.fixed = fixed
            everyUnit = []
            firstUnitNode = 0
            unitCount = 0
            unitWidth = 0
        }

        init(fixed: [Int], everyUnit: [Int], graph: PlanGraph) {
            local = []
            base = 0
            self.fixed = fixed
            self.everyUnit = everyUnit
            firstUnitNode = graph.firstUnitNode
            unitCount = graph.unitCount
            unitWidth = graph.wiring.unitStages.count
        }

        /// How many.
        package var count: Int { local.count + fixed.count + everyUnit.count * unitCount }
        package var underestimatedCount: Int { count }

        package struct Iterator: IteratorProtocol {
            let neighbours: Neighbours
            var part = 0
            var position = 0
            var unit = 0

            package mutating func next() -> Int? {
                while true {
                    switch part {
                    case 0:
                        if position < neighbours.local.count {
                            position += 1
                            return neighbours.base + neighbours.local[position - 1]
                        }
                    case 1:
                        if position < neighbours.fixed.count {
                            position += 1
                            return neighbours.fixed[position - 1]
                        }
                    case 2:
                        if neighbours.everyUnit.isEmpty { return nil }
                        if position == neighbours.everyUnit.count {
                            position = 0
                            unit += 1
                        }
                        guard unit < neighbours.unitCount else { return nil }
                        position += 1
                        return neighbours.firstUnitNode + unit * neighbours.unitWidth + neighbours.everyUnit[position - 1]
                    default:
                        return nil
                    }
                    part += 1
                    position = 0
                }
            }
        }

        package func makeIterator() -> Iterator { Iterator(neighbours: self) }
    }
}
