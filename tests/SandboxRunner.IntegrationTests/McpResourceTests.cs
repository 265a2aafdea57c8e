using System.Text.Json;
using ModelContextProtocol.Protocol;
using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// Each task's log, patch and result as MCP resources, read from the run folder after the task's tree is gone. The
/// templates listed and the errors for unknown or invalid ids are the in-process McpResourceTests' (unit tests).
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class McpResourceTests(DockerFixture docker)
{
    private static readonly string[] Steps =
    [
        "@write src/added.txt added by the task\\n",
        "@write README.md # Test repo\\nmore\\n",
        "@stderr working on it",
        "@run 0 echo checked",
        "@message Added a file.",
    ];

    [Fact]
    public async Task After_the_run_the_patch_resource_is_the_patch_the_run_returned()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var (runId, task) = await RunAsync(s);

        var patch = await ReadAsync(s, $"sandbox-runner://runs/{runId}/tasks/edit/patch");

        Assert.Equal(task.GetProperty("patch").GetString(), patch);
        Assert.Contains("+++ b/src/added.txt", patch, StringComparison.Ordinal);
        TestRepository.RunGit(s.Repository.Path, System.Text.Encoding.UTF8.GetBytes(patch), "apply", "--check", "-");
    }

    [Fact]
    public async Task After_the_run_the_result_resource_is_the_result_the_run_returned()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var (runId, task) = await RunAsync(s);

        using var stored = JsonDocument.Parse(await ReadAsync(s, $"sandbox-runner://runs/{runId}/tasks/edit/result"));

        var result = stored.RootElement;
        foreach (var field in (string[])["task_id", "status", "summary", "patch", "branch", "notes_for_manager", "evidence", "container_id"])
        {
            Assert.Equal(task.GetProperty(field).GetString(), result.GetProperty(field).GetString());
        }

        Assert.Equal(task.GetProperty("exit_code").GetInt32(), result.GetProperty("exit_code").GetInt32());
        Assert.Equal(Strings(task.GetProperty("files_changed")), Strings(result.GetProperty("files_changed")));
        Assert.Equal(["README.md", "src/added.txt"], Strings(result.GetProperty("files_changed")).Order(StringComparer.Ordinal));
        Assert.Equal(
            task.GetProperty("commands_run").EnumerateArray().Select(c => c.GetProperty("cmd").GetString()),
            result.GetProperty("commands_run").EnumerateArray().Select(c => c.GetProperty("cmd").GetString()));
    }

    [Fact]
    public async Task After_the_run_the_log_resource_has_codex_stderr_and_its_jsonl_events()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var (runId, task) = await RunAsync(s);

        var log = await ReadAsync(s, $"sandbox-runner://runs/{runId}/tasks/edit/log");

        var stdoutAt = log.IndexOf("== stdout ==", StringComparison.Ordinal);
        Assert.StartsWith("== stderr ==", log, StringComparison.Ordinal);
        Assert.True(stdoutAt > 0, log);
        Assert.Contains("working on it", log[..stdoutAt], StringComparison.Ordinal);
        Assert.Contains("\"type\":\"thread.started\"", log[stdoutAt..], StringComparison.Ordinal);
        Assert.Contains("\"type\":\"turn.completed\"", log[stdoutAt..], StringComparison.Ordinal);
        Assert.Contains(task.GetProperty("logs").GetProperty("stdout").GetString()!.Split('\n')[0], log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_resources_are_read_after_the_tasks_tree_is_gone()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var (runId, _) = await RunAsync(s);

        Assert.False(Directory.Exists(Path.Combine(s.Repository.GitDir, "sandbox-runner", "worktrees", runId)), "the task's tree is still there");
        Assert.NotEmpty(await ReadAsync(s, $"sandbox-runner://runs/{runId}/tasks/edit/patch"));
        Assert.NotEmpty(await ReadAsync(s, $"sandbox-runner://runs/{runId}/tasks/edit/result"));
        Assert.NotEmpty(await ReadAsync(s, $"sandbox-runner://runs/{runId}/tasks/edit/log"));
    }

    private static async Task<(string RunId, JsonElement Task)> RunAsync(McpHarness s)
    {
        var runId = NewRunId("res");
        var run = await s.Server.CallOkAsync("run_codex_tasks", Run(runId, TaskArg("edit", Steps)));
        var task = run.GetProperty("results")[0];
        Assert.Equal("success", task.GetProperty("status").GetString());
        return (runId, task);
    }

    private static async Task<string> ReadAsync(McpHarness s, string uri)
    {
        var result = await s.Server.Client.ReadResourceAsync(uri);
        return Assert.IsType<TextResourceContents>(Assert.Single(result.Contents)).Text;
    }

    private static List<string?> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()).ToList();
}
