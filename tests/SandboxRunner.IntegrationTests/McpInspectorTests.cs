using System.Text.Json;
using SandboxRunner.IntegrationTests.Cli;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// The server read by a client no one here wrote: the official MCP Inspector CLI (pinned in
/// <c>.ci/inspector</c>, installed by <c>.ci/setup</c>) starts the built server over stdio exactly as the
/// README tells users to, lists its tools with <c>--strict</c> and calls them.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class McpInspectorTests(DockerFixture docker)
{
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task The_Inspector_lists_all_eight_tools_with_no_schema_portability_finding_under_strict()
    {
        using var repository = NewRepository();

        var run = await InspectAsync(repository, "--method tools/list --strict");

        Assert.True(run.ExitCode == 0, run.ToString());
        var output = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.False(output.TryGetProperty("schemaFindings", out var findings), $"the Inspector found schema problems: {findings}");
        Assert.DoesNotContain("Warning: tool", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Error: tool", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(8, output.GetProperty("result").GetProperty("tools").GetArrayLength());
    }

    [Fact]
    public async Task A_dry_run_through_the_Inspector_returns_a_skipped_result_and_runs_nothing()
    {
        using var repository = NewRepository();

        var run = await InspectAsync(
            repository, "--method tools/call --tool-name run_codex_tasks --tool-args-json \"$TOOL_ARGS\"",
            """{ "dry_run": true, "tasks": [{ "task_id": "probe", "prompt": "@message hi" }] }""");

        Assert.True(run.ExitCode == 0, run.ToString());
        var result = JsonDocument.Parse(run.Stdout).RootElement.GetProperty("result");
        var task = Assert.Single(result.GetProperty("structuredContent").GetProperty("results").EnumerateArray());
        Assert.Equal("skipped", task.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, task.GetProperty("exit_code").ValueKind);
        Assert.Empty(SandboxContainers.RunIdsOf(repository.Path));
    }

    [Fact]
    public async Task A_bad_argument_through_the_Inspector_is_a_tool_error_naming_each_field()
    {
        using var repository = NewRepository();

        var run = await InspectAsync(
            repository, "--method tools/call --tool-name run_codex_tasks --tool-args-json \"$TOOL_ARGS\"",
            """{ "concurrency": 0, "run_id": null, "tasks": [{ "task_id": "../escape", "prompt": "x" }] }""");

        Assert.True(run.ExitCode != 0, run.ToString());
        var result = JsonDocument.Parse(run.Stdout).RootElement.GetProperty("result");
        Assert.True(result.GetProperty("isError").GetBoolean());
        var text = result.GetProperty("content")[0].GetProperty("text").GetString()!;
        Assert.Contains("concurrency: must be from 1 to 8 (got 0)", text, StringComparison.Ordinal);
        Assert.Contains("run_id: must be a string, or be left out", text, StringComparison.Ordinal);
        Assert.Contains("tasks[0].task_id: must match ", text, StringComparison.Ordinal);
        Assert.Empty(SandboxContainers.RunIdsOf(repository.Path));
    }

    private TestRepository NewRepository()
    {
        _ = docker;
        var repository = new TestRepository();
        McpServerProcess.WriteConfig(repository, """{ "network_policy": "none" }""");
        return repository;
    }

    /// <summary>
    /// Runs <c>mcp-inspector --cli sandbox-runner --repo REPO ARGS --format json</c> (the README's command, with the
    /// built server as <c>sandbox-runner</c>); <paramref name="toolArguments"/> reaches the script as <c>$TOOL_ARGS</c>.
    /// </summary>
    private static Task<CliResult> InspectAsync(TestRepository repository, string arguments, string? toolArguments = null)
    {
        var environment = new Dictionary<string, string?>
        {
            ["INSPECTOR"] = InspectorPath(),
            ["REPO"] = repository.Path,
            ["TOOL_ARGS"] = toolArguments ?? "",
        };
        return CliProcess.RunScriptAsync(
            repository.Path, $"\"$INSPECTOR\" --cli sandbox-runner --repo \"$REPO\" {arguments} --format json", environment, Budget);
    }

    private static string InspectorPath()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "SandboxRunner.sln")))
            {
                var inspector = Path.Combine(folder.FullName, ".ci", "inspector", "node_modules", ".bin", "mcp-inspector");
                Assert.True(File.Exists(inspector), $"the MCP Inspector CLI is not installed at {inspector}: run `bash .ci/setup`");
                return inspector;
            }
        }

        throw new InvalidOperationException($"no SandboxRunner.sln above {AppContext.BaseDirectory}");
    }
}
