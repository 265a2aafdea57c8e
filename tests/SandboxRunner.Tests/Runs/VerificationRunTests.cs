using SandboxRunner.Configuration;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Tests.Fakes;
using SandboxRunner.Verification;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>A run with verify commands against the fake engine: where they run, what they see, and what their exit codes make of the task.</summary>
public sealed class VerificationRunTests
{
    private static Task<RunnerTestBed> VerifiedAsync(params string[] verify) => CreateAsync(c => c with { Verify = verify, VerifyTimeoutSec = 30 });

    [Fact]
    public async Task The_verify_commands_run_by_sh_in_a_fresh_container_holding_the_harvested_tree_and_not_the_agents_leftovers()
    {
        using var bed = await VerifiedAsync("npm test", "make lint");
        bed.Write(".gitignore", "build/\n");
        bed.Git("add", "-A");
        bed.Git("commit", "-qm", "ignore build/");
        bed.Engine.Agent = FakeAgents.Writes(("src/app.txt", "fixed\n"), ("build/pass", "planted\n"));
        var seen = new List<(string Workspace, bool Fresh, string? App, bool Planted)>();
        bed.Engine.Exec = (container, command, output, _) =>
        {
            seen.Add((container.Workspace, container.IsVerification, File.ReadAllText(container.PathInWorkspace("src/app.txt")), File.Exists(container.PathInWorkspace("build/pass"))));
            output(LogStream.Stdout, $"ran {command[^1]}\n");
            return Task.FromResult<long?>(0);
        };

        var result = Assert.Single((await bed.RunAsync(Ask("t"))).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Equal([["/bin/sh", "-c", "npm test"], ["/bin/sh", "-c", "make lint"]], bed.Engine.Execs.Select(e => e.Command));
        Assert.All(seen, s => Assert.Equal((true, "fixed\n", false), (s.Fresh, s.App, s.Planted)));
        var agent = bed.Engine.History.Single(c => !c.IsVerification);
        Assert.NotEqual(agent.Workspace, seen[0].Workspace);
        Assert.Equal(["ran npm test\n", "ran make lint\n"], result.Verification!.Commands.Select(c => c.OutputTail));
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task The_verification_container_has_the_tasks_user_limits_read_only_root_and_no_network_or_host_variables()
    {
        using var bed = await VerifiedAsync("npm test");

        await bed.RunAsync(Ask("t"));

        var agent = bed.Engine.History.Single(c => !c.IsVerification).Spec;
        var verify = bed.Engine.History.Single(c => c.IsVerification).Spec;
        Assert.Equal((agent.Image, agent.User, agent.Limits, agent.NetworkMode), (verify.Image, verify.User, verify.Limits, verify.NetworkMode));
        Assert.True(verify.ReadOnlyRootFilesystem);
        Assert.Empty(verify.CapAdd);
        Assert.Equal(["CI", "HOME"], verify.Environment.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(Labels.VerifyRole, verify.Labels[Labels.Role]);
    }

    [Fact]
    public async Task A_non_zero_exit_fails_the_task_and_stops_the_commands_after_it()
    {
        using var bed = await VerifiedAsync("first", "second", "third");
        bed.Engine.Exec = (_, command, output, _) =>
        {
            output(LogStream.Stderr, $"{command[^1]} says no\n");
            return Task.FromResult<long?>(command[^1] == "second" ? 3 : 0);
        };

        var result = Assert.Single((await bed.RunAsync(Ask("t"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(
            [("first", VerificationStatus.Passed, (long?)0), ("second", VerificationStatus.Failed, 3), ("third", VerificationStatus.NotRun, null)],
            result.Verification!.Commands.Select(c => (c.Command, c.Status, c.ExitCode)));
        Assert.Equal("`second` exited 3", result.Verification.Reason);
        Assert.Contains("second says no", result.Verification.Commands[1].OutputTail, StringComparison.Ordinal);
        Assert.Equal(2, bed.Engine.Execs.Count);
    }

    [Fact]
    public async Task A_command_past_its_deadline_is_killed_and_the_verification_timed_out()
    {
        using var bed = await CreateAsync(c => c with { Verify = ["hang"], VerifyTimeoutSec = 10 });
        bed.Engine.Exec = async (_, _, _, killed) =>
        {
            await Task.Delay(Timeout.Infinite, killed);
            return 0;
        };

        var result = Assert.Single((await bed.RunAsync(Ask("t"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(VerificationStatus.TimedOut, result.Verification!.Status);
        Assert.Null(result.Verification.Commands[0].ExitCode);
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_run_cancelled_while_a_task_is_verified_ends_the_task_cancelled_with_its_work_kept()
    {
        using var bed = await VerifiedAsync("npm test");
        bed.Engine.Agent = FakeAgents.Writes(("src/app.txt", "fixed\n"));
        using var cancel = new CancellationTokenSource();
        bed.Engine.Exec = async (_, _, _, killed) =>
        {
            await cancel.CancelAsync();
            await Task.Delay(Timeout.Infinite, killed);
            return 0;
        };

        var running = bed.RunAsync(new RunRequest { RunId = "r", Tasks = [Ask("t")] }, cancel.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);

        var result = await bed.StoredResultAsync("r", "t");
        Assert.Equal(TaskStatus.Cancelled, result.Status);
        Assert.Equal(VerificationStatus.NotRun, result.Verification!.Status);
        Assert.Contains("cancelled", result.Verification.Reason, StringComparison.Ordinal);
        Assert.Equal("fixed\n", bed.Show("sandbox/r/t", "src/app.txt"));
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_runner_failure_to_verify_is_a_verification_that_did_not_run_never_a_crash()
    {
        using var bed = await VerifiedAsync("npm test");
        bed.Engine.Exec = (_, _, _, _) => throw new InvalidOperationException("Docker: exec failed (HTTP 500): boom");

        var result = Assert.Single((await bed.RunAsync(Ask("t"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(VerificationStatus.NotRun, result.Verification!.Status);
        Assert.Contains("the runner could not verify the task: Docker: exec failed (HTTP 500): boom", result.Verification.Reason, StringComparison.Ordinal);
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_dry_run_says_which_verify_commands_it_would_run()
    {
        using var bed = await VerifiedAsync("npm test");

        var result = Assert.Single((await bed.RunAsync(new RunRequest { DryRun = true, Tasks = [Ask("t")] }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Skipped, result.Status);
        Assert.Equal(("npm test", VerificationStatus.NotRun), (result.Verification!.Commands[0].Command, result.Verification.Commands[0].Status));
    }

    [Fact]
    public async Task The_runs_verify_replaces_the_configs_and_a_tasks_own_replaces_the_runs()
    {
        using var bed = await VerifiedAsync("from config");

        var results = (await bed.RunAsync(new RunRequest
        {
            Verify = ["from run"],
            Tasks = [Ask("a"), Ask("b") with { Verify = ["from task"] }, Ask("c") with { Verify = [] }],
        }, CancellationToken.None)).Results;

        Assert.Equal(
            [("a", "from run"), ("b", "from task")],
            results.Where(r => r.Verification!.Commands.Count > 0).Select(r => (r.TaskId, r.Verification!.Commands[0].Command)).Order());
        Assert.Empty(Assert.Single(results, r => r.TaskId == "c").Verification!.Commands);
    }

    [Fact]
    public async Task Commands_run_carry_their_output_tail_redacted_and_bounded()
    {
        using var bed = await CreateAsync();
        var flood = new string('x', 10_000) + " sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 end";
        bed.Engine.Agent = FakeAgents.Turn(c => c.Stdout(CodexJsonl.CommandCompleted("/bin/bash -lc 'npm test'", 1, flood)));

        var result = Assert.Single((await bed.RunAsync(Ask("t"))).Results);

        var tail = Assert.Single(result.CommandsRun).OutputTail;
        Assert.EndsWith("[REDACTED] end", tail, StringComparison.Ordinal);
        Assert.InRange(tail.Length, 100, TaskResults.CommandTailChars + 1);
    }
}

/// <summary>The plan review is a read-only task: the repository's verify commands have nothing to check there.</summary>
public sealed class PlanReviewVerificationTests
{
    [Fact]
    public async Task A_plan_review_runs_no_verify_commands_even_when_the_config_has_them()
    {
        using var bed = await CreateAsync(c => c with { Verify = ["npm test"] });
        const string answer = """{"missing_tasks":[],"dependency_issues":[],"parallelization_suggestions":[],"test_gaps":["none"],"risk_flags":[],"recommended_task_splits":[]}""";
        bed.Engine.Agent = FakeAgents.Turn(_ => { }, message: answer);

        var review = await PlanReview.ReviewAsync(bed.Runner, "1. do it", null, null, CancellationToken.None);

        Assert.Equal(["none"], review.Report.TestGaps);
        Assert.Empty(bed.Engine.Execs);
    }
}
