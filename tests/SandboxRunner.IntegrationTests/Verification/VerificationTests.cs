using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Verification;

/// <summary>
/// The runner runs the repository's tests itself, after the agent has ended, in a fresh container of the task's
/// image (here the fake Codex, bind transport): a green patch passes, a red one fails with its output, and a
/// change to what the tests depend on is named. Each case beside an honest sibling where the point is isolation.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class VerificationTests(DockerFixture docker)
{
    /// <summary>A repository whose "tests" check src/app.txt, run as <c>sh test.sh</c>.</summary>
    internal static async Task<RunnerHarness> HarnessAsync(DockerFixture docker, Func<Configuration.RunnerConfig, Configuration.RunnerConfig>? configure = null)
    {
        var h = await RunnerHarness.CreateAsync(docker, c =>
        {
            var verified = c with { Verify = ["sh test.sh"], VerifyTimeoutSec = 60 };
            return configure?.Invoke(verified) ?? verified;
        });
        h.Repository.Write("test.sh", "echo checking src/app.txt\nif grep -q fixed src/app.txt; then echo 'ok 1 - app is fixed'; else echo 'not ok 1 - app is not fixed' >&2; exit 1; fi\n");
        h.Repository.Write("package.json", "{ \"scripts\": { \"test\": \"sh test.sh\" } }\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "tests");
        return h;
    }

    [Fact]
    public async Task A_patch_that_makes_the_tests_pass_is_verified_passed_and_succeeds()
    {
        await using var h = await HarnessAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("fix", "@write src/app.txt fixed\\n", "@message Fixed."))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
        var verification = result.Verification!;
        Assert.Equal(VerificationStatus.Passed, verification.Status);
        var command = Assert.Single(verification.Commands);
        Assert.Equal(("sh test.sh", VerificationStatus.Passed, (long?)0), (command.Command, command.Status, command.ExitCode));
        Assert.Contains("ok 1 - app is fixed", command.OutputTail, StringComparison.Ordinal);
        Assert.Empty(verification.ChangedInputs);
        Assert.Contains("verification passed", result.NotesForManager, StringComparison.Ordinal);
        Assert.Contains(h.Progress, p => p.TaskId == "fix" && p.State == "verifying");
    }

    [Fact]
    public async Task A_patch_that_breaks_the_tests_is_failed_with_the_failing_commands_output_tail()
    {
        await using var h = await HarnessAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("break", "@write src/app.txt still broken\\n", "@message Done, tests pass."))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Empty(result.Violations);
        var verification = result.Verification!;
        Assert.Equal(VerificationStatus.Failed, verification.Status);
        var command = Assert.Single(verification.Commands);
        Assert.Equal(((long?)1, VerificationStatus.Failed), (command.ExitCode, command.Status));
        Assert.Contains("not ok 1 - app is not fixed", command.OutputTail, StringComparison.Ordinal);
        Assert.Contains("verification failed: `sh test.sh` exited 1", result.NotesForManager, StringComparison.Ordinal);

        // The work is kept all the same, on its branch, for a person to look at.
        Assert.Equal("still broken\n", h.Repository.Git("show", $"{result.Branch}:src/app.txt"));
        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
    }

    [Fact]
    public async Task An_agent_that_rewrites_the_test_script_to_exit_0_passes_but_is_reported_in_changed_inputs()
    {
        await using var h = await HarnessAsync(docker);

        var result = Assert.Single((await h.RunAsync(
            RunnerHarness.Task("cheat", "@write test.sh exit 0\\n", "@write package.json {\"scripts\": {\"test\": \"exit 0\"}}\\n", "@message All tests pass."),
            RunnerHarness.Task("honest", "@write src/app.txt fixed\\n", "@message Fixed."))).Results, r => r.TaskId == "cheat");

        var verification = result.Verification!;
        Assert.Equal(VerificationStatus.Passed, verification.Status);
        Assert.Equal(["package.json", "test.sh"], verification.ChangedInputs);
        Assert.Contains("the task changed what the verify commands depend on: package.json, test.sh", result.NotesForManager, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Later_verify_commands_see_what_earlier_ones_wrote_and_the_first_failure_stops_the_rest()
    {
        await using var h = await HarnessAsync(docker, c => c with { Verify = ["echo built > build.out", "grep -q built build.out", "false", "echo never"] });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("steps", "@message nothing"))).Results);

        var commands = result.Verification!.Commands;
        Assert.Equal(
            [VerificationStatus.Passed, VerificationStatus.Passed, VerificationStatus.Failed, VerificationStatus.NotRun],
            commands.Select(c => c.Status));
        Assert.Equal(VerificationStatus.Failed, result.Verification.Status);
        Assert.Equal(TaskStatus.Failed, result.Status);
    }

    [Fact]
    public async Task A_task_whose_verify_list_is_empty_is_not_verified()
    {
        await using var h = await HarnessAsync(docker);

        var result = Assert.Single((await h.RunAsync(new RunRequest { Tasks = [RunnerHarness.Task("none", "@message nothing") with { Verify = [] }] }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Equal(VerificationStatus.NotRun, result.Verification!.Status);
        Assert.Empty(result.Verification.Commands);
        Assert.DoesNotContain(h.Engine.Specs.Values, s => s.Labels.GetValueOrDefault(Boxes.Labels.Role) == Boxes.Labels.VerifyRole);
    }

    [Fact]
    public async Task A_task_that_timed_out_is_not_verified_and_says_why()
    {
        await using var h = await HarnessAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("slow", "@write src/app.txt fixed\\n", "@sleep 60") with { TimeoutSec = 10 })).Results);

        Assert.Equal(TaskStatus.Timeout, result.Status);
        Assert.Equal(VerificationStatus.NotRun, result.Verification!.Status);
        Assert.Contains("deadline", result.Verification.Reason, StringComparison.Ordinal);
        Assert.Equal([VerificationStatus.NotRun], result.Verification.Commands.Select(c => c.Status));
    }
}
