import ElenaCLI

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// The executable is a shim: commands live in ElenaCLI and return their exit code, so tests run them
/// in-process. This is the only place the process exits.
@main
struct Entrypoint {
    static func main() async {
        tuneAllocator()
        let code = await ElenaRunCommand.run(nil)
        // Output that could not be written (a full disk, a closed pipe) is an error, not a silent success.
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            let line = "error: could not write the output to standard output (a full disk, or a closed pipe?)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            exit(code == 0 ? 1 : code)
        }
        exit(code)
    }

    /// Three glibc allocator settings, each left to the environment when it sets it:
    /// - glibc gives threads that allocate at once arenas of their own, up to eight per core, and memory freed in
    ///   one arena serves no other: the run's threads (the task pool's, the ledger's) kept that much more than they
    ///   used. As many arenas as cores: the 100,000-item no-op rerun peaked about 35 MB lower, no slower. One arena
    ///   (`MALLOC_ARENA_MAX`): with two, which one served the end of a big run varied with the timing, and a runner
    ///   a little faster per node (a lock fewer) made its dry run peak at 298-302 MB in 6 of 28 runs (at most
    ///   283 MB in 61 runs of the binary before); with one, 243-247 MB in 14 runs, the no-op 252-260 MB instead of
    ///   256-271 MB, no slower (20 and 14 alternating pairs). A first run of 24 pictures of 1024x1536 took no longer
    ///   (1.07-1.27 s against 1.15-1.28 s); one of 500 tiny ones, where allocation weighs most, about 7% longer.
    /// - Blocks of 128 KB and more are mapped on their own and given back when freed (`MALLOC_MMAP_THRESHOLD_`):
    ///   glibc raises that threshold as such blocks are freed, and a run's big short-lived arrays (a part of the run
    ///   cache, the states handed on) then came from the heap, where they left holes. The same rerun's peak went
    ///   from 271-300 MB, varying with the timing, to 260-265 MB, no slower.
    /// - With the threshold set, glibc no longer adjusts how much free memory it keeps at the top of a heap before
    ///   giving it back: it gave back all but 128 KB at every free, and took the same pages again (zeroed, one fault
    ///   each) moments later. It keeps 64 MB there instead (`MALLOC_TOP_PAD_`). The 100,000-item no-op rerun: page
    ///   faults 210,000 -> 66,000, CPU time and wall time about 8% lower (median of 4 alternating runs), peak memory
    ///   6 MB higher; its dry run's peak 22 MB higher (249 -> 271 MB). At 32 MB, half the faults went and no time.
    private static func tuneAllocator() {
        #if canImport(Glibc)
            guard let symbol = dlsym(nil, "mallopt") else { return }
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            if getenv("MALLOC_ARENA_MAX") == nil {
                let arenaMax: Int32 = -8  // M_ARENA_MAX in <malloc.h>
                _ = mallopt(arenaMax, 1)
            }
            if getenv("MALLOC_MMAP_THRESHOLD_") == nil {
                let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD in <malloc.h>
                _ = mallopt(mmapThreshold, 128 * 1024)
            }
            if getenv("MALLOC_TOP_PAD_") == nil {
                let topPad: Int32 = -2  // M_TOP_PAD in <malloc.h>
                _ = mallopt(topPad, 64 * 1024 * 1024)
            }
        #endif
    }
}
