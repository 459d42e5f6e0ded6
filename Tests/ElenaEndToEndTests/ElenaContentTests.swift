import ElenaCore
import ElenaFanvueFake
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import ElenaFanvueHarness
import Foundation
import Testing

/// `elena_content`: the product idea's table for the creator's own app, a view over the ledger, on SQLite,
/// PostgreSQL and PostgreSQL through PgBouncer; on PostgreSQL also read by a role that may read nothing else.
@Suite struct ElenaContentTests {
    static let fans = LedgerCommandTests.fans

    /// The idea's columns, in its order, with the PostgreSQL types the view gives them.
    static let columns: [(String, String)] = [
        ("id", "text"), ("original_filename", "text"), ("cropped_filename", "text"), ("local_path", "text"),
        ("fanvue_media_uuid", "text"), ("fanvue_vault", "text"), ("fanvue_url", "text"), ("status", "text"),
        ("category", "text"), ("tags", "ARRAY"), ("description", "text"), ("price_cents", "integer"),
        ("sent_to_users", "ARRAY"), ("times_purchased", "integer"), ("revenue_cents", "integer"),
        ("generated_at", "timestamp with time zone"), ("uploaded_at", "timestamp with time zone"),
        ("created_at", "timestamp with time zone"),
    ]

    /// One row of the view, every column as text (arrays as JSON), whatever the database.
    static func row(_ store: SQLRunStore, id: String, postgres: Bool) async throws -> [String: String?] {
        let select =
            postgres
            ? Self.columns.map { name, type in
                type == "ARRAY" ? "array_to_json(\(name))::text AS \(name)"
                    : type.hasPrefix("timestamp") ? "to_char(\(name) AT TIME ZONE 'UTC', 'YYYY') AS \(name)" : "\(name)::text AS \(name)"
            }
            : Self.columns.map { name, type in
                type.hasPrefix("timestamp") ? "substr(\(name), 1, 4) AS \(name)" : "CAST(\(name) AS TEXT) AS \(name)"
            }
        let rows = try await store.database.query(
            "SELECT \(select.joined(separator: ", ")) FROM elena_content WHERE id = ?", [.text(id)])
        let found = try #require(rows.first, "no elena_content row for \(id)")
        var result: [String: String?] = [:]
        for (name, _) in Self.columns { result[name] = .some(found.string(name)) }
        return result
    }

    /// After a drop uploaded to Fanvue, an item sent to two fans (the manifest's message and `send`) and one of
    /// those messages bought and synced, the view holds exactly the expected row, one per item.
    @Test(arguments: TestBackend.available + TestBackend.pooled)
    func theViewShowsTheIdeasRow(backend: TestBackend) async throws {
        let setup = try await LedgerCommandTests.setUp(backend)
        try await withCleanup({ await setup.stop() }) {
            let fake = setup.harness.fake
            let store = try await setup.drop.store()
            try await withCleanup({ await store.close() }) {
                let item = try #require(try await store.items(drop: "fv").first { $0.originalName == "ComfyUI_00001_.png" })
                let sent = try await setup.runner.run(["send", "ComfyUI_00001_.png", "--to", Self.fans[1], "--price", "20"])
                #expect(sent.exitCode == 0, "\(sent)")
                try fake.purchase(message: try #require(setup.messages(to: Self.fans[1]).first?["messageUuid"]?.stringValue))
                #expect(try await setup.runner.run(["sync"]).exitCode == 0)

                let media = try #require(try await store.item(idPrefix: item.id.hex).first?.fanvueMediaUUID)
                let cropped = try #require(item.croppedName)
                let row = try await Self.row(store, id: item.id.hex, postgres: backend != .sqlite)
                let year = String(Calendar(identifier: .gregorian).component(.year, from: Date()))
                let expected: [String: String?] = [
                    "id": item.id.hex, "original_filename": "ComfyUI_00001_.png", "cropped_filename": cropped,
                    "local_path": "2_cropped/fv/\(cropped)", "fanvue_media_uuid": media, "fanvue_vault": "elena-ppv",
                    "fanvue_url": nil, "status": "sent", "category": nil, "tags": #"["red","dress"]"#,
                    "description": "New set #AIgenerated", "price_cents": "1200",
                    "sent_to_users": "[\"\(Self.fans[0])\",\"\(Self.fans[1])\"]", "times_purchased": "1",
                    "revenue_cents": "1600", "generated_at": year, "uploaded_at": year, "created_at": year,
                ]
                for (name, _) in Self.columns {
                    #expect(row[name] == expected[name], "\(backend) \(name): \(String(describing: row[name]))")
                }
                let count = try await store.database.query("SELECT COUNT(*) AS n FROM elena_content")
                #expect(count.first?.int("n") == 3, "one row per item")
                let unsold = try #require(try await store.items(drop: "fv").first { $0.originalName == "ComfyUI_00002_.png" })
                let other = try await Self.row(store, id: unsold.id.hex, postgres: backend != .sqlite)
                #expect(other["sent_to_users"] == .some("[\"\(Self.fans[0])\"]"))
                #expect(other["times_purchased"] == .some("0") && other["revenue_cents"] == .some("0"))
            }
        }
    }

    /// The view's columns are the idea's, in its order, with its types, so they cannot drift.
    @Test(arguments: TestBackend.available)
    func theColumnsAreTheIdeas(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            if backend == .sqlite {
                let rows = try await store.database.query("SELECT name FROM pragma_table_info('elena_content') ORDER BY cid")
                #expect(rows.compactMap { $0.string("name") } == Self.columns.map(\.0))
            } else {
                let rows = try await store.database.query(
                    """
                    SELECT column_name, data_type FROM information_schema.columns
                    WHERE table_name = 'elena_content' AND table_schema = current_schema() ORDER BY ordinal_position
                    """)
                #expect(rows.compactMap { $0.string("column_name") } == Self.columns.map(\.0))
                #expect(rows.compactMap { $0.string("data_type") } == Self.columns.map(\.1))
                let arrays = try await store.database.query(
                    """
                    SELECT column_name, udt_name FROM information_schema.columns
                    WHERE table_name = 'elena_content' AND data_type = 'ARRAY' ORDER BY ordinal_position
                    """)
                #expect(arrays.compactMap { $0.string("udt_name") } == ["_text", "_text"], "tags and sent_to_users are text[]")
                let options = try await store.database.query(
                    "SELECT array_to_string(reloptions, ',') AS options FROM pg_class WHERE relname = 'elena_content'")
                #expect(options.first?.string("options") == "security_invoker=true")
            }
        }
    }

    /// On PostgreSQL, a role given read access with `elena_grant_content_reader` reads the view through psql and
    /// nothing else: no other table, no other column, no write.
    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL: ELENA_POSTGRES_URL (make test sets it)"))
    func aReaderRoleReadsTheViewAndNothingElse() async throws {
        let setup = try await LedgerCommandTests.setUp(.postgres)
        try await withCleanup({ await setup.stop() }) {
            let store = try await setup.drop.store()
            let role = "elena_app_\(UUID().uuidString.prefix(8).lowercased())"
            let password = UUID().uuidString.replacingOccurrences(of: "-", with: "")
            try await store.database.execute("CREATE ROLE \(role) LOGIN PASSWORD '\(password)'")
            try await store.database.execute("SELECT elena_grant_content_reader('\(role)')")
            let psql = try #require(
                ["/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"].first { FileManager.default.isExecutableFile(atPath: $0) })
            var components = try #require(URLComponents(string: setup.database.urlText))
            components.user = role
            components.password = password
            let url = try #require(components.string)
            func asReader(_ sql: String) async -> (status: Int32, output: String) {
                await offCooperativePool {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: psql)
                    process.arguments = [url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql]
                    let output = Pipe()
                    process.standardOutput = output
                    process.standardError = output
                    do { try process.run() } catch { return (-1, "\(error)") }
                    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    process.waitUntilExit()
                    return (process.terminationStatus, text)
                }
            }
            let read = await asReader("SELECT original_filename, status FROM elena_content ORDER BY original_filename")
            #expect(read.status == 0, "\(read.output)")
            #expect(read.output == "ComfyUI_00001_.png|sent\nComfyUI_00002_.png|sent\nComfyUI_00003_.png|sent\n", "\(read.output)")
            for forbidden in [
                "SELECT * FROM fans", "SELECT * FROM stage_runs", "SELECT lineage FROM items", "SELECT * FROM events",
                "UPDATE items SET vault = 'x'", "DELETE FROM sends", "INSERT INTO drops VALUES ('d', 'm', now(), now())",
            ] {
                let refused = await asReader(forbidden)
                #expect(refused.status != 0 && refused.output.contains("permission denied"), "\(forbidden): \(refused.output)")
            }
            try await store.database.execute("DROP OWNED BY \(role)")
            try await store.database.execute("DROP ROLE \(role)")
            await store.close()
        }
    }
}
