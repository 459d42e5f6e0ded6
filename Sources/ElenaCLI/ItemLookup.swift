internal import ArgumentParser
import ElenaCore
import Foundation

/// How commands find an item the way people name it: an id prefix (`1cc63154`), the original's file name
/// (`ComfyUI_00004_.png`) or the name of one of its crops or review copies (`ComfyUI_00004_.a981146f.jpg`).
enum ItemLookup {
    enum Reference: Equatable {
        case idPrefix(String)
        case name(String)
    }

    static let hint = "an item id (at least 6 hexadecimal characters) or a file name such as ComfyUI_00004_.png"

    /// Reads an argument; a folder in it is refused, so nothing a user types reaches the file system.
    static func reference(_ text: String) throws -> Reference {
        if text.contains("/") || text.contains("\0") {
            throw ValidationError("'\(text)' is not \(hint): give the file name without its folder")
        }
        if text.count >= 6, text.count <= 64, text.allSatisfy(\.isHexDigit) { return .idPrefix(text.lowercased()) }
        if text.contains("."), !text.hasPrefix(".") { return .name(text) }
        throw ValidationError("'\(text)' is not \(hint)")
    }

    /// The items a reference names (none, one, or several when it is ambiguous).
    static func candidates(_ reference: Reference, in store: any RunStore) async throws -> [ItemRecord] {
        switch reference {
        case .idPrefix(let prefix): return try await store.item(idPrefix: prefix)
        case .name(let name): return try await store.items(named: name)
        }
    }

    /// The one item a reference names.
    /// - Throws: `CLIError.failure` when none does, `CLIError.usage` listing the candidates when several do.
    static func one(_ text: String, in store: any RunStore, storeName: String) async throws -> ItemRecord {
        let reference = try reference(text)
        let matches = try await candidates(reference, in: store)
        if matches.count == 1, let only = matches.first { return only }
        if matches.isEmpty {
            switch reference {
            case .idPrefix: throw CLIError.failure("no item id starts with '\(text)' in \(storeName)")
            case .name: throw CLIError.failure("no item is named '\(text)' in \(storeName) (neither an original nor a crop)")
            }
        }
        throw CLIError.usage("'\(text)' names \(matches.count) items; give one of their ids:\n" + listing(matches))
    }

    /// One line per candidate: id prefix, drop, name, where the original was.
    static func listing(_ items: [ItemRecord]) -> String {
        items.map { "  \($0.id.hex.prefix(12))  \($0.drop)  \($0.originalName)  (\($0.originalPath))" }.joined(separator: "\n")
    }
}
