package import ElenaCore
package import Foundation

/// What one reconcile did.
package struct ReconcileSummary: Sendable, Hashable {
    /// Chats read (fans whose history was brought up to date).
    package var chatsRead = 0
    /// Chats left alone because they were read recently.
    package var chatsFresh = 0
    /// Media the creator sent that the chats showed since they were last read.
    package var mediaSeen = 0
    /// Sends the ledger did not know, now recorded, by path (`manual`, `fanvue`).
    package var recorded = 0
    /// Claims left unconfirmed by a run that died, which the chats show went out.
    package var confirmed = 0
    /// Media uploaded outside elena-run: tied to an item by their bytes, or not (yet).
    package var externalTied = 0
    package var externalUntied = 0
    /// Posts read, and the posts that break the feed guard (edited or made by hand in Fanvue), one line each.
    package var postsRead = 0
    package var postFindings: [String] = []

    /// Creates an empty summary.
    package init() {}
}

/// `elena-run reconcile`: reads what Fanvue holds about the creator's chats and brings the ledger in line, sending
/// nothing. Each chat is read from its newest message back to where the last read stopped (50 chats a call, then page
/// by page for a chat with more new messages than that), the creator's media sends are recorded, media elena-run
/// did not upload are tied to items by their bytes, and every send found that the ledger lacks is recorded with its
/// path, so the guards count it like elena-run's own. Each batch of chats is saved with its cursors in one
/// transaction: a killed reconcile resumes where it stopped, and a second one reads only what is new.
package struct Reconciler: Sendable {
    package let store: any RunStore
    package let api: any FanvueHistory
    package let now: @Sendable () -> Date
    /// Progress lines.
    package let progress: @Sendable (String) -> Void
    /// Decodes media uploaded outside elena-run, so one whose bytes match no item (Fanvue re-encodes, a creator
    /// re-saves) is tied to the item whose picture it shows. Nil: tied by their bytes only.
    package var codec: (any ImageCodec)?

    /// Chats per batch call (Fanvue's maximum).
    package static let chatsPerCall = 50
    /// Chats read within this long are not read again before a send.
    package static let freshness: TimeInterval = 15 * 60

    /// Creates a reconciler.
    package init(
        store: any RunStore, api: any FanvueHistory, now: @escaping @Sendable () -> Date,
        progress: @escaping @Sendable (String) -> Void = { _ in }, codec: (any ImageCodec)? = nil
    ) {
        self.codec = codec
        self.store = store
        self.api = api
        self.now = now
        self.progress = progress
    }

    /// The key under which the time of the last reconcile of every chat is kept.
    static func everyChatKey(_ account: String) -> String { "reconcile.every_chat:\(account)" }

    /// The fans among `fans` whose chats were not read within `freshness`. A fan with no chat read ever counts as
    /// read when every chat was read within `freshness` (the fan had none then).
    package func stale(_ fans: [String], account: String, freshness: TimeInterval) async throws -> [String] {
        try await stale(fans, account: account, freshness: freshness, cursors: store.chatCursors(account: account, fans: fans))
    }

    private func stale(_ fans: [String], account: String, freshness: TimeInterval, cursors: [String: ChatCursor])
        async throws -> [String]
    {
        let limit = now().addingTimeInterval(-freshness)
        let everyChat = try await store.syncValue(Self.everyChatKey(account)).flatMap(Timestamp.parse)
        let noChatIsFresh = everyChat.map { $0 >= limit } ?? false
        return fans.filter { fan in cursors[fan].map { $0.reconciledAt < limit } ?? !noChatIsFresh }
    }

    /// Reads the chats of `fans` (nil: every chat the creator has), or only those not read within `freshness`.
    package func run(fans: [String]? = nil, freshness: TimeInterval? = nil) async throws -> ReconcileSummary {
        let account = try await api.account
        var summary = ReconcileSummary()
        var chosen: [String]
        let started = now()
        var listed: [(fan: String, lastMessage: String?)]?
        if let fans {
            chosen = fans
        } else {
            progress("listing the chats…")
            listed = try await api.chats()
            chosen = listed?.map(\.fan) ?? []
        }
        // Read once: the chats listed unchanged are set aside below, and their cursors are the only ones written
        // before the rest are read.
        let cursors = try await store.chatCursors(account: account, fans: chosen)
        // A chat whose newest message is the one the last read stopped at has nothing new.
        let unchanged = (listed ?? []).filter { chat in
            chat.lastMessage != nil && cursors[chat.fan]?.newestMessage == chat.lastMessage
        }.map(\.fan)
        if !unchanged.isEmpty {
            // Read just now, as far as what matters: their cursors say so, so a send does not read them again.
            try await store.saveChatHistory(
                account: account, unchanged.map { ChatHistory(fan: $0, entries: [], newestMessage: nil) }, at: now())
        }
        var seen = Set(unchanged)
        summary.chatsFresh = unchanged.count
        chosen = chosen.filter { seen.insert($0).inserted }
        if let freshness {
            let stale = try await self.stale(chosen, account: account, freshness: freshness, cursors: cursors)
            summary.chatsFresh += chosen.count - stale.count
            chosen = stale
        }
        for start in stride(from: 0, to: chosen.count, by: Self.chatsPerCall) {
            let batch = Array(chosen[start..<min(chosen.count, start + Self.chatsPerCall)])
            let pages = try await api.recentMessages(fans: batch)
            var chats: [ChatHistory] = []
            for fan in batch {
                let chat = try await read(fan, first: pages[fan], since: cursors[fan]?.newestMessage)
                summary.mediaSeen += chat.entries.count
                chats.append(chat)
            }
            try await store.saveChatHistory(account: account, chats, at: now())
            summary.chatsRead += batch.count
            if chosen.count > Self.chatsPerCall {
                progress("read \(summary.chatsRead)/\(chosen.count) chats…")
            }
        }
        try await placeExternalMedia(account: account, summary: &summary)
        let wired = try await store.wireChatSends(account: account)
        summary.recorded = wired.recorded
        summary.confirmed = wired.confirmed
        if fans == nil && freshness == nil {
            try await checkPosts(account: account, summary: &summary)
            // Every chat was read as of `started`: a fan with none had nothing from the creator then.
            try await store.setSyncValue(Self.everyChatKey(account), Timestamp.format(started), at: now())
        }
        return summary
    }

    /// One chat from its newest message back to `since` (exclusive): the batch's page first, then older pages.
    func read(_ fan: String, first: ChatPage?, since: String?) async throws -> ChatHistory {
        guard let first else { return ChatHistory(fan: fan, entries: [], newestMessage: nil) }
        var messages: [HistoryMessage] = []
        var page = first
        var number = 1
        while true {
            if let stop = page.messages.firstIndex(where: { $0.uuid == since }) {
                messages += page.messages[..<stop]
                break
            }
            messages += page.messages
            guard page.hasMore, !page.messages.isEmpty else { break }
            number += 1
            page = try await api.messages(fan: fan, page: number)
        }
        let entries = messages.filter(\.fromCreator).flatMap { message in
            message.mediaUUIDs.map { media in
                ChatHistory.Entry(
                    messageUUID: message.uuid, mediaUUID: media, path: message.path, priceCents: message.priceCents,
                    sentAt: message.sentAt, purchasedAt: message.purchasedAt)
            }
        }
        return ChatHistory(fan: fan, entries: entries, newestMessage: first.messages.first?.uuid)
    }

    /// The feed guard against Fanvue as it is: a post edited by hand (media or price no longer what elena-run
    /// posted) or made by hand that shows an item sold as pay-per-view is reported, not changed (it is the creator's
    /// post). An unedited post of elena-run's passed the guard when it was made.
    func checkPosts(account: String, summary: inout ReconcileSummary) async throws {
        progress("reading the posts…")
        let posts = try await api.feedPosts()
        summary.postsRead = posts.count
        let media = try await store.placedMedia(account: account)
        let ours = Dictionary(
            try await store.allPosts().compactMap { post in post.uuid.map { ($0, post) } }, uniquingKeysWith: { first, _ in first })
        var findings: [(post: FeedPost, items: [Digest], how: String)] = []
        for post in posts {
            let items = Array(Set(post.mediaUUIDs.compactMap { media[$0] })).sorted { $0.hex < $1.hex }
            guard !items.isEmpty else { continue }
            if let original = ours[post.uuid] {
                var edits: [String] = []
                if Set(original.items) != Set(items) { edits.append("its pictures changed") }
                if original.priceCents != nil && post.priceCents == nil { edits.append("made free") }
                guard !edits.isEmpty else { continue }
                findings.append((post, items, "elena-run's post of drop \(original.drop ?? "?"), edited in Fanvue: " + edits.joined(separator: ", ")))
            } else {
                findings.append((post, items, "made by hand in Fanvue"))
            }
        }
        guard !findings.isEmpty else { return }
        var priced: [Digest: Int] = [:]
        for send in try await store.sends(items: Array(Set(findings.flatMap(\.items)))) where send.isPPV {
            priced[send.itemID, default: 0] += 1
        }
        for finding in findings {
            let sold = finding.items.filter { priced[$0] != nil }
            guard !sold.isEmpty else { continue }
            var names: [String] = []
            for item in sold {
                let record = try await store.item(idPrefix: item.hex).first
                names.append("\(record.map { $0.croppedName ?? $0.originalName } ?? String(item.hex.prefix(10))) (pay-per-view to \(priced[item] ?? 0) fan\(priced[item] == 1 ? "" : "s"))")
            }
            let shown = finding.post.priceCents == nil ? "for free" : "for \(Money.describe(finding.post.priceCents))"
            let line =
                "post \(finding.post.uuid.prefix(8)) (\(finding.how)) shows \(names.joined(separator: ", ")) in the feed \(shown): "
                + "edit or delete it in Fanvue (elena-run does not change the creator's posts)"
            summary.postFindings.append(line)
        }
        if !summary.postFindings.isEmpty {
            try await store.append(
                summary.postFindings.map { EventRecord(kind: "fanvue.feed_guard", drop: nil, message: $0, at: now()) })
        }
    }

    /// Media in the chats that elena-run did not upload: downloaded once, and tied to the item with the same bytes,
    /// or else (with a codec) to the item whose picture it shows.
    func placeExternalMedia(account: String, summary: inout ReconcileSummary) async throws {
        let unplaced = try await store.unplacedChatMedia(account: account)
        var library: [(id: Digest, prints: ItemFingerprints)]?
        for (index, media) in unplaced.enumerated() {
            var bytes: Data?
            do {
                bytes = try await api.download(media: media)
            } catch let error as any RemoteError where error.statusCode == 404 {
                bytes = nil  // gone or not ours: recorded as unknown bytes
            }
            let digest = bytes.map { Digest.of($0) }
            var item = try await digest.asyncFlatMap { try await store.item(publishedDigest: $0) }
            if item == nil, let codec, let bytes, let picture = Self.fingerprint(bytes, codec: codec) {
                if library == nil { library = try await store.fingerprints(items: nil).map { (id: $0.key, prints: $0.value) } }
                item = NearDuplicates.nearest(to: [picture], in: library ?? []).first?.id
            }
            try await store.saveExternalMedia(account: account, media: media, sha256: digest, item: item, at: now())
            if item != nil { summary.externalTied += 1 } else { summary.externalUntied += 1 }
            if unplaced.count >= 20 && (index + 1) % 20 == 0 {
                progress("looked at \(index + 1)/\(unplaced.count) media uploaded outside elena-run…")
            }
        }
    }
}

extension Reconciler {
    /// The picture's fingerprint, or nil for bytes that are not a picture the codec reads.
    static func fingerprint(_ bytes: Data, codec: any ImageCodec) -> PictureFingerprint? {
        (try? NearDuplicates.fingerprints(of: bytes, codec: codec))?.first
    }
}

extension Optional {
    /// `flatMap` with an async transform.
    package func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
