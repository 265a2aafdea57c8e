using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary><c>run --apply</c>: successful results land in the repository's working tree, or nothing changes at all.</summary>
[Collection(CliCollection.Name)]
public sealed class CliApplyTests(DockerFixture docker)
{
    [Fact]
    public async Task Apply_brings_each_successful_result_into_the_working_tree_and_index()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(Run(NewRunId("cli-apply"), TaskArg("first", "@write src/first.txt from the first task\\n"), TaskArg("second", "@append src/app.txt line 3\\n")));

        var run = await h.RunAsync("run", tasks, "--apply");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("from the first task\n", File.ReadAllText(Path.Combine(h.Repository.Path, "src", "first.txt")));
        Assert.Equal("line 1\nline 2\nline 3\n", File.ReadAllText(Path.Combine(h.Repository.Path, "src", "app.txt")));
        Assert.Equal(["A  src/first.txt", "M  src/app.txt"], Status(h).Order(StringComparer.Ordinal));
        Assert.Contains("applied first", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_refuses_when_a_local_change_touches_the_same_file_says_so_exits_1_and_leaves_the_working_tree_untouched()
    {
        await using var h = CliHarness.Create(docker);
        var runId = NewRunId("cli-apply");
        var tasks = h.WriteTasks(Run(runId, TaskArg("edits", "@write src/app.txt rewritten by the task\\n")));
        h.Repository.Write("src/app.txt", "a local change nobody committed\n");
        var before = Status(h);

        var run = await h.RunAsync("run", tasks, "--apply");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal("success", h.Result(runId, "edits").GetProperty("status").GetString());
        Assert.Contains("not applied edits, nothing was changed", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("conflict: src/app.txt", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("a local change nobody committed\n", File.ReadAllText(Path.Combine(h.Repository.Path, "src", "app.txt")));
        Assert.Equal(before, Status(h));
        Assert.Equal("", h.Repository.Git("diff", "--cached"));
    }

    private static List<string> Status(CliHarness h) =>
        [.. h.Repository.Git("status", "--porcelain").Split('\n', StringSplitOptions.RemoveEmptyEntries)];
}
