import Foundation
internal import Yams

/// Parses YAML text and checks it against a `Schema`, collecting every problem with its location.
package struct SchemaValidator: Sendable {
    /// The schema of the document's root.
    package var schema: Schema
    /// The file name used in locations.
    package var file: String

    /// Creates a validator.
    package init(schema: Schema, file: String) {
        self.schema = schema
        self.file = file
    }

    /// Parses and validates.
    /// - Parameter text: the YAML document.
    /// - Returns: the located value tree (present when the YAML parsed, even if it has schema errors) and the
    ///   diagnostics in file order.
    package func validate(_ text: String) -> (ConfigNode?, [Diagnostic]) {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return (nil, [Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), key: "", "the manifest is empty")])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            if case .duplicatedKeysInMapping(let keys, let context) = error, let key = keys.first {
                return (nil, [duplicateDiagnostic(key, first: context.mark, text: text)])
            }
            return (nil, [yamlDiagnostic(error)])
        } catch {
            return (nil, [Diagnostic(at: nil, key: "", "cannot read YAML: \(error)")])
        }
        guard let root else {
            return (nil, [Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), key: "", "the manifest is empty")])
        }
        var diagnostics: [Diagnostic] = []
        let node = check(root, against: schema, path: "", diagnostics: &diagnostics)
        diagnostics.sort { ($0.location?.line ?? 0, $0.location?.column ?? 0) < ($1.location?.line ?? 0, $1.location?.column ?? 0) }
        return (node, diagnostics)
    }

    private func location(_ node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    private func yamlDiagnostic(_ error: YamlError) -> Diagnostic { Self.yamlDiagnostic(error, file: file) }

    /// A YAML parser's error as a located diagnostic with what to do (for any YAML file elena-run reads); nil for
    /// an error that is not the parser's.
    package static func yamlDiagnostic(of error: any Error, file: String) -> Diagnostic? {
        (error as? YamlError).map { yamlDiagnostic($0, file: file) }
    }

    static func yamlDiagnostic(_ error: YamlError, file: String) -> Diagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return Diagnostic(
                at: SourceLocation(file: file, line: mark.line, column: mark.column), key: "",
                "invalid YAML: \(problem)", hint: Self.yamlHint(problem))
        case .reader(let problem, _, _, _):
            return Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), key: "", "cannot read YAML: \(problem)")
        default:
            return Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), key: "", "invalid YAML: \(error)")
        }
    }

    /// What to do about the YAML mistakes people make (the parser's words name only the rule).
    static func yamlHint(_ problem: String) -> String? {
        if problem.contains("tab") { return "YAML is indented with spaces, never tabs: replace the tabs with spaces" }
        if problem.contains("mapping values are not allowed") {
            return "a value holding ': ' must be quoted, e.g. caption: \"New: set\""
        }
        if problem.contains("did not find expected ',' or '}'") || problem.contains("did not find expected ',' or ']'") {
            return "inside { } or [ ], a value holding ':' or ',' must be quoted, e.g. {caption: \"New: set\"}"
        }
        if problem.contains("cannot start any token") {
            return "a value starting with @, ` or a tab must be quoted, and indentation uses spaces"
        }
        return nil
    }

    /// YAML refuses a mapping with a repeated key before any tree exists; find the repetition in the text
    /// (same indentation, after the first) and name its dotted path from the enclosing keys.
    private func duplicateDiagnostic(_ key: String, first: Mark, text: String) -> Diagnostic {
        // YAML also breaks lines at a lone carriage return: count lines the way it does (found by the fuzzer: a
        // mark past the last "\n"-separated line crashed the search below).
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        func indentation(_ line: String) -> Int { line.prefix { $0 == " " }.count }
        func keyOf(_ line: String) -> String? {
            var content = line.drop { $0 == " " }
            if content.hasPrefix("- ") { content = content.dropFirst(2) }
            guard let colon = content.firstIndex(of: ":") else { return nil }
            let name = content[..<colon].trimmingCharacters(in: .whitespaces)
            return name.isEmpty || name.hasPrefix("#") ? nil : name
        }
        var line = first.line
        for index in min(max(0, first.line), lines.count)..<lines.count
        where indentation(lines[index]) == first.column - 1 && keyOf(lines[index]) == key {
            line = index + 1
            break
        }
        var path = [key]
        var depth = first.column - 1
        var cursor = min(first.line - 2, lines.count - 1)
        while depth > 0, cursor >= 0 {
            let candidate = lines[cursor]
            if !candidate.trimmingCharacters(in: .whitespaces).isEmpty, indentation(candidate) < depth,
                let parent = keyOf(candidate)
            {
                path.insert(parent, at: 0)
                depth = indentation(candidate)
            }
            cursor -= 1
        }
        let keyPath = path.joined(separator: ".")
        return Diagnostic(
            at: SourceLocation(file: file, line: line, column: first.column), key: keyPath,
            "'\(keyPath)' is given twice (first at line \(first.line))")
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if scalar.style == .singleQuoted || scalar.style == .doubleQuoted { return "'\(scalar.string)'" }
            if tagName(node) == .null { return "nothing (null)" }
            return "'\(scalar.string)'"
        }
    }

    /// The resolved YAML tag of a node (`int`, `float`, `str`…).
    private func tagName(_ node: Node) -> Tag.Name { Tag.Name(rawValue: node.tag.rawValue) }

    private func label(_ path: String) -> String { path.isEmpty ? "the manifest" : "'\(path)'" }

    private func check(
        _ node: Node, against schema: Schema, path: String, keyLocation: SourceLocation? = nil,
        diagnostics: inout [Diagnostic]
    ) -> ConfigNode? {
        let here = location(node)
        func mismatch() -> ConfigNode? {
            diagnostics.append(
                Diagnostic(at: here, key: path, "\(label(path)) must be \(schema.noun), found \(describe(node))"))
            return nil
        }
        switch schema {
        case .object(let object):
            guard case .mapping(let mapping) = node else { return mismatch() }
            return checkObject(mapping, object, at: here, keyLocation: keyLocation, path: path, diagnostics: &diagnostics)
        case .array(let element, let minItems, let unique):
            guard case .sequence(let sequence) = node else { return mismatch() }
            var items: [ConfigNode] = []
            var seen: Set<ConfigNode.Value> = []
            for (index, child) in sequence.enumerated() {
                let childPath = "\(path)[\(index)]"
                guard let value = check(child, against: element, path: childPath, diagnostics: &diagnostics) else {
                    continue
                }
                if unique, !seen.insert(value.value).inserted {
                    diagnostics.append(
                        Diagnostic(
                            at: value.location, key: childPath,
                            "\(label(path)) lists \(value.string.map { "'\($0)'" } ?? "a value") twice"))
                }
                items.append(value)
            }
            if sequence.count < minItems {
                diagnostics.append(
                    Diagnostic(at: here, key: path, "\(label(path)) needs at least \(minItems) entr\(minItems == 1 ? "y" : "ies")"))
            }
            return ConfigNode(.array(items), at: here)
        case .stringOrList(let rule):
            if case .sequence = node {
                return check(node, against: .array(of: .string(rule), minItems: 1), path: path, diagnostics: &diagnostics)
            }
            return check(node, against: .string(rule), path: path, diagnostics: &diagnostics)
        case .string(let rule):
            guard case .scalar(let scalar) = node, tagName(node) != .null else { return mismatch() }
            let text = scalar.string
            checkString(text, rule, at: here, path: path, diagnostics: &diagnostics)
            return ConfigNode(.string(text), at: here)
        case .integer(let range):
            guard case .scalar(let scalar) = node, tagName(node) == .int, let number = Int(scalar.string.replacingOccurrences(of: "_", with: ""))
            else { return mismatch() }
            checkRange(Double(number), range, text: scalar.string, at: here, path: path, diagnostics: &diagnostics)
            return ConfigNode(.int(number), at: here)
        case .number(let range):
            guard case .scalar(let scalar) = node, tagName(node) == .int || tagName(node) == .float,
                let number = Double(scalar.string.replacingOccurrences(of: "_", with: "")), number.isFinite
            else { return mismatch() }
            checkRange(number, range, text: scalar.string, at: here, path: path, diagnostics: &diagnostics)
            if tagName(node) == .int, let whole = Int(scalar.string) { return ConfigNode(.int(whole), at: here) }
            return ConfigNode(.double(number), at: here)
        case .boolean:
            guard case .scalar = node, tagName(node) == .bool, let flag = node.bool else { return mismatch() }
            return ConfigNode(.bool(flag), at: here)
        }
    }

    private func checkObject(
        _ mapping: Node.Mapping, _ object: ObjectSchema, at here: SourceLocation, keyLocation: SourceLocation?,
        path: String, diagnostics: inout [Diagnostic]
    ) -> ConfigNode {
        var entries: [ConfigNode.Entry] = []
        var seen: [String: SourceLocation] = [:]
        var suggested: Set<String> = []
        for (keyNode, valueNode) in mapping {
            let keyLocation = location(keyNode)
            guard case .scalar(let keyScalar) = keyNode else {
                diagnostics.append(Diagnostic(at: keyLocation, key: path, "keys in \(label(path)) must be plain words"))
                continue
            }
            let key = keyScalar.string
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if let first = seen[key] {
                diagnostics.append(
                    Diagnostic(at: keyLocation, key: keyPath, "'\(keyPath)' is given twice (first at line \(first.line))"))
                continue
            }
            seen[key] = keyLocation
            guard let property = object.property(key) else {
                let closest = Suggestion.closest(to: key, in: object.keys)
                if let closest { suggested.insert(closest) }
                let hint = closest.map { "did you mean '\($0)'?" }
                let where_ = path.isEmpty ? "at the top level" : "in '\(path)'"
                diagnostics.append(
                    Diagnostic(
                        at: keyLocation, key: keyPath,
                        "unknown key '\(key)' \(where_); valid keys are \(object.keys.joined(separator: ", "))",
                        hint: hint))
                continue
            }
            if case .scalar = valueNode, tagName(valueNode) == .null, !property.required {
                continue  // `key:` with no value means "use the default"
            }
            if let value = check(
                valueNode, against: property.schema, path: keyPath, keyLocation: keyLocation, diagnostics: &diagnostics)
            {
                entries.append(ConfigNode.Entry(key: key, keyLocation: keyLocation, node: value))
            }
        }
        // A required key an unknown key was taken for ('stratgy' for 'strategy') is said once, by that key's error.
        for property in object.properties where property.required && seen[property.name] == nil
            && !suggested.contains(property.name)
        {
            let keyPath = path.isEmpty ? property.name : "\(path).\(property.name)"
            // Point at the mapping's own key (`crop:`), where the missing key belongs.
            diagnostics.append(
                Diagnostic(at: keyLocation ?? here, key: keyPath, "missing required key '\(keyPath)': \(property.summary)"))
        }
        return ConfigNode(.object(entries), at: here)
    }

    private func checkString(
        _ text: String, _ rule: StringRule, at here: SourceLocation, path: String, diagnostics: inout [Diagnostic]
    ) {
        if !rule.allowed.isEmpty, !rule.allowed.contains(text) {
            let hint = Suggestion.closest(to: text, in: rule.allowed).map { "did you mean '\($0)'?" }
            diagnostics.append(
                Diagnostic(
                    at: here, key: path, "\(label(path)) must be \(rule.allowedList), not '\(text)'", hint: hint))
            return
        }
        if let minLength = rule.minLength, text.count < minLength {
            diagnostics.append(
                Diagnostic(at: here, key: path, "\(label(path)) must have at least \(minLength) character\(minLength == 1 ? "" : "s")"))
        }
        if let maxLength = rule.maxLength, text.count > maxLength {
            diagnostics.append(
                Diagnostic(at: here, key: path, "\(label(path)) is \(text.count) characters long; the limit is \(maxLength)"))
        }
        if let pattern = rule.pattern, !Pattern.wholeMatch(pattern, text) {
            let meaning = rule.patternMeaning ?? "text matching \(pattern)"
            diagnostics.append(Diagnostic(at: here, key: path, "\(label(path)) must be \(meaning), not '\(text)'"))
        }
        if rule.format == "date-time", Timestamp.parse(text) == nil {
            diagnostics.append(
                Diagnostic(
                    at: here, key: path,
                    "\(label(path)) must be a date and time like 2026-12-01T18:00:00Z, not '\(text)'"))
        }
    }

    private func checkRange(
        _ number: Double, _ range: NumberRange, text: String, at here: SourceLocation, path: String,
        diagnostics: inout [Diagnostic]
    ) {
        if let minimum = range.minimum, number < minimum {
            let reason = range.minimumReason.map { " (\($0))" } ?? ""
            diagnostics.append(
                Diagnostic(
                    at: here, key: path,
                    "\(label(path)) is \(text), below the minimum of \(NumberText.format(minimum))\(reason)"))
        }
        if let maximum = range.maximum {
            let over = range.exclusiveMaximum ? number >= maximum : number > maximum
            if over {
                let bound = range.exclusiveMaximum ? "must be less than" : "must be at most"
                diagnostics.append(
                    Diagnostic(at: here, key: path, "\(label(path)) is \(text); it \(bound) \(NumberText.format(maximum))"))
            }
        }
    }
}

/// Whole-string regular-expression matching for schema patterns.
enum Pattern {
    static func wholeMatch(_ pattern: String, _ text: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return false }
        return (try? regex.wholeMatch(in: text)) != nil
    }
}

/// Numbers written the short way: 3 rather than 3.0, 0.3 rather than 0.30000000000000004.
package enum NumberText {
    /// A compact decimal rendering.
    package static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}
