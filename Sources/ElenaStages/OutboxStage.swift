public import ElenaCore
public import ElenaEngine
import Foundation

/// `outbox` (drop level, folder target): makes sure the outbox folder exists before anything is published.
public struct OutboxStage: Stage {
    public let name = StageName.outbox
    public let version = 1
    public var isCacheable: Bool { false }

    /// Creates the stage.
    /// The outbox.
    public let services: DropServices

    /// Creates the stage.
    public init(services: DropServices) { self.services = services }

    public func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }

    private func output(_ path: String) -> NodeOutput {
        NodeOutput(digest: Digest.of("outbox:" + path), summary: .object(["outbox": .string(path)]))
    }

    public func resolve(_ context: NodeContext) -> StageOutcome? {
        let path = services.outbox
        return FileSystem.isDirectory(path) ? .done(output(path)) : nil
    }

    public func run(_ context: NodeContext) async throws -> StageOutcome {
        let path = services.outbox
        if context.environment.dryRun { return .wouldRun("create \(path)") }
        try FileSystem.makeDirectory(path)
        return .done(output(path))
    }
}
