/// Where everything lives inside a library folder. Pure string arithmetic; the engine creates the folders.
///
/// ```
/// <library>/elena.db            the SQLite ledger (default database)
/// <library>/1_raw/<drop>/       the source images as ingested (hard links or copies)
/// <library>/2_cropped/<drop>/   crops, one file per version: <stem>.<digest8>.<ext>
/// <library>/3_review/<drop>/    copies waiting for a human decision
/// <library>/4_approved/         approved (move files here)
/// <library>/5_uploaded/         approved and published
/// <library>/rejected/           rejected (move files here)
/// <library>/outbox/<drop>/      the folder target's output, with JSON sidecars
/// ```
package struct LibraryLayout: Sendable, Hashable {
    /// The library's absolute path.
    package var root: String

    /// Creates a layout.
    package init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    /// The default SQLite file.
    package var defaultDatabase: String { absolute("elena.db") }

    /// An absolute path from a library-relative one.
    /// An absolute path is returned as it is (an artifact outside the library, such as an outbox of the manifest's
    /// own choosing).
    package func absolute(_ relative: String) -> String { relative.hasPrefix("/") ? relative : root + "/" + relative }

    /// Library-relative path of an item's raw copy.
    package func raw(drop: String, stem: String, sourceName: String) -> String {
        let ext = PathText.splitExtension(sourceName).ext.lowercased()
        return "1_raw/\(drop)/\(stem)\(ext.isEmpty ? "" : "." + ext)"
    }

    /// Library-relative path of one crop version.
    package func cropped(drop: String, stem: String, digest: Digest, format: ImageFormat) -> String {
        "2_cropped/\(drop)/\(reviewFileName(stem: stem, digest: digest, format: format))"
    }

    /// The review copy's file name: unique per crop version, so a moved file names exactly what was decided.
    package func reviewFileName(stem: String, digest: Digest, format: ImageFormat) -> String {
        "\(stem).\(digest.prefix(8)).\(format.fileExtension)"
    }

    /// Library-relative folder of a review state for a drop.
    package func folder(_ folder: ReviewFolder, drop: String) -> String { "\(folder.rawValue)/\(drop)" }

    /// The folder target's default outbox.
    package func defaultOutbox(drop: String) -> String { absolute("outbox/\(drop)") }

    /// Every folder the library holds, relative.
    package static let topFolders = ["1_raw", "2_cropped"] + ReviewFolder.allCases.map(\.rawValue) + ["outbox"]
}
