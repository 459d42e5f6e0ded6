package import ElenaCore
package import ElenaEngine
import Foundation

/// `outbox` (drop level, folder target): makes sure the outbox folder exists before anything is published.
package struct OutboxStage: Stage {
    package let name = StageName.outbox
    package let version = 1
    package var isCacheable: Bool { false }

    /// Creates the stage.
    /// The outbox.
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }

    private func output(_ path: String) -> NodeOutput {
        NodeOutput(digest: Digest.of("outbox:" + path), summary: .object(["outbox": .string(path)]))
    }

    package func resolve(_ context: NodeContext) -> StageOutcome? {
        let path = services.outbox
        return FileSystem.isDirectory(path) ? .done(output(path)) : nil
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        let path = services.outbox
        if context.environment.dryRun { return .wouldRun("create \(path)") }
        try FileSystem.makeDirectory(path)
        return .done(output(path))
    }
}
