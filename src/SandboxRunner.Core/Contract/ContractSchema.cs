using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.AI;

namespace SandboxRunner.Contract;

/// <summary>
/// The JSON Schemas of the tools' arguments and results, made by Microsoft.Extensions.AI from the records
/// themselves: names, descriptions, and the DataAnnotations constraints (<see cref="RequiredAttribute"/>,
/// <see cref="RangeAttribute"/>, <see cref="TextRuleAttribute"/>, <see cref="AllowedValuesAttribute"/>,
/// <see cref="MinLengthAttribute"/>, <see cref="MaxLengthAttribute"/>) that <see cref="ArgumentReader"/>
/// enforces. The transforms make every schema say what the server does, in the dialect every client reads:
/// a single <c>type</c> per value (never <c>["string","null"]</c>), <c>required</c> for what must be there.
/// </summary>
public static class ContractSchema
{
    /// <summary>How arguments are read: absent means the default; null is refused like any other wrong type.</summary>
    public static AIJsonSchemaCreateOptions Input { get; } = new() { TransformSchemaNode = TransformInput };

    /// <summary>
    /// How results are written. A nullable field is left out when null (the serializer's
    /// <see cref="JsonIgnoreCondition.WhenWritingNull"/>), so it is optional with a single type; a field marked
    /// <see cref="JsonIgnoreCondition.Never"/> is always there and may be null, which only <c>anyOf</c> says portably.
    /// </summary>
    public static AIJsonSchemaCreateOptions Output { get; } = new() { TransformSchemaNode = TransformOutput };

    /// <summary>The options arguments are read with; results use the MCP SDK's (which also leave nulls out).</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The input schema of a tool whose arguments are <paramref name="arguments"/> (null: a tool without arguments).</summary>
    /// <remarks>Marked for <see cref="SayOnce"/>, which every published list goes through; <see cref="Published"/> is one tool's alone.</remarks>
    public static JsonObject InputSchema(Type? arguments) =>
        arguments is null
            ? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject(), ["additionalProperties"] = false }
            : JsonNode.Parse(AIJsonUtilities.CreateJsonSchema(arguments, serializerOptions: Json, inferenceOptions: Input).GetRawText())!.AsObject();

    /// <summary>The input schema of one tool taking <paramref name="arguments"/>, as a list holding only that tool publishes it.</summary>
    public static JsonObject Published(Type? arguments)
    {
        var schema = InputSchema(arguments);
        SayOnce([("tool", schema, null)]);
        return schema;
    }

    private static JsonNode TransformInput(AIJsonSchemaCreateContext context, JsonNode node)
    {
        if (node is not JsonObject schema)
        {
            return node;
        }

        DropNullType(schema);
        if (context.TypeInfo.Kind == JsonTypeInfoKind.Object && schema.ContainsKey("properties"))
        {
            // Unknown arguments are refused (a misspelt optional field must not silently mean its default).
            schema["additionalProperties"] = false;
            schema[RecordMarker] = context.TypeInfo.Type.FullName;
        }

        if (context.TypeInfo.Kind == JsonTypeInfoKind.Enumerable && schema["items"] is JsonObject items)
        {
            // A string rule on a list holds for each item, where JSON Schema can check it.
            foreach (var keyword in (string[])["pattern", "minLength", "maxLength"])
            {
                if (schema.Remove(keyword, out var value))
                {
                    items[keyword] = value;
                }
            }
        }

        return schema;
    }

    private static JsonNode TransformOutput(AIJsonSchemaCreateContext context, JsonNode node)
    {
        if (node is not JsonObject schema)
        {
            return node;
        }

        if (context.TypeInfo.Kind == JsonTypeInfoKind.Object && schema["properties"] is JsonObject written)
        {
            schema[RecordMarker] = context.TypeInfo.Type.FullName;
            var always = context.TypeInfo.Properties
                .Where(p => written.ContainsKey(p.Name) && (!IsNullable(p) || WrittenWhenNull(p)))
                .Select(p => (JsonNode?)p.Name)
                .ToArray();
            schema.Remove("required");
            if (always.Length > 0)
            {
                schema["required"] = new JsonArray(always);
            }
        }

        if (context.PropertyInfo is { } property && IsNullType(schema) && WrittenWhenNull(property))
        {
            return NullableBranches(schema);
        }

        DropNullType(schema);
        return schema;
    }

    /// <summary>
    /// Says each record once per tool list, since a client pays for every byte of it in every session:
    /// a record an earlier tool's output already defined becomes <c>{"type": "object"}</c> with a description
    /// saying where (clients still check it is an object; the model has read the fields), and an argument record
    /// an earlier tool already described keeps every constraint but not the descriptions. Tools in listing order.
    /// </summary>
    public static void SayOnce(IReadOnlyList<(string Tool, JsonObject Input, JsonObject? Output)> tools)
    {
        var defined = new Dictionary<string, string>(StringComparer.Ordinal);
        var described = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (tool, input, output) in tools)
        {
            Walk(input, "", top: true, node =>
            {
                if (!described.Add(node.Marker))
                {
                    foreach (var (_, property) in (JsonObject)node.Schema["properties"]!)
                    {
                        ((JsonObject)property!).Remove("description");
                    }
                }

                return node.Schema;
            });

            if (output is not null)
            {
                Walk(output, "", top: true, node =>
                {
                    if (node.Top || !defined.TryGetValue(node.Marker, out var where))
                    {
                        defined.TryAdd(node.Marker, node.Path.Length == 0 ? $"as {tool} returns it" : $"as {tool} returns in {node.Path}");
                        return node.Schema;
                    }

                    return new JsonObject { ["description"] = where, ["type"] = "object" };
                });
            }
        }
    }

    /// <summary>Marks the schema of a record (removed by <see cref="SayOnce"/>).</summary>
    private const string RecordMarker = "x-record";

    private sealed record RecordNode(JsonObject Schema, string Marker, string Path, bool Top);

    /// <summary>
    /// Visits every record schema under <paramref name="schema"/>, outermost first; returns what replaces
    /// <paramref name="schema"/> when <paramref name="visit"/> replaced it, else null.
    /// </summary>
    private static JsonObject? Walk(JsonObject schema, string path, bool top, Func<RecordNode, JsonObject> visit)
    {
        if (schema.Remove(RecordMarker, out var marker))
        {
            var replaced = visit(new RecordNode(schema, marker!.GetValue<string>(), path, top));
            if (!ReferenceEquals(replaced, schema))
            {
                return replaced;
            }
        }

        if (schema["properties"] is JsonObject properties)
        {
            foreach (var (name, property) in properties.ToList())
            {
                if (Walk((JsonObject)property!, path.Length == 0 ? name : $"{path}.{name}", top: false, visit) is { } replaced)
                {
                    properties[name] = replaced;
                }
            }
        }

        if (schema["items"] is JsonObject items && Walk(items, $"{path}[]", top: false, visit) is { } item)
        {
            schema["items"] = item;
        }

        if (schema["anyOf"] is JsonArray branches)
        {
            for (var i = 0; i < branches.Count; i++)
            {
                if (Walk((JsonObject)branches[i]!, path, top, visit) is { } branch)
                {
                    branches[i] = branch;
                }
            }
        }

        return null;
    }

    private static bool IsNullable(JsonPropertyInfo property) =>
        property.IsGetNullable || Nullable.GetUnderlyingType(property.PropertyType) is not null;

    private static bool WrittenWhenNull(JsonPropertyInfo property) =>
        property.AttributeProvider?.GetCustomAttributes(typeof(JsonIgnoreAttribute), inherit: true).OfType<JsonIgnoreAttribute>().FirstOrDefault() is { } ignore
            ? ignore.Condition == JsonIgnoreCondition.Never
            : property.Options.DefaultIgnoreCondition == JsonIgnoreCondition.Never;

    private static bool IsNullType(JsonObject schema) =>
        schema["type"] is JsonArray types && types.Any(t => t?.GetValue<string>() == "null");

    /// <summary><c>{"type": ["integer", "null"], …}</c> becomes <c>{"type": "integer", …}</c>.</summary>
    private static void DropNullType(JsonObject schema)
    {
        if (schema["type"] is not JsonArray types)
        {
            return;
        }

        var rest = types.Select(t => t!.GetValue<string>()).Where(t => t != "null").ToList();
        schema["type"] = rest.Count == 1 ? rest[0] : new JsonArray(rest.Select(t => (JsonNode?)t).ToArray());
        if (schema["default"] is null && schema.ContainsKey("default"))
        {
            schema.Remove("default");
        }
    }

    /// <summary><c>{"type": ["integer", "null"]}</c> becomes <c>{"anyOf": [{"type": "integer"}, {"type": "null"}]}</c>, the description kept outside.</summary>
    private static JsonObject NullableBranches(JsonObject schema)
    {
        var value = (JsonObject)schema.DeepClone();
        DropNullType(value);
        var result = new JsonObject();
        if (value.Remove("description", out var description))
        {
            result["description"] = description;
        }

        result["anyOf"] = new JsonArray(value, new JsonObject { ["type"] = "null" });
        return result;
    }
}
