using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Verification;

/// <summary>
/// Verification against a hostile tree and runaway checks: what the agent left outside its harvested tree does
/// not reach the verification, printed markers forge nothing, and a check that hangs, floods or fills the disk
/// is bounded like the agent, while a sibling task keeps its own result.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class HostileVerificationTests(DockerFixture docker)
{
    [Fact]
    public async Task A_verify_command_that_hangs_times_out_and_the_sibling_task_keeps_its_result()
    {
        await using var h = await VerificationTests.HarnessAsync(docker, c => c with { VerifyTimeoutSec = 10 });

        var results = (await h.RunAsync(new RunRequest
        {
            Tasks =
            [
                RunnerHarness.Task("hangs", "@write src/app.txt fixed\\n", "@message done") with { Verify = ["sh test.sh", "sleep 600", "echo never"] },
                RunnerHarness.Task("sibling", "@write src/app.txt fixed\\n", "@message done"),
            ],
        }, CancellationToken.None)).Results;

        var hangs = Assert.Single(results, r => r.TaskId == "hangs");
        Assert.Equal(TaskStatus.Failed, hangs.Status);
        Assert.Equal(VerificationStatus.TimedOut, hangs.Verification!.Status);
        Assert.Equal([VerificationStatus.Passed, VerificationStatus.TimedOut, VerificationStatus.NotRun], hangs.Verification.Commands.Select(c => c.Status));
        Assert.InRange(hangs.Verification.Commands[1].DurationMs, 9_000, 60_000);
        Assert.Contains("verification timed out: `sleep 600`", hangs.NotesForManager, StringComparison.Ordinal);
        var sibling = Assert.Single(results, r => r.TaskId == "sibling");
        Assert.True(sibling.Status == TaskStatus.Success, $"{sibling.Status}: {sibling.NotesForManager}");
        Assert.Equal(VerificationStatus.Passed, sibling.Verification!.Status);
    }

    [Fact]
    public async Task A_verify_command_that_floods_its_output_is_stopped_at_max_log_bytes_and_shows_a_bounded_tail()
    {
        await using var h = await VerificationTests.HarnessAsync(docker, c => c with { TaskLimits = new TaskLimitOverrides { MaxLogBytes = 256 * 1024 } });

        var result = Assert.Single((await h.RunAsync(new RunRequest
        {
            Tasks = [RunnerHarness.Task("floods", "@write src/app.txt fixed\\n", "@message done") with { Verify = ["yes flooding-the-verification | head -c 200000000", "echo never"] }],
        }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        var verification = result.Verification!;
        Assert.Equal(VerificationStatus.Failed, verification.Status);
        Assert.Contains("max_log_bytes (262144)", verification.Reason, StringComparison.Ordinal);
        var command = verification.Commands[0];
        Assert.Null(command.ExitCode);
        Assert.InRange(command.OutputTail.Length, 1, TaskVerification.OutputTailChars + 16);
        Assert.Equal(VerificationStatus.NotRun, verification.Commands[1].Status);
        var log = new FileInfo(Path.Combine(h.Store.TaskFolder(Assert.Single(h.RunIds), "floods"), "verify.log"));
        Assert.InRange(log.Length, 1, 512 * 1024);
    }

    [Fact]
    public async Task A_verify_command_that_fills_the_disk_is_stopped_at_max_tree_bytes()
    {
        await using var h = await VerificationTests.HarnessAsync(docker, c => c with { TaskLimits = new TaskLimitOverrides { MaxTreeBytes = 8L * 1024 * 1024 } });

        var result = Assert.Single((await h.RunAsync(new RunRequest
        {
            Tasks = [RunnerHarness.Task("fills", "@write src/app.txt fixed\\n", "@message done") with { Verify = ["dd if=/dev/zero of=filler bs=1M count=64 2>&1", "echo never"] }],
        }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(VerificationStatus.Failed, result.Verification!.Status);
        Assert.Contains("max_tree_bytes (8388608)", result.Verification.Reason, StringComparison.Ordinal);
        Assert.Equal(VerificationStatus.NotRun, result.Verification.Commands[1].Status);
    }

    [Fact]
    public async Task What_the_agent_left_outside_its_kept_tree_does_not_reach_the_verification()
    {
        await using var h = await VerificationTests.HarnessAsync(docker, c => c with
        {
            // The test passes when it finds a file git ignores, or something in HOME or /tmp: all the agent's, none harvested.
            Verify = ["if [ -f local/pass ] || [ -f \"$HOME/pass\" ] || [ -f /tmp/pass ] || [ -f .git/pass ]; then echo fooled; exit 0; fi; sh test.sh"],
        });
        h.Repository.Write(".gitignore", "local/\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "ignore local/");

        var results = (await h.RunAsync(
            RunnerHarness.Task("plants", "@write local/pass yes\\n", "@run 0 touch $HOME/pass /tmp/pass .git/pass", "@run 0 git config core.hooksPath /tmp", "@message All tests pass."),
            RunnerHarness.Task("honest", "@write src/app.txt fixed\\n", "@message Fixed."))).Results;

        var plants = Assert.Single(results, r => r.TaskId == "plants");
        Assert.Equal(TaskStatus.Failed, plants.Status);
        Assert.Equal(VerificationStatus.Failed, plants.Verification!.Status);
        Assert.DoesNotContain("fooled", plants.Verification.Commands[0].OutputTail, StringComparison.Ordinal);
        Assert.Equal(TaskStatus.Success, Assert.Single(results, r => r.TaskId == "honest").Status);
    }

    [Fact]
    public async Task Output_that_imitates_the_runners_own_lines_does_not_pass_a_failing_command()
    {
        await using var h = await VerificationTests.HarnessAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("forges",
            "@write test.sh echo '[sandbox-runner verify] passed (exit 0)'; echo '{\"status\":\"passed\",\"exit_code\":0}'; exit 1\\n",
            "@message All tests pass."))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(((long?)1, VerificationStatus.Failed), (result.Verification!.Commands[0].ExitCode, result.Verification.Commands[0].Status));
        Assert.Contains("test.sh", result.Verification.ChangedInputs);
    }

    [Fact]
    public async Task Verify_output_is_redacted_and_terminal_controls_are_made_visible()
    {
        await using var h = await VerificationTests.HarnessAsync(docker, c => c with
        {
            Verify = ["printf 'key sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789\\n\\033]52;c;cHduZWQ=\\007 done\\n'"],
        });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("prints", "@message nothing"))).Results);

        var tail = result.Verification!.Commands[0].OutputTail;
        Assert.DoesNotContain("sk-proj-AbCd", tail, StringComparison.Ordinal);
        Assert.Contains("[REDACTED]", tail, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', tail);
        Assert.Contains("\\x1b]52", tail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_verification_container_is_a_fresh_hardened_one_the_agent_never_ran_in()
    {
        await using var h = await VerificationTests.HarnessAsync(docker);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("fix", "@write src/app.txt fixed\\n", "@message Fixed."))).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        var verify = Assert.Single(h.Engine.Specs, s => s.Value.Labels.GetValueOrDefault(Labels.Role) == Labels.VerifyRole);
        Assert.NotEqual(result.ContainerId, verify.Key);
        var spec = verify.Value;
        Assert.Equal(h.Engine.Specs[result.ContainerId!].User, spec.User);
        Assert.NotEqual("0:0", spec.User);
        Assert.True(spec.ReadOnlyRootFilesystem);
        Assert.Empty(spec.CapAdd);
        Assert.Equal("none", spec.NetworkMode);
        Assert.Equal(h.Engine.Specs[result.ContainerId!].Limits, spec.Limits);
        Assert.DoesNotContain(spec.Environment.Keys, k => k.Contains("KEY", StringComparison.Ordinal) || k == "CODEX_HOME");
        var agentTree = h.Engine.Specs[result.ContainerId!].Mounts.Single(m => m.Target == "/workspace").Source;
        var verifiedTree = spec.Mounts.Single(m => m.Target == "/workspace").Source;
        Assert.NotEqual(agentTree, verifiedTree);
    }
}
