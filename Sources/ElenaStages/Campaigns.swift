package import ElenaCore
package import Foundation

/// What changed for one campaign when the ledger was brought in line with Fanvue.
package struct CampaignChange: Sendable, Hashable {
    package var campaign: CampaignRecord
    /// The status the ledger had before.
    package var previous: CampaignStatus
    /// Claims given back (nobody got it, or it was unsent and they had not bought it).
    package var released: Int

    /// One line for people.
    package var description: String {
        let name = "the mass message to \(campaign.list.name) (\(campaign.intended) fans, \(Timestamp.format(campaign.createdAt).prefix(10)))"
        switch campaign.status {
        case .moderated: return "\(name) was held by Fanvue's moderation: nobody got it; \(released) claims given back"
        case .failed: return "\(name) failed on Fanvue: nobody got it; \(released) claims given back"
        case .unsent: return "\(name) was unsent: \(released) claims given back (buyers keep it)"
        case .notSent: return "\(name) never went out (a run stopped before Fanvue had it): \(released) claims given back"
        default: return "\(name): \(previous) → \(campaign.status)"
        }
    }
}

/// Keeps the ledger's campaigns (mass messages) in line with what Fanvue says after the 201: a pending one (the run
/// never heard back) is confirmed when Fanvue lists it; statuses and results (views, purchases, revenue) are copied;
/// one that reached nobody (`MODERATED`, `FAILED`) or was unsent gives back the claims of those who did not buy it,
/// so a later send may reach them.
package struct CampaignTracker: Sendable {
    package let store: any HistoryLedger
    package let now: @Sendable () -> Date

    /// Creates a tracker.
    package init(store: any HistoryLedger, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.now = now
    }

    /// Applies Fanvue's `states` to the campaigns of `account` that `include` picks. A pending campaign Fanvue does
    /// not list is closed as never sent (its claims given back) only when `closeAbsent`.
    package func refresh(
        account: String, states: [CampaignState], closeAbsent: Bool, include: (CampaignRecord) -> Bool = { _ in true }
    ) async throws -> [CampaignChange] {
        var changes: [CampaignChange] = []
        let byID = Dictionary(states.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for campaign in try await store.campaigns(account: account) where include(campaign) {
            var updated = campaign
            if let id = campaign.massMessageID {
                guard let state = byID[id] else { continue }
                updated.status = state.status
                updated.recipientCount = state.recipientCount
                updated.viewCount = state.viewCount
                updated.purchaseCount = state.purchaseCount
                updated.revenueCents = state.revenueCents
            } else if campaign.status == .pending {
                let media = Set(campaign.mediaUUIDs)
                let found = states.first { state in
                    Set(state.mediaUUIDs) == media
                        && (state.createdAt.map { $0 >= campaign.createdAt.addingTimeInterval(-60) } ?? true)
                }
                if let found {
                    try await store.confirmCampaign(
                        id: campaign.id, massMessageID: found.id, status: found.status, recipients: found.recipientCount,
                        at: now())
                    updated.massMessageID = found.id
                    updated.status = found.status
                    updated.recipientCount = found.recipientCount
                } else if closeAbsent {
                    updated.status = .notSent
                } else {
                    continue
                }
            } else {
                continue
            }
            var released = 0
            if updated.status.releasesClaims && !campaign.status.releasesClaims {
                released = try await store.releaseCampaignSends(id: campaign.id)
            }
            if updated != campaign {
                updated.updatedAt = now()
                try await store.saveCampaign(updated)
                if updated.status != campaign.status {
                    changes.append(CampaignChange(campaign: updated, previous: campaign.status, released: released))
                }
            }
        }
        return changes
    }
}
