using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>What a task did against its paths and commands, judged from its tree and its JSONL.</summary>
public sealed class TaskPolicyTests
{
    [Fact]
    public async Task A_change_outside_allowed_paths_fails_the_task_with_a_path_not_allowed_violation()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("src/fine.txt", "ok\n"), ("docs/x.md", "# not allowed\n"));

        var result = Assert.Single((await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1") with { AllowedPaths = ["src/**"] }] }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        var violation = Assert.Single(result.Violations);
        Assert.Equal((ViolationKind.PathNotAllowed, "docs/x.md"), (violation.Kind, violation.Path));
        Assert.False(result.PatchApplicable);
        Assert.False(result.AppliesToHead);
    }

    [Fact]
    public async Task A_task_that_broke_its_paths_still_has_its_whole_tree_on_its_branch()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("src/fine.txt", "ok\n"), ("docs/x.md", "# not allowed\n"));

        var result = Assert.Single((await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1") with { AllowedPaths = ["src/**"] }] }, CancellationToken.None)).Results);

        Assert.Equal("sandbox/r1/t1", result.Branch);
        Assert.Equal("# not allowed\n", bed.Show("sandbox/r1/t1", "docs/x.md"));
        Assert.Equal("ok\n", bed.Show("sandbox/r1/t1", "src/fine.txt"));
        Assert.True(File.Exists(result.PatchFile));
    }

    [Fact]
    public async Task A_reported_command_outside_allowed_commands_is_a_violation_and_an_allowed_one_is_not()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Turn(c =>
        {
            c.Stdout(CodexJsonl.CommandCompleted("/bin/bash -lc 'npm test'"));
            c.Stdout(CodexJsonl.CommandCompleted("/bin/bash -lc 'curl https://example.invalid/x'"));
        });

        var result = Assert.Single((await bed.RunAsync(Ask("t1") with { AllowedCommands = ["npm test"] })).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        var violation = Assert.Single(result.Violations);
        Assert.Equal(ViolationKind.CommandNotAllowed, violation.Kind);
        Assert.StartsWith("curl", violation.Command, StringComparison.Ordinal);
        Assert.Equal(2, result.CommandsRun.Count);
    }

    [Fact]
    public async Task A_stdout_line_that_is_not_a_JSON_event_is_an_unjudgeable_violation()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Turn(c => c.Stdout("Reading prompt from stdin... (not JSON)"));

        var result = Assert.Single((await bed.RunAsync(Ask("t1"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        var violation = Assert.Single(result.Violations);
        Assert.Equal((ViolationKind.Unjudgeable, "(codex output)"), (violation.Kind, violation.Command));
    }

    [Fact]
    public async Task Stderr_that_is_not_JSON_is_no_violation()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Turn(c => c.Stderr("2026-01-01T00:00:00Z WARN codex: something chatty"));

        var result = Assert.Single((await bed.RunAsync(Ask("t1"))).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Contains("something chatty", result.Logs.Stderr, StringComparison.Ordinal);
    }
}
