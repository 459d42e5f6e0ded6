import ElenaCore
import Foundation

/// The sales report as text tables, JSON and an HTML page with bar charts (inline SVG, no script, no network).
enum SalesOutput {
    /// Left-aligned columns padded to their widest cell.
    static func table(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { column in rows.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func percent(_ value: Double?) -> String { value.map { String(format: "%.0f%%", $0 * 100) } ?? "–" }

    static func rows(_ rows: [SalesReport.Row], title: String, top: Int) -> String {
        let shown = top > 0 ? Array(rows.prefix(top)) : rows
        var lines = [[title, "sends", "bought", "conversion", "purchases", "net", "gross"]]
        for row in shown {
            lines.append([
                row.label, "\(row.sends)", "\(row.purchasedSends)", percent(row.conversion), "\(row.purchases)",
                Money.describe(row.netCents), Money.describe(row.grossCents),
            ])
        }
        let more = rows.count > shown.count ? "\n(\(rows.count - shown.count) more; --top 0 shows all)" : ""
        return table(lines) + more
    }

    /// The campaigns (mass messages) as a table, newest first.
    static func campaignRows(_ campaigns: [CampaignRecord], top: Int) -> String {
        let shown = top > 0 ? Array(campaigns.prefix(top)) : campaigns
        var lines = [["campaign", "list", "status", "fans", "reached", "views", "bought", "revenue"]]
        for campaign in shown {
            lines.append([
                String(campaign.id.prefix(8)), campaign.list.name, campaign.status.rawValue.lowercased(), "\(campaign.intended)",
                campaign.recipientCount.map(String.init) ?? "?", campaign.viewCount.map(String.init) ?? "?",
                campaign.purchaseCount.map(String.init) ?? "?", campaign.revenueCents.map { Money.describe($0) } ?? "?",
            ])
        }
        let more = campaigns.count > shown.count ? "\n(\(campaigns.count - shown.count) more; --top 0 shows all)" : ""
        return table(lines) + more
    }

    static func json(_ campaign: CampaignRecord) -> JSONValue {
        .object([
            "id": .string(campaign.id), "mass_message": campaign.massMessageID.map(JSONValue.string) ?? .null,
            "list": .string(campaign.list.name), "status": .string(campaign.status.rawValue), "fans": .int(campaign.intended),
            "excluded": .int(campaign.excluded), "reached": campaign.recipientCount.map(JSONValue.int) ?? .null,
            "views": campaign.viewCount.map(JSONValue.int) ?? .null,
            "purchases": campaign.purchaseCount.map(JSONValue.int) ?? .null,
            "revenue_cents": campaign.revenueCents.map(JSONValue.int) ?? .null,
            "price_cents": campaign.priceCents.map(JSONValue.int) ?? .null,
            "scheduled_at": campaign.scheduledAt.map { .string(Timestamp.format($0)) } ?? .null,
            "created_at": .string(Timestamp.format(campaign.createdAt)),
        ])
    }

    static func text(_ report: SalesReport, campaigns: [CampaignRecord] = [], top: Int) -> String {
        let total = report.total
        var parts = [
            "total: \(Money.describe(total.netCents)) net (\(Money.describe(total.grossCents)) gross) from "
                + "\(total.purchases) item purchase\(total.purchases == 1 ? "" : "s"); \(total.sends) pay-per-view "
                + "send\(total.sends == 1 ? "" : "s"), \(total.purchasedSends) bought (\(percent(total.conversion)))"
        ]
        if report.unattributedPurchases > 0 {
            parts.append(
                "not tied to items: \(report.unattributedPurchases) purchase\(report.unattributedPurchases == 1 ? "" : "s"), "
                    + "\(Money.describe(report.unattributedGrossCents)) gross (subscriptions, tips…)")
        }
        if !report.reversals.isEmpty {
            let count = report.reversals.reduce(0) { $0 + $1.refunds + $1.chargebacks }
            let gross = report.reversals.reduce(0) { $0 + $1.grossCents }
            let charged = report.reversals.filter { $0.chargebacks > 0 }
            parts.append(
                "refunds and chargebacks: \(count), \(Money.describe(gross)) gross (netted above)"
                    + (charged.isEmpty ? "" : "; fans with a chargeback: " + charged.map { "\($0.fan.prefix(8)) (net \(Money.describe($0.fanNetCents)))" }.joined(separator: ", ")))
        }
        if report.items.isEmpty && total.sends == 0 {
            parts.append("nothing sent or sold yet: send items (elena-run send) and run elena-run sync")
            return parts.joined(separator: "\n")
        }
        parts.append(rows(report.items, title: "item", top: top))
        parts.append(rows(report.tags, title: "tag", top: top))
        parts.append(rows(report.drops, title: "drop", top: top))
        parts.append(rows(report.prices, title: "price", top: top))
        parts.append(rows(report.paths, title: "path", top: top))
        if !campaigns.isEmpty { parts.append(campaignRows(campaigns, top: top)) }
        return parts.joined(separator: "\n\n")
    }

    static func json(_ row: SalesReport.Row) -> JSONValue {
        .object([
            "key": .string(row.key), "label": .string(row.label), "sends": .int(row.sends),
            "bought": .int(row.purchasedSends),
            "conversion": row.conversion.map { .double(($0 * 1000).rounded() / 1000) } ?? .null,
            "purchases": .int(row.purchases), "net_cents": .int(row.netCents), "gross_cents": .int(row.grossCents),
        ])
    }

    static func json(_ report: SalesReport, campaigns: [CampaignRecord] = []) -> String {
        JSONValue.object([
            "total": json(report.total),
            "unattributed": .object([
                "purchases": .int(report.unattributedPurchases), "gross_cents": .int(report.unattributedGrossCents),
            ]),
            "items": .array(report.items.map(json)), "tags": .array(report.tags.map(json)),
            "drops": .array(report.drops.map(json)), "prices": .array(report.prices.map(json)),
            "paths": .array(report.paths.map(json)), "campaigns": .array(campaigns.map(json)),
            "reversals": .array(
                report.reversals.map { reversal in
                    .object([
                        "fan": .string(reversal.fan), "refunds": .int(reversal.refunds), "chargebacks": .int(reversal.chargebacks),
                        "gross_cents": .int(reversal.grossCents), "fan_net_cents": .int(reversal.fanNetCents),
                        "last_at": .string(Timestamp.format(reversal.lastAt)),
                    ])
                }),
        ]).pretty()
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A horizontal bar chart of net revenue, with conversion beside each bar.
    static func chart(_ rows: [SalesReport.Row], title: String) -> String {
        let shown = Array(rows.prefix(15))
        guard !shown.isEmpty else { return "<h2>\(escape(title))</h2><p>Nothing yet.</p>" }
        let largest = max(1, shown.map(\.netCents).max() ?? 1)
        let rowHeight = 26
        var svg = "<svg role=\"img\" aria-label=\"\(escape(title))\" width=\"760\" height=\"\(shown.count * rowHeight + 10)\">"
        for (index, row) in shown.enumerated() {
            let y = index * rowHeight + 5
            let width = Int(Double(row.netCents) / Double(largest) * 400)
            svg += "<text x=\"0\" y=\"\(y + 17)\">\(escape(String(row.label.prefix(28))))</text>"
            svg += "<rect class=\"bar\" x=\"220\" y=\"\(y + 4)\" width=\"\(max(width, 1))\" height=\"18\"></rect>"
            svg +=
                "<text x=\"\(228 + width)\" y=\"\(y + 17)\">\(Money.describe(row.netCents)) · \(row.purchasedSends)/\(row.sends) "
                + "\(percent(row.conversion))</text>"
        }
        svg += "</svg>"
        var table = "<table><tr><th>\(escape(title))</th><th>sends</th><th>bought</th><th>conversion</th><th>purchases</th><th>net</th><th>gross</th></tr>"
        for row in rows {
            table +=
                "<tr><td>\(escape(row.label))</td><td>\(row.sends)</td><td>\(row.purchasedSends)</td><td>\(percent(row.conversion))</td>"
                + "<td>\(row.purchases)</td><td>\(Money.describe(row.netCents))</td><td>\(Money.describe(row.grossCents))</td></tr>"
        }
        table += "</table>"
        return "<section><h2>Per \(escape(title))</h2>\(svg)\(table)</section>"
    }

    static func html(_ report: SalesReport) -> String {
        let total = report.total
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>elena-run sales</title>
            <style>
            body{font:14px system-ui,sans-serif;margin:2em;color:#222}
            h1{font-size:20px} h2{font-size:16px;margin-top:2em}
            .bar{fill:#c2185b} svg text{font-size:12px;fill:#222}
            table{border-collapse:collapse;margin-top:.5em} td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}
            .total{font-size:16px}
            </style></head><body>
            <h1>elena-run sales</h1>
            <p class="total" id="total">\(Money.describe(total.netCents)) net (\(Money.describe(total.grossCents)) gross) ·
            \(total.sends) pay-per-view sends · \(total.purchasedSends) bought (\(percent(total.conversion))) ·
            \(report.unattributedPurchases) purchases not tied to items</p>
            \(chart(report.items, title: "item"))
            \(chart(report.tags, title: "tag"))
            \(chart(report.drops, title: "drop"))
            \(chart(report.prices, title: "price"))
            </body></html>

            """
    }
}
