using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using SandboxRunner.Codex;
using SandboxRunner.Git;
using SandboxRunner.Host.Mcp;
using SandboxRunner.Host.Reports;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Mcp;

/// <summary>
/// The tool list as the server publishes it, built in process: every schema in the single-type dialect every
/// client reads, every result the tools return valid against its own output schema, and the list within budget.
/// </summary>
public sealed class ToolListTests
{
    /// <summary>
    /// The <c>tools/list</c> result in bytes (docs/tool-schemas.md has the measured figures: 22,871 on the wire before issue 28,
    /// 13,103 after, 16,837 with issue 22's verification and attempts, whose arguments and result fields are said as briefly as they hold).
    /// </summary>
    private const int Budget = 17_000;

    private static readonly Lazy<Dictionary<string, Tool>> Tools = new(() => ToolCatalog.Create().ToDictionary(t => t.ProtocolTool.Name, t => t.ProtocolTool));

    [Fact]
    public void The_tool_list_stays_within_its_byte_budget()
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new ListToolsResult { Tools = [.. Tools.Value.Values] }, McpJsonUtilities.DefaultOptions).Length;

        Assert.True(
            bytes <= Budget,
            $"tools/list is {bytes} bytes, over its budget of {Budget}: a manager pays for it in every session. Say a field once, briefly; " +
            "if the growth is worth it, raise the budget and the figure in the README's client configuration section.");
    }

    [Fact]
    public void No_schema_in_the_list_gives_a_value_a_list_of_types_or_no_constraint_at_all()
    {
        foreach (var (name, tool) in Tools.Value)
        {
            foreach (var (kind, schema) in new[] { ("input", (JsonElement?)tool.InputSchema), ("output", tool.OutputSchema) })
            {
                foreach (var (path, node) in Nodes(JsonNode.Parse(schema!.Value.GetRawText())!.AsObject(), ""))
                {
                    Assert.False(node["type"] is JsonArray, $"{name} {kind}schema{path}: type is a list: {node}");
                    Assert.True(node.Any(kv => kv.Key is not ("description" or "default")), $"{name} {kind}schema{path} constrains nothing: {node}");
                    Assert.False(node.ContainsKey("x-record"), $"{name} {kind}schema{path} still carries the record marker");
                }
            }
        }
    }

    [Theory]
    [InlineData("concurrency", "default_concurrency")]
    [InlineData("tasks.items.timeout_sec", "default_timeout_sec")]
    [InlineData("tasks", "max_tasks_per_run")]
    public void A_run_arguments_range_is_the_range_of_the_config_field_it_overrides(string argument, string field)
    {
        var schema = JsonNode.Parse(Tools.Value["run_codex_tasks"].InputSchema.GetRawText())!;
        foreach (var part in argument.Split('.'))
        {
            schema = part == "items" ? schema["items"]! : schema["properties"]![part]!;
        }

        var config = JsonNode.Parse(SandboxRunner.Configuration.ConfigSchema.Generate())!["properties"]![field]!;

        var (min, max) = argument == "tasks" ? ("minItems", "maxItems") : ("minimum", "maximum");
        Assert.Equal((config["minimum"]!.GetValue<int>(), config["maximum"]!.GetValue<int>()), (schema[min]!.GetValue<int>(), schema[max]!.GetValue<int>()));
    }

    [Fact]
    public void The_exit_codes_are_always_there_and_may_be_null_as_in_codex_mcp_runner()
    {
        var result = Tools.Value["run_codex_tasks"].OutputSchema!.Value.GetProperty("properties").GetProperty("results").GetProperty("items");
        var command = result.GetProperty("properties").GetProperty("commands_run").GetProperty("items");

        foreach (var record in (JsonElement[])[result, command])
        {
            Assert.Contains("exit_code", record.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
            Assert.Equal(["integer", "null"], record.GetProperty("properties").GetProperty("exit_code").GetProperty("anyOf").EnumerateArray().Select(b => b.GetProperty("type").GetString()));
        }
    }

    [Fact]
    public void A_field_left_out_when_null_is_optional_and_one_always_written_is_required()
    {
        var result = Tools.Value["run_codex_tasks"].OutputSchema!.Value.GetProperty("properties").GetProperty("results").GetProperty("items");
        var required = result.GetProperty("required").EnumerateArray().Select(r => r.GetString()).ToList();

        Assert.Contains("patch", required);
        Assert.Contains("violations", required);
        Assert.DoesNotContain("branch", required);
        Assert.DoesNotContain("container_id", required);
        Assert.Equal("string", result.GetProperty("properties").GetProperty("branch").GetProperty("type").GetString());
    }

    /// <summary>A result with every optional field null: written without them, and with exit codes null.</summary>
    private static readonly TaskResult Sparse = new()
    {
        TaskId = "a",
        Status = TaskStatus.Skipped,
        CommandsRun = [new CommandRun("/bin/bash -lc 'make'", null, "declined")],
        Violations = [Violation.ForPath(ViolationKind.PathNotAllowed, "x", "not allowed")],
    };

    private static readonly TaskResult Full = Sparse with
    {
        Status = TaskStatus.Success,
        ExitCode = 0,
        PatchFile = "/runs/r/a/task.patch",
        ContainerId = "abc",
        Branch = "sandbox/r/a",
        Network = new NetworkReport("deny", ["api.openai.com:443"], ["example.com:443"]),
        Auth = "api_key",
        Environment = "none",
        CommandsRun = [new CommandRun("/bin/bash -lc 'make'", 2, "failed")],
    };

    public static TheoryData<string, string> Results { get; } = new()
    {
        { "run_codex_tasks", Json(new RunResult { RunId = "r", BaseCommit = "c", Results = [Sparse, Full] }) },
        { "start_codex_run", Json(new RunResult { RunId = "r", BaseCommit = "c", Results = [] }) },
        { "get_codex_run", Json(View(finished: true)) },
        { "get_codex_run", Json(View(finished: false) with { Problem = "run.json is damaged" }) },
        { "cancel_codex_run", Json(View(finished: false)) },
        { "list_codex_runs", Json(new RunList([View(finished: true), View(finished: false)])) },
        { "apply_codex_result", Json(new ApplyOutcome(false, "sandbox/r/a", [], [new ApplyConflict("a.txt", "changed on HEAD")], "conflict")) },
        { "review_plan_with_codex", Json(new PlanReviewResult(new PlanReviewReport(["x"], [], [], [], [], []), "r", CodexUsage.Zero)) },
        { "sandbox_doctor", Json(new DoctorReport(false, [new DoctorCheck("docker", Doctor.Fail, "no engine", "start dockerd"), new DoctorCheck("git", Doctor.Ok, "2.39", null)])) },
    };

    [Theory]
    [MemberData(nameof(Results))]
    public void What_a_tool_returns_is_valid_against_its_output_schema(string tool, string json)
    {
        var schema = JsonSchema.FromText(Tools.Value[tool].OutputSchema!.Value.GetRawText());

        var verdict = schema.Evaluate(JsonDocument.Parse(json).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });

        Assert.True(verdict.IsValid, $"{tool}: {json}\n" + string.Join('\n', (verdict.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
    }

    private static RunStatusView View(bool finished) => new()
    {
        RunId = "r",
        Status = finished ? RunState.Finished : RunState.Running,
        BaseCommit = "c",
        StartedAt = DateTimeOffset.UnixEpoch,
        FinishedAt = finished ? DateTimeOffset.UnixEpoch.AddMinutes(1) : null,
        Tasks = [new TaskStatusView("a", TaskState.Finished, Full), new TaskStatusView("b", TaskState.Queued, null)],
    };

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(T)));

    private static IEnumerable<(string Path, JsonObject Node)> Nodes(JsonObject schema, string path)
    {
        yield return (path, schema);
        foreach (var (key, value) in schema)
        {
            var children = key switch
            {
                "properties" => value!.AsObject().Select(p => ($"{path}.properties.{p.Key}", p.Value as JsonObject)),
                "items" => [($"{path}.items", value as JsonObject)],
                "anyOf" => value!.AsArray().Select((b, i) => ($"{path}.anyOf[{i}]", b as JsonObject)),
                _ => [],
            };
            foreach (var (at, child) in children)
            {
                foreach (var node in Nodes(child!, at))
                {
                    yield return node;
                }
            }
        }
    }
}
