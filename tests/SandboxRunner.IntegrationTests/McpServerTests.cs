using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>The built <c>sandbox-runner</c> driven as a real MCP client drives it: over stdio, in its own process.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpServerTests(DockerFixture docker) : IAsyncLifetime
{
    private readonly TestRepository _repository = new();
    private McpClient? _client;

    private McpClient Client => _client ?? throw new InvalidOperationException("not connected");

    public async Task InitializeAsync()
    {
        _repository.WriteConfig($$"""{ "image": "{{DockerFixture.FakeCodexImage}}", "codex_model": "gpt-5.5" }""");
        var server = Path.Combine(AppContext.BaseDirectory, "sandbox-runner.dll");
        _client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "sandbox-runner",
            Command = "dotnet",
            Arguments = [server, "--repo", _repository.Path],
        }));
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        var left = await docker.Engine.ListContainersAsync(Boxes.Labels.Run, "mcp-run", CancellationToken.None);
        _repository.Dispose();
        Assert.Empty(left);
    }

    [Fact]
    public async Task Run_codex_tasks_is_listed_with_an_input_and_output_schema()
    {
        var tools = await Client.ListToolsAsync();

        var tool = Assert.Single(tools, t => t.Name == "run_codex_tasks");
        var input = tool.ProtocolTool.InputSchema.GetRawText();
        foreach (var field in (string[])["tasks", "run_id", "base_ref", "concurrency", "resource_policy", "dry_run", "task_id", "prompt", "timeout_sec"])
        {
            Assert.Contains($"\"{field}\"", input, StringComparison.Ordinal);
        }

        Assert.NotNull(tool.ProtocolTool.OutputSchema);
    }

    [Fact]
    public async Task A_task_started_through_the_tool_returns_a_correct_patch()
    {
        var result = await Client.CallToolAsync("run_codex_tasks", new Dictionary<string, object?>
        {
            ["run_id"] = "mcp-run",
            ["tasks"] = new[] { new Dictionary<string, object?> { ["task_id"] = "hello", ["prompt"] = "@write src/hello.txt hello from codex\\n\n@message Added hello." } },
        });

        Assert.NotEqual(true, result.IsError);
        var run = result.StructuredContent ?? throw new InvalidOperationException("no structured content");
        Assert.Equal("mcp-run", run.GetProperty("run_id").GetString());
        var task = run.GetProperty("results")[0];
        Assert.Equal("success", task.GetProperty("status").GetString());
        Assert.Equal(["src/hello.txt"], task.GetProperty("files_changed").EnumerateArray().Select(e => e.GetString()));
        Assert.True(task.GetProperty("patch_applicable").GetBoolean());
        var patch = task.GetProperty("patch").GetString()!;
        Assert.Contains("+++ b/src/hello.txt", patch, StringComparison.Ordinal);
        Assert.Contains("+hello from codex", patch, StringComparison.Ordinal);
        Assert.Equal("Added hello.", task.GetProperty("summary").GetString());
        TestRepository.RunGit(_repository.Path, System.Text.Encoding.UTF8.GetBytes(patch), "apply", "--check", "-");
    }

    [Fact]
    public async Task Bad_arguments_come_back_as_a_tool_error_naming_each_field()
    {
        var result = await Client.CallToolAsync("run_codex_tasks", new Dictionary<string, object?>
        {
            ["run_id"] = "..",
            ["concurrency"] = 9,
            ["tasks"] = new[] { new Dictionary<string, object?> { ["task_id"] = "-bad", ["prompt"] = "" } },
        });

        Assert.True(result.IsError);
        var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(c => c.Text));
        Assert.Contains("run_id", text, StringComparison.Ordinal);
        Assert.Contains("concurrency: must be from 1 to 8", text, StringComparison.Ordinal);
        Assert.Contains("tasks[0].task_id", text, StringComparison.Ordinal);
        Assert.Contains("tasks[0].prompt: must not be empty", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
    }
}
