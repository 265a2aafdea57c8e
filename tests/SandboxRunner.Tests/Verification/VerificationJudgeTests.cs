using SandboxRunner.Codex;
using SandboxRunner.Git;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Verification;

/// <summary>How the judge reads a verification: a task with verify commands succeeds only when they passed.</summary>
public sealed class VerificationJudgeTests
{
    private static readonly TaskPolicy Verified = new(["**"], [], [], AuditCommands: true, TimeSpan.FromMinutes(5)) { Verify = true };

    private static TaskFacts Facts(VerificationReport? verification, bool cancelled = false) => new()
    {
        TaskId = "t",
        End = TaskEnd.Exited,
        ExitCode = 0,
        Transcript = CodexTranscript.Parse([CodexJsonl.ThreadStarted(), CodexJsonl.AgentMessage("done"), CodexJsonl.TurnCompleted()]),
        Changes = new TreeChanges([new ChangedEntry("src/a.txt", 'M', "100644", "100644", new string('a', 40))], "/nonexistent/task.patch", 10, "", []),
        Verification = verification,
        VerificationCancelled = cancelled,
    };

    private static VerificationReport Report(VerificationStatus status, long? exit = 0, string? reason = null) => new()
    {
        Status = status,
        Reason = reason,
        Commands = [new VerifyCommandReport("npm test", status == VerificationStatus.NotRun ? VerificationStatus.NotRun : status, exit, 1200, "tail")],
    };

    public static TheoryData<VerificationStatus, TaskStatus> Outcomes => new()
    {
        { VerificationStatus.Passed, TaskStatus.Success },
        { VerificationStatus.Failed, TaskStatus.Failed },
        { VerificationStatus.TimedOut, TaskStatus.Failed },
        { VerificationStatus.NotRun, TaskStatus.Failed },
    };

    [Theory]
    [MemberData(nameof(Outcomes))]
    public void A_task_whose_agent_succeeded_is_success_only_when_its_verification_passed(VerificationStatus verification, TaskStatus expected)
    {
        Assert.Equal(expected, Judge.Evaluate(Facts(Report(verification, reason: "why")), Verified).Status);
    }

    [Fact]
    public void A_task_without_verify_commands_is_judged_as_before()
    {
        var verdict = Judge.Evaluate(Facts(null), Verified with { Verify = false });

        Assert.Equal(TaskStatus.Success, verdict.Status);
        Assert.DoesNotContain(verdict.Notes, n => n.Contains("verification", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failed_verification_names_the_failing_command_and_its_exit_code_in_the_notes()
    {
        var verdict = Judge.Evaluate(Facts(Report(VerificationStatus.Failed, exit: 1, reason: "`npm test` exited 1")), Verified);

        Assert.Contains(verdict.Notes, n => n.StartsWith("verification failed: `npm test` exited 1", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failed_verification_is_no_violation_so_the_patch_stays_applicable()
    {
        var verdict = Judge.Evaluate(Facts(Report(VerificationStatus.Failed, exit: 1)), Verified);

        Assert.Empty(verdict.Violations);
        Assert.True(verdict.PatchApplicable);
    }

    [Fact]
    public void A_run_cancelled_during_verification_ends_the_task_cancelled()
    {
        var verdict = Judge.Evaluate(Facts(Report(VerificationStatus.NotRun, exit: null, reason: "cancelled"), cancelled: true), Verified);

        Assert.Equal(TaskStatus.Cancelled, verdict.Status);
        Assert.Contains(verdict.Notes, n => n.StartsWith("cancelled during verification", StringComparison.Ordinal));
    }

    [Fact]
    public void Changed_inputs_are_noted_but_do_not_fail_a_task()
    {
        var facts = Facts(Report(VerificationStatus.Passed) with { ChangedInputs = ["package.json", "test/a.test.js"] });

        var verdict = Judge.Evaluate(facts, Verified);

        Assert.Equal(TaskStatus.Success, verdict.Status);
        Assert.Contains(verdict.Notes, n => n.Contains("changed what the verify commands depend on: package.json, test/a.test.js", StringComparison.Ordinal));
    }
}
