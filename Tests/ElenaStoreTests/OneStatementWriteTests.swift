import ElenaStore
import Testing

/// Which writes PostgreSQL is sent as one statement, and the statement they make.
struct OneStatementWriteTests {
    let item = SQLStatement("INSERT INTO items (id, width) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET width = excluded.width", [.text("a"), .int(4)])
    let hold = SQLStatement("INSERT INTO drop_items (drop_name, item_id) VALUES (?, ?)", [.text("d"), .text("a")])
    let status = SQLStatement("UPDATE items SET status = ? WHERE id = ?", [.text("approved"), .text("a")])
    let event = SQLStatement("INSERT INTO events (at, kind) VALUES (?, ?)", [.text("now"), .text("review.approved")])

    @Test func writesToDifferentTablesBecomeOneStatementWithEveryValueInOrder() throws {
        let joined = try #require(OneStatementWrite.joined([item, hold, event]))
        #expect(joined.sql == "WITH write0 AS (\n\(item.sql)\n),\nwrite1 AS (\n\(hold.sql)\n)\n\(event.sql)")
        #expect(joined.binds == item.binds + hold.binds + event.binds)
    }

    @Test func writesThatCouldSeeOneAnotherRunOneAfterTheOther() {
        // One statement alone needs no joining.
        #expect(OneStatementWrite.joined([item]) == nil)
        // Two to one table: the second could change the row the first wrote, which it would not see.
        #expect(OneStatementWrite.joined([item, status]) == nil)
        // A part that reads: it would read the tables as they were before the statement.
        let reading = SQLStatement("UPDATE drop_items SET source_path = (SELECT original_path FROM items WHERE id = ?)", [.text("a")])
        #expect(OneStatementWrite.joined([item, reading]) == nil)
        #expect(OneStatementWrite.joined([item, SQLStatement("DELETE FROM reviews WHERE item_id = ? RETURNING item_id")]) == nil)
        // A table whose trigger reads another table before its row is written (post_items reads the item's price).
        #expect(OneStatementWrite.joined([status, SQLStatement("INSERT INTO post_items (post_id, item_id) VALUES (?, ?)")]) == nil)
        // Not a write.
        #expect(OneStatementWrite.joined([SQLStatement("SELECT 1"), event]) == nil)
    }

    @Test func theTableAWriteChangesIsReadFromItsFirstWords() {
        #expect(OneStatementWrite.table(writtenBy: "INSERT INTO items(id) VALUES (?)") == "items")
        #expect(OneStatementWrite.table(writtenBy: "\n  update reviews SET folder = ?") == "reviews")
        #expect(OneStatementWrite.table(writtenBy: "DELETE FROM crop_overrides WHERE item_id = ?") == "crop_overrides")
        #expect(OneStatementWrite.table(writtenBy: "WITH x AS (SELECT 1) INSERT INTO items (id) SELECT * FROM x") == nil)
        #expect(OneStatementWrite.table(writtenBy: "BEGIN") == nil)
    }
}
