import ElenaCLI

#if canImport(Glibc)
    import Glibc
#endif

/// The executable is a shim: commands live in ElenaCLI and return their exit code, so tests run them
/// in-process. This is the only place the process exits.
@main
struct Entrypoint {
    static func main() async {
        exit(await ElenaRunCommand.run(nil))
    }
}
