using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using Json.Schema;
using ModelContextProtocol.Server;
using SandboxRunner.Configuration;
using SandboxRunner.Contract;
using SandboxRunner.Host.Mcp;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Runs;

namespace SandboxRunner.Tests.Contract;

/// <summary>
/// The published input schemas against what the server enforces, on generated arguments near every rule's
/// edge: whatever the schema accepts, the reader accepts (and for a run, the planner too, where the config and
/// repository do not decide); whatever it refuses, the reader refuses, naming the field of each violation and
/// no field the schema has no quarrel with. The schema side is an independent validator (JsonSchema.Net).
/// </summary>
public sealed class ToolArgumentProperties
{
    private static readonly Lazy<Dictionary<string, (Type Arguments, JsonObject Schema)>> Tools = new(() =>
    {
        var methods = typeof(RunTools).GetMethods().Where(m => m.GetCustomAttribute<McpServerToolAttribute>() is not null)
            .ToDictionary(m => m.GetCustomAttribute<McpServerToolAttribute>()!.Name!, m => ToolCatalog.ArgumentsOf(m) ?? typeof(ToolCatalog.NoArguments));
        return ToolCatalog.Create().ToDictionary(
            t => t.ProtocolTool.Name,
            t => (methods[t.ProtocolTool.Name], JsonNode.Parse(t.ProtocolTool.InputSchema.GetRawText())!.AsObject()));
    });

    public static TheoryData<string> ToolsWithArguments { get; } = new(Tools.Value.Keys.ToArray());

    [Theory]
    [MemberData(nameof(ToolsWithArguments))]
    public void The_reader_accepts_exactly_what_the_published_schema_accepts_and_names_each_violated_field(string tool)
    {
        var (arguments, schema) = Tools.Value[tool];
        var oracle = Oracle(schema);
        var valid = 0;

        Gen.Int.Sample(seed =>
        {
            var json = ArgumentsFor(schema, new Random(seed));
            var verdict = oracle.Evaluate(json, new EvaluationOptions { OutputFormat = OutputFormat.List });
            var problems = ArgumentReader.Check(arguments, json);
            var flagged = Flagged(verdict);

            Assert.True(verdict.IsValid == (problems.Count == 0), $"{tool} {json}\nschema: {string.Join("; ", flagged)}\nreader: {string.Join("; ", problems)}");
            var why = $"{tool} {json}\nschema: {string.Join("; ", flagged)}\nreader: {string.Join("; ", problems)}";
            Assert.True(flagged.All(at => problems.Any(p => Under(p.Field, at))), why);
            Assert.True(problems.All(p => flagged.Any(at => Under(p.Field, at))), why);
            valid += verdict.IsValid ? 1 : 0;
        }, iter: 3000, threads: 1);

        Assert.True(valid > 50, $"only {valid} of the generated arguments were valid: the generator no longer exercises acceptance");
    }

    [Fact]
    public async Task Every_run_the_schema_accepts_the_planner_accepts_unless_the_config_or_repository_decides()
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { AllowTaskPolicyWidening = true, MaxTasksPerRun = RunRequest.MaxTasks });
        var (_, schema) = Tools.Value["run_codex_tasks"];
        var oracle = Oracle(schema);
        var planned = 0;

        for (var seed = 0; seed < 2500; seed++)
        {
            var json = ArgumentsFor(schema, new Random(seed));
            if (!oracle.Evaluate(json).IsValid)
            {
                continue;
            }

            var request = ArgumentReader.Read<RunRequest>(json, "test");

            // Decided by the repository and the config, not the schema: refs that exist, environments it defines, distinct ids.
            var ids = request.Tasks!.Select(t => t.TaskId).ToList();
            if (ids.Distinct().Count() != ids.Count || request.BaseRef is not (null or "HEAD" or "main")
                || request.Tasks!.Select(t => t.Environment).Append(request.Environment).Any(e => e is not (null or "none")))
            {
                continue;
            }

            await RunPlanner.PlanAsync(request, bed.Config, bed.Host, _ => false, TimeProvider.System, CancellationToken.None);
            planned++;
        }

        Assert.True(planned > 20, $"only {planned} generated runs reached the planner");
    }

    /// <summary>ECMA-262's WhiteSpace and LineTerminator characters (its <c>\s</c>).</summary>
    private const string EcmaWhitespace = @"\t-\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff";

    /// <summary>
    /// The schema as an ECMA-262 engine reads it (JSON Schema's dialect). JsonSchema.Net runs patterns on .NET's
    /// engine, whose <c>$</c> also matches before a final newline ("abc\n" is no id for any client) and whose
    /// <c>\s</c> is not ECMA-262's: both are spelt out here.
    /// </summary>
    private static JsonSchema Oracle(JsonObject schema)
    {
        var copy = schema.DeepClone().AsObject();
        foreach (var node in Descendants(copy).Where(n => n["pattern"] is not null).ToList())
        {
            node["pattern"] = Ecma(node["pattern"]!.GetValue<string>());
        }

        return JsonSchema.FromText(copy.ToJsonString());
    }

    private static string Ecma(string pattern) => pattern
        .Replace("$", @"\z", StringComparison.Ordinal)
        .Replace(@"[\s\S]", @"[\w\W]", StringComparison.Ordinal)
        .Replace(@"\S", $"[^{EcmaWhitespace}]", StringComparison.Ordinal);

    private static IEnumerable<JsonObject> Descendants(JsonObject node) =>
        new[] { node }.Concat(node.Select(kv => kv.Value).OfType<JsonObject>().SelectMany(Descendants));

    /// <summary>Where the schema found fault, as the reader names fields (<c>/tasks/0/task_id</c> is <c>tasks[0].task_id</c>).</summary>
    private static List<string> Flagged(EvaluationResults verdict) =>
        [.. (verdict.Details ?? []).Where(d => d.Errors is { Count: > 0 }).Select(d => Field(d.InstanceLocation.ToString())).Distinct()];

    private static string Field(string pointer)
    {
        var field = "";
        foreach (var segment in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            field += int.TryParse(segment, out _) ? $"[{segment}]" : field.Length == 0 ? segment : $".{segment}";
        }

        return field;
    }

    /// <summary>A problem at <paramref name="field"/> is the schema's fault at <paramref name="at"/> or a field inside it (a required or unknown one).</summary>
    private static bool Under(string field, string at) =>
        at.Length == 0 || field == at || field.StartsWith(at + ".", StringComparison.Ordinal) || field.StartsWith(at + "[", StringComparison.Ordinal)
        || (field == "(arguments)" && at.Length == 0);

    private static readonly string[] Strings =
    [
        "a", "task-1", "A.b_c", new('x', 64), new('x', 65), "", " ", "-a", ".a", "_a", "a..b", "a.lock", "a.lockx", "a/b", "a\n", "abc\n",
        "src/**", "../x", "/etc/**", "\\x", "C:x", "a/../b", "x\\..\\y", "..", "..\n", "a/..", "npm test", "make", "\t", "\u00a0", "\u0085", "é",
        "a b", "HEAD", "main", "-x", "none", "default", "ruby", "conservative", "normal", "turbo", "@message hi", "\ufeff", " x\u2028",
    ];

    /// <summary>A string of the pool the pattern accepts (as ECMA-262 reads it), so most generated values are valid.</summary>
    private static string Matching(string pattern, Random random)
    {
        var regex = new System.Text.RegularExpressions.Regex(Ecma(pattern));
        var matching = Strings.Where(s => regex.IsMatch(s)).ToList();
        return matching.Count == 0 ? Strings[random.Next(Strings.Length)] : matching[random.Next(matching.Count)];
    }

    private static JsonElement ArgumentsFor(JsonObject schema, Random random) =>
        JsonSerializer.SerializeToElement(Value(schema, random, depth: 0, top: true));

    private static JsonNode? Value(JsonObject schema, Random random, int depth, bool top = false)
    {
        var roll = random.Next(40);
        if (!top && roll == 0)
        {
            return null;
        }

        if (!top && roll == 1)
        {
            return Wrong(schema, random);
        }

        return schema["type"]?.GetValue<string>() switch
        {
            "object" => Object(schema, random, depth),
            "array" => Array(schema, random, depth),
            "integer" => Integer(schema, random),
            "boolean" => random.Next(2) == 0,
            "string" when schema["enum"] is JsonArray values => random.Next(5) == 0 ? "turbo" : values[random.Next(values.Count)]!.DeepClone(),
            "string" when schema["pattern"] is { } pattern && random.Next(10) < 7 => Matching(pattern.GetValue<string>(), random),
            "string" => Strings[random.Next(Strings.Length)],
            _ => throw new InvalidOperationException($"no generator for {schema}"),
        };
    }

    private static JsonObject Object(JsonObject schema, Random random, int depth)
    {
        var required = schema["required"]?.AsArray().Select(r => r!.GetValue<string>()).ToHashSet() ?? [];
        var result = new JsonObject();
        foreach (var (name, property) in schema["properties"]!.AsObject())
        {
            if (random.Next(10) < (required.Contains(name) ? 9 : 4))
            {
                result[name] = Value(property!.AsObject(), random, depth + 1);
            }
        }

        if (random.Next(20) == 0)
        {
            result[random.Next(2) == 0 ? "extra" : $"{schema["properties"]!.AsObject().FirstOrDefault().Key}s"] = 1;
        }

        return result;
    }

    private static JsonArray Array(JsonObject schema, Random random, int depth)
    {
        var items = schema["items"]!.AsObject();
        var count = depth > 2 ? 0 : random.Next(4);
        return new JsonArray([.. Enumerable.Range(0, count).Select(_ => Value(items, random, depth + 1))]);
    }

    private static JsonNode Integer(JsonObject schema, Random random)
    {
        var min = schema["minimum"]?.GetValue<long>() ?? 0;
        var max = schema["maximum"]?.GetValue<long>() ?? 100;
        JsonNode[] edges = [min - 1, max + 1, 0, -1, 1.5m, 1e3, 2147483648L];
        JsonNode[] inside = [min, max, (min + max) / 2, (decimal)min + 0.0m, (double)max];
        return random.Next(10) < 7 ? inside[random.Next(inside.Length)].DeepClone() : edges[random.Next(edges.Length)].DeepClone();
    }

    private static JsonNode Wrong(JsonObject schema, Random random) => schema["type"]?.GetValue<string>() switch
    {
        "string" => random.Next(2) == 0 ? 7 : new JsonArray("a"),
        "integer" => random.Next(2) == 0 ? "5" : true,
        "boolean" => random.Next(2) == 0 ? "true" : 0,
        "array" => random.Next(2) == 0 ? "a" : new JsonObject(),
        _ => random.Next(2) == 0 ? "x" : new JsonArray(),
    };
}
