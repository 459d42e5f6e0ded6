import ElenaCLI

/// The executable is a shim; commands live in ElenaCLI so tests can run them in-process.
@main
struct Entrypoint {
    static func main() async {
        await ElenaRunCommand.main()
    }
}
