import ElenaCLI

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// The executable is a shim: commands live in ElenaCLI and return their exit code, so tests run them
/// in-process. This is the only place the process exits.
@main
struct Entrypoint {
    static func main() async {
        limitAllocatorArenas()
        let code = await ElenaRunCommand.run(nil)
        // Output that could not be written (a full disk, a closed pipe) is an error, not a silent success.
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            let line = "error: could not write the output to standard output (a full disk, or a closed pipe?)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            exit(code == 0 ? 1 : code)
        }
        exit(code)
    }

    /// glibc gives threads that allocate at once arenas of their own, up to eight per core, and memory freed in one
    /// arena serves no other: the run's threads (the task pool's, the ledger's) kept that much more than they used.
    /// As many arenas as cores: the 100,000-item no-op rerun peaked about 35 MB lower, no slower. A
    /// `MALLOC_ARENA_MAX` in the environment is left to decide.
    private static func limitAllocatorArenas() {
        #if canImport(Glibc)
            guard getenv("MALLOC_ARENA_MAX") == nil, let symbol = dlsym(nil, "mallopt") else { return }
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            let arenaMax: Int32 = -8  // M_ARENA_MAX in <malloc.h>
            _ = unsafeBitCast(symbol, to: Mallopt.self)(arenaMax, Int32(max(2, sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        #endif
    }
}
