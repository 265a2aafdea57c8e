using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests;

/// <summary>apply_codex_result brings a task's change into the user's working tree and index, or refuses and changes nothing.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpApplyResultTests(DockerFixture docker)
{
    private const string TaskReadme = "# Codex repo\n";

    [Fact]
    public async Task Applying_a_result_puts_its_added_and_edited_files_in_the_working_tree_and_index()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = await RunEditAsync(s);

        var outcome = await ApplyAsync(s, runId);

        Assert.True(outcome.GetProperty("applied").GetBoolean(), outcome.ToString());
        Assert.Equal(["README.md", "src/new.txt"], Strings(outcome.GetProperty("files")).Order(StringComparer.Ordinal));
        Assert.Equal(0, outcome.GetProperty("conflicts").GetArrayLength());
        Assert.Equal(["README.md", "src/new.txt"], Lines(s.Repository.Git("diff", "--cached", "--name-only")));
        Assert.Equal(TaskReadme, File.ReadAllText(Path.Combine(s.Repository.Path, "README.md")));
        Assert.Equal("new file\n", File.ReadAllText(Path.Combine(s.Repository.Path, "src", "new.txt")));
        Assert.Equal(s.Repository.BaseCommit, s.Repository.Git("rev-parse", "HEAD").Trim());
    }

    [Fact]
    public async Task A_result_that_conflicts_with_a_newer_commit_on_head_is_refused_naming_the_path_and_changes_nothing()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = await RunEditAsync(s);
        s.Repository.Write("README.md", "# Renamed repo\n");
        s.Repository.Git("commit", "-qam", "rename the repo");
        var head = s.Repository.Git("rev-parse", "HEAD").Trim();

        var outcome = await ApplyAsync(s, runId);

        Assert.False(outcome.GetProperty("applied").GetBoolean(), outcome.ToString());
        var conflict = Assert.Single(outcome.GetProperty("conflicts").EnumerateArray());
        Assert.Equal("README.md", conflict.GetProperty("path").GetString());
        Assert.Equal("", s.Repository.Git("status", "--porcelain"));
        Assert.Equal("# Renamed repo\n", File.ReadAllText(Path.Combine(s.Repository.Path, "README.md")));
        Assert.False(File.Exists(Path.Combine(s.Repository.Path, "src", "new.txt")));
        Assert.Equal(head, s.Repository.Git("rev-parse", "HEAD").Trim());
    }

    [Fact]
    public async Task A_result_touching_a_path_with_uncommitted_changes_is_refused_and_changes_nothing()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = await RunEditAsync(s);
        s.Repository.Write("README.md", "# Test repo\nmy local edit\n");
        var statusBefore = s.Repository.Git("status", "--porcelain");

        var outcome = await ApplyAsync(s, runId);

        Assert.False(outcome.GetProperty("applied").GetBoolean(), outcome.ToString());
        var conflict = Assert.Single(outcome.GetProperty("conflicts").EnumerateArray());
        Assert.Equal("README.md", conflict.GetProperty("path").GetString());
        Assert.Contains("uncommitted", conflict.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("# Test repo\nmy local edit\n", File.ReadAllText(Path.Combine(s.Repository.Path, "README.md")));
        Assert.False(File.Exists(Path.Combine(s.Repository.Path, "src", "new.txt")));
        Assert.Equal("", s.Repository.Git("diff", "--cached", "--name-only"));
        Assert.Equal(statusBefore, s.Repository.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task Applying_a_task_of_an_unknown_run_is_a_tool_error_naming_task_id()
    {
        await using var s = await McpHarness.StartAsync(docker);

        var result = await s.Server.CallAsync("apply_codex_result", new() { ["run_id"] = "no-such-run", ["task_id"] = "edit" });

        Assert.True(result.IsError);
        Assert.Contains("task_id: run 'no-such-run' has no finished task 'edit'", Text(result), StringComparison.Ordinal);
    }

    /// <summary>A task that adds src/new.txt and rewrites the first line of README.md.</summary>
    private static async Task<string> RunEditAsync(McpHarness s)
    {
        var runId = NewRunId("apply");
        var run = await s.Server.CallOkAsync("run_codex_tasks", Run(runId, TaskArg(
            "edit", "@write src/new.txt new file\\n", "@write README.md # Codex repo\\n", "@message Renamed.")));
        Assert.Equal("success", run.GetProperty("results")[0].GetProperty("status").GetString());
        Assert.Equal("", s.Repository.Git("status", "--porcelain"));
        return runId;
    }

    private static Task<JsonElement> ApplyAsync(McpHarness s, string runId) =>
        s.Server.CallOkAsync("apply_codex_result", new() { ["run_id"] = runId, ["task_id"] = "edit" });

    private static List<string?> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()).ToList();

    private static List<string> Lines(string text) => [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
}
