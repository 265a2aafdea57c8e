using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using SandboxRunner.Tests.Fakes;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>The judge as the pure function it is: facts and a policy in, a verdict out.</summary>
public sealed class JudgeTests
{
    private static readonly TaskPolicy Open = new(["**"], [], [], AuditCommands: true, TimeSpan.FromMinutes(5));

    private static CodexTranscript Transcript(params string[] lines) => CodexTranscript.Parse(lines);

    private static readonly CodexTranscript CleanTurn = Transcript(CodexJsonl.ThreadStarted(), CodexJsonl.AgentMessage("done"), CodexJsonl.TurnCompleted());

    private static TreeChanges Changed(params string[] paths) =>
        new(paths.Select(p => new ChangedEntry(p, 'A', "000000", "100644", new string('a', 40))).ToList(), "/nonexistent/task.patch", 100, "", []);

    private static TaskFacts Facts(TaskEnd end = TaskEnd.Exited, long? exitCode = 0) => new()
    {
        TaskId = "t1", End = end, ExitCode = exitCode, Transcript = CleanTurn, Changes = Changed("src/a.txt"),
    };

    public static TheoryData<TaskEnd, long?, TaskStatus> Ends => new()
    {
        { TaskEnd.Exited, 0, TaskStatus.Success },
        { TaskEnd.Exited, 1, TaskStatus.Failed },
        { TaskEnd.Exited, null, TaskStatus.Failed },
        { TaskEnd.TimedOut, null, TaskStatus.Timeout },
        { TaskEnd.Cancelled, null, TaskStatus.Cancelled },
        { TaskEnd.Interrupted, null, TaskStatus.Cancelled },
        { TaskEnd.LimitExceeded, null, TaskStatus.Failed },
        { TaskEnd.RunnerError, null, TaskStatus.Failed },
    };

    [Theory]
    [MemberData(nameof(Ends))]
    public void Each_way_a_task_ends_maps_to_its_status(TaskEnd end, long? exitCode, TaskStatus expected)
    {
        Assert.Equal(expected, Judge.Evaluate(Facts(end, exitCode), Open).Status);
    }

    [Fact]
    public void A_failed_turn_is_a_failure_even_with_exit_code_0()
    {
        var facts = Facts() with { Transcript = Transcript(CodexJsonl.ThreadStarted(), CodexJsonl.TurnFailed("overloaded")) };

        var verdict = Judge.Evaluate(facts, Open);

        Assert.Equal(TaskStatus.Failed, verdict.Status);
        Assert.Contains("turn failed: overloaded", verdict.Notes);
    }

    [Fact]
    public void A_turn_failed_on_a_gateway_error_from_the_proxy_says_the_model_api_was_out_of_reach()
    {
        var facts = Facts(exitCode: 1) with
        {
            Transcript = Transcript(CodexJsonl.ThreadStarted(), CodexJsonl.TurnFailed("unexpected status 502 Bad Gateway: [502 Bad Gateway], url: http://sandbox-proxy:8080/responses")),
        };

        var verdict = Judge.Evaluate(facts, Open);

        Assert.Equal(TaskStatus.Failed, verdict.Status);
        Assert.Contains(verdict.Notes, n => n.StartsWith("the model API did not answer", StringComparison.Ordinal) && n.Contains("outbound HTTPS", StringComparison.Ordinal));
    }

    [Fact]
    public void A_violation_turns_success_into_failed()
    {
        var facts = Facts() with { Changes = Changed("src/a.txt", "docs/x.md") };

        var verdict = Judge.Evaluate(facts, Open with { AllowedPaths = ["src/**"] });

        Assert.Equal(TaskStatus.Failed, verdict.Status);
        Assert.Equal(ViolationKind.PathNotAllowed, Assert.Single(verdict.Violations).Kind);
    }

    [Fact]
    public void A_violation_does_not_change_a_timeout_or_a_cancellation()
    {
        var facts = Facts(TaskEnd.TimedOut, null) with { Changes = Changed("docs/x.md") };

        Assert.Equal(TaskStatus.Timeout, Judge.Evaluate(facts, Open with { AllowedPaths = ["src/**"] }).Status);
    }

    [Fact]
    public void A_patch_with_violations_is_not_applicable_even_when_it_applies()
    {
        var facts = Facts() with { Changes = Changed("docs/x.md"), OnBase = new ApplyCheck(true, "ok"), OnHead = new ApplyCheck(true, "ok") };

        var verdict = Judge.Evaluate(facts, Open with { AllowedPaths = ["src/**"] });

        Assert.False(verdict.PatchApplicable);
        Assert.False(verdict.AppliesToHead);
        Assert.Contains(verdict.Notes, n => n.Contains("marked not applicable", StringComparison.Ordinal));
    }

    [Fact]
    public void A_clean_patch_is_applicable_where_it_applies()
    {
        var facts = Facts() with { OnBase = new ApplyCheck(true, "ok"), OnHead = new ApplyCheck(false, "conflict") };

        var verdict = Judge.Evaluate(facts, Open);

        Assert.True(verdict.PatchApplicable);
        Assert.False(verdict.AppliesToHead);
    }

    [Fact]
    public void Unparsed_stdout_lines_are_unjudgeable_when_commands_are_audited()
    {
        var facts = Facts() with { Transcript = Transcript("not json", CodexJsonl.TurnCompleted()) };

        var violation = Assert.Single(Judge.Evaluate(facts, Open).Violations);

        Assert.Equal((ViolationKind.Unjudgeable, "(codex output)"), (violation.Kind, violation.Command));
    }

    [Fact]
    public void Unparsed_stdout_lines_are_no_violation_when_commands_are_not_audited()
    {
        var facts = Facts() with { Transcript = Transcript("not json", CodexJsonl.TurnCompleted()) };

        var verdict = Judge.Evaluate(facts, Open with { AuditCommands = false });

        Assert.Empty(verdict.Violations);
        Assert.Equal(TaskStatus.Success, verdict.Status);
    }

    [Fact]
    public void Commands_are_audited_against_the_allowed_and_denied_lists_only_when_audited()
    {
        var facts = Facts() with
        {
            Transcript = Transcript(CodexJsonl.CommandCompleted("/bin/bash -lc 'npm test && git push'"), CodexJsonl.CommandCompleted("curl -o build.tgz x")),
        };
        var policy = Open with { AllowedCommands = ["npm test", "git"], DeniedCommands = ["git push"] };

        var audited = Judge.Evaluate(facts, policy).Violations;

        Assert.Equal(
            [(ViolationKind.CommandDenied, "git push"), (ViolationKind.CommandNotAllowed, "curl -o build.tgz x")],
            audited.Select(v => (v.Kind, v.Command)));
        Assert.Empty(Judge.Evaluate(facts, policy with { AuditCommands = false }).Violations);
    }

    [Fact]
    public void Under_command_policy_audit_a_command_outside_the_lists_is_reported_and_the_task_still_succeeds()
    {
        var facts = Facts() with { Transcript = Transcript(CodexJsonl.CommandCompleted("/bin/bash -lc 'curl -s x'"), CodexJsonl.TurnCompleted()) };
        var policy = Open with { AllowedCommands = ["npm test"], CommandMode = CommandPolicyMode.Audit };

        var judgement = Judge.Evaluate(facts, policy);

        Assert.Equal(TaskStatus.Success, judgement.Status);
        Assert.Equal((ViolationKind.CommandNotAllowed, "curl -s x"), (Assert.Single(judgement.Violations).Kind, judgement.Violations[0].Command));
        Assert.True(judgement.PatchApplicable);
        Assert.Contains("command_policy is audit: 1 command violation(s) are reported only and do not change the task's status", judgement.Notes);
        Assert.DoesNotContain(judgement.Notes, n => n.Contains("marked not applicable", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(VerificationStatus.Passed, TaskStatus.Success)]
    [InlineData(VerificationStatus.Failed, TaskStatus.Failed)]
    public void Under_command_policy_audit_a_task_with_verify_commands_still_needs_its_verification_to_pass(VerificationStatus verification, TaskStatus expected)
    {
        var facts = Facts() with
        {
            Transcript = Transcript(CodexJsonl.CommandCompleted("/bin/bash -lc 'curl -s x'"), CodexJsonl.TurnCompleted()),
            Verification = new VerificationReport { Status = verification, Commands = [new VerifyCommandReport("npm test", verification, 0, 10, "")] },
        };

        var judgement = Judge.Evaluate(facts, Open with { AllowedCommands = ["npm test"], CommandMode = CommandPolicyMode.Audit, Verify = true });

        Assert.Equal(expected, judgement.Status);
        Assert.Equal(ViolationKind.CommandNotAllowed, Assert.Single(judgement.Violations).Kind);
    }

    [Fact]
    public void Under_command_policy_enforce_the_same_command_fails_the_task()
    {
        var facts = Facts() with { Transcript = Transcript(CodexJsonl.CommandCompleted("/bin/bash -lc 'curl -s x'"), CodexJsonl.TurnCompleted()) };

        var judgement = Judge.Evaluate(facts, Open with { AllowedCommands = ["npm test"] });

        Assert.Equal(TaskStatus.Failed, judgement.Status);
        Assert.False(judgement.PatchApplicable);
    }

    [Fact]
    public void Under_command_policy_audit_a_denied_command_still_fails_the_task()
    {
        var facts = Facts() with { Transcript = Transcript(CodexJsonl.CommandCompleted("git push"), CodexJsonl.TurnCompleted()) };
        var policy = Open with { AllowedCommands = ["npm test"], DeniedCommands = ["git push"], CommandMode = CommandPolicyMode.Audit };

        Assert.Equal(TaskStatus.Failed, Judge.Evaluate(facts, policy).Status);
    }

    [Theory]
    [InlineData(false, TaskStatus.Success)]
    [InlineData(true, TaskStatus.Failed)]
    public void Under_command_policy_audit_an_unreadable_command_fails_the_task_only_when_it_could_hide_a_denied_one(bool denied, TaskStatus status)
    {
        var facts = Facts() with { Transcript = Transcript(CodexJsonl.CommandCompleted("env -S 'x' npm test"), CodexJsonl.TurnCompleted()) };
        var policy = Open with { AllowedCommands = ["npm test"], DeniedCommands = denied ? ["git push"] : [], CommandMode = CommandPolicyMode.Audit };

        var judgement = Judge.Evaluate(facts, policy);

        Assert.Equal(ViolationKind.Unjudgeable, Assert.Single(judgement.Violations).Kind);
        Assert.Equal(status, judgement.Status);
    }

    [Fact]
    public void Under_command_policy_audit_a_path_violation_still_fails_the_task()
    {
        var facts = Facts() with { Changes = Changed("secrets/key.txt") };

        Assert.Equal(TaskStatus.Failed, Judge.Evaluate(facts, Open with { AllowedPaths = ["src/**"], CommandMode = CommandPolicyMode.Audit }).Status);
    }

    [Fact]
    public void Oversized_output_lines_are_unjudgeable()
    {
        var violation = Assert.Single(Judge.Evaluate(Facts() with { OversizedLines = 2 }, Open).Violations);

        Assert.Equal(ViolationKind.Unjudgeable, violation.Kind);
        Assert.Contains("2 output line(s)", violation.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_limit_passed_while_running_is_a_limit_exceeded_violation_naming_it()
    {
        var verdict = Judge.Evaluate(Facts(TaskEnd.LimitExceeded, null) with { LimitPassed = "max_log_bytes (65536)" }, Open);

        var violation = Assert.Single(verdict.Violations);
        Assert.Equal((ViolationKind.LimitExceeded, "(task)"), (violation.Kind, violation.Path));
        Assert.Contains("max_log_bytes (65536)", violation.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void Tree_findings_are_violations_special_files_as_such_and_the_rest_as_limits()
    {
        var changes = Changed("src/a.txt") with
        {
            Findings =
            [
                new TreeFinding(TreeFindingKind.SpecialFile, "src/.gitignore", "is a FIFO"),
                new TreeFinding(TreeFindingKind.FileTooLarge, "src/big.bin", "is 5000 bytes"),
            ],
        };

        var verdict = Judge.Evaluate(Facts() with { Changes = changes }, Open);

        Assert.Equal(
            [(ViolationKind.SpecialFile, "src/.gitignore"), (ViolationKind.LimitExceeded, "src/big.bin")],
            verdict.Violations.Select(v => (v.Kind, v.Path)));
    }

    [Fact]
    public void A_harvest_step_that_failed_is_unjudgeable_never_a_pass()
    {
        var verdict = Judge.Evaluate(Facts() with { HarvestProblems = ["reading the task's tree failed: boom"] }, Open);

        Assert.Equal(TaskStatus.Failed, verdict.Status);
        Assert.Equal((ViolationKind.Unjudgeable, "(harvest)"), (verdict.Violations[0].Kind, verdict.Violations[0].Path));
    }

    [Fact]
    public void Changed_git_settings_and_a_passed_secret_in_the_patch_are_violations()
    {
        var facts = Facts() with { GitSettingsChanged = [".git/config"], SecretInPatch = "CODEX_API_KEY" };

        Assert.Equal(
            [ViolationKind.GitDirectory, ViolationKind.SecretInPatch],
            Judge.Evaluate(facts, Open).Violations.Select(v => v.Kind));
    }

    [Fact]
    public void The_same_facts_give_the_same_verdict()
    {
        var facts = Facts() with { Changes = Changed("docs/x.md"), OversizedLines = 1 };
        var policy = Open with { AllowedPaths = ["src/**"] };

        var first = Judge.Evaluate(facts, policy);
        var second = Judge.Evaluate(facts, policy);

        Assert.Equal(first.Status, second.Status);
        Assert.Equal(first.Violations, second.Violations);
        Assert.Equal(first.Notes, second.Notes);
    }
}
