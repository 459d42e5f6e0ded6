package import ArgumentParser
import Foundation

/// The `elena-run` command: run a content drop, or one of the tools around it.
package struct ElenaRunCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "elena-run",
        abstract: "Take AI images from ComfyUI output to Fanvue, safely: crop the face, review, publish, track.",
        discussion: """
            A drop is a YAML manifest: where the images are, how to crop them, where they go.
              elena-run pipelines/drop-03.yaml            run it (stops for review)
              elena-run pipelines/drop-03.yaml --dry-run  show what would happen
              elena-run review pipelines/drop-03.yaml     decide in the browser
              elena-run status pipelines/drop-03.yaml     what is done, what waits
              elena-run watch pipelines/drop-03.yaml      run as images arrive

            Selling: `send` items to a fan or a list (never twice to anyone), \
            `sync` purchases from Fanvue, `stats` on what sells, \
            `suggest --fan <uuid>` what to send a fan next.

            Exit codes, the same for run, --dry-run, plan and status <manifest> (a dry run and \
            status exit with the code the run would): 0 done, 1 some items failed, \
            2 bad manifest or arguments, 3 stopped at the review gate with nothing failed, \
            4 could not start (face models, database or library missing), 130 interrupted (Ctrl-C).
            """,
        version: "elena-run 0.1.0",
        subcommands: [
            RunCommand.self, PlanCommand.self, StatusCommand.self, ReviewCommand.self, RecropCommand.self, AuthCommand.self,
            SendCommand.self, UnsendCommand.self, RescheduleCommand.self, ReconcileCommand.self, SyncCommand.self, StatsCommand.self, SuggestCommand.self, DoctorCommand.self,
            SchemaCommand.self, WatchCommand.self, GCCommand.self, PersonaCommand.self, FindCommand.self,
        ],
        defaultSubcommand: RunCommand.self
    )

    package init() {}

    /// Parses the arguments, runs the command and returns its exit code (argument errors: 2). Messages go to
    /// standard output and standard error; the process is left running, so a test can call this in-process.
    package static func run(_ arguments: [String]?) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let error as CLIError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            return error.exitCode
        } catch let error as ExitCode {
            return error.rawValue
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                print(message)
                return 0
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            return code == .validationFailure ? 2 : code.rawValue
        }
    }
}
