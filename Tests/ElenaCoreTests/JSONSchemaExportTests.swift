import ElenaCore
import Foundation
import Testing

@Suite struct JSONSchemaExportTests {
    static func committed() throws -> String {
        String(decoding: try TestFiles.repositoryFile("schema/manifest.schema.json"), as: UTF8.self)
    }

    @Test func exportEqualsTheCommittedFileByteForByte() throws {
        let committed = try TestFiles.repositoryFile("schema/manifest.schema.json")
        let exported = Data(JSONSchemaExport.manifestDocument().utf8)
        #expect(
            exported == committed,
            "schema/manifest.schema.json is stale: regenerate it from JSONSchemaExport.manifestDocument()")
    }

    @Test func exportIsValidJSONWithTheDocumentHeaderFirst() throws {
        let document = try JSONValue.parse(JSONSchemaExport.manifestDocument())
        guard case .object(let members) = document else {
            Issue.record("the schema is not a JSON object")
            return
        }
        #expect(Array(members.prefix(4).map(\.key)) == ["$schema", "$id", "title", "type"])
        #expect(document["$schema"]?.stringValue == "https://json-schema.org/draft/2020-12/schema")
        #expect(document["additionalProperties"]?.boolValue == false)
    }

    /// Walks the exported JSON and the `Schema` side by side: every object lists exactly the schema's keys, in order,
    /// with the same required keys, and forbids any other key.
    @Test func everyObjectListsExactlyTheSchemasKeys() throws {
        let document = try JSONValue.parse(try Self.committed())
        var objectsSeen = 0
        try Self.walk(document, ManifestSchema.root, path: "$", objectsSeen: &objectsSeen)
        // root, source, generate, generate.inputs, generate.seeds, generate.loras[], crop, persona, publish,
        // publish.post, publish.message, items[], items[].crop
        #expect(objectsSeen == 13)
    }

    static func walk(_ json: JSONValue, _ schema: Schema, path: String, objectsSeen: inout Int) throws {
        switch schema {
        case .object(let object):
            objectsSeen += 1
            #expect(json["type"]?.stringValue == "object", "\(path)")
            #expect(json["additionalProperties"]?.boolValue == false, "\(path) must forbid unknown keys")
            guard case .object(let properties)? = json["properties"] else {
                Issue.record("\(path) has no properties")
                return
            }
            #expect(properties.map(\.key) == object.keys, "\(path)")
            let required = (json["required"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(required == object.properties.filter(\.required).map(\.name), "\(path)")
            for property in object.properties {
                let child = try #require(json["properties"]?[property.name], "\(path).\(property.name) is missing")
                #expect(child["description"]?.stringValue == property.summary, "\(path).\(property.name)")
                try walk(child, property.schema, path: "\(path).\(property.name)", objectsSeen: &objectsSeen)
            }
        case .array(let element, let minItems, let unique):
            #expect(json["type"]?.stringValue == "array", "\(path)")
            #expect((json["minItems"]?.intValue ?? 0) == minItems, "\(path)")
            #expect((json["uniqueItems"]?.boolValue ?? false) == unique, "\(path)")
            let items = try #require(json["items"], "\(path) has no items")
            try walk(items, element, path: "\(path)[]", objectsSeen: &objectsSeen)
        case .stringOrList(let rule):
            let choices = try #require(json["oneOf"]?.arrayValue, "\(path) has no oneOf")
            try #require(choices.count == 2)
            try walk(choices[0], .string(rule), path: "\(path)|string", objectsSeen: &objectsSeen)
            #expect(choices[1]["type"]?.stringValue == "array", "\(path)")
            #expect(choices[1]["minItems"]?.intValue == 1, "\(path)")
        case .string(let rule):
            #expect(json["type"]?.stringValue == "string", "\(path)")
            let allowed = (json["enum"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(allowed == rule.allowed, "\(path)")
            #expect(json["pattern"]?.stringValue == rule.pattern.map { "^(?:\($0))$" }, "\(path)")
            #expect(json["minLength"]?.intValue == rule.minLength, "\(path)")
            #expect(json["maxLength"]?.intValue == rule.maxLength, "\(path)")
        case .integer(let range):
            #expect(json["type"]?.stringValue == "integer", "\(path)")
            checkRange(json, range, path: path)
        case .number(let range):
            #expect(json["type"]?.stringValue == "number", "\(path)")
            checkRange(json, range, path: path)
        case .boolean:
            #expect(json["type"]?.stringValue == "boolean", "\(path)")
        }
    }

    static func checkRange(_ json: JSONValue, _ range: NumberRange, path: String) {
        #expect(json["minimum"]?.doubleValue == range.minimum, "\(path)")
        let maximumKey = range.exclusiveMaximum ? "exclusiveMaximum" : "maximum"
        #expect(json[maximumKey]?.doubleValue == range.maximum, "\(path)")
    }

    @Test func enumsInTheSchemaMatchTheSwiftEnums() throws {
        let document = try JSONValue.parse(try Self.committed())
        let crop = try #require(document["properties"]?["crop"]?["properties"])
        #expect(crop["strategy"]?["enum"]?.arrayValue?.compactMap(\.stringValue) == CropStrategy.allCases.map(\.rawValue))
        #expect(crop["fallback"]?["enum"]?.arrayValue?.compactMap(\.stringValue) == ["top_fraction", "keep"])
        #expect(crop["top_fraction"]?["default"] == .double(0.3))
        #expect(crop["quality"]?["default"] == .int(92))
        let publish = try #require(document["properties"]?["publish"]?["properties"])
        #expect(publish["to"]?["enum"]?.arrayValue?.compactMap(\.stringValue) == ["folder", "fanvue"])
        #expect(publish["price"]?["minimum"] == .int(3))
    }
}
