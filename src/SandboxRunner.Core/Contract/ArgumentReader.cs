using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using SandboxRunner.Configuration;

namespace SandboxRunner.Contract;

/// <summary>
/// Reads a tool's arguments into their record, enforcing what <see cref="ContractSchema"/> publishes from the
/// same record: the JSON type of every value, required and unknown fields, and each DataAnnotations attribute
/// (the attribute's own check, so schema and enforcement come from one declaration). Every problem is
/// reported at once, each naming its field the way a caller wrote it (<c>tasks[0].timeout_sec</c>).
/// </summary>
public static class ArgumentReader
{
    /// <summary>The arguments as a <typeparamref name="T"/>, or <see cref="InvalidInputException"/> with every problem.</summary>
    public static T Read<T>(IEnumerable<KeyValuePair<string, JsonElement>>? arguments, string source) =>
        Read<T>(JsonSerializer.SerializeToElement(arguments?.ToDictionary() ?? [], ContractSchema.Json), source);

    public static T Read<T>(JsonElement arguments, string source)
    {
        var problems = new List<Problem>();
        var normalized = Normalize(typeof(T), arguments, problems);
        return problems.Count > 0 || normalized is null
            ? throw new InvalidInputException(source, problems)
            : normalized.Deserialize<T>(ContractSchema.Json)!;
    }

    /// <summary>Every problem of arguments built in code rather than read (the same rules, so no caller can skip them).</summary>
    public static IReadOnlyList<Problem> Check<T>(T arguments) =>
        Check(typeof(T), JsonSerializer.SerializeToElement(arguments, ContractSchema.Json));

    /// <summary>Every problem of <paramref name="arguments"/> as arguments of type <paramref name="type"/> (empty when they are good).</summary>
    public static IReadOnlyList<Problem> Check(Type type, JsonElement arguments) => Check(type, arguments, out _);

    /// <summary>
    /// Every problem of <paramref name="arguments"/>, and when there is none the arguments as the record's
    /// deserializer takes them (a whole number written 5.0, which JSON Schema calls an integer, as 5).
    /// </summary>
    public static IReadOnlyList<Problem> Check(Type type, JsonElement arguments, out JsonElement normalized)
    {
        var problems = new List<Problem>();
        var node = Normalize(type, arguments, problems);
        normalized = node is null ? default : JsonSerializer.SerializeToElement(node, ContractSchema.Json);
        return problems;
    }

    /// <summary>The arguments with each value checked, integers written as integers; null when any problem was found.</summary>
    private static JsonNode? Normalize(Type type, JsonElement arguments, List<Problem> problems)
    {
        if (arguments.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new Problem("(arguments)", "must be a JSON object"));
            return null;
        }

        var value = Value(arguments, type, "", problems);
        return problems.Count > 0 ? null : value;
    }

    private static JsonNode? Value(JsonElement json, Type type, string at, List<Problem> problems)
    {
        var plain = Nullable.GetUnderlyingType(type) ?? type;
        if (plain == typeof(string))
        {
            if (json.ValueKind != JsonValueKind.String)
            {
                return Wrong(at, "must be a string", problems);
            }

            try
            {
                return JsonValue.Create(json.GetString());
            }
            catch (InvalidOperationException)
            {
                // Valid JSON whose escapes are no text (an unpaired surrogate such as "\ud800").
                return Wrong(at, "must hold only valid text", problems);
            }
        }

        if (plain == typeof(int) || plain == typeof(long))
        {
            // JSON Schema's integer is any number without a fraction, so 5.0 is 5.
            var max = plain == typeof(int) ? int.MaxValue : long.MaxValue;
            var min = plain == typeof(int) ? int.MinValue : long.MinValue;
            return json.ValueKind == JsonValueKind.Number && json.TryGetDecimal(out var d) && d == decimal.Truncate(d) && d >= min && d <= max
                ? JsonValue.Create((long)d)
                : Wrong(at, "must be a whole number", problems);
        }

        if (plain == typeof(bool))
        {
            return json.ValueKind is JsonValueKind.True or JsonValueKind.False ? JsonValue.Create(json.GetBoolean()) : Wrong(at, "must be true or false", problems);
        }

        var info = ContractSchema.Json.GetTypeInfo(type);
        return info.Kind switch
        {
            JsonTypeInfoKind.Enumerable => List(json, info.ElementType!, at, problems),
            JsonTypeInfoKind.Object => Object(json, info, at, problems),
            _ => throw new NotSupportedException($"tool arguments of type {type} cannot be read; use strings, whole numbers, booleans, lists and records"),
        };
    }

    private static JsonNode? List(JsonElement json, Type item, string at, List<Problem> problems)
    {
        if (json.ValueKind != JsonValueKind.Array)
        {
            return Wrong(at, "must be an array", problems);
        }

        var list = new JsonArray();
        var i = 0;
        foreach (var element in json.EnumerateArray())
        {
            list.Add(Value(element, item, $"{at}[{i++}]", problems));
        }

        return list;
    }

    private static JsonNode? Object(JsonElement json, JsonTypeInfo info, string at, List<Problem> problems)
    {
        var fields = info.Properties.ToDictionary(p => p.Name, StringComparer.Ordinal);
        if (json.ValueKind != JsonValueKind.Object)
        {
            return Wrong(at, $"must be an object with {string.Join(", ", fields.Keys)}", problems);
        }

        var result = new JsonObject();
        foreach (var property in json.EnumerateObject())
        {
            var field = at.Length == 0 ? property.Name : $"{at}.{property.Name}";
            if (!fields.TryGetValue(property.Name, out var declared))
            {
                problems.Add(new Problem(field, FieldNames.Unknown(property.Name, [.. fields.Keys])));
                continue;
            }

            var before = problems.Count;
            var value = property.Value.ValueKind == JsonValueKind.Null
                ? Wrong(field, NullRule(declared), problems)
                : Value(property.Value, declared.PropertyType, field, problems);
            if (problems.Count == before)
            {
                CheckAttributes(declared, value!, field, problems);
                result[declared.Name] = value;
            }
            else if (value is JsonArray partial)
            {
                // A list with an item of the wrong type: its other items, and its length, are still judged, as the schema judges them.
                CheckListRules(declared, partial, field, problems);
            }
        }

        foreach (var missing in info.Properties.Where(p => IsRequired(p) && !result.ContainsKey(p.Name) && !json.TryGetProperty(p.Name, out _)))
        {
            problems.Add(new Problem(at.Length == 0 ? missing.Name : $"{at}.{missing.Name}", "is required"));
        }

        return result;
    }

    private static bool IsRequired(JsonPropertyInfo property) =>
        property.IsRequired || Attributes(property).Any(a => a is RequiredAttribute);

    private static string NullRule(JsonPropertyInfo property)
    {
        var what = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        var kind = what == typeof(string) ? "a string"
            : what == typeof(int) || what == typeof(long) ? "a whole number"
            : what == typeof(bool) ? "true or false"
            : ContractSchema.Json.GetTypeInfo(what).Kind == JsonTypeInfoKind.Enumerable ? "an array" : "an object";
        return IsRequired(property) ? $"must be {kind}" : $"must be {kind}, or be left out (null is not accepted)";
    }

    /// <summary>Runs each DataAnnotations attribute of the field: a string rule on a list of strings holds for each item.</summary>
    private static void CheckAttributes(JsonPropertyInfo property, JsonNode value, string field, List<Problem> problems)
    {
        foreach (var attribute in Attributes(property).Where(a => a is not RequiredAttribute))
        {
            if (attribute is RegularExpressionAttribute && value is JsonArray items)
            {
                for (var i = 0; i < items.Count; i++)
                {
                    Check(attribute, items[i]!.GetValue<string>(), $"{field}[{i}]", problems);
                }

                continue;
            }

            Check(attribute, value.Deserialize(property.PropertyType, ContractSchema.Json), field, problems);
        }
    }

    /// <summary>The item rules of a list some of whose items were of the wrong type (they are null here), and its length rules.</summary>
    private static void CheckListRules(JsonPropertyInfo property, JsonArray items, string field, List<Problem> problems)
    {
        foreach (var attribute in Attributes(property))
        {
            switch (attribute)
            {
                case RegularExpressionAttribute:
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (items[i] is JsonValue item && item.TryGetValue<string>(out var text))
                        {
                            Check(attribute, text, $"{field}[{i}]", problems);
                        }
                    }

                    break;
                case MinLengthAttribute or MaxLengthAttribute:
                    Check(attribute, items.Select(_ => 0).ToList(), field, problems);
                    break;
            }
        }
    }

    private static void Check(ValidationAttribute attribute, object? value, string field, List<Problem> problems)
    {
        if (attribute.GetValidationResult(value, new ValidationContext(value ?? field) { MemberName = field }) is { } broken)
        {
            problems.Add(new Problem(field, Message(attribute, value, broken)));
        }
    }

    /// <summary>The rule in the words of the rest of the runner's errors; an attribute's own ErrorMessage wins.</summary>
    private static string Message(ValidationAttribute attribute, object? value, ValidationResult broken) => attribute switch
    {
        // The framework's own defaults are templates ("The {0} field ..."); a message written on the attribute is not.
        { ErrorMessage: { } written } when !written.Contains("{0}", StringComparison.Ordinal) => written,
        TextRuleAttribute => broken.ErrorMessage ?? "is not valid",
        RangeAttribute range => $"must be from {range.Minimum} to {range.Maximum} (got {value})",
        AllowedValuesAttribute allowed => $"must be {Choices(allowed.Values)}",
        MinLengthAttribute min => value is ICollection ? $"must list at least {min.Length}" : $"must have at least {min.Length} characters",
        MaxLengthAttribute max => value is ICollection ? $"may list at most {max.Length}" : $"may have at most {max.Length} characters",
        _ => broken.ErrorMessage ?? "is not valid",
    };

    private static string Choices(IEnumerable<object?> values)
    {
        var quoted = values.Select(v => $"\"{v}\"").ToList();
        return quoted.Count == 1 ? quoted[0] : $"{string.Join(", ", quoted[..^1])} or {quoted[^1]}";
    }

    private static IEnumerable<ValidationAttribute> Attributes(JsonPropertyInfo property) =>
        property.AttributeProvider?.GetCustomAttributes(typeof(ValidationAttribute), inherit: true).Cast<ValidationAttribute>() ?? [];

    private static JsonNode? Wrong(string at, string rule, List<Problem> problems)
    {
        problems.Add(new Problem(at.Length == 0 ? "(arguments)" : at, rule));
        return null;
    }
}
