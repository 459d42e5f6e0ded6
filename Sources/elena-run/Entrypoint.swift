import ElenaCLI

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// The executable is a shim: commands live in ElenaCLI and return their exit code, so tests run them
/// in-process. This is the only place the process exits.
@main
struct Entrypoint {
    static func main() async {
        let code = await ElenaRunCommand.run(nil)
        // Output that could not be written (a full disk, a closed pipe) is an error, not a silent success.
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            let line = "error: could not write the output to standard output (a full disk, or a closed pipe?)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            exit(code == 0 ? 1 : code)
        }
        exit(code)
    }
}
