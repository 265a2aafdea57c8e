using System.Text.Json;
using System.Text.Json.Nodes;

namespace SandboxRunner.Configuration;

/// <summary>
/// The shape of one value of <c>.mcp-codex.json</c>: how the loader reads it (recording a problem, never
/// throwing) and how the published JSON Schema describes it. Both come from the same object, so the
/// schema editors validate with cannot drift from what the loader accepts.
/// </summary>
internal sealed class Shape<T>(
    Func<string, JsonElement, ConfigLoader.FieldReader, (bool Ok, T Value)> read,
    Func<JsonObject> schema,
    Func<T, JsonNode?> toJson)
{
    /// <summary>The value at <paramref name="field"/>, or false with the problem recorded in <paramref name="reader"/>.</summary>
    public (bool Ok, T Value) Read(string field, JsonElement value, ConfigLoader.FieldReader reader) => read(field, value, reader);

    /// <summary>A fresh schema fragment (callers add their own keywords to it).</summary>
    public JsonObject Schema() => schema();

    /// <summary>The value as the file would hold it; null when it has none (a default derived from other fields).</summary>
    public JsonNode? ToJson(T value) => toJson(value);
}

/// <summary>A rule for strings: the loader's check, and the nearest JSON Schema pattern (and length) for editors.</summary>
internal sealed record TextRule(ConfigLoader.StringRule Check, string Pattern, string? Format = null)
{
    /// <summary>
    /// At most this many characters in the schema. The loader may count UTF-8 bytes against the same number: a string
    /// it accepts then has no more characters than that, so the schema still accepts it.
    /// </summary>
    public int? MaxLength { get; init; }
}

/// <summary>A rule across the fields of one object: the loader's check (null when it holds) and the schema keywords that say the same.</summary>
internal sealed record ObjectRule<TObject>(Func<TObject, string?> Check, Func<JsonObject> Schema);

/// <summary>The shapes the config's fields are made of.</summary>
internal static class Shapes
{
    public static Shape<int> Int(int min, int max) => new(
        (field, v, r) => r.Int(field, v, min, max) is { } n ? (true, n) : (false, 0),
        () => new JsonObject { ["type"] = "integer", ["minimum"] = min, ["maximum"] = max },
        n => n);

    /// <summary>A whole number the file may leave out (null: the level above decides).</summary>
    public static Shape<int?> OptionalInt(int min, int max) => new(
        (field, v, r) => r.Int(field, v, min, max) is { } n ? (true, n) : (false, null),
        () => new JsonObject { ["type"] = "integer", ["minimum"] = min, ["maximum"] = max },
        n => n);

    public static Shape<long?> Long(long min, long max) => new(
        (field, v, r) => r.Long(field, v, min, max) is { } n ? (true, n) : (false, null),
        () => new JsonObject { ["type"] = "integer", ["minimum"] = min, ["maximum"] = max },
        n => n);

    public static Shape<bool> Bool() => new(
        (field, v, r) => r.Bool(field, v) is { } b ? (true, b) : (false, false),
        () => new JsonObject { ["type"] = "boolean" },
        b => b);

    public static Shape<string> Text(TextRule rule) => new(
        (field, v, r) => r.String(field, v, rule.Check) is { } s ? (true, s) : (false, ""),
        () => TextSchema(rule),
        s => s);

    public static Shape<IReadOnlyList<string>> List(TextRule rule, int? maxItems = null) => new(
        (field, v, r) =>
        {
            if (r.StringList(field, v, rule.Check) is not { } list)
            {
                return (false, []);
            }

            if (list.Count > maxItems)
            {
                r.Problems.Add(new Problem(field, $"may list at most {maxItems} entries (got {list.Count})"));
                return (false, []);
            }

            return (true, list);
        },
        () =>
        {
            var schema = new JsonObject { ["type"] = "array", ["items"] = TextSchema(rule) };
            if (maxItems is { } max)
            {
                schema["maxItems"] = max;
            }

            return schema;
        },
        list => new JsonArray(list.Select(s => (JsonNode?)s).ToArray()));

    /// <summary>A whole number the file may leave out or set to <c>null</c> for "no limit".</summary>
    public static Shape<int?> IntOrNull(int min, int max) => new(
        (field, v, r) => v.ValueKind == JsonValueKind.Null ? (true, null) : r.Int(field, v, min, max) is { } n ? (true, n) : (false, null),
        () => new JsonObject { ["type"] = new JsonArray("integer", "null"), ["minimum"] = min, ["maximum"] = max },
        n => n);

    /// <summary>Nullable: the file may say <c>null</c> explicitly for the absent value.</summary>
    public static Shape<T?> OrNull<T>(Shape<T> inner)
        where T : class => new(
        (field, v, r) => v.ValueKind == JsonValueKind.Null ? (true, null) : inner.Read(field, v, r),
        () =>
        {
            var schema = inner.Schema();
            schema["type"] = new JsonArray(schema["type"]!.GetValue<string>(), "null");
            return schema;
        },
        value => value is null ? null : inner.ToJson(value));

    /// <summary>The property is null when the file leaves the field out (a derived default); the file itself may not say null.</summary>
    public static Shape<T?> OrAbsent<T>(Shape<T> inner)
        where T : class => new(
        (field, v, r) => inner.Read(field, v, r),
        inner.Schema,
        value => value is null ? null : inner.ToJson(value));

    public static Shape<T> Enum<T>(IReadOnlyDictionary<string, T> values)
        where T : struct => new(
        (field, v, r) => r.Enum(field, v, values) is { } e ? (true, e) : (false, default),
        () => new JsonObject { ["type"] = "string", ["enum"] = new JsonArray(values.Keys.Select(k => (JsonNode?)k).ToArray()) },
        value => values.First(kv => EqualityComparer<T>.Default.Equals(kv.Value, value)).Key);

    /// <summary>
    /// A nested object with fields of its own; unknown ones are refused, as at the top level. A <paramref name="rule"/>
    /// across its fields is checked only when each field was valid on its own, so one mistake is reported once.
    /// </summary>
    public static Shape<TObject> Object<TObject>(ConfigFields<TObject> fields, TObject empty, ObjectRule<TObject>? rule = null) => new(
        (field, v, r) =>
        {
            if (v.ValueKind != JsonValueKind.Object)
            {
                r.Problems.Add(new Problem(field, $"must be an object with any of {string.Join(", ", fields.Names)}"));
                return (false, empty);
            }

            var before = r.Problems.Count;
            var value = fields.Read(v, $"{field}.", r, empty);
            if (r.Problems.Count == before && rule?.Check(value) is { } broken)
            {
                r.Problems.Add(new Problem(field, broken));
                return (false, empty);
            }

            return (r.Problems.Count == before, value);
        },
        () =>
        {
            var schema = fields.Schema(empty);
            foreach (var (key, node) in rule?.Schema() ?? [])
            {
                schema[key] = node?.DeepClone();
            }

            return schema;
        },
        value => fields.ToJson(value));

    /// <summary>An object of names the user chooses (each checked by <paramref name="name"/>), every value of one shape.</summary>
    public static Shape<IReadOnlyDictionary<string, T>> Map<T>(TextRule name, Shape<T> value) => new(
        (field, v, r) =>
        {
            var map = new Dictionary<string, T>(StringComparer.Ordinal);
            if (v.ValueKind != JsonValueKind.Object)
            {
                r.Problems.Add(new Problem(field, "must be an object of name: value"));
                return (false, map);
            }

            var ok = true;
            foreach (var property in v.EnumerateObject())
            {
                var at = $"{field}.{property.Name}";
                if (name.Check(property.Name) is { } broken)
                {
                    r.Problems.Add(new Problem(at, broken));
                    ok = false;
                    continue;
                }

                // A name given twice keeps its last value, as a top-level field given twice does.
                var (good, item) = value.Read(at, property.Value, r);
                ok &= good;
                map[property.Name] = item;
            }

            return (ok, map);
        },
        () => new JsonObject { ["type"] = "object", ["propertyNames"] = TextSchema(name), ["additionalProperties"] = value.Schema() },
        map => new JsonObject(map.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, value.ToJson(kv.Value)))));

    private static JsonObject TextSchema(TextRule rule)
    {
        var schema = new JsonObject { ["type"] = "string", ["pattern"] = rule.Pattern };
        if (rule.MaxLength is { } max)
        {
            schema["maxLength"] = max;
        }

        if (rule.Format is not null)
        {
            schema["format"] = rule.Format;
        }

        return schema;
    }
}

/// <summary>One field of an object in the config: its JSON name, what it means, its shape, and where it goes.</summary>
internal sealed class ConfigField<TTarget>(
    string name,
    string description,
    Func<TTarget, JsonElement, string, ConfigLoader.FieldReader, TTarget> apply,
    Func<TTarget, JsonObject> schema,
    Func<TTarget, JsonNode?> value)
{
    public string Name { get; } = name;

    public string Description { get; } = description;

    /// <summary>Reads the field's value into <paramref name="target"/>; on a problem, records it and leaves the target as it was.</summary>
    public TTarget Apply(TTarget target, JsonElement json, string field, ConfigLoader.FieldReader reader) => apply(target, json, field, reader);

    /// <summary>The field's schema, with its description and, when it has one, the default <paramref name="defaults"/> holds.</summary>
    public JsonObject Schema(TTarget defaults) => schema(defaults);

    /// <summary>The field's value in <paramref name="target"/> as JSON (null when it has no JSON form).</summary>
    public JsonNode? Value(TTarget target) => value(target);
}

/// <summary>
/// The fields of one object of the config, in the order the schema lists them. The loader reads through
/// this table and the schema is generated from it: adding a field here is all either needs.
/// </summary>
internal sealed class ConfigFields<TTarget>(IReadOnlyList<ConfigField<TTarget>> fields)
{
    private readonly Dictionary<string, ConfigField<TTarget>> _byName = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);

    public IReadOnlyList<ConfigField<TTarget>> All => fields;

    public IReadOnlyList<string> Names { get; } = fields.Select(f => f.Name).ToList();

    public static ConfigField<TTarget> Field<T>(string name, string description, Shape<T> shape, Func<TTarget, T> get, Func<TTarget, T, TTarget> set) => new(
        name,
        description,
        (target, json, field, reader) => shape.Read(field, json, reader) is (true, var v) ? set(target, v) : target,
        defaults =>
        {
            var schema = new JsonObject { ["description"] = description };
            foreach (var (key, node) in shape.Schema().ToList())
            {
                schema[key] = node?.DeepClone();
            }

            if (shape.ToJson(get(defaults)) is { } value)
            {
                schema["default"] = value;
            }

            return schema;
        },
        target => shape.ToJson(get(target)));

    public bool TryGet(string name, out ConfigField<TTarget> field) => _byName.TryGetValue(name, out field!);

    /// <summary>Reads every property of <paramref name="json"/> over <paramref name="start"/>; unknown ones are problems.</summary>
    public TTarget Read(JsonElement json, string prefix, ConfigLoader.FieldReader reader, TTarget start)
    {
        var target = start;
        foreach (var property in json.EnumerateObject())
        {
            var name = prefix + property.Name;
            if (TryGet(property.Name, out var field))
            {
                target = field.Apply(target, property.Value, name, reader);
            }
            else
            {
                reader.Problems.Add(new Problem(name, FieldNames.Unknown(property.Name, Names)));
            }
        }

        return target;
    }

    public JsonObject Schema(TTarget defaults)
    {
        var properties = new JsonObject();
        foreach (var field in fields)
        {
            properties[field.Name] = field.Schema(defaults);
        }

        return new JsonObject { ["type"] = "object", ["properties"] = properties, ["additionalProperties"] = false };
    }

    public JsonObject ToJson(TTarget target)
    {
        var json = new JsonObject();
        foreach (var field in fields)
        {
            if (field.Value(target) is { } value)
            {
                json[field.Name] = value;
            }
        }

        return json;
    }

    /// <summary>The names of the fields whose values differ between two targets.</summary>
    public IReadOnlyList<string> Changed(TTarget before, TTarget after) =>
        fields.Where(f => !JsonNode.DeepEquals(f.Value(before), f.Value(after))).Select(f => f.Name).ToList();
}
