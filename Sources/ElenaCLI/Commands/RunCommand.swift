internal import ArgumentParser
import ElenaCore
import ElenaEngine
import Foundation

/// `elena-run [run] <manifest>`: runs every ready node of a drop.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a content drop: ingest, crop, queue for review, publish what was approved.",
        discussion: """
            Every step is cached by the content hash of its inputs: a rerun redoes only what changed. \
            The run stops at the human review gate (exit 3) until crops are moved from 3_review/ to \
            4_approved/ or rejected/ in the library; run again to publish the approved ones.

            With a generate: section the images are first made on ComfyUI (only those not made before) \
            and downloaded into source.dir; Ctrl-C then cancels the prompts the run queued (exit 130).

            Exit codes (also of --dry-run, plan and status <manifest>): 0 done, 1 some items failed, \
            2 bad manifest or arguments, 3 stopped at the review gate, 4 could not start.

            Examples:
              elena-run pipelines/drop-03.yaml            run it ("run" may be left out)
              elena-run run pipelines/drop-03.yaml -j 2   two images at a time
              elena-run pipelines/drop-03.yaml --dry-run  show what would happen
            """)

    @Argument(help: ArgumentHelp("The drop's YAML manifest.", valueName: "manifest"))
    var manifest: String

    @Flag(name: .long, help: "Show exactly what would happen, change nothing (no file, no database row, no network call unless --online).")
    var dryRun = false

    @Flag(
        name: .long,
        help: "With --dry-run and a fanvue target: check on Fanvue, with read-only requests, that the login works and which vault folders exist.")
    var online = false

    @Flag(name: .long, help: "Print the result as JSON on standard output.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print only errors and one line at the end (no progress, no summary).")
    var quiet = false

    @Flag(
        name: .long,
        help: "This manifest replaces the one that ran its drop before (it was moved or renamed): take the drop over.")
    var sameDrop = false

    @OptionGroup var options: DropOptions
    @OptionGroup var work: JobsOptions

    func validate() throws {
        if online && !dryRun { throw ValidationError("--online goes with --dry-run (a real run talks to Fanvue anyway)") }
    }

    func run() async throws {
        let reporter = TerminalReporter(quiet: quiet || json)
        let outcome = try await DropExecution.perform(
            manifestArgument: manifest, options: options, jobs: work.jobs, dryRun: dryRun, online: online,
            reporter: reporter, sameDrop: sameDrop)
        reporter.finish()
        print(json ? RunOutput.json(outcome) : quiet ? RunOutput.line(outcome, manifest: manifest) : RunOutput.text(outcome))
        let code = outcome.report.exitCode
        if code != 0 { throw ExitCode(code) }
    }
}

/// `elena-run plan <manifest>`: the dry run, plus the graph.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what a run would do (the same as --dry-run), or print the graph with --graph.",
        discussion: """
            Nothing is changed. --graph prints the DAG in Graphviz dot.

            Examples:
              elena-run plan pipelines/drop-03.yaml
              elena-run plan pipelines/drop-03.yaml --graph | dot -Tsvg > plan.svg
            """)

    @Argument(help: ArgumentHelp("The drop's YAML manifest.", valueName: "manifest"))
    var manifest: String

    @Flag(name: .long, help: "Print the graph of nodes in Graphviz dot syntax.")
    var graph = false

    @Flag(name: .long, help: "Print the plan as JSON.")
    var json = false

    @Flag(name: .long, help: "Fanvue target: check the login and the vault folders with read-only requests.")
    var online = false

    @OptionGroup var options: DropOptions

    func run() async throws {
        let reporter = TerminalReporter(quiet: true)
        let outcome = try await DropExecution.perform(
            manifestArgument: manifest, options: options, dryRun: true, online: online, reporter: reporter)
        if graph {
            let pairs = outcome.report.generation?.pairs ?? []
            print(outcome.report.plan.dot(sources: pairs.map { ($0.label, $0.images) }), terminator: "")
        } else {
            print(json ? RunOutput.json(outcome) : RunOutput.text(outcome))
        }
        // The same exit code as `run --dry-run` (README, "Exit codes").
        let code = outcome.report.exitCode
        if code != 0 { throw ExitCode(code) }
    }
}

/// `elena-run schema`: prints the manifest's JSON Schema.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the manifest JSON Schema (the same as schema/manifest.schema.json), for editors and linters.",
        discussion: """
            Example:
              elena-run schema > manifest.schema.json
            """)

    func run() throws {
        print(JSONSchemaExport.manifestDocument(), terminator: "")
    }
}
