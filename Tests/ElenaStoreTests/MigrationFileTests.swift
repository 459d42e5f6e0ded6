import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The migrations compiled into the binary are exactly the SQL files under schema/sql (regenerate with
/// `scripts/embed-migrations`).
@Suite struct MigrationFileTests {
    @Test(arguments: [SQLDialect.sqlite, .postgres])
    func embeddedMigrationsMatchTheSchemaFolder(dialect: SQLDialect) throws {
        let folder = CommandLineRunner.repositoryRoot() + "/schema/sql/\(dialect.rawValue)"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".sql") }.sorted()
        let migrations = Migrator.migrations(for: dialect)
        #expect(files.map { String($0.dropLast(4)) } == migrations.map(\.name))
        for (file, migration) in zip(files, migrations) {
            var text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            if text.hasSuffix("\n") { text.removeLast() }
            #expect(text == migration.sql, "\(file) differs from the embedded copy; run scripts/embed-migrations")
        }
    }

    /// The Supabase CLI's folder holds every PostgreSQL migration, in order, under the names it expects.
    @Test func supabaseMigrationsAreThePostgresOnesInOrder() throws {
        let root = CommandLineRunner.repositoryRoot()
        let linked = try FileManager.default.contentsOfDirectory(atPath: root + "/schema/supabase/migrations").sorted()
        let migrations = Migrator.migrations(for: .postgres)
        #expect(linked.count == migrations.count)
        for (file, migration) in zip(linked, migrations) {
            #expect(file == "\(20_260_101_000_000 + migration.version)_\(migration.name.drop { $0 != "_" }.dropFirst()).sql")
            var text = try String(contentsOfFile: root + "/schema/supabase/migrations/" + file, encoding: .utf8)
            if text.hasSuffix("\n") { text.removeLast() }
            #expect(text == migration.sql, "\(file) is not \(migration.name); run scripts/embed-migrations")
        }
    }

    @Test func postgresScriptsSplitIntoStatements() {
        let statements = SQLScript.statements(
            """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'a;b');
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'no; never';
            END;
            $$;
            DO $body$ BEGIN PERFORM 1; END $body$;
            """)
        #expect(statements.count == 3)
        #expect(statements[0] == "CREATE TABLE a (x text DEFAULT 'a;b')")
        #expect(statements[1].hasSuffix("END;\n$$"))
        #expect(statements[2] == "DO $body$ BEGIN PERFORM 1; END $body$")
    }

    @Test(arguments: [
        ("postgres://u:p%40ss@db.example.com:6543/postgres?sslmode=require", "postgres://u@db.example.com:6543/postgres?sslmode=require"),
        ("postgresql://u@localhost/app", "postgres://u@localhost:5432/app"),
        ("/tmp/x.db", "sqlite /tmp/x.db"),
    ])
    func databaseURLsNeverShowThePassword(text: String, shown: String) throws {
        let url = try DatabaseURL(parsing: text)
        #expect(url.description == shown)
        #expect(!url.description.contains("p@ss"))
        // The password is kept, decoded, for connecting; only the description leaves it out.
        switch url.kind {
        case .postgres(_, _, _, let password, _, _): #expect(password == (text.contains("%40") ? "p@ss" : nil))
        case .sqlite(let path): #expect(path == text)
        }
    }

    @Test func unsupportedURLsAreRejected() {
        #expect(throws: StoreError.self) { try DatabaseURL(parsing: "mysql://x@y/z") }
        #expect(throws: StoreError.self) { try DatabaseURL(parsing: "postgres://x@y/z?sslmode=sometimes") }
    }
}
