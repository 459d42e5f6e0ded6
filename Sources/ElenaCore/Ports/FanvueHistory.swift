package import Foundation

/// One message in a chat as Fanvue shows it, as much as reconciling the ledger needs.
package struct HistoryMessage: Sendable, Hashable {
    package var uuid: String
    /// Whether the creator sent it (by any path: elena-run, Fanvue's own pages, a mass message).
    package var fromCreator: Bool
    /// Fanvue's `type`: `SINGLE_RECIPIENT` for a one-to-one message; other values for mass or automated ones.
    package var type: String
    package var mediaUUIDs: [String]
    package var priceCents: Int?
    package var sentAt: Date
    package var purchasedAt: Date?

    /// Creates a message.
    package init(
        uuid: String, fromCreator: Bool, type: String, mediaUUIDs: [String], priceCents: Int?, sentAt: Date,
        purchasedAt: Date?
    ) {
        self.uuid = uuid
        self.fromCreator = fromCreator
        self.type = type
        self.mediaUUIDs = mediaUUIDs
        self.priceCents = priceCents
        self.sentAt = sentAt
        self.purchasedAt = purchasedAt
    }

    /// How it was sent, as the ledger records a send it did not make: `manual` (one-to-one, typed in Fanvue's
    /// chat page) or `fanvue` (a mass message or an automation of Fanvue's).
    package var path: String { type == "SINGLE_RECIPIENT" ? "manual" : "fanvue" }
}

/// The newest messages of one chat, newest first.
package struct ChatPage: Sendable, Hashable {
    package var messages: [HistoryMessage]
    /// Older messages exist beyond these.
    package var hasMore: Bool

    /// Creates a page.
    package init(messages: [HistoryMessage], hasMore: Bool) {
        self.messages = messages
        self.hasMore = hasMore
    }
}

/// Where a campaign (a mass message) stands: Fanvue's six statuses, and the ledger's own three for what Fanvue
/// never had. An open set: a status Fanvue adds later is kept as it came.
package struct CampaignStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    package var rawValue: String

    package init(rawValue: String) { self.rawValue = rawValue }
    package init(stringLiteral value: String) { self.rawValue = value }

    /// The ledger's: claims made, the mass message not acknowledged yet.
    package static let pending = CampaignStatus(rawValue: "PENDING")
    /// The ledger's: a run stopped before Fanvue had it (Fanvue does not list it).
    package static let notSent = CampaignStatus(rawValue: "NOT_SENT")
    /// The ledger's: Fanvue refused the request.
    package static let refused = CampaignStatus(rawValue: "REFUSED")
    package static let scheduled = CampaignStatus(rawValue: "SCHEDULED")
    package static let sending = CampaignStatus(rawValue: "SENDING")
    package static let sent = CampaignStatus(rawValue: "SENT")
    package static let unsent = CampaignStatus(rawValue: "UNSENT")
    /// Fanvue's moderation held it: nobody got it.
    package static let moderated = CampaignStatus(rawValue: "MODERATED")
    package static let failed = CampaignStatus(rawValue: "FAILED")

    /// Nobody got it: Fanvue's moderation held it or it failed.
    package var reachedNobody: Bool { self == .moderated || self == .failed }
    /// Its claims are given back (to all but buyers): it reached nobody, was unsent, or never went out.
    package var releasesClaims: Bool { reachedNobody || self == .unsent || self == .notSent }
    /// Nothing more can happen to it (nothing to unsend or reschedule).
    package var isClosed: Bool { releasesClaims || self == .refused }

    /// `not sent` for `NOT_SENT`: for sentences.
    package var words: String { rawValue.lowercased().replacingOccurrences(of: "_", with: " ") }
    package var description: String { rawValue }
}

/// A mass message as Fanvue reports it after the 201.
package struct CampaignState: Sendable, Hashable {
    package var id: String
    /// `SENT`, `UNSENT`, `SENDING`, `FAILED`, `MODERATED` or `SCHEDULED`.
    package var status: CampaignStatus
    package var mediaUUIDs: [String]
    package var text: String?
    package var priceCents: Int?
    package var createdAt: Date?
    package var scheduledAt: Date?
    package var recipientCount: Int
    package var viewCount: Int
    package var purchaseCount: Int
    /// `totalRevenue`, in cents.
    package var revenueCents: Int

    /// Creates a state.
    package init(
        id: String, status: CampaignStatus, mediaUUIDs: [String], text: String?, priceCents: Int?, createdAt: Date?,
        scheduledAt: Date?, recipientCount: Int, viewCount: Int, purchaseCount: Int, revenueCents: Int
    ) {
        self.id = id
        self.status = status
        self.mediaUUIDs = mediaUUIDs
        self.text = text
        self.priceCents = priceCents
        self.createdAt = createdAt
        self.scheduledAt = scheduledAt
        self.recipientCount = recipientCount
        self.viewCount = viewCount
        self.purchaseCount = purchaseCount
        self.revenueCents = revenueCents
    }

    /// Nobody got it: Fanvue's moderation held it or it failed.
    package var reachedNobody: Bool { status.reachedNobody }
}

/// One mass message to send: to a list, leaving out the members of other lists, now or at a time.
package struct MassMessageRequest: Sendable, Hashable {
    package var included: FanList
    /// Lists whose members are left out (`excludedLists`).
    package var excluded: [FanList]
    package var text: String?
    package var mediaUUIDs: [String]
    package var priceCents: Int?
    /// When to send (nil: now).
    package var scheduledAt: Date?

    /// Creates a request.
    package init(
        included: FanList, excluded: [FanList] = [], text: String?, mediaUUIDs: [String], priceCents: Int?,
        scheduledAt: Date? = nil
    ) {
        self.included = included
        self.excluded = excluded
        self.text = text
        self.mediaUUIDs = mediaUUIDs
        self.priceCents = priceCents
        self.scheduledAt = scheduledAt
    }
}

/// A post as Fanvue shows it now (scheduled ones included).
package struct FeedPost: Sendable, Hashable {
    package var uuid: String
    package var mediaUUIDs: [String]
    /// Nil: free to everyone in the audience.
    package var priceCents: Int?
    package var audience: String?
    package var publishAt: Date?

    /// Creates a post.
    package init(uuid: String, mediaUUIDs: [String], priceCents: Int?, audience: String?, publishAt: Date?) {
        self.uuid = uuid
        self.mediaUUIDs = mediaUUIDs
        self.priceCents = priceCents
        self.audience = audience
        self.publishAt = publishAt
    }
}

/// What reconciling the ledger with Fanvue's own history reads (`fanvue-api.md` §9.3). `FanvueClient` implements
/// it; tests run it against the fake server.
package protocol FanvueHistory: Sendable {
    /// The account the token belongs to.
    var account: String { get async throws }
    /// Every chat the creator has: the fan, and the uuid of the chat's newest message (nil when Fanvue omits it).
    func chats() async throws -> [(fan: String, lastMessage: String?)]
    /// The newest messages (up to 50) of up to 50 chats in one call; a chat Fanvue cannot show is left out.
    func recentMessages(fans: [String]) async throws -> [String: ChatPage]
    /// One page (1-based, 50 messages, newest first) of one chat's history.
    func messages(fan: String, page: Int) async throws -> ChatPage
    /// The bytes of a media (its main variant), to tie a media uploaded outside elena-run to an item.
    func download(media: String) async throws -> Data?
    /// Every mass message with its status and results, newest first.
    func massMessages() async throws -> [CampaignState]
    /// Every post, scheduled ones included, newest first.
    func feedPosts() async throws -> [FeedPost]
}

/// What sending to an exact audience needs beyond `FanvueSales`: custom lists and the mass-message lifecycle
/// (`fanvue-api.md` §9.2).
package protocol FanvueAudiences: FanvueSales, FanvueHistory {
    /// Creates a custom list; nil when the name is taken (409).
    func createCustomList(name: String) async throws -> FanList?
    /// Adds fans to a custom list (at most 100 a call, the caller batches); returns how many were new.
    func addMembers(_ fans: [String], to list: FanList) async throws -> Int
    /// Removes one fan from a custom list.
    func removeMember(_ fan: String, from list: FanList) async throws
    /// Unsends a mass message (buyers keep it).
    func unsendMassMessage(_ id: String) async throws
    /// Changes a scheduled mass message (only those can be): its time, price (`.some(nil)`: free) or text.
    func updateMassMessage(_ id: String, at: Date?, priceCents: Int??, text: String?) async throws
}

/// What one chat showed when it was read: the media the creator sent since the last read, and its newest message.
package struct ChatHistory: Sendable, Hashable {
    /// One media in one message of the creator's.
    package struct Entry: Sendable, Hashable {
        package var messageUUID: String
        package var mediaUUID: String
        /// `manual` or `fanvue` (see `HistoryMessage.path`).
        package var path: String
        package var priceCents: Int?
        package var sentAt: Date
        package var purchasedAt: Date?

        /// Creates an entry.
        package init(messageUUID: String, mediaUUID: String, path: String, priceCents: Int?, sentAt: Date, purchasedAt: Date?) {
            self.messageUUID = messageUUID
            self.mediaUUID = mediaUUID
            self.path = path
            self.priceCents = priceCents
            self.sentAt = sentAt
            self.purchasedAt = purchasedAt
        }
    }

    package var fan: String
    package var entries: [Entry]
    /// The newest message in the chat now (where the next read stops).
    package var newestMessage: String?

    /// Creates a chat's history.
    package init(fan: String, entries: [Entry], newestMessage: String?) {
        self.fan = fan
        self.entries = entries
        self.newestMessage = newestMessage
    }
}

/// How far one chat has been read.
package struct ChatCursor: Sendable, Hashable {
    package var newestMessage: String?
    package var reconciledAt: Date

    /// Creates a cursor.
    package init(newestMessage: String?, reconciledAt: Date) {
        self.newestMessage = newestMessage
        self.reconciledAt = reconciledAt
    }
}

/// A mass message elena-run sends (or sent): the audience it meant, and what Fanvue says about it later.
package struct CampaignRecord: Sendable, Hashable {
    /// Deterministic (the account, the list and the items), so a run killed before the 201 finds it again.
    package var id: String
    package var account: String
    package var list: FanList
    /// The custom list of the fans left out, when some were.
    package var exclusionList: String?
    package var excluded: Int
    /// The fans the run meant to reach.
    package var intended: Int
    package var mediaUUIDs: [String]
    package var text: String?
    package var priceCents: Int?
    package var scheduledAt: Date?
    /// Fanvue's id, once the mass message was accepted.
    package var massMessageID: String?
    /// `PENDING` (claims made, not sent yet), then Fanvue's status (`SENT`, `SCHEDULED`, `MODERATED`…).
    package var status: CampaignStatus
    package var recipientCount: Int?
    package var viewCount: Int?
    package var purchaseCount: Int?
    package var revenueCents: Int?
    package var drop: String?
    package var via: String
    package var createdAt: Date
    package var updatedAt: Date

    /// Creates a record.
    package init(
        id: String, account: String, list: FanList, exclusionList: String?, excluded: Int, intended: Int,
        mediaUUIDs: [String], text: String?, priceCents: Int?, scheduledAt: Date?, massMessageID: String?,
        status: CampaignStatus, recipientCount: Int? = nil, viewCount: Int? = nil, purchaseCount: Int? = nil,
        revenueCents: Int? = nil, drop: String?, via: String, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.account = account
        self.list = list
        self.exclusionList = exclusionList
        self.excluded = excluded
        self.intended = intended
        self.mediaUUIDs = mediaUUIDs
        self.text = text
        self.priceCents = priceCents
        self.scheduledAt = scheduledAt
        self.massMessageID = massMessageID
        self.status = status
        self.recipientCount = recipientCount
        self.viewCount = viewCount
        self.purchaseCount = purchaseCount
        self.revenueCents = revenueCents
        self.drop = drop
        self.via = via
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What the ledger keeps of Fanvue's own history (schema version 8): the chats as read, media uploaded outside
/// elena-run, and the campaigns. `reconcile` writes it; the guards see its effect through `sends`.
package protocol HistoryLedger: Sendable {
    /// How far each of these chats has been read (fans never read are absent).
    func chatCursors(account: String, fans: [String]) async throws -> [String: ChatCursor]
    /// Saves what some chats showed and moves their cursors, in one transaction.
    func saveChatHistory(account: String, _ chats: [ChatHistory], at: Date) async throws
    /// Media in the chats that the ledger cannot place: neither uploaded by elena-run nor recorded as external.
    func unplacedChatMedia(account: String) async throws -> [String]
    /// Which item each Fanvue media of the account is: elena-run's uploads and external media tied to items.
    func placedMedia(account: String) async throws -> [String: Digest]
    /// The item whose published bytes have this digest (what elena-run uploads), if any.
    func item(publishedDigest: Digest) async throws -> Digest?
    /// Records a media uploaded outside elena-run, tied to an item when its bytes are known.
    func saveExternalMedia(account: String, media: String, sha256: Digest?, item: Digest?, at: Date) async throws
    /// Turns what the chats show into sends the guards count: a send the ledger lacks is recorded with its path;
    /// a claim left unconfirmed that the chat shows went out is confirmed. Returns the counts. Idempotent.
    func wireChatSends(account: String) async throws -> (recorded: Int, confirmed: Int)
    /// Campaigns, newest first (of one account, or of all).
    func campaigns(account: String?) async throws -> [CampaignRecord]
    /// Inserts or replaces a campaign.
    func saveCampaign(_ campaign: CampaignRecord) async throws
    /// Records a campaign and claims its sends (every item to every fan) in one transaction, before the mass
    /// message goes out; fans who already have an item keep their send.
    func claimCampaign(_ campaign: CampaignRecord, fans: [String], items: [Digest], priceCents: Int?, context: SendContext)
        async throws
    /// Records Fanvue's id and status for a campaign, and its sends' mass message, in one transaction.
    func confirmCampaign(id: String, massMessageID: String, status: CampaignStatus, recipients: Int?, at: Date) async throws
    /// Records a change to a scheduled campaign: its time, price or text; its claims take the new price.
    func updateCampaign(id: String, scheduledAt: Date?, priceCents: Int??, text: String?, at: Date) async throws
    /// Gives back the claims of a campaign that reached nobody (or was unsent), except those of fans who bought
    /// it; returns how many were released.
    func releaseCampaignSends(id: String) async throws -> Int
}
