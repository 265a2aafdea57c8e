using System.Text.RegularExpressions;
using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>What the listings and the dry run say: outcomes as they were, and nothing that was not done.</summary>
[Collection(CliCollection.Name)]
public sealed partial class CliListingTests(DockerFixture docker)
{
    [Fact]
    public async Task Runs_counts_a_run_whose_tasks_all_failed_as_failed_not_as_finished()
    {
        await using var h = CliHarness.Create(docker);
        var runId = NewRunId("cli-runs");
        await h.RunAsync("run", h.WriteTasks(Run(runId, TaskArg("a", "@fail no"), TaskArg("b", "@fail no"), TaskArg("c", "@write src/c.txt c"))));

        var runs = await h.RunAsync("runs");
        var show = await h.RunAsync("show", runId);

        Assert.True(runs.ExitCode == 0, runs.ToString());
        Assert.Contains("3 task(s): 1 succeeded, 2 failed", runs.Stdout.Split('\n').Single(l => l.StartsWith(runId, StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain("task(s) finished", runs.Stdout, StringComparison.Ordinal);
        Assert.Contains("3 task(s): 1 succeeded, 2 failed", show.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dry_run_says_nothing_ran_and_names_no_results_folder()
    {
        await using var h = CliHarness.Create(docker);
        var runId = NewRunId("cli-dry");

        var run = await h.RunAsync("run", h.WriteTasks(Run(runId, TaskArg("one", "@write src/one.txt 1"))), "--dry-run");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"run {runId} on ", run.Stdout, StringComparison.Ordinal);
        Assert.Contains(": dry run, 1 task(s) checked and would run; nothing ran and nothing was written", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("succeeded", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(".codex-runs", run.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(h.Repository.Path, ".codex-runs", runId)));
    }

    [Fact]
    public async Task Show_lists_each_violation_once_without_the_inert_variables_list()
    {
        await using var h = CliHarness.Create(docker, """{ "allowed_commands": ["npm test"], "default_allowed_paths": ["src/**"] }""");
        var runId = NewRunId("cli-show");
        await h.RunAsync("run", h.WriteTasks(Run(runId, TaskArg("bad", "@run 0 FOO=1 ls", "@run 0 BAR=2 ls", "@write docs/x.txt x"))));

        var show = await h.RunAsync("show", runId, "bad");

        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Equal(1, Count(show.Stdout, "docs/x.txt: matches none of the allowed paths"));
        Assert.Equal(1, Count(show.Stdout, "sets FOO, which the audit cannot judge"));
        Assert.DoesNotContain("PYTHONDONTWRITEBYTECODE", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("violations (3):", show.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verbose_logs_carry_a_utc_timestamp_on_every_line()
    {
        await using var h = CliHarness.Create(docker);

        var runs = await h.RunAsync("runs", "--verbose");

        var lines = runs.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(Stamped(), l));
    }

    private static int Count(string text, string part) => Regex.Count(text, Regex.Escape(part));

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trce|dbug|info|warn|fail|crit): ")]
    private static partial Regex Stamped();
}
