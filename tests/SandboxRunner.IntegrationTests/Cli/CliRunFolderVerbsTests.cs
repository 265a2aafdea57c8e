using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary><c>runs</c>, <c>show</c> and <c>apply</c> on a finished run's folder, by later processes; <c>--help</c> on every verb.</summary>
[Collection(CliCollection.Name)]
public sealed class CliRunFolderVerbsTests(DockerFixture docker)
{
    [Fact]
    public async Task Runs_lists_a_finished_run_with_its_status()
    {
        await using var h = CliHarness.Create(docker);
        var runId = await FinishedRunAsync(h);

        var runs = await h.RunAsync("runs");
        var json = await h.RunAsync("runs", "--json");

        Assert.True(runs.ExitCode == 0, runs.ToString());
        Assert.Matches($@"(?m)^{runId}\s+finished\s.*2 task\(s\): 1 succeeded, 1 failed", runs.Stdout);
        using var list = JsonDocument.Parse(json.Stdout);
        Assert.Contains(list.RootElement.GetProperty("runs").EnumerateArray(), r => r.GetProperty("run_id").GetString() == runId);
    }

    [Fact]
    public async Task Show_RUN_lists_each_task_with_its_status_and_branch()
    {
        await using var h = CliHarness.Create(docker);
        var runId = await FinishedRunAsync(h);

        var show = await h.RunAsync("show", runId);

        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Contains($"run {runId}: finished", show.Stdout, StringComparison.Ordinal);
        Assert.Matches($@"(?m)^  edits  success  1 file\(s\)  0 violation\(s\)  sandbox/{runId}/edits$", show.Stdout);
        Assert.Matches(@"(?m)^  fails  failed  0 file\(s\)", show.Stdout);
    }

    [Fact]
    public async Task Show_RUN_TASK_prints_the_tasks_summary_files_patch_and_branch()
    {
        await using var h = CliHarness.Create(docker);
        var runId = await FinishedRunAsync(h);

        var show = await h.RunAsync("show", runId, "edits");

        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.StartsWith("edits: success (exit code 0)", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("summary: Wrote the file.", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("files changed (1):\n  src/feature.txt\n", show.Stdout, StringComparison.Ordinal);
        Assert.Contains($"branch: sandbox/{runId}/edits", show.Stdout, StringComparison.Ordinal);
        var patch = show.Stdout.Split('\n').Single(l => l.StartsWith("patch: ", StringComparison.Ordinal))["patch: ".Length..].Split(' ')[0];
        Assert.Contains("+the feature", File.ReadAllText(patch), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_of_a_task_the_run_does_not_have_exits_2_naming_the_tasks_it_has()
    {
        await using var h = CliHarness.Create(docker);
        var runId = await FinishedRunAsync(h);

        var show = await h.RunAsync("show", runId, "nope");

        Assert.True(show.ExitCode == 2, show.ToString());
        Assert.Contains("has no task 'nope'; its tasks are edits, fails", show.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_RUN_TASK_brings_the_tasks_change_into_the_working_tree()
    {
        await using var h = CliHarness.Create(docker);
        var runId = await FinishedRunAsync(h);

        var apply = await h.RunAsync("apply", runId, "edits");

        Assert.True(apply.ExitCode == 0, apply.ToString());
        Assert.StartsWith("applied edits", apply.Stdout, StringComparison.Ordinal);
        Assert.Equal("the feature\n", File.ReadAllText(Path.Combine(h.Repository.Path, "src", "feature.txt")));
        Assert.Equal("A  src/feature.txt\n", h.Repository.Git("status", "--porcelain"));
    }

    [Theory]
    [InlineData("run")]
    [InlineData("runs")]
    [InlineData("show")]
    [InlineData("apply")]
    [InlineData("cancel")]
    [InlineData("doctor")]
    [InlineData("image build")]
    [InlineData("image ls")]
    [InlineData("image prune")]
    public async Task Help_on_a_verb_exits_0_with_its_usage(string verb)
    {
        await using var h = CliHarness.Create(docker);

        var help = await h.RunAsync([.. verb.Split(' '), "--help"]);

        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.StartsWith($"usage: sandbox-runner {verb}", help.Stdout + help.Stderr, StringComparison.Ordinal);
    }

    /// <summary>A run whose process has ended: one task that changed a file, one that failed.</summary>
    private static async Task<string> FinishedRunAsync(CliHarness h)
    {
        var runId = NewRunId("cli-verbs");
        var tasks = h.WriteTasks(Run(runId, TaskArg("edits", "@write src/feature.txt the feature\\n", "@message Wrote the file."), TaskArg("fails", "@fail no")));
        var run = await h.RunAsync("run", tasks);
        Assert.True(run.ExitCode == 1, run.ToString());
        return runId;
    }
}
