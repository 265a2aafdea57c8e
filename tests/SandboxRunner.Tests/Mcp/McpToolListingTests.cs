using System.Text.Json;

namespace SandboxRunner.Tests.Mcp;

/// <summary>What a client sees in <c>tools/list</c>: every tool, each argument described, each result typed (in process, over pipes).</summary>
public sealed class McpToolListingTests
{
    private static readonly string[] AllTools =
    [
        "run_codex_tasks", "start_codex_run", "get_codex_run", "cancel_codex_run",
        "list_codex_runs", "apply_codex_result", "review_plan_with_codex", "sandbox_doctor",
    ];

    public static TheoryData<string> ToolNames { get; } = new(AllTools);

    [Fact]
    public async Task Exactly_the_eight_tools_are_listed()
    {
        await using var s = await InProcessServer.StartAsync();

        var tools = await s.Client.ListToolsAsync();

        Assert.Equal(AllTools.Order(StringComparer.Ordinal), tools.Select(t => t.Name).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(ToolNames))]
    public async Task Each_tool_has_a_description_and_an_object_input_schema(string name)
    {
        await using var s = await InProcessServer.StartAsync();

        var tool = Assert.Single(await s.Client.ListToolsAsync(), t => t.Name == name);

        Assert.False(string.IsNullOrWhiteSpace(tool.Description));
        Assert.Equal("object", tool.ProtocolTool.InputSchema.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Every_argument_is_described_by_the_first_tool_that_takes_it()
    {
        await using var s = await InProcessServer.StartAsync();

        var described = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tool in await s.Client.ListToolsAsync())
        {
            foreach (var property in Properties(tool.ProtocolTool.InputSchema))
            {
                var has = property.Value.TryGetProperty("description", out var description) && !string.IsNullOrWhiteSpace(description.GetString());
                Assert.True(has || described.Contains(property.Name), $"{tool.Name}: argument '{property.Name}' is described nowhere before it");
                described.Add(property.Name);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ToolNames))]
    public async Task Each_tool_has_an_object_output_schema(string name)
    {
        await using var s = await InProcessServer.StartAsync();

        var tool = Assert.Single(await s.Client.ListToolsAsync(), t => t.Name == name);

        var output = Assert.NotNull(tool.ProtocolTool.OutputSchema);
        Assert.Equal("object", output.GetProperty("type").GetString());
        Assert.NotEmpty(Properties(output));
    }

    [Theory]
    [InlineData("run_codex_tasks")]
    [InlineData("start_codex_run")]
    public async Task The_task_items_require_task_id_and_prompt_and_refuse_other_fields(string name)
    {
        await using var s = await InProcessServer.StartAsync();

        var tool = Assert.Single(await s.Client.ListToolsAsync(), t => t.Name == name);

        var items = tool.ProtocolTool.InputSchema.GetProperty("properties").GetProperty("tasks").GetProperty("items");
        Assert.Equal(["allowed_commands", "allowed_paths", "attempts", "environment", "prompt", "task_id", "timeout_sec", "verify", "verify_inputs", "verify_timeout_sec"], Properties(items).Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["prompt", "task_id"], Required(items).Order(StringComparer.Ordinal));
        Assert.False(items.GetProperty("additionalProperties").GetBoolean());
    }

    [Fact]
    public async Task The_tools_that_take_no_argument_and_the_ones_that_need_one_say_so_in_their_schema()
    {
        await using var s = await InProcessServer.StartAsync();

        var tools = (await s.Client.ListToolsAsync()).ToDictionary(t => t.Name, t => t.ProtocolTool.InputSchema);

        Assert.Empty(Properties(tools["list_codex_runs"]));
        Assert.Empty(Properties(tools["sandbox_doctor"]));
        Assert.Equal(["tasks"], Required(tools["run_codex_tasks"]));
        Assert.Equal(["run_id"], Required(tools["get_codex_run"]));
        Assert.Equal(["run_id"], Required(tools["cancel_codex_run"]));
        Assert.Equal(["run_id", "task_id"], Required(tools["apply_codex_result"]).Order(StringComparer.Ordinal));
        Assert.Equal(["plan_text"], Required(tools["review_plan_with_codex"]));
    }

    private static IEnumerable<JsonProperty> Properties(JsonElement schema) =>
        schema.TryGetProperty("properties", out var properties) ? properties.EnumerateObject().ToList() : [];

    private static IEnumerable<string> Required(JsonElement schema) =>
        schema.TryGetProperty("required", out var required) ? required.EnumerateArray().Select(e => e.GetString()!).ToList() : [];
}
