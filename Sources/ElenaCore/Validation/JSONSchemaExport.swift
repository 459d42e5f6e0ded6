/// Exports a `Schema` as JSON Schema (draft 2020-12), the form editors and CI linters understand.
package enum JSONSchemaExport {
    /// The JSON Schema document for the manifest, as committed in `schema/manifest.schema.json`.
    package static func manifestDocument() -> String {
        var root = convert(ManifestSchema.root)
        if case .object(var members) = root {
            members.insert(JSONValue.Member("$schema", .string("https://json-schema.org/draft/2020-12/schema")), at: 0)
            members.insert(JSONValue.Member("$id", .string("https://elena-run.local/schema/manifest.schema.json")), at: 1)
            members.insert(JSONValue.Member("title", .string("elena-run manifest, version 1")), at: 2)
            root = .object(members)
        }
        return root.pretty()
    }

    /// Converts one schema node.
    package static func convert(_ schema: Schema, summary: String? = nil, defaultValue: DefaultValue? = nil) -> JSONValue {
        var members: [JSONValue.Member] = []
        if let summary { members.append(.init("description", .string(summary))) }
        switch schema {
        case .object(let object):
            members.append(.init("type", .string("object")))
            if summary == nil { members.append(.init("description", .string(object.summary))) }
            members.append(
                .init(
                    "properties",
                    .object(
                        object.properties.map {
                            JSONValue.Member($0.name, convert($0.schema, summary: $0.summary, defaultValue: $0.defaultValue))
                        })))
            let required = object.properties.filter(\.required).map { JSONValue.string($0.name) }
            if !required.isEmpty { members.append(.init("required", .array(required))) }
            members.append(.init("additionalProperties", .bool(false)))
        case .array(let element, let minItems, let unique):
            members.append(.init("type", .string("array")))
            members.append(.init("items", convert(element)))
            if minItems > 0 { members.append(.init("minItems", .int(minItems))) }
            if unique { members.append(.init("uniqueItems", .bool(true))) }
        case .string(let rule):
            members.append(contentsOf: stringMembers(rule))
        case .stringOrList(let rule):
            let single = JSONValue.object(stringMembers(rule))
            members.append(
                .init("oneOf", .array([single, .object([.init("type", .string("array")), .init("items", single), .init("minItems", .int(1))])])))
        case .integer(let range):
            members.append(.init("type", .string("integer")))
            members.append(contentsOf: rangeMembers(range))
        case .number(let range):
            members.append(.init("type", .string("number")))
            members.append(contentsOf: rangeMembers(range))
        case .boolean:
            members.append(.init("type", .string("boolean")))
        }
        if let defaultValue { members.append(.init("default", json(defaultValue))) }
        return .object(members)
    }

    private static func stringMembers(_ rule: StringRule) -> [JSONValue.Member] {
        var members: [JSONValue.Member] = [.init("type", .string("string"))]
        if !rule.allowed.isEmpty { members.append(.init("enum", .array(rule.allowed.map(JSONValue.string)))) }
        if let pattern = rule.pattern { members.append(.init("pattern", .string("^(?:\(pattern))$"))) }
        if let minLength = rule.minLength { members.append(.init("minLength", .int(minLength))) }
        if let maxLength = rule.maxLength { members.append(.init("maxLength", .int(maxLength))) }
        if let format = rule.format { members.append(.init("format", .string(format))) }
        return members
    }

    private static func rangeMembers(_ range: NumberRange) -> [JSONValue.Member] {
        var members: [JSONValue.Member] = []
        if let minimum = range.minimum { members.append(.init("minimum", number(minimum))) }
        if let maximum = range.maximum {
            members.append(.init(range.exclusiveMaximum ? "exclusiveMaximum" : "maximum", number(maximum)))
        }
        return members
    }

    private static func number(_ value: Double) -> JSONValue {
        value == value.rounded() && abs(value) < 1e15 ? .int(Int(value)) : .double(value)
    }

    private static func json(_ value: DefaultValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .number(let number): return self.number(number)
        case .integer(let number): return .int(number)
        case .bool(let flag): return .bool(flag)
        case .strings(let list): return .array(list.map(JSONValue.string))
        }
    }
}
